//! RFC 3263 planning and ordering on fixed records: no DNS, no runtime.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // tests: panics are failures

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_proto::{HeaderName, Request, SipUri, Uri};

use super::*;
use crate::Transport;

fn sip(s: &str) -> SipUri<'_> {
    match Uri::parse(s).unwrap() {
        Uri::Sip(u) => u,
        _ => panic!("not sip"),
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
    SrvRecord {
        priority,
        weight,
        port,
        target: target.to_owned(),
    }
}

fn naptr(order: u16, preference: u16, services: &str, replacement: &str) -> NaptrRecord {
    NaptrRecord {
        order,
        preference,
        flags: "s".to_owned(),
        services: services.to_owned(),
        replacement: replacement.to_owned(),
    }
}

#[test]
fn numeric_hosts_are_direct() {
    let p = plan(&sip("sip:192.0.2.1")).unwrap();
    assert_eq!(
        p,
        Plan::Direct(Target {
            transport: Transport::Udp,
            addr: addr("192.0.2.1:5060"),
            host: "192.0.2.1".into()
        })
    );
    let Plan::Direct(t) = plan(&sip("sips:192.0.2.1")).unwrap() else {
        panic!()
    };
    assert_eq!(
        (t.transport, t.addr),
        (Transport::Tls, addr("192.0.2.1:5061"))
    );
    let Plan::Direct(t) = plan(&sip("sip:alice@[2001:db8::1]:5070;transport=tcp")).unwrap() else {
        panic!()
    };
    assert_eq!(
        (t.transport, t.addr),
        (Transport::Tcp, addr("[2001:db8::1]:5070"))
    );
    let Plan::Direct(t) = plan(&sip("sips:192.0.2.1;transport=tcp")).unwrap() else {
        panic!()
    };
    assert_eq!(t.transport, Transport::Tls);
    let Plan::Direct(t) = plan(&sip("sip:192.0.2.1;transport=ws")).unwrap() else {
        panic!()
    };
    assert_eq!((t.transport, t.addr.port()), (Transport::Ws, 80));
    let Plan::Direct(t) = plan(&sip("sip:example.com;maddr=192.0.2.9")).unwrap() else {
        panic!()
    };
    assert_eq!(t.addr, addr("192.0.2.9:5060"));
}

#[test]
fn domains_plan_lookups() {
    assert_eq!(
        plan(&sip("sip:example.com:5070")).unwrap(),
        Plan::Address {
            host: "example.com".into(),
            transport: Transport::Udp,
            port: 5070
        }
    );
    assert_eq!(
        plan(&sip("sip:example.com;transport=TCP")).unwrap(),
        Plan::Srv {
            host: "example.com".into(),
            transport: Transport::Tcp
        }
    );
    assert_eq!(
        plan(&sip("sips:example.com")).unwrap(),
        Plan::Naptr {
            host: "example.com".into(),
            secure: true
        }
    );
    assert!(matches!(
        plan(&sip("sip:example.com;transport=sctp")),
        Err(ResolveError::UnsupportedTransport(_))
    ));
    assert!(matches!(
        plan(&sip("sips:example.com;transport=udp")),
        Err(ResolveError::UnsupportedTransport(_))
    ));
}

