//! Digest authentication (RFC 3261 §22, RFC 7616, RFC 8760) as a sans-IO
//! policy: challenges, stateless nonces, response checks and nonce-count
//! replay protection.
//!
//! # Flow
//!
//! ```text
//! request ──► Authenticator::credentials(request, realm, is_proxy)
//!               │ Offered::Digest(c) ──► look up HA1s of c.username (store)
//!               │                        └► Authenticator::verify(..., Some(&ha1s) or None)
//!               │ anything else ───────► AuthResult::Challenge
//!               ▼
//!   AuthResult::Ok { identity }          → go on (Registrar::handle_register(.., Some(&identity)))
//!   AuthResult::Challenge { stale, .. }  → Authenticator::challenge_response (401 / 407)
//!   AuthResult::Forbidden { .. }         → 403
//! ```
//!
//! [`Authenticator::authenticate`] does the three steps in one call when the
//! HA1 lookup is synchronous.
//!
//! # Choices
//!
//! * **Algorithms offered, in order: MD5 first, then SHA-256** (both always
//!   present, one `WWW-Authenticate` each, RFC 8760 §2.3). RFC 8760 asks a
//!   client to use the topmost challenge it supports. JsSIP and SIP.js (the
//!   usual browser clients) implement only MD5 and read only one challenge
//!   (the last one: they get MD5 alone, see `md5_only_user_agents`), and most hardware and softphones still lack SHA-256 (see the
//!   anchors' Kamailio #4161): a SHA-256-first default would lock them out.
//!   MD5 first lets every common client in, while SHA-256 is there for
//!   clients that pick the strongest. Deployments whose clients all do
//!   SHA-256 set `algorithms` to `[Sha256, Md5]` or `[Sha256]`;
//!   SHA-512-256 can be added the same way.
//! * **Nonces are stateless**: `base64url(expiry ‖ random ‖ MAC)`, checked
//!   with the secret only (see `nonce.rs`). An expired nonce whose response is
//!   right gets `stale=true` so the client retries without asking its user.
//! * **Replay**: each `nc` of a nonce is accepted once (window of 64 below
//!   the highest), tracked only for nonces that carried a valid response and
//!   only until they expire.
//! * **No user enumeration**: an unknown user is checked against a stand-in
//!   HA1 (same work) and gets exactly what a wrong password gets
//!   ([`ChallengeReason::Failed`]), expired nonce or not.
//! * `qop=auth` is offered and required (`auth-int` is accepted if a client
//!   uses it); answers without qop (RFC 2069) are refused, since they carry
//!   no `nc` to protect against replay.

mod nonce;
mod replay;
#[cfg(test)]
mod tests;

use std::fmt;

use rand_core::RngCore;
use switchboard_proto::digest::{Algorithm, Credentials, DigestChallenge, DigestCredentials, Qop};
use switchboard_proto::{BuildError, HeaderName, Request, Response, StatusCode, Uri};

use crate::util;
use nonce::{NonceCheck, NonceCodec, RANDOM_LEN};
use replay::{NcError, ReplayCache};

/// The stored HA1 values the authenticator checks against (defined with the
/// storage model).
pub use crate::storage::Ha1Set;

/// The secret that keys nonces (and the stand-in HA1 of unknown users).
///
/// Nodes that share a store should share the secret, so that a nonce issued
/// by one is accepted by another. Changing it makes outstanding nonces
/// invalid: clients get one fresh challenge.
#[derive(Clone)]
pub struct AuthSecret([u8; 32]);

impl AuthSecret {
    /// A secret from 32 bytes (from a file, or generated once).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A new random secret.
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }
}

impl fmt::Debug for AuthSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthSecret(..)")
    }
}

/// What to answer when the credentials are wrong (unknown user or wrong
/// password, which are never told apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureMode {
    /// Challenge again (401/407), as Asterisk does: a client asks its user
    /// for the password again.
    #[default]
    Challenge,
    /// 403 Forbidden.
    Forbidden,
}

