use super::error::SrtpError;

/// Width of the replay window: libsrtp's 128 packets, above RFC 3711's
/// minimum of 64.
const WINDOW: u64 = 128;

/// The sliding replay window of RFC 3711 §3.3.2 over packet indices.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReplayWindow {
    /// Highest index accepted, once one was.
    highest: Option<u64>,
    /// Bit i set: index `highest - i` was accepted.
    seen: u128,
}

impl ReplayWindow {
    /// Whether `index` may be accepted (checked before authenticating).
    pub(crate) fn check(&self, index: u64) -> Result<(), SrtpError> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if index > highest {
            return Ok(());
        }
        let behind = highest - index;
        if behind >= WINDOW {
            Err(SrtpError::TooOld)
        } else if self.seen >> behind & 1 == 1 {
            Err(SrtpError::Replayed)
        } else {
            Ok(())
        }
    }

    /// Records `index` (after it authenticated).
    pub(crate) fn accept(&mut self, index: u64) {
        match self.highest {
            Some(highest) if index <= highest => {
                let behind = highest - index;
                if behind < WINDOW {
                    self.seen |= 1 << behind;
                }
            }
            Some(highest) => {
                let ahead = index - highest;
                self.seen = if ahead >= WINDOW {
                    0
                } else {
                    self.seen << ahead
                };
                self.seen |= 1;
                self.highest = Some(index);
            }
            None => {
                self.seen = 1;
                self.highest = Some(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_rejects_replays_and_old_packets() {
        let mut w = ReplayWindow::default();
        for i in [10u64, 12, 11, 200] {
            assert_eq!(w.check(i), Ok(()));
            w.accept(i);
        }
        assert_eq!(w.check(12), Err(SrtpError::TooOld));
        assert_eq!(w.check(200), Err(SrtpError::Replayed));
        assert_eq!(w.check(199), Ok(()));
        assert_eq!(w.check(73), Ok(()));
        assert_eq!(w.check(72), Err(SrtpError::TooOld));
        w.accept(199);
        assert_eq!(w.check(199), Err(SrtpError::Replayed));
    }
}
