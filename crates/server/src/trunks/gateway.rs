//! One gateway of a trunk: its health and when it is probed next.

use std::time::{Duration, Instant};

use switchboard_core::Now;
use switchboard_routing::ProbeSpec;

use super::attempt::AttemptResult;
use super::gateway_state::{GatewayState, Health};

/// A gateway as the server watches it.
#[derive(Debug, Clone)]
pub(crate) struct Gateway {
    /// Its URI as the plan writes it.
    pub(crate) uri: String,
    /// Its health; `None` when the trunk is not probed: results of calls
    /// alone never mark it down, since nothing would bring it back up.
    state: Option<GatewayState>,
    interval: Duration,
    next_probe: Option<Instant>,
    /// One probe at a time.
    in_flight: bool,
}

impl Gateway {
    /// A gateway first seen at `now`: probed at once when `probe` says so.
    pub(crate) fn new(uri: &str, probe: Option<&ProbeSpec>, now: Instant) -> Self {
        let mut gateway = Self {
            uri: uri.to_owned(),
            state: None,
            interval: Duration::ZERO,
            next_probe: None,
            in_flight: false,
        };
        gateway.reconfigure(probe, now);
        gateway
    }

    /// The trunk's probing as reloaded: the health stays while it is
    /// probed; a probe already scheduled keeps its time unless the new
    /// interval is shorter.
    pub(crate) fn reconfigure(&mut self, probe: Option<&ProbeSpec>, now: Instant) {
        let Some(probe) = probe else {
            self.state = None;
            self.next_probe = None;
            return;
        };
        match &mut self.state {
            Some(state) => state.set_thresholds(probe),
            None => self.state = Some(GatewayState::new(probe)),
        }
        self.interval = probe.interval.max(Duration::from_secs(1));
        let latest = now + self.interval;
        self.next_probe = Some(self.next_probe.map_or(now, |at| at.min(latest)));
    }

    /// When the next probe is due.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.next_probe
    }

    /// Whether a probe is to be sent at `now`: the next one is scheduled an
    /// interval on; none goes while one is still in flight.
    pub(crate) fn take_probe(&mut self, now: Instant) -> bool {
        match self.next_probe {
            Some(at) if at <= now => {
                self.next_probe = Some(now + self.interval);
                if self.in_flight {
                    return false;
                }
                self.in_flight = true;
                true
            }
            _ => false,
        }
    }

    /// A result about the gateway (`probe`: of one of its probes, which
    /// ends it); a change of health is logged once.
    pub(crate) fn record(&mut self, trunk: &str, now: Now, result: AttemptResult, probe: bool) {
        if probe {
            self.in_flight = false;
        }
        let Some(state) = &mut self.state else {
            return;
        };
        match state.record(result.proves_alive(probe), now.unix()) {
            Some(Health::Down) => {
                tracing::info!(trunk, gateway = %self.uri, ?result, "gateway down");
            }
            Some(Health::Up) => tracing::info!(trunk, gateway = %self.uri, "gateway up"),
            Some(Health::Unknown) | None => {}
        }
    }

    /// Its health (`Unknown` when not probed).
    pub(crate) fn health(&self) -> Health {
        self.state
            .as_ref()
            .map_or(Health::Unknown, GatewayState::health)
    }

    /// Its state, when probed.
    pub(crate) fn state(&self) -> Option<&GatewayState> {
        self.state.as_ref()
    }
}
