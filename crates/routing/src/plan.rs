//! The plan: loaded and checked once, then only read.
//!
//! CONTRACT SKELETON: the schema, the checks and `decide` are being
//! written (see the routing helper's branch); the signatures are fixed.

use std::net::IpAddr;

use crate::{CallFacts, Decision, GatewayHealth, Outcome, TrunkSpec};

/// One file's text and the name errors call it by.
#[derive(Debug, Clone, Copy)]
pub struct PlanSource<'a> {
    /// The path, as errors print it.
    pub path: &'a str,
    /// The TOML text.
    pub text: &'a str,
}

/// Why a plan does not load: the operator's file is wrong. Every variant
/// names the file, the line and (when it is about one) the rule.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The TOML does not parse or a key is unknown.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A rule, trunk, group or site is wrong.
    #[error("{path}:{line}: {what}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The line (1-based) where the item starts.
        line: usize,
        /// The item (`route "international"`, `trunk "carrier1"`).
        what: String,
        /// What is wrong.
        message: String,
    },
}

/// A checked dial plan.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    version: String,
    trunks: Vec<TrunkSpec>,
}

impl Plan {
    /// Loads and checks a plan from its sources (the main configuration
    /// file and the plan's own file, when it has one).
    pub fn load(sources: &[PlanSource<'_>]) -> Result<Self, PlanError> {
        let _ = sources;
        Ok(Self::default())
    }

    /// A short fingerprint of the plan's text, logged at every load.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether the plan has any rule, DID or trunk at all.
    pub fn is_empty(&self) -> bool {
        self.trunks.is_empty()
    }

    /// The trunks.
    pub fn trunks(&self) -> &[TrunkSpec] {
        &self.trunks
    }

    /// The trunk whose inbound networks hold `source`.
    pub fn inbound_trunk(&self, source: IpAddr) -> Option<&TrunkSpec> {
        let _ = source;
        None
    }

    /// Whether `source` is trusted (a trunk's inbound network or a
    /// declared trusted network): not subject to the per-source rate
    /// limits meant for phones.
    pub fn is_trusted(&self, source: IpAddr) -> bool {
        let _ = source;
        false
    }

    /// The site whose networks hold `source`.
    pub fn site_of(&self, source: IpAddr) -> Option<&str> {
        let _ = source;
        None
    }

    /// Decides where a call goes.
    pub fn decide(&self, call: &CallFacts<'_>, health: &dyn GatewayHealth) -> Decision {
        let _ = health;
        Decision {
            outcome: Outcome::NoRoute,
            rule: None,
            number: call.to.to_owned(),
            trace: vec!["no rule matched".to_owned()],
        }
    }
}
