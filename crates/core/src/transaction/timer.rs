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

const COUNT: usize = 13;

impl Timer {
    fn index(self) -> usize {
        self as usize
    }

    const ALL: [Self; COUNT] = [
        Self::A,
        Self::B,
        Self::D,
        Self::E,
        Self::F,
        Self::K,
        Self::G,
        Self::H,
        Self::I,
        Self::J,
        Self::L,
        Self::M,
        Self::Trying,
    ];
}

/// Deadlines of one transaction's timers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; COUNT],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(slot) = self.deadlines.get_mut(timer.index()) {
            *slot = Some(at);
        }
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        if let Some(slot) = self.deadlines.get_mut(timer.index()) {
            *slot = None;
        }
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines.get(timer.index()).copied().flatten()
    }

    /// Every armed timer with its deadline.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Timer, Instant)> + '_ {
        Timer::ALL
            .iter()
            .filter_map(|t| self.get(*t).map(|at| (*t, at)))
    }

    pub(crate) fn clear(&mut self) {
        self.deadlines = [None; COUNT];
    }
}
