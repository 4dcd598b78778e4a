//! Digest authentication: challenges, answers built by the proto digest
//! module (as a client would), nonce expiry, tampering, replay, and the
//! no-enumeration rule.

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_proto::digest::{self, Algorithm, Challenge, DigestChallenge, RequestInfo};
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, Response, StatusCode};

use super::*;

const T0: u64 = 1_700_000_000;
const REALM: &str = "example.com";

fn authenticator(config: AuthConfig) -> Authenticator {
    Authenticator::new(
        config,
        AuthSecret::from_bytes([42; 32]),
        Box::new(StdRng::seed_from_u64(1)),
    )
}

fn default_auth() -> Authenticator {
    authenticator(AuthConfig::default())
}

fn alice_ha1() -> Ha1Set {
    Ha1Set::from_password("alice", REALM, "secret")
}

fn register() -> RequestBuilder {
    RequestBuilder::new(Method::Register, "sip:example.com")
        .via("UDP", "192.0.2.10:5060", "z9hG4bK1")
        .from("<sip:alice@example.com>", "f1")
        .to("<sip:alice@example.com>", None)
        .call_id("c1")
        .cseq(1)
}

/// The challenge of `algorithm` among `challenges`.
fn pick(challenges: &Challenges, algorithm: Algorithm) -> DigestChallenge<'static> {
    challenges
        .values
        .iter()
        .map(|v| DigestChallenge::parse(v).unwrap().into_owned())
        .find(|c| c.algorithm_or_default() == algorithm)
        .unwrap()
}

/// What a client sends: the REGISTER with an Authorization answering
/// `challenge` for `user` with `password`.
fn answer(
    challenge: &DigestChallenge<'_>,
    user: &str,
    password: &str,
    nc: u32,
    uri: &str,
) -> Request {
    let alg = challenge.algorithm_or_default();
    let ha1 = digest::ha1(alg, user, &challenge.realm, password);
    let creds = challenge
        .respond(
            user,
            &ha1,
            &RequestInfo::new("REGISTER", uri),
            "0a4f113b",
            nc,
        )
        .unwrap();
    register()
        .header(HeaderName::Authorization, creds.to_string())
        .build()
        .unwrap()
}

fn check(a: &mut Authenticator, now: u64, req: &Request, ha1: Option<Ha1Set>) -> AuthResult {
    a.authenticate(now, req, REALM, false, |user| {
        assert!(!user.is_empty());
        ha1.clone()
    })
}

fn ok(user: &str, algorithm: Algorithm) -> AuthResult {
    AuthResult::Ok {
        identity: Identity {
            user: user.into(),
            realm: REALM.into(),
        },
        algorithm,
    }
}

const FAILED: AuthResult = AuthResult::Challenge {
    stale: false,
    reason: ChallengeReason::Failed,
};

