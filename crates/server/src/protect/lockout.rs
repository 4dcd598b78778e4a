//! Lockout after repeated failed authentications, per source and per user,
//! with exponential backoff.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failed-authentication lockout settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutConfig {
    /// Off: nobody is ever locked out.
    pub enabled: bool,
    /// Failures from one source within `window` that lock the source.
    /// Higher than the user's: many phones may share one NAT address.
    pub source_threshold: u32,
    /// Failures for one username within `window` that lock the user.
    pub user_threshold: u32,
    /// The counting window, from the first failure.
    pub window: Duration,
    /// The first lockout; each further one doubles, up to `max_lockout`.
    pub base_lockout: Duration,
    /// The longest lockout.
    pub max_lockout: Duration,
    /// After this long without a failure, the doubling starts over.
    pub forgive_after: Duration,
    /// A user that authenticated from a source stays exempt from both
    /// locks there for this long, so an attacker guessing a user's password
    /// (or hammering a shared NAT address) does not lock out the real user
    /// on the device that already works.
    pub trusted_for: Duration,
    /// Most sources, users and trusted pairs tracked each (memory bound);
    /// when full, new keys are not tracked until old ones expire.
    pub max_entries: usize,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            source_threshold: 20,
            user_threshold: 10,
            window: Duration::from_secs(600),
            base_lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(3600),
            forgive_after: Duration::from_secs(3600),
            trusted_for: Duration::from_secs(24 * 3600),
            max_entries: 100_000,
        }
    }
}

/// Longest username kept as a key: longer ones are cut (an attacker's
/// junk names must not cost unbounded memory).
const MAX_USER_KEY: usize = 128;
const PRUNE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: Instant,
    strikes: u32,
    locked_until: Option<Instant>,
    last_failure: Instant,
}

impl Entry {
    fn locked(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .filter(|until| *until > now)
            .map(|until| until.saturating_duration_since(now))
    }

    /// Nothing left to remember: no lock, window over, strikes forgiven.
    fn idle(&self, now: Instant, config: &LockoutConfig) -> bool {
        self.locked(now).is_none()
            && now.saturating_duration_since(self.window_start) >= config.window
            && now.saturating_duration_since(self.last_failure) >= config.forgive_after
    }
}

#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Entry>,
    threshold: u32,
    last_prune: Option<Instant>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(threshold: u32) -> Self {
        Self {
            entries: HashMap::new(),
            threshold,
            last_prune: None,
        }
    }

    fn locked(&self, now: Instant, key: &K) -> Option<Duration> {
        self.entries.get(key).and_then(|e| e.locked(now))
    }

    fn failure(&mut self, now: Instant, key: &K, config: &LockoutConfig) -> Option<Duration> {
        if !self.entries.contains_key(key) && self.entries.len() >= config.max_entries {
            self.prune(now, config);
            if self.entries.len() >= config.max_entries {
                return None;
            }
        }
        let entry = self.entries.entry(key.clone()).or_insert(Entry {
            failures: 0,
            window_start: now,
            strikes: 0,
            locked_until: None,
            last_failure: now,
        });
        if now.saturating_duration_since(entry.last_failure) >= config.forgive_after {
            entry.strikes = 0;
        }
        entry.last_failure = now;
        if entry.locked(now).is_some() {
            // Failures while locked (the caller did not check) keep the
            // lock but do not extend it.
            return None;
        }
        if now.saturating_duration_since(entry.window_start) >= config.window {
            entry.failures = 0;
            entry.window_start = now;
        }
        entry.failures += 1;
        if entry.failures < self.threshold.max(1) {
            return None;
        }
        entry.strikes = entry.strikes.saturating_add(1);
        let factor = 1u32 << entry.strikes.saturating_sub(1).min(20);
        let lockout = config
            .base_lockout
            .saturating_mul(factor)
            .min(config.max_lockout);
        entry.locked_until = Some(now + lockout);
        entry.failures = 0;
        entry.window_start = now;
        Some(lockout)
    }

    fn clear(&mut self, key: &K) {
        self.entries.remove(key);
    }

    fn prune(&mut self, now: Instant, config: &LockoutConfig) {
        if self
            .last_prune
            .is_some_and(|t| now.saturating_duration_since(t) < PRUNE_EVERY)
        {
            return;
        }
        self.last_prune = Some(now);
        self.entries.retain(|_, e| !e.idle(now, config));
    }
}

/// Who is locked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockScope {
    /// The source address.
    Source,
    /// The username.
    User,
}

