//! `name-addr` / `addr-spec` values with header parameters: From, To,
//! Contact, Route, Record-Route, Path, Refer-To, Referred-By, Reply-To.

use std::borrow::Cow;
use std::fmt;

use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::params::{ParamSyntax, Params};
use crate::text::{
    class, find_byte, find_unquoted, quoted_len, quoted_len_bytes, skip_class, skip_lws,
    split_once_byte, trim, unquote,
};
use crate::uri::{SipUri, Uri};

/// An address with optional display name and header parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name as written (quotes included when quoted).
    pub display_name: Option<&'a str>,
    /// The URI.
    pub uri: Uri<'a>,
    /// Header parameters after the address (`;tag=...;expires=...`).
    pub params: Params<'a>,
    /// True when the URI was written in angle brackets.
    pub bracketed: bool,
}

impl<'a> NameAddr<'a> {
    /// Parses `"Name" <uri>;params`, `Name <uri>;params` or `uri;params`.
    ///
    /// In the last form the URI cannot carry `;`, `,` or `?` (RFC 3261 §20.10):
    /// whatever follows the first `;` is header parameters.
    pub fn parse_value(value: &'a str) -> Result<Self, HeaderError> {
        Self::parse_with_param(value, "").map(|(a, _)| a)
    }

    /// Parses like [`NameAddr::parse_value`] and returns the value of the
    /// first parameter named `want` (as [`Params::value`] would), found in
    /// the same pass as the parameters are checked.
    pub(crate) fn parse_with_param(
        value: &'a str,
        want: &str,
    ) -> Result<(Self, Option<&'a str>), HeaderError> {
        let value = trim(value);
        match Self::scan(value, 0, want) {
            Some((addr, found, stop)) if stop == value.len() => Ok((addr, found)),
            _ => Self::parse_general(value, want),
        }
    }

    /// [`NameAddr::scan`] for checking: the parameter `want` and where the
    /// scan stopped.
    #[inline(never)]
    pub(crate) fn scan_check(
        value: &'a str,
        at: usize,
        want: &str,
    ) -> Option<(Option<&'a str>, usize)> {
        Self::scan(value, at, want).map(|(_, found, stop)| (found, stop))
    }

    /// Checks a value as [`NameAddr::parse_with_param`] does and returns
    /// only the parameter `want`.
    pub(crate) fn check_with_param(
        value: &'a str,
        want: &str,
    ) -> Result<Option<&'a str>, HeaderError> {
        let value = trim(value);
        match Self::scan_check(value, 0, want) {
            Some((found, stop)) if stop == value.len() => Ok(found),
            _ => Self::parse_general(value, want).map(|(_, found)| found),
        }
    }

    /// [`NameAddr::parse_with_param`] on a trimmed value, part by part.
    fn parse_general(value: &'a str, want: &str) -> Result<(Self, Option<&'a str>), HeaderError> {
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        let Some(lt) = find_unquoted(value, b'<') else {
            return Self::parse_addr_spec(value, want);
        };
        let display = value.get(..lt).ok_or(HeaderError::Syntax)?;
        let display = trim(display);
        let display_name = if display.is_empty() {
            None
        } else {
            check_display_name(display)?;
            Some(display)
        };
        let rest = value.get(lt + 1..).ok_or(HeaderError::Syntax)?;
        let (uri, params) = split_once_byte(rest, b'>').ok_or(HeaderError::Syntax)?;
        let uri = Uri::parse(uri)?;
        let (params, found) = Params::parse_find(trim(params), ParamSyntax::Header, want)
            .ok_or(HeaderError::Params)?;
        let addr = Self {
            display_name,
            uri,
            params,
            bracketed: true,
        };
        Ok((addr, found.flatten()))
    }

    /// The forms `"Name" <uri>;params`, `Name <uri>;params` and
    /// `<uri>;params` whose URI has one of the common shapes
    /// ([`SipUri::scan_common`]), parsed in place from byte `at` of `value`
    /// (which must not be LWS) in one pass. Returns the address, the first
    /// header parameter `want` (as [`NameAddr::parse_with_param`]), and
    /// where the scan stopped: the first byte after the element that is not
    /// LWS. When that is the end of `value` or a `,`, the address is what
    /// the general path gives for the element; `None` says nothing.
    #[inline(always)]
    pub(crate) fn scan(
        value: &'a str,
        at: usize,
        want: &str,
    ) -> Option<(Self, Option<&'a str>, usize)> {
        let b = value.as_bytes();
        let (display_name, lt) = match *b.get(at)? {
            b'"' => {
                let q = at + quoted_len_bytes(b.get(at..)?)?;
                (Some(value.get(at..q)?), skip_lws(b, q))
            }
            b'<' => (None, at),
            _ => {
                let lt = skip_class(b, at, class::TOKEN | class::LWS);
                let d = trim(value.get(at..lt)?);
                ((!d.is_empty()).then_some(d), lt)
            }
        };
        if b.get(lt) != Some(&b'<') {
            return None;
        }
        let (uri, gt) = SipUri::scan_common(value, lt + 1)?;
        if b.get(gt) != Some(&b'>') {
            return None;
        }
        let (params, found, stop) =
            Params::scan(value, skip_lws(b, gt + 1), ParamSyntax::Header, want)?;
        let addr = Self {
            display_name,
            uri: Uri::Sip(uri),
            params,
            bracketed: true,
        };
        Some((addr, found.flatten(), stop))
    }

    fn parse_addr_spec(value: &'a str, want: &str) -> Result<(Self, Option<&'a str>), HeaderError> {
        if value.starts_with('"') {
            // A quoted display name must be followed by <uri>.
            return Err(match quoted_len(value) {
                None => HeaderError::Unterminated,
                Some(_) => HeaderError::Syntax,
            });
        }
        let end = find_byte(value, b';').unwrap_or(value.len());
        let uri = value.get(..end).ok_or(HeaderError::Syntax)?;
        let params = value.get(end..).ok_or(HeaderError::Syntax)?;
        let uri = trim(uri);
        if crate::text::find2_in(uri.as_bytes(), b'?', b',').is_some() {
            return Err(HeaderError::Syntax);
        }
        let uri = Uri::parse(uri)?;
        let (params, found) =
            Params::parse_find(params, ParamSyntax::Header, want).ok_or(HeaderError::Params)?;
        let addr = Self {
            display_name: None,
            uri,
            params,
            bracketed: false,
        };
        Ok((addr, found.flatten()))
    }

    /// The display name without quotes and escapes.
    pub fn display_name_unquoted(&self) -> Option<Cow<'a, str>> {
        self.display_name.map(unquote)
    }

    /// The `tag` parameter (From/To).
    pub fn tag(&self) -> Option<&'a str> {
        self.params.value("tag")
    }

    /// The `expires` parameter (Contact), when it is a number.
    pub fn expires(&self) -> Option<u32> {
        self.params
            .value("expires")
            .and_then(crate::text::parse_u32)
    }

    /// The `q` parameter (Contact) in thousandths: `q=0.5` is 500.
    pub fn q(&self) -> Option<u16> {
        parse_qvalue(self.params.value("q")?)
    }
}