#[test]
fn rfc7616_vectors_through_the_proto_digest_module() {
    // RFC 7616 §3.9.1: the same request answered with MD5 and SHA-256.
    let ha1s = Ha1Set::from_password("Mufasa", "http-auth@example.org", "Circle of Life");
    for (algorithm, response) in [
        (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
        (
            Algorithm::Sha256,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
    ] {
        let value = format!(
            r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm={algorithm}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="{response}", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
        );
        let Credentials::Digest(creds) = Credentials::parse(&value).unwrap() else {
            panic!()
        };
        let stored = ha1s.for_algorithm(algorithm);
        assert!(creds.verify("GET", b"", stored).unwrap(), "{algorithm}");
        assert!(!creds.verify("POST", b"", stored).unwrap());
    }
}

#[test]
fn challenges_offer_md5_then_sha256_with_qop_auth() {
    let mut a = default_auth();
    let c = a.challenge(T0, REALM, false, false);
    assert_eq!(c.header, HeaderName::WwwAuthenticate);
    assert_eq!(c.values.len(), 2);
    let parsed: Vec<DigestChallenge<'_>> = c
        .values
        .iter()
        .map(|v| DigestChallenge::parse(v).unwrap())
        .collect();
    assert_eq!(parsed[0].algorithm, Some(Algorithm::Md5));
    assert_eq!(parsed[1].algorithm, Some(Algorithm::Sha256));
    for p in &parsed {
        assert_eq!(p.realm, REALM);
        assert_eq!(p.qop, [Qop::Auth]);
        assert!(!p.stale);
        assert_eq!(p.nonce, parsed[0].nonce);
    }
    // What JsSIP / SIP.js see: the first challenge, MD5.
    assert!(c.values[0].starts_with(r#"Digest realm="example.com", nonce=""#));
    assert!(c.values[0].ends_with(r#"", algorithm=MD5, qop="auth""#));

    // Proxy challenges go in Proxy-Authenticate; stale is printed.
    let p = a.challenge(T0, REALM, true, true);
    assert_eq!(p.header, HeaderName::ProxyAuthenticate);
    assert!(p.values.iter().all(|v| v.contains("stale=true")));
    // Fresh nonces each time.
    assert_ne!(pick(&p, Algorithm::Md5).nonce, parsed[0].nonce);

    // The order and the set are configurable, SHA-512-256 included.
    let mut strong = authenticator(AuthConfig {
        algorithms: vec![Algorithm::Sha512_256, Algorithm::Sha256],
        ..AuthConfig::default()
    });
    let c = strong.challenge(T0, REALM, false, false);
    let algs: Vec<_> = c
        .values
        .iter()
        .map(|v| DigestChallenge::parse(v).unwrap().algorithm)
        .collect();
    assert_eq!(algs, [Some(Algorithm::Sha512_256), Some(Algorithm::Sha256)]);
}

#[test]
fn challenge_response_is_a_401_or_407_with_every_challenge() {
    let mut a = default_auth();
    let req = register().build().unwrap();
    let resp = a.challenge_response(T0, &req, REALM, false, false).unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers().get_all(HeaderName::WwwAuthenticate).count(),
        2
    );
    assert!(resp.headers().to_tag().is_some());
    let resp = a.challenge_response(T0, &req, REALM, false, true).unwrap();
    assert_eq!(resp.status(), StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    assert_eq!(
        resp.headers()
            .get_all(HeaderName::ProxyAuthenticate)
            .count(),
        2
    );
}

#[test]
fn a_client_answering_either_challenge_gets_in() {
    for algorithm in [Algorithm::Md5, Algorithm::Sha256] {
        let mut a = default_auth();
        let c = a.challenge(T0, REALM, false, false);
        let req = answer(
            &pick(&c, algorithm),
            "alice",
            "secret",
            1,
            "sip:example.com",
        );
        assert_eq!(
            check(&mut a, T0 + 1, &req, Some(alice_ha1())),
            ok("alice", algorithm)
        );
    }
    // SHA-512-256 when configured.
    let mut a = authenticator(AuthConfig {
        algorithms: vec![Algorithm::Sha512_256],
        ..AuthConfig::default()
    });
    let c = a.challenge(T0, REALM, false, false);
    let req = answer(
        &pick(&c, Algorithm::Sha512_256),
        "alice",
        "secret",
        1,
        "sip:example.com",
    );
    assert_eq!(
        check(&mut a, T0, &req, Some(alice_ha1())),
        ok("alice", Algorithm::Sha512_256)
    );
}

#[test]
fn an_expired_nonce_with_a_right_answer_is_stale() {
    let mut a = default_auth();
    let c = a.challenge(T0, REALM, false, false);
    let req = answer(
        &pick(&c, Algorithm::Md5),
        "alice",
        "secret",
        1,
        "sip:example.com",
    );
    assert_eq!(
        check(&mut a, T0 + 299, &req, Some(alice_ha1())),
        ok("alice", Algorithm::Md5)
    );
    let req = answer(
        &pick(&c, Algorithm::Md5),
        "alice",
        "secret",
        2,
        "sip:example.com",
    );
    assert_eq!(
        check(&mut a, T0 + 300, &req, Some(alice_ha1())),
        AuthResult::Challenge {
            stale: true,
            reason: ChallengeReason::StaleNonce
        }
    );
    // A wrong password on an expired nonce is a failure, not stale.
    let req = answer(
        &pick(&c, Algorithm::Md5),
        "alice",
        "wrong",
        3,
        "sip:example.com",
    );
    assert_eq!(check(&mut a, T0 + 300, &req, Some(alice_ha1())), FAILED);
}

#[test]
fn tampered_or_foreign_nonces_get_a_fresh_challenge() {
    let mut a = default_auth();
    let c = a.challenge(T0, REALM, false, false);
    let mut md5 = pick(&c, Algorithm::Md5);
    // Push the expiry forward by one character: the MAC no longer matches.
    let mut nonce: Vec<char> = md5.nonce.chars().collect();
    nonce[5] = if nonce[5] == 'A' { 'B' } else { 'A' };
    md5.nonce = nonce.into_iter().collect::<String>().into();
    let req = answer(&md5, "alice", "secret", 1, "sip:example.com");
    let expected = AuthResult::Challenge {
        stale: false,
        reason: ChallengeReason::UnknownNonce,
    };
    assert_eq!(check(&mut a, T0, &req, Some(alice_ha1())), expected);
    assert!(!expected.is_failure());
    // A nonce made up by the client (RFC 2617's example).
    md5.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093".into();
    let req = answer(&md5, "alice", "secret", 1, "sip:example.com");
    assert_eq!(check(&mut a, T0, &req, Some(alice_ha1())), expected);
    // A nonce issued under another secret (another deployment).
    let mut other = Authenticator::new(
        AuthConfig::default(),
        AuthSecret::from_bytes([1; 32]),
        Box::new(StdRng::seed_from_u64(1)),
    );
    let c = other.challenge(T0, REALM, false, false);
    let req = answer(
        &pick(&c, Algorithm::Md5),
        "alice",
        "secret",
        1,
        "sip:example.com",
    );
    assert_eq!(check(&mut a, T0, &req, Some(alice_ha1())), expected);
}

#[test]
fn a_replayed_nonce_count_is_refused() {
    let mut a = default_auth();
    let c = a.challenge(T0, REALM, false, false);
    let md5 = pick(&c, Algorithm::Md5);
    let first = answer(&md5, "alice", "secret", 1, "sip:example.com");
    assert_eq!(
        check(&mut a, T0, &first, Some(alice_ha1())),
        ok("alice", Algorithm::Md5)
    );
    let replay = AuthResult::Challenge {
        stale: true,
        reason: ChallengeReason::Replay,
    };
    assert_eq!(check(&mut a, T0 + 1, &first, Some(alice_ha1())), replay);
    assert!(replay.is_failure());
    // The next count on the same nonce is fine (clients reuse nonces).
    let second = answer(&md5, "alice", "secret", 2, "sip:example.com");
    assert_eq!(
        check(&mut a, T0 + 2, &second, Some(alice_ha1())),
        ok("alice", Algorithm::Md5)
    );
    // A wrong response does not consume a count.
    let wrong = answer(&md5, "alice", "wrong", 3, "sip:example.com");
    assert_eq!(check(&mut a, T0 + 3, &wrong, Some(alice_ha1())), FAILED);
    let third = answer(&md5, "alice", "secret", 3, "sip:example.com");
    assert_eq!(
        check(&mut a, T0 + 3, &third, Some(alice_ha1())),
        ok("alice", Algorithm::Md5)
    );
    // Nonce state goes away with the nonce.
    assert_eq!(a.tracked_nonces(), 1);
    a.purge(T0 + 300);
    assert_eq!(a.tracked_nonces(), 0);
}

#[test]
fn wrong_realm_missing_and_malformed_credentials() {
    let mut a = default_auth();
    let no_creds = register().build().unwrap();
    assert_eq!(
        check(&mut a, T0, &no_creds, Some(alice_ha1())),
        AuthResult::Challenge {
            stale: false,
            reason: ChallengeReason::NoCredentials
        }
    );
    // Credentials for another realm (e.g. a challenge of an upstream proxy).
    let c = a.challenge(T0, "other.example", false, false);
    let req = answer(
        &pick(&c, Algorithm::Md5),
        "alice",
        "secret",
        1,
        "sip:example.com",
    );
    assert_eq!(
        Authenticator::credentials(&req, REALM, false),
        Offered::OtherRealm
    );
    assert_eq!(
        check(&mut a, T0, &req, Some(alice_ha1())),
        AuthResult::Challenge {
            stale: false,
            reason: ChallengeReason::WrongRealm
        }
    );
    // Given directly to verify, the realm is checked too.
    let Offered::Digest(creds) = Authenticator::credentials(&req, "other.example", false) else {
        panic!()
    };
    assert_eq!(
        a.verify(T0, &req, &creds, REALM, Some(&alice_ha1())),
        AuthResult::Challenge {
            stale: false,
            reason: ChallengeReason::WrongRealm
        }
    );
    let garbage = register()
        .header(HeaderName::Authorization, "Digest username=")
        .build()
        .unwrap();
    assert_eq!(
        check(&mut a, T0, &garbage, Some(alice_ha1())),
        AuthResult::Challenge {
            stale: false,
            reason: ChallengeReason::Malformed
        }
    );
    // Basic or other schemes are not for us.
    let basic = register()
        .header(HeaderName::Authorization, "Basic YWxpY2U6c2VjcmV0")
        .build()
        .unwrap();
    assert_eq!(
        Authenticator::credentials(&basic, REALM, false),
        Offered::OtherRealm
    );
    // Proxy-Authorization is read only in proxy mode.
    let c = a.challenge(T0, REALM, false, true);
    let md5 = pick(&c, Algorithm::Md5);
    let creds = md5
        .respond(
            "alice",
            &digest::ha1(Algorithm::Md5, "alice", REALM, "secret"),
            &RequestInfo::new("REGISTER", "sip:example.com"),
            "x",
            1,
        )
        .unwrap();
    let proxied = register()
        .header(HeaderName::ProxyAuthorization, creds.to_string())
        .build()
        .unwrap();
    assert_eq!(
        Authenticator::credentials(&proxied, REALM, false),
        Offered::None
    );
    assert_eq!(
        a.authenticate(T0, &proxied, REALM, true, |_| Some(alice_ha1())),
        ok("alice", Algorithm::Md5)
    );
}

#[test]
fn answers_the_server_did_not_ask_for_are_refused() {
    let mut a = default_auth();
    let c = a.challenge(T0, REALM, false, false);
    // RFC 2069 style: no qop, hence no nc to stop replays.
    let mut no_qop = pick(&c, Algorithm::Md5);
    no_qop.qop.clear();
    let req = answer(&no_qop, "alice", "secret", 1, "sip:example.com");
    assert_eq!(
        check(&mut a, T0, &req, Some(alice_ha1())),
        AuthResult::Challenge {
            stale: false,
            reason: ChallengeReason::MissingQop
        }
    );
    // An algorithm not offered.
    let mut sess = pick(&c, Algorithm::Md5);
    sess.algorithm = Some(Algorithm::Md5Sess);
    let req = answer(&sess, "alice", "secret", 1, "sip:example.com");
    assert_eq!(
        check(&mut a, T0, &req, Some(alice_ha1())),
        AuthResult::Challenge {
            stale: false,
            reason: ChallengeReason::UnsupportedAlgorithm
        }
    );
    // A digest computed for another Request-URI.
    let md5 = pick(&c, Algorithm::Md5);
    let req = answer(&md5, "alice", "secret", 1, "sip:other.example.com");
    assert_eq!(
        check(&mut a, T0, &req, Some(alice_ha1())),
        AuthResult::Challenge {
            stale: false,
            reason: ChallengeReason::UriMismatch
        }
    );
    // An equivalent form of the Request-URI is fine.
    let req = answer(&md5, "alice", "secret", 1, "sip:EXAMPLE.com");
    assert_eq!(
        check(&mut a, T0, &req, Some(alice_ha1())),
        ok("alice", Algorithm::Md5)
    );
}

#[test]
fn unknown_user_and_wrong_password_look_the_same() {
    let mut a = default_auth();
    let c = a.challenge(T0, REALM, false, false);
    let md5 = pick(&c, Algorithm::Md5);
    let wrong_password = answer(&md5, "alice", "guess", 1, "sip:example.com");
    let unknown_user = answer(&md5, "mallory", "guess", 1, "sip:example.com");
    let r1 = check(&mut a, T0, &wrong_password, Some(alice_ha1()));
    let r2 = check(&mut a, T0, &unknown_user, None);
    assert_eq!(r1, FAILED);
    assert_eq!(r1, r2);
    assert!(r1.is_failure());
    // The responses are byte for byte the same except for the nonce (and
    // the random To tag).
    let resp1 = a
        .respond(T0, &wrong_password, REALM, false, &r1)
        .unwrap()
        .unwrap();
    let resp2 = a
        .respond(T0, &unknown_user, REALM, false, &r2)
        .unwrap()
        .unwrap();
    assert_eq!(normalize(&resp1), normalize(&resp2));
    // Also on an expired nonce: no stale=true for an unknown user.
    let late = check(&mut a, T0 + 1000, &unknown_user, None);
    assert_eq!(
        late,
        check(&mut a, T0 + 1000, &wrong_password, Some(alice_ha1()))
    );
    assert_eq!(late, FAILED);
    // With the Forbidden mode both get the same 403.
    let mut strict = authenticator(AuthConfig {
        on_failure: FailureMode::Forbidden,
        ..AuthConfig::default()
    });
    let c = strict.challenge(T0, REALM, false, false);
    let md5 = pick(&c, Algorithm::Md5);
    let forbidden = AuthResult::Forbidden {
        reason: ChallengeReason::Failed,
    };
    assert_eq!(
        check(
            &mut strict,
            T0,
            &answer(&md5, "alice", "guess", 1, "sip:example.com"),
            Some(alice_ha1())
        ),
        forbidden
    );
    assert_eq!(
        check(
            &mut strict,
            T0,
            &answer(&md5, "mallory", "guess", 1, "sip:example.com"),
            None
        ),
        forbidden
    );
    let resp = strict
        .respond(T0, &unknown_user, REALM, false, &forbidden)
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

/// The response as text, with every nonce and the To tag blanked.
fn normalize(resp: &Response) -> String {
    let text = String::from_utf8(resp.to_bytes().to_vec()).unwrap();
    let mut out = String::new();
    for line in text.split("\r\n") {
        let line = match Challenge::parse(line.split_once(": ").map_or("", |(_, v)| v)) {
            Ok(Challenge::Digest(mut c)) if line.starts_with("WWW-Authenticate") => {
                c.nonce = "-".into();
                format!("WWW-Authenticate: {c}")
            }
            _ if line.starts_with("To:") => line.split(";tag=").next().unwrap().to_owned(),
            _ => line.to_owned(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[test]
fn the_identity_feeds_the_registrar() {
    let mut a = default_auth();
    let c = a.challenge(T0, REALM, false, false);
    let req = answer(
        &pick(&c, Algorithm::Sha256),
        "alice",
        "secret",
        1,
        "sip:example.com",
    );
    let AuthResult::Ok { identity, .. } = check(&mut a, T0, &req, Some(alice_ha1())) else {
        panic!()
    };
    let mut registrar = crate::Registrar::new(
        crate::RegistrarConfig::for_domain(REALM),
        Box::new(StdRng::seed_from_u64(2)),
    );
    let source = switchboard_core::Source {
        transport: switchboard_core::Transport::Udp,
        remote: "192.0.2.10:5060".parse().unwrap(),
        local: "192.0.2.1:5060".parse().unwrap(),
        flow: None,
    };
    // The challenge-answering REGISTER is a query (no Contact): 200.
    assert!(matches!(
        registrar
            .handle_register(T0, &req, &source, Some(&identity))
            .unwrap(),
        crate::RegisterOutcome::Respond(_)
    ));
}

#[test]
fn secrets_and_ha1s_stay_out_of_logs() {
    let secret = AuthSecret::from_bytes([42; 32]);
    assert_eq!(format!("{secret:?}"), "AuthSecret(..)");
    let ha1 = format!("{:?}", alice_ha1());
    assert!(!ha1.contains(alice_ha1().md5()), "{ha1}");
}

#[test]
fn digest_uri_absent_port_is_the_default_port() {
    // Equivalent once an absent port reads as the scheme's default.
    for (digest_uri, request_uri) in [
        ("sip:127.0.0.1:5060", "sip:127.0.0.1"),
        ("sip:127.0.0.1", "sip:127.0.0.1:5060"),
        ("sip:example.com:5060", "sip:EXAMPLE.COM"),
        ("sips:example.com:5061", "sips:example.com"),
        ("sips:example.com", "sips:example.com:5061"),
        ("sip:alice@example.com:5060", "sip:alice@example.com"),
        ("sip:127.0.0.1:5062", "sip:127.0.0.1:5062"),
        ("sip:[2001:db8::1]:5060", "sip:[2001:db8::1]"),
        (
            "sip:example.com:5060;transport=udp",
            "sip:example.com;transport=UDP",
        ),
    ] {
        assert!(
            uri_matches(digest_uri, request_uri),
            "{digest_uri} should name {request_uri}"
        );
    }
    // Still different resources.
    for (digest_uri, request_uri) in [
        ("sip:127.0.0.1:5062", "sip:127.0.0.1"),
        ("sip:127.0.0.1", "sip:127.0.0.1:5062"),
        ("sip:127.0.0.2:5060", "sip:127.0.0.1"),
        ("sip:other.example.com:5060", "sip:example.com"),
        ("sip:bob@example.com:5060", "sip:alice@example.com"),
        ("sip:alice@example.com", "sip:example.com:5060"),
        ("sips:example.com:5060", "sips:example.com"),
        ("sip:example.com:5061", "sip:example.com"),
        ("sips:example.com:5061", "sip:example.com"),
        ("sip:example.com:5060;transport=tcp", "sip:example.com"),
        ("sip:example.com:5060;maddr=192.0.2.1", "sip:example.com"),
        ("tel:+1234", "sip:example.com"),
        ("garbage", "sip:example.com"),
    ] {
        assert!(
            !uri_matches(digest_uri, request_uri),
            "{digest_uri} must not name {request_uri}"
        );
    }
}

#[test]
fn sipp_style_digest_uri_with_default_port_authenticates() {
    // The Request-URI is `sip:example.com`; the client answers for
    // `sip:example.com:5060` (SIPp's `sip:remote_ip:remote_port`).
    let mut a = default_auth();
    let c = a.challenge(T0, REALM, false, false);
    let md5 = pick(&c, Algorithm::Md5);
    let req = answer(&md5, "alice", "secret", 1, "sip:example.com:5060");
    assert_eq!(
        check(&mut a, T0, &req, Some(alice_ha1())),
        ok("alice", Algorithm::Md5)
    );
    // Another port is another resource.
    let req = answer(&md5, "alice", "secret", 2, "sip:example.com:5070");
    assert_eq!(
        check(&mut a, T0, &req, Some(alice_ha1())),
        AuthResult::Challenge {
            stale: false,
            reason: ChallengeReason::UriMismatch
        }
    );
    // With the check off, any uri is taken (the response still covers it).
    let mut lax = authenticator(AuthConfig {
        check_uri: false,
        ..AuthConfig::default()
    });
    let c = lax.challenge(T0, REALM, false, false);
    let md5 = pick(&c, Algorithm::Md5);
    let req = answer(&md5, "alice", "secret", 1, "sip:example.com:5070");
    assert_eq!(
        check(&mut lax, T0, &req, Some(alice_ha1())),
        ok("alice", Algorithm::Md5)
    );
}

/// The 401's challenges for a REGISTER carrying `user_agent`.
fn challenge_algorithms(a: &mut Authenticator, user_agent: Option<&str>) -> Vec<Algorithm> {
    let mut builder = register();
    if let Some(agent) = user_agent {
        builder = builder.header(HeaderName::UserAgent, agent);
    }
    let request = builder.build().unwrap();
    let response = a
        .challenge_response(T0, &request, REALM, false, false)
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    response
        .headers()
        .get_all(HeaderName::WwwAuthenticate)
        .map(|v| DigestChallenge::parse(v).unwrap().algorithm_or_default())
        .collect()
}

#[test]
fn clients_that_choke_on_unknown_algorithms_get_md5_alone() {
    let mut a = default_auth();
    let both = vec![Algorithm::Md5, Algorithm::Sha256];
    assert_eq!(challenge_algorithms(&mut a, None), both);
    assert_eq!(challenge_algorithms(&mut a, Some("Linphone/5.2")), both);
    // baresip 1.0 / libre 1.1 abort on the SHA-256 challenge: MD5 alone,
    // whatever the case.
    let md5 = vec![Algorithm::Md5];
    assert_eq!(
        challenge_algorithms(&mut a, Some("baresip v1.0.0 (x86_64/linux)")),
        md5
    );
    assert_eq!(challenge_algorithms(&mut a, Some("LibRe/2.0")), md5);
    // JsSIP 3.13 and SIP.js 0.21 keep the last WWW-Authenticate only.
    assert_eq!(challenge_algorithms(&mut a, Some("JsSIP 3.13.8")), md5);
    assert_eq!(challenge_algorithms(&mut a, Some("SIP.js/0.21.1")), md5);

    // The list is configurable; without MD5 configured nothing changes.
    let mut custom = authenticator(AuthConfig {
        md5_only_user_agents: vec!["OldPhone".into()],
        ..AuthConfig::default()
    });
    assert_eq!(challenge_algorithms(&mut custom, Some("baresip")), both);
    assert_eq!(challenge_algorithms(&mut custom, Some("oldphone 1")), md5);
    let mut strong = authenticator(AuthConfig {
        algorithms: vec![Algorithm::Sha256],
        ..AuthConfig::default()
    });
    assert_eq!(
        challenge_algorithms(&mut strong, Some("baresip")),
        vec![Algorithm::Sha256]
    );
}