#[derive(Debug)]
pub(crate) struct Lockout {
    config: LockoutConfig,
    sources: Table<IpAddr>,
    users: Table<String>,
    trusted: HashMap<(String, IpAddr), Instant>,
    last_trusted_prune: Option<Instant>,
}

fn user_key(user: &str) -> String {
    let mut end = user.len().min(MAX_USER_KEY);
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    user.get(..end).unwrap_or_default().to_owned()
}

impl Lockout {
    pub(crate) fn new(config: LockoutConfig) -> Self {
        Self {
            sources: Table::new(config.source_threshold),
            users: Table::new(config.user_threshold),
            config,
            trusted: HashMap::new(),
            last_trusted_prune: None,
        }
    }

    pub(crate) fn config(&self) -> &LockoutConfig {
        &self.config
    }

    fn is_trusted(&self, now: Instant, source: IpAddr, user: &str) -> bool {
        self.trusted
            .get(&(user_key(user), source))
            .is_some_and(|until| *until > now)
    }

    /// Whether an authentication attempt from `source` for `user` is locked
    /// out, and for how long still.
    pub(crate) fn check(
        &self,
        now: Instant,
        source: IpAddr,
        user: Option<&str>,
    ) -> Option<(LockScope, Duration)> {
        if !self.config.enabled {
            return None;
        }
        if let Some(user) = user {
            if self.is_trusted(now, source, user) {
                return None;
            }
        }
        if let Some(left) = self.sources.locked(now, &source) {
            return Some((LockScope::Source, left));
        }
        let user = user?;
        self.users
            .locked(now, &user_key(user))
            .map(|left| (LockScope::User, left))
    }

    /// Counts a failure; returns the lockouts it started.
    pub(crate) fn failure(
        &mut self,
        now: Instant,
        source: IpAddr,
        user: Option<&str>,
    ) -> Vec<(LockScope, Duration)> {
        let mut started = Vec::new();
        if !self.config.enabled {
            return started;
        }
        if let Some(user) = user {
            if self.is_trusted(now, source, user) {
                // The real user mistyped on a device that worked before:
                // neither lock should trip on it.
                return started;
            }
        }
        if let Some(d) = self.sources.failure(now, &source, &self.config) {
            tracing::warn!(%source, seconds = d.as_secs(), "source locked out after failed authentications");
            started.push((LockScope::Source, d));
        }
        if let Some(user) = user {
            if let Some(d) = self.users.failure(now, &user_key(user), &self.config) {
                tracing::warn!(
                    user,
                    seconds = d.as_secs(),
                    "user locked out after failed authentications"
                );
                started.push((LockScope::User, d));
            }
        }
        started
    }

    /// Counts a success: the user's failures are forgotten and the pair is
    /// trusted. The source's count stays (one valid account must not reset
    /// a source that guesses others).
    pub(crate) fn success(&mut self, now: Instant, source: IpAddr, user: &str) {
        if !self.config.enabled {
            return;
        }
        let key = user_key(user);
        self.users.clear(&key);
        if self.trusted.len() >= self.config.max_entries {
            self.prune_trusted(now);
        }
        if self.trusted.len() < self.config.max_entries
            || self.trusted.contains_key(&(key.clone(), source))
        {
            self.trusted
                .insert((key, source), now + self.config.trusted_for);
        }
    }

    fn prune_trusted(&mut self, now: Instant) {
        if self
            .last_trusted_prune
            .is_some_and(|t| now.saturating_duration_since(t) < PRUNE_EVERY)
        {
            return;
        }
        self.last_trusted_prune = Some(now);
        self.trusted.retain(|_, until| *until > now);
    }

    /// Forgets what no longer matters.
    pub(crate) fn purge(&mut self, now: Instant) {
        let config = self.config.clone();
        self.sources.last_prune = None;
        self.users.last_prune = None;
        self.last_trusted_prune = None;
        self.sources.prune(now, &config);
        self.users.prune(now, &config);
        self.prune_trusted(now);
    }

