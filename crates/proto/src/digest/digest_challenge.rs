//! The `Digest` challenge of WWW-Authenticate and Proxy-Authenticate.

use std::borrow::Cow;
use std::fmt;

use super::algorithm::Algorithm;
use super::auth_param::{self, AuthParam, into_owned_params};
use super::digest_credentials::DigestCredentials;
use super::error::{DigestError, snippet};
use super::math::{self, DigestInput};
use super::qop::Qop;
use super::request_info::RequestInfo;
use super::syntax::{Lexer, ParamWriter, parse_bool};

/// A `Digest` challenge (RFC 7616 §3.3, RFC 3261 §22.4, RFC 8760), the value
/// of a WWW-Authenticate or Proxy-Authenticate header field.
///
/// SIP allows one challenge per header field; several challenges (e.g. one
/// per algorithm, RFC 8760 §2.3) are several header fields.
///
/// [`Display`](fmt::Display) prints the whole value, `Digest realm="…", …`,
/// with realm, domain, nonce, opaque and the qop list quoted and stale,
/// algorithm, userhash and charset bare. `stale` and `userhash` are printed
/// only when true.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DigestChallenge<'a> {
    /// `realm`: the protection space, shown to users.
    pub realm: Cow<'a, str>,
    /// `domain`: space-separated URIs of the protection space (see
    /// [`DigestChallenge::domains`]).
    pub domain: Option<Cow<'a, str>>,
    /// `nonce`: server-chosen, opaque to the client.
    pub nonce: Cow<'a, str>,
    /// `opaque`: returned unchanged by the client.
    pub opaque: Option<Cow<'a, str>>,
    /// `stale=true`: the previous request was refused only for its nonce;
    /// retry with the new one without asking the user.
    pub stale: bool,
    /// `algorithm`; `None` when absent, which means MD5.
    pub algorithm: Option<Algorithm>,
    /// The `qop` options offered; empty when absent (RFC 2069 mode).
    /// Options other than `auth` and `auth-int` are ignored, as RFC 7616
    /// requires.
    pub qop: Vec<Qop>,
    /// `userhash=true`: the server accepts a hashed username.
    pub userhash: bool,
    /// `charset` (only `UTF-8` is defined).
    pub charset: Option<Cow<'a, str>>,
    /// Other parameters, in order.
    pub params: Vec<AuthParam<'a>>,
}

impl<'a> DigestChallenge<'a> {
    /// A challenge with the two required parameters and nothing else.
    pub fn new(realm: impl Into<Cow<'a, str>>, nonce: impl Into<Cow<'a, str>>) -> Self {
        Self {
            realm: realm.into(),
            domain: None,
            nonce: nonce.into(),
            opaque: None,
            stale: false,
            algorithm: None,
            qop: Vec::new(),
            userhash: false,
            charset: None,
            params: Vec::new(),
        }
    }

    /// Parses a header value that must use the `Digest` scheme (matched
    /// case-insensitively). Use [`Challenge::parse`](super::Challenge::parse)
    /// to accept any scheme.
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

    /// Builds the challenge from parsed parameters (names already unique).
    pub(crate) fn from_params(list: Vec<AuthParam<'a>>) -> Result<Self, DigestError> {
        let mut realm = None;
        let mut nonce = None;
        let mut challenge = Self::new("", "");
        for param in list {
            let name = param.name.as_ref();
            let value = param.value;
            if name.eq_ignore_ascii_case("realm") {
                realm = Some(value);
            } else if name.eq_ignore_ascii_case("nonce") {
                nonce = Some(value);
            } else if name.eq_ignore_ascii_case("domain") {
                challenge.domain = Some(value);
            } else if name.eq_ignore_ascii_case("opaque") {
                challenge.opaque = Some(value);
            } else if name.eq_ignore_ascii_case("stale") {
                challenge.stale = parse_bool("stale", &value)?;
            } else if name.eq_ignore_ascii_case("algorithm") {
                challenge.algorithm = Some(value.parse()?);
            } else if name.eq_ignore_ascii_case("qop") {
                challenge.qop = parse_qop_options(&value);
            } else if name.eq_ignore_ascii_case("userhash") {
                challenge.userhash = parse_bool("userhash", &value)?;
            } else if name.eq_ignore_ascii_case("charset") {
                challenge.charset = Some(value);
            } else {
                challenge.params.push(AuthParam {
                    name: param.name,
                    value,
                });
            }
        }
        challenge.realm = realm.ok_or(DigestError::MissingParam { name: "realm" })?;
        challenge.nonce = nonce.ok_or(DigestError::MissingParam { name: "nonce" })?;
        Ok(challenge)
    }

    /// The algorithm in effect: the `algorithm` parameter, or MD5.
    #[must_use]
    pub fn algorithm_or_default(&self) -> Algorithm {
        self.algorithm.unwrap_or_default()
    }

