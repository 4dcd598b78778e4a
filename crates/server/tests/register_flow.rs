//! A whole registration through the public API, as the application will
//! drive it: protection, challenge, the client's answer (built the way
//! JsSIP does, from the first challenge only), the registrar, the store,
//! the 200 OK; then a refresh after the nonce expired (stale=true).
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::{Source, Transport};
use switchboard_proto::digest::{self, Algorithm, DigestChallenge, RequestInfo};
use switchboard_proto::{
    HeaderName, Message, Method, Request, RequestBuilder, Response, StatusCode,
};
use switchboard_server::auth::{AuthResult, Offered};
use switchboard_server::{
    Admission, AuthConfig, AuthGate, AuthSecret, Authenticator, BindingChange, Ha1Set,
    ProtectConfig, Protection, RegisterOutcome, Registrar, RegistrarConfig,
};

const DOMAIN: &str = "example.com";

struct Server {
    protection: Protection,
    auth: Authenticator,
    registrar: Registrar,
    /// The durable store, as a list of changes applied.
    store: Vec<BindingChange>,
}

impl Server {
    fn new() -> Self {
        Self {
            protection: Protection::new(ProtectConfig::default()),
            auth: Authenticator::new(
                AuthConfig::default(),
                AuthSecret::from_bytes([5; 32]),
                Box::new(StdRng::seed_from_u64(1)),
            ),
            registrar: Registrar::new(
                RegistrarConfig::for_domain(DOMAIN),
                Box::new(StdRng::seed_from_u64(2)),
            ),
            store: Vec::new(),
        }
    }

    /// What the application does with one REGISTER.
    fn handle(
        &mut self,
        now: Instant,
        unix: u64,
        request: &Request,
        source: &Source,
    ) -> Option<Response> {
        match self
            .protection
            .admit(now, source.remote.ip(), request.method())
        {
            Admission::Accept => {}
            Admission::Drop => return None,
            Admission::Reject { retry_after, .. } => {
                return Some(
                    switchboard_server::protect::service_unavailable(request, retry_after, "t")
                        .unwrap(),
                );
            }
        }
        let realm = self.registrar.realm_for(request).unwrap().to_owned();
        assert_eq!(realm, DOMAIN);
        let username = match Authenticator::credentials(request, &realm, false) {
            Offered::Digest(c) => Some(c.username.to_string()),
            _ => None,
        };
        let result = match self
            .protection
            .auth_gate(now, source.remote.ip(), username.as_deref())
        {
            AuthGate::Proceed => {
                let result = self
                    .auth
                    .authenticate(unix, request, DOMAIN, false, |user| {
                        (user == "alice").then(|| Ha1Set::from_password("alice", DOMAIN, "secret"))
                    });
                self.protection
                    .record_auth(now, source.remote.ip(), username.as_deref(), &result);
                result
            }
            AuthGate::Locked { .. } => self.auth.failure(),
        };
        let AuthResult::Ok { identity, .. } = result else {
            return Some(
                self.auth
                    .respond(unix, request, DOMAIN, false, &result)
                    .unwrap()
                    .unwrap(),
            );
        };
        Some(
            match self
                .registrar
                .handle_register(unix, request, source, Some(&identity))
                .unwrap()
            {
                RegisterOutcome::Commit { changes, then } => {
                    self.store.extend(changes);
                    self.registrar.complete(then, unix).unwrap()
                }
                RegisterOutcome::Respond(response) => response,
                RegisterOutcome::Reject { response, .. } => response,
            },
        )
    }
}

fn source() -> Source {
    Source {
        transport: Transport::Udp,
        remote: "198.51.100.10:5060".parse::<SocketAddr>().unwrap(),
        local: "192.0.2.1:5060".parse().unwrap(),
        flow: None,
    }
}

fn register(cseq: u32, authorization: Option<String>) -> Request {
    let mut b = RequestBuilder::new(Method::Register, "sip:example.com")
        .via("UDP", "198.51.100.10:5060", &format!("z9hG4bK{cseq}"))
        .from("<sip:alice@example.com>", "f")
        .to("<sip:alice@example.com>", None)
        .call_id("reg-1")
        .cseq(cseq)
        .contact("<sip:alice@198.51.100.10:5060;transport=udp>")
        .header(HeaderName::Expires, "600");
    if let Some(a) = authorization {
        b = b.header(HeaderName::Authorization, a);
    }
    b.build().unwrap()
}

