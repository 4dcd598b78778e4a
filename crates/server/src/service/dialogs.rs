//! The dialogs this server let through: the Call-IDs of the
//! dialog-creating requests it forwarded after its checks. An in-dialog
//! request (a To tag) routed to this server is relayed without a challenge
//! only for one of them, so that a made-up To tag and Route are no way
//! around the relay rules.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a dialog is remembered without a request in it.
const IDLE: Duration = Duration::from_secs(12 * 3600);
/// Most dialogs remembered (a bound on memory whatever peers send).
const MAX_ENTRIES: usize = 1_000_000;

/// Call-IDs of dialogs and when they were last used.
#[derive(Debug, Default)]
pub(crate) struct Dialogs {
    /// Keyed by shared strings: the call book, the call records and the
    /// dialog records file a call under the same one
    /// ([`Dialogs::shared_id`]).
    map: HashMap<Arc<str>, Instant>,
}

impl Dialogs {
    /// Remembers the dialog of `call_id`.
    pub(crate) fn learn(&mut self, now: Instant, call_id: &str) {
        if self.map.len() >= MAX_ENTRIES && !self.map.contains_key(call_id) {
            self.purge(now);
            if self.map.len() >= MAX_ENTRIES {
                tracing::debug!("dialog table full: not remembering another dialog");
                return;
            }
        }
        match self.map.get_mut(call_id) {
            Some(seen) => *seen = now,
            None => {
                self.map.insert(Arc::from(call_id), now);
            }
        }
    }

    /// The string this table keeps `call_id` in, for other tables to share.
    pub(crate) fn shared_id(&self, call_id: &str) -> Option<Arc<str>> {
        self.map
            .get_key_value(call_id)
            .map(|(id, _)| Arc::clone(id))
    }

    /// Whether the dialog of `call_id` is known (and marks it used).
    pub(crate) fn touch(&mut self, now: Instant, call_id: &str) -> bool {
        match self.map.get_mut(call_id) {
            Some(seen) => {
                *seen = now;
                true
            }
            None => false,
        }
    }

    /// Forgets a dialog (its BYE went through).
    pub(crate) fn end(&mut self, call_id: &str) {
        self.map.remove(call_id);
    }

    /// Forgets dialogs idle for long.
    pub(crate) fn purge(&mut self, now: Instant) {
        self.map
            .retain(|_, seen| now.saturating_duration_since(*seen) < IDLE);
    }

    /// How many are known.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialogs_are_learnt_used_ended_and_expire() {
        let now = Instant::now();
        let mut d = Dialogs::default();
        assert!(!d.touch(now, "a"));
        d.learn(now, "a");
        d.learn(now, "b");
        assert!(d.touch(now + IDLE / 2, "a"));
        d.end("a");
        assert!(!d.touch(now, "a"));
        assert_eq!(d.len(), 1);
        d.purge(now + IDLE);
        assert_eq!(d.len(), 0);
    }
}
