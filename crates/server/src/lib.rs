//! Switchboard's server policies, sans-IO: the registrar and location
//! service ([`registrar`]), digest authentication ([`auth`]) and protection
//! against floods, password guessing and overload ([`protect`]), and the
//! stateful proxy ([`proxy`]).
//!
//! Like every crate above `switchboard-net`, this one does no I/O, reads no
//! clock and draws no ambient randomness: the current time comes in as an
//! argument (`Instant` for in-memory timers, Unix seconds for what is
//! stored: bindings and nonces), secrets and RNGs are injected. Storage is
//! the application's, on this crate's types: the registrar hands over
//! [`registrar::BindingChange`]s to store and takes stored
//! [`registrar::Binding`]s back at start; the authenticator takes a user's
//! [`storage::Ha1Set`] as looked up. [`storage`] defines the traits a back
//! end (`switchboard-store`) implements for them.
//!
//! A REGISTER goes through the three in this order:
//!
//! ```text
//! Protection::admit ─► Authenticator (+ Protection::auth_gate / record_auth)
//!                   ─► Registrar::handle_register ─► store ─► Registrar::complete
//! ```
#![forbid(unsafe_code)]

pub mod auth;
pub mod bodies;
mod call_timers;
pub mod calls;
pub mod cdr;
pub mod cluster;
pub mod events;
pub mod hangup;
mod live_call;
pub mod media;
mod metrics;
pub mod protect;
pub mod proxy;
pub mod registrar;
pub mod service;
mod session_policy;
pub mod storage;
pub mod trunks;
mod uri_eq;
mod util;

pub use auth::{AuthConfig, AuthResult, AuthSecret, Authenticator, Identity};
pub use live_call::{LiveCall, LiveState};
pub use metrics::ServiceMetrics;
pub use protect::{Admission, AuthGate, ProtectConfig, Protection};
pub use proxy::{Incoming, Proxy, ProxyConfig, ProxyEvent, Target, TargetSet};
pub use registrar::{
    Aor, Binding, BindingChange, BindingKey, PendingResponse, RegisterError, RegisterOutcome,
    Registrar, RegistrarConfig,
};
pub use service::{Completion, Effect, Service, ServiceConfig};
pub use session_policy::SessionTimerPolicy;
pub use storage::{BindingStore, Ha1Set, ImportSummary, User, UserStore};
pub use uri_eq::uri_equivalent;
