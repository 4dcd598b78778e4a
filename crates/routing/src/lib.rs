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
//! of its facts, the gateways' health is asked through [`GatewayHealth`],
//! and cost files are read through a [`FileReader`] the caller supplies
//! ([`Plan::load_with`]).
#![forbid(unsafe_code)]

mod call_view;
mod clock;
mod costs;
mod decide;
mod decision;
mod error;
mod facts;
mod groups;
mod health;
mod load;
mod matcher;
mod network;
mod number;
mod plan;
mod reader;
mod render;
mod rewrite;
mod rule;
mod rule_index;
mod schema;
mod sections;
mod target;
mod test_case;
mod trace;
mod trunk;

pub use decision::{Decision, Outcome, RingStrategy, Route, RouteTarget, TrunkAttempt};
pub use error::PlanError;
pub use facts::{CallFacts, CallerKind};
pub use health::{AssumeUp, GatewayHealth};
pub use plan::{Plan, PlanSource};
pub use reader::{FileReader, NoFiles};
pub use test_case::{ExpectedOutcome, TestCase, TestOutcome};
pub use trunk::{CallerIdMode, Credentials, GatewaySpec, ProbeSpec, RegistrationSpec, TrunkSpec};
