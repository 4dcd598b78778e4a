//! The server's trunks on the virtual clock: OPTIONS probes and the
//! gateways' health (thresholds, silence, DNS failures, call attempts,
//! reloads), and the registration at a provider (digest, refresh,
//! backoff, removal).
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::net::SocketAddr;
use std::time::Duration;

use service_harness::{Phone, Server, UNIX0, trunk};
use switchboard_core::Transport;
use switchboard_proto::digest::{self, Algorithm, Credentials as DigestHeader};
use switchboard_proto::{HeaderName, Method, Request, ResponseBuilder, StatusCode};
use switchboard_routing::{Credentials, GatewayHealth, ProbeSpec, RegistrationSpec, TrunkSpec};
use switchboard_server::proxy::NextHop;
use switchboard_server::service::Effect;
use switchboard_server::trunks::{AttemptResult, Health, RegistrationState};

const GW1: &str = "sip:192.0.2.10:5060";
const GW2: &str = "sip:192.0.2.11:5060";
const REGISTRAR: &str = "sip:192.0.2.20:5060";
const AOR: &str = "sip:acct1@carrier.example";
const REALM: &str = "carrier.example";

fn probe(interval: u64, up: u32, down: u32) -> ProbeSpec {
    ProbeSpec {
        interval: Duration::from_secs(interval),
        up_after: up,
        down_after: down,
    }
}

/// A trunk registering `AOR` at `REGISTRAR` as acct1/secret.
fn registering(expires: u64) -> TrunkSpec {
    let mut spec = trunk("carrier1", &[REGISTRAR], None);
    spec.credentials = Some(Credentials {
        username: "acct1".to_owned(),
        password: "secret".to_owned(),
        realm: None,
    });
    spec.register = Some(RegistrationSpec {
        aor: AOR.to_owned(),
        registrar: REGISTRAR.to_owned(),
        expires: Duration::from_secs(expires),
    });
    spec
}

/// A peer at the address of an IP-literal SIP URI.
fn peer(uri: &str) -> Phone {
    Phone::new("peer", uri.trim_start_matches("sip:"))
}

fn set(server: &mut Server, specs: &[TrunkSpec]) {
    let specs = specs.to_vec();
    server.command(move |service, now, ep| service.set_trunks(now, ep, &specs));
}

/// The new requests (retransmissions left out) `peer` got, in order.
fn fresh(server: &mut Server, peer: &Phone, seen: &mut Vec<(String, u32)>) -> Vec<Request> {
    server
        .requests(peer)
        .into_iter()
        .filter(|r| {
            let h = r.headers();
            let key = (h.call_id().unwrap().to_owned(), h.cseq().unwrap().seq);
            if seen.contains(&key) {
                return false;
            }
            seen.push(key);
            true
        })
        .collect()
}

/// `peer` answers `request` with `status` and extra header lines.
fn answer(
    server: &mut Server,
    peer: &Phone,
    request: &Request,
    status: u16,
    lines: &[(HeaderName, &str)],
) {
    let mut b =
        ResponseBuilder::from_request(request, StatusCode::new(status).unwrap()).to_tag("peer-tag");
    for (name, value) in lines {
        b = b.header(*name, *value);
    }
    server.send(peer, b.build().unwrap());
}

fn health(server: &Server, trunk: &str, gateway: &str) -> Option<bool> {
    server.service.trunks().is_up(trunk, gateway)
}

fn registration(server: &Server) -> RegistrationState {
    server.service.trunks().states()[0].registration
}

// ----- probing -----

/// A server probing trunk `carrier1`'s one gateway `GW1` as `probe` says:
/// the server, the gateway peer, what it has seen.
fn probing(probe: ProbeSpec) -> (Server, Phone, Vec<(String, u32)>) {
    let mut server = Server::new();
    set(&mut server, &[trunk("carrier1", &[GW1], Some(probe))]);
    (server, peer(GW1), Vec::new())
}

