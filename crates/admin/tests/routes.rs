//! The API's routes with a fake driver, through tower's `oneshot` on the
//! router (no socket), and the listener's start-up rules.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_admin::{
    AdminAnswer, AdminConfig, AdminQuery, AdminServer, Call, CallMedia, CallMediaLeg, CallParty,
    Certificate, Counts, DASHBOARD_CSP, DASHBOARD_PATHS, DashboardCall, DashboardRegistration,
    DashboardSnapshot, Driver, Gateway, Group, HungUp, Limits, Listener, METRICS_CONTENT_TYPE,
    MINUTES_KEPT, MetricsAccess, MinuteCounts, PROBLEM_JSON, PlanReload, PlanSummary, PlanTrunk,
    Presence, Problem, ROUTES, Record, Registration, RegistrationPage, RouteTested, ServerInfo,
    StartError, Status, Token, Tokens, Trunk, TrunkRegistration, UserEntry, UsersRemoved,
    openapi_document, router, router_with,
};
use switchboard_store::{
    AdminToken, AnyStore, CallRecord, Disposition, EventStateStore, Ha1Set, HangupSide, MediaLeg,
    SqliteStore, StateChange, User, UserStore,
};
use tower::ServiceExt;

fn info() -> ServerInfo {
    ServerInfo {
        version: "9.8.7".into(),
        listeners: vec![Listener {
            transport: "udp".into(),
            address: "127.0.0.1:5060".into(),
        }],
        domains: vec!["example.com".into()],
        limits: Limits {
            max_transactions: 300_000,
            max_bindings: 1_000_000,
            max_contacts_per_aor: 10,
            min_expires: 60,
            max_expires: 7200,
        },
    }
}

fn registration(aor: &str) -> Registration {
    Registration {
        aor: aor.into(),
        contact: format!("sip:{}:5070", aor.trim_start_matches("sip:")),
        expires_in: 3500,
        expires_at: 1_700_003_600,
        q: Some(0.5),
        transport: "udp".into(),
        source: "127.0.0.1:5070".into(),
        user_agent: Some("phone/1".into()),
        instance: None,
        reg_id: None,
        registered_at: 1_700_000_000,
        updated_at: 1_700_000_100,
    }
}

fn certificate() -> Certificate {
    Certificate {
        path: "/etc/switchboard/cert.pem".into(),
        subject: "CN=sip.example.com".into(),
        not_after: 1_700_864_000,
        days_left: 10,
    }
}

/// The fake driver: fixed answers, registrations filtered as asked.
fn answer(query: AdminQuery) -> AdminAnswer {
    match query {
        AdminQuery::Counts => AdminAnswer::Counts(Counts {
            registrations: 2,
            registered_users: 2,
            transactions: 7,
            subscriptions: 1,
            calls: 3,
            users: 5,
        }),
        AdminQuery::Certificates => AdminAnswer::Certificates(vec![certificate()]),
        AdminQuery::Cluster => AdminAnswer::Cluster(None),
        AdminQuery::Registrations { user } => AdminAnswer::Registrations(
            registered()
                .iter()
                .filter(|(u, d)| user.as_ref().is_none_or(|f| f.matches(u, d)))
                .map(|(u, d)| registration(&format!("sip:{u}@{d}")))
                .collect(),
        ),
        AdminQuery::RegistrationsPage { user, after, limit } => {
            let mut aors: Vec<String> = registered()
                .iter()
                .filter(|(u, d)| user.as_ref().is_none_or(|f| f.matches(u, d)))
                .map(|(u, d)| format!("{u}@{d}"))
                .filter(|aor| after.as_ref().is_none_or(|a| aor > a))
                .collect();
            aors.sort();
            let more = aors.len() > limit;
            aors.truncate(limit);
            AdminAnswer::RegistrationsPage(RegistrationPage {
                items: aors
                    .iter()
                    .map(|aor| registration(&format!("sip:{aor}")))
                    .collect(),
                next: aors.last().filter(|_| more).cloned(),
            })
        }
        // Nobody's binding is removed by the fake (the end-to-end test
        // removes real ones).
        AdminQuery::RemoveRegistrations { .. } => AdminAnswer::RegistrationsRemoved(Vec::new()),
        AdminQuery::Groups => AdminAnswer::Groups(vec![Group {
            name: "staff".into(),
            members: vec!["alice".into(), "bob@other.org".into()],
        }]),
        AdminQuery::Presence { user } => AdminAnswer::Presence(
            [("alice", "example.com")]
                .iter()
                .filter(|(u, d)| user.as_ref().is_none_or(|f| f.matches(u, d)))
                .map(|(u, d)| Presence {
                    presentity: format!("sip:{u}@{d}"),
                    basic: Some("open".into()),
                    note: Some("at lunch".into()),
                    activities: vec!["lunch".into()],
                    publications: 1,
                    expires_at: 1_700_003_600,
                    expires_in: 3600,
                })
                .collect(),
        ),
        AdminQuery::ReloadUsers => AdminAnswer::UsersReloaded(1),
        AdminQuery::ReloadPlan => AdminAnswer::PlanReloaded(PlanReload::Loaded {
            version: "def456".into(),
        }),
        AdminQuery::RouteTest(call) if call.time.as_deref() == Some("noon") => {
            AdminAnswer::RouteTimeRefused("noon".into())
        }
        AdminQuery::RouteTest(call) => AdminAnswer::RouteTested(RouteTested {
            plan: "abc123".into(),
            outcome: "route".into(),
            status: None,
            refused: false,
            rule: Some("local".into()),
            number: call.number.clone(),
            trace: vec![format!("rule local: matched {}", call.number)],
            text: format!("rule local: matched {}\nresult: rule local\n", call.number),
        }),
        AdminQuery::Trunks => AdminAnswer::Trunks(vec![Trunk {
            name: "carrier".into(),
            gateways: vec![Gateway {
                uri: "sip:gw1.example.net".into(),
                health: "down".into(),
                probed: true,
                successes: 0,
                failures: 3,
                changed_at: Some(1_700_000_000),
            }],
            registration: TrunkRegistration::Failed {
                status: Some(403),
                retry_at: 1_700_000_060,
            },
        }]),
        AdminQuery::Plan => AdminAnswer::Plan(PlanSummary {
            version: "abc123".into(),
            trunks: vec![PlanTrunk {
                name: "carrier".into(),
                gateways: vec!["sip:gw1.example.net".into()],
                registers: true,
                probed: true,
            }],
        }),
        AdminQuery::Metrics => AdminAnswer::Metrics("# TYPE up gauge\nup 1\n".into()),
        AdminQuery::Calls => AdminAnswer::Calls(vec![live_call()]),
        AdminQuery::HangUp { call_id } => {
            AdminAnswer::HungUp((call_id == live_call().call_id).then(|| HungUp {
                call_id,
                action: "bye".into(),
            }))
        }
        AdminQuery::Dashboard => AdminAnswer::Dashboard(dashboard()),
    }
}

