//! URIs: `sip:`, `sips:`, `tel:` and any other absolute URI (RFC 3261 §19.1,
//! §25.1; RFC 3966; RFC 5118 for IPv6 references).

use std::fmt;

use crate::params::{ParamSyntax, Params};
use crate::text::{all, class, class_of, find_in, is, skip_class, skip_class_acc};

/// A parsed URI borrowing the text it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:` (RFC 3966).
    Tel(TelUri<'a>),
    /// Any other absolute URI, kept opaque (`scheme:rest`).
    Absolute(AbsoluteUri<'a>),
}

/// A `sip:` / `sips:` URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    text: &'a str,
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part, still escaped.
    pub user: Option<&'a str>,
    /// The password after `user:`, still escaped.
    pub password: Option<&'a str>,
    /// The host.
    pub host: Host<'a>,
    /// The port, when given.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr`).
    pub params: Params<'a>,
    /// The headers part after `?`, without the `?`.
    pub headers: Option<&'a str>,
}

/// A `tel:` URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    text: &'a str,
    /// The number, global (`+1-201-555-0123`) or local.
    pub number: &'a str,
    /// Parameters such as `phone-context`.
    pub params: Params<'a>,
}

/// An absolute URI of a scheme this crate does not interpret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsoluteUri<'a> {
    text: &'a str,
    /// The scheme, as written.
    pub scheme: &'a str,
    /// Everything after `scheme:`.
    pub rest: &'a str,
}

/// A host: domain name, IPv4 address or bracketed IPv6 reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host<'a> {
    text: &'a str,
    kind: HostKind,
}

/// What kind of host a [`Host`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// A domain name.
    Domain,
    /// A dotted IPv4 address.
    Ipv4,
    /// An IPv6 reference, written in brackets.
    Ipv6,
}

/// Why a URI did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// No `scheme:` or a scheme with invalid characters.
    #[error("missing or invalid URI scheme")]
    Scheme,
    /// The user or password part holds characters not allowed there.
    #[error("invalid URI user part")]
    User,
    /// The host is missing or malformed (e.g. an IPv6 address without brackets).
    #[error("invalid URI host")]
    Host,
    /// The port is not a number in 0..=65535.
    #[error("invalid URI port")]
    Port,
    /// A URI parameter is malformed.
    #[error("invalid URI parameter")]
    Params,
    /// The headers part after `?` is malformed.
    #[error("invalid URI headers")]
    Headers,
    /// Characters not allowed in a URI (white space, `<`, `>`, `"`).
    #[error("invalid character in URI")]
    Character,
}