#[test]
fn naptr_order_and_filtering() {
    let records = vec![
        naptr(50, 50, "SIP+D2U", "_sip._udp.example.com."),
        naptr(10, 60, "SIP+D2T", "_sip._tcp.example.com."),
        naptr(10, 50, "SIPS+D2T", "_sips._tcp.example.com."),
        naptr(5, 10, "SIP+D2S", "_sip._sctp.example.com."), // unsupported
        naptr(1, 1, "E2U+sip", "!^.*$!sip:x@y!"),           // not SIP
        NaptrRecord {
            flags: "a".into(),
            ..naptr(1, 1, "SIP+D2U", "x.example.com.")
        },
    ];
    let all = [Transport::Udp, Transport::Tcp, Transport::Tls];
    assert_eq!(
        naptr_targets(&records, false, &all),
        vec![
            (Transport::Tls, "_sips._tcp.example.com.".to_owned()),
            (Transport::Tcp, "_sip._tcp.example.com.".to_owned()),
            (Transport::Udp, "_sip._udp.example.com.".to_owned()),
        ]
    );
    assert_eq!(
        naptr_targets(&records, true, &all),
        vec![(Transport::Tls, "_sips._tcp.example.com.".to_owned())]
    );
    assert_eq!(
        naptr_targets(&records, false, &[Transport::Udp]),
        vec![(Transport::Udp, "_sip._udp.example.com.".to_owned())]
    );
}

#[test]
fn srv_names_without_naptr() {
    let all = [Transport::Udp, Transport::Tcp, Transport::Tls];
    assert_eq!(
        srv_names("example.com", false, &all),
        vec![
            (Transport::Udp, "_sip._udp.example.com.".to_owned()),
            (Transport::Tcp, "_sip._tcp.example.com.".to_owned()),
        ]
    );
    assert_eq!(
        srv_names("example.com.", true, &all),
        vec![(Transport::Tls, "_sips._tcp.example.com.".to_owned())]
    );
}

#[test]
fn srv_priority_first_then_weight() {
    let records = vec![
        srv(20, 0, 5060, "backup.example.com."),
        srv(10, 60, 5060, "a.example.com."),
        srv(10, 40, 5060, "b.example.com."),
        srv(10, 0, 5060, "."),
    ];
    let mut first = HashMap::new();
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..2000 {
        let order = order_srv(&records, &mut rng);
        assert_eq!(order.len(), 3);
        assert_eq!(order[2].target, "backup.example.com.");
        *first.entry(order[0].target.clone()).or_insert(0u32) += 1;
    }
    let a = first["a.example.com."];
    let b = first["b.example.com."];
    assert_eq!(a + b, 2000);
    // 60:40 by weight, within a wide margin.
    assert!((1050..1350).contains(&a), "a first {a} times");
}

#[test]
fn srv_zero_weights_keep_order_and_are_rarely_first() {
    let only_zero = vec![srv(1, 0, 1, "x."), srv(1, 0, 2, "y.")];
    let mut rng = StdRng::seed_from_u64(1);
    let order = order_srv(&only_zero, &mut rng);
    assert_eq!(order.iter().map(|r| r.port).collect::<Vec<_>>(), vec![1, 2]);

    let mixed = vec![srv(1, 0, 1, "zero."), srv(1, 100, 2, "heavy.")];
    let zero_first = (0..1000)
        .filter(|_| order_srv(&mixed, &mut rng)[0].port == 1)
        .count();
    assert!(zero_first < 30, "zero-weight first {zero_first} times");
}

/// Fixed records instead of DNS.
#[derive(Default)]
struct Fake {
    naptr: HashMap<String, Vec<NaptrRecord>>,
    srv: HashMap<String, Vec<SrvRecord>>,
    ip: HashMap<String, Vec<IpAddr>>,
}

