//! The registrar against real REGISTER requests, on virtual time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::{FlowId, Source, Transport};
use switchboard_proto::{
    HeaderName, Message, Method, Request, RequestBuilder, Response, StatusCode,
};

use super::*;

const T0: u64 = 1_700_000_000;

fn registrar_with(config: RegistrarConfig) -> Registrar {
    Registrar::new(config, Box::new(StdRng::seed_from_u64(7)))
}

fn registrar() -> Registrar {
    registrar_with(RegistrarConfig::for_domain("example.com"))
}

fn source() -> Source {
    source_at("192.0.2.10:5060")
}

fn source_at(remote: &str) -> Source {
    Source {
        transport: Transport::Udp,
        remote: remote.parse::<SocketAddr>().unwrap(),
        local: "192.0.2.1:5060".parse().unwrap(),
        flow: None,
    }
}

fn alice() -> Identity {
    Identity {
        user: "alice".into(),
        realm: "example.com".into(),
    }
}

/// A REGISTER for alice with the given Call-ID and CSeq; callers add
/// Contact and the rest.
fn register(call_id: &str, cseq: u32) -> RequestBuilder {
    RequestBuilder::new(Method::Register, "sip:example.com")
        .via(
            "UDP",
            "192.0.2.10:5060",
            &format!("z9hG4bK-{call_id}-{cseq}"),
        )
        .from("<sip:alice@example.com>", "f1")
        .to("<sip:alice@example.com>", None)
        .call_id(call_id)
        .cseq(cseq)
}

fn handle(r: &mut Registrar, now: u64, req: &Request) -> RegisterOutcome {
    r.handle_register(now, req, &source(), Some(&alice()))
        .unwrap()
}

/// Handles and, for a commit, "stores" and completes.
fn run(r: &mut Registrar, now: u64, req: &Request) -> (Vec<BindingChange>, Response) {
    run_from(r, now, req, &source())
}

fn run_from(
    r: &mut Registrar,
    now: u64,
    req: &Request,
    src: &Source,
) -> (Vec<BindingChange>, Response) {
    match r.handle_register(now, req, src, Some(&alice())).unwrap() {
        RegisterOutcome::Commit { changes, then } => (changes, then.into_response(r, now).unwrap()),
        RegisterOutcome::Respond(resp) => (Vec::new(), resp),
        RegisterOutcome::Reject { error, response } => {
            panic!("unexpected rejection {error:?}: {response:?}")
        }
    }
}

fn reject(r: &mut Registrar, now: u64, req: &Request) -> (RegisterError, Response) {
    reject_as(r, now, req, Some(&alice()))
}

fn reject_as(
    r: &mut Registrar,
    now: u64,
    req: &Request,
    who: Option<&Identity>,
) -> (RegisterError, Response) {
    match r.handle_register(now, req, &source(), who).unwrap() {
        RegisterOutcome::Reject { error, response } => (error, response),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn contacts(resp: &Response) -> Vec<String> {
    resp.headers()
        .values(HeaderName::Contact)
        .map(str::to_owned)
        .collect()
}

fn aor() -> Aor {
    Aor::new("alice", "example.com").unwrap()
}

fn contact_uris(r: &Registrar, now: u64) -> Vec<String> {
    r.lookup(&aor(), now)
        .iter()
        .map(|b| b.contact.clone())
        .collect()
}

#[test]
fn an_aor_and_a_user_agent_are_kept_once_in_memory() {
    let mut r = registrar();
    for (call_id, host) in [("c1", 10), ("c2", 11)] {
        // Each request's AOR and User-Agent are parsed into texts of their own.
        let req = register(call_id, 1)
            .contact(&format!("<sip:alice@192.0.2.{host}>"))
            .header(HeaderName::UserAgent, "Phone/1.0")
            .build()
            .unwrap();
        run(&mut r, T0, &req);
    }
    let (key, slots) = r.location.aors().next().unwrap();
    let [first, second] = slots else {
        panic!("two bindings expected: {slots:?}")
    };
    assert!(first.binding.aor.shares_text_with(key));
    assert!(second.binding.aor.shares_text_with(key));
    let (Some(a), Some(b)) = (&first.binding.user_agent, &second.binding.user_agent) else {
        panic!("no User-Agent kept")
    };
    assert!(Arc::ptr_eq(a, b));
}

#[test]
fn add_a_binding_and_answer_with_it() {
    let mut r = registrar();
    let req = register("c1", 1)
        .contact("<sip:alice@192.0.2.10:5060>")
        .header(HeaderName::UserAgent, "Test/1.0")
        .build()
        .unwrap();
    let (changes, resp) = run(&mut r, T0, &req);
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        contacts(&resp),
        ["<sip:alice@192.0.2.10:5060>;expires=3600"]
    );
    assert!(resp.headers().to_tag().is_some());
    assert_eq!(
        resp.headers().get(HeaderName::Date),
        Some("Tue, 14 Nov 2023 22:13:20 GMT")
    );
    let [BindingChange::Upsert(b)] = changes.as_slice() else {
        panic!("{changes:?}")
    };
    assert_eq!(b.aor, aor());
    assert_eq!(
        b.key,
        BindingKey::Contact("sip:alice@192.0.2.10:5060".into())
    );
    assert_eq!(b.expires_at, T0 + 3600);
    assert_eq!((b.call_id.as_str(), b.cseq), ("c1", 1));
    assert_eq!(b.source, source());
    assert_eq!(b.user_agent.as_deref(), Some("Test/1.0"));
    assert_eq!(r.lookup(&aor(), T0).len(), 1);
    assert_eq!(r.binding_count(), 1);
}

#[test]
fn a_query_lists_bindings_and_changes_nothing() {
    let mut r = registrar();
    run(
        &mut r,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@192.0.2.10>")
            .build()
            .unwrap(),
    );
    let query = register("c1", 2).build().unwrap();
    let RegisterOutcome::Respond(resp) = handle(&mut r, T0 + 100, &query) else {
        panic!("a query stores nothing")
    };
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(contacts(&resp), ["<sip:alice@192.0.2.10>;expires=3500"]);
}

#[test]
fn from_must_match_to_unless_third_party_is_allowed() {
    let mut r = registrar();
    let req = RequestBuilder::new(Method::Register, "sip:example.com")
        .via("UDP", "192.0.2.10", "z9hG4bK1")
        .from("<sip:bob@example.com>", "f1")
        .to("<sip:alice@example.com>", None)
        .call_id("c1")
        .cseq(1)
        .contact("<sip:alice@192.0.2.10>")
        .build()
        .unwrap();
    let (error, resp) = reject(&mut r, T0, &req);
    assert_eq!(error, RegisterError::ThirdParty);
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.headers().to_tag().is_some());

    let mut open = registrar_with(RegistrarConfig {
        allow_third_party: true,
        ..RegistrarConfig::for_domain("example.com")
    });
    let (_, resp) = run(&mut open, T0, &req);
    assert_eq!(resp.status(), StatusCode::OK);
}

