//! The operator's settings: the TOML file and the command-line flags,
//! checked, merged, and turned into the server's
//! [`ServiceConfig`](switchboard_server::ServiceConfig) and the runtime's
//! listeners.
//!
//! Sans-IO: the binary reads the file and hands over its text
//! ([`FileConfig::parse`]), and probes the host's addresses into a
//! [`Host`]. Every invalid value is reported as one [`ConfigError`] naming
//! its key.

#![forbid(unsafe_code)]

mod cluster;
mod error;
mod file;
mod flags;
mod host;
mod listeners;
mod service;
mod settings;

pub use cluster::{ClusterSection, ClusterSettings, DEFAULT_HEARTBEAT, DEFAULT_POLL_INTERVAL};
pub use error::ConfigError;
pub use file::{
    AuthSection, FileConfig, ListSection, MediaSection, MessagesSection, PortRange,
    PresenceSection, ProtectionSection, ProxySection, RecordsSection, RegistrarSection,
    RelayPolicy, StoreSection, WatchRuleSection,
};
pub use flags::Flags;
pub use host::Host;
pub use listeners::{default_domains, default_listeners, parse_listen};
pub use service::Summary;
pub use settings::{
    DEFAULT_ADMIN, DEFAULT_DATA, DEFAULT_MAX_TRANSACTIONS, DEFAULT_UDP_BUFFER_BYTES, Settings,
    resolve,
};