    pub(crate) fn tracked(&self) -> (usize, usize, usize) {
        (
            self.sources.entries.len(),
            self.users.entries.len(),
            self.trusted.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    fn config() -> LockoutConfig {
        LockoutConfig {
            source_threshold: 5,
            user_threshold: 3,
            window: Duration::from_secs(60),
            base_lockout: Duration::from_secs(30),
            max_lockout: Duration::from_secs(100),
            forgive_after: Duration::from_secs(1000),
            ..LockoutConfig::default()
        }
    }

    #[test]
    fn user_locks_after_threshold_and_recovers_after_the_lockout() {
        let t0 = Instant::now();
        let mut l = Lockout::new(config());
        // From different sources so only the user count trips.
        let src = |i: u8| IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, i));
        assert!(l.failure(t0, src(1), Some("alice")).is_empty());
        assert!(l.failure(t0, src(2), Some("alice")).is_empty());
        assert_eq!(
            l.failure(t0, src(3), Some("alice")),
            vec![(LockScope::User, Duration::from_secs(30))]
        );
        assert_eq!(
            l.check(t0 + Duration::from_secs(10), src(9), Some("alice")),
            Some((LockScope::User, Duration::from_secs(20)))
        );
        assert_eq!(l.check(t0, src(9), Some("bob")), None);
        assert_eq!(
            l.check(t0 + Duration::from_secs(30), src(9), Some("alice")),
            None
        );
    }

    /// Three failures for alice; returns the user lockout and waits it out.
    fn lock(l: &mut Lockout, now: &mut Instant) -> u64 {
        let mut last = Vec::new();
        for _ in 0..3 {
            last = l.failure(*now, A, Some("alice"));
        }
        let d = last
            .iter()
            .find(|(s, _)| *s == LockScope::User)
            .map(|(_, d)| *d)
            .unwrap();
        *now += d;
        d.as_secs()
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_is_forgiven() {
        let mut now = Instant::now();
        let mut l = Lockout::new(LockoutConfig {
            source_threshold: 1000,
            ..config()
        });
        assert_eq!(lock(&mut l, &mut now), 30);
        assert_eq!(lock(&mut l, &mut now), 60);
        assert_eq!(lock(&mut l, &mut now), 100);
        assert_eq!(lock(&mut l, &mut now), 100);
        // A quiet period longer than forgive_after starts over.
        now += Duration::from_secs(1000);
        assert_eq!(lock(&mut l, &mut now), 30);
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let t0 = Instant::now();
        let mut l = Lockout::new(config());
        l.failure(t0, A, Some("alice"));
        l.failure(t0, A, Some("alice"));
        let later = t0 + Duration::from_secs(61);
        assert!(l.failure(later, A, Some("alice")).is_empty());
        assert!(l.failure(later, A, Some("alice")).is_empty());
        assert!(!l.failure(later, A, Some("alice")).is_empty());
    }

    #[test]
    fn source_locks_across_users() {
        let t0 = Instant::now();
        let mut l = Lockout::new(config());
        for i in 0..4 {
            assert!(l.failure(t0, A, Some(&format!("user{i}"))).is_empty());
        }
        assert_eq!(
            l.failure(t0, A, Some("user9")),
            vec![(LockScope::Source, Duration::from_secs(30))]
        );
        assert_eq!(
            l.check(t0, A, Some("anyone")).map(|x| x.0),
            Some(LockScope::Source)
        );
        assert_eq!(l.check(t0, A, None).map(|x| x.0), Some(LockScope::Source));
        assert_eq!(l.check(t0, B, Some("anyone")), None);
    }

    #[test]
    fn a_trusted_device_is_not_locked_out_by_an_attacker() {
        let t0 = Instant::now();
        let mut l = Lockout::new(config());
        l.success(t0, A, "alice");
        // An attacker at B guesses alice's password.
        for _ in 0..3 {
            l.failure(t0, B, Some("alice"));
        }
        assert_eq!(
            l.check(t0, B, Some("alice")).map(|x| x.0),
            Some(LockScope::User)
        );
        // alice's phone at A still gets in.
        assert_eq!(l.check(t0, A, Some("alice")), None);
    }

    #[test]
    fn success_clears_the_user_count() {
        let t0 = Instant::now();
        let mut l = Lockout::new(config());
        l.failure(t0, A, Some("alice"));
        l.failure(t0, A, Some("alice"));
        l.success(t0, B, "alice");
        assert!(l.failure(t0, A, Some("alice")).is_empty());
        assert!(l.failure(t0, A, Some("alice")).is_empty());
    }

    #[test]
    fn tables_are_bounded() {
        let t0 = Instant::now();
        let mut l = Lockout::new(LockoutConfig {
            max_entries: 3,
            ..config()
        });
        for i in 0..10 {
            l.failure(
                t0,
                IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i)),
                Some(&format!("u{i}")),
            );
        }
        let (sources, users, _) = l.tracked();
        assert_eq!((sources, users), (3, 3));
        // Once entries are idle they are pruned.
        l.purge(t0 + Duration::from_secs(5000));
        assert_eq!(l.tracked(), (0, 0, 0));
        assert_eq!(user_key(&"é".repeat(200)).len(), 128);
    }
}