    /// The URIs of the `domain` parameter.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.domain
            .as_deref()
            .unwrap_or_default()
            .split_ascii_whitespace()
    }

    /// The value of an unknown parameter, by name ignoring ASCII case.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        auth_param::find(&self.params, name).map(|p| p.value.as_ref())
    }

    /// Copies borrowed text so that the challenge outlives its input.
    #[must_use]
    pub fn into_owned(self) -> DigestChallenge<'static> {
        DigestChallenge {
            realm: Cow::Owned(self.realm.into_owned()),
            domain: self.domain.map(|d| Cow::Owned(d.into_owned())),
            nonce: Cow::Owned(self.nonce.into_owned()),
            opaque: self.opaque.map(|o| Cow::Owned(o.into_owned())),
            stale: self.stale,
            algorithm: self.algorithm,
            qop: self.qop,
            userhash: self.userhash,
            charset: self.charset.map(|c| Cow::Owned(c.into_owned())),
            params: into_owned_params(self.params),
        }
    }

    /// Answers the challenge as a client: builds the credentials for
    /// `request` with the caller's `cnonce` and nonce count `nc`.
    ///
    /// `ha1` is the stored HA1 of the user, [`ha1`](super::ha1) computed
    /// with [`algorithm_or_default`](Self::algorithm_or_default) and this
    /// challenge's realm. The qop used is `auth` when offered, else
    /// `auth-int` when offered, else none (RFC 2069; `cnonce` and `nc` are
    /// then left out, except that a `-sess` algorithm still sends
    /// `cnonce`). With `userhash=true` the username is sent hashed. The
    /// algorithm and opaque are echoed.
    ///
    /// # Errors
    ///
    /// [`DigestError::InvalidHa1`] when `ha1` is not a hash of the
    /// algorithm's hash function.
    pub fn respond(
        &self,
        username: &str,
        ha1: &str,
        request: &RequestInfo<'_>,
        cnonce: &str,
        nc: u32,
    ) -> Result<DigestCredentials<'static>, DigestError> {
        let algorithm = self.algorithm_or_default();
        let qop = [Qop::Auth, Qop::AuthInt]
            .into_iter()
            .find(|q| self.qop.contains(q));
        let sends_cnonce = qop.is_some() || algorithm.is_session();
        let cnonce = sends_cnonce.then_some(cnonce);
        let nc = qop.map(|_| nc);
        let response = DigestInput {
            algorithm,
            stored_ha1: ha1,
            nonce: &self.nonce,
            cnonce,
            nc,
            qop,
            method: request.method,
            uri: request.uri,
            body: request.body,
        }
        .compute()?;
        let username = if self.userhash {
            math::userhash(algorithm, username, &self.realm)
        } else {
            username.to_owned()
        };
        let mut credentials = DigestCredentials::new(
            username,
            self.realm.clone().into_owned(),
            self.nonce.clone().into_owned(),
            request.uri.to_owned(),
            response,
        );
        credentials.algorithm = self.algorithm;
        credentials.cnonce = cnonce.map(|c| Cow::Owned(c.to_owned()));
        credentials.opaque = self
            .opaque
            .as_ref()
            .map(|o| Cow::Owned(o.clone().into_owned()));
        credentials.qop = qop;
        credentials.nc = nc;
        credentials.userhash = self.userhash;
        Ok(credentials)
    }
}

/// Parses the qop-options list (`"auth,auth-int"`), skipping empty and
/// unknown entries and repeats.
fn parse_qop_options(value: &str) -> Vec<Qop> {
    let mut list = Vec::new();
    for qop in value
        .split(',')
        .filter_map(|item| Qop::from_token(item.trim_matches([' ', '\t', '\r', '\n'])))
    {
        if !list.contains(&qop) {
            list.push(qop);
        }
    }
    list
}

impl fmt::Display for DigestChallenge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(super::DIGEST_SCHEME)?;
        let mut w = ParamWriter::new(f, " ");
        w.quoted("realm", &self.realm)?;
        w.quoted_opt("domain", self.domain.as_deref())?;
        w.quoted("nonce", &self.nonce)?;
        w.quoted_opt("opaque", self.opaque.as_deref())?;
        if self.stale {
            w.bare("stale", "true")?;
        }
        if let Some(alg) = self.algorithm {
            w.bare("algorithm", alg.as_str())?;
        }
        if !self.qop.is_empty() {
            let list: Vec<&str> = self.qop.iter().map(|q| q.as_str()).collect();
            w.quoted("qop", &list.join(","))?;
        }
        if let Some(charset) = &self.charset {
            w.token_or_quoted("charset", charset)?;
        }
        if self.userhash {
            w.bare("userhash", "true")?;
        }
        w.extra(&self.params)
    }
}
