//! The per-leg packet rate limit: a fixed one-second window.

use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub(crate) struct RateWindow {
    start: Option<Instant>,
    count: u32,
}

/// What the limit says about one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rate {
    Allowed,
    /// Over the limit, and the first packet over it in this window.
    FirstExcess,
    Excess,
}

impl RateWindow {
    pub(crate) fn check(&mut self, now: Instant, max_per_second: u32) -> Rate {
        let expired = self
            .start
            .is_none_or(|start| now.saturating_duration_since(start) >= WINDOW);
        if expired {
            self.start = Some(now);
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        if self.count <= max_per_second {
            Rate::Allowed
        } else if self.count == max_per_second.saturating_add(1) {
            Rate::FirstExcess
        } else {
            Rate::Excess
        }
    }
}
