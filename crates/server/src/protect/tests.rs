//! The protections together, with the authenticator, on virtual time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_proto::digest::{self, Algorithm, DigestChallenge, RequestInfo};
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, StatusCode};

use super::*;
use crate::auth::{AuthConfig, AuthSecret, Authenticator};
use crate::storage::Ha1Set;

const T0: u64 = 1_700_000_000;
const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 66));
const PHONE: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10));

fn register() -> RequestBuilder {
    RequestBuilder::new(Method::Register, "sip:example.com")
        .via("UDP", "192.0.2.10:5060", "z9hG4bK1")
        .from("<sip:alice@example.com>", "f1")
        .to("<sip:alice@example.com>", None)
        .call_id("c1")
        .cseq(1)
}

fn attempt(a: &mut Authenticator, unix: u64, password: &str, nc: u32) -> Request {
    let c = a.challenge(unix, "example.com", false, false);
    let md5 = DigestChallenge::parse(&c.values[0]).unwrap();
    let ha1 = digest::ha1(Algorithm::Md5, "alice", "example.com", password);
    let creds = md5
        .respond(
            "alice",
            &ha1,
            &RequestInfo::new("REGISTER", "sip:example.com"),
            "cn",
            nc,
        )
        .unwrap();
    register()
        .header(HeaderName::Authorization, creds.to_string())
        .build()
        .unwrap()
}

#[test]
fn brute_force_is_locked_out_and_the_lock_lifts() {
    let t0 = Instant::now();
    let mut p = Protection::new(ProtectConfig {
        lockout: LockoutConfig {
            user_threshold: 5,
            base_lockout: Duration::from_secs(60),
            ..LockoutConfig::default()
        },
        ..ProtectConfig::default()
    });
    let mut a = Authenticator::new(
        AuthConfig::default(),
        AuthSecret::from_bytes([3; 32]),
        Box::new(StdRng::seed_from_u64(9)),
    );
    let ha1 = Ha1Set::from_password("alice", "example.com", "correct horse");
    let mut started = Vec::new();
    for i in 0..5u64 {
        let now = t0 + Duration::from_secs(i);
        assert_eq!(p.auth_gate(now, ATTACKER, Some("alice")), AuthGate::Proceed);
        let req = attempt(&mut a, T0 + i, &format!("guess{i}"), 1);
        let result = a.authenticate(T0 + i, &req, "example.com", false, |_| Some(ha1.clone()));
        assert!(result.is_failure());
        started = p.record_auth(now, ATTACKER, Some("alice"), &result);
    }
    assert_eq!(started, [(LockScope::User, Duration::from_secs(60))]);
    // Locked: even the right password is not checked.
    let now = t0 + Duration::from_secs(10);
    assert_eq!(
        p.auth_gate(now, ATTACKER, Some("alice")),
        AuthGate::Locked {
            scope: LockScope::User,
            remaining: Duration::from_secs(54)
        }
    );
    // Other users from that source are not affected (source threshold 20).
    assert_eq!(p.auth_gate(now, ATTACKER, Some("bob")), AuthGate::Proceed);
    // After the lockout the right password works again and clears the count.
    let now = t0 + Duration::from_secs(64);
    assert_eq!(p.auth_gate(now, PHONE, Some("alice")), AuthGate::Proceed);
    let req = attempt(&mut a, T0 + 64, "correct horse", 1);
    let result = a.authenticate(T0 + 64, &req, "example.com", false, |_| Some(ha1.clone()));
    assert!(matches!(result, AuthResult::Ok { .. }));
    assert!(p.record_auth(now, PHONE, Some("alice"), &result).is_empty());
    assert_eq!(p.stats().trusted_pairs, 1);
}

#[test]
fn normal_protocol_steps_do_not_count_as_failures() {
    let t0 = Instant::now();
    let mut p = Protection::new(ProtectConfig::default());
    let challenge = AuthResult::Challenge {
        stale: false,
        reason: crate::auth::ChallengeReason::NoCredentials,
    };
    let stale = AuthResult::Challenge {
        stale: true,
        reason: crate::auth::ChallengeReason::StaleNonce,
    };
    for _ in 0..1000 {
        assert!(
            p.record_auth(t0, PHONE, Some("alice"), &challenge)
                .is_empty()
        );
        assert!(p.record_auth(t0, PHONE, Some("alice"), &stale).is_empty());
    }
    assert_eq!(p.auth_gate(t0, PHONE, Some("alice")), AuthGate::Proceed);
}

