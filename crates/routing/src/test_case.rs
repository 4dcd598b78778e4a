//! `[[test]]` cases: calls written in the plan with the decision they
//! must get, run by `switchboard route check`.

use std::net::IpAddr;

use crate::{Decision, DryCall, GatewayHealth, Outcome, Plan};

/// What kind of outcome a case expects (`expect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpectedOutcome {
    /// `"route"`.
    Route,
    /// `"reject"`.
    Reject,
    /// `"redirect"`.
    Redirect,
    /// `"none"`: no rule matched.
    NoRoute,
}

impl ExpectedOutcome {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "route" => Some(Self::Route),
            "reject" => Some(Self::Reject),
            "redirect" => Some(Self::Redirect),
            "none" => Some(Self::NoRoute),
            _ => None,
        }
    }

    fn of(outcome: &Outcome) -> &'static str {
        match outcome {
            Outcome::Route(_) => "route",
            Outcome::Reject { .. } => "reject",
            Outcome::Redirect { .. } => "redirect",
            _ => "none",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Route => "route",
            Self::Reject => "reject",
            Self::Redirect => "redirect",
            Self::NoRoute => "none",
        }
    }
}

/// One `[[test]]` case, checked at load.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    /// Its name.
    pub name: String,
    /// Where it is written (`path:line`).
    pub location: String,
    /// The caller's URI (a local user when its domain is served).
    pub from: String,
    /// The dialled number or user (or a SIP URI: its user and host).
    pub to: String,
    /// The source address (default 127.0.0.1).
    pub source: IpAddr,
    /// The transport (default `udp`).
    pub transport: String,
    /// When (`None`: the time `run_tests_at` is given).
    pub at_unix: Option<i64>,
    /// The call comes from this trunk.
    pub trunk: Option<String>,
    /// The rule expected to decide (`"none"`: no rule).
    pub expect_rule: Option<String>,
    /// The kind of outcome expected.
    pub expect: Option<ExpectedOutcome>,
    /// The status expected (reject or redirect).
    pub expect_status: Option<u16>,
    /// The first target expected (`user:alice`, `group:sales`, a URI,
    /// `trunk:NAME`).
    pub expect_target: Option<String>,
    /// The number expected after the rewrites.
    pub expect_number: Option<String>,
}

/// How a case went.
#[derive(Debug, Clone, PartialEq)]
pub struct TestOutcome {
    /// The case's name.
    pub name: String,
    /// Whether every expectation held.
    pub passed: bool,
    /// One line per expectation that did not hold (`rule: expected "a", got "b"`).
    pub differences: Vec<String>,
    /// The decision the plan made.
    pub decision: Decision,
}

impl Plan {
    /// Runs the plan's `[[test]]` cases; cases without `at` run at the
    /// Unix epoch (so that results never depend on the clock).
    pub fn run_tests(
        &self,
        served_domains: &[String],
        health: &dyn GatewayHealth,
    ) -> Vec<TestOutcome> {
        self.run_tests_at(served_domains, health, 0)
    }

    /// Runs the plan's `[[test]]` cases; cases without `at` run at
    /// `default_at_unix`.
    pub fn run_tests_at(
        &self,
        served_domains: &[String],
        health: &dyn GatewayHealth,
        default_at_unix: i64,
    ) -> Vec<TestOutcome> {
        self.tests
            .iter()
            .map(|case| self.run_test(case, served_domains, health, default_at_unix))
            .collect()
    }

    fn run_test(
        &self,
        case: &TestCase,
        served: &[String],
        health: &dyn GatewayHealth,
        default_at_unix: i64,
    ) -> TestOutcome {
        let call = DryCall {
            from: &case.from,
            to: &case.to,
            source: case.source,
            transport: &case.transport,
            at_unix: case.at_unix.unwrap_or(default_at_unix),
            trunk: case.trunk.as_deref(),
            // A `[[test]]` case is checked without the store.
            groups: &[],
        };
        let decision = self.dry_run(&call, served, health);
        let differences = case.differences(&decision);
        TestOutcome {
            name: case.name.clone(),
            passed: differences.is_empty(),
            differences,
            decision,
        }
    }
}

impl TestCase {
    /// What differs between the expectations and `decision`.
    fn differences(&self, decision: &Decision) -> Vec<String> {
        let mut differences = Vec::new();
        let mut compare = |what: &str, expected: Option<&str>, got: &str| {
            if let Some(expected) = expected.filter(|expected| *expected != got) {
                differences.push(format!("{what}: expected {expected:?}, got {got:?}"));
            }
        };
        compare(
            "rule",
            self.expect_rule.as_deref(),
            decision.rule.as_deref().unwrap_or("none"),
        );
        compare(
            "outcome",
            self.expect.map(ExpectedOutcome::name),
            ExpectedOutcome::of(&decision.outcome),
        );
        let status = match &decision.outcome {
            Outcome::Reject { status, .. } | Outcome::Redirect { status, .. } => status.to_string(),
            _ => "none".to_owned(),
        };
        compare(
            "status",
            self.expect_status.map(|s| s.to_string()).as_deref(),
            &status,
        );
        let target = match &decision.outcome {
            Outcome::Route(route) => route.target.label(),
            Outcome::Redirect { uri, .. } => uri.clone(),
            _ => "none".to_owned(),
        };
        compare("target", self.expect_target.as_deref(), &target);
        compare("number", self.expect_number.as_deref(), &decision.number);
        differences
    }
}
