//! The SIP event framework (RFC 6665) on the notifier side, for local
//! users' addresses: subscriptions and the NOTIFYs they get, publications
//! (RFC 3903), the settings and the watch policy. Sans-IO: the service
//! (`service/events.rs`) feeds them requests and the time, and sends what
//! they build.

mod config;
mod owed;
mod publications;
mod subscription;
mod subscriptions;
mod watch_policy;

pub use config::{EventsConfig, ExpiresRange, ResourceList};
pub use owed::Owed;
pub use publications::Publications;
pub use subscription::{EndReason, Subscription};
pub use subscriptions::{LimitError, Subscriptions};
pub use watch_policy::{WatchPolicy, WatchRule};

/// The presence event package (RFC 3856).
pub const PRESENCE: &str = "presence";
/// The dialog event package (RFC 4235), for busy-lamp fields.
pub const DIALOG: &str = "dialog";
/// The registration event package (RFC 3680).
pub const REG: &str = "reg";
/// What the server serves, for Allow-Events.
pub const ALLOW_EVENTS: &str = "presence, dialog, reg";
/// The media type of a presence document.
pub const PIDF: &str = "application/pidf+xml";
