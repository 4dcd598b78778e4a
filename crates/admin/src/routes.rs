//! The routes under `/api/v1` and their handlers. Each asks the driver
//! and returns a snapshot as JSON; every error is a problem document.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router, middleware};
use serde::Deserialize;
use switchboard_store::RecordQuery;
use tokio::sync::watch;

use crate::auth::{Tokens, require_token};
use crate::events::LiveFeed;
use crate::paging::{page_limit, page_response};
use crate::record::{Record, parse_time};
use crate::store_access::with_store;
use crate::{AdminAnswer, AdminQuery, Driver, Problem, ServerInfo, Status, UserFilter};
use crate::{operations, users};

/// Every route: method and path. The OpenAPI document lists each one (a
/// test holds them together).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/status"),
    ("GET", "/api/v1/registrations"),
    ("GET", "/api/v1/trunks"),
    ("GET", "/api/v1/plan"),
    ("GET", "/api/v1/records"),
    ("GET", "/api/v1/calls"),
    ("DELETE", "/api/v1/calls/{call_id}"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users/{user}"),
    ("PATCH", "/api/v1/users/{user}"),
    ("DELETE", "/api/v1/users/{user}"),
    ("DELETE", "/api/v1/registrations/{user}"),
    ("GET", "/api/v1/presence"),
    ("GET", "/api/v1/presence/{user}"),
    ("POST", "/api/v1/routes/reload"),
    ("POST", "/api/v1/routes/test"),
];

/// The OpenAPI 3 document, written by hand next to the routes.
const OPENAPI: &str = include_str!("openapi.json");

/// The OpenAPI 3 document served at `GET /api/v1/openapi.json`.
#[must_use]
pub fn openapi_document() -> &'static str {
    OPENAPI
}

/// Whether `GET /metrics` needs a token like the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Open: the listener is on loopback, where a scraper on the host
    /// needs no token.
    Open,
    /// Behind `Authorization: Bearer <token>` (a listener beyond loopback).
    Token,
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub(crate) struct AdminState {
    pub(crate) driver: Driver,
    pub(crate) info: Arc<ServerInfo>,
    started: Instant,
    /// Its store handle also serves the records and the users (read and
    /// written off the driver).
    pub(crate) tokens: Arc<Tokens>,
    /// The dashboards' event streams.
    live: Arc<LiveFeed>,
}

/// The API: the routes behind the token check, problem documents for
/// unknown paths (404) and methods (405). `info` is what `/status` says
/// besides the driver's counts; uptime counts from this call.
pub fn router(driver: Driver, info: ServerInfo, tokens: Arc<Tokens>) -> Router {
    router_with(driver, info, tokens, MetricsAccess::Token)
}

/// [`router`] with `GET /metrics` (the Prometheus text) open or behind
/// the token.
pub fn router_with(
    driver: Driver,
    info: ServerInfo,
    tokens: Arc<Tokens>,
    metrics_access: MetricsAccess,
) -> Router {
    let (stopping, _) = watch::channel(false);
    router_stopping(driver, info, tokens, metrics_access, Arc::new(stopping))
}

/// [`router_with`], its event streams ended when `stopping` turns true.
pub(crate) fn router_stopping(
    driver: Driver,
    info: ServerInfo,
    tokens: Arc<Tokens>,
    metrics_access: MetricsAccess,
    stopping: Arc<watch::Sender<bool>>,
) -> Router {
    let state = AdminState {
        live: LiveFeed::new(driver.clone(), stopping),
        driver,
        info: Arc::new(info),
        started: Instant::now(),
        tokens: Arc::clone(&tokens),
    };
    let api = Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/registrations", get(registrations))
        .route("/api/v1/trunks", get(trunks))
        .route("/api/v1/plan", get(plan))
        .route("/api/v1/records", get(records))
        .route("/api/v1/calls", get(calls))
        .route("/api/v1/calls/{call_id}", delete(hang_up))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/events", get(events))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route(
            "/api/v1/users/{user}",
            get(users::show).patch(users::change).delete(users::remove),
        )
        .route(
            "/api/v1/registrations/{user}",
            delete(operations::unregister),
        )
        .route("/api/v1/presence", get(operations::presence))
        .route("/api/v1/presence/{user}", get(operations::presence_of))
        .route("/api/v1/routes/reload", post(operations::reload_plan))
        .route("/api/v1/routes/test", post(operations::test_route));
    let check = middleware::from_fn_with_state(tokens, require_token);
    // The token layer covers the routes added before it.
    let routes = match metrics_access {
        MetricsAccess::Open => api.route_layer(check).route("/metrics", get(metrics)),
        MetricsAccess::Token => api.route("/metrics", get(metrics)).route_layer(check),
    };
    // The dashboard's page and files need no token (the page asks for one).
    routes
        .merge(crate::dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The driver answered with another kind than asked: a bug of the binary.
pub(crate) fn wrong_answer(answer: &AdminAnswer) -> Problem {
    tracing::error!(?answer, "admin: the driver answered another question");
    Problem::internal("the server answered another question")
}

async fn status(State(state): State<AdminState>) -> Result<Json<Status>, Problem> {
    let counts = match state.driver.ask(AdminQuery::Counts).await? {
        AdminAnswer::Counts(counts) => counts,
        other => return Err(wrong_answer(&other)),
    };
    let certificates = match state.driver.ask(AdminQuery::Certificates).await? {
        AdminAnswer::Certificates(certificates) => certificates,
        other => return Err(wrong_answer(&other)),
    };
    let cluster = match state.driver.ask(AdminQuery::Cluster).await? {
        AdminAnswer::Cluster(cluster) => cluster,
        other => return Err(wrong_answer(&other)),
    };
    let mut status = Status::new(
        &state.info,
        state.started.elapsed().as_secs(),
        counts,
        certificates,
    );
    status.cluster = cluster;
    Ok(Json(status))
}

/// `GET /registrations`' query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationsParams {
    /// `alice` or `alice@example.com`.
    user: Option<String>,
    /// Most bindings in the page (1 to 10,000; default 1000).
    limit: Option<usize>,
    /// The cursor of the page: the last address of record of the one
    /// before (the `Link` header's `next` names it).
    after: Option<String>,
}