/// Authentication settings. [`Default`] gives safe values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// The algorithms challenged with, in order of preference (see the
    /// module documentation for why MD5 comes first by default). Answers
    /// with an algorithm not listed are refused. `-sess` variants are not
    /// supported.
    pub algorithms: Vec<Algorithm>,
    /// How long a nonce is accepted, in seconds.
    pub nonce_lifetime: u64,
    /// Most nonces whose counts are tracked at once (memory bound).
    pub max_tracked_nonces: usize,
    /// Require the digest `uri` to name the Request-URI (§19.1.4
    /// equivalence), so a response cannot be moved to another request.
    pub check_uri: bool,
    /// What wrong credentials get.
    pub on_failure: FailureMode,
    /// User-Agent substrings (ASCII case-insensitive) of clients that fail
    /// on a challenge set holding an algorithm they lack instead of skipping
    /// it: they are challenged with MD5 alone (when MD5 is configured).
    /// Default: `baresip` and `libre` (libre 1.1 answers ENOSYS to the
    /// SHA-256 challenge next to MD5), `JsSIP` and `SIP.js` (JsSIP 3.13 and
    /// SIP.js 0.21 keep only the last `WWW-Authenticate` they parse and
    /// give up when it is not MD5).
    pub md5_only_user_agents: Vec<String>,
    /// The names of this server: its domains and listener hosts (IPv6 in
    /// brackets). A digest `uri` that names this server (one of these hosts,
    /// with no port or one of [`AuthConfig::server_ports`]) is accepted
    /// whatever the Request-URI: SIPp writes the server's `sip:IP:PORT`.
    pub server_hosts: Vec<String>,
    /// The ports this server listens on.
    pub server_ports: Vec<u16>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            algorithms: vec![Algorithm::Md5, Algorithm::Sha256],
            nonce_lifetime: 300,
            max_tracked_nonces: 100_000,
            check_uri: true,
            on_failure: FailureMode::Challenge,
            md5_only_user_agents: vec![
                "baresip".into(),
                "libre".into(),
                "JsSIP".into(),
                "SIP.js".into(),
            ],
            server_hosts: Vec::new(),
            server_ports: Vec::new(),
        }
    }
}

/// Who proved their identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The username.
    pub user: String,
    /// The realm (the domain).
    pub realm: String,
}

/// Why a request is challenged (or refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChallengeReason {
    /// No credentials for this realm.
    NoCredentials,
    /// Credentials only for another realm.
    WrongRealm,
    /// Credentials that do not parse, or use `userhash`.
    Malformed,
    /// A nonce this server did not issue (or issued with another secret or
    /// for another realm), tampered with, or garbage.
    UnknownNonce,
    /// The nonce expired (the response was right): `stale=true`.
    StaleNonce,
    /// The nonce count was already used: a replayed request.
    Replay,
    /// An algorithm not offered.
    UnsupportedAlgorithm,
    /// No `qop` (RFC 2069 answer).
    MissingQop,
    /// The digest `uri` is not the Request-URI.
    UriMismatch,
    /// Unknown user or wrong password: deliberately one reason.
    Failed,
}

/// The result of checking a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResult {
    /// Authenticated.
    Ok {
        /// Who.
        identity: Identity,
        /// With which algorithm.
        algorithm: Algorithm,
    },
    /// Answer with a challenge (401 or 407), `stale=true` when told.
    Challenge {
        /// Only the nonce was wrong: the client may retry without its user.
        stale: bool,
        /// Why.
        reason: ChallengeReason,
    },
    /// Answer 403.
    Forbidden {
        /// Why.
        reason: ChallengeReason,
    },
}

impl AuthResult {
    /// Whether this counts as a failed authentication for brute-force
    /// protection: wrong credentials or a replay. Missing credentials and
    /// stale nonces are normal steps of the protocol and do not count.
    #[must_use]
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Self::Challenge {
                reason: ChallengeReason::Failed | ChallengeReason::Replay,
                ..
            } | Self::Forbidden {
                reason: ChallengeReason::Failed | ChallengeReason::Replay,
            }
        )
    }
}

/// The credentials a request offers for a realm.
// Short-lived (one per request), so the size of the Digest variant does not
// matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offered<'r> {
    /// Digest credentials for the realm.
    Digest(DigestCredentials<'r>),
    /// None at all.
    None,
    /// Only for other realms (or other schemes).
    OtherRealm,
    /// A header that does not parse.
    Malformed,
}

/// The challenge header fields of a 401 or 407, one value per algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenges {
    /// `WWW-Authenticate` (registrar, UAS) or `Proxy-Authenticate` (proxy).
    pub header: HeaderName,
    /// The values, in order of preference.
    pub values: Vec<String>,
}

