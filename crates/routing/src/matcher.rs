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

/// A matcher with the text the trace names it by (`to_prefix ["00"]`).
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub(crate) test: Test,
    pub(crate) written: String,
}

impl Matcher {
    /// `Ok` when the call matches; else what the call has instead, for the
    /// trace (`"4930"`).
    pub(crate) fn check(&self, view: &CallView<'_, '_>) -> Result<(), String> {
        let call = view.call;
        let quoted = |text: &str| Err(format!("{text:?}"));
        match &self.test {
            Test::To(list) => ok_or(list.iter().any(|n| n == call.to), || quoted(call.to)),
            Test::ToPrefix(list) => ok_or(list.iter().any(|p| call.to.starts_with(p.as_str())), || quoted(call.to)),
            Test::ToRange(list) => ok_or(list.iter().any(|r| r.contains(call.to)), || quoted(call.to)),
            Test::ToPattern(regex) => ok_or(regex.is_match(call.to), || quoted(call.to)),
            Test::From(list) => {
                let user = user_part(call.from_uri);
                ok_or(list.iter().any(|f| f == call.from_uri || (!user.is_empty() && f == user)), || quoted(call.from_uri))
            }
            Test::FromPrefix(list) => {
                let user = user_part(call.from_uri);
                ok_or(list.iter().any(|p| user.starts_with(p.as_str())), || quoted(call.from_uri))
            }
            Test::FromPattern(regex) => ok_or(regex.is_match(call.from_uri), || quoted(call.from_uri)),
            Test::Anonymous(want) => ok_or(call.anonymous == *want, || {
                Err(if call.anonymous { "an anonymous caller" } else { "a caller who is not anonymous" }.to_owned())
            }),
            Test::FromGroup(groups) => ok_or(groups.iter().any(|g| view.in_group(g)), || Err(view.caller_text())),
            Test::FromTrunk(trunks) => {
                let from = match call.caller {
                    CallerKind::Trunk { name } => Some(name),
                    _ => None,
                };
                ok_or(from.is_some_and(|name| trunks.iter().any(|t| t == name)), || Err(view.caller_text()))
            }
            Test::FromUser(want) => {
                let is_user = matches!(call.caller, CallerKind::User { .. });
                ok_or(is_user == *want, || Err(view.caller_text()))
            }
            Test::Site(sites) => {
                let site = view.site();
                ok_or(site.is_some_and(|s| sites.iter().any(|w| w == s)), || match site {
                    Some(site) => quoted(site),
                    None => Err(format!("{} (no site)", call.source)),
                })
            }
            Test::Source(networks) => ok_or(networks.contains(call.source), || Err(call.source.to_string())),
            Test::Transport(list) => {
                ok_or(list.iter().any(|t| t.eq_ignore_ascii_case(call.transport)), || quoted(call.transport))
            }
            Test::Domain(list) => {
                ok_or(list.iter().any(|d| d.eq_ignore_ascii_case(call.to_domain)), || quoted(call.to_domain))
            }
            Test::Time(windows) => {
                let local = view.local();
                ok_or(windows.iter().any(|w| w.contains(local.minute_of_day)), || quoted(&local.clock()))
            }
            Test::Days(days) => {
                let local = view.local();
                ok_or(days.contains(local.weekday), || quoted(local.day_name()))
            }
            Test::Dates(ranges) => {
                let local = view.local();
                ok_or(ranges.iter().any(|r| r.contains(local.date)), || quoted(&local.date.to_string()))
            }
        }
    }
}

fn ok_or(matched: bool, otherwise: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    if matched { Ok(()) } else { otherwise() }
}