/// What the fake driver's dashboard shows: one registration, no call.
fn dashboard() -> DashboardSnapshot {
    DashboardSnapshot {
        registrations_total: 1,
        registrations: vec![DashboardRegistration {
            aor: "sip:alice@example.com".into(),
            contact: "sip:alice@192.0.2.1:5070".into(),
            transport: "udp".into(),
            expires_at: 1_700_003_600,
            user_agent: Some("phone/1".into()),
        }],
        calls_total: 0,
        calls: Vec::new(),
        trunks: Vec::new(),
        per_minute: (0..MINUTES_KEPT as u64)
            .map(|i| MinuteCounts {
                minute: 1_700_000_040 + 60 * i,
                ..MinuteCounts::default()
            })
            .collect(),
    }
}

/// The users the fake driver has bindings of.
fn registered() -> [(&'static str, &'static str); 3] {
    [
        ("alice", "example.com"),
        ("bob", "example.com"),
        ("alice", "other.org"),
    ]
}

/// The one call the fake driver has in progress.
fn live_call() -> Call {
    Call {
        call_id: "a84b4c76e66710@pc33.example.com".into(),
        caller: CallParty {
            uri: "sip:alice@example.com".into(),
            display: Some("Alice".into()),
            user: Some("alice@example.com".into()),
            devices: vec!["sip:alice@192.0.2.1:5070".into()],
        },
        callee: CallParty {
            uri: "sip:bob@example.com".into(),
            display: None,
            user: Some("bob@example.com".into()),
            devices: vec!["sip:bob@192.0.2.2:5070".into()],
        },
        dialled: "sip:bob@example.com".into(),
        state: "confirmed".into(),
        start_ms: 1_700_000_000_000,
        answer_ms: Some(1_700_000_004_000),
        duration_ms: 64_000,
        rule: None,
        trunk: None,
        media: Some(CallMedia {
            caller: CallMediaLeg {
                relay_ports: vec![30_000],
                packets_in: 3_200,
                bytes_in: 550_400,
                packets_out: 0,
                bytes_out: 0,
                lost: Some(0),
                jitter: Some(12),
            },
            // The callee's audio never arrives: the operator sees it here.
            callee: CallMediaLeg {
                relay_ports: vec![30_002],
                packets_in: 0,
                bytes_in: 0,
                packets_out: 3_200,
                bytes_out: 550_400,
                lost: None,
                jitter: None,
            },
        }),
    }
}

/// A store with one token; the router on it with the fake driver.
struct Api {
    store: Arc<AnyStore>,
    router: Router,
    token: Token,
}

fn token_in(store: &AnyStore, name: &str) -> Token {
    let token = Token::generate(&mut StdRng::from_os_rng());
    store
        .add_admin_token(&AdminToken {
            name: name.into(),
            hash: token.hash(),
            created: 1_700_000_000,
        })
        .unwrap();
    token
}

fn api_with(driver: Driver) -> Api {
    let store = Arc::new(AnyStore::from(SqliteStore::open_in_memory().unwrap()));
    let token = token_in(&store, "test");
    let tokens = Arc::new(Tokens::load(Arc::clone(&store)).unwrap());
    Api {
        router: router(driver, info(), tokens),
        store,
        token,
    }
}

fn api() -> Api {
    api_with(Driver::new(|query, reply| {
        let _ = reply.send(answer(query));
        true
    }))
}

struct Answer {
    status: StatusCode,
    content_type: String,
    link: Option<String>,
    www_authenticate: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The problem document, checked to be one.
    fn problem(&self, status: StatusCode) -> Problem {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.content_type, PROBLEM_JSON);
        let problem: Problem = self.json();
        assert_eq!(problem.status, status.as_u16());
        assert!(!problem.title.is_empty() && !problem.detail.is_empty());
        problem
    }
}

async fn send(router: &Router, method: &str, uri: &str, authorization: Option<&str>) -> Answer {
    send_body(router, method, uri, authorization, None).await
}

/// [`send`] with a body of this content type.
async fn send_body(
    router: &Router,
    method: &str,
    uri: &str,
    authorization: Option<&str>,
    body: Option<(&str, &str)>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let body = match body {
        Some((content_type, text)) => {
            request = request.header(header::CONTENT_TYPE, content_type);
            Body::from(text.to_owned())
        }
        None => Body::empty(),
    };
    let response = router
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        content_type: headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default(),
        www_authenticate: headers
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned()),
        link: headers
            .get(header::LINK)
            .map(|v| v.to_str().unwrap().to_owned()),
        body: body.to_vec(),
    }
}

impl Api {
    async fn get(&self, uri: &str) -> Answer {
        self.send("GET", uri, None).await
    }

    /// `method uri` with a JSON body.
    async fn json(&self, method: &str, uri: &str, body: &str) -> Answer {
        self.send(method, uri, Some(("application/json", body)))
            .await
    }

    /// `method uri`, with a body of a content type when given.
    async fn send(&self, method: &str, uri: &str, body: Option<(&str, &str)>) -> Answer {
        let bearer = format!("Bearer {}", self.token.as_str());
        send_body(&self.router, method, uri, Some(&bearer), body).await
    }

