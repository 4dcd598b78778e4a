//! One moment, read on both clocks a server needs.

use std::time::{Duration, Instant};

/// The current time as every sans-IO machine takes it: the monotonic
/// instant its timers run on, and the wall-clock time (since the Unix
/// epoch) that stored times (binding expiry, nonce lifetimes) are written
/// in. Both are read once, together, by the driver (or set by a test's
/// virtual clock), so a deadline given in wall-clock seconds becomes an
/// exact monotonic instant: no fudge between two clocks read apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    instant: Instant,
    since_epoch: Duration,
}

impl Now {
    /// The moment `instant` on the monotonic clock, when the wall clock
    /// read `since_epoch` after the Unix epoch.
    #[must_use]
    pub fn new(instant: Instant, since_epoch: Duration) -> Self {
        Self {
            instant,
            since_epoch,
        }
    }

    /// The moment `instant`, at whole Unix second `unix` (for tests and
    /// for stored times that have only seconds).
    #[must_use]
    pub fn at(instant: Instant, unix: u64) -> Self {
        Self::new(instant, Duration::from_secs(unix))
    }

    /// On the monotonic clock.
    #[must_use]
    pub fn instant(self) -> Instant {
        self.instant
    }

    /// Whole seconds since the Unix epoch.
    #[must_use]
    pub fn unix(self) -> u64 {
        self.since_epoch.as_secs()
    }

    /// Time since the Unix epoch.
    #[must_use]
    pub fn since_epoch(self) -> Duration {
        self.since_epoch
    }

    /// The same clocks, `by` later (a virtual clock's step).
    #[must_use]
    pub fn advance(self, by: Duration) -> Self {
        Self {
            instant: self.instant + by,
            since_epoch: self.since_epoch + by,
        }
    }

    /// The clocks at monotonic `instant` (not before this moment: a
    /// virtual clock that jumps to a deadline).
    #[must_use]
    pub fn advance_to(self, instant: Instant) -> Self {
        self.advance(instant.saturating_duration_since(self.instant))
    }

    /// The monotonic instant at which the wall clock reads `unix` whole
    /// seconds; this moment when that time has passed.
    #[must_use]
    pub fn instant_at_unix(self, unix: u64) -> Instant {
        self.instant + Duration::from_secs(unix).saturating_sub(self.since_epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_deadlines_become_exact_instants() {
        let start = Instant::now();
        let now = Now::new(start, Duration::from_millis(1_700_000_000_250));
        assert_eq!(now.unix(), 1_700_000_000);
        // Second 1_700_000_060 begins 59.75 s from now.
        assert_eq!(
            now.instant_at_unix(1_700_000_060),
            start + Duration::from_millis(59_750)
        );
        assert_eq!(now.instant_at_unix(1_600_000_000), start);
        let later = now.advance(Duration::from_millis(750));
        assert_eq!(later.unix(), 1_700_000_001);
        assert_eq!(later.instant(), start + Duration::from_millis(750));
        assert_eq!(
            now.advance_to(start + Duration::from_secs(2)).unix(),
            1_700_000_002
        );
        assert_eq!(now.advance_to(start - Duration::from_secs(1)), now);
    }
}