impl<'a> Uri<'a> {
    /// Parses a URI. The text must hold nothing else (no `<>`, no spaces).
    pub fn parse(text: &'a str) -> Result<Self, UriError> {
        if let Some(u) = SipUri::parse_common(text) {
            return Ok(Uri::Sip(u));
        }
        let bytes = text.as_bytes();
        if bytes.iter().any(|&b| is(b, class::URI_BAD)) {
            return Err(UriError::Character);
        }
        let colon = bytes
            .iter()
            .position(|&b| b == b':')
            .ok_or(UriError::Scheme)?;
        let scheme = text.get(..colon).ok_or(UriError::Scheme)?;
        let rest = text.get(colon + 1..).ok_or(UriError::Scheme)?;
        if !is_scheme(scheme) {
            return Err(UriError::Scheme);
        }
        if scheme.eq_ignore_ascii_case("sip") {
            SipUri::parse_rest(text, false, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_rest(text, true, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_rest(text, rest).map(Uri::Tel)
        } else if rest.is_empty() {
            Err(UriError::Scheme)
        } else {
            Ok(Uri::Absolute(AbsoluteUri { text, scheme, rest }))
        }
    }

    /// The text of the URI as written.
    pub fn as_str(&self) -> &'a str {
        match self {
            Uri::Sip(u) => u.text,
            Uri::Tel(u) => u.text,
            Uri::Absolute(u) => u.text,
        }
    }

    /// The scheme, lower-case for the known ones.
    pub fn scheme(&self) -> &'a str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Absolute(u) => u.scheme,
        }
    }

    /// The SIP URI, when this is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// URI parameters (empty for opaque URIs).
    pub fn params(&self) -> Params<'a> {
        match self {
            Uri::Sip(u) => u.params,
            Uri::Tel(u) => u.params,
            Uri::Absolute(_) => Params::default(),
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'a> SipUri<'a> {
    /// Parses a `sip:`/`sips:` URI.
    pub fn parse(text: &'a str) -> Result<Self, UriError> {
        match Uri::parse(text)? {
            Uri::Sip(u) => Ok(u),
            _ => Err(UriError::Scheme),
        }
    }

    /// The common shapes (`sip:[user[:password]@]host[:port][;params]`
    /// with a domain or IPv4 host and no headers) in one pass per part.
    /// `None` for anything else, valid or not: then [`Uri::parse`] takes the
    /// general path, which gives the same result for what this accepts.
    fn parse_common(text: &'a str) -> Option<Self> {
        let (uri, end) = Self::scan_common(text, 0)?;
        (end == text.len()).then_some(uri)
    }

    /// Scans a URI of the common shapes that starts at byte `from` of
    /// `text`, up to the first byte that cannot continue it, and returns it
    /// with the index of that byte (`end`). When `end` is the end of the
    /// URI's text (no byte of a URI follows, e.g. `>`), the URI is what
    /// [`Uri::parse`] gives for `text[from..end]`; `None` says nothing.
    #[inline(always)]
    pub(crate) fn scan_common(text: &'a str, from: usize) -> Option<(Self, usize)> {
        let b = text.as_bytes();
        let (secure, skip) = match b.get(from..from + 5)? {
            [s, i, p, b':', _] if is_sip(*s, *i, *p) => (false, from + 4),
            [s, i, p, ps, b':'] if is_sip(*s, *i, *p) && ps.eq_ignore_ascii_case(&b's') => {
                (true, from + 5)
            }
            _ => return None,
        };
        // User characters up to `@` or `:`; they are the host when no `@`
        // follows. A `;` or `?` ends the scan: whether such a user part is
        // one is left to the general path.
        let (mut i, mut acc) = skip_class_acc(b, skip, class::USER_PLAIN);
        let mut user = None;
        let mut password = None;
        let host_at = match b.get(i) {
            Some(b'@') => Some(i + 1),
            Some(b':') => {
                let j = skip_class(b, i + 1, class::PASSWORD);
                if b.get(j) == Some(&b'@') {
                    password = Some(text.get(i + 1..j)?);
                    Some(j + 1)
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(at) = host_at {
            if i == skip {
                return None;
            }
            user = Some(text.get(skip..i)?);
            // `DIGIT_DOT` bytes are `DOMAIN` bytes too.
            (i, acc) = skip_class_acc(b, at, class::DOMAIN);
        }
        acc &= class::DOMAIN | class::DIGIT_DOT;
        let host = Host::parse_plain(text.get(host_at.unwrap_or(skip)..i)?, acc)?;
        let mut port = None;
        if b.get(i) == Some(&b':') {
            let ps = i + 1;
            i = skip_class(b, ps, class::DIGIT_DOT);
            port = Some(parse_port(b.get(ps..i)?)?);
        }
        let (params, _, end) = Params::scan(text, i, ParamSyntax::Uri, "")?;
        let uri = SipUri {
            text: text.get(from..end)?,
            secure,
            user,
            password,
            host,
            port,
            params,
            headers: None,
        };
        Some((uri, end))
    }

    fn parse_rest(text: &'a str, secure: bool, rest: &'a str) -> Result<Self, UriError> {
        // The user part may hold ';' and '?' (RFC 3261 user-unreserved), so
        // the userinfo ends at the first '@' whatever precedes it.
        let (userinfo, hostpart) = match find_in(rest.as_bytes(), b'@') {
            Some(i) => (rest.get(..i), rest.get(i + 1..).unwrap_or("")),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (u, p) = match info.bytes().position(|b| b == b':') {
                    Some(i) => (info.get(..i).unwrap_or(""), info.get(i + 1..)),
                    None => (info, None),
                };
                if u.is_empty() || !all(u.as_bytes(), class::USER) {
                    return Err(UriError::User);
                }
                if let Some(p) = p {
                    if !all(p.as_bytes(), class::PASSWORD) {
                        return Err(UriError::User);
                    }
                }
                (Some(u), p)
            }
        };
        // The first ';' before the first '?' starts the parameters; the
        // first '?' starts the headers.
        let hb = hostpart.as_bytes();
        let (hostport_end, params_end, headers) = match memchr::memchr2(b';', b'?', hb) {
            None => (hb.len(), hb.len(), None),
            Some(i) if hb.get(i) == Some(&b'?') => (i, i, hostpart.get(i + 1..)),
            Some(i) => match memchr::memchr(b'?', hb.get(i..).unwrap_or_default()) {
                Some(q) => (i, i + q, hostpart.get(i + q + 1..)),
                None => (i, hb.len(), None),
            },
        };
        if let Some(h) = headers {
            if !h.split('&').all(|hv| {
                hv.split_once('=').is_some_and(|(n, v)| {
                    !n.is_empty()
                        && all(n.as_bytes(), class::URI_HEADER)
                        && all(v.as_bytes(), class::URI_HEADER)
                })
            }) {
                return Err(UriError::Headers);
            }
        }
        let hostport = hostpart.get(..hostport_end).unwrap_or("");
        let params = hostpart.get(hostport_end..params_end).unwrap_or("");
        let params = Params::parse(params, ParamSyntax::Uri).ok_or(UriError::Params)?;
        let (host, port) = split_hostport(hostport)?;
        Ok(SipUri {
            text,
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// The text of the URI as written.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The user part with escapes decoded (RFC 4475 §3.1.1.4: may hold NUL).
    pub fn user_unescaped(&self) -> Option<std::borrow::Cow<'a, [u8]>> {
        self.user.map(crate::text::unescape)
    }

    /// The `transport` parameter, when present.
    pub fn transport(&self) -> Option<&'a str> {
        self.params.value("transport")
    }

    /// True when the URI carries `lr` (loose routing, RFC 3261 §19.1.1).
    pub fn is_loose_router(&self) -> bool {
        self.params.has("lr")
    }
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

impl<'a> TelUri<'a> {
    fn parse_rest(text: &'a str, rest: &'a str) -> Result<Self, UriError> {
        let (number, params) = match memchr::memchr(b';', rest.as_bytes()) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let digits = number.strip_prefix('+').unwrap_or(number);
        if digits.is_empty()
            || !digits.bytes().all(|b| {
                b.is_ascii_hexdigit() || matches!(b, b'-' | b'.' | b'(' | b')' | b'*' | b'#')
            })
        {
            return Err(UriError::User);
        }
        let params = Params::parse(params, ParamSyntax::Uri).ok_or(UriError::Params)?;
        Ok(TelUri {
            text,
            number,
            params,
        })
    }

    /// The text of the URI as written.
    pub fn as_str(&self) -> &'a str {
        self.text
    }
}

impl<'a> AbsoluteUri<'a> {
    /// Wraps text that is not a parsable URI (never for checked input).
    pub(crate) fn opaque(text: &'a str) -> Self {
        Self {
            text,
            scheme: "",
            rest: text,
        }
    }

    /// The text of the URI as written.
    pub fn as_str(&self) -> &'a str {
        self.text
    }
}

impl<'a> Host<'a> {
    /// Parses a host (domain, IPv4, or `[IPv6]`).
    pub fn parse(text: &'a str) -> Result<Self, UriError> {
        let kind = if let Some(inner) = text.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or(UriError::Host)?;
            // Hex, ':' and '.' (for embedded IPv4). RFC 5118 §4.10 asks to
            // tolerate the three-colon form, so no stricter check here.
            if inner.is_empty()
                || memchr::memchr(b':', inner.as_bytes()).is_none()
                || !all(inner.as_bytes(), class::IPV6)
            {
                return Err(UriError::Host);
            }
            HostKind::Ipv6
        } else if text.is_empty() {
            return Err(UriError::Host);
        } else {
            let acc = text
                .bytes()
                .fold(class::DOMAIN | class::DIGIT_DOT, |a, b| a & class_of(b));
            return Self::parse_plain(text, acc).ok_or(UriError::Host);
        };
        Ok(Self { text, kind })
    }

    /// A domain or IPv4 host whose bytes' classes, ANDed together, are
    /// `acc` (starting from `DOMAIN | DIGIT_DOT`): what [`Host::parse`] gives
    /// for such text, `None` when it is empty or not a valid host.
    pub(crate) fn parse_plain(text: &'a str, acc: u16) -> Option<Self> {
        let kind = match text.as_bytes().first() {
            None => return None,
            Some(_) if acc & class::DIGIT_DOT != 0 && is_dotted_quad(text.as_bytes()) => {
                HostKind::Ipv4
            }
            Some(&first) if acc & class::DOMAIN != 0 && first != b'.' && first != b'-' => {
                HostKind::Domain
            }
            Some(_) => return None,
        };
        Some(Self { text, kind })
    }

    /// The host as written (IPv6 with its brackets).
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The address without IPv6 brackets.
    pub fn address(&self) -> &'a str {
        match self.kind {
            HostKind::Ipv6 => self
                .text
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or(self.text),
            _ => self.text,
        }
    }

    /// Domain, IPv4 or IPv6.
    pub fn kind(&self) -> HostKind {
        self.kind
    }

    /// The IP address, when the host is one.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        match self.kind {
            HostKind::Domain => None,
            _ => self.address().parse().ok(),
        }
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

/// Splits `host[:port]` where host may be a bracketed IPv6 reference.
pub(crate) fn split_hostport(s: &str) -> Result<(Host<'_>, Option<u16>), UriError> {
    let (host, port) = if s.starts_with('[') {
        let end = memchr::memchr(b']', s.as_bytes()).ok_or(UriError::Host)?;
        let h = s.get(..end + 1).ok_or(UriError::Host)?;
        match s.get(end + 1..).unwrap_or("") {
            "" => (h, None),
            rest => (h, Some(rest.strip_prefix(':').ok_or(UriError::Host)?)),
        }
    } else {
        match s.bytes().position(|b| b == b':') {
            Some(i) => (s.get(..i).unwrap_or(""), s.get(i + 1..)),
            None => (s, None),
        }
    };
    let host = Host::parse(host)?;
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p.as_bytes()).ok_or(UriError::Port)?),
    };
    Ok((host, port))
}

