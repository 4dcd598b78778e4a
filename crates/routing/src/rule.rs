//! A checked `[[route]]`.

use std::time::Duration;

use crate::call_view::CallView;
use crate::matcher::Matcher;
use crate::number::Numbering;
use crate::rewrite::Rewrite;
use crate::sections::RingGroup;
use crate::target::TargetSpec;
use crate::trace::Trace;

/// What a rule does with a call (exactly one per rule).
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// A local user's devices (`$number`: named by the number).
    User(String),
    /// A ring group.
    RingGroup(RingGroup),
    /// Forward to a URI (`$number` allowed).
    Forward(String),
    /// 3xx to a URI.
    Redirect { status: u16, uri: String },
    /// Answer with a status.
    Reject { status: u16, reason: String },
    /// Trunks (indexes into the plan's), in order or by cost.
    Trunks { trunks: Vec<usize>, lcr: bool },
}

/// A rule: matchers, authorization, rewrites, action, fallthrough.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) name: String,
    pub(crate) matchers: Vec<Matcher>,
    pub(crate) require_group: Option<String>,
    pub(crate) deny_reason: String,
    pub(crate) rewrites: Vec<Rewrite>,
    pub(crate) action: Action,
    pub(crate) on_busy: Option<TargetSpec>,
    pub(crate) on_no_answer: Option<TargetSpec>,
    pub(crate) no_answer_after: Option<Duration>,
    pub(crate) on_unavailable: Option<TargetSpec>,
    pub(crate) prefer_caller_site: bool,
}

impl Rule {
    /// Whether every matcher holds; the trace gets the rule's line (the
    /// first matcher that does not hold, or `matches`).
    pub(crate) fn matches(&self, view: &CallView<'_, '_>, trace: &mut Trace) -> bool {
        match self.matchers.iter().find(|matcher| !matcher.holds(view)) {
            Some(failed) => {
                trace.note(|| format!("{}{}", failed.trace_prefix, failed.actual(view)));
                false
            }
            None => {
                trace.note(|| format!("route {:?}: matches", self.name));
                true
            }
        }
    }

    /// The number after the rule's rewrites, each step traced.
    pub(crate) fn rewrite(
        &self,
        dialled: &str,
        numbering: &Numbering,
        trace: &mut Trace,
    ) -> String {
        let mut number = dialled.to_owned();
        for step in &self.rewrites {
            let next = step.apply(&number, numbering);
            trace.note(|| format!("number {number} -> {next} ({})", step.label()));
            number = next;
        }
        number
    }
}
