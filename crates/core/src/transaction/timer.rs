//! The timers of RFC 3261 §17 (and RFC 6026's L and M), one table per
//! transaction, in the style of quinn-proto's `TimerTable`.

use std::time::Instant;

/// A transaction timer, named as in RFC 3261 Table 4 and RFC 6026.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// INVITE client: request retransmission (UDP).
    A,
    /// INVITE client: transaction timeout.
    B,
    /// INVITE client: wait for response retransmissions in Completed.
    D,
    /// Non-INVITE client: request retransmission (UDP).
    E,
    /// Non-INVITE client: transaction timeout.
    F,
    /// Non-INVITE client: wait for response retransmissions in Completed.
    K,
    /// INVITE server: final response retransmission (UDP).
    G,
    /// INVITE server: wait for ACK.
    H,
    /// INVITE server: wait for ACK retransmissions in Confirmed.
    I,
    /// Non-INVITE server: wait for request retransmissions in Completed.
    J,
    /// INVITE server: Accepted state lifetime (RFC 6026).
    L,
    /// INVITE client: Accepted state lifetime (RFC 6026).
    M,
    /// INVITE server: send 100 Trying when the TU is slow (§17.2.1).
    Trying,
}

/// Most timers one transaction has armed at once: three (A and B, or E
/// and F, plus at most one more around a state change; every state change
/// that arms a new set clears the old one first), so four slots with room
/// to spare.
const SLOTS: usize = 4;

/// Deadlines of one transaction's timers: a few slots rather than one per
/// timer kind, since a UDP server holds tens of thousands of transactions
/// at once (32 s of Timer J each), and one slot per kind (13 × 16 bytes)
/// was a third of a transaction's size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TimerTable {
    slots: [Option<(Timer, Instant)>; SLOTS],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(slot) = self.slot_mut(timer) {
            *slot = Some((timer, at));
        } else if let Some(slot) = self.slots.iter_mut().find(|s| s.is_none()) {
            *slot = Some((timer, at));
        } else {
            // Unreachable by the argument at `SLOTS`; in a release build the
            // timer that fires last gives way rather than this one.
            debug_assert!(false, "more than {SLOTS} timers armed at once");
            if let Some(latest) = self
                .slots
                .iter_mut()
                .max_by_key(|s| s.map(|(_, at)| at))
                .filter(|s| s.is_some_and(|(_, late)| late > at))
            {
                *latest = Some((timer, at));
            }
        }
    }

    fn slot_mut(&mut self, timer: Timer) -> Option<&mut Option<(Timer, Instant)>> {
        self.slots
            .iter_mut()
            .find(|s| s.is_some_and(|(t, _)| t == timer))
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        if let Some(slot) = self.slot_mut(timer) {
            *slot = None;
        }
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.slots
            .iter()
            .flatten()
            .find(|(t, _)| *t == timer)
            .map(|(_, at)| *at)
    }

    /// Every armed timer with its deadline.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Timer, Instant)> + '_ {
        self.slots.iter().flatten().copied()
    }

    pub(crate) fn clear(&mut self) {
        self.slots = [None; SLOTS];
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn set_replace_stop_clear() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut table = TimerTable::default();
        table.set(Timer::A, at(500));
        table.set(Timer::B, at(32_000));
        table.set(Timer::Trying, at(200));
        assert_eq!(table.get(Timer::A), Some(at(500)));
        table.set(Timer::A, at(1_500));
        assert_eq!(table.get(Timer::A), Some(at(1_500)));
        assert_eq!(table.iter().count(), 3);
        table.stop(Timer::A);
        assert_eq!(table.get(Timer::A), None);
        assert_eq!(table.get(Timer::B), Some(at(32_000)));
        table.set(Timer::D, at(32_000));
        table.set(Timer::M, at(32_000));
        let mut armed: Vec<_> = table.iter().collect();
        armed.sort();
        assert_eq!(
            armed,
            [
                (Timer::B, at(32_000)),
                (Timer::D, at(32_000)),
                (Timer::M, at(32_000)),
                (Timer::Trying, at(200)),
            ]
        );
        table.clear();
        assert_eq!(table.iter().count(), 0);
        assert!(size_of::<TimerTable>() <= 96);
    }
}