#[test]
fn the_authenticated_user_must_own_the_aor() {
    let mut r = registrar();
    let req = register("c1", 1)
        .contact("<sip:alice@192.0.2.10>")
        .build()
        .unwrap();
    let bob = Identity {
        user: "bob".into(),
        realm: "example.com".into(),
    };
    let (error, resp) = reject_as(&mut r, T0, &req, Some(&bob));
    assert!(matches!(error, RegisterError::NotOwner { .. }));
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Same user name, another realm.
    let other_realm = Identity {
        user: "alice".into(),
        realm: "other.example".into(),
    };
    assert!(matches!(
        reject_as(&mut r, T0, &req, Some(&other_realm)).0,
        RegisterError::NotOwner { .. }
    ));
    // No identity: refused by default (fail closed)...
    assert_eq!(
        reject_as(&mut r, T0, &req, None).0,
        RegisterError::Unauthenticated
    );
    // ...accepted only when authentication is switched off.
    let mut open = registrar_with(RegistrarConfig {
        require_authentication: false,
        ..RegistrarConfig::for_domain("example.com")
    });
    assert!(matches!(
        open.handle_register(T0, &req, &source(), None).unwrap(),
        RegisterOutcome::Commit { .. }
    ));
    assert_eq!(r.binding_count(), 0);
}

#[test]
fn domain_and_aor_checks() {
    let mut r = registrar();
    let other_domain = RequestBuilder::new(Method::Register, "sip:other.example")
        .via("UDP", "192.0.2.10", "z9hG4bK1")
        .from("<sip:alice@other.example>", "f1")
        .to("<sip:alice@other.example>", None)
        .call_id("c1")
        .cseq(1)
        .build()
        .unwrap();
    assert_eq!(r.realm_for(&other_domain), None);
    let (error, resp) = reject(&mut r, T0, &other_domain);
    assert_eq!(error, RegisterError::UnknownDomain("other.example".into()));
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let foreign_to = RequestBuilder::new(Method::Register, "sip:EXAMPLE.com")
        .via("UDP", "192.0.2.10", "z9hG4bK1")
        .from("<sip:alice@other.example>", "f1")
        .to("<sip:alice@other.example>", None)
        .call_id("c1")
        .cseq(1)
        .build()
        .unwrap();
    assert_eq!(r.realm_for(&foreign_to), Some("example.com"));
    assert_eq!(reject(&mut r, T0, &foreign_to).0, RegisterError::ForeignAor);

    let no_user = RequestBuilder::new(Method::Register, "sip:example.com")
        .via("UDP", "192.0.2.10", "z9hG4bK1")
        .from("<sip:example.com>", "f1")
        .to("<sip:example.com>", None)
        .call_id("c1")
        .cseq(1)
        .build()
        .unwrap();
    let (error, resp) = reject(&mut r, T0, &no_user);
    assert_eq!(error, RegisterError::InvalidAor(AorError::NoUser));
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let tel = RequestBuilder::new(Method::Register, "tel:+15551234")
        .via("UDP", "192.0.2.10", "z9hG4bK1")
        .from("<sip:alice@example.com>", "f1")
        .to("<sip:alice@example.com>", None)
        .call_id("c1")
        .cseq(1)
        .build()
        .unwrap();
    assert_eq!(
        reject(&mut r, T0, &tel).1.status(),
        StatusCode::UNSUPPORTED_URI_SCHEME
    );

    // A Request-URI with a user part (common in the field) is accepted.
    let with_user = RequestBuilder::new(Method::Register, "sip:alice@example.com")
        .via("UDP", "192.0.2.10", "z9hG4bK1")
        .from("<sip:alice@example.com>", "f1")
        .to("<sip:alice@example.com>", None)
        .call_id("c1")
        .cseq(1)
        .build()
        .unwrap();
    assert!(matches!(
        handle(&mut r, T0, &with_user),
        RegisterOutcome::Respond(_)
    ));
}

