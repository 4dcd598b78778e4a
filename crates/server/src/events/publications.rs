//! The publications (RFC 3903) of local users' event state, by entity tag
//! and by user, oldest first, with their expiry.

use std::collections::{BTreeSet, HashMap};

use crate::storage::PublicationRecord;

/// The table.
#[derive(Debug, Default)]
pub struct Publications {
    /// etag → (order of the latest put, record).
    by_etag: HashMap<String, (u64, PublicationRecord)>,
    /// (aor, event) → etags.
    by_aor: HashMap<(String, String), BTreeSet<String>>,
    /// (expiry, etag), soonest first.
    deadlines: BTreeSet<(u64, String)>,
    order: u64,
}

fn key(aor: &str, event: &str) -> (String, String) {
    (aor.to_ascii_lowercase(), event.to_owned())
}

impl Publications {
    /// How many.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_etag.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_etag.is_empty()
    }

    /// The publication with this entity tag.
    #[must_use]
    pub fn get(&self, etag: &str) -> Option<&PublicationRecord> {
        self.by_etag.get(etag).map(|(_, r)| r)
    }

    /// Adds or replaces (same entity tag) a publication; it becomes the
    /// most recent of its user.
    pub fn put(&mut self, record: PublicationRecord) {
        self.remove(&record.etag);
        self.order += 1;
        self.by_aor
            .entry(key(&record.aor, &record.event))
            .or_default()
            .insert(record.etag.clone());
        self.deadlines
            .insert((record.expires_unix, record.etag.clone()));
        self.by_etag
            .insert(record.etag.clone(), (self.order, record));
    }

    /// Removes a publication.
    pub fn remove(&mut self, etag: &str) -> Option<PublicationRecord> {
        let (_, record) = self.by_etag.remove(etag)?;
        let k = key(&record.aor, &record.event);
        if let Some(tags) = self.by_aor.get_mut(&k) {
            tags.remove(etag);
            if tags.is_empty() {
                self.by_aor.remove(&k);
            }
        }
        self.deadlines
            .remove(&(record.expires_unix, etag.to_owned()));
        Some(record)
    }

    /// Every publication of `event` by `aor`, oldest first.
    #[must_use]
    pub fn of(&self, aor: &str, event: &str) -> Vec<&PublicationRecord> {
        let Some(tags) = self.by_aor.get(&key(aor, event)) else {
            return Vec::new();
        };
        let mut list: Vec<&(u64, PublicationRecord)> =
            tags.iter().filter_map(|t| self.by_etag.get(t)).collect();
        list.sort_by_key(|(order, _)| *order);
        list.into_iter().map(|(_, r)| r).collect()
    }

    /// How many publications of `event` `aor` has.
    #[must_use]
    pub fn count_of(&self, aor: &str, event: &str) -> usize {
        self.by_aor.get(&key(aor, event)).map_or(0, BTreeSet::len)
    }

    /// Every publication, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &PublicationRecord> {
        self.by_etag.values().map(|(_, r)| r)
    }

    /// When the next one expires (Unix seconds).
    #[must_use]
    pub fn next_expiry(&self) -> Option<u64> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// Removes and returns those expired at `unix_now`.
    pub fn take_expired(&mut self, unix_now: u64) -> Vec<PublicationRecord> {
        let due: Vec<String> = self
            .deadlines
            .iter()
            .take_while(|(at, _)| *at <= unix_now)
            .map(|(_, etag)| etag.clone())
            .collect();
        due.iter().filter_map(|etag| self.remove(etag)).collect()
    }
}

#[cfg(test)]
mod tests {
    // Test code: a panic is a failing test.
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn publication(etag: &str, expires_unix: u64) -> PublicationRecord {
        PublicationRecord {
            etag: etag.into(),
            aor: "sip:alice@example.com".into(),
            event: "presence".into(),
            content_type: "application/pidf+xml".into(),
            body: etag.into(),
            expires_unix,
        }
    }

    #[test]
    fn oldest_first_replace_moves_last_and_expiry() {
        let mut table = Publications::default();
        table.put(publication("a", 100));
        table.put(publication("b", 50));
        table.put(publication("a", 200));
        let order: Vec<&str> = table
            .of("SIP:alice@example.com", "presence")
            .iter()
            .map(|r| r.etag.as_str())
            .collect();
        assert_eq!(order, ["b", "a"]);
        assert_eq!(table.next_expiry(), Some(50));
        let expired = table.take_expired(60);
        assert_eq!(expired.len(), 1);
        assert_eq!(table.count_of("sip:alice@example.com", "presence"), 1);
        assert_eq!(table.next_expiry(), Some(200));
    }
}