async fn registrations(
    State(state): State<AdminState>,
    params: Result<Query<RegistrationsParams>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(params) = params.map_err(|e| Problem::bad_request(e.body_text()))?;
    let user = match params.user.as_deref() {
        None => None,
        Some(text) => Some(UserFilter::parse(text).ok_or_else(|| {
            Problem::bad_request(format!(
                "user {text:?}: a user name (alice) or an address (alice@example.com)"
            ))
        })?),
    };
    let limit = page_limit(params.limit)?;
    let query = AdminQuery::RegistrationsPage {
        user,
        after: params.after.clone(),
        limit,
    };
    match state.driver.ask(query).await? {
        AdminAnswer::RegistrationsPage(page) => Ok(page_response(
            &page.items,
            "/api/v1/registrations",
            limit,
            &[("user", params.user.as_deref())],
            page.next.as_deref(),
        )),
        other => Err(wrong_answer(&other)),
    }
}

async fn trunks(State(state): State<AdminState>) -> Result<Response, Problem> {
    match state.driver.ask(AdminQuery::Trunks).await? {
        AdminAnswer::Trunks(list) => Ok(Json(list).into_response()),
        other => Err(wrong_answer(&other)),
    }
}

async fn plan(State(state): State<AdminState>) -> Result<Response, Problem> {
    match state.driver.ask(AdminQuery::Plan).await? {
        AdminAnswer::Plan(plan) => Ok(Json(plan).into_response()),
        other => Err(wrong_answer(&other)),
    }
}

async fn calls(State(state): State<AdminState>) -> Result<Response, Problem> {
    match state.driver.ask(AdminQuery::Calls).await? {
        AdminAnswer::Calls(list) => Ok(Json(list).into_response()),
        other => Err(wrong_answer(&other)),
    }
}

async fn hang_up(
    State(state): State<AdminState>,
    Path(call_id): Path<String>,
) -> Result<Response, Problem> {
    let query = AdminQuery::HangUp {
        call_id: call_id.clone(),
    };
    match state.driver.ask(query).await? {
        AdminAnswer::HungUp(Some(done)) => Ok(Json(done).into_response()),
        AdminAnswer::HungUp(None) => Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("no call in progress has Call-ID {call_id:?}"),
        )),
        other => Err(wrong_answer(&other)),
    }
}

async fn events(State(state): State<AdminState>) -> Result<Response, Problem> {
    state.live.stream().await
}

async fn metrics(State(state): State<AdminState>) -> Result<Response, Problem> {
    match state.driver.ask(AdminQuery::Metrics).await? {
        AdminAnswer::Metrics(text) => Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::METRICS_CONTENT_TYPE),
            )],
            text,
        )
            .into_response()),
        other => Err(wrong_answer(&other)),
    }
}

/// `GET /records`' query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordsParams {
    /// The earliest start: Unix seconds, RFC 3339 or a day.
    since: Option<String>,
    /// The latest start (exclusive), the same forms.
    until: Option<String>,
    /// Most records (1 to 10,000; default 1000).
    limit: Option<usize>,
}

/// A `since` or `until` parameter in Unix milliseconds.
fn time_param(name: &str, value: Option<&str>) -> Result<Option<u64>, Problem> {
    value
        .map(|text| {
            parse_time(text).ok_or_else(|| {
                Problem::bad_request(format!(
                    "{name} {text:?}: Unix seconds, an RFC 3339 time or a day (2026-12-06)"
                ))
            })
        })
        .transpose()
}

async fn records(
    State(state): State<AdminState>,
    params: Result<Query<RecordsParams>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(params) = params.map_err(|e| Problem::bad_request(e.body_text()))?;
    let limit = page_limit(params.limit)?;
    let query = RecordQuery {
        since_ms: time_param("since", params.since.as_deref())?,
        until_ms: time_param("until", params.until.as_deref())?,
        limit: Some(limit),
    };
    let list = with_store(&state.tokens, "the records cannot be read", move |store| {
        store.call_records(&query)
    })
    .await?;
    let list: Vec<Record> = list.into_iter().map(Record::from).collect();
    Ok(Json(list).into_response())
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

pub(crate) async fn not_found(uri: Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        format!("no resource at {}: see /api/v1/openapi.json", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
