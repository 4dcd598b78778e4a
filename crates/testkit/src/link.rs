//! How a one-way link between two nodes treats the packets it carries.

use std::time::Duration;

/// The behaviour of a one-way link, in the manner of Linux netem and
/// str0m's `NetemConfig`.
///
/// Loss, duplication and reordering apply to datagrams (UDP) only. Stream
/// and WebSocket connections (TCP, TLS, WS, WSS) are reliable and ordered:
/// they see only the latency and jitter, and a message never overtakes an
/// earlier one on the same connection. Scripted rules
/// ([`crate::Rule`]) apply to every transport.
///
/// ```
/// use std::time::Duration;
/// use switchboard_testkit::LinkConfig;
///
/// let lossy = LinkConfig::default()
///     .with_latency(Duration::from_millis(40))
///     .with_jitter(Duration::from_millis(10))
///     .with_loss(0.3);
/// assert_eq!(lossy.loss, 0.3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Fixed one-way delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` for each packet. On
    /// datagrams it may reorder packets sent close together.
    pub jitter: Duration,
    /// Probability (0 to 1) that a datagram is lost.
    pub loss: f64,
    /// Probability (0 to 1) that a datagram arrives twice (the copy has its
    /// own jitter).
    pub duplicate: f64,
    /// Probability (0 to 1) that a datagram is held back by
    /// [`LinkConfig::reorder_delay`], so that later ones overtake it.
    pub reorder: f64,
    /// How long a reordered datagram is held back.
    pub reorder_delay: Duration,
    /// Split stream (TCP, TLS) writes into segments of at most this many
    /// octets, to exercise the receiver's framer. `None` keeps each message
    /// in one segment.
    pub segment: Option<usize>,
}

impl Default for LinkConfig {
    /// 10 ms one way, nothing lost, duplicated or reordered.
    fn default() -> Self {
        Self::new(Duration::from_millis(10))
    }
}

impl LinkConfig {
    /// A perfect link with this one-way latency.
    pub const fn new(latency: Duration) -> Self {
        Self {
            latency,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(100),
            segment: None,
        }
    }

    /// Sets the one-way latency.
    #[must_use]
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the jitter.
    #[must_use]
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the loss probability (clamped to 0..=1).
    #[must_use]
    pub fn with_loss(mut self, probability: f64) -> Self {
        self.loss = clamp(probability);
        self
    }

    /// Sets the duplication probability (clamped to 0..=1).
    #[must_use]
    pub fn with_duplication(mut self, probability: f64) -> Self {
        self.duplicate = clamp(probability);
        self
    }

    /// Holds back a datagram by `delay` with this probability (clamped to
    /// 0..=1).
    #[must_use]
    pub fn with_reordering(mut self, probability: f64, delay: Duration) -> Self {
        self.reorder = clamp(probability);
        self.reorder_delay = delay;
        self
    }

    /// Splits stream writes into segments of at most `size` octets (at
    /// least 1).
    #[must_use]
    pub fn with_segments(mut self, size: usize) -> Self {
        self.segment = Some(size.max(1));
        self
    }
}

/// A probability in 0..=1 (NaN counts as 0).
pub(crate) fn clamp(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
}
