//! The overload gate: when the server falls behind, new work is refused
//! with 503 and `Retry-After` instead of queueing until everything times
//! out (the Asterisk taskprocessor and FreeSWITCH "503 System Busy" stories
//! in the anchors).
//!
//! It follows what really limits the server, each with its own marks
//! (hysteresis, so it does not flap): the work waiting inside the service
//! (REGISTERs waiting for the store, requests waiting for a final answer),
//! and what only the runtime measures, reported as [`LoadSignal`]s: how
//! late the driver's timer fires (the driver is behind its input), how
//! long the store takes to commit, how many datagrams a read found
//! waiting. Any one over its high mark closes the gate; it opens again
//! once every one is at or under its low mark.

use std::time::{Duration, Instant};

use switchboard_proto::Method;

use super::reading::{Reading, Watermarks, micros};

/// Overload settings. The load is whatever the application measures and
/// reports with [`Protection::set_load`](super::Protection::set_load):
/// requests waiting for a worker, store commits in flight, transactions;
/// the runtime's own measures come as [`LoadSignal`]s
/// ([`Protection::observe`](super::Protection::observe)).
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
    /// How late the driver's timer fires (smoothed); `None`: not followed.
    pub timer_lag: Option<Watermarks<Duration>>,
    /// How long a store submission takes to be durable (smoothed).
    pub commit_latency: Option<Watermarks<Duration>>,
    /// Datagrams read from a socket since it was last found empty
    /// (smoothed): how long the runtime has been behind its input.
    pub read_backlog: Option<Watermarks<usize>>,
    /// A signal not reported for this long reads as zero.
    pub signal_window: Duration,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        Self {
            high_watermark: 10_000,
            low_watermark: 5_000,
            retry_after: 10,
            retry_after_spread: 10,
            // A client retransmits after T1 (500 ms): answers later than
            // that double the load. Close well before.
            // Low marks at two fifths: on a busy host the driver is often
            // tens of milliseconds late without being overloaded, and a low
            // mark under that held the gate closed for seconds.
            timer_lag: Some(Watermarks {
                high: Duration::from_millis(250),
                low: Duration::from_millis(100),
            }),
            // fsync on a busy disk has spikes: only a run of slow
            // commits closes the gate.
            commit_latency: Some(Watermarks {
                high: Duration::from_millis(400),
                low: Duration::from_millis(160),
            }),
            // Not followed unless configured (`max_read_backlog`, 2,000 is
            // about eight full passes of 256 in a row): on the shared
            // bench host it kept the socket from overflowing and calls
            // from retransmitting at 3x, but at 3x REGISTERs a server
            // starved of CPU could not even keep up with refusing, the
            // gate stayed shut and goodput fell below the gate without it
            // (bench/results/overload-hl-20261206.md).
            read_backlog: None,
            signal_window: Duration::from_secs(1),
        }
    }
}

/// A measure of how far behind the runtime is, reported to the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadSignal {
    /// How late the driver's timer fired after its instant.
    TimerLag(Duration),
    /// From a store submission to its durable commit.
    CommitLatency(Duration),
    /// Datagrams read from a socket since it was last found empty (or,
    /// from a runtime that reads it all at once, found waiting).
    ReadBacklog(usize),
}

/// What holds the gate closed (for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OverloadState {
    /// The work waiting inside the service is over its mark.
    pub pending: bool,
    /// The driver's timer lag is over its mark.
    pub timer_lag: bool,
    /// The store's commit latency is over its mark.
    pub commit_latency: bool,
    /// The read backlog is over its mark.
    pub read_backlog: bool,
    /// Closed by hand ([`Protection::force_overload`](super::Protection::force_overload)).
    pub forced: bool,
}

impl OverloadState {
    /// Whether new requests are refused.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.pending || self.timer_lag || self.commit_latency || self.read_backlog || self.forced
    }

    /// Whether a request that finishes a flow already begun (the answer
    /// to a challenge) may still pass: yes while only the runtime's
    /// signals hold the gate, so the work spent on the challenge is not
    /// thrown away and goodput stays up; not when the work waiting inside
    /// the server is over its mark or the gate was closed by hand.
    #[must_use]
    pub fn lets_flows_finish(&self) -> bool {
        !self.pending && !self.forced
    }
}

#[derive(Debug)]
pub(crate) struct OverloadGate {
    config: OverloadConfig,
    overloaded: bool,
    forced: bool,
    turn: u32,
    timer_lag: Option<Reading>,
    commit_latency: Option<Reading>,
    read_backlog: Option<Reading>,
}

