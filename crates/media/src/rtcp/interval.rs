use std::time::Duration;

use rand_core::RngCore;

/// The RTCP report interval used when none is configured: RFC 3550 §6.2's
/// recommended minimum, which is what a two-party call ends up with anyway.
pub const DEFAULT_RTCP_INTERVAL: Duration = Duration::from_secs(5);

/// The next report interval: `base` randomized to [0.5, 1.5] × `base`
/// (RFC 3550 §6.3.1) so that sources do not report in lockstep; the first
/// report may use half of it (§6.2 "initial" rule).
pub fn rtcp_interval(base: Duration, initial: bool, rng: &mut dyn RngCore) -> Duration {
    let base = if initial { base / 2 } else { base };
    let factor = 0.5 + f64::from(rng.next_u32()) / f64::from(u32::MAX);
    base.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn interval_is_randomized_within_bounds() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..100 {
            let t = rtcp_interval(DEFAULT_RTCP_INTERVAL, false, &mut rng);
            assert!(t >= Duration::from_millis(2500) && t <= Duration::from_millis(7500));
            let t = rtcp_interval(DEFAULT_RTCP_INTERVAL, true, &mut rng);
            assert!(t <= Duration::from_millis(3750));
        }
    }
}
