//! The health of one gateway: up, down or not known yet, from consecutive
//! successes and failures against the trunk's probing thresholds.

use switchboard_routing::ProbeSpec;

/// Whether a gateway takes calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// Enough consecutive successes.
    Up,
    /// Enough consecutive failures: calls skip it.
    Down,
    /// Not probed, or not enough results yet (taken as up).
    Unknown,
}

impl Health {
    /// `up`, `down` or `unknown`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One gateway's health with the counters that move it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayState {
    health: Health,
    /// Consecutive successes (reset by a failure).
    successes: u32,
    /// Consecutive failures (reset by a success).
    failures: u32,
    up_after: u32,
    down_after: u32,
    /// Unix seconds of the last change of `health`.
    changed_at: Option<u64>,
}

impl GatewayState {
    /// A gateway not known yet, judged by `probe`'s thresholds.
    #[must_use]
    pub fn new(probe: &ProbeSpec) -> Self {
        Self {
            health: Health::Unknown,
            successes: 0,
            failures: 0,
            up_after: probe.up_after.max(1),
            down_after: probe.down_after.max(1),
            changed_at: None,
        }
    }

    /// New thresholds (a reload); the health and counters stay.
    pub fn set_thresholds(&mut self, probe: &ProbeSpec) {
        self.up_after = probe.up_after.max(1);
        self.down_after = probe.down_after.max(1);
    }

    /// One result at `unix` seconds: `alive` or not. Returns the new
    /// health when it changed.
    pub fn record(&mut self, alive: bool, unix: u64) -> Option<Health> {
        let next = if alive {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            (self.successes >= self.up_after && self.health != Health::Up).then_some(Health::Up)
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            (self.failures >= self.down_after && self.health != Health::Down)
                .then_some(Health::Down)
        }?;
        self.health = next;
        self.changed_at = Some(unix);
        Some(next)
    }

    /// The current health.
    #[must_use]
    pub fn health(&self) -> Health {
        self.health
    }

    /// Consecutive successes so far.
    #[must_use]
    pub fn successes(&self) -> u32 {
        self.successes
    }

    /// Consecutive failures so far.
    #[must_use]
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Unix seconds of the last change (`None`: never changed).
    #[must_use]
    pub fn changed_at(&self) -> Option<u64> {
        self.changed_at
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn probe(up: u32, down: u32) -> ProbeSpec {
        ProbeSpec {
            interval: Duration::from_secs(30),
            up_after: up,
            down_after: down,
        }
    }

    #[test]
    fn thresholds_count_consecutive_results_only() {
        let mut s = GatewayState::new(&probe(2, 3));
        assert_eq!(s.record(false, 1), None);
        assert_eq!(s.record(false, 2), None);
        // A success in between starts the failures again.
        assert_eq!(s.record(true, 3), None);
        assert_eq!(s.record(false, 4), None);
        assert_eq!(s.record(false, 5), None);
        assert_eq!(s.record(false, 6), Some(Health::Down));
        assert_eq!(s.changed_at(), Some(6));
        // Staying down is no change.
        assert_eq!(s.record(false, 7), None);
        assert_eq!(s.record(true, 8), None);
        assert_eq!(s.record(true, 9), Some(Health::Up));
        assert_eq!(s.health(), Health::Up);
        assert_eq!(s.changed_at(), Some(9));
    }
}