impl fmt::Display for NameAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = self.display_name {
            write!(f, "{d} ")?;
        }
        if self.bracketed || self.display_name.is_some() {
            write!(f, "<{}>", self.uri)?;
        } else {
            write!(f, "{}", self.uri)?;
        }
        f.write_str(self.params.as_str())
    }
}

macro_rules! name_addr_header {
    ($( $(#[$doc:meta])* $ty:ident => $name:ident ),* $(,)?) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $ty<'a>(pub NameAddr<'a>);

            impl<'a> TypedHeader<'a> for $ty<'a> {
                const NAME: HeaderName = HeaderName::$name;
                fn parse(value: &'a str) -> Result<Self, HeaderError> {
                    NameAddr::parse_value(value).map($ty)
                }
            }

            impl<'a> std::ops::Deref for $ty<'a> {
                type Target = NameAddr<'a>;
                fn deref(&self) -> &NameAddr<'a> {
                    &self.0
                }
            }

            impl fmt::Display for $ty<'_> {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    self.0.fmt(f)
                }
            }
        )*
    };
}

name_addr_header! {
    /// `From` (RFC 3261 §20.20).
    From => From,
    /// `To` (RFC 3261 §20.39).
    To => To,
    /// `Route` (RFC 3261 §20.34), one element.
    Route => Route,
    /// `Record-Route` (RFC 3261 §20.30), one element.
    RecordRoute => RecordRoute,
    /// `Path` (RFC 3327), one element.
    Path => Path,
    /// `Refer-To` (RFC 3515).
    ReferTo => ReferTo,
    /// `Referred-By` (RFC 3892).
    ReferredBy => ReferredBy,
    /// `Reply-To` (RFC 3261 §20.31).
    ReplyTo => ReplyTo,
}

/// One `Contact` element (RFC 3261 §20.10): an address or the `*` wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `*`, only valid in a REGISTER with `Expires: 0`.
    Wildcard,
    /// An address.
    Address(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// The address, unless this is the wildcard.
    pub fn address(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Wildcard => None,
            Contact::Address(a) => Some(a),
        }
    }
}

impl<'a> TypedHeader<'a> for Contact<'a> {
    const NAME: HeaderName = HeaderName::Contact;
    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        if trim(value) == "*" {
            Ok(Contact::Wildcard)
        } else {
            NameAddr::parse_value(value).map(Contact::Address)
        }
    }
}

impl fmt::Display for Contact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Wildcard => f.write_str("*"),
            Contact::Address(a) => a.fmt(f),
        }
    }
}