    /// Each of `uris` is answered 400 with a problem document.
    async fn bad_requests(&self, uris: &[&str]) {
        for uri in uris {
            let problem = self.get(uri).await.problem(StatusCode::BAD_REQUEST);
            assert_eq!(problem.title, "Bad Request", "{uri}");
        }
    }
}

#[tokio::test]
async fn status_joins_the_servers_facts_and_the_drivers_counts() {
    let api = api();
    let answer = api.get("/api/v1/status").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, "application/json");
    let status: Status = answer.json();
    assert_eq!(status.version, "9.8.7");
    assert_eq!(status.domains, ["example.com"]);
    assert_eq!(status.listeners, info().listeners);
    assert_eq!(status.limits.max_transactions, 300_000);
    assert_eq!(status.counts.transactions, 7);
    assert_eq!(status.counts.calls, 3);
}

#[tokio::test]
async fn status_shows_each_certificates_expiry() {
    let api = api();
    let answer = api.get("/api/v1/status").await;
    assert_eq!(answer.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(
        body["certificates"],
        serde_json::json!([{
            "path": "/etc/switchboard/cert.pem",
            "subject": "CN=sip.example.com",
            "not_after": 1_700_864_000,
            "days_left": 10
        }])
    );
    let status: Status = answer.json();
    assert_eq!(status.certificates, [certificate()]);
}

#[tokio::test]
async fn without_a_valid_token_every_route_is_401_with_a_problem_document() {
    let api = api();
    for (method, path) in ROUTES {
        for authorization in [
            None,
            Some("Bearer not-a-token"),
            Some("Basic YWxpY2U6c2VjcmV0"),
            Some("Bearer"),
        ] {
            let answer = send(&api.router, method, path, authorization).await;
            let problem = answer.problem(StatusCode::UNAUTHORIZED);
            assert_eq!(problem.title, "Unauthorized");
            assert!(
                answer
                    .www_authenticate
                    .as_deref()
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{path} {authorization:?}"
            );
        }
    }
    // The scheme is case-insensitive (RFC 6750 §2.1, RFC 9110 §11.1).
    let lower = format!("bearer {}", api.token.as_str());
    let answer = send(&api.router, "GET", "/api/v1/status", Some(&lower)).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_are_open_on_loopback_and_behind_the_token_beyond() {
    // Open (the listener on loopback): no token needed.
    let store = Arc::new(AnyStore::from(SqliteStore::open_in_memory().unwrap()));
    let tokens = Arc::new(Tokens::load(Arc::clone(&store)).unwrap());
    let open = router_with(driver(), info(), tokens, MetricsAccess::Open);
    let answer = send(&open, "GET", "/metrics", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, METRICS_CONTENT_TYPE);
    assert_eq!(answer.body, b"# TYPE up gauge\nup 1\n");
    // The API stays behind the token.
    let answer = send(&open, "GET", "/api/v1/status", None).await;
    answer.problem(StatusCode::UNAUTHORIZED);
    // Behind the token: 401 without, the text with.
    let api = api();
    let answer = send(&api.router, "GET", "/metrics", None).await;
    answer.problem(StatusCode::UNAUTHORIZED);
    let answer = api.get("/metrics").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, METRICS_CONTENT_TYPE);
}

#[tokio::test]
async fn a_token_created_while_the_api_runs_works_at_once() {
    let api = api();
    let late = token_in(&api.store, "late");
    let bearer = format!("Bearer {}", late.as_str());
    let answer = send(&api.router, "GET", "/api/v1/status", Some(&bearer)).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn registrations_are_listed_and_filtered_by_user() {
    let api = api();
    let all: Vec<Registration> = api.get("/api/v1/registrations").await.json();
    assert_eq!(all.len(), 3);
    let alice: Vec<Registration> = api.get("/api/v1/registrations?user=alice").await.json();
    let aors: Vec<&str> = alice.iter().map(|r| r.aor.as_str()).collect();
    assert_eq!(aors, ["sip:alice@example.com", "sip:alice@other.org"]);
    let one: Vec<Registration> = api
        .get("/api/v1/registrations?user=alice%40other.org")
        .await
        .json();
    assert_eq!(one, [registration("sip:alice@other.org")]);
    let none: Vec<Registration> = api.get("/api/v1/registrations?user=carol").await.json();
    assert!(none.is_empty());
}

#[tokio::test]
async fn malformed_input_is_400_with_a_problem_document() {
    let api = api();
    api.bad_requests(&[
        "/api/v1/registrations?user=",
        "/api/v1/registrations?user=alice@",
        "/api/v1/registrations?usr=alice",
        "/api/v1/registrations?user=a&user=b",
    ])
    .await;
}

/// An answered call that started at `start_s` (Unix seconds), lasted a
/// minute and was hung up by the callee.
fn call_record(call_id: &str, start_s: u64) -> CallRecord {
    let start_ms = start_s * 1000;
    CallRecord {
        id: format!("{call_id};a"),
        call_id: call_id.into(),
        caller: "sip:alice@example.com".into(),
        caller_user: Some("alice@example.com".into()),
        callee: "sip:bob@example.com".into(),
        dialled: "sip:bob@example.com".into(),
        routed_number: None,
        rule: None,
        target: None,
        trunk: None,
        gateway: None,
        source: "udp 192.0.2.1:5060".into(),
        start_ms,
        answer_ms: Some(start_ms + 2_000),
        end_ms: Some(start_ms + 62_000),
        disposition: Disposition::Answered,
        status: Some(200),
        hangup: Some(HangupSide::Callee),
        media: None,
    }
}

#[tokio::test]
async fn a_relayed_calls_record_shows_each_legs_counters_and_an_unrelayed_one_none() {
    let api = api();
    let relayed = CallRecord {
        media: Some(Box::new(switchboard_store::CallMedia {
            caller: MediaLeg {
                packets_in: 3_000,
                bytes_in: 516_000,
                packets_out: 2_990,
                bytes_out: 514_280,
                lost: Some(4),
                jitter: Some(40),
            },
            callee: MediaLeg {
                packets_in: 2_990,
                bytes_in: 514_280,
                packets_out: 3_000,
                bytes_out: 516_000,
                lost: None,
                jitter: None,
            },
        })),
        ..call_record("relayed", 1_765_000_000)
    };
    api.store
        .apply_state(&[
            StateChange::PutCallRecord(relayed),
            StateChange::PutCallRecord(call_record("direct", 1_765_000_001)),
        ])
        .unwrap();
    let all: serde_json::Value = api.get("/api/v1/records").await.json();
    let (relayed, direct) = (&all[0], &all[1]);
    assert_eq!(relayed["relayed"], true);
    assert_eq!(relayed["caller_packets_in"], 3_000);
    assert_eq!(relayed["caller_bytes_out"], 514_280);
    assert_eq!(relayed["caller_lost"], 4);
    assert_eq!(relayed["caller_jitter"], 40);
    assert_eq!(relayed["callee_packets_in"], 2_990);
    assert!(relayed["callee_lost"].is_null(), "no RTCP from the callee");
    assert_eq!(direct["relayed"], false);
    assert!(direct["caller_packets_in"].is_null());
}

#[tokio::test]
async fn records_are_read_from_the_store_by_start_time() {
    let api = api();
    let changes: Vec<StateChange> = [
        ("c1", 1_765_000_000),
        ("c2", 1_765_003_800),
        ("c3", 1_765_090_000),
    ]
    .into_iter()
    .map(|(id, at)| StateChange::PutCallRecord(call_record(id, at)))
    .collect();
    api.store.apply_state(&changes).unwrap();
    let all: Vec<Record> = api.get("/api/v1/records").await.json();
    let ids: Vec<&str> = all.iter().map(|r| r.call_id.as_str()).collect();
    assert_eq!(ids, ["c1", "c2", "c3"]);
    assert_eq!(all[1].start, "2025-12-06T06:50:00Z");
    assert_eq!(all[1].duration_ms, Some(60_000));
    assert_eq!(all[1].disposition, "answered");
    assert_eq!(all[1].hangup.as_deref(), Some("callee"));

    let window: Vec<Record> = api
        .get("/api/v1/records?since=2025-12-06T06:50:00Z&until=1765090000")
        .await
        .json();
    assert_eq!(window, [Record::from(call_record("c2", 1_765_003_800))]);
    let first: Vec<Record> = api.get("/api/v1/records?limit=1").await.json();
    assert_eq!(first[0].call_id, "c1");
    assert_eq!(first.len(), 1);

    api.bad_requests(&[
        "/api/v1/records?since=yesterday",
        "/api/v1/records?until=",
        "/api/v1/records?limit=0",
        "/api/v1/records?limit=10001",
        "/api/v1/records?limit=many",
        "/api/v1/records?from=1",
    ])
    .await;
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let api = api();
    let bearer = format!("Bearer {}", api.token.as_str());
    for path in ["/", "/api/v1/nothing", "/api/v2/status", "/api/v1/status/x"] {
        let problem = api.get(path).await.problem(StatusCode::NOT_FOUND);
        assert!(problem.detail.contains(path), "{}", problem.detail);
    }
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let answer = send(&api.router, method, "/api/v1/status", Some(&bearer)).await;
        let problem = answer.problem(StatusCode::METHOD_NOT_ALLOWED);
        assert!(problem.detail.starts_with(method), "{}", problem.detail);
    }
}

#[tokio::test]
async fn trunks_and_plan_are_answered_as_json() {
    let api = api();
    let trunks: serde_json::Value = api.get("/api/v1/trunks").await.json();
    assert_eq!(trunks[0]["name"], "carrier");
    assert_eq!(trunks[0]["gateways"][0]["health"], "down");
    assert_eq!(trunks[0]["registration"]["state"], "failed");
    assert_eq!(trunks[0]["registration"]["status"], 403);
    let plan: PlanSummary = api.get("/api/v1/plan").await.json();
    assert_eq!(plan.version, "abc123");
    assert_eq!(plan.trunks[0].gateways, ["sip:gw1.example.net"]);
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_no_other() {
    let api = api();
    let answer = api.get("/api/v1/openapi.json").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, openapi_document().as_bytes());
    let document: serde_json::Value = answer.json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        let operation = &paths[*path][method.to_ascii_lowercase()];
        assert!(operation.is_object(), "{method} {path} is not documented");
        assert!(operation["responses"]["200"].is_object(), "{path}");
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "the document lists a route the API lacks"
    );
}