#[test]
fn unsupported_required_extensions_get_420() {
    let mut r = registrar();
    let req = register("c1", 1)
        .header(HeaderName::Require, "path, foo")
        .contact("<sip:alice@192.0.2.10>")
        .build()
        .unwrap();
    let (error, resp) = reject(&mut r, T0, &req);
    assert_eq!(error, RegisterError::BadExtension(vec!["foo".into()]));
    assert_eq!(resp.status(), StatusCode::BAD_EXTENSION);
    assert_eq!(resp.headers().get(HeaderName::Unsupported), Some("foo"));
}

#[test]
fn wildcard_with_expires_zero_removes_everything() {
    let mut r = registrar();
    run(
        &mut r,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@192.0.2.10>")
            .contact("<sip:alice@192.0.2.11>")
            .build()
            .unwrap(),
    );
    assert_eq!(r.binding_count(), 2);
    let req = register("c1", 2)
        .contact("*")
        .header(HeaderName::Expires, "0")
        .build()
        .unwrap();
    let (changes, resp) = run(&mut r, T0 + 5, &req);
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(contacts(&resp).is_empty());
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|c| matches!(
        c,
        BindingChange::Remove {
            reason: RemoveReason::Unregistered,
            ..
        }
    )));
    assert_eq!(r.binding_count(), 0);
}

#[test]
fn wildcard_misuse_is_400() {
    let mut r = registrar();
    let cases = [
        (
            register("c1", 1)
                .contact("*")
                .header(HeaderName::Expires, "3600")
                .build()
                .unwrap(),
            RegisterError::WildcardWithoutExpiresZero,
        ),
        (
            register("c1", 1).contact("*").build().unwrap(),
            RegisterError::WildcardWithoutExpiresZero,
        ),
        (
            register("c1", 1)
                .contact("*")
                .contact("<sip:alice@192.0.2.10>")
                .header(HeaderName::Expires, "0")
                .build()
                .unwrap(),
            RegisterError::WildcardNotAlone,
        ),
    ];
    for (req, expected) in cases {
        let (error, resp) = reject(&mut r, T0, &req);
        assert_eq!(error, expected);
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    }
}

#[test]
fn wildcard_obeys_cseq_ordering() {
    let mut r = registrar();
    run(
        &mut r,
        T0,
        &register("c1", 5)
            .contact("<sip:alice@192.0.2.10>")
            .build()
            .unwrap(),
    );
    let stale = register("c1", 4)
        .contact("*")
        .header(HeaderName::Expires, "0")
        .build()
        .unwrap();
    let (error, resp) = reject(&mut r, T0, &stale);
    assert_eq!(error, RegisterError::OutOfOrder { cseq: 4, stored: 5 });
    assert_eq!(resp.status(), StatusCode::SERVER_INTERNAL_ERROR);
    assert_eq!(r.binding_count(), 1);
}

#[test]
fn expires_parameter_wins_over_header_which_wins_over_default() {
    let mut r = registrar();
    let req = register("c1", 1)
        .contact("<sip:alice@192.0.2.10>;expires=120")
        .contact("<sip:alice@192.0.2.11>")
        .header(HeaderName::Expires, "1800")
        .build()
        .unwrap();
    let (_, resp) = run(&mut r, T0, &req);
    let list = contacts(&resp);
    assert!(
        list.contains(&"<sip:alice@192.0.2.10>;expires=120".to_owned()),
        "{list:?}"
    );
    assert!(
        list.contains(&"<sip:alice@192.0.2.11>;expires=1800".to_owned()),
        "{list:?}"
    );
}

#[test]
fn default_and_maximum_expiry() {
    let mut r = registrar();
    let (_, resp) = run(
        &mut r,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@192.0.2.10>")
            .build()
            .unwrap(),
    );
    assert_eq!(contacts(&resp), ["<sip:alice@192.0.2.10>;expires=3600"]);
    let (_, resp) = run(
        &mut r,
        T0,
        &register("c1", 2)
            .contact("<sip:alice@192.0.2.10>;expires=4294967295")
            .build()
            .unwrap(),
    );
    assert_eq!(contacts(&resp), ["<sip:alice@192.0.2.10>;expires=7200"]);
    // Out of range and malformed values are read leniently (§20.19).
    let (_, resp) = run(
        &mut r,
        T0,
        &register("c1", 3)
            .contact("<sip:alice@192.0.2.10>")
            .header(HeaderName::Expires, "99999999999999999999")
            .build()
            .unwrap(),
    );
    assert_eq!(contacts(&resp), ["<sip:alice@192.0.2.10>;expires=7200"]);
}

