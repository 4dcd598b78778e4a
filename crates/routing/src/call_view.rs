//! A call's facts with what the plan works out from them once per
//! decision (the caller's site, the local time), on demand.

use std::cell::OnceCell;

use crate::clock::LocalTime;
use crate::{CallFacts, CallerKind, Plan};

/// The call as the rules see it.
#[derive(Debug)]
pub(crate) struct CallView<'p, 'c> {
    pub(crate) call: &'c CallFacts<'c>,
    pub(crate) plan: &'p Plan,
    site: OnceCell<Option<&'p str>>,
    local: OnceCell<LocalTime>,
}

impl<'p, 'c> CallView<'p, 'c> {
    pub(crate) fn new(plan: &'p Plan, call: &'c CallFacts<'c>) -> Self {
        Self {
            call,
            plan,
            site: OnceCell::new(),
            local: OnceCell::new(),
        }
    }

    /// The caller's site by source network.
    pub(crate) fn site(&self) -> Option<&'p str> {
        *self
            .site
            .get_or_init(|| self.plan.site_of(self.call.source))
    }

    /// The call's time in the plan's zone.
    pub(crate) fn local(&self) -> LocalTime {
        *self
            .local
            .get_or_init(|| LocalTime::at(self.call.at_unix, self.plan.zone()))
    }

    /// Whether the caller is a local user in `group`.
    pub(crate) fn in_group(&self, group: &str) -> bool {
        match self.call.caller {
            CallerKind::User {
                name,
                domain,
                groups,
            } => groups.iter().any(|g| g == group) || self.plan.groups().has(group, name, domain),
            _ => false,
        }
    }

    /// The caller, for the trace.
    pub(crate) fn caller_text(&self) -> String {
        match self.call.caller {
            CallerKind::User { name, domain, .. } => format!("local user {name}@{domain}"),
            CallerKind::Trunk { name } => format!("trunk {name:?}"),
            _ => "a caller that is not a local user".to_owned(),
        }
    }
}