#[test]
fn rate_limit_drops_a_flood_and_refills() {
    let t0 = Instant::now();
    let mut p = Protection::new(ProtectConfig {
        rate: RateLimitConfig {
            rate: 10,
            burst: 20,
            ..RateLimitConfig::default()
        },
        ..ProtectConfig::default()
    });
    let accepted = (0..100)
        .filter(|_| p.admit(t0, ATTACKER, &Method::Options) == Admission::Accept)
        .count();
    assert_eq!(accepted, 20);
    assert_eq!(p.admit(t0, ATTACKER, &Method::Register), Admission::Drop);
    assert_eq!(p.admit(t0, PHONE, &Method::Register), Admission::Accept);
    // One second later: ten more.
    let t1 = t0 + Duration::from_secs(1);
    let accepted = (0..100)
        .filter(|_| p.admit(t1, ATTACKER, &Method::Options) == Admission::Accept)
        .count();
    assert_eq!(accepted, 10);

    let mut reject = Protection::new(ProtectConfig {
        rate: RateLimitConfig {
            rate: 1,
            burst: 1,
            action: LimitAction::Reject,
            ..RateLimitConfig::default()
        },
        ..ProtectConfig::default()
    });
    assert_eq!(
        reject.admit(t0, ATTACKER, &Method::Invite),
        Admission::Accept
    );
    assert!(matches!(
        reject.admit(t0, ATTACKER, &Method::Invite),
        Admission::Reject {
            reason: RejectReason::RateLimited,
            ..
        }
    ));
}

#[test]
fn ipv6_sources_count_per_prefix() {
    let t0 = Instant::now();
    let mut p = Protection::new(ProtectConfig {
        rate: RateLimitConfig {
            rate: 1,
            burst: 3,
            ..RateLimitConfig::default()
        },
        ..ProtectConfig::default()
    });
    let addr = |last: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, last));
    // Rotating the interface identifier within one /64 does not help.
    for i in 0..3 {
        assert_eq!(p.admit(t0, addr(i), &Method::Register), Admission::Accept);
    }
    assert_eq!(p.admit(t0, addr(99), &Method::Register), Admission::Drop);
    let other_net = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
    assert_eq!(p.admit(t0, other_net, &Method::Register), Admission::Accept);
    // IPv4-mapped IPv6 is the IPv4 address.
    let mapped = IpAddr::V6(Ipv4Addr::new(198, 51, 100, 10).to_ipv6_mapped());
    assert_eq!(p.source_key(mapped), PHONE);
    assert_eq!(
        p.source_key(addr(0x1234)),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, 0))
    );
}

#[test]
fn overload_answers_503_with_retry_after() {
    let t0 = Instant::now();
    let mut p = Protection::new(ProtectConfig {
        overload: OverloadConfig {
            high_watermark: 100,
            low_watermark: 10,
            retry_after: 20,
            retry_after_spread: 1,
            ..OverloadConfig::default()
        },
        ..ProtectConfig::default()
    });
    assert!(!p.set_load(50));
    assert_eq!(p.admit(t0, PHONE, &Method::Register), Admission::Accept);
    assert!(p.set_load(100));
    let Admission::Reject {
        retry_after,
        reason: RejectReason::Overload,
    } = p.admit(t0, PHONE, &Method::Register)
    else {
        panic!()
    };
    assert_eq!(retry_after, 20);
    // ACK, CANCEL and BYE still pass.
    assert_eq!(p.admit(t0, PHONE, &Method::Bye), Admission::Accept);
    let req = register().build().unwrap();
    let resp = service_unavailable(&req, retry_after, "tag1").unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers().get(HeaderName::RetryAfter), Some("20"));
    assert_eq!(resp.headers().to_tag(), Some("tag1"));
    assert!(p.is_overloaded());
    assert!(!p.set_load(10));
    assert_eq!(p.admit(t0, PHONE, &Method::Register), Admission::Accept);
}

#[test]
fn defaults_are_on() {
    let c = ProtectConfig::default();
    assert!(c.rate.enabled && c.lockout.enabled);
    assert_eq!(c.rate.action, LimitAction::Drop);
    assert_eq!(Protection::new(c.clone()).config(), c);
}
