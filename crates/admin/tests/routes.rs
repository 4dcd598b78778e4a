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
    AdminAnswer, AdminConfig, AdminQuery, AdminServer, Call, CallParty, Certificate, Counts,
    Driver, Gateway, HungUp, Limits, Listener, METRICS_CONTENT_TYPE, MetricsAccess, PROBLEM_JSON,
    PlanSummary, PlanTrunk, Problem, ROUTES, Record, Registration, ServerInfo, StartError, Status,
    Token, Tokens, Trunk, TrunkRegistration, openapi_document, router, router_with,
};
use switchboard_store::{
    AdminToken, AnyStore, CallRecord, Disposition, EventStateStore, HangupSide, SqliteStore,
    StateChange,
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
        AdminQuery::Registrations { user } => {
            let all = [
                ("alice", "example.com"),
                ("bob", "example.com"),
                ("alice", "other.org"),
            ];
            AdminAnswer::Registrations(
                all.iter()
                    .filter(|(u, d)| user.as_ref().is_none_or(|f| f.matches(u, d)))
                    .map(|(u, d)| registration(&format!("sip:{u}@{d}")))
                    .collect(),
            )
        }
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
    }
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
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
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
        body: body.to_vec(),
    }
}

impl Api {
    async fn get(&self, uri: &str) -> Answer {
        let bearer = format!("Bearer {}", self.token.as_str());
        send(&self.router, "GET", uri, Some(&bearer)).await
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
    }
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
