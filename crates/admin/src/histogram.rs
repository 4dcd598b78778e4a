//! A latency histogram with fixed bucket bounds: plain integers, for one
//! owner on one thread (the driver task), rendered by
//! [`Exposition::histogram`](crate::Exposition::histogram).

use std::time::Duration;

/// Bucket bounds in seconds for latencies from 100 µs to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Observations counted into buckets by upper bound (seconds), with their
/// sum and count.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per bucket, not cumulative; the last one is `+Inf`.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// An empty histogram with these upper bounds (ascending, in seconds).
    #[must_use]
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Counts one observation.
    pub fn observe(&mut self, value: Duration) {
        let seconds = value.as_secs_f64();
        let index = self
            .bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(self.bounds.len());
        if let Some(count) = self.counts.get_mut(index) {
            *count += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// How many observations.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Their sum, in seconds.
    #[must_use]
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Each upper bound (`f64::INFINITY` last) with the observations at
    /// or below it.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let bounds = self.bounds.iter().copied().chain([f64::INFINITY]);
        bounds
            .zip(self.counts.iter())
            .scan(0, |total, (bound, count)| {
                *total += count;
                Some((bound, *total))
            })
    }
}