#[test]
fn too_brief_gets_423_with_min_expires() {
    let mut r = registrar();
    for req in [
        register("c1", 1)
            .contact("<sip:alice@192.0.2.10>;expires=30")
            .build()
            .unwrap(),
        register("c1", 1)
            .contact("<sip:alice@192.0.2.10>")
            .header(HeaderName::Expires, "59")
            .build()
            .unwrap(),
        // One brief contact fails the whole request.
        register("c1", 1)
            .contact("<sip:alice@192.0.2.10>;expires=3600")
            .contact("<sip:alice@192.0.2.11>;expires=1")
            .build()
            .unwrap(),
    ] {
        let (error, resp) = reject(&mut r, T0, &req);
        assert_eq!(error, RegisterError::IntervalTooBrief { min_expires: 60 });
        assert_eq!(resp.status(), StatusCode::INTERVAL_TOO_BRIEF);
        assert_eq!(resp.headers().get(HeaderName::MinExpires), Some("60"));
    }
    assert_eq!(r.binding_count(), 0);
    // Exactly the minimum, and zero, are fine.
    run(
        &mut r,
        T0,
        &register("c1", 2)
            .contact("<sip:alice@192.0.2.10>;expires=60")
            .build()
            .unwrap(),
    );
    run(
        &mut r,
        T0,
        &register("c1", 3)
            .contact("<sip:alice@192.0.2.10>;expires=0")
            .build()
            .unwrap(),
    );
    // 423 only under one hour, whatever the configured minimum (§10.3).
    let mut strict = registrar_with(RegistrarConfig {
        min_expires: 5000,
        max_expires: 10_000,
        ..RegistrarConfig::for_domain("example.com")
    });
    let (_, resp) = run(
        &mut strict,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@192.0.2.10>;expires=3600")
            .build()
            .unwrap(),
    );
    assert_eq!(contacts(&resp), ["<sip:alice@192.0.2.10>;expires=3600"]);
}

#[test]
fn same_call_id_needs_a_higher_cseq_and_a_new_call_id_replaces() {
    let mut r = registrar();
    run(
        &mut r,
        T0,
        &register("c1", 10)
            .contact("<sip:alice@192.0.2.10>")
            .build()
            .unwrap(),
    );
    for cseq in [9, 10] {
        let req = register("c1", cseq)
            .contact("<sip:alice@192.0.2.10>;expires=100")
            .build()
            .unwrap();
        let (error, resp) = reject(&mut r, T0 + 1, &req);
        assert_eq!(error, RegisterError::OutOfOrder { cseq, stored: 10 });
        assert_eq!(resp.status(), StatusCode::SERVER_INTERNAL_ERROR);
    }
    // Nothing changed.
    assert_eq!(r.lookup(&aor(), T0)[0].expires_at, T0 + 3600);
    // A new Call-ID (the UA rebooted) may use any CSeq.
    let (changes, _) = run(
        &mut r,
        T0 + 2,
        &register("c2", 1)
            .contact("<sip:alice@192.0.2.10>;expires=100")
            .build()
            .unwrap(),
    );
    let [BindingChange::Upsert(b)] = changes.as_slice() else {
        panic!("{changes:?}")
    };
    assert_eq!(
        (b.call_id.as_str(), b.cseq, b.expires_at),
        ("c2", 1, T0 + 102)
    );
    assert_eq!(
        b.registered_at, T0,
        "a refresh keeps the first registration time"
    );
    assert_eq!(r.binding_count(), 1);
}

#[test]
fn contact_matching_follows_uri_equivalence() {
    let mut r = registrar();
    run(
        &mut r,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@Host.Example.com:5060>")
            .build()
            .unwrap(),
    );
    run(
        &mut r,
        T0,
        &register("c1", 2)
            .contact("<sip:alice@host.example.COM:5060>")
            .build()
            .unwrap(),
    );
    assert_eq!(r.binding_count(), 1);
    // Without the port it is another binding (§19.1.4).
    run(
        &mut r,
        T0,
        &register("c1", 3)
            .contact("<sip:alice@host.example.com>")
            .build()
            .unwrap(),
    );
    assert_eq!(r.binding_count(), 2);
}

#[test]
fn several_contacts_ordered_by_q_in_the_response() {
    let mut r = registrar();
    let req = register("c1", 1)
        .contact("<sip:alice@192.0.2.10>;q=0.1")
        .contact("<sip:alice@192.0.2.11>;q=0.9, <sip:alice@192.0.2.12>")
        .contact("\"Desk\" <sip:alice@192.0.2.13;transport=tcp>;q=0.25;expires=600")
        .build()
        .unwrap();
    let (changes, resp) = run(&mut r, T0, &req);
    assert_eq!(changes.len(), 4);
    assert_eq!(
        contacts(&resp),
        [
            "<sip:alice@192.0.2.12>;expires=3600",
            "<sip:alice@192.0.2.11>;q=0.9;expires=3600",
            "<sip:alice@192.0.2.13;transport=tcp>;q=0.25;expires=600",
            "<sip:alice@192.0.2.10>;q=0.1;expires=3600",
        ]
    );
    let targets = r.lookup(&aor(), T0);
    assert_eq!(
        targets.iter().map(|b| b.q).collect::<Vec<_>>(),
        [None, Some(900), Some(250), Some(100)]
    );
}

#[test]
fn removing_one_contact() {
    let mut r = registrar();
    run(
        &mut r,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@192.0.2.10>")
            .contact("<sip:alice@192.0.2.11>")
            .build()
            .unwrap(),
    );
    let (changes, resp) = run(
        &mut r,
        T0,
        &register("c1", 2)
            .contact("<sip:alice@192.0.2.10>;expires=0")
            .build()
            .unwrap(),
    );
    assert_eq!(
        changes,
        [BindingChange::Remove {
            aor: aor(),
            key: BindingKey::Contact("sip:alice@192.0.2.10".into()),
            reason: RemoveReason::Unregistered,
        }]
    );
    assert_eq!(contacts(&resp), ["<sip:alice@192.0.2.11>;expires=3600"]);
    // Removing what is not there changes nothing.
    let outcome = handle(
        &mut r,
        T0,
        &register("c1", 3)
            .contact("<sip:alice@192.0.2.99>;expires=0")
            .build()
            .unwrap(),
    );
    assert!(matches!(outcome, RegisterOutcome::Respond(_)));
}