#[tokio::test]
async fn a_driver_that_is_gone_or_confused_gives_a_problem_not_a_panic() {
    let gone = api_with(Driver::new(|_, _| false));
    let problem = gone
        .get("/api/v1/status")
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE);
    assert!(problem.detail.contains("stopping"), "{}", problem.detail);
    let dropped = api_with(Driver::new(|_, reply| {
        drop(reply);
        true
    }));
    dropped
        .get("/api/v1/trunks")
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE);
    let confused = api_with(Driver::new(|_, reply| {
        let _ = reply.send(AdminAnswer::Trunks(Vec::new()));
        true
    }));
    confused
        .get("/api/v1/status")
        .await
        .problem(StatusCode::INTERNAL_SERVER_ERROR);
}

fn tokens() -> Arc<Tokens> {
    Arc::new(
        Tokens::load(Arc::new(AnyStore::from(
            SqliteStore::open_in_memory().unwrap(),
        )))
        .unwrap(),
    )
}

fn driver() -> Driver {
    Driver::new(|query, reply| {
        let _ = reply.send(answer(query));
        true
    })
}

#[tokio::test]
async fn beyond_loopback_the_api_needs_tls_and_a_taken_port_is_an_error() {
    let open = AdminConfig {
        addr: "0.0.0.0:0".parse().unwrap(),
        tls: None,
        info: info(),
    };
    let refused = AdminServer::start(open, driver(), tokens()).await;
    assert!(matches!(refused, Err(StartError::NeedsTls { .. })));

    let first = http_server().await;
    let taken = AdminConfig {
        addr: first.local_addr(),
        tls: None,
        info: info(),
    };
    let second = AdminServer::start(taken, driver(), tokens()).await;
    assert!(matches!(second, Err(StartError::Bind { .. })));
    assert_eq!(first.url(), format!("http://{}", first.local_addr()));
    first.shutdown().await;
}

