//! Per-source token buckets.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Per-source request rate limit settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Off: every request passes.
    pub enabled: bool,
    /// Sustained requests per second allowed from one source.
    pub rate: u32,
    /// Requests a source may send at once after being quiet (bucket size).
    pub burst: u32,
    /// Most sources tracked at once (memory bound). When full, sources not
    /// yet tracked share one bucket.
    pub max_sources: usize,
    /// Sources never limited (SIP trunks, the operator's own proxies).
    pub exempt: Vec<IpAddr>,
    /// What a limited request gets.
    pub action: LimitAction,
}

/// What a rate-limited request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitAction {
    /// Dropped without answer: a flood or a scanner learns nothing and costs
    /// nothing to answer.
    #[default]
    Drop,
    /// 503 with `Retry-After`.
    Reject,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            rate: 30,
            burst: 100,
            max_sources: 100_000,
            exempt: Vec::new(),
            action: LimitAction::Drop,
        }
    }
}

/// Tokens are counted in millionths so that refill is exact integer math.
const UNIT: u128 = 1_000_000;
/// A full table is pruned at most this often, so a flood of new sources
/// cannot make every request scan the table.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u128,
    last: Instant,
    /// The source was told about (logged) since it last had tokens: a
    /// throttled source is logged once, not once per request.
    warned: bool,
}

#[derive(Debug)]
pub(crate) struct RateLimiter {
    config: RateLimitConfig,
    buckets: HashMap<IpAddr, Bucket>,
    overflow: Option<Bucket>,
    last_prune: Option<Instant>,
}

impl RateLimiter {
    pub(crate) fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            buckets: HashMap::new(),
            overflow: None,
            last_prune: None,
        }
    }

    pub(crate) fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    pub(crate) fn tracked(&self) -> usize {
        self.buckets.len()
    }

    fn capacity(&self) -> u128 {
        u128::from(self.config.burst.max(1)) * UNIT
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.last).as_nanos();
        // rate tokens per second = rate * UNIT per 1e9 ns.
        let add = elapsed.saturating_mul(u128::from(self.config.rate)) * UNIT / 1_000_000_000;
        bucket.tokens = bucket.tokens.saturating_add(add).min(self.capacity());
        bucket.last = now;
    }

    /// Takes one token for `source`; false when its bucket is empty.
    pub(crate) fn allow(&mut self, now: Instant, source: IpAddr) -> bool {
        if !self.config.enabled || self.config.exempt.contains(&source) {
            return true;
        }
        let full = Bucket {
            tokens: self.capacity(),
            last: now,
            warned: false,
        };
        if !self.buckets.contains_key(&source) && self.buckets.len() >= self.config.max_sources {
            self.prune(now);
        }
        let mut bucket = if let Some(b) = self.buckets.get(&source) {
            *b
        } else if self.buckets.len() < self.config.max_sources {
            full
        } else {
            // Table full: untracked sources share one bucket.
            let mut b = self.overflow.unwrap_or(full);
            self.refill(&mut b, now);
            let ok = b.tokens >= UNIT;
            if ok {
                b.tokens -= UNIT;
            }
            self.overflow = Some(b);
            return ok;
        };
        self.refill(&mut bucket, now);
        let ok = bucket.tokens >= UNIT;
        if ok {
            bucket.tokens -= UNIT;
            bucket.warned = false;
        } else if !bucket.warned {
            bucket.warned = true;
            tracing::warn!(
                %source,
                rate = self.config.rate,
                burst = self.config.burst,
                "source throttled: over its request rate (requests per second, burst); declare trunks and SBCs as trusted networks"
            );
        }
        self.buckets.insert(source, bucket);
        ok
    }

    /// Forgets sources whose bucket is full again (they are as good as new).
    pub(crate) fn prune(&mut self, now: Instant) {
        if self
            .last_prune
            .is_some_and(|t| now.saturating_duration_since(t) < PRUNE_EVERY)
        {
            return;
        }
        self.last_prune = Some(now);
        let capacity = self.capacity();
        let rate = u128::from(self.config.rate.max(1));
        // Time for an empty bucket to fill: anything idle that long is full.
        let refill_nanos = capacity.saturating_mul(1_000_000_000) / (rate * UNIT);
        self.buckets.retain(|_, b| {
            let idle = now.saturating_duration_since(b.last).as_nanos();
            b.tokens < capacity && idle < refill_nanos
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            rate,
            burst,
            ..RateLimitConfig::default()
        })
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn burst_then_refill_on_virtual_time() {
        let t0 = Instant::now();
        let mut l = limiter(10, 5);
        for _ in 0..5 {
            assert!(l.allow(t0, A));
        }
        assert!(!l.allow(t0, A));
        // Another source has its own bucket.
        assert!(l.allow(t0, B));
        // 10 per second: one token every 100 ms.
        assert!(!l.allow(t0 + Duration::from_millis(99), A));
        assert!(l.allow(t0 + Duration::from_millis(100), A));
        assert!(!l.allow(t0 + Duration::from_millis(100), A));
        // A long pause fills the bucket to its size, not beyond.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..5 {
            assert!(l.allow(later, A));
        }
        assert!(!l.allow(later, A));
    }

    #[test]
    fn fractional_refill_accumulates() {
        let t0 = Instant::now();
        let mut l = limiter(3, 1);
        assert!(l.allow(t0, A));
        // 3 per second: a token each 333.3 ms.
        assert!(!l.allow(t0 + Duration::from_millis(333), A));
        assert!(l.allow(t0 + Duration::from_millis(334), A));
    }

    #[test]
    fn exempt_and_disabled() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(RateLimitConfig {
            rate: 1,
            burst: 1,
            exempt: vec![A],
            ..RateLimitConfig::default()
        });
        for _ in 0..100 {
            assert!(l.allow(t0, A));
        }
        let mut off = RateLimiter::new(RateLimitConfig {
            enabled: false,
            rate: 1,
            burst: 1,
            ..RateLimitConfig::default()
        });
        for _ in 0..100 {
            assert!(off.allow(t0, B));
        }
    }

    #[test]
    fn table_is_bounded_and_overflow_shares_a_bucket() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(RateLimitConfig {
            rate: 1,
            burst: 2,
            max_sources: 2,
            ..RateLimitConfig::default()
        });
        assert!(l.allow(t0, A));
        assert!(l.allow(t0, B));
        let c = |i: u8| IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, i));
        // Full: new sources share the overflow bucket of 2.
        assert!(l.allow(t0, c(1)));
        assert!(l.allow(t0, c(2)));
        assert!(!l.allow(t0, c(3)));
        assert_eq!(l.tracked(), 2);
        // Once A and B are idle long enough, they are pruned and new
        // sources get their own buckets again.
        let later = t0 + Duration::from_secs(10);
        assert!(l.allow(later, c(3)));
        assert!(l.tracked() <= 2);
    }
}