#[test]
fn probes_go_at_the_interval_as_fresh_options_and_two_answers_mark_the_gateway_up() {
    let (mut server, gw, mut seen) = probing(probe(30, 2, 3));
    server.run_for(Duration::from_millis(10));
    let first = fresh(&mut server, &gw, &mut seen);
    assert_eq!(first.len(), 1, "one probe at once");
    let first = &first[0];
    assert_eq!(first.method(), &Method::Options);
    assert_eq!(first.uri_str(), GW1);
    assert_eq!(first.headers().max_forwards(), Some(70));
    let from = first.headers().get(HeaderName::From).unwrap();
    assert!(from.starts_with("<sip:switchboard@example.com>"), "{from}");
    assert_eq!(
        health(&server, "carrier1", GW1),
        None,
        "unknown before any answer"
    );
    answer(&mut server, &gw, first, 200, &[]);
    assert_eq!(
        health(&server, "carrier1", GW1),
        None,
        "one success is not enough"
    );

    // Nothing more until the interval is over.
    server.run_for(Duration::from_secs(29));
    assert!(fresh(&mut server, &gw, &mut seen).is_empty());
    server.run_for(Duration::from_secs(1));
    let second = fresh(&mut server, &gw, &mut seen);
    assert_eq!(second.len(), 1, "the next probe after 30 s");
    let second = &second[0];
    assert_ne!(second.headers().call_id(), first.headers().call_id());
    assert_ne!(second.headers().from_tag(), first.headers().from_tag());
    assert_ne!(second.headers().top_branch(), first.headers().top_branch());
    answer(&mut server, &gw, second, 200, &[]);
    assert_eq!(health(&server, "carrier1", GW1), Some(true));
    let states = server.service.trunks().states();
    let g = &states[0].gateways[0];
    assert_eq!((g.health, g.successes, g.failures), (Health::Up, 2, 0));
    assert_eq!(g.changed_at, Some(UNIX0 + 30));
}

#[test]
fn probes_refused_with_503_mark_the_gateway_down_and_answers_bring_it_back() {
    let (mut server, gw, mut seen) = probing(probe(10, 2, 3));
    let mut statuses = vec![503, 408, 503, 404, 200];
    statuses.reverse();
    let mut health_after = Vec::new();
    while let Some(status) = statuses.pop() {
        server.run_for(Duration::from_secs(10));
        let probes = fresh(&mut server, &gw, &mut seen);
        assert_eq!(probes.len(), 1);
        answer(&mut server, &gw, &probes[0], status, &[]);
        health_after.push(health(&server, "carrier1", GW1));
    }
    // 503 and 408 to a probe are failures; any other answer (404 too)
    // proves the gateway alive.
    assert_eq!(
        health_after,
        [None, None, Some(false), Some(false), Some(true)]
    );
}

#[test]
fn a_silent_gateway_goes_down_after_three_timed_out_probes_with_one_in_flight_at_a_time() {
    let (mut server, gw, mut seen) = probing(probe(30, 2, 3));
    let mut sent_at = Vec::new();
    for _ in 0..160 {
        server.run_for(Duration::from_secs(1));
        for _ in fresh(&mut server, &gw, &mut seen) {
            sent_at.push(server.elapsed().as_secs());
        }
        if server.elapsed() < Duration::from_secs(152) {
            assert_eq!(
                health(&server, "carrier1", GW1),
                None,
                "at {:?}",
                server.elapsed()
            );
        }
    }
    // Timer F (32 s) outlasts the interval: the probe due at 30 s is
    // skipped while the first is in flight.
    assert_eq!(sent_at, [1, 60, 120]);
    assert_eq!(health(&server, "carrier1", GW1), Some(false));
    let states = server.service.trunks().states();
    assert_eq!(states[0].gateways[0].failures, 3);
}

