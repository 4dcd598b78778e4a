//! URIs: `sip:`, `sips:`, `tel:` and any other absolute URI (RFC 3261 §19.1,
//! §25.1; RFC 3966; RFC 5118 for IPv6 references).

use std::fmt;

use crate::params::{ParamSyntax, Params};

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
        if text.bytes().any(|b| {
            b.is_ascii_whitespace() || b.is_ascii_control() || matches!(b, b'<' | b'>' | b'"')
        }) {
            return Err(UriError::Character);
        }
        let (scheme, rest) = text.split_once(':').ok_or(UriError::Scheme)?;
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

    fn parse_rest(text: &'a str, secure: bool, rest: &'a str) -> Result<Self, UriError> {
        // The user part may hold ';' and '?' (RFC 3261 user-unreserved), so
        // the userinfo ends at the first '@' whatever precedes it.
        let (userinfo, hostpart) = match rest.split_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (u, p) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                if u.is_empty() || !u.bytes().all(is_user_byte) {
                    return Err(UriError::User);
                }
                if let Some(p) = p {
                    if !p.bytes().all(is_password_byte) {
                        return Err(UriError::User);
                    }
                }
                (Some(u), p)
            }
        };
        let (before_headers, headers) = match hostpart.split_once('?') {
            Some((b, h)) => (b, Some(h)),
            None => (hostpart, None),
        };
        if let Some(h) = headers {
            if !h.split('&').all(|hv| {
                hv.split_once('=').is_some_and(|(n, v)| {
                    !n.is_empty() && n.bytes().all(is_header_byte) && v.bytes().all(is_header_byte)
                })
            }) {
                return Err(UriError::Headers);
            }
        }
        let (hostport, params) = match before_headers.find(';') {
            Some(i) => before_headers.split_at(i),
            None => (before_headers, ""),
        };
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
        let (number, params) = match rest.find(';') {
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
                || !inner.contains(':')
                || !inner
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            {
                return Err(UriError::Host);
            }
            HostKind::Ipv6
        } else if text.is_empty() {
            return Err(UriError::Host);
        } else if text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && text.parse::<std::net::Ipv4Addr>().is_ok()
        {
            HostKind::Ipv4
        } else if text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
            && !text.starts_with(['.', '-'])
        {
            HostKind::Domain
        } else {
            return Err(UriError::Host);
        };
        Ok(Self { text, kind })
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
        let end = s.find(']').ok_or(UriError::Host)?;
        let (h, rest) = s.split_at(end + 1);
        match rest {
            "" => (h, None),
            _ => (h, Some(rest.strip_prefix(':').ok_or(UriError::Host)?)),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let host = Host::parse(host)?;
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(UriError::Port);
            }
            Some(p.parse::<u16>().map_err(|_| UriError::Port)?)
        }
    };
    Ok((host, port))
}

fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

fn is_user_byte(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'%' | b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/'
        )
}

fn is_password_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',')
}

fn is_header_byte(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'%' | b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$' | b'@'
        )
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
