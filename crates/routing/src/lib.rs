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
//!
//! [`Plan::decide`] writes the full trace (dry runs: `switchboard route
//! test`, [`Decision::render`]); [`Plan::decide_untraced`] decides the same
//! without it and skips rules the dialled number cannot match (the call
//! path: about 20 µs for the 10,000th of 10,000 rules with 100,000 cost
//! prefixes, against about 1.3 ms traced; `benches/decide.rs`).
//!
//! ```
//! use std::net::IpAddr;
//! use switchboard_routing::{AssumeUp, CallFacts, CallerKind, Outcome, Plan, PlanSource};
//!
//! let text = r#"
//! [routing]
//! country_code = "49"
//! [groups]
//! staff = ["alice"]
//! [[trunk]]
//! name = "carrier1"
//! gateways = ["sip:gw1.carrier.example"]
//! [[route]]
//! name = "international"
//! to_prefix = ["00"]
//! require_group = "staff"
//! normalize = "e164"
//! trunks = ["carrier1"]
//! "#;
//! let plan = Plan::load(&[PlanSource { path: "routes.toml", text }])?;
//! let call = CallFacts {
//!     to: "0044123456",
//!     to_domain: "example.com",
//!     from_uri: "sip:bob@example.com",
//!     anonymous: false,
//!     caller: CallerKind::User { name: "bob", domain: "example.com", groups: &[] },
//!     source: IpAddr::from([10, 1, 2, 3]),
//!     transport: "udp",
//!     at_unix: 1_796_637_600,
//! };
//! let decision = plan.decide(&call, &AssumeUp);
//! assert_eq!(decision.outcome, Outcome::Reject { status: 403, reason: "Forbidden by dial plan".into() });
//! assert!(decision.render().contains("local user bob@example.com is not in group \"staff\": refused"));
//! # Ok::<(), switchboard_routing::PlanError>(())
//! ```
#![forbid(unsafe_code)]

mod call_view;
mod clock;
mod costs;
mod decide;
mod decision;
mod dry_run;
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
pub use dry_run::DryCall;
pub use error::PlanError;
pub use facts::{CallFacts, CallerKind};
pub use health::{AssumeUp, GatewayHealth};
pub use plan::{Plan, PlanSource};
pub use reader::{FileReader, NoFiles};
pub use test_case::{ExpectedOutcome, TestCase, TestOutcome};
pub use trunk::{CallerIdMode, Credentials, GatewaySpec, ProbeSpec, RegistrationSpec, TrunkSpec};
