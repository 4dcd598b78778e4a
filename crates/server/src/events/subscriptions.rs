//! The subscriptions the server notifies: by dialog (its tag), by watched
//! resource, by NOTIFY transaction; bounded per watcher and in total; the
//! expiry deadlines.

use std::collections::{BTreeSet, HashMap};

use switchboard_core::TransactionId;

use super::Subscription;

/// A new subscription over a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The watcher holds as many as allowed (its fault: 403).
    #[error("the watcher holds {0} subscriptions already")]
    PerUser(usize),
    /// The server holds as many as allowed (503).
    #[error("the server holds {0} subscriptions already")]
    Total(usize),
}

/// The table.
#[derive(Debug, Default)]
pub struct Subscriptions {
    by_id: HashMap<String, Subscription>,
    /// (event, resource) → subscription ids.
    by_resource: HashMap<(String, String), BTreeSet<String>>,
    per_watcher: HashMap<String, usize>,
    /// NOTIFY transactions in flight → subscription id.
    by_tx: HashMap<TransactionId, String>,
    /// (expiry, id), soonest first.
    deadlines: BTreeSet<(u64, String)>,
    max_per_user: usize,
    max_total: usize,
}

fn key(event: &str, resource: &str) -> (String, String) {
    (event.to_owned(), resource.to_ascii_lowercase())
}

impl Subscriptions {
    /// An empty table with these bounds.
    #[must_use]
    pub fn new(max_per_user: usize, max_total: usize) -> Self {
        Self {
            max_per_user,
            max_total,
            ..Self::default()
        }
    }

    /// How many.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether `watcher` may have one more.
    ///
    /// # Errors
    /// Over a bound: which one.
    pub fn check_limit(&self, watcher: &str) -> Result<(), LimitError> {
        if self.by_id.len() >= self.max_total {
            return Err(LimitError::Total(self.by_id.len()));
        }
        let held = self
            .per_watcher
            .get(&watcher.to_ascii_lowercase())
            .copied()
            .unwrap_or(0);
        if held >= self.max_per_user {
            return Err(LimitError::PerUser(held));
        }
        Ok(())
    }

    /// Adds (or replaces) a subscription.
    pub fn insert(&mut self, sub: Subscription) {
        let id = sub.id().to_owned();
        self.remove(&id);
        self.by_resource
            .entry(key(sub.event(), sub.resource()))
            .or_default()
            .insert(id.clone());
        *self
            .per_watcher
            .entry(sub.watcher().to_ascii_lowercase())
            .or_insert(0) += 1;
        self.deadlines.insert((sub.expires_unix(), id.clone()));
        self.by_id.insert(id, sub);
    }

    /// Removes a subscription.
    pub fn remove(&mut self, id: &str) -> Option<Subscription> {
        let sub = self.by_id.remove(id)?;
        let k = key(sub.event(), sub.resource());
        if let Some(ids) = self.by_resource.get_mut(&k) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_resource.remove(&k);
            }
        }
        let w = sub.watcher().to_ascii_lowercase();
        if let Some(n) = self.per_watcher.get_mut(&w) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_watcher.remove(&w);
            }
        }
        self.deadlines.remove(&(sub.expires_unix(), id.to_owned()));
        self.by_tx.retain(|_, v| v != id);
        Some(sub)
    }

    /// The subscription with this id.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&Subscription> {
        self.by_id.get(id)
    }

    /// The subscription with this id, to change (not its expiry: see
    /// [`Subscriptions::set_expires`]).
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Subscription> {
        self.by_id.get_mut(id)
    }

    /// Takes subscription `id` out to work on it (its indices stay); give
    /// it back with [`Subscriptions::restore`] before anything else.
    pub(crate) fn checkout(&mut self, id: &str) -> Option<Subscription> {
        self.by_id.remove(id)
    }

    /// Puts back what [`Subscriptions::checkout`] took.
    pub(crate) fn restore(&mut self, sub: Subscription) {
        self.by_id.insert(sub.id().to_owned(), sub);
    }

    /// A refresh: the subscription ends at `expires_unix` now.
    pub fn set_expires(&mut self, id: &str, expires_unix: u64) {
        if let Some(sub) = self.by_id.get_mut(id) {
            self.deadlines.remove(&(sub.expires_unix(), id.to_owned()));
            sub.set_expires(expires_unix);
            self.deadlines.insert((expires_unix, id.to_owned()));
        }
    }

    /// The dialog an in-dialog request belongs to: its To tag is the key,
    /// Call-ID and From tag must match.
    #[must_use]
    pub fn find_dialog(&self, call_id: &str, to_tag: &str, from_tag: &str) -> Option<&str> {
        self.by_id
            .get(to_tag)
            .filter(|s| s.matches(call_id, from_tag))
            .map(Subscription::id)
    }

    /// The ids of the subscriptions to `event` of `resource`.
    #[must_use]
    pub fn watching(&self, event: &str, resource: &str) -> Vec<String> {
        self.by_resource
            .get(&key(event, resource))
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every id.
    #[must_use]
    pub fn ids(&self) -> Vec<String> {
        self.by_id.keys().cloned().collect()
    }

    /// When the next one expires (Unix seconds).
    #[must_use]
    pub fn next_expiry(&self) -> Option<u64> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// The ids of those expired at `unix_now`.
    #[must_use]
    pub fn expired(&self, unix_now: u64) -> Vec<String> {
        self.deadlines
            .iter()
            .take_while(|(at, _)| *at <= unix_now)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Remembers the NOTIFY transaction `tx` of subscription `id`.
    pub fn track(&mut self, tx: TransactionId, id: &str) {
        self.by_tx.insert(tx, id.to_owned());
    }

    /// The subscription whose NOTIFY transaction `tx` was (forgotten).
    pub fn untrack(&mut self, tx: TransactionId) -> Option<String> {
        self.by_tx.remove(&tx)
    }

    /// Whether `tx` is a NOTIFY transaction of ours.
    #[must_use]
    pub fn is_tracked(&self, tx: TransactionId) -> bool {
        self.by_tx.contains_key(&tx)
    }
}