#[test]
fn path_is_stored_and_echoed_when_supported() {
    let mut r = registrar();
    let req = register("c1", 1)
        .header(HeaderName::Supported, "path")
        .header(HeaderName::Path, "<sip:p2.example.com;lr>")
        .header(HeaderName::Path, "<sip:edge.example.com;lr>")
        .contact("<sip:alice@10.0.0.5:5060>")
        .build()
        .unwrap();
    let (_, resp) = run(&mut r, T0, &req);
    assert_eq!(
        resp.headers().values(HeaderName::Path).collect::<Vec<_>>(),
        ["<sip:p2.example.com;lr>", "<sip:edge.example.com;lr>"]
    );
    assert_eq!(
        r.lookup(&aor(), T0)[0].path,
        ["<sip:p2.example.com;lr>", "<sip:edge.example.com;lr>"]
    );
    // Without Supported: path, Path is still stored (the proxies need it)
    // but not echoed.
    let req = register("c1", 2)
        .header(HeaderName::Path, "<sip:edge.example.com;lr>")
        .contact("<sip:alice@10.0.0.5:5060>")
        .build()
        .unwrap();
    let (_, resp) = run(&mut r, T0, &req);
    assert_eq!(resp.headers().get(HeaderName::Path), None);
    assert_eq!(r.lookup(&aor(), T0)[0].path, ["<sip:edge.example.com;lr>"]);
}

const INSTANCE: &str = "\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"";

fn outbound_register(call_id: &str, cseq: u32, contact_host: &str, reg_id: u32) -> Request {
    register(call_id, cseq)
        .header(HeaderName::Supported, "path, outbound")
        .contact(&format!(
            "<sip:alice@{contact_host};transport=tcp;ob>;+sip.instance={INSTANCE};reg-id={reg_id}"
        ))
        .build()
        .unwrap()
}

#[test]
fn outbound_flow_replaces_the_old_flow_of_the_device() {
    let mut r = registrar();
    let tcp = |remote: &str, flow: u64| Source {
        transport: Transport::Tcp,
        flow: Some(FlowId(flow)),
        ..source_at(remote)
    };
    let (changes, resp) = run_from(
        &mut r,
        T0,
        &outbound_register("c1", 1, "10.0.0.5:5060", 1),
        &tcp("198.51.100.7:40000", 1),
    );
    assert_eq!(resp.headers().get(HeaderName::Require), Some("outbound"));
    let [BindingChange::Upsert(b)] = changes.as_slice() else {
        panic!("{changes:?}")
    };
    let instance = "urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF".to_owned();
    assert_eq!(
        b.key,
        BindingKey::Flow {
            instance: instance.clone(),
            reg_id: 1
        }
    );
    assert!(b.is_outbound_flow());
    assert_eq!(b.source.flow, Some(FlowId(1)));
    assert_eq!(
        contacts(&resp),
        [format!(
            "<sip:alice@10.0.0.5:5060;transport=tcp;ob>;+sip.instance={INSTANCE};reg-id=1;expires=3600"
        )]
    );

    // The phone moved network: new address, new connection, new Call-ID.
    let (changes, resp) = run_from(
        &mut r,
        T0 + 10,
        &outbound_register("c9", 1, "10.9.9.9:5060", 1),
        &tcp("203.0.113.9:50000", 2),
    );
    assert_eq!(changes.len(), 1);
    assert_eq!(contacts(&resp).len(), 1, "the old flow was replaced");
    let now = r.lookup(&aor(), T0 + 10);
    assert_eq!(now[0].contact, "sip:alice@10.9.9.9:5060;transport=tcp;ob");
    assert_eq!(now[0].source.flow, Some(FlowId(2)));

    // A second flow of the same device (reg-id 2) is another binding.
    run_from(
        &mut r,
        T0 + 10,
        &outbound_register("c10", 1, "10.9.9.9:5060", 2),
        &tcp("203.0.113.9:50001", 3),
    );
    assert_eq!(r.lookup(&aor(), T0 + 10).len(), 2);
}

#[test]
fn instance_without_outbound_still_identifies_the_device() {
    let mut r = registrar();
    let req = |call_id: &str, host: &str| {
        register(call_id, 1)
            .contact(&format!(
                "<sip:alice@{host}>;+sip.instance={INSTANCE};reg-id=1"
            ))
            .build()
            .unwrap()
    };
    let (changes, resp) = run(&mut r, T0, &req("c1", "10.0.0.5"));
    assert_eq!(
        resp.headers().get(HeaderName::Require),
        None,
        "no Supported: outbound, no flow"
    );
    assert!(
        matches!(&changes[0], BindingChange::Upsert(b) if matches!(b.key, BindingKey::Instance(_)))
    );
    run(&mut r, T0, &req("c2", "10.0.0.6"));
    assert_eq!(contact_uris(&r, T0), ["sip:alice@10.0.0.6"]);

    // With instance_replaces off, RFC 3261 contact matching applies.
    let mut plain = registrar_with(RegistrarConfig {
        instance_replaces: false,
        ..RegistrarConfig::for_domain("example.com")
    });
    run(&mut plain, T0, &req("c1", "10.0.0.5"));
    run(&mut plain, T0, &req("c2", "10.0.0.6"));
    assert_eq!(plain.binding_count(), 2);
}