/// The API over plain HTTP on a free port of 127.0.0.1.
async fn http_server() -> AdminServer {
    let config = AdminConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        info: info(),
    };
    AdminServer::start(config, driver(), tokens())
        .await
        .unwrap()
}

/// A self-signed certificate for `localhost`: the server's configuration
/// and a client that trusts it.
fn tls_pair() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = cert.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

#[tokio::test]
async fn with_a_certificate_the_api_is_https() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (server, token, client_tls) = https_server("127.0.0.1:0").await;
    assert_eq!(server.url(), format!("https://{}", server.local_addr()));

    // Plain HTTP gets no answer: the handshake fails and the connection ends.
    let mut plain = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    plain
        .write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut nothing = Vec::new();
    let _ = plain.read_to_end(&mut nothing).await;
    assert!(
        !nothing.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&nothing)
    );

    let answer = https_get(
        server.local_addr(),
        client_tls,
        "/api/v1/status",
        Some(&token),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"version\":\"9.8.7\""), "{answer}");
    server.shutdown().await;
}

/// The API over HTTPS on `addr`, with one token, and the client's TLS
/// configuration that trusts it.
async fn https_server(addr: &str) -> (AdminServer, Token, Arc<rustls::ClientConfig>) {
    let (server_tls, client_tls) = tls_pair();
    let store = Arc::new(AnyStore::from(SqliteStore::open_in_memory().unwrap()));
    let token = token_in(&store, "tls");
    let server = AdminServer::start(
        AdminConfig {
            addr: addr.parse().unwrap(),
            tls: Some(server_tls),
            info: info(),
        },
        driver(),
        Arc::new(Tokens::load(store).unwrap()),
    )
    .await
    .unwrap();
    (server, token, client_tls)
}