/// `1*5DIGIT` up to 65535.
pub(crate) fn parse_port(p: &[u8]) -> Option<u16> {
    if p.is_empty() || p.len() > 5 {
        return None;
    }
    let mut v: u32 = 0;
    for &b in p {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u32::from(d);
    }
    u16::try_from(v).ok()
}

/// What `std::net::Ipv4Addr` parses: four decimal parts of one to three
/// digits, each at most 255, without a leading zero unless the part is `0`.
fn is_dotted_quad(b: &[u8]) -> bool {
    let mut parts = 0;
    // The current part: its value, its digits, and whether it starts with 0.
    let (mut v, mut digits, mut zero) = (0u32, 0usize, false);
    for &c in b.iter().chain(std::iter::once(&b'.')) {
        if c == b'.' {
            parts += 1;
            if parts > 4 || digits == 0 || (zero && digits > 1) {
                return false;
            }
            (v, digits, zero) = (0, 0, false);
            continue;
        }
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return false;
        }
        if digits == 0 {
            zero = d == 0;
        }
        digits += 1;
        v = v * 10 + u32::from(d);
        if digits > 3 || v > 255 {
            return false;
        }
    }
    parts == 4
}

/// `sip` in any letter case.
fn is_sip(s: u8, i: u8, p: u8) -> bool {
    s.eq_ignore_ascii_case(&b's') && i.eq_ignore_ascii_case(&b'i') && p.eq_ignore_ascii_case(&b'p')
}

fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri<'_> {
        SipUri::parse(s).unwrap()
    }

    #[test]
    fn plain_sip_uri() {
        let u = sip("sip:alice:secret@Example.COM:5070;transport=tcp;lr?subject=hi");
        assert_eq!(u.user, Some("alice"));
        assert_eq!(u.password, Some("secret"));
        assert_eq!(u.host.as_str(), "Example.COM");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport(), Some("tcp"));
        assert!(u.is_loose_router());
        assert_eq!(u.headers, Some("subject=hi"));
    }

    #[test]
    fn rfc4475_unusual_user_part() {
        let u = sip(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        );
        assert_eq!(
            u.user,
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(u.host.as_str(), "example.com");
    }

    #[test]
    fn ipv6_references() {
        let u = sip("sip:[2001:db8::10]:5070");
        assert_eq!(u.host.kind(), HostKind::Ipv6);
        assert_eq!(u.host.address(), "2001:db8::10");
        assert_eq!(u.port, Some(5070));
        assert!(SipUri::parse("sip:2001:db8::10").is_err());
        assert!(SipUri::parse("sip:user@[2001:db8:::192.0.2.1]").is_ok());
        assert_eq!(sip("sip:[2001:db8::10:5070]").port, None);
    }

    #[test]
    fn dotted_quad_is_what_std_parses() {
        for s in [
            "1.2.3.4",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "0.0.0.0",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            ".1.2.3",
            "1.2.3.4.",
            "1234.1.1.1",
            "00.1.1.1",
            "9.99.199.249",
        ] {
            let std_ok = s.parse::<std::net::Ipv4Addr>().is_ok();
            assert_eq!(is_dotted_quad(s.as_bytes()), std_ok, "{s}");
        }
    }

    #[test]
    fn common_shapes_parse_as_the_general_path() {
        let (mut n, mut m) = (0, 0);
        for scheme in ["sip:", "SIPS:", "sIp:"] {
            for user in [
                "", "alice@", "a:pw@", ":x@", "a b@", "a;b?c@", "a:p:q@", "@", "a?b@", "a:b;c@",
                "%41,b@", "a:@", "a>b@",
            ] {
                for host in [
                    "example.com",
                    "10.0.0.1",
                    "1.2.3",
                    "-x.com",
                    "[::1]",
                    "",
                    "a@b",
                ] {
                    for port in ["", ":5060", ":99999", ":", ":5.0"] {
                        for params in [
                            "",
                            ";lr",
                            ";transport=tcp;lr",
                            ";;",
                            ";a=",
                            "?h=v",
                            ";x?h=v",
                        ] {
                            let text = format!("{scheme}{user}{host}{port}{params}");
                            let rest = text.split_once(':').unwrap().1;
                            let secure = scheme.eq_ignore_ascii_case("sips:");
                            let general = SipUri::parse_rest(&text, secure, rest);
                            if let Some(fast) = SipUri::parse_common(&text) {
                                assert_eq!(Ok(fast), general, "{text}");
                                n += 1;
                            }
                            let whole = Uri::parse(&text).ok().and_then(|u| u.as_sip().copied());
                            assert_eq!(whole, general.ok(), "{text}");
                            // In place, up to the `>` of a name-addr.
                            let framed = format!("\"x\" <{text}>;tag=1");
                            if let Some((fast, end)) = SipUri::scan_common(&framed, 5) {
                                if framed.as_bytes()[end] == b'>' {
                                    let general = Uri::parse(&framed[5..end]);
                                    assert_eq!(Ok(Uri::Sip(fast)), general, "{framed}");
                                    m += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(n > 100);
        assert!(m > 100);
    }

    #[test]
    fn other_schemes() {
        assert_eq!(
            Uri::parse("tel:+1-201-555-0123;phone-context=x")
                .unwrap()
                .scheme(),
            "tel"
        );
        let u = Uri::parse("nobodyKnowsThisScheme:totallyopaquecontent").unwrap();
        assert_eq!(u.scheme(), "nobodyKnowsThisScheme");
        assert!(Uri::parse("<sip:user@example.com>").is_err());
        assert!(Uri::parse("sip:user@example.com; lr").is_err());
        assert!(Uri::parse("sip:user@exa mple.com").is_err());
        assert!(Uri::parse("sip:").is_err());
        assert!(Uri::parse("sip:host:99999").is_err());
    }
}
