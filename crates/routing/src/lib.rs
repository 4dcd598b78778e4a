//! The dial plan (sans-IO): which calls go where.
//!
//! A [`Plan`] is loaded from TOML text (the main configuration file or a
//! file of its own), checked once (an error names the file, the line and
//! the rule), and then only read: [`Plan::decide`] takes a call's
//! [`CallFacts`] and the gateways' health and returns a [`Decision`] with
//! the trace of every rule tried. The server swaps whole plans on reload;
//! a call keeps the decision it was given.
//!
//! Nothing here does I/O or reads the clock: the time of the call is one
//! of its facts, and the gateways' health is asked through
//! [`GatewayHealth`].
#![forbid(unsafe_code)]

mod decision;
mod facts;
mod health;
mod plan;
mod trunk;

pub use decision::{Decision, Outcome, RingStrategy, Route, RouteTarget, TrunkAttempt};
pub use facts::{CallFacts, CallerKind};
pub use health::{AssumeUp, GatewayHealth};
pub use plan::{Plan, PlanError, PlanSource};
pub use trunk::{CallerIdMode, Credentials, GatewaySpec, ProbeSpec, RegistrationSpec, TrunkSpec};
