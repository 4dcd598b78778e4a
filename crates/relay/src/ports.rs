//! The free local ports of the configured range, handed out in pairs.

use std::collections::VecDeque;
use std::ops::RangeInclusive;

/// Free port pairs: an even RTP port and the odd RTCP port above it
/// (RFC 3550 §11). A stream with rtcp-mux still holds its pair, so that an
/// update may turn mux off without a new port; released pairs go to the
/// back of the queue, so a port is reused as late as possible and stray
/// packets of an ended call rarely reach the next one.
#[derive(Debug)]
pub(crate) struct PortPool {
    free: VecDeque<u16>,
}

impl PortPool {
    pub(crate) fn new(range: &RangeInclusive<u16>) -> Self {
        let first = range.start().saturating_add(range.start() % 2);
        let free = (first..*range.end())
            .step_by(2)
            .filter(|base| base.checked_add(1).is_some_and(|rtcp| rtcp <= *range.end()))
            .collect();
        Self { free }
    }

    /// Pairs free now.
    pub(crate) fn free_pairs(&self) -> usize {
        self.free.len()
    }

    /// `count` pairs' RTP ports, or `None` (and nothing taken) if fewer are free.
    pub(crate) fn take(&mut self, count: usize) -> Option<Vec<u16>> {
        if count > self.free.len() {
            return None;
        }
        Some(self.free.drain(..count).collect())
    }

    /// Takes the pairs of these RTP ports, or none of them (`false`) when
    /// one is not free (a session taken back on the ports it had).
    pub(crate) fn take_these(&mut self, bases: &[u16]) -> bool {
        if !bases.iter().all(|base| self.free.contains(base)) {
            return false;
        }
        self.free.retain(|free| !bases.contains(free));
        true
    }

    pub(crate) fn give_back(&mut self, base: u16) {
        self.free.push_back(base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_start_even_and_fit_the_range() {
        let mut pool = PortPool::new(&(30_001..=30_006));
        assert_eq!(pool.free_pairs(), 2);
        assert_eq!(pool.take(3), None);
        assert_eq!(pool.take(2), Some(vec![30_002, 30_004]));
        pool.give_back(30_002);
        assert_eq!(pool.take(1), Some(vec![30_002]));
        assert_eq!(PortPool::new(&(65_534..=65_535)).free_pairs(), 1);
    }
}