/// Issues challenges and checks credentials.
pub struct Authenticator {
    config: AuthConfig,
    codec: NonceCodec,
    replay: ReplayCache,
    rng: Box<dyn RngCore + Send>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config)
            .field("tracked_nonces", &self.replay.len())
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator keyed by `secret`, drawing nonces and tags from `rng`.
    #[must_use]
    pub fn new(config: AuthConfig, secret: AuthSecret, rng: Box<dyn RngCore + Send>) -> Self {
        Self {
            replay: ReplayCache::new(config.max_tracked_nonces),
            config,
            codec: NonceCodec::new(secret.0),
            rng,
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Number of nonces whose counts are tracked.
    #[must_use]
    pub fn tracked_nonces(&self) -> usize {
        self.replay.len()
    }

    /// Drops the nonce-count state of expired nonces (also done on every
    /// [`verify`](Self::verify)).
    pub fn purge(&mut self, unix_now: u64) {
        self.replay.purge(unix_now);
    }

    /// A fresh nonce for `realm`.
    fn new_nonce(&mut self, unix_now: u64, realm: &str) -> String {
        let mut random = [0u8; RANDOM_LEN];
        self.rng.fill_bytes(&mut random);
        let expires_at = unix_now.saturating_add(self.config.nonce_lifetime);
        self.codec.issue(expires_at, random, realm)
    }

    /// The challenges for `realm`: one per configured algorithm, in order,
    /// sharing one fresh nonce, each with `qop="auth"` and `stale=true`
    /// when asked.
    pub fn challenge(
        &mut self,
        unix_now: u64,
        realm: &str,
        stale: bool,
        is_proxy: bool,
    ) -> Challenges {
        self.challenge_with(unix_now, realm, stale, is_proxy, false)
    }

    /// Whether `request` comes from a client listed in
    /// [`AuthConfig::md5_only_user_agents`] while MD5 is configured.
    fn wants_md5_only(&self, request: &Request) -> bool {
        if !self.config.algorithms.contains(&Algorithm::Md5) {
            return false;
        }
        let Some(agent) = request.headers().get(HeaderName::UserAgent) else {
            return false;
        };
        let agent = agent.to_ascii_lowercase();
        self.config
            .md5_only_user_agents
            .iter()
            .any(|quirk| !quirk.is_empty() && agent.contains(&quirk.to_ascii_lowercase()))
    }

    fn challenge_with(
        &mut self,
        unix_now: u64,
        realm: &str,
        stale: bool,
        is_proxy: bool,
        md5_only: bool,
    ) -> Challenges {
        let nonce = self.new_nonce(unix_now, realm);
        let values = self
            .config
            .algorithms
            .iter()
            .filter(|&&alg| !md5_only || alg == Algorithm::Md5)
            .map(|&alg| {
                let mut c = DigestChallenge::new(realm, nonce.as_str());
                c.algorithm = Some(alg);
                c.qop = vec![Qop::Auth];
                c.stale = stale;
                c.to_string()
            })
            .collect();
        Challenges {
            header: if is_proxy {
                HeaderName::ProxyAuthenticate
            } else {
                HeaderName::WwwAuthenticate
            },
            values,
        }
    }

    /// The 401 (or 407 for a proxy) answering `request` with fresh
    /// challenges.
    ///
    /// # Errors
    ///
    /// When no response at all can be built from the request.
    pub fn challenge_response(
        &mut self,
        unix_now: u64,
        request: &Request,
        realm: &str,
        stale: bool,
        is_proxy: bool,
    ) -> Result<Response, BuildError> {
        let md5_only = self.wants_md5_only(request);
        let challenges = self.challenge_with(unix_now, realm, stale, is_proxy, md5_only);
        let status = if is_proxy {
            StatusCode::PROXY_AUTHENTICATION_REQUIRED
        } else {
            StatusCode::UNAUTHORIZED
        };
        let lines: Vec<(HeaderName, String)> = challenges
            .values
            .into_iter()
            .map(|v| (challenges.header, v))
            .collect();
        let tag = util::random_tag(&mut *self.rng);
        util::response(request, status, None, &tag, &lines)
    }

    /// What wrong credentials get with the configured [`FailureMode`]: also
    /// what to answer, without checking anything, when
    /// [`Protection::auth_gate`](crate::protect::Protection::auth_gate) says
    /// the attempt is locked out, so that a lock looks like a wrong password.
    #[must_use]
    pub fn failure(&self) -> AuthResult {
        match self.config.on_failure {
            FailureMode::Challenge => challenge(ChallengeReason::Failed),
            FailureMode::Forbidden => AuthResult::Forbidden {
                reason: ChallengeReason::Failed,
            },
        }
    }

    /// The response an [`AuthResult`] other than `Ok` calls for: a challenge
    /// (401/407) or 403. `None` for `Ok`.
    ///
    /// # Errors
    ///
    /// When no response at all can be built from the request.
    pub fn respond(
        &mut self,
        unix_now: u64,
        request: &Request,
        realm: &str,
        is_proxy: bool,
        result: &AuthResult,
    ) -> Option<Result<Response, BuildError>> {
        match result {
            AuthResult::Ok { .. } => None,
            AuthResult::Challenge { stale, .. } => {
                Some(self.challenge_response(unix_now, request, realm, *stale, is_proxy))
            }
            AuthResult::Forbidden { .. } => {
                let tag = util::random_tag(&mut *self.rng);
                Some(util::response(
                    request,
                    StatusCode::FORBIDDEN,
                    None,
                    &tag,
                    &[],
                ))
            }
        }
    }

    /// The Digest credentials `request` offers for `realm`: from
    /// `Authorization` (or `Proxy-Authorization` for a proxy), the first
    /// whose realm matches.
    #[must_use]
    pub fn credentials<'r>(request: &'r Request, realm: &str, is_proxy: bool) -> Offered<'r> {
        let header = if is_proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        };
        let mut result = Offered::None;
        for value in request.headers().get_all(header) {
            match Credentials::parse(value) {
                Ok(Credentials::Digest(c)) if c.realm == realm => return Offered::Digest(c),
                Ok(_) => {
                    if result == Offered::None {
                        result = Offered::OtherRealm;
                    }
                }
                Err(_) => result = Offered::Malformed,
            }
        }
        result
    }

    /// Finds the credentials, looks the user up with `lookup` and checks
    /// them: [`credentials`](Self::credentials) then
    /// [`verify`](Self::verify).
    pub fn authenticate(
        &mut self,
        unix_now: u64,
        request: &Request,
        realm: &str,
        is_proxy: bool,
        lookup: impl FnOnce(&str) -> Option<Ha1Set>,
    ) -> AuthResult {
        match Self::credentials(request, realm, is_proxy) {
            Offered::Digest(c) => {
                let ha1 = if c.userhash {
                    None
                } else {
                    lookup(&c.username)
                };
                self.verify(unix_now, request, &c, realm, ha1.as_ref())
            }
            Offered::None => challenge(ChallengeReason::NoCredentials),
            Offered::OtherRealm => challenge(ChallengeReason::WrongRealm),
            Offered::Malformed => challenge(ChallengeReason::Malformed),
        }
    }

    /// Checks `credentials` for `request` in `realm`, with the user's
    /// stored HA1s (`None` when the user does not exist: the answer is the
    /// same as for a wrong password).
    ///
    /// Order: realm, algorithm, qop, digest URI, nonce MAC; then the
    /// response digest; then, only for a right response, nonce expiry
    /// (`stale=true`) and the nonce count (replay). A wrong response never
    /// touches the count state, so garbage cannot burn a client's counts.
    pub fn verify(
        &mut self,
        unix_now: u64,
        request: &Request,
        credentials: &DigestCredentials<'_>,
        realm: &str,
        ha1: Option<&Ha1Set>,
    ) -> AuthResult {
        if credentials.realm != realm {
            return challenge(ChallengeReason::WrongRealm);
        }
        if credentials.userhash {
            return challenge(ChallengeReason::Malformed);
        }
        let algorithm = credentials.algorithm_or_default();
        if !self.config.algorithms.contains(&algorithm) {
            return challenge(ChallengeReason::UnsupportedAlgorithm);
        }
        let Some(nc) = credentials.nc.filter(|_| credentials.qop.is_some()) else {
            return challenge(ChallengeReason::MissingQop);
        };
        if self.config.check_uri
            && !uri_matches(&credentials.uri, request.uri_str())
            && !self.names_server(&credentials.uri, request)
        {
            return challenge(ChallengeReason::UriMismatch);
        }
        let (info, expired) = match self.codec.check(&credentials.nonce, realm, unix_now) {
            NonceCheck::Fresh(info) => (info, false),
            NonceCheck::Expired(info) => (info, true),
            NonceCheck::Invalid => return challenge(ChallengeReason::UnknownNonce),
        };
        let stored = ha1.map(|set| set.for_algorithm(algorithm));
        let dummy;
        let ha1_used = match stored {
            Some(h) => h,
            None => {
                dummy = self
                    .codec
                    .dummy_ha1(algorithm.hex_len(), realm, &credentials.username);
                dummy.as_str()
            }
        };
        let right = match credentials.verify(request.method().as_str(), request.body(), ha1_used) {
            Ok(right) => right,
            Err(error) => {
                if stored.is_some() {
                    tracing::error!(%error, user = %credentials.username, %algorithm, "stored HA1 is unusable");
                }
                false
            }
        };
        if !right || stored.is_none() {
            tracing::debug!(
                user = %credentials.username,
                known = stored.is_some(),
                "digest authentication failed"
            );
            return self.failure();
        }
        if expired {
            return AuthResult::Challenge {
                stale: true,
                reason: ChallengeReason::StaleNonce,
            };
        }
        match self.replay.check(info.id, info.expires_at, nc, unix_now) {
            Ok(()) => AuthResult::Ok {
                identity: Identity {
                    user: credentials.username.to_string(),
                    realm: realm.to_owned(),
                },
                algorithm,
            },
            Err(NcError::Replay) => {
                tracing::debug!(user = %credentials.username, nc, "nonce count replayed");
                AuthResult::Challenge {
                    stale: true,
                    reason: ChallengeReason::Replay,
                }
            }
            Err(NcError::Forgotten) => AuthResult::Challenge {
                stale: true,
                reason: ChallengeReason::StaleNonce,
            },
        }
    }
}

