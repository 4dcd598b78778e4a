//! The `Digest` credentials of Authorization and Proxy-Authorization.

use std::borrow::Cow;
use std::fmt;

use super::algorithm::Algorithm;
use super::auth_param::{self, AuthParam, into_owned_params};
use super::error::{DigestError, snippet};
use super::math::{self, DigestInput};
use super::qop::Qop;
use super::syntax::{Lexer, ParamWriter, parse_bool, parse_nc};

/// `Digest` credentials (RFC 7616 §3.4, RFC 3261 §22.4, RFC 8760), the value
/// of an Authorization or Proxy-Authorization header field.
///
/// On the server, look the user up by [`username`](Self::username) (a
/// hash when [`userhash`](Self::userhash) is set, see
/// [`matches_username`](Self::matches_username)) and
/// [`realm`](Self::realm), check that [`nonce`](Self::nonce) is one you
/// issued and is fresh, that [`nc`](Self::nc) has not been seen for it and
/// that [`uri`](Self::uri) matches the Request-URI, then call
/// [`verify`](Self::verify) with the stored HA1. Those nonce checks need
/// state and a clock and are not done here.
///
/// [`Display`](fmt::Display) prints the whole value, `Digest username="…",
/// …`, with username, realm, nonce, uri, response, cnonce and opaque quoted
/// and algorithm, qop, nc and userhash bare, as RFC 7616 requires.
/// `userhash` is printed only when true.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DigestCredentials<'a> {
    /// `username`, or the value decoded from `username*` (RFC 7616 §3.4,
    /// RFC 8187; UTF-8 and ISO-8859-1 are decoded). With `userhash=true`
    /// this is the hex userhash.
    pub username: Cow<'a, str>,
    /// `realm`.
    pub realm: Cow<'a, str>,
    /// `nonce`, echoed from the challenge.
    pub nonce: Cow<'a, str>,
    /// `uri`: the digest URI (in SIP, the Request-URI).
    pub uri: Cow<'a, str>,
    /// `response`: the request digest in hex.
    pub response: Cow<'a, str>,
    /// `algorithm`; `None` when absent, which means MD5.
    pub algorithm: Option<Algorithm>,
    /// `cnonce`; present whenever `qop` is.
    pub cnonce: Option<Cow<'a, str>>,
    /// `opaque`, echoed from the challenge.
    pub opaque: Option<Cow<'a, str>>,
    /// `qop`; `None` for RFC 2069 credentials.
    pub qop: Option<Qop>,
    /// `nc`, the nonce count; present whenever `qop` is.
    pub nc: Option<u32>,
    /// `userhash=true`: [`username`](Self::username) is hashed.
    pub userhash: bool,
    /// Other parameters, in order.
    pub params: Vec<AuthParam<'a>>,
}

impl<'a> DigestCredentials<'a> {
    /// Credentials with the required parameters and nothing else (no qop,
    /// default algorithm).
    pub fn new(
        username: impl Into<Cow<'a, str>>,
        realm: impl Into<Cow<'a, str>>,
        nonce: impl Into<Cow<'a, str>>,
        uri: impl Into<Cow<'a, str>>,
        response: impl Into<Cow<'a, str>>,
    ) -> Self {
        Self {
            username: username.into(),
            realm: realm.into(),
            nonce: nonce.into(),
            uri: uri.into(),
            response: response.into(),
            algorithm: None,
            cnonce: None,
            opaque: None,
            qop: None,
            nc: None,
            userhash: false,
            params: Vec::new(),
        }
    }

    /// Parses a header value that must use the `Digest` scheme (matched
    /// case-insensitively). Use
    /// [`Credentials::parse`](super::Credentials::parse) to accept any
    /// scheme.
    ///
    /// Required: username (or `username*`), realm, nonce, uri and response;
    /// with qop also cnonce and nc.
    ///
    /// # Errors
    ///
    /// [`DigestError::NotDigest`] for another scheme, or the syntax or
    /// value error found.
    pub fn parse(value: &'a str) -> Result<Self, DigestError> {
        let mut lexer = Lexer::new(value)?;
        let scheme = lexer.scheme()?;
        if !scheme.eq_ignore_ascii_case(super::DIGEST_SCHEME) {
            return Err(DigestError::NotDigest {
                scheme: snippet(scheme),
            });
        }
        Self::from_params(lexer.params()?)
    }