impl OverloadGate {
    pub(crate) fn new(config: OverloadConfig) -> Self {
        Self {
            timer_lag: config.timer_lag.map(Reading::of_durations),
            commit_latency: config.commit_latency.map(Reading::of_durations),
            read_backlog: config.read_backlog.map(Reading::of_counts),
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

    /// A runtime measure at `now`.
    pub(crate) fn signal(&mut self, now: Instant, signal: LoadSignal) {
        let (reading, value, name) = match signal {
            LoadSignal::TimerLag(d) => (&mut self.timer_lag, micros(d), "timer lag (us)"),
            LoadSignal::CommitLatency(d) => {
                (&mut self.commit_latency, micros(d), "commit latency (us)")
            }
            LoadSignal::ReadBacklog(n) => (
                &mut self.read_backlog,
                u64::try_from(n).unwrap_or(u64::MAX),
                "read backlog",
            ),
        };
        let Some(reading) = reading else {
            return;
        };
        let was = reading.is_over();
        reading.report(now, value);
        if reading.is_over() != was {
            let smoothed = reading.value();
            if was {
                tracing::info!(signal = name, smoothed, "signal back under its low mark");
            } else {
                tracing::warn!(
                    signal = name,
                    smoothed,
                    "overloaded: refusing new requests with 503"
                );
            }
        }
    }

    /// Forgets the signals not reported for the window (see
    /// [`OverloadConfig::signal_window`]).
    pub(crate) fn expire(&mut self, now: Instant) {
        let window = self.config.signal_window;
        for reading in [
            &mut self.timer_lag,
            &mut self.commit_latency,
            &mut self.read_backlog,
        ]
        .into_iter()
        .flatten()
        {
            reading.expire(now, window);
        }
    }

    /// Closes the gate whatever the load (maintenance, draining a node).
    pub(crate) fn force(&mut self, closed: bool) {
        self.forced = closed;
    }

    /// What holds the gate closed.
    pub(crate) fn state(&self) -> OverloadState {
        let over = |r: &Option<Reading>| r.as_ref().is_some_and(Reading::is_over);
        OverloadState {
            pending: self.overloaded,
            timer_lag: over(&self.timer_lag),
            commit_latency: over(&self.commit_latency),
            read_backlog: over(&self.read_backlog),
            forced: self.forced,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state().is_closed()
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
            ..OverloadConfig::default()
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

    fn gate() -> OverloadGate {
        OverloadGate::new(OverloadConfig {
            retry_after: 5,
            retry_after_spread: 1,
            timer_lag: Some(Watermarks {
                high: Duration::from_millis(100),
                low: Duration::from_millis(25),
            }),
            commit_latency: Some(Watermarks {
                high: Duration::from_millis(200),
                low: Duration::from_millis(50),
            }),
            read_backlog: Some(Watermarks { high: 64, low: 8 }),
            signal_window: Duration::from_secs(1),
            ..OverloadConfig::default()
        })
    }

    /// Reports `signal` `times` times, 10 ms apart, from `*at` on.
    fn feed(g: &mut OverloadGate, at: &mut Instant, signal: LoadSignal, times: usize) {
        for _ in 0..times {
            g.signal(*at, signal);
            *at += Duration::from_millis(10);
        }
    }

    #[test]
    fn a_run_of_late_timers_closes_and_a_run_of_prompt_ones_opens() {
        let mut g = gate();
        let mut at = Instant::now();
        let late = LoadSignal::TimerLag(Duration::from_millis(400));
        // One late wake-up of 300 ms counts a quarter: 75 ms, under the
        // mark. Two more of 400 ms take it over.
        feed(
            &mut g,
            &mut at,
            LoadSignal::TimerLag(Duration::from_millis(300)),
            1,
        );
        assert_eq!(g.check(&Method::Register), None);
        feed(&mut g, &mut at, late, 2);
        assert_eq!(g.check(&Method::Register), Some(5));
        assert_eq!(g.check(&Method::Invite), Some(5));
        assert!(g.state().timer_lag && !g.state().pending);
        for m in [Method::Ack, Method::Cancel, Method::Bye] {
            assert_eq!(g.check(&m), None);
        }
        // Between the marks: still closed (no flapping).
        feed(
            &mut g,
            &mut at,
            LoadSignal::TimerLag(Duration::from_millis(50)),
            4,
        );
        assert!(g.is_closed());
        // Prompt timers bring it under the low mark.
        feed(&mut g, &mut at, LoadSignal::TimerLag(Duration::ZERO), 8);
        assert!(!g.is_closed());
        assert_eq!(g.check(&Method::Register), None);
    }

    #[test]
    fn a_signal_that_stops_coming_is_forgotten_after_the_window() {
        let mut g = gate();
        let mut at = Instant::now();
        feed(
            &mut g,
            &mut at,
            LoadSignal::CommitLatency(Duration::from_secs(1)),
            3,
        );
        assert!(g.state().commit_latency);
        // No commits (registrations refused): still closed inside the
        // window, open after it.
        g.expire(at + Duration::from_millis(900));
        assert!(g.is_closed());
        g.expire(at + Duration::from_secs(1));
        assert!(!g.is_closed());
        assert_eq!(g.check(&Method::Register), None);
    }

    #[test]
    fn any_signal_over_its_mark_holds_the_gate_until_all_are_under() {
        let mut g = gate();
        let mut at = Instant::now();
        feed(&mut g, &mut at, LoadSignal::ReadBacklog(512), 2);
        feed(
            &mut g,
            &mut at,
            LoadSignal::CommitLatency(Duration::from_secs(1)),
            2,
        );
        assert!(g.state().read_backlog && g.state().commit_latency);
        feed(&mut g, &mut at, LoadSignal::ReadBacklog(0), 16);
        assert!(!g.state().read_backlog);
        assert!(g.is_closed(), "the store still holds it");
        feed(
            &mut g,
            &mut at,
            LoadSignal::CommitLatency(Duration::ZERO),
            16,
        );
        assert!(!g.is_closed());
        // The pending work has its own marks beside the signals.
        assert!(g.observe(10_000));
        assert!(!g.observe(5_000));
    }

    #[test]
    fn a_signal_not_followed_never_closes_the_gate() {
        let mut g = OverloadGate::new(OverloadConfig {
            timer_lag: None,
            ..OverloadConfig::default()
        });
        let mut at = Instant::now();
        feed(
            &mut g,
            &mut at,
            LoadSignal::TimerLag(Duration::from_secs(5)),
            20,
        );
        assert_eq!(g.check(&Method::Register), None);
    }
}
