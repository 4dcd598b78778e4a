//! One load signal as the overload gate follows it: the reports smoothed,
//! with its own high and low marks (hysteresis), forgotten when they stop.

use std::time::{Duration, Instant};

/// Where a signal closes the gate and where it lets it open again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermarks<T> {
    /// The smoothed signal at or above this closes the gate.
    pub high: T,
    /// The smoothed signal at or below this no longer holds it closed.
    pub low: T,
}

/// A signal's smoothed value and whether it holds the gate closed. Values
/// are plain integers (microseconds for durations, counts for backlogs).
#[derive(Debug, Clone)]
pub(crate) struct Reading {
    high: u64,
    low: u64,
    /// Exponentially weighted: each report counts for a quarter, so one
    /// late wake-up on a busy host does not close the gate, a run of them
    /// does within a few reports.
    smoothed: u64,
    last: Option<Instant>,
    over: bool,
}

impl Reading {
    pub(crate) fn new(high: u64, low: u64) -> Self {
        Self {
            high,
            low: low.min(high),
            smoothed: 0,
            last: None,
            over: false,
        }
    }

    pub(crate) fn of_durations(marks: Watermarks<Duration>) -> Self {
        Self::new(micros(marks.high), micros(marks.low))
    }

    pub(crate) fn of_counts(marks: Watermarks<usize>) -> Self {
        Self::new(count(marks.high), count(marks.low))
    }

    /// A new report at `now`.
    pub(crate) fn report(&mut self, now: Instant, value: u64) {
        self.smoothed = self.smoothed - self.smoothed / 4 + value / 4;
        self.last = Some(now);
        self.settle();
    }

    /// Forgets reports older than `window`: the work the signal measured
    /// has stopped (no commits while new REGISTERs are refused, no late
    /// timer once the driver is idle), so it reads as zero, not as its
    /// last bad value that would hold the gate closed forever.
    pub(crate) fn expire(&mut self, now: Instant, window: Duration) {
        let stale = self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) >= window);
        if stale {
            self.smoothed = 0;
            self.last = None;
            self.settle();
        }
    }

    fn settle(&mut self) {
        if self.smoothed >= self.high {
            self.over = true;
        } else if self.smoothed <= self.low {
            self.over = false;
        }
    }

    /// Whether this signal holds the gate closed.
    pub(crate) fn is_over(&self) -> bool {
        self.over
    }

    /// The smoothed value.
    pub(crate) fn value(&self) -> u64 {
        self.smoothed
    }
}

/// A duration in whole microseconds (saturating).
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
