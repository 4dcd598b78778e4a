//! `[cluster]`: this node among several sharing one PostgreSQL database
//! (issue 14). Only with a `postgres://` store; with SQLite the node is
//! alone and the section is ignored.

use std::time::Duration;

use serde::Deserialize;

use crate::error::ConfigError;

/// `[cluster]` as the file says.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// This node's name (default: the host name and the SIP port).
    pub node: Option<String>,
    /// The SIP URI the other nodes reach this one at (default: the first
    /// UDP listener's address).
    pub advertise: Option<String>,
    /// LISTEN/NOTIFY (default true); false: polling only, for engines
    /// without it.
    pub notify: Option<bool>,
    /// Seconds between two reads of the change log without a
    /// notification (default 1).
    pub poll_interval: Option<f64>,
    /// Seconds between two heartbeats (default 2); a node is dead after
    /// three missed.
    pub heartbeat: Option<f64>,
}

/// The cluster settings, checked; `node` and `advertise` are defaulted by
/// the binary, which knows the host name and the bound listeners.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSettings {
    /// `[cluster] node`, when given.
    pub node: Option<String>,
    /// `[cluster] advertise`, when given.
    pub advertise: Option<String>,
    /// LISTEN/NOTIFY.
    pub notify: bool,
    /// Between two reads of the change log.
    pub poll_interval: Duration,
    /// Between two heartbeats.
    pub heartbeat: Duration,
}

/// The default read interval of the change log.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The default heartbeat.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(2);

impl ClusterSection {
    /// Checks the section.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key.
    pub fn resolve(&self) -> Result<ClusterSettings, ConfigError> {
        if let Some(node) = &self.node {
            if !switchboard_server::cluster::is_valid_node_name(node) {
                return Err(ConfigError::new(
                    "cluster.node",
                    "letters, digits, '.', '-', '_' and ':' only, at most 63",
                ));
            }
        }
        if let Some(uri) = &self.advertise {
            let lower = uri.to_ascii_lowercase();
            if !lower.starts_with("sip:") || uri.contains(['<', '>', ' ', '"']) {
                return Err(ConfigError::new(
                    "cluster.advertise",
                    "must be a sip: URI (sip:IP:PORT)",
                ));
            }
        }
        Ok(ClusterSettings {
            node: self.node.clone(),
            advertise: self.advertise.clone(),
            notify: self.notify.unwrap_or(true),
            poll_interval: seconds("cluster.poll_interval", self.poll_interval)?
                .unwrap_or(DEFAULT_POLL_INTERVAL),
            heartbeat: seconds("cluster.heartbeat", self.heartbeat)?.unwrap_or(DEFAULT_HEARTBEAT),
        })
    }
}

/// A positive number of seconds, at most an hour.
fn seconds(key: &str, value: Option<f64>) -> Result<Option<Duration>, ConfigError> {
    match value {
        None => Ok(None),
        Some(s) if (0.01..=3600.0).contains(&s) => Ok(Some(Duration::from_secs_f64(s))),
        Some(_) => Err(ConfigError::new(
            key,
            "must be a number of seconds from 0.01 to 3600",
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;

    #[test]
    fn defaults_and_checked_values() {
        let none = ClusterSection::default().resolve().unwrap();
        assert!(none.notify);
        assert_eq!(none.poll_interval, DEFAULT_POLL_INTERVAL);
        assert_eq!(none.heartbeat, DEFAULT_HEARTBEAT);
        let set = ClusterSection {
            node: Some("a-1".into()),
            advertise: Some("sip:10.0.0.1:5060".into()),
            notify: Some(false),
            poll_interval: Some(0.25),
            heartbeat: Some(5.0),
        }
        .resolve()
        .unwrap();
        assert!(!set.notify);
        assert_eq!(set.poll_interval, Duration::from_millis(250));
        let bad_node = ClusterSection {
            node: Some("a b".into()),
            ..ClusterSection::default()
        };
        assert_eq!(bad_node.resolve().unwrap_err().key, "cluster.node");
        let bad_uri = ClusterSection {
            advertise: Some("10.0.0.1".into()),
            ..ClusterSection::default()
        };
        assert_eq!(bad_uri.resolve().unwrap_err().key, "cluster.advertise");
        let bad_beat = ClusterSection {
            heartbeat: Some(0.0),
            ..ClusterSection::default()
        };
        assert_eq!(bad_beat.resolve().unwrap_err().key, "cluster.heartbeat");
    }
}