#[test]
fn outbound_checks_first_hop_and_flow_count() {
    let mut r = registrar();
    // Through a proxy (two Vias) that did not add a Path with ;ob: 439.
    let via_proxy = |path: Option<&str>| {
        let mut b = RequestBuilder::new(Method::Register, "sip:example.com")
            .via("TCP", "edge.example.com", "z9hG4bKedge")
            .via("TCP", "10.0.0.5:5060", "z9hG4bKua")
            .from("<sip:alice@example.com>", "f1")
            .to("<sip:alice@example.com>", None)
            .call_id("c1")
            .cseq(1)
            .header(HeaderName::Supported, "outbound, path");
        if let Some(p) = path {
            b = b.header(HeaderName::Path, p);
        }
        b.contact(&format!(
            "<sip:alice@10.0.0.5;transport=tcp>;+sip.instance={INSTANCE};reg-id=1"
        ))
        .build()
        .unwrap()
    };
    let (error, resp) = reject(&mut r, T0, &via_proxy(None));
    assert_eq!(error, RegisterError::FirstHopLacksOutbound);
    assert_eq!(resp.status().as_u16(), 439);
    assert_eq!(resp.reason(), "First Hop Lacks Outbound Support");
    assert_eq!(
        reject(&mut r, T0, &via_proxy(Some("<sip:edge.example.com;lr>"))).0,
        RegisterError::FirstHopLacksOutbound
    );
    let (_, resp) = run(&mut r, T0, &via_proxy(Some("<sip:edge.example.com;lr;ob>")));
    assert_eq!(resp.headers().get(HeaderName::Require), Some("outbound"));

    // Two flows in one REGISTER: 400.
    let two = register("c2", 1)
        .header(HeaderName::Supported, "outbound")
        .contact(&format!(
            "<sip:alice@10.0.0.5>;+sip.instance={INSTANCE};reg-id=1"
        ))
        .contact(&format!(
            "<sip:alice@10.0.0.6>;+sip.instance={INSTANCE};reg-id=2"
        ))
        .build()
        .unwrap();
    assert_eq!(reject(&mut r, T0, &two).0, RegisterError::SeveralFlows);
}

#[test]
fn bad_contact_parameters_are_400() {
    let mut r = registrar();
    for contact in [
        "<sip:alice@192.0.2.10>;q=2",
        "<sip:alice@192.0.2.10>;q",
        "<sip:alice@192.0.2.10>;+sip.instance=\"<urn:x>\";reg-id=0",
        "<sip:alice@192.0.2.10>;reg-id=abc",
        "<sip:alice@192.0.2.10>;+sip.instance=\"<>\"",
    ] {
        let req = register("c1", 1).contact(contact).build().unwrap();
        let (error, resp) = reject(&mut r, T0, &req);
        assert!(
            matches!(error, RegisterError::Malformed(_)),
            "{contact}: {error:?}"
        );
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    }
}

#[test]
fn contact_limit_replaces_the_oldest_by_default() {
    let mut r = registrar_with(RegistrarConfig {
        max_contacts_per_aor: 2,
        ..RegistrarConfig::for_domain("example.com")
    });
    run(
        &mut r,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@192.0.2.1>")
            .build()
            .unwrap(),
    );
    run(
        &mut r,
        T0 + 1,
        &register("c2", 1)
            .contact("<sip:alice@192.0.2.2>")
            .build()
            .unwrap(),
    );
    // Refresh .1 so that .2 is now the least recently refreshed.
    run(
        &mut r,
        T0 + 2,
        &register("c1", 2)
            .contact("<sip:alice@192.0.2.1>")
            .build()
            .unwrap(),
    );
    let (changes, resp) = run(
        &mut r,
        T0 + 3,
        &register("c3", 1)
            .contact("<sip:alice@192.0.2.3>")
            .build()
            .unwrap(),
    );
    assert_eq!(
        changes[0],
        BindingChange::Remove {
            aor: aor(),
            key: BindingKey::Contact("sip:alice@192.0.2.2".into()),
            reason: RemoveReason::Evicted,
        }
    );
    assert_eq!(contacts(&resp).len(), 2);
    assert_eq!(
        contact_uris(&r, T0 + 3),
        ["sip:alice@192.0.2.3", "sip:alice@192.0.2.1"]
    );
    // More contacts in one request than the limit cannot be helped.
    let req = register("c4", 1)
        .contact("<sip:alice@192.0.2.4>, <sip:alice@192.0.2.5>, <sip:alice@192.0.2.6>")
        .build()
        .unwrap();
    assert_eq!(
        reject(&mut r, T0 + 4, &req).0,
        RegisterError::TooManyContacts { limit: 2 }
    );
}