    /// Builds the credentials from parsed parameters (names already
    /// unique).
    pub(crate) fn from_params(list: Vec<AuthParam<'a>>) -> Result<Self, DigestError> {
        let mut username = None;
        let mut username_ext = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response = None;
        let mut c = Self::new("", "", "", "", "");
        for param in list {
            let name = param.name.as_ref();
            let value = param.value;
            if name.eq_ignore_ascii_case("username") {
                username = Some(value);
            } else if name.eq_ignore_ascii_case("username*") {
                username_ext = Some(decode_ext_value(&value)?);
            } else if name.eq_ignore_ascii_case("realm") {
                realm = Some(value);
            } else if name.eq_ignore_ascii_case("nonce") {
                nonce = Some(value);
            } else if name.eq_ignore_ascii_case("uri") {
                uri = Some(value);
            } else if name.eq_ignore_ascii_case("response") {
                response = Some(value);
            } else if name.eq_ignore_ascii_case("algorithm") {
                c.algorithm = Some(value.parse()?);
            } else if name.eq_ignore_ascii_case("cnonce") {
                c.cnonce = Some(value);
            } else if name.eq_ignore_ascii_case("opaque") {
                c.opaque = Some(value);
            } else if name.eq_ignore_ascii_case("qop") {
                c.qop = Some(value.parse()?);
            } else if name.eq_ignore_ascii_case("nc") {
                c.nc = Some(parse_nc(&value)?);
            } else if name.eq_ignore_ascii_case("userhash") {
                c.userhash = parse_bool("userhash", &value)?;
            } else {
                c.params.push(AuthParam {
                    name: param.name,
                    value,
                });
            }
        }
        c.username = match (username, username_ext) {
            (Some(_), Some(_)) => return Err(DigestError::ConflictingUsername),
            (Some(u), None) => u,
            (None, Some(u)) => Cow::Owned(u),
            (None, None) => return Err(DigestError::MissingParam { name: "username" }),
        };
        c.realm = realm.ok_or(DigestError::MissingParam { name: "realm" })?;
        c.nonce = nonce.ok_or(DigestError::MissingParam { name: "nonce" })?;
        c.uri = uri.ok_or(DigestError::MissingParam { name: "uri" })?;
        c.response = response.ok_or(DigestError::MissingParam { name: "response" })?;
        if c.qop.is_some() {
            if c.cnonce.is_none() {
                return Err(DigestError::MissingParam { name: "cnonce" });
            }
            if c.nc.is_none() {
                return Err(DigestError::MissingParam { name: "nc" });
            }
        }
        Ok(c)
    }

    /// The algorithm in effect: the `algorithm` parameter, or MD5.
    #[must_use]
    pub fn algorithm_or_default(&self) -> Algorithm {
        self.algorithm.unwrap_or_default()
    }

    /// The value of an unknown parameter, by name ignoring ASCII case.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        auth_param::find(&self.params, name).map(|p| p.value.as_ref())
    }

    /// Copies borrowed text so that the credentials outlive their input.
    #[must_use]
    pub fn into_owned(self) -> DigestCredentials<'static> {
        DigestCredentials {
            username: Cow::Owned(self.username.into_owned()),
            realm: Cow::Owned(self.realm.into_owned()),
            nonce: Cow::Owned(self.nonce.into_owned()),
            uri: Cow::Owned(self.uri.into_owned()),
            response: Cow::Owned(self.response.into_owned()),
            algorithm: self.algorithm,
            cnonce: self.cnonce.map(|c| Cow::Owned(c.into_owned())),
            opaque: self.opaque.map(|o| Cow::Owned(o.into_owned())),
            qop: self.qop,
            nc: self.nc,
            userhash: self.userhash,
            params: into_owned_params(self.params),
        }
    }

    /// Whether these credentials name `username`: equal to
    /// [`username`](Self::username), or with `userhash=true` hashing to it
    /// (compared in constant time, hex case ignored).
    #[must_use]
    pub fn matches_username(&self, username: &str) -> bool {
        if self.userhash {
            let expected = math::userhash(self.algorithm_or_default(), username, &self.realm);
            math::verify(&expected, &self.username.to_ascii_lowercase())
        } else {
            self.username == username
        }
    }

    /// The response a client knowing the password behind `stored_ha1` would
    /// send for a request with `method` and `body` (the body counts only with
    /// `qop=auth-int`).
    ///
    /// `stored_ha1` is the user's HA1 for the hash function of
    /// [`algorithm_or_default`](Self::algorithm_or_default), i.e.
    /// [`ha1`](super::ha1) of `(username, realm, password)`; the `-sess`
    /// step is applied here.
    ///
    /// # Errors
    ///
    /// [`DigestError::InvalidHa1`] when `stored_ha1` has the wrong length
    /// for the algorithm or is not lowercase hex;
    /// [`DigestError::MissingParam`] when a `-sess` algorithm has no cnonce,
    /// or qop is set without cnonce or nc.
    pub fn expected_response(
        &self,
        method: &str,
        body: &[u8],
        stored_ha1: &str,
    ) -> Result<String, DigestError> {
        self.input(method, body, stored_ha1).compute()
    }

    /// Checks the `response` against `stored_ha1` for a request with
    /// `method` and `body`, in constant time. Hex case in the received
    /// response is ignored.
    ///
    /// Returns `Ok(false)` for a wrong response (wrong password, wrong
    /// method or URI, tampered body with auth-int).
    ///
    /// # Errors
    ///
    /// As [`expected_response`](Self::expected_response): the inputs do not
    /// allow a check at all.
    pub fn verify(&self, method: &str, body: &[u8], stored_ha1: &str) -> Result<bool, DigestError> {
        let expected = self.expected_response(method, body, stored_ha1)?;
        Ok(math::verify(&expected, &self.response.to_ascii_lowercase()))
    }

    /// The digest inputs of these credentials.
    pub(crate) fn input<'s>(
        &'s self,
        method: &'s str,
        body: &'s [u8],
        stored_ha1: &'s str,
    ) -> DigestInput<'s> {
        DigestInput {
            algorithm: self.algorithm_or_default(),
            stored_ha1,
            nonce: &self.nonce,
            cnonce: self.cnonce.as_deref(),
            nc: self.nc,
            qop: self.qop,
            method,
            uri: &self.uri,
            body,
        }
    }
}