#[test]
fn a_gateway_whose_name_does_not_resolve_goes_down_and_one_that_does_is_probed_where_it_points() {
    let mut server = Server::new();
    server.names.insert(
        "gw.carrier.example".to_owned(),
        vec![NextHop::address(
            Transport::Udp,
            "192.0.2.30:5080".parse::<SocketAddr>().unwrap(),
        )],
    );
    let named = Phone::new("peer", "192.0.2.30:5080");
    let mut seen = Vec::new();
    set(
        &mut server,
        &[trunk(
            "carrier1",
            &["sip:gw.nowhere.example", "sip:gw.carrier.example"],
            Some(probe(30, 1, 2)),
        )],
    );
    server.run_for(Duration::from_millis(10));
    let probes = fresh(&mut server, &named, &mut seen);
    assert_eq!(probes.len(), 1);
    assert_eq!(probes[0].uri_str(), "sip:gw.carrier.example");
    answer(&mut server, &named, &probes[0], 200, &[]);
    assert_eq!(
        health(&server, "carrier1", "sip:gw.carrier.example"),
        Some(true)
    );
    assert_eq!(
        health(&server, "carrier1", "sip:gw.nowhere.example"),
        None,
        "one DNS failure"
    );
    server.run_for(Duration::from_secs(30));
    assert_eq!(
        health(&server, "carrier1", "sip:gw.nowhere.example"),
        Some(false),
        "two DNS failures"
    );
}

// ----- call attempts and reloads -----

#[test]
fn failed_call_attempts_count_towards_health_and_any_answer_proves_the_gateway_alive() {
    let mut server = Server::new();
    set(
        &mut server,
        &[
            trunk("carrier1", &[GW1, GW2], Some(probe(3600, 2, 3))),
            trunk("unprobed", &[GW1], None),
        ],
    );
    let now = server.now;
    let s = &mut server.service;
    s.report_attempt(now, "carrier1", GW1, AttemptResult::ConnectFailed);
    s.report_attempt(now, "carrier1", GW1, AttemptResult::Timeout);
    assert_eq!(s.trunks().is_up("carrier1", GW1), None);
    s.report_attempt(now, "carrier1", GW1, AttemptResult::TransportError);
    assert_eq!(s.trunks().is_up("carrier1", GW1), Some(false));
    assert_eq!(
        s.trunks().is_up("carrier1", GW2),
        None,
        "the other gateway is apart"
    );
    // A 503 to a call is an answer: the gateway is alive.
    s.report_attempt(now, "carrier1", GW1, AttemptResult::Response(503));
    s.report_attempt(now, "carrier1", GW1, AttemptResult::Response(486));
    assert_eq!(s.trunks().is_up("carrier1", GW1), Some(true));
    // A gateway that is not probed is never marked down: nothing would
    // bring it back.
    for _ in 0..5 {
        s.report_attempt(now, "unprobed", GW1, AttemptResult::DnsFailed);
    }
    assert_eq!(s.trunks().is_up("unprobed", GW1), None);
}

#[test]
fn health_is_kept_across_a_reload_for_the_same_trunk_and_gateway() {
    let mut server = Server::new();
    set(
        &mut server,
        &[trunk("carrier1", &[GW1], Some(probe(3600, 1, 1)))],
    );
    let now = server.now;
    server
        .service
        .report_attempt(now, "carrier1", GW1, AttemptResult::Timeout);
    assert_eq!(health(&server, "carrier1", GW1), Some(false));
    // Reloaded with another gateway and other thresholds: GW1 stays down.
    let mut reloaded = trunk("carrier1", &[GW2, GW1], Some(probe(3600, 2, 3)));
    reloaded.failover_after = Duration::from_secs(2);
    set(&mut server, &[reloaded]);
    assert_eq!(health(&server, "carrier1", GW1), Some(false));
    assert_eq!(health(&server, "carrier1", GW2), None);
    let states = server.service.trunks().states();
    let uris: Vec<&str> = states[0].gateways.iter().map(|g| g.uri.as_str()).collect();
    assert_eq!(uris, [GW2, GW1], "the plan's order");
    // Another trunk name is another gateway.
    set(
        &mut server,
        &[trunk("carrier2", &[GW1], Some(probe(3600, 1, 1)))],
    );
    assert_eq!(health(&server, "carrier2", GW1), None);
    assert_eq!(health(&server, "carrier1", GW1), None, "carrier1 is gone");
}