#[test]
fn contact_limit_can_reject_instead() {
    let mut r = registrar_with(RegistrarConfig {
        max_contacts_per_aor: 1,
        on_contact_limit: ContactLimitPolicy::Reject,
        ..RegistrarConfig::for_domain("example.com")
    });
    run(
        &mut r,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@192.0.2.1>")
            .build()
            .unwrap(),
    );
    let (error, resp) = reject(
        &mut r,
        T0,
        &register("c2", 1)
            .contact("<sip:alice@192.0.2.2>")
            .build()
            .unwrap(),
    );
    assert_eq!(error, RegisterError::TooManyContacts { limit: 1 });
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(resp.reason(), "Too Many Contacts");
    // Refreshing the existing one is fine.
    run(
        &mut r,
        T0,
        &register("c1", 2)
            .contact("<sip:alice@192.0.2.1>")
            .build()
            .unwrap(),
    );
}

#[test]
fn a_full_location_service_gets_503() {
    let mut r = registrar_with(RegistrarConfig {
        max_bindings: 1,
        ..RegistrarConfig::for_domain("example.com")
    });
    run(
        &mut r,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@192.0.2.1>")
            .build()
            .unwrap(),
    );
    let (error, resp) = reject(
        &mut r,
        T0,
        &register("c2", 1)
            .contact("<sip:alice@192.0.2.2>")
            .build()
            .unwrap(),
    );
    assert_eq!(error, RegisterError::Full);
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers().get(HeaderName::RetryAfter), Some("5"));
}

#[test]
fn bindings_expire_on_time_without_any_request() {
    let mut r = registrar();
    run(
        &mut r,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@192.0.2.1>;expires=60")
            .build()
            .unwrap(),
    );
    run(
        &mut r,
        T0,
        &register("c1", 2)
            .contact("<sip:alice@192.0.2.2>;expires=120")
            .build()
            .unwrap(),
    );
    let now = Instant::now();
    assert_eq!(r.next_expiry(), Some(T0 + 60));
    assert_eq!(
        r.poll_timeout(Now::at(now, T0)),
        Some(now + Duration::from_secs(60))
    );
    assert!(r.poll_expired(T0 + 59).is_empty());
    // The lookup already hides what has expired at the second it expires.
    assert_eq!(contact_uris(&r, T0 + 60), ["sip:alice@192.0.2.2"]);
    let gone = r.poll_expired(T0 + 60);
    assert_eq!(
        gone,
        [BindingChange::Remove {
            aor: aor(),
            key: BindingKey::Contact("sip:alice@192.0.2.1".into()),
            reason: RemoveReason::Expired,
        }]
    );
    assert_eq!(r.binding_count(), 1);
    assert_eq!(
        r.poll_timeout(Now::at(now, T0 + 60)),
        Some(now + Duration::from_secs(60))
    );
    assert_eq!(r.poll_expired(T0 + 1000).len(), 1);
    assert_eq!(r.binding_count(), 0);
    assert_eq!(r.aor_count(), 0);
    assert_eq!(r.poll_timeout(Now::at(now, T0 + 1000)), None);
}

#[test]
fn remaining_time_counts_down_in_later_answers() {
    let mut r = registrar();
    run(
        &mut r,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@192.0.2.1>;expires=600")
            .build()
            .unwrap(),
    );
    let (_, resp) = run(
        &mut r,
        T0 + 100,
        &register("c1", 2)
            .contact("<sip:alice@192.0.2.2>")
            .build()
            .unwrap(),
    );
    let list = contacts(&resp);
    assert!(
        list.contains(&"<sip:alice@192.0.2.1>;expires=500".to_owned()),
        "{list:?}"
    );
    // An expired binding found by a REGISTER is removed with it.
    let (changes, _) = run(
        &mut r,
        T0 + 700,
        &register("c1", 3)
            .contact("<sip:alice@192.0.2.2>")
            .build()
            .unwrap(),
    );
    assert!(changes.contains(&BindingChange::Remove {
        aor: aor(),
        key: BindingKey::Contact("sip:alice@192.0.2.1".into()),
        reason: RemoveReason::Expired,
    }));
}

#[test]
fn a_failed_store_undoes_the_changes() {
    let mut r = registrar();
    run(
        &mut r,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@192.0.2.1>")
            .build()
            .unwrap(),
    );
    let req = register("c1", 2)
        .contact("<sip:alice@192.0.2.1>;expires=0")
        .contact("<sip:alice@192.0.2.2>")
        .build()
        .unwrap();
    let RegisterOutcome::Commit { changes, then } = handle(&mut r, T0 + 1, &req) else {
        panic!()
    };
    assert_eq!(changes.len(), 2);
    assert_eq!(contact_uris(&r, T0 + 1), ["sip:alice@192.0.2.2"]);
    let resp = r.abort(then).unwrap();
    assert_eq!(resp.status(), StatusCode::SERVER_INTERNAL_ERROR);
    assert_eq!(resp.headers().get(HeaderName::RetryAfter), Some("5"));
    assert_eq!(contact_uris(&r, T0 + 1), ["sip:alice@192.0.2.1"]);
    // The same REGISTER sent again (same CSeq, as a UA would after a
    // 500) now succeeds.
    let (_, resp) = run(&mut r, T0 + 2, &req);
    assert_eq!(contacts(&resp), ["<sip:alice@192.0.2.2>;expires=3600"]);
}

