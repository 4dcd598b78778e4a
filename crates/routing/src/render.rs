//! The text `switchboard route test` prints for a decision.

use std::fmt::Write as _;

use crate::{Decision, Outcome, RingStrategy, Route, RouteTarget};

impl RouteTarget {
    /// The target as plans write it: `user:alice`, `group:sales`, a URI,
    /// or `trunk:NAME` of the first carrier attempt.
    pub fn label(&self) -> String {
        match self {
            Self::User { name, .. } => format!("user:{name}"),
            Self::RingGroup { name, .. } => format!("group:{name}"),
            Self::Uri(uri) => uri.clone(),
            Self::Trunks(attempts) => match attempts.first() {
                Some(first) => format!("trunk:{}", first.trunk),
                None => "trunk:(none)".to_owned(),
            },
        }
    }

    /// One line or more saying where exactly the call goes.
    fn render_into(&self, out: &mut String, heading: &str) {
        match self {
            Self::User { name, domain } => {
                let _ = writeln!(
                    out,
                    "result: {heading} user:{name} (devices of {name}@{domain})"
                );
            }
            Self::RingGroup {
                name,
                members,
                strategy,
                ring_timeout,
            } => {
                let how = match strategy {
                    RingStrategy::Parallel => "parallel",
                    RingStrategy::Sequential => "sequential",
                };
                let members: Vec<String> = members
                    .iter()
                    .map(|(user, domain)| format!("{user}@{domain}"))
                    .collect();
                let _ = writeln!(
                    out,
                    "result: {heading} group:{name} ({how}, {}s: {})",
                    ring_timeout.as_secs(),
                    members.join(", ")
                );
            }
            Self::Uri(uri) => {
                let _ = writeln!(out, "result: {heading} {uri}");
            }
            Self::Trunks(attempts) => {
                let _ = writeln!(out, "result: {heading} {}", self.label());
                for (number, attempt) in attempts.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "result:   attempt {}: {} {} via {}",
                        number + 1,
                        attempt.trunk,
                        attempt.request_uri,
                        attempt.gateway
                    );
                }
            }
        }
    }
}

impl Route {
    fn render_into(&self, out: &mut String) {
        self.target.render_into(out, "route to");
        if let Some(target) = &self.on_busy {
            target.render_into(out, "on busy:");
        }
        if let Some(target) = &self.on_no_answer {
            let after = self
                .no_answer_after
                .map(|d| format!(" after {}s", d.as_secs()))
                .unwrap_or_default();
            target.render_into(out, &format!("on no answer{after}:"));
        }
        if let Some(target) = &self.on_unavailable {
            target.render_into(out, "on unavailable:");
        }
        if self.prefer_caller_site {
            out.push_str("result: the callee's devices at the caller's site ring first\n");
        }
    }
}

impl Decision {
    /// The trace, one line per step, then `result:` lines: the outcome,
    /// the rule, the number, the target with its failover list and the
    /// fallthrough targets.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.trace {
            out.push_str(line);
            out.push('\n');
        }
        match &self.outcome {
            Outcome::Route(route) => route.render_into(&mut out),
            Outcome::Reject { status, reason } => {
                let _ = writeln!(out, "result: reject {status} {reason}");
            }
            Outcome::Redirect { status, uri } => {
                let _ = writeln!(out, "result: redirect {status} {uri}");
            }
            Outcome::NoRoute => {
                out.push_str("result: no route (the server routes as without a plan)\n")
            }
        }
        let _ = writeln!(
            out,
            "result: rule {}",
            self.rule.as_deref().unwrap_or("(none)")
        );
        let _ = writeln!(out, "result: number {}", self.number);
        out
    }
}