// ----- registration -----

/// The REGISTER the registrar got (the only new one).
fn next_register(server: &mut Server, registrar: &Phone, seen: &mut Vec<(String, u32)>) -> Request {
    let requests = fresh(server, registrar, seen);
    assert_eq!(requests.len(), 1, "one REGISTER: {requests:?}");
    let r = requests.into_iter().next().unwrap();
    assert_eq!(r.method(), &Method::Register);
    r
}

/// Starts `registering(600)`: the server, the registrar peer, what it has
/// seen, and the first REGISTER.
fn start_registration() -> (Server, Phone, Vec<(String, u32)>, Request) {
    let mut server = Server::new();
    let registrar = peer(REGISTRAR);
    let mut seen = Vec::new();
    set(&mut server, &[registering(600)]);
    server.run_for(Duration::from_millis(10));
    let first = next_register(&mut server, &registrar, &mut seen);
    (server, registrar, seen, first)
}

/// The registrar answers `request` with a 401 carrying `challenge`.
fn unauthorized(server: &mut Server, registrar: &Phone, request: &Request, challenge: &str) {
    let lines = [(HeaderName::WwwAuthenticate, challenge)];
    answer(server, registrar, request, 401, &lines);
}

/// The registrar challenges `request` with a 401 (nonce `n1`, qop auth):
/// the REGISTER that answers it.
fn challenge(
    server: &mut Server,
    registrar: &Phone,
    seen: &mut Vec<(String, u32)>,
    request: &Request,
) -> Request {
    let challenge = r#"Digest realm="carrier.example", nonce="n1", qop="auth""#;
    unauthorized(server, registrar, request, challenge);
    next_register(server, registrar, seen)
}

/// Registers through a 401, granted `granted` seconds in the Contact.
fn registered(granted: &str) -> (Server, Phone, Vec<(String, u32)>) {
    let (mut server, registrar, mut seen, first) = start_registration();
    let second = challenge(&mut server, &registrar, &mut seen, &first);
    let contact = second.headers().get(HeaderName::Contact).unwrap();
    let contact = format!("{contact};expires={granted}");
    answer(
        &mut server,
        &registrar,
        &second,
        200,
        &[(HeaderName::Contact, &contact)],
    );
    (server, registrar, seen)
}

#[test]
fn registration_answers_the_providers_digest_challenge() {
    let (mut server, registrar, mut seen, first) = start_registration();
    assert_eq!(registration(&server), RegistrationState::Registering);
    let h = first.headers();
    assert_eq!(first.uri_str(), REGISTRAR);
    assert!(h.get(HeaderName::To).unwrap().contains(AOR));
    assert!(h.get(HeaderName::From).unwrap().contains(AOR));
    assert_eq!(
        h.get(HeaderName::Contact),
        Some("<sip:acct1@127.0.0.1:5060>")
    );
    assert_eq!(h.get(HeaderName::Expires), Some("600"));
    assert!(h.get(HeaderName::Authorization).is_none());
    let second = challenge(&mut server, &registrar, &mut seen, &first);
    let h2 = second.headers();
    assert_eq!(h2.call_id(), h.call_id(), "one Call-ID");
    assert_eq!(h2.cseq().unwrap().seq, h.cseq().unwrap().seq + 1);
    let DigestHeader::Digest(credentials) =
        DigestHeader::parse(h2.get(HeaderName::Authorization).unwrap()).unwrap()
    else {
        panic!("digest credentials expected");
    };
    assert_eq!(credentials.username, "acct1");
    assert_eq!(credentials.nonce, "n1");
    assert_eq!(credentials.uri, REGISTRAR);
    let ha1 = digest::ha1(Algorithm::Md5, "acct1", REALM, "secret");
    assert!(
        credentials.verify("REGISTER", b"", &ha1).unwrap(),
        "the password checks"
    );
    let wrong = digest::ha1(Algorithm::Md5, "acct1", REALM, "other");
    assert!(!credentials.verify("REGISTER", b"", &wrong).unwrap());
    answer(
        &mut server,
        &registrar,
        &second,
        200,
        &[(HeaderName::Expires, "600")],
    );
    assert_eq!(
        registration(&server),
        RegistrationState::Registered { until: UNIX0 + 600 }
    );
}