#[test]
fn an_abort_does_not_undo_a_later_write() {
    let mut r = registrar();
    let first = register("c1", 1)
        .contact("<sip:alice@192.0.2.1>")
        .build()
        .unwrap();
    let RegisterOutcome::Commit { then: pending1, .. } = handle(&mut r, T0, &first) else {
        panic!()
    };
    let second = register("c1", 2)
        .contact("<sip:alice@192.0.2.1>;expires=100")
        .build()
        .unwrap();
    let (_, _) = run(&mut r, T0, &second);
    r.abort(pending1).unwrap();
    let b = &r.lookup(&aor(), T0)[0];
    assert_eq!((b.cseq, b.expires_at), (2, T0 + 100));
}

#[test]
fn load_restores_bindings_and_expired_ones_are_swept() {
    let mut r = registrar();
    run(
        &mut r,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@192.0.2.1>;expires=60")
            .contact("<sip:alice@192.0.2.2>;q=0.5")
            .build()
            .unwrap(),
    );
    let saved: Vec<Binding> = r.bindings(T0).cloned().collect();
    let mut restarted = registrar();
    restarted.load(saved);
    assert_eq!(restarted.binding_count(), 2);
    assert_eq!(restarted.lookup(&aor(), T0 + 100).len(), 1);
    assert_eq!(restarted.poll_expired(T0 + 100).len(), 1);
    // Refreshing after the restart keeps checking CSeq.
    let stale = register("c1", 1)
        .contact("<sip:alice@192.0.2.2>")
        .build()
        .unwrap();
    assert!(matches!(
        restarted
            .handle_register(T0 + 100, &stale, &source(), Some(&alice()))
            .unwrap(),
        RegisterOutcome::Reject {
            error: RegisterError::OutOfOrder { .. },
            ..
        }
    ));
    // A change made by another node.
    restarted.apply(BindingChange::Remove {
        aor: aor(),
        key: BindingKey::Contact("sip:alice@192.0.2.2".into()),
        reason: RemoveReason::Unregistered,
    });
    assert_eq!(restarted.binding_count(), 0);
}

#[test]
fn the_same_contact_twice_in_one_request() {
    let mut r = registrar();
    let req = register("c1", 1)
        .contact("<sip:alice@192.0.2.1>;expires=100")
        .contact("<sip:alice@192.0.2.1>;expires=200")
        .build()
        .unwrap();
    let (_, resp) = run(&mut r, T0, &req);
    assert_eq!(contacts(&resp), ["<sip:alice@192.0.2.1>;expires=200"]);
}

#[test]
fn a_raw_softphone_register_with_compact_headers() {
    let raw = "REGISTER sip:example.com SIP/2.0\r\n\
               v: SIP/2.0/UDP 192.168.1.20:5060;rport;branch=z9hG4bK776asdhds\r\n\
               Max-Forwards: 70\r\n\
               t: \"Alice\" <sip:alice@example.com>\r\n\
               f: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n\
               i: a84b4c76e66710@pc33.example.com\r\n\
               CSeq: 314159 REGISTER\r\n\
               m: <sip:alice@192.168.1.20:5060;rinstance=6f8dc969b62d1466>;+sip.instance=\"<urn:uuid:a>\"\r\n\
               k: path, gruu\r\n\
               Expires: 300\r\n\
               User-Agent: Softphone 5.1\r\n\
               l: 0\r\n\r\n";
    let Message::Request(req) = Message::parse_datagram(raw.as_bytes().to_vec().into()).unwrap()
    else {
        panic!()
    };
    let mut r = registrar();
    let (_, resp) = run(&mut r, T0, &req);
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        contacts(&resp),
        [
            "<sip:alice@192.168.1.20:5060;rinstance=6f8dc969b62d1466>;+sip.instance=\"<urn:uuid:a>\";expires=300"
        ]
    );
    assert_eq!(
        resp.headers().call_id(),
        Some("a84b4c76e66710@pc33.example.com")
    );
    assert_eq!(resp.headers().from_tag(), Some("1928301774"));
    let printed = String::from_utf8(resp.to_bytes().to_vec()).unwrap();
    assert!(printed.starts_with("SIP/2.0 200 OK\r\n"), "{printed}");
}

#[test]
fn error_values_map_to_statuses() {
    assert_eq!(
        RegisterError::NotRegister.status(),
        StatusCode::SERVER_INTERNAL_ERROR
    );
    assert_eq!(
        RegisterError::StoreFailed.status(),
        StatusCode::SERVER_INTERNAL_ERROR
    );
    let mut r = registrar();
    let options = RequestBuilder::new(Method::Options, "sip:example.com")
        .via("UDP", "192.0.2.10", "z9hG4bK1")
        .from("<sip:alice@example.com>", "f1")
        .to("<sip:alice@example.com>", None)
        .call_id("c1")
        .cseq(1)
        .build()
        .unwrap();
    assert_eq!(reject(&mut r, T0, &options).0, RegisterError::NotRegister);
}

#[test]
fn inconsistent_expiry_settings_are_corrected() {
    let mut r = registrar_with(RegistrarConfig {
        min_expires: 600,
        max_expires: 300,
        default_expires: 60,
        ..RegistrarConfig::for_domain("example.com")
    });
    assert_eq!(
        (
            r.config().min_expires,
            r.config().max_expires,
            r.config().default_expires
        ),
        (600, 600, 600)
    );
    let (_, resp) = run(
        &mut r,
        T0,
        &register("c1", 1)
            .contact("<sip:alice@192.0.2.1>")
            .build()
            .unwrap(),
    );
    assert_eq!(contacts(&resp), ["<sip:alice@192.0.2.1>;expires=600"]);
}
