//! The overload gate: when the server falls behind, new work is refused
//! with 503 and `Retry-After` instead of queueing until everything times
//! out (the Asterisk taskprocessor and FreeSWITCH "503 System Busy" stories
//! in the anchors).

use switchboard_proto::Method;

/// Overload settings. The load is whatever the application measures and
/// reports with [`Protection::set_load`](super::Protection::set_load):
/// requests waiting for a worker, store commits in flight, transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverloadConfig {
    /// Load at which the gate closes.
    pub high_watermark: usize,
    /// Load under which it opens again (hysteresis, so it does not flap).
    pub low_watermark: usize,
    /// Base `Retry-After` seconds.
    pub retry_after: u32,
    /// Refused clients are told `retry_after` plus 0 to `spread - 1`
    /// seconds, in turn, so that they do not all come back at once.
    pub retry_after_spread: u32,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        Self {
            high_watermark: 10_000,
            low_watermark: 5_000,
            retry_after: 10,
            retry_after_spread: 10,
        }
    }
}

#[derive(Debug)]
pub(crate) struct OverloadGate {
    config: OverloadConfig,
    overloaded: bool,
    forced: bool,
    turn: u32,
}

impl OverloadGate {
    pub(crate) fn new(config: OverloadConfig) -> Self {
        Self {
            config,
            overloaded: false,
            forced: false,
            turn: 0,
        }
    }

    pub(crate) fn config(&self) -> &OverloadConfig {
        &self.config
    }

    /// Reports the current load; returns whether the gate is closed.
    pub(crate) fn observe(&mut self, load: usize) -> bool {
        let was = self.overloaded;
        if load >= self.config.high_watermark {
            self.overloaded = true;
        } else if load <= self.config.low_watermark {
            self.overloaded = false;
        }
        if was != self.overloaded {
            if self.overloaded {
                tracing::warn!(load, "overloaded: refusing new requests with 503");
            } else {
                tracing::info!(load, "load back to normal");
            }
        }
        self.is_closed()
    }

    /// Closes the gate whatever the load (maintenance, draining a node).
    pub(crate) fn force(&mut self, closed: bool) {
        self.forced = closed;
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.overloaded || self.forced
    }

    /// `Some(retry_after)` when a new request with `method` must be refused.
    /// ACK and CANCEL finish work already accepted (and ACK cannot be
    /// answered), BYE frees resources: they always pass.
    pub(crate) fn check(&mut self, method: &Method) -> Option<u32> {
        if !self.is_closed() || matches!(method, Method::Ack | Method::Cancel | Method::Bye) {
            return None;
        }
        let spread = self.config.retry_after_spread.max(1);
        let extra = self.turn % spread;
        self.turn = self.turn.wrapping_add(1);
        Some(self.config.retry_after.saturating_add(extra))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hysteresis_and_exempt_methods() {
        let mut g = OverloadGate::new(OverloadConfig {
            high_watermark: 100,
            low_watermark: 50,
            retry_after: 5,
            retry_after_spread: 3,
        });
        assert!(!g.observe(99));
        assert_eq!(g.check(&Method::Register), None);
        assert!(g.observe(100));
        assert_eq!(g.check(&Method::Register), Some(5));
        assert_eq!(g.check(&Method::Invite), Some(6));
        assert_eq!(g.check(&Method::Options), Some(7));
        assert_eq!(g.check(&Method::Options), Some(5));
        for m in [Method::Ack, Method::Cancel, Method::Bye] {
            assert_eq!(g.check(&m), None);
        }
        // Between the marks it stays closed, under the low mark it opens.
        assert!(g.observe(70));
        assert!(!g.observe(50));
        assert_eq!(g.check(&Method::Register), None);
        g.force(true);
        assert!(g.check(&Method::Register).is_some());
        g.force(false);
        assert_eq!(g.check(&Method::Register), None);
    }
}