/// A browser client: takes the first WWW-Authenticate only, knows MD5 only.
fn answer_first_challenge(challenge_response: &Response, password: &str, nc: u32) -> String {
    // Through the wire, as the client would see it.
    let bytes = challenge_response.to_bytes();
    let Message::Response(resp) = Message::parse_datagram(bytes).unwrap() else {
        panic!()
    };
    let first = resp.headers().get(HeaderName::WwwAuthenticate).unwrap();
    let challenge = DigestChallenge::parse(first).unwrap();
    assert_eq!(
        challenge.algorithm_or_default(),
        Algorithm::Md5,
        "MD5 first by default"
    );
    let ha1 = digest::ha1(Algorithm::Md5, "alice", &challenge.realm, password);
    challenge
        .respond(
            "alice",
            &ha1,
            &RequestInfo::new("REGISTER", "sip:example.com"),
            "c0ffee",
            nc,
        )
        .unwrap()
        .to_string()
}

#[test]
fn register_challenge_answer_store_and_refresh() {
    let mut server = Server::new();
    let t0 = Instant::now();
    let unix = 1_700_000_000;

    let resp = server
        .handle(t0, unix, &register(1, None), &source())
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers().get_all(HeaderName::WwwAuthenticate).count(),
        2
    );

    let auth = answer_first_challenge(&resp, "secret", 1);
    let ok = server
        .handle(t0, unix + 1, &register(2, Some(auth)), &source())
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        ok.headers().get(HeaderName::Contact),
        Some("<sip:alice@198.51.100.10:5060;transport=udp>;expires=600")
    );
    assert_eq!(server.store.len(), 1);

    // Ten minutes later the client refreshes with its old nonce (nc=2):
    // stale=true, then it answers the new challenge without its user.
    let t1 = t0 + Duration::from_secs(590);
    let old_nonce_auth = answer_first_challenge(&resp, "secret", 2);
    let stale = server
        .handle(
            t1,
            unix + 590,
            &register(3, Some(old_nonce_auth)),
            &source(),
        )
        .unwrap();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    assert!(
        stale
            .headers()
            .get(HeaderName::WwwAuthenticate)
            .unwrap()
            .contains("stale=true")
    );
    let auth = answer_first_challenge(&stale, "secret", 1);
    let ok = server
        .handle(t1, unix + 590, &register(4, Some(auth)), &source())
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(server.store.len(), 2);

    // Bindings end on their own.
    assert_eq!(server.registrar.next_expiry(), Some(unix + 590 + 600));
    let expired = server.registrar.poll_expired(unix + 590 + 600);
    assert_eq!(expired.len(), 1);
}

#[test]
fn password_guessing_gets_nowhere_and_learns_nothing() {
    let mut server = Server::new();
    let t0 = Instant::now();
    let unix = 1_700_000_000;
    let attacker = Source {
        remote: "203.0.113.5:5060".parse().unwrap(),
        ..source()
    };
    let mut statuses = Vec::new();
    for i in 0..30u32 {
        let challenge = server
            .handle(t0, unix, &register(2 * i + 1, None), &attacker)
            .unwrap();
        let guess = answer_first_challenge(&challenge, &format!("guess{i}"), 1);
        let resp = server
            .handle(t0, unix, &register(2 * i + 2, Some(guess)), &attacker)
            .unwrap();
        statuses.push(resp.status());
    }
    // Every guess got the same answer, before and after the lockout.
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
    // Now locked: even the right password is refused the same way.
    let challenge = server
        .handle(t0, unix, &register(100, None), &attacker)
        .unwrap();
    let right = answer_first_challenge(&challenge, "secret", 1);
    let resp = server
        .handle(t0, unix, &register(101, Some(right)), &attacker)
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(server.store.is_empty());
    // alice's own phone elsewhere is locked too until the lockout ends
    // (it never authenticated before); then it gets in.
    let challenge = server
        .handle(t0, unix, &register(150, None), &source())
        .unwrap();
    let right = answer_first_challenge(&challenge, "secret", 1);
    let resp = server
        .handle(t0, unix, &register(151, Some(right)), &source())
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let later = t0 + Duration::from_secs(3600);
    let challenge = server
        .handle(later, unix + 3600, &register(200, None), &source())
        .unwrap();
    let right = answer_first_challenge(&challenge, "secret", 1);
    let resp = server
        .handle(later, unix + 3600, &register(201, Some(right)), &source())
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
