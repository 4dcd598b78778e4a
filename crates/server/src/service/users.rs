//! The users, in memory, for the authentication hot path.
//!
//! A store read per request costs more than the rest of a REGISTER's
//! authentication, and blocks whoever makes it; so the service keeps every
//! user's HA1 values here. The runtime loads them at start, reloads them
//! when the store says they changed (`Effect::CheckUsers`, once a second:
//! a `user add`, `passwd` or `remove` from the command line), and looks a
//! user up on a miss (`Effect::LookupUser`: a user added a moment ago
//! registers at once). Names found missing are remembered until the next
//! reload, so that a scan of made-up names costs one store read per name,
//! not one per request.
//!
//! A change is applied as a [`UserDelta`] (only the users the store's
//! change log names), so that one `user passwd` among a million users
//! costs one user on the driver; everything is read again only at start
//! and when the log no longer reaches back to the version held.

use std::collections::{HashMap, HashSet};

use super::effect::{UserChange, UserDelta};
use crate::storage::{Ha1Set, User};

/// Most names remembered as missing (a bound on memory whatever peers send).
const MAX_ABSENT: usize = 100_000;

/// What the directory knows of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known<'a> {
    /// The user exists.
    Found(&'a Ha1Set),
    /// The store said there is no such user.
    Absent,
    /// Not in memory: ask the store.
    Unknown,
}

/// What the directory holds of one user.
#[derive(Debug)]
struct Entry {
    ha1: Ha1Set,
    /// The stored groups (the plan's `[groups]` add to them).
    groups: Box<[String]>,
}

/// Every user, by domain and name, and the names known to be missing: the
/// service's users in memory. Built from the store's rows off the driver
/// at start ([`Service::set_user_directory`](super::Service::set_user_directory):
/// a million users take a while), kept up to date by [`UserDelta`]s.
#[derive(Debug, Default)]
pub struct UserDirectory {
    /// Each user's slot in `entries`, by domain and name. The entries are
    /// kept apart from the map: a map's table holds about twice as many
    /// buckets as users, each the size of a key and its value, so a small
    /// value keeps a million users' table small.
    by_domain: HashMap<Box<str>, HashMap<Box<str>, u32>>,
    /// The users' entries; a removed user's slot is empty until reused.
    entries: Vec<Option<Entry>>,
    /// The empty slots of `entries`.
    free: Vec<u32>,
    /// Names the store does not have, by domain (looked up without
    /// allocating, as the users are).
    absent: HashMap<Box<str>, HashSet<Box<str>>>,
    absent_count: usize,
    version: u64,
    count: usize,
}

impl UserDirectory {
    /// An empty directory as of the store's users `version`, to fill with
    /// [`UserDirectory::insert`] as the store's rows are read (no list of
    /// every user held beside it).
    #[must_use]
    pub fn new(version: u64) -> Self {
        Self {
            version,
            ..Self::default()
        }
    }

    /// Every user of `users`, as of the store's users `version`.
    #[must_use]
    pub fn from_users(version: u64, users: impl IntoIterator<Item = User>) -> Self {
        let mut directory = Self::default();
        directory.replace(version, users);
        directory
    }

    /// The HA1 values of `name` in `domain` (exact match, as stored), when
    /// held: the authentication's lookup.
    #[must_use]
    pub fn ha1(&self, name: &str, domain: &str) -> Option<&Ha1Set> {
        self.entry(name, domain).map(|entry| &entry.ha1)
    }

    /// Replaces everything with `users`, as of the store's `version`.
    pub(crate) fn replace(&mut self, version: u64, users: impl IntoIterator<Item = User>) {
        let users = users.into_iter();
        *self = Self {
            version,
            entries: Vec::with_capacity(users.size_hint().0),
            ..Self::default()
        };
        for user in users {
            self.insert(user);
        }
    }