/// `GET path` over TLS to `addr` (the certificate's name: localhost),
/// with the token if any: the whole answer.
async fn https_get(
    addr: std::net::SocketAddr,
    client_tls: Arc<rustls::ClientConfig>,
    path: &str,
    token: Option<&Token>,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(client_tls)
        .connect(name, tcp)
        .await
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {}\r\n", t.as_str()))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn beyond_loopback_metrics_need_the_token() {
    let (server, token, client_tls) = https_server("0.0.0.0:0").await;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.local_addr().port()));
    let refused = https_get(addr, Arc::clone(&client_tls), "/metrics", None).await;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let answer = https_get(addr, client_tls, "/metrics", Some(&token)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("up 1"), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn on_loopback_the_listener_serves_metrics_without_a_token() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = http_server().await;
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("content-type: text/plain; version=0.0.4"),
        "{answer}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn calls_in_progress_are_listed_and_one_is_hung_up_by_its_call_id() {
    let api = api();
    let calls: Vec<Call> = api.get("/api/v1/calls").await.json();
    assert_eq!(calls, [live_call()]);

    let bearer = format!("Bearer {}", api.token.as_str());
    // The Call-ID's '@' percent-encoded, as a client may send it.
    let answer = send(
        &api.router,
        "DELETE",
        "/api/v1/calls/a84b4c76e66710%40pc33.example.com",
        Some(&bearer),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let done: HungUp = answer.json();
    assert_eq!(done.call_id, live_call().call_id);
    assert_eq!(done.action, "bye");

    let unknown = send(&api.router, "DELETE", "/api/v1/calls/nobody", Some(&bearer)).await;
    let problem = unknown.problem(StatusCode::NOT_FOUND);
    assert!(problem.detail.contains("nobody"), "{}", problem.detail);
    let get_one = api.get("/api/v1/calls/nobody").await;
    get_one.problem(StatusCode::METHOD_NOT_ALLOWED);
}

/// One GET of `uri` with an `Accept` header: status and headers, the body
/// left unread (an event stream never ends).
async fn get_accepting(
    router: &Router,
    uri: &str,
    accept: &str,
    authorization: Option<&str>,
) -> axum::response::Response {
    let mut request = Request::builder().uri(uri).header(header::ACCEPT, accept);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

impl Api {
    /// `GET /api/v1/events` with the token: its body, once the answer is
    /// checked to be an event stream.
    async fn events(&self) -> Body {
        let bearer = format!("Bearer {}", self.token.as_str());
        let response = get_accepting(
            &self.router,
            "/api/v1/events",
            "text/event-stream",
            Some(&bearer),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        response.into_body()
    }
}

/// The user `name@domain` as stored, if it is.
fn stored(store: &AnyStore, name: &str, domain: &str) -> Option<User> {
    store.get_user(name, domain).unwrap()
}

#[tokio::test]
async fn a_user_is_created_shown_changed_and_removed_in_the_store() {
    let api = api();
    let created = api
        .json(
            "POST",
            "/api/v1/users",
            r#"{"user":"alice","password":"first","groups":["staff"]}"#,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let alice = UserEntry {
        user: "alice".into(),
        domain: "example.com".into(),
        groups: vec!["staff".into()],
        stored_groups: vec!["staff".into()],
        plan_groups: vec!["staff".into()],
    };
    assert_eq!(
        created.json::<Vec<UserEntry>>(),
        std::slice::from_ref(&alice)
    );
    // Only the HA1 values are kept, and they are the password's.
    let user = stored(&api.store, "alice", "example.com").unwrap();
    assert_eq!(
        user.ha1,
        Ha1Set::from_password("alice", "example.com", "first")
    );
    assert!(!String::from_utf8_lossy(&created.body).contains("ha1"));
    // A retry of the same create changes nothing: 200; another password
    // is a conflict.
    let again = r#"{"user":"alice","domain":"EXAMPLE.com","password":"first"}"#;
    assert_eq!(
        api.json("POST", "/api/v1/users", again).await.status,
        StatusCode::OK
    );
    let other = r#"{"user":"alice","password":"second"}"#;
    api.json("POST", "/api/v1/users", other)
        .await
        .problem(StatusCode::CONFLICT);
    assert_eq!(
        api.get("/api/v1/users").await.json::<Vec<UserEntry>>(),
        std::slice::from_ref(&alice)
    );
    for path in ["/api/v1/users/alice", "/api/v1/users/alice@example.com"] {
        assert_eq!(
            api.get(path).await.json::<Vec<UserEntry>>(),
            std::slice::from_ref(&alice)
        );
    }
    let changed = api
        .json("PATCH", "/api/v1/users/alice", r#"{"password":"second"}"#)
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    let user = stored(&api.store, "alice", "example.com").unwrap();
    assert_eq!(
        user.ha1,
        Ha1Set::from_password("alice", "example.com", "second")
    );
    let removed = api.send("DELETE", "/api/v1/users/alice", None).await;
    assert_eq!(removed.status, StatusCode::OK);
    let removed: UsersRemoved = removed.json();
    assert_eq!(removed.removed, [alice]);
    assert!(stored(&api.store, "alice", "example.com").is_none());
    api.get("/api/v1/users/alice")
        .await
        .problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_users_stored_groups_are_set_by_post_replaced_by_patch_and_shown_beside_the_plans() {
    let api = api();
    let created = api
        .json(
            "POST",
            "/api/v1/users",
            r#"{"user":"alice","password":"pw","groups":["sales","sales"]}"#,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        stored(&api.store, "alice", "example.com").unwrap().groups,
        ["sales"]
    );
    let entry = |groups: &[&str], stored_groups: &[&str]| UserEntry {
        user: "alice".into(),
        domain: "example.com".into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        stored_groups: stored_groups.iter().map(|g| (*g).to_owned()).collect(),
        plan_groups: vec!["staff".into()],
    };
    assert_eq!(
        created.json::<Vec<UserEntry>>(),
        [entry(&["sales", "staff"], &["sales"])]
    );
    let changed = api
        .json(
            "PATCH",
            "/api/v1/users/alice",
            r#"{"groups":["night-shift","admins"]}"#,
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    let expected = entry(
        &["admins", "night-shift", "staff"],
        &["admins", "night-shift"],
    );
    assert_eq!(
        changed.json::<Vec<UserEntry>>(),
        std::slice::from_ref(&expected)
    );
    assert_eq!(
        api.get("/api/v1/users/alice")
            .await
            .json::<Vec<UserEntry>>(),
        [expected]
    );
    // The password is untouched by a groups change.
    assert_eq!(
        stored(&api.store, "alice", "example.com").unwrap().ha1,
        Ha1Set::from_password("alice", "example.com", "pw")
    );
    // A bad name is 422 and keeps the stored groups; [] empties them.
    api.json("PATCH", "/api/v1/users/alice", r#"{"groups":["a b"]}"#)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        stored(&api.store, "alice", "example.com").unwrap().groups,
        ["admins", "night-shift"]
    );
    api.json("PATCH", "/api/v1/users/alice", r#"{"groups":[]}"#)
        .await;
    assert!(
        stored(&api.store, "alice", "example.com")
            .unwrap()
            .groups
            .is_empty()
    );
}

#[tokio::test]
async fn bad_user_input_is_a_problem_and_changes_nothing() {
    let api = api();
    api.store
        .add_user(&User::with_password(
            "bob",
            "example.com",
            "pw",
            1_700_000_000,
        ))
        .unwrap();
    let bob_before = stored(&api.store, "bob", "example.com").unwrap();
    let cases: &[(&str, &str, &str, StatusCode)] = &[
        (
            "POST",
            "/api/v1/users",
            r#"{"user":"alice","password":"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/v1/users",
            r#"{"user":"alice","password":"pw","admin":true}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "POST",
            "/api/v1/users",
            r#"{"user":"alice"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "POST",
            "/api/v1/users",
            r#"{"user":"alice","password":""}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "POST",
            "/api/v1/users",
            r#"{"user":"al ice","password":"pw"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "POST",
            "/api/v1/users",
            r#"{"user":"alice@example.com","password":"pw"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "POST",
            "/api/v1/users",
            r#"{"user":"alice","domain":"elsewhere.org","password":"pw"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "POST",
            "/api/v1/users",
            r#"{"user":"alice","password":"pw","groups":["sa,les"]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "POST",
            "/api/v1/users",
            r#"{"user":"bob","password":"pw2"}"#,
            StatusCode::CONFLICT,
        ),
        (
            "PATCH",
            "/api/v1/users/bob",
            "{}",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "PATCH",
            "/api/v1/users/bob",
            r#"{"password":""}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "PATCH",
            "/api/v1/users/bob",
            r#"{"password":"x","groups":["staff", "not a name"]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "PATCH",
            "/api/v1/users/bob",
            r#"{"pasword":"x"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "PATCH",
            "/api/v1/users/carol",
            r#"{"password":"x"}"#,
            StatusCode::NOT_FOUND,
        ),
        (
            "PATCH",
            "/api/v1/users/bob@",
            r#"{"password":"x"}"#,
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, uri, body, status) in cases {
        let answer = api.json(method, uri, body).await;
        let problem = answer.problem(*status);
        assert!(!problem.detail.is_empty(), "{method} {uri} {body}");
    }
    // Not JSON at all.
    api.send("POST", "/api/v1/users", Some(("text/plain", "alice")))
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    api.send("DELETE", "/api/v1/users/carol", None)
        .await
        .problem(StatusCode::NOT_FOUND);
    // Nothing was written by any of them.
    assert_eq!(api.store.count_users(None).unwrap(), 1);
    assert_eq!(stored(&api.store, "bob", "example.com"), Some(bob_before));
}

#[tokio::test]
async fn users_come_a_page_at_a_time_with_a_link_to_the_next() {
    let api = api();
    for name in ["a1", "a2", "a3", "a4", "a5"] {
        api.store
            .add_user(&User::with_password(
                name,
                "example.com",
                "pw",
                1_700_000_000,
            ))
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut uri = "/api/v1/users?limit=2".to_owned();
    for _ in 0..5 {
        let page = api.get(&uri).await;
        assert_eq!(page.status, StatusCode::OK);
        let users: Vec<UserEntry> = page.json();
        assert!(users.len() <= 2);
        seen.extend(users.into_iter().map(|u| u.user));
        match &page.link {
            Some(link) => {
                uri = link
                    .strip_prefix('<')
                    .and_then(|l| l.split_once(">; rel=\"next\""))
                    .unwrap()
                    .0
                    .to_owned();
            }
            None => break,
        }
    }
    assert_eq!(seen, ["a1", "a2", "a3", "a4", "a5"]);
    api.bad_requests(&[
        "/api/v1/users?limit=0",
        "/api/v1/users?limit=10001",
        "/api/v1/users?after=a1",
        "/api/v1/users?page=2",
    ])
    .await;
}

#[tokio::test]
async fn registrations_come_a_page_at_a_time() {
    let api = api();
    let first = api.get("/api/v1/registrations?limit=2").await;
    let aors: Vec<String> = first
        .json::<Vec<Registration>>()
        .into_iter()
        .map(|r| r.aor)
        .collect();
    assert_eq!(aors, ["sip:alice@example.com", "sip:alice@other.org"]);
    assert_eq!(
        first.link.as_deref(),
        Some("</api/v1/registrations?limit=2&after=alice%40other.org>; rel=\"next\"")
    );
    let rest = api
        .get("/api/v1/registrations?limit=2&after=alice%40other.org")
        .await;
    assert_eq!(rest.json::<Vec<Registration>>().len(), 1);
    assert_eq!(rest.link, None);
    api.bad_requests(&[
        "/api/v1/registrations?limit=0",
        "/api/v1/registrations?limit=many",
    ])
    .await;
}

#[tokio::test]
async fn removing_registrations_checks_its_input() {
    let api = api();
    api.send("DELETE", "/api/v1/registrations/carol", None)
        .await
        .problem(StatusCode::NOT_FOUND);
    for uri in [
        "/api/v1/registrations/carol?contact=",
        "/api/v1/registrations/carol?device=1",
        "/api/v1/registrations/@example.com",
    ] {
        api.send("DELETE", uri, None)
            .await
            .problem(StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn the_dashboard_is_served_without_a_token_under_a_strict_csp() {
    let api = api();
    let expected = [
        ("/", "text/html; charset=utf-8"),
        ("/dashboard", "text/html; charset=utf-8"),
        ("/dashboard.css", "text/css; charset=utf-8"),
        ("/dashboard.js", "text/javascript; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
    ];
    assert_eq!(DASHBOARD_PATHS.len(), expected.len());
    let mut files = String::new();
    for (path, content_type) in expected {
        // What a browser sends when it navigates (or loads a sub-resource).
        let response = get_accepting(&api.router, path, "text/html,*/*;q=0.8", None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers[header::CONTENT_TYPE], content_type, "{path}");
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            DASHBOARD_CSP,
            "{path}"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        files.push_str(std::str::from_utf8(&body).unwrap());
    }
    // Nothing but this origin, and no inline code the policy would need
    // 'unsafe-inline' for.
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(DASHBOARD_CSP.contains(directive), "{DASHBOARD_CSP}");
    }
    assert!(!DASHBOARD_CSP.contains("unsafe"), "{DASHBOARD_CSP}");
    assert!(
        !files.contains("https://"),
        "something fetched from elsewhere"
    );
    assert!(!files.contains("<script>") && !files.contains(" style=\""));
    assert!(files.contains("<script src=\"/dashboard.js\""));
    assert!(files.contains("/api/v1/events") && files.contains("Authorization"));
    // An API client asking `/` for JSON still gets the API's 404.
    let problem = api.get("/").await.problem(StatusCode::NOT_FOUND);
    assert!(
        problem.detail.contains("openapi.json"),
        "{}",
        problem.detail
    );
}

/// The next server-sent event of `body` (at most `limit` away): its
/// `event` and its `data`.
async fn next_event(
    body: &mut Body,
    pending: &mut String,
    limit: std::time::Duration,
) -> Option<(String, String)> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(end) = pending.find("\n\n") {
            let block: String = pending.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .filter_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim_start().to_owned())
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            if block.starts_with(':') {
                continue; // a keep-alive comment
            }
            return Some((field("event:"), field("data:")));
        }
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .ok()??;
        if let Ok(data) = frame.unwrap().into_data() {
            pending.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
}

#[tokio::test]
async fn the_event_stream_sends_a_snapshot_at_once_then_only_changes() {
    let shown = Arc::new(std::sync::Mutex::new(dashboard()));
    let view = Arc::clone(&shown);
    let api = api_with(Driver::new(move |query, reply| {
        let answer = match query {
            AdminQuery::Dashboard => AdminAnswer::Dashboard(view.lock().unwrap().clone()),
            other => answer(other),
        };
        let _ = reply.send(answer);
        true
    }));
    let mut body = api.events().await;
    let mut pending = String::new();
    let second = std::time::Duration::from_secs(1);
    let (event, data) = next_event(&mut body, &mut pending, second).await.unwrap();
    assert_eq!(event, "snapshot");
    let message: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert!(message["server_ms"].as_u64().unwrap() > 1_700_000_000_000);
    let first: DashboardSnapshot = serde_json::from_value(message["view"].clone()).unwrap();
    assert_eq!(first, dashboard());

    // Nothing changed: nothing sent (the driver is asked twice a second).
    assert_eq!(next_event(&mut body, &mut pending, 2 * second).await, None);

    // A call starts: the next snapshot has it.
    shown.lock().unwrap().calls.push(DashboardCall {
        call_id: "c1@example.com".into(),
        caller: "alice@example.com".into(),
        callee: "bob@example.com".into(),
        state: "confirmed".into(),
        start_ms: 1_700_000_000_000,
        answer_ms: Some(1_700_000_002_000),
    });
    shown.lock().unwrap().calls_total = 1;
    let (event, data) = next_event(&mut body, &mut pending, 2 * second)
        .await
        .unwrap();
    assert_eq!(event, "snapshot");
    let message: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(message["view"]["calls_total"], 1);
    assert_eq!(
        message["view"]["calls"][0]["answer_ms"],
        1_700_000_002_000_u64
    );
}

#[tokio::test]
async fn the_event_stream_needs_a_valid_token_and_ends_with_the_driver() {
    let api = api();
    for authorization in [None, Some("Bearer not-a-token".to_owned())] {
        let response = get_accepting(
            &api.router,
            "/api/v1/events",
            "text/event-stream",
            authorization.as_deref(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
    // No driver: a problem document, not an empty stream.
    let gone = api_with(Driver::new(|_, _| false));
    gone.get("/api/v1/events")
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE);
    // A driver that stops after the first snapshot: the stream ends.
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&asked);
    let stopping = api_with(Driver::new(move |query, reply| {
        if count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) > 0 {
            return false;
        }
        let _ = reply.send(answer(query));
        true
    }));
    let mut body = stopping.events().await;
    let mut pending = String::new();
    let limit = std::time::Duration::from_secs(3);
    assert!(next_event(&mut body, &mut pending, limit).await.is_some());
    let end = tokio::time::timeout(limit, async {
        while let Some(frame) = body.frame().await {
            frame.unwrap();
        }
    })
    .await;
    assert!(end.is_ok(), "the stream did not end with its driver");
}

#[tokio::test]
async fn stopping_the_listener_ends_open_event_streams_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let store = Arc::new(AnyStore::from(SqliteStore::open_in_memory().unwrap()));
    let token = token_in(&store, "dashboard");
    let config = AdminConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        info: info(),
    };
    let tokens = Arc::new(Tokens::load(store).unwrap());
    let server = AdminServer::start(config, driver(), tokens).await.unwrap();
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let request = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        token.as_str()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("event: snapshot") {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    // The listener waits up to 5 s for requests in progress; an open
    // stream must not be one of them.
    let started = std::time::Instant::now();
    server.shutdown().await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "shutdown took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn open_pages_share_one_poller_which_stops_with_the_last_page() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let asked = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&asked);
    let api = api_with(Driver::new(move |query, reply| {
        if query == AdminQuery::Dashboard {
            count.fetch_add(1, Ordering::SeqCst);
        }
        let _ = reply.send(answer(query));
        true
    }));
    let second = std::time::Duration::from_secs(1);
    let mut pages = Vec::new();
    for _ in 0..3 {
        let mut body = api.events().await;
        let mut pending = String::new();
        assert!(next_event(&mut body, &mut pending, second).await.is_some());
        pages.push(body);
    }
    // Each page asked once for its first snapshot; then one poller asks
    // twice a second for all three (three pollers would ask about 12
    // times in 2 s).
    let before = asked.load(Ordering::SeqCst);
    assert_eq!(before, 3);
    tokio::time::sleep(2 * second).await;
    let polled = asked.load(Ordering::SeqCst) - before;
    assert!((2..=6).contains(&polled), "{polled} questions in 2 s");
    // No page left: nobody asks any more.
    drop(pages);
    tokio::time::sleep(second + second / 5).await;
    let idle = asked.load(Ordering::SeqCst);
    tokio::time::sleep(3 * second / 2).await;
    assert_eq!(asked.load(Ordering::SeqCst), idle);
}

#[tokio::test]
async fn presence_is_listed_and_read_per_user() {
    let api = api();
    let all: Vec<Presence> = api.get("/api/v1/presence").await.json();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].basic.as_deref(), Some("open"));
    let alice: Vec<Presence> = api.get("/api/v1/presence/alice").await.json();
    assert_eq!(alice, all);
    api.get("/api/v1/presence/carol")
        .await
        .problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_plan_is_reloaded_and_tried_through_the_api() {
    let api = api();
    let reloaded = api.send("POST", "/api/v1/routes/reload", None).await;
    assert_eq!(reloaded.status, StatusCode::OK);
    assert_eq!(
        reloaded.json::<PlanReload>(),
        PlanReload::Loaded {
            version: "def456".into()
        }
    );
    let refused = api_with(Driver::new(|_, reply| {
        let _ = reply.send(AdminAnswer::PlanReloaded(PlanReload::Refused {
            detail: "plan.toml line 7: rule \"x\": no trunk \"y\"".into(),
        }));
        true
    }));
    let problem = refused
        .send("POST", "/api/v1/routes/reload", None)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        problem.detail.contains("plan.toml line 7"),
        "{}",
        problem.detail
    );
    assert!(
        problem.detail.contains("running plan stays"),
        "{}",
        problem.detail
    );

    let tested = api
        .json(
            "POST",
            "/api/v1/routes/test",
            r#"{"number":"1234","from":"sip:alice@example.com","source":"10.0.0.1"}"#,
        )
        .await;
    assert_eq!(tested.status, StatusCode::OK);
    let tested: RouteTested = tested.json();
    assert_eq!(
        (tested.outcome.as_str(), tested.number.as_str()),
        ("route", "1234")
    );
    let cases: &[(&str, StatusCode)] = &[
        (r#"{"number":"1234""#, StatusCode::BAD_REQUEST),
        (
            r#"{"number":"1234","from":"sip:a@b","when":"now"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"number":"","from":"sip:a@b"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (r#"{"number":"1234"}"#, StatusCode::UNPROCESSABLE_ENTITY),
        (
            r#"{"number":"1234","from":"sip:a@b","source":"nowhere"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"number":"1234","from":"sip:a@b","time":"noon"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, status) in cases {
        api.json("POST", "/api/v1/routes/test", body)
            .await
            .problem(*status);
    }
}
