//! The Authentication-Info and Proxy-Authentication-Info header values.

use std::borrow::Cow;
use std::fmt;

use super::auth_param::{self, AuthParam, into_owned_params};
use super::digest_credentials::DigestCredentials;
use super::error::DigestError;
use super::math;
use super::qop::Qop;
use super::syntax::{Lexer, ParamWriter, parse_nc};

/// The value of an Authentication-Info or Proxy-Authentication-Info header
/// field (RFC 7615 §3, RFC 7616 §3.5, RFC 3261 §20.6): a list of
/// auth-params without a scheme.
///
/// A server sends it in the response to an authenticated request, to hand
/// out the next nonce and to prove with `rspauth` that it knows the user's
/// HA1 too ([`for_credentials`](Self::for_credentials)).
///
/// [`Display`](fmt::Display) prints nextnonce, rspauth and cnonce quoted and
/// qop and nc bare. A value with no parameter prints as an empty string,
/// which is not a valid header value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AuthenticationInfo<'a> {
    /// `nextnonce`: the nonce the client should use next.
    pub nextnonce: Option<Cow<'a, str>>,
    /// `qop`, as in the request's credentials.
    pub qop: Option<Qop>,
    /// `rspauth`: the response digest proving the server knows HA1.
    pub rspauth: Option<Cow<'a, str>>,
    /// `cnonce`, as in the request's credentials.
    pub cnonce: Option<Cow<'a, str>>,
    /// `nc`, as in the request's credentials.
    pub nc: Option<u32>,
    /// Other parameters, in order.
    pub params: Vec<AuthParam<'a>>,
}

impl<'a> AuthenticationInfo<'a> {
    /// A value with no parameter; set the fields you need.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a header value.
    ///
    /// # Errors
    ///
    /// The syntax or value error found ([`DigestError::Empty`] for an empty
    /// value).
    pub fn parse(value: &'a str) -> Result<Self, DigestError> {
        let mut info = Self::new();
        let params = Lexer::new(value)?.params()?;
        // A list of nothing but commas carries no information and would
        // print as an empty value: reject it like an empty value.
        if params.is_empty() {
            return Err(DigestError::Empty);
        }
        for param in params {
            let name = param.name.as_ref();
            let value = param.value;
            if name.eq_ignore_ascii_case("nextnonce") {
                info.nextnonce = Some(value);
            } else if name.eq_ignore_ascii_case("qop") {
                info.qop = Some(value.parse()?);
            } else if name.eq_ignore_ascii_case("rspauth") {
                info.rspauth = Some(value);
            } else if name.eq_ignore_ascii_case("cnonce") {
                info.cnonce = Some(value);
            } else if name.eq_ignore_ascii_case("nc") {
                info.nc = Some(parse_nc(&value)?);
            } else {
                info.params.push(AuthParam {
                    name: param.name,
                    value,
                });
            }
        }
        Ok(info)
    }

    /// The server's answer to verified `credentials`: `rspauth` computed
    /// from `stored_ha1` (as for
    /// [`DigestCredentials::verify`]) with an empty method, the
    /// credentials' URI and, with `qop=auth-int`, the response body
    /// `response_body`; qop, cnonce and nc are copied from the credentials.
    /// Set [`nextnonce`](Self::nextnonce) afterwards if wanted.
    ///
    /// # Errors
    ///
    /// As [`DigestCredentials::expected_response`].
    pub fn for_credentials(
        credentials: &DigestCredentials<'_>,
        stored_ha1: &str,
        response_body: &[u8],
    ) -> Result<AuthenticationInfo<'static>, DigestError> {
        let rspauth = credentials.input("", response_body, stored_ha1).compute()?;
        Ok(AuthenticationInfo {
            nextnonce: None,
            qop: credentials.qop,
            rspauth: Some(Cow::Owned(rspauth)),
            cnonce: credentials
                .cnonce
                .as_ref()
                .map(|c| Cow::Owned(c.clone().into_owned())),
            nc: credentials.nc,
            params: Vec::new(),
        })
    }

    /// Client side: checks `rspauth` against the value the server should
    /// have computed for the `credentials` we sent (see
    /// [`for_credentials`](Self::for_credentials)), in constant time.
    /// Returns `Ok(false)` when `rspauth` is absent or wrong.
    ///
    /// # Errors
    ///
    /// As [`DigestCredentials::expected_response`].
    pub fn verify_rspauth(
        &self,
        credentials: &DigestCredentials<'_>,
        stored_ha1: &str,
        response_body: &[u8],
    ) -> Result<bool, DigestError> {
        let expected = credentials.input("", response_body, stored_ha1).compute()?;
        Ok(self
            .rspauth
            .as_deref()
            .is_some_and(|got| math::verify(&expected, &got.to_ascii_lowercase())))
    }

    /// The value of an unknown parameter, by name ignoring ASCII case.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        auth_param::find(&self.params, name).map(|p| p.value.as_ref())
    }

    /// Copies borrowed text so that the value outlives its input.
    #[must_use]
    pub fn into_owned(self) -> AuthenticationInfo<'static> {
        AuthenticationInfo {
            nextnonce: self.nextnonce.map(|n| Cow::Owned(n.into_owned())),
            qop: self.qop,
            rspauth: self.rspauth.map(|r| Cow::Owned(r.into_owned())),
            cnonce: self.cnonce.map(|c| Cow::Owned(c.into_owned())),
            nc: self.nc,
            params: into_owned_params(self.params),
        }
    }
}

impl fmt::Display for AuthenticationInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = ParamWriter::new(f, "");
        w.quoted_opt("nextnonce", self.nextnonce.as_deref())?;
        if let Some(qop) = self.qop {
            w.bare("qop", qop.as_str())?;
        }
        w.quoted_opt("rspauth", self.rspauth.as_deref())?;
        w.quoted_opt("cnonce", self.cnonce.as_deref())?;
        w.nc(self.nc)?;
        w.extra(&self.params)
    }
}
