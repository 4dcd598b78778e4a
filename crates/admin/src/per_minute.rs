//! Calls and registrations per minute for the last hour: a small ring of
//! minutes, filled from the service's counters as they move, so that a
//! dashboard opened later still shows the past hour.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Minutes kept (and shown): one hour.
pub const MINUTES_KEPT: usize = 60;

/// The counters the series is taken from (totals since start).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Calls attempted (initial INVITEs forwarded).
    pub calls: u64,
    /// Calls answered (2xx to an initial INVITE).
    pub answered: u64,
    /// REGISTERs accepted (bindings added, refreshed or removed).
    pub registrations: u64,
}

impl Totals {
    /// What moved from `earlier` to `self` (a counter that went back,
    /// as after a restart, counts as zero).
    fn since(self, earlier: Self) -> Self {
        Self {
            calls: self.calls.saturating_sub(earlier.calls),
            answered: self.answered.saturating_sub(earlier.answered),
            registrations: self.registrations.saturating_sub(earlier.registrations),
        }
    }
}

/// What happened in one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteCounts {
    /// The minute's start (Unix seconds, a multiple of 60).
    pub minute: u64,
    /// Calls attempted in it.
    pub calls: u64,
    /// Calls answered in it.
    pub answered: u64,
    /// REGISTERs accepted in it.
    pub registrations: u64,
}

impl MinuteCounts {
    fn of(minute: u64, moved: Totals) -> Self {
        Self {
            minute: minute.saturating_mul(60),
            calls: moved.calls,
            answered: moved.answered,
            registrations: moved.registrations,
        }
    }
}

/// The per-minute series. The owner reads the counters whenever
/// [`PerMinute::is_due`] says a new minute began (before handling the
/// input that brought it) and gives them to [`PerMinute::observe`]: what
/// moved since the previous reading happened in that reading's minute,
/// since any input of a later minute would have been read first. No
/// clock is read here: times are the caller's Unix seconds.
#[derive(Debug, Clone, Default)]
pub struct PerMinute {
    /// Closed minutes, oldest first, at most [`MINUTES_KEPT`].
    closed: VecDeque<MinuteCounts>,
    /// The minute of the last reading (Unix minutes) and the totals then.
    last: Option<(u64, Totals)>,
}

impl PerMinute {
    /// An empty series.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the counters must be read at `unix_s`: the first reading,
    /// or the first of a new minute.
    #[must_use]
    pub fn is_due(&self, unix_s: u64) -> bool {
        self.last.is_none_or(|(minute, _)| unix_s / 60 > minute)
    }

    /// The counters as read at `unix_s`.
    pub fn observe(&mut self, unix_s: u64, totals: Totals) {
        let minute = unix_s / 60;
        match self.last {
            Some((last, _)) if minute <= last => return,
            Some((last, before)) => {
                let moved = totals.since(before);
                if moved != Totals::default() {
                    self.closed.push_back(MinuteCounts::of(last, moved));
                }
            }
            None => {}
        }
        self.last = Some((minute, totals));
        let oldest = minute
            .saturating_sub(MINUTES_KEPT as u64)
            .saturating_mul(60);
        while self.closed.front().is_some_and(|m| m.minute <= oldest) {
            self.closed.pop_front();
        }
    }

    /// The last [`MINUTES_KEPT`] minutes up to the one of `unix_s`, oldest
    /// first, every minute present (zeros where nothing happened); what
    /// moved since the last reading (`totals` are the counters now) counts
    /// in that reading's minute.
    #[must_use]
    pub fn series(&self, unix_s: u64, totals: Totals) -> Vec<MinuteCounts> {
        let now = unix_s / 60;
        let first = now.saturating_sub(MINUTES_KEPT as u64 - 1);
        let pending = self
            .last
            .map(|(minute, before)| MinuteCounts::of(minute, totals.since(before)));
        (first..=now)
            .map(|minute| {
                let start = minute.saturating_mul(60);
                let mut counts = MinuteCounts::of(minute, Totals::default());
                for moved in self.closed.iter().chain(&pending) {
                    if moved.minute == start {
                        counts.calls += moved.calls;
                        counts.answered += moved.answered;
                        counts.registrations += moved.registrations;
                    }
                }
                counts
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests: a failure is the report

    use super::*;

    fn totals(calls: u64, registrations: u64) -> Totals {
        Totals {
            calls,
            answered: calls / 2,
            registrations,
        }
    }

    #[test]
    fn what_moved_counts_in_the_minute_it_moved() {
        let t0 = 1_700_000_040; // minute 28_333_334 starts at 1_700_000_040
        let mut series = PerMinute::new();
        assert!(series.is_due(t0));
        series.observe(t0, totals(0, 0));
        assert!(!series.is_due(t0 + 59));
        // Two calls and three registrations during the first minute; the
        // next reading comes with an input ten minutes later.
        assert!(series.is_due(t0 + 600));
        series.observe(t0 + 600, totals(2, 3));
        // One more registration in the current minute.
        let list = series.series(t0 + 610, totals(2, 4));
        assert_eq!(list.len(), MINUTES_KEPT);
        let last = list[MINUTES_KEPT - 1];
        assert_eq!(last.minute, t0 + 600);
        assert_eq!((last.calls, last.registrations), (0, 1));
        let first_minute = list[MINUTES_KEPT - 11];
        assert_eq!(first_minute.minute, t0);
        assert_eq!(
            (
                first_minute.calls,
                first_minute.answered,
                first_minute.registrations
            ),
            (2, 1, 3)
        );
        let total: u64 = list.iter().map(|m| m.registrations).sum();
        assert_eq!(total, 4);
        // Minutes are consecutive.
        assert!(list.windows(2).all(|w| w[1].minute == w[0].minute + 60));
    }

    #[test]
    fn an_hour_later_the_old_minutes_are_gone() {
        let t0 = 1_700_000_040;
        let mut series = PerMinute::new();
        series.observe(t0, totals(0, 0));
        series.observe(t0 + 60, totals(4, 0));
        series.observe(t0 + 61 * 60, totals(4, 0));
        assert!(series.closed.is_empty());
        let list = series.series(t0 + 61 * 60, totals(4, 0));
        assert!(list.iter().all(|m| m.calls == 0));
        assert_eq!(list[MINUTES_KEPT - 1].minute, t0 + 61 * 60);
    }

    #[test]
    fn counters_that_go_back_count_nothing() {
        let mut series = PerMinute::new();
        series.observe(600, totals(5, 5));
        series.observe(660, totals(1, 1));
        let list = series.series(700, totals(1, 1));
        assert!(list.iter().all(|m| m.calls == 0 && m.registrations == 0));
    }
}