#[test]
fn registration_is_refreshed_before_the_granted_expiry() {
    // The provider grants 300 s of the 600 asked for, in the Contact.
    let (mut server, registrar, mut seen) = registered("300");
    assert_eq!(
        registration(&server),
        RegistrationState::Registered { until: UNIX0 + 300 }
    );
    server.run_for(Duration::from_secs(235));
    assert!(
        fresh(&mut server, &registrar, &mut seen).is_empty(),
        "not yet"
    );
    server.run_for(Duration::from_secs(10));
    let refresh = next_register(&mut server, &registrar, &mut seen);
    assert!(
        server.elapsed() < Duration::from_secs(300),
        "before it lapses"
    );
    assert_eq!(refresh.headers().get(HeaderName::Expires), Some("600"));
    // Still registered while the refresh is on its way.
    assert!(matches!(
        registration(&server),
        RegistrationState::Registered { .. }
    ));
    answer(
        &mut server,
        &registrar,
        &refresh,
        200,
        &[(HeaderName::Expires, "120")],
    );
    let until = UNIX0 + server.elapsed().as_secs() + 120;
    assert_eq!(
        registration(&server),
        RegistrationState::Registered { until }
    );
    // 120 s granted: refreshed half-way (at most half of it early).
    server.run_for(Duration::from_secs(59));
    assert!(fresh(&mut server, &registrar, &mut seen).is_empty());
    server.run_for(Duration::from_secs(2));
    next_register(&mut server, &registrar, &mut seen);
}

#[test]
fn a_second_challenge_with_the_same_nonce_fails_and_a_stale_one_is_answered() {
    let (mut server, registrar, mut seen, first) = start_registration();
    let challenge = r#"Digest realm="carrier.example", nonce="n1""#;
    unauthorized(&mut server, &registrar, &first, challenge);
    let second = next_register(&mut server, &registrar, &mut seen);
    // stale=true: the nonce expired, the password was right: answered.
    let stale = r#"Digest realm="carrier.example", nonce="n1", stale=true"#;
    unauthorized(&mut server, &registrar, &second, stale);
    let third = next_register(&mut server, &registrar, &mut seen);
    unauthorized(&mut server, &registrar, &third, challenge);
    assert!(
        fresh(&mut server, &registrar, &mut seen).is_empty(),
        "no fourth try"
    );
    assert_eq!(
        registration(&server),
        RegistrationState::Failed {
            status: Some(401),
            retry_at: UNIX0 + 30
        }
    );
}

