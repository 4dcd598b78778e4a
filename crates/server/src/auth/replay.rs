//! Nonce-count tracking: each `nc` of a nonce is accepted once.
//!
//! State is kept only for nonces that carried a valid response, and only
//! until they expire, so memory is bounded by the authenticated request rate
//! times the nonce lifetime, and capped by `capacity`. When the cap forces
//! out a live nonce, the floor rises to its expiry: any nonce expiring at or
//! before the floor without state is refused as stale, so forgetting never
//! opens a replay.

use std::collections::{BTreeSet, HashMap};

use switchboard_core::shrink_after_peak;

use super::nonce::NonceId;

/// How many `nc` values below the highest one seen are remembered: within
/// this window a client may use counts out of order (parallel requests over
/// UDP), beyond it older counts are refused.
pub(crate) const WINDOW: u32 = 64;

#[derive(Debug, Clone, Copy)]
struct NcState {
    highest: u32,
    /// Bit `i` set: `highest - i` was seen.
    seen: u64,
}

/// Why a nonce count is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NcError {
    /// This count was already used (or is 0, or too far below the highest).
    Replay,
    /// The nonce's state was dropped to bound memory: ask for a fresh one.
    Forgotten,
}

#[derive(Debug)]
pub(crate) struct ReplayCache {
    nonces: HashMap<NonceId, NcState>,
    by_expiry: BTreeSet<(u64, NonceId)>,
    floor: u64,
    capacity: usize,
}

impl ReplayCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            nonces: HashMap::new(),
            by_expiry: BTreeSet::new(),
            floor: 0,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.nonces.len()
    }

    /// Drops the state of nonces expired at `unix_now`.
    pub(crate) fn purge(&mut self, unix_now: u64) {
        while let Some(&(expires_at, id)) = self.by_expiry.first() {
            if expires_at > unix_now {
                break;
            }
            self.by_expiry.remove(&(expires_at, id));
            self.nonces.remove(&id);
        }
        shrink_after_peak(&mut self.nonces);
    }

    /// Accepts `nc` for the nonce `id` (valid until `expires_at`) once.
    pub(crate) fn check(
        &mut self,
        id: NonceId,
        expires_at: u64,
        nc: u32,
        unix_now: u64,
    ) -> Result<(), NcError> {
        self.purge(unix_now);
        if nc == 0 {
            return Err(NcError::Replay);
        }
        let state = match self.nonces.get_mut(&id) {
            Some(state) => state,
            None => {
                if expires_at <= self.floor {
                    return Err(NcError::Forgotten);
                }
                while self.nonces.len() >= self.capacity {
                    let Some(oldest) = self.by_expiry.pop_first() else {
                        break;
                    };
                    self.nonces.remove(&oldest.1);
                    self.floor = self.floor.max(oldest.0);
                    tracing::debug!(
                        floor = self.floor,
                        "nonce-count table full; oldest nonce forgotten"
                    );
                }
                if expires_at <= self.floor {
                    return Err(NcError::Forgotten);
                }
                self.by_expiry.insert((expires_at, id));
                self.nonces.entry(id).or_insert(NcState {
                    highest: 0,
                    seen: 0,
                })
            }
        };
        if nc > state.highest {
            let shift = nc - state.highest;
            state.seen = if shift >= 64 { 0 } else { state.seen << shift };
            state.seen |= 1;
            state.highest = nc;
            return Ok(());
        }
        let back = state.highest - nc;
        if back >= WINDOW {
            return Err(NcError::Replay);
        }
        let bit = 1u64 << back;
        if state.seen & bit != 0 {
            return Err(NcError::Replay);
        }
        state.seen |= bit;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> NonceId {
        [n; 16]
    }

    #[test]
    fn each_count_once() {
        let mut c = ReplayCache::new(10);
        assert_eq!(c.check(id(1), 100, 1, 0), Ok(()));
        assert_eq!(c.check(id(1), 100, 1, 0), Err(NcError::Replay));
        assert_eq!(c.check(id(1), 100, 3, 0), Ok(()));
        // Out of order within the window is fine, once.
        assert_eq!(c.check(id(1), 100, 2, 0), Ok(()));
        assert_eq!(c.check(id(1), 100, 2, 0), Err(NcError::Replay));
        assert_eq!(c.check(id(1), 100, 0, 0), Err(NcError::Replay));
        // Far ahead, then far behind.
        assert_eq!(c.check(id(1), 100, 1000, 0), Ok(()));
        assert_eq!(c.check(id(1), 100, 1000 - WINDOW, 0), Err(NcError::Replay));
        assert_eq!(c.check(id(1), 100, 1000 - WINDOW + 1, 0), Ok(()));
        // Another nonce has its own counts.
        assert_eq!(c.check(id(2), 100, 1, 0), Ok(()));
    }

    #[test]
    fn state_ends_with_the_nonce() {
        let mut c = ReplayCache::new(10);
        c.check(id(1), 100, 1, 0).unwrap();
        c.check(id(2), 200, 1, 0).unwrap();
        assert_eq!(c.len(), 2);
        c.purge(100);
        assert_eq!(c.len(), 1);
        c.purge(200);
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn a_full_table_forgets_the_oldest_and_refuses_it_after() {
        let mut c = ReplayCache::new(2);
        c.check(id(1), 100, 1, 0).unwrap();
        c.check(id(2), 200, 1, 0).unwrap();
        c.check(id(3), 300, 1, 0).unwrap();
        assert_eq!(c.len(), 2);
        // Nonce 1 was forgotten: its replay is not accepted, it is stale.
        assert_eq!(c.check(id(1), 100, 1, 0), Err(NcError::Forgotten));
        assert_eq!(c.check(id(1), 100, 2, 0), Err(NcError::Forgotten));
        // A never-seen nonce that expires before the floor too.
        assert_eq!(c.check(id(9), 50, 1, 0), Err(NcError::Forgotten));
        // Nonces kept still work.
        assert_eq!(c.check(id(2), 200, 1, 0), Err(NcError::Replay));
        assert_eq!(c.check(id(2), 200, 2, 0), Ok(()));
    }
}