/// A display name is a quoted string or tokens separated by LWS.
fn check_display_name(d: &str) -> Result<(), HeaderError> {
    if d.starts_with('"') {
        match quoted_len(d) {
            None => Err(HeaderError::Unterminated),
            Some(n) if n == d.len() => Ok(()),
            Some(_) => Err(HeaderError::Syntax),
        }
    } else if crate::text::all(d.as_bytes(), class::TOKEN | class::LWS) {
        Ok(())
    } else {
        Err(HeaderError::Syntax)
    }
}

/// Parses a q-value (`0`, `0.5`, `1.000`) into thousandths.
pub(crate) fn parse_qvalue(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        let scale = [100u16, 10, 1].get(i).copied()?;
        thousandths += u16::from(b - b'0') * scale;
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Prints a q-value given in thousandths as short as it goes: 1000 → `1`,
/// 500 → `0.5`, 125 → `0.125`, 0 → `0`; above 1000 counts as 1000. What
/// [`NameAddr::q`] reads back.
#[must_use]
pub fn format_qvalue(q: u16) -> String {
    match q {
        0 => "0".to_owned(),
        1000.. => "1".to_owned(),
        _ => format!("0.{q:03}").trim_end_matches('0').to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_values_print_short() {
        assert_eq!(format_qvalue(1000), "1");
        assert_eq!(format_qvalue(500), "0.5");
        assert_eq!(format_qvalue(25), "0.025");
        assert_eq!(format_qvalue(120), "0.12");
        assert_eq!(format_qvalue(0), "0");
        assert_eq!(format_qvalue(125), "0.125");
        assert_eq!(format_qvalue(50), "0.05");
        assert_eq!(format_qvalue(1001), "1");
        for q in 0..=1000 {
            assert_eq!(parse_qvalue(&format_qvalue(q)), Some(q), "{q}");
        }
    }

    #[test]
    fn forms() {
        let a = NameAddr::parse_value(
            r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#,
        )
        .unwrap();
        assert_eq!(
            a.display_name_unquoted().as_deref(),
            Some(r#"J Rosenberg \""#)
        );
        assert_eq!(a.tag(), Some("98asjd8"));

        let a = NameAddr::parse_value("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display_name, Some("caller"));
        let a = NameAddr::parse_value("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n")
            .unwrap();
        assert_eq!(a.tag(), Some("1918181833n"));
        assert!(!a.bracketed);

        assert_eq!(
            NameAddr::parse_value(r#""Mr. J. User <sip:j.user@example.com>"#),
            Err(HeaderError::Unterminated)
        );
        assert!(NameAddr::parse_value("< sip:t.watson@example.org >").is_err());
        assert!(NameAddr::parse_value("Bell, Alexander <sip:a.g.bell@bell-tel.com>").is_err());
        assert!(
            NameAddr::parse_value("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err()
        );
        assert!(NameAddr::parse_value(r#""Joe" <sip:joe@example.org>;;;;"#).is_err());
    }

    #[test]
    fn scan_in_place_parses_as_the_general_path() {
        let mut n = 0;
        for display in [
            "",
            "\"A B\" ",
            "\"A\\\"B\"",
            "Alice ",
            "A  B",
            "\"x",
            "x\"y\" ",
            ",",
        ] {
            for uri in [
                "sip:a@b.example.com",
                "sips:a:pw@10.0.0.1:5060;transport=tcp;lr",
                "sip:a;b@c",
                "sip:h:99999",
                "sip:[::1]",
                "tel:+1234",
                "sip:a@b?x=y",
                "sip:a,b@c",
                "sip:",
            ] {
                for params in [
                    "",
                    ";tag=1",
                    " ; tag = x ;lr",
                    ";tag=\"a,b\"",
                    ";;",
                    ";tag",
                    " x",
                ] {
                    for tail in ["", " , <sip:z>", ",", " ,"] {
                        let v = format!("{display}<{uri}>{params}{tail}");
                        let Some((fast, tag, stop)) = NameAddr::scan(&v, 0, "tag") else {
                            continue;
                        };
                        let piece = match v.as_bytes().get(stop) {
                            None => v.as_str(),
                            Some(b',') => crate::text::CommaSplit::new(&v).next().unwrap(),
                            Some(_) => continue,
                        };
                        assert_eq!(
                            Ok((fast, tag)),
                            NameAddr::parse_general(trim(piece), "tag"),
                            "{v}"
                        );
                        n += 1;
                    }
                }
            }
        }
        assert!(n > 100, "{n}");
    }

    #[test]
    fn contact_params() {
        let c = NameAddr::parse_value("<sip:a@b>;q=0.7;expires=3600").unwrap();
        assert_eq!((c.q(), c.expires()), (Some(700), Some(3600)));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.0001"), None);
    }
}
