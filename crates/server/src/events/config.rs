//! The event server's settings: Expires bounds per package, limits, who
//! may watch whom, and the resource lists users subscribe to.

use super::WatchPolicy;

/// The Expires a SUBSCRIBE or PUBLISH may ask for: below `min` it gets 423
/// with Min-Expires, above `max` it is capped, absent it is `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiresRange {
    /// Shortest interval accepted (seconds).
    pub min: u32,
    /// Longest interval granted (seconds).
    pub max: u32,
    /// The interval of a request without Expires (seconds).
    pub default: u32,
}

impl ExpiresRange {
    /// A range; `default` is kept between `min` and `max`.
    #[must_use]
    pub fn new(min: u32, max: u32, default: u32) -> Self {
        let max = max.max(min);
        Self {
            min,
            max,
            default: default.clamp(min, max),
        }
    }

    /// What a request asking for `asked` seconds gets: `Ok(granted)`
    /// (0 stays 0: an unsubscribe or a removal), or `Err(min)` when it is
    /// too brief.
    ///
    /// # Errors
    /// When `asked` is below the minimum (and not 0): the minimum, for the
    /// 423's Min-Expires.
    pub fn grant(&self, asked: Option<u32>) -> Result<u32, u32> {
        match asked {
            None => Ok(self.default),
            Some(0) => Ok(0),
            Some(s) if s < self.min => Err(self.min),
            Some(s) => Ok(s.min(self.max)),
        }
    }
}

/// A resource list (RFC 4662): one URI standing for several resources,
/// so that a phone subscribes once for all its lamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceList {
    /// The list's URI (`sip:alice-blf@example.com`).
    pub uri: String,
    /// The user the list belongs to (an AOR): only they may subscribe to
    /// it.
    pub owner: String,
    /// The members' AORs, in order.
    pub members: Vec<String>,
}

/// Everything the event server is built from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EventsConfig {
    /// Subscriptions to `presence`.
    pub presence: ExpiresRange,
    /// Subscriptions to `dialog` (busy-lamp field).
    pub dialog: ExpiresRange,
    /// Subscriptions to `reg`.
    pub reg: ExpiresRange,
    /// Publications (PUBLISH of `presence`).
    pub publish: ExpiresRange,
    /// Most subscriptions one watcher holds (over it: 403).
    pub max_per_user: usize,
    /// Most subscriptions in all (over it: 503).
    pub max_total: usize,
    /// Most publications of one user (over it: 403).
    pub max_publications_per_user: usize,
    /// Watchers from other domains may subscribe (unauthenticated: the
    /// policy still applies).
    pub foreign_watchers: bool,
    /// Who may watch whom.
    pub policy: WatchPolicy,
    /// The resource lists.
    pub lists: Vec<ResourceList>,
    /// Send `terminated;reason=deactivated` to every watcher at shutdown
    /// (`false`: subscriptions are durable and survive a restart).
    pub terminate_on_shutdown: bool,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            presence: ExpiresRange::new(30, 7200, 3600),
            dialog: ExpiresRange::new(30, 7200, 3600),
            reg: ExpiresRange::new(30, 7200, 3600),
            publish: ExpiresRange::new(30, 7200, 3600),
            max_per_user: 200,
            max_total: 100_000,
            max_publications_per_user: 20,
            foreign_watchers: false,
            policy: WatchPolicy::default(),
            lists: Vec::new(),
            terminate_on_shutdown: false,
        }
    }
}

impl EventsConfig {
    /// The Expires range of `package` (`None`: a package not served).
    #[must_use]
    pub fn range_of(&self, package: &str) -> Option<ExpiresRange> {
        match package {
            super::PRESENCE => Some(self.presence),
            super::DIALOG => Some(self.dialog),
            super::REG => Some(self.reg),
            _ => None,
        }
    }

    /// The list whose URI is `uri` (compared without case).
    #[must_use]
    pub fn list(&self, uri: &str) -> Option<&ResourceList> {
        self.lists.iter().find(|l| l.uri.eq_ignore_ascii_case(uri))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_caps_refuses_and_defaults() {
        let range = ExpiresRange::new(60, 3600, 600);
        assert_eq!(range.grant(None), Ok(600));
        assert_eq!(range.grant(Some(0)), Ok(0));
        assert_eq!(range.grant(Some(30)), Err(60));
        assert_eq!(range.grant(Some(60)), Ok(60));
        assert_eq!(range.grant(Some(99_999)), Ok(3600));
    }
}