impl Fake {
    fn answer(&self, query: &Query) -> Answer {
        match query {
            Query::Naptr(name) => Answer::Naptr(self.naptr.get(name).cloned().unwrap_or_default()),
            Query::Srv(name) => Answer::Srv(self.srv.get(name).cloned().unwrap_or_default()),
            Query::Ip(name) => Answer::Ip(self.ip.get(name).cloned().unwrap_or_default()),
        }
    }
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

fn run(dns: &Fake, uri: &str) -> Result<Vec<(Transport, SocketAddr)>, ResolveError> {
    let rng = StdRng::seed_from_u64(3);
    let all = [Transport::Udp, Transport::Tcp, Transport::Tls];
    let mut resolution = Resolution::new(&sip(uri), &all, rng)?;
    while let Some(query) = resolution.poll_query() {
        resolution.handle_answer(Ok(dns.answer(&query)));
    }
    resolution
        .finish()
        .map(|v| v.into_iter().map(|t| (t.transport, t.addr)).collect())
}

#[test]
fn full_naptr_srv_a_chain() {
    let mut dns = Fake::default();
    dns.naptr.insert(
        "example.com".into(),
        vec![
            naptr(10, 10, "SIP+D2T", "_sip._tcp.example.com."),
            naptr(20, 10, "SIP+D2U", "_sip._udp.example.com."),
        ],
    );
    dns.srv.insert(
        "_sip._tcp.example.com.".into(),
        vec![
            srv(1, 0, 5080, "p1.example.com."),
            srv(2, 0, 5081, "p2.example.com."),
        ],
    );
    dns.srv.insert(
        "_sip._udp.example.com.".into(),
        vec![srv(1, 0, 5060, "p1.example.com.")],
    );
    dns.ip
        .insert("p1.example.com.".into(), ips(&["192.0.2.1", "2001:db8::1"]));
    dns.ip.insert("p2.example.com.".into(), ips(&["192.0.2.2"]));
    assert_eq!(
        run(&dns, "sip:alice@example.com").unwrap(),
        vec![
            (Transport::Tcp, addr("192.0.2.1:5080")),
            (Transport::Tcp, addr("[2001:db8::1]:5080")),
            (Transport::Tcp, addr("192.0.2.2:5081")),
            (Transport::Udp, addr("192.0.2.1:5060")),
            (Transport::Udp, addr("[2001:db8::1]:5060")),
        ]
    );
    // sips: no TLS NAPTR, no _sips SRV: A records with 5061.
    dns.ip.insert("example.com".into(), ips(&["192.0.2.10"]));
    assert_eq!(
        run(&dns, "sips:bob@example.com").unwrap(),
        vec![(Transport::Tls, addr("192.0.2.10:5061"))]
    );
}

#[test]
fn srv_without_naptr_then_a_fallback() {
    let mut dns = Fake::default();
    dns.srv.insert(
        "_sip._tcp.example.org.".into(),
        vec![srv(0, 0, 5090, "edge.example.org.")],
    );
    dns.ip
        .insert("edge.example.org.".into(), ips(&["198.51.100.5"]));
    dns.ip.insert("example.org".into(), ips(&["198.51.100.1"]));
    assert_eq!(
        run(&dns, "sip:example.org").unwrap(),
        vec![(Transport::Tcp, addr("198.51.100.5:5090"))]
    );
    // transport given: its SRV only; none for UDP → A with 5060.
    assert_eq!(
        run(&dns, "sip:example.org;transport=udp").unwrap(),
        vec![(Transport::Udp, addr("198.51.100.1:5060"))]
    );
    // port given: A only, SRV ignored.
    assert_eq!(
        run(&dns, "sip:example.org:5099;transport=tcp").unwrap(),
        vec![(Transport::Tcp, addr("198.51.100.1:5099"))]
    );
    assert!(matches!(
        run(&dns, "sip:nowhere.invalid"),
        Err(ResolveError::NotFound(_))
    ));
}

fn with_routes(uri: &str, routes: &[&str]) -> Request {
    let mut b = switchboard_proto::RequestBuilder::new(switchboard_proto::Method::Options, uri)
        .from("<sip:a@example.com>", "t")
        .to("<sip:b@example.com>", None)
        .call_id("c")
        .cseq(1);
    for r in routes {
        b = b.header(HeaderName::Route, *r);
    }
    b.build().unwrap()
}

#[test]
fn next_hop_is_a_loose_route_else_the_request_uri() {
    let r = with_routes("sip:bob@example.com", &[]);
    assert_eq!(next_hop(&r).unwrap(), "sip:bob@example.com");
    let r = with_routes(
        "sip:bob@example.com",
        &["<sip:p1.example.net;transport=tcp;lr>, <sip:p2.example.net;lr>"],
    );
    assert_eq!(next_hop(&r).unwrap(), "sip:p1.example.net;transport=tcp;lr");
    let r = with_routes(
        "sip:bob@example.com",
        &[
            "\"Edge\" <sips:edge.example.net;lr>;x=1",
            "<sip:p2.example.net;lr>",
        ],
    );
    assert_eq!(next_hop(&r).unwrap(), "sips:edge.example.net;lr");
    // A strict router: the UAC put it in the Request-URI already.
    let r = with_routes("sip:strict.example.net", &["<sip:bob@example.com>"]);
    assert_eq!(next_hop(&r).unwrap(), "sip:strict.example.net");
    let r = with_routes("sip:bob@example.com", &["<tel:+15551234>"]);
    assert!(matches!(next_hop(&r), Err(ResolveError::NotSip)));
}

fn lookup_failed(name: &str) -> ResolveError {
    ResolveError::Lookup {
        name: name.to_owned(),
        source: "time-out".into(),
    }
}

#[test]
fn failed_lookups_skip_an_srv_target_but_fail_the_uri_host() {
    let rng = StdRng::seed_from_u64(3);
    let uri = sip("sip:example.net;transport=tcp");
    let mut resolution = Resolution::new(&uri, &[Transport::Tcp], rng).unwrap();
    assert_eq!(
        resolution.poll_query(),
        Some(Query::Srv("_sip._tcp.example.net.".into()))
    );
    resolution.handle_answer(Ok(Answer::Srv(vec![
        srv(1, 0, 5070, "down.example.net."),
        srv(2, 0, 5071, "up.example.net."),
    ])));
    assert_eq!(
        resolution.poll_query(),
        Some(Query::Ip("down.example.net.".into()))
    );
    resolution.handle_answer(Err(lookup_failed("down.example.net.")));
    assert_eq!(
        resolution.poll_query(),
        Some(Query::Ip("up.example.net.".into()))
    );
    resolution.handle_answer(Ok(Answer::Ip(ips(&["192.0.2.8"]))));
    // Found through SRV: no A/AAAA fallback for the domain itself.
    assert_eq!(resolution.poll_query(), None);
    let targets = resolution.finish().unwrap();
    assert_eq!(
        targets,
        vec![Target {
            transport: Transport::Tcp,
            addr: addr("192.0.2.8:5071"),
            host: "up.example.net".into()
        }]
    );

    let rng = StdRng::seed_from_u64(3);
    let uri = sip("sip:example.net:5080");
    let mut resolution = Resolution::new(&uri, &[Transport::Udp], rng).unwrap();
    resolution.handle_answer(Err(lookup_failed("example.net")));
    assert_eq!(resolution.poll_query(), None);
    assert!(matches!(
        resolution.finish(),
        Err(ResolveError::Lookup { .. })
    ));
}

#[test]
fn failover_goes_on_only_after_a_failure() {
    let mut walk = Failover::new(["a", "b", "c"]);
    assert_eq!(walk.attempts(), 0);
    assert_eq!(walk.next_target(), Some("a"));
    assert!(walk.failed(AttemptOutcome::TransportError));
    assert_eq!(walk.next_target(), Some("b"));
    assert!(!walk.failed(AttemptOutcome::Final(
        switchboard_proto::StatusCode::NOT_FOUND
    )));
    assert_eq!(walk.remaining().copied().collect::<Vec<_>>(), vec!["c"]);
    assert!(walk.has_next());
    walk.stop();
    assert!(!walk.has_next());
    assert_eq!(walk.next_target(), None, "stopped: no more attempts");
    assert_eq!(walk.attempts(), 2);

    let mut walk = Failover::new([1]);
    assert_eq!(walk.next_target(), Some(1));
    assert!(walk.failed(AttemptOutcome::Timeout));
    assert!(!walk.has_next());
    assert_eq!(walk.next_target(), None, "exhausted");
}