impl Authenticator {
    /// Whether the digest `uri` names this server (see
    /// [`AuthConfig::server_hosts`]), with no user part or the
    /// Request-URI's.
    fn names_server(&self, uri: &str, request: &Request) -> bool {
        let Ok(Uri::Sip(digest)) = Uri::parse(uri) else {
            return false;
        };
        let host = digest.host.as_str();
        let host_ok = self.config.server_hosts.iter().any(|h| {
            h.strip_suffix('.')
                .unwrap_or(h)
                .eq_ignore_ascii_case(host.strip_suffix('.').unwrap_or(host))
        });
        let port_ok = digest
            .port
            .is_none_or(|p| self.config.server_ports.contains(&p));
        let user_ok = match digest.user {
            None => true,
            Some(user) => request
                .uri()
                .as_sip()
                .and_then(|r| r.user)
                .is_some_and(|r| r == user),
        };
        host_ok && port_ok && user_ok
    }
}

fn challenge(reason: ChallengeReason) -> AuthResult {
    AuthResult::Challenge {
        stale: false,
        reason,
    }
}

/// Whether the digest `uri` names the Request-URI: the same text, or SIP
/// URIs equivalent by RFC 3261 §19.1.4 once an absent port is read as the
/// scheme's default (5060 for `sip:`, 5061 for `sips:`).
///
/// Clients differ in which form they put in the digest `uri`: SIPp writes
/// the server's `sip:IP:PORT` while its Request-URI is `sip:IP`, some
/// phones add or drop `:5060`. Both name the same resource, so the
/// strict §19.1.4 rule (a default port written out differs from an absent
/// one) would only refuse honest clients. A different scheme, user, host,
/// non-default port, or a differing `transport`/`maddr`/`user`/... parameter
/// is still a mismatch, so a response cannot be moved to another request.
fn uri_matches(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    match (Uri::parse(digest_uri), Uri::parse(request_uri)) {
        (Ok(Uri::Sip(mut a)), Ok(Uri::Sip(mut b))) => {
            a.port = Some(port_or_default(a.port, a.secure));
            b.port = Some(port_or_default(b.port, b.secure));
            crate::uri_equivalent(&Uri::Sip(a), &Uri::Sip(b))
        }
        (Ok(a), Ok(b)) => crate::uri_equivalent(&a, &b),
        _ => false,
    }
}

/// `port`, or the default port of `sip:` (5060) or `sips:` (5061).
fn port_or_default(port: Option<u16>, secure: bool) -> u16 {
    port.unwrap_or(if secure { 5061 } else { 5060 })
}