#[test]
fn a_refused_registration_is_retried_with_doubling_backoff() {
    let (mut server, registrar, mut seen, first) = start_registration();
    let mut retried_after = Vec::new();
    let mut last = server.elapsed();
    let mut next = Some(first);
    for _ in 0..6 {
        let r = next
            .take()
            .unwrap_or_else(|| next_register(&mut server, &registrar, &mut seen));
        retried_after.push((server.elapsed() - last).as_secs());
        answer(&mut server, &registrar, &r, 403, &[]);
        last = server.elapsed();
        let RegistrationState::Failed { status, retry_at } = registration(&server) else {
            panic!("failed expected");
        };
        assert_eq!(status, Some(403));
        assert!(retry_at > UNIX0 + last.as_secs());
        // The next attempt comes no earlier than promised.
        server.run_for(Duration::from_secs(retry_at - UNIX0 - last.as_secs() - 1));
        assert!(fresh(&mut server, &registrar, &mut seen).is_empty());
        server.run_for(Duration::from_secs(1));
    }
    assert_eq!(retried_after[1..], [30, 60, 120, 240, 480]);
    // At most ten minutes.
    let r = next_register(&mut server, &registrar, &mut seen);
    answer(&mut server, &registrar, &r, 403, &[]);
    let RegistrationState::Failed { retry_at, .. } = registration(&server) else {
        panic!("failed expected");
    };
    assert_eq!(retry_at - UNIX0 - server.elapsed().as_secs(), 600);
}

#[test]
fn a_removed_trunk_and_the_shutdown_unregister_with_expires_zero() {
    let (mut server, registrar, mut seen) = registered("600");
    set(&mut server, &[trunk("other", &[GW1], None)]);
    let remove = next_register(&mut server, &registrar, &mut seen);
    assert_eq!(remove.headers().get(HeaderName::Expires), Some("0"));
    // The provider challenges the removal too: answered once.
    unauthorized(
        &mut server,
        &registrar,
        &remove,
        r#"Digest realm="carrier.example", nonce="n2""#,
    );
    let again = next_register(&mut server, &registrar, &mut seen);
    assert_eq!(again.headers().get(HeaderName::Expires), Some("0"));
    assert!(again.headers().get(HeaderName::Authorization).is_some());
    answer(&mut server, &registrar, &again, 200, &[]);
    server.run_for(Duration::from_secs(3600));
    assert!(
        fresh(&mut server, &registrar, &mut seen).is_empty(),
        "no refresh after removal"
    );

    let (mut server, registrar, mut seen) = registered("600");
    server.command(|service, now, ep| service.shutdown(now, ep));
    let remove = next_register(&mut server, &registrar, &mut seen);
    assert_eq!(remove.headers().get(HeaderName::Expires), Some("0"));
    assert_eq!(registration(&server), RegistrationState::Off);
}

#[test]
fn a_trunk_removed_while_its_register_is_in_flight_unregisters_and_ignores_the_late_answer() {
    let (mut server, registrar, mut seen, first) = start_registration();
    set(&mut server, &[]);
    let remove = next_register(&mut server, &registrar, &mut seen);
    assert_eq!(remove.headers().get(HeaderName::Expires), Some("0"));
    assert!(server.service.trunks().states().is_empty());
    // The challenge to the replaced REGISTER is not answered.
    let challenge = r#"Digest realm="carrier.example", nonce="n1""#;
    unauthorized(&mut server, &registrar, &first, challenge);
    assert!(fresh(&mut server, &registrar, &mut seen).is_empty());
    answer(&mut server, &registrar, &remove, 200, &[]);
    server.run_for(Duration::from_secs(3600));
    assert!(fresh(&mut server, &registrar, &mut seen).is_empty());
}

#[test]
fn a_registrar_whose_name_does_not_resolve_is_a_failed_registration_retried_later() {
    let mut server = Server::new();
    let mut spec = registering(600);
    let register = spec.register.as_mut().unwrap();
    register.registrar = "sip:reg.nowhere.example".to_owned();
    set(&mut server, &[spec]);
    server.run_for(Duration::from_millis(10));
    assert_eq!(
        registration(&server),
        RegistrationState::Failed {
            status: None,
            retry_at: UNIX0 + 30
        }
    );
    let asked = |server: &Server| {
        server
            .count(|e| matches!(e, Effect::Resolve { uri, .. } if uri == "sip:reg.nowhere.example"))
    };
    assert_eq!(asked(&server), 1);
    server.run_for(Duration::from_secs(30));
    assert_eq!(asked(&server), 2, "asked again after the backoff");
}