/// Decodes an RFC 8187 `ext-value` (`charset'[language]'pct-encoded`) in
/// UTF-8 or ISO-8859-1; control characters are refused.
fn decode_ext_value(value: &str) -> Result<String, DigestError> {
    let invalid = || DigestError::InvalidValue {
        name: "username*",
        value: snippet(value),
    };
    let mut parts = value.splitn(3, '\'');
    let (Some(charset), Some(_language), Some(encoded)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut iter = encoded.bytes();
    while let Some(b) = iter.next() {
        match b {
            b'%' => {
                let hi = iter.next().and_then(hex_value).ok_or_else(invalid)?;
                let lo = iter.next().and_then(hex_value).ok_or_else(invalid)?;
                bytes.push((hi << 4) | lo);
            }
            b if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) => bytes.push(b),
            _ => return Err(invalid()),
        }
    }
    let decoded = if charset.eq_ignore_ascii_case("UTF-8") {
        String::from_utf8(bytes).map_err(|_| invalid())?
    } else if charset.eq_ignore_ascii_case("ISO-8859-1") {
        bytes.into_iter().map(char::from).collect()
    } else {
        return Err(invalid());
    };
    // A username never holds control characters; CR or LF could not even
    // be printed back into a header.
    if decoded.chars().any(char::is_control) {
        return Err(invalid());
    }
    Ok(decoded)
}

/// The value of one hex digit.
fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

impl fmt::Display for DigestCredentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(super::DIGEST_SCHEME)?;
        let mut w = ParamWriter::new(f, " ");
        w.quoted("username", &self.username)?;
        w.quoted("realm", &self.realm)?;
        w.quoted("nonce", &self.nonce)?;
        w.quoted("uri", &self.uri)?;
        w.quoted("response", &self.response)?;
        if let Some(alg) = self.algorithm {
            w.bare("algorithm", alg.as_str())?;
        }
        w.quoted_opt("cnonce", self.cnonce.as_deref())?;
        w.quoted_opt("opaque", self.opaque.as_deref())?;
        if let Some(qop) = self.qop {
            w.bare("qop", qop.as_str())?;
        }
        w.nc(self.nc)?;
        if self.userhash {
            w.bare("userhash", "true")?;
        }
        w.extra(&self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_value_decoding() {
        assert_eq!(
            decode_ext_value("UTF-8''J%C3%A4s%C3%B8n%20Doe"),
            Ok("J\u{e4}s\u{f8}n Doe".to_owned())
        );
        assert_eq!(
            decode_ext_value("iso-8859-1'en'J%E4s%F8n"),
            Ok("J\u{e4}s\u{f8}n".to_owned())
        );
        for bad in [
            "J%C3%A4",
            "UTF-8'J",
            "UTF-8''%C3",
            "UTF-8''%ZZ",
            "UTF-8''%C3%28",
            "UTF-8''a b",
            "KOI8-R''x",
            "UTF-8''a%0D%0Ab",
            "UTF-8''%00",
            "ISO-8859-1''%85",
        ] {
            assert!(decode_ext_value(bad).is_err(), "{bad:?}");
        }
    }
}
