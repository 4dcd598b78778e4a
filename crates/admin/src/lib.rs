//! The operator's HTTP API: JSON under `/api/v1`, behind bearer tokens.
//!
//! This crate does I/O (an HTTP listener on tokio, TLS when bound beyond
//! loopback, token look-ups in the store), like `switchboard-net`; the
//! protocol crates never depend on it.
//!
//! The API never touches the server's `Service`: the service lives on the
//! network driver's task. A handler sends an [`AdminQuery`] to the driver
//! through the [`Driver`] the binary gives, with a oneshot reply, and
//! awaits the [`AdminAnswer`]; the binary fills the answers from the
//! service's public getters. What the API returns are the plain serde
//! snapshots of this crate ([`Status`], [`Registration`], [`Trunk`],
//! [`PlanSummary`], [`Call`]), so that the CLI reads them with the same types.
//!
//! * [`router`]: the routes (tested with tower's `oneshot`, no socket);
//! * [`AdminServer`]: the listener (plain HTTP on loopback, HTTPS with the
//!   server's certificate elsewhere);
//! * [`Exposition`] and [`Histogram`]: the Prometheus text at `/metrics`
//!   (open on loopback, behind a token beyond it), rendered by the binary
//!   from the service's snapshot;
//! * the web dashboard at `/` (its files embedded, [`DASHBOARD_CSP`]),
//!   fed by `GET /api/v1/events` (server-sent [`DashboardSnapshot`]s,
//!   with the [`PerMinute`] series the binary keeps);
//! * [`Token`] and [`Tokens`]: bearer tokens, shown once and stored as
//!   their SHA-256 (`switchboard token create`).

#![forbid(unsafe_code)]

mod auth;
mod call;
mod dashboard;
mod dashboard_snapshot;
mod error;
mod events;
mod exposition;
mod histogram;
mod listener;
mod operations;
mod paging;
mod per_minute;
mod plan;
mod presence;
mod problem;
mod query;
mod record;
mod registration;
mod route_test;
mod routes;
mod server;
mod status;
mod store_access;
mod token;
mod trunk;
mod user;
mod users;

pub use auth::Tokens;
pub use call::{Call, CallParty, HungUp};
pub use dashboard::{DASHBOARD_CSP, DASHBOARD_PATHS};
pub use dashboard_snapshot::{
    DASHBOARD_LIST_LIMIT, DashboardCall, DashboardRegistration, DashboardSnapshot,
};
pub use error::StartError;
pub use exposition::{Exposition, METRICS_CONTENT_TYPE, MetricKind};
pub use histogram::{Histogram, LATENCY_BUCKETS};
pub use paging::{DEFAULT_PAGE, MAX_PAGE, RegistrationPage};
pub use per_minute::{MINUTES_KEPT, MinuteCounts, PerMinute, Totals};
pub use plan::{PlanSummary, PlanTrunk};
pub use presence::Presence;
pub use problem::{PROBLEM_JSON, Problem};
pub use query::{AdminAnswer, AdminQuery, AdminReply, Driver, UserFilter};
pub use record::{Record, parse_time};
pub use registration::{Registration, RegistrationsRemoved};
pub use route_test::{PlanReload, RouteTest, RouteTested};
pub use routes::{MetricsAccess, ROUTES, openapi_document, router, router_with};
pub use server::{AdminConfig, AdminServer};
pub use status::{
    Certificate, ClusterNode, ClusterStatus, Counts, Limits, Listener, ServerInfo, Status,
};
pub use token::Token;
pub use trunk::{Gateway, Trunk, TrunkRegistration};
pub use user::{Group, NewUser, UserEntry, UserPatch, UsersRemoved, groups_of, user_name_problem};
