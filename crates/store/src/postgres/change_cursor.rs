//! Which change rows of the cluster's log a feed has handled: every
//! sequence number up to a floor, and those seen above it. Numbers are
//! given at insert and become visible at commit, not in order: a hole
//! below a seen row is waited for [`GAP_WAIT`] (a transaction still
//! committing), then taken as rolled back.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long a hole in the sequence numbers is waited for.
pub(super) const GAP_WAIT: Duration = Duration::from_secs(5);

/// Which sequence numbers were handled: all up to `floor`, and `seen`
/// above it.
#[derive(Debug, Default)]
pub(super) struct Cursor {
    pub(super) floor: i64,
    seen: BTreeSet<i64>,
    /// Since when a hole has stopped the floor.
    stuck_since: Option<Instant>,
}

impl Cursor {
    pub(super) fn at(floor: i64) -> Self {
        Self {
            floor,
            ..Self::default()
        }
    }

    /// Marks `seq` handled; false if it already was.
    pub(super) fn take(&mut self, seq: i64) -> bool {
        seq > self.floor && self.seen.insert(seq)
    }

    /// Moves the floor over the handled numbers; a hole older than
    /// `GAP_WAIT` is given up.
    pub(super) fn advance(&mut self, now: Instant) {
        let before = self.floor;
        loop {
            while self.seen.remove(&(self.floor + 1)) {
                self.floor += 1;
            }
            let Some(&next) = self.seen.first() else {
                self.stuck_since = None;
                return;
            };
            if self.floor != before {
                self.stuck_since = Some(now);
                return;
            }
            match self.stuck_since {
                Some(since) if now.saturating_duration_since(since) >= GAP_WAIT => {
                    // Rolled back (a failed savepoint, a retried batch).
                    self.floor = next - 1;
                    self.stuck_since = None;
                }
                Some(_) => return,
                None => {
                    self.stuck_since = Some(now);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hole_is_waited_for_then_given_up() {
        let t0 = Instant::now();
        let mut cursor = Cursor::at(10);
        assert!(cursor.take(11));
        assert!(!cursor.take(11));
        assert!(cursor.take(13));
        cursor.advance(t0);
        // 12 may still be committing.
        assert_eq!(cursor.floor, 11);
        cursor.advance(t0 + GAP_WAIT / 2);
        assert_eq!(cursor.floor, 11);
        // It came late: handled, and the floor moves over both.
        assert!(cursor.take(12));
        cursor.advance(t0 + GAP_WAIT / 2);
        assert_eq!(cursor.floor, 13);
        // A hole that never fills is given up after GAP_WAIT.
        assert!(cursor.take(15));
        cursor.advance(t0 + GAP_WAIT);
        assert_eq!(cursor.floor, 13);
        cursor.advance(t0 + GAP_WAIT * 2);
        assert_eq!(cursor.floor, 15);
        assert!(!cursor.take(14), "below the floor: never reported late");
    }
}