    /// The store's users version this directory reflects.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// What is known of `name` in `domain` (exact match, as stored).
    pub(crate) fn get(&self, name: &str, domain: &str) -> Known<'_> {
        if let Some(entry) = self.entry(name, domain) {
            return Known::Found(&entry.ha1);
        }
        if self
            .absent
            .get(domain)
            .is_some_and(|names| names.contains(name))
        {
            Known::Absent
        } else {
            Known::Unknown
        }
    }

    /// The stored groups of `name` in `domain` (none for a user not in
    /// memory).
    pub(crate) fn groups(&self, name: &str, domain: &str) -> &[String] {
        self.entry(name, domain).map_or(&[], |entry| &entry.groups)
    }

    fn entry(&self, name: &str, domain: &str) -> Option<&Entry> {
        let slot = *self.by_domain.get(domain)?.get(name)?;
        self.entries.get(usize::try_from(slot).ok()?)?.as_ref()
    }

    /// Adds or replaces a user (read at start, or found in the store after
    /// a miss).
    pub fn insert(&mut self, user: User) {
        if let Some(names) = self.absent.get_mut(user.domain.as_str()) {
            if names.remove(user.name.as_str()) {
                self.absent_count -= 1;
            }
        }
        let users = self
            .by_domain
            .entry(user.domain.into_boxed_str())
            .or_default();
        let entry = Some(Entry {
            ha1: user.ha1,
            groups: user.groups.into_boxed_slice(),
        });
        if let Some(held) = users
            .get(user.name.as_str())
            .and_then(|&slot| self.entries.get_mut(usize::try_from(slot).ok()?))
        {
            *held = entry;
            return;
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let Ok(slot) = u32::try_from(self.entries.len()) else {
                    tracing::warn!("user directory full: {} not held", user.name);
                    return;
                };
                self.entries.push(None);
                slot
            }
        };
        if let Some(free) = usize::try_from(slot)
            .ok()
            .and_then(|at| self.entries.get_mut(at))
        {
            *free = entry;
        }
        users.insert(user.name.into_boxed_str(), slot);
        self.count += 1;
    }

    /// Applies the changes of `delta` when it starts at or before the
    /// version held and ends after it (its entries are the users as they
    /// stand now, so applying one again does no harm); `false` when it
    /// does not fit (a later check brings the users up to date).
    pub fn apply(&mut self, delta: UserDelta) -> bool {
        if delta.since > self.version || delta.version <= self.version {
            return false;
        }
        self.version = delta.version;
        for change in delta.changes {
            match change {
                UserChange::Stored(user) => self.insert(user),
                UserChange::Removed { name, domain } => self.remove(&name, &domain),
            }
        }
        true
    }

    /// Forgets the user `name` in `domain`, removed from the store: known
    /// missing from now on.
    fn remove(&mut self, name: &str, domain: &str) {
        let mut emptied = false;
        if let Some(users) = self.by_domain.get_mut(domain) {
            if let Some(slot) = users.remove(name) {
                if let Some(held) = usize::try_from(slot)
                    .ok()
                    .and_then(|at| self.entries.get_mut(at))
                {
                    *held = None;
                    self.free.push(slot);
                }
                self.count -= 1;
            }
            emptied = users.is_empty();
        }
        if emptied {
            self.by_domain.remove(domain);
        }
        self.mark_absent(name, domain);
    }

    /// Remembers that the store has no user `name` in `domain`.
    pub(crate) fn mark_absent(&mut self, name: &str, domain: &str) {
        if self.absent_count >= MAX_ABSENT {
            self.absent.clear();
            self.absent_count = 0;
        }
        if self
            .absent
            .entry(domain.into())
            .or_default()
            .insert(name.into())
        {
            self.absent_count += 1;
        }
    }

    /// How many users are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no user is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, domain: &str) -> User {
        User::with_password(name, domain, "pw", 1_700_000_000)
    }

    #[test]
    fn found_absent_unknown_and_reload() {
        let mut users = UserDirectory::default();
        users.replace(3, [user("alice", "a.example"), user("bob", "a.example")]);
        assert_eq!(users.len(), 2);
        assert_eq!(users.version(), 3);
        assert!(matches!(users.get("alice", "a.example"), Known::Found(_)));
        assert_eq!(users.get("alice", "b.example"), Known::Unknown);
        users.mark_absent("carol", "a.example");
        assert_eq!(users.get("carol", "a.example"), Known::Absent);
        // Found after all (added since): no longer absent.
        users.insert(user("carol", "a.example"));
        assert!(matches!(users.get("carol", "a.example"), Known::Found(_)));
        assert_eq!(users.len(), 3);
        users.mark_absent("dave", "a.example");
        // A reload forgets what was missing: the store may have it now.
        users.replace(4, [user("alice", "a.example")]);
        assert_eq!(users.get("dave", "a.example"), Known::Unknown);
        assert_eq!(users.get("bob", "a.example"), Known::Unknown);
        assert_eq!(users.len(), 1);
    }

    fn delta(since: u64, version: u64, changes: Vec<UserChange>) -> UserDelta {
        UserDelta {
            since,
            version,
            changes,
        }
    }

    #[test]
    fn a_delta_adds_changes_and_removes_only_its_users() {
        let mut users = UserDirectory::default();
        users.replace(3, [user("alice", "a.example"), user("bob", "a.example")]);
        users.mark_absent("carol", "a.example");
        users.mark_absent("zed", "a.example");
        let mut bob = user("bob", "a.example");
        bob.ha1 = Ha1Set::from_password("bob", "a.example", "new");
        let new_bob = bob.ha1.clone();
        let changes = vec![
            UserChange::Stored(user("carol", "a.example")),
            UserChange::Stored(bob),
            UserChange::Removed {
                name: "alice".into(),
                domain: "a.example".into(),
            },
        ];
        assert!(users.apply(delta(3, 6, changes)));
        assert_eq!(users.version(), 6);
        assert_eq!(users.len(), 2);
        assert!(matches!(users.get("carol", "a.example"), Known::Found(_)));
        assert_eq!(users.get("bob", "a.example"), Known::Found(&new_bob));
        // Removed: known missing, no store read for it.
        assert_eq!(users.get("alice", "a.example"), Known::Absent);
        // A name missing before and not in the delta stays missing.
        assert_eq!(users.get("zed", "a.example"), Known::Absent);
    }

    #[test]
    fn a_delta_that_does_not_fit_the_version_held_is_refused() {
        let mut users = UserDirectory::default();
        users.replace(5, [user("alice", "a.example")]);
        let carol = || vec![UserChange::Stored(user("carol", "a.example"))];
        // Starts after the version held: changes in between are missing.
        assert!(!users.apply(delta(6, 8, carol())));
        // Older than what is held (read before a later reload).
        assert!(!users.apply(delta(2, 5, carol())));
        assert_eq!(users.get("carol", "a.example"), Known::Unknown);
        assert_eq!(users.version(), 5);
        // Starting before the version held is fine: the entries are now's.
        assert!(users.apply(delta(4, 7, carol())));
        assert_eq!(users.version(), 7);
        assert_eq!(users.len(), 2);
    }

    #[test]
    fn a_removed_users_slot_is_reused_and_others_keep_theirs() {
        let mut users = UserDirectory::default();
        users.replace(1, [user("alice", "a.example"), user("bob", "b.example")]);
        let bob = users.ha1("bob", "b.example").cloned();
        let removed = UserChange::Removed {
            name: "alice".into(),
            domain: "a.example".into(),
        };
        assert!(users.apply(delta(1, 2, vec![removed])));
        assert!(users.apply(delta(
            2,
            3,
            vec![UserChange::Stored(user("dave", "b.example"))]
        )));
        assert_eq!(users.entries.len(), 2, "dave took alice's slot");
        assert_eq!(users.len(), 2);
        assert_eq!(users.ha1("alice", "a.example"), None);
        assert_eq!(users.ha1("bob", "b.example").cloned(), bob);
        assert!(users.ha1("dave", "b.example").is_some());
        assert_ne!(users.ha1("dave", "b.example").cloned(), bob);
    }
}
