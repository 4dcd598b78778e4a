//! The matchers of a `[[route]]`: each present one must hold.

use regex::Regex;

use crate::CallerKind;
use crate::call_view::CallView;
use crate::clock::{DateRange, DaySet, TimeWindow};
use crate::network::Networks;
use crate::number::{NumberRange, user_part};

/// What one matcher tests.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    To(Vec<String>),
    ToPrefix(Vec<String>),
    ToRange(Vec<NumberRange>),
    ToPattern(Regex),
    From(Vec<String>),
    FromPrefix(Vec<String>),
    FromPattern(Regex),
    Anonymous(bool),
    FromGroup(Vec<String>),
    FromTrunk(Vec<String>),
    FromUser(bool),
    Site(Vec<String>),
    Source(Networks),
    Transport(Vec<String>),
    Domain(Vec<String>),
    Time(Vec<TimeWindow>),
    Days(DaySet),
    Dates(Vec<DateRange>),
}

/// A matcher with the start of its trace line when it fails
/// (`route "r": to_prefix ["00"] does not match `), written at load so
/// that a traced decision does not format the lists again per rule.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub(crate) test: Test,
    pub(crate) trace_prefix: String,
}

impl Matcher {
    /// `written` is how the plan wrote it (`to_prefix ["00"]`).
    pub(crate) fn new(rule: &str, written: &str, test: Test) -> Self {
        Self {
            test,
            trace_prefix: format!("route {rule:?}: {written} does not match "),
        }
    }

    /// Whether the call matches.
    pub(crate) fn holds(&self, view: &CallView<'_, '_>) -> bool {
        let call = view.call;
        match &self.test {
            Test::To(list) => list.iter().any(|n| n == call.to),
            Test::ToPrefix(list) => list.iter().any(|p| call.to.starts_with(p.as_str())),
            Test::ToRange(list) => list.iter().any(|r| r.contains(call.to)),
            Test::ToPattern(regex) => regex.is_match(call.to),
            Test::From(list) => {
                let user = user_part(call.from_uri);
                list.iter()
                    .any(|f| f == call.from_uri || (!user.is_empty() && f == user))
            }
            Test::FromPrefix(list) => {
                let user = user_part(call.from_uri);
                list.iter().any(|p| user.starts_with(p.as_str()))
            }
            Test::FromPattern(regex) => regex.is_match(call.from_uri),
            Test::Anonymous(want) => call.anonymous == *want,
            Test::FromGroup(groups) => groups.iter().any(|g| view.in_group(g)),
            Test::FromTrunk(trunks) => match call.caller {
                CallerKind::Trunk { name } => trunks.iter().any(|t| t == name),
                _ => false,
            },
            Test::FromUser(want) => matches!(call.caller, CallerKind::User { .. }) == *want,
            Test::Site(sites) => view.site().is_some_and(|s| sites.iter().any(|w| w == s)),
            Test::Source(networks) => networks.contains(call.source),
            Test::Transport(list) => list.iter().any(|t| t.eq_ignore_ascii_case(call.transport)),
            Test::Domain(list) => list.iter().any(|d| d.eq_ignore_ascii_case(call.to_domain)),
            Test::Time(windows) => windows
                .iter()
                .any(|w| w.contains(view.local().minute_of_day)),
            Test::Days(days) => days.contains(view.local().weekday),
            Test::Dates(ranges) => ranges.iter().any(|r| r.contains(view.local().date)),
        }
    }

    /// What the call has instead, for the trace (`"4930"`).
    pub(crate) fn actual(&self, view: &CallView<'_, '_>) -> String {
        let call = view.call;
        let quoted = |text: &str| format!("{text:?}");
        match &self.test {
            Test::To(_) | Test::ToPrefix(_) | Test::ToRange(_) | Test::ToPattern(_) => {
                quoted(call.to)
            }
            Test::From(_) | Test::FromPrefix(_) | Test::FromPattern(_) => quoted(call.from_uri),
            Test::Anonymous(_) if call.anonymous => "an anonymous caller".to_owned(),
            Test::Anonymous(_) => "a caller who is not anonymous".to_owned(),
            Test::FromGroup(_) | Test::FromTrunk(_) | Test::FromUser(_) => view.caller_text(),
            Test::Site(_) => match view.site() {
                Some(site) => quoted(site),
                None => format!("{} (no site)", call.source),
            },
            Test::Source(_) => call.source.to_string(),
            Test::Transport(_) => quoted(call.transport),
            Test::Domain(_) => quoted(call.to_domain),
            Test::Time(_) => quoted(&view.local().clock()),
            Test::Days(_) => quoted(view.local().day_name()),
            Test::Dates(_) => quoted(&view.local().date.to_string()),
        }
    }
}
