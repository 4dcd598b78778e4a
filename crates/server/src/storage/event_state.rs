//! What the event server (subscriptions it notifies, publications it
//! holds) and the offline message store keep across restarts, and the
//! trait a back end implements for it.
//!
//! The service hands these over as [`StateChange`]s in
//! [`Effect::Save`](crate::service::Effect::Save); a 2xx that promises
//! one of them (a SUBSCRIBE's 200, a PUBLISH's 200, a MESSAGE's 202) is
//! sent only once the change is durable. At start the application loads
//! everything back with [`EventStateStore::load_state`] and gives it to
//! [`Service::load_state`](crate::Service::load_state), so watchers keep
//! getting NOTIFYs after a restart without subscribing again, and the
//! calls in progress keep passing.

use std::net::SocketAddr;

use switchboard_core::Transport;

use super::{CallRecord, DialogRecord};
use crate::bodies::DialogEntry;
use crate::registrar::Aor;

/// One subscription dialog the server is the notifier of (RFC 6665).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// Stable key: the server's own dialog tag (unique, random).
    pub id: String,
    /// The event package (`presence`, `dialog`, `reg`, ...).
    pub event: String,
    /// The watched resource: a local user's AOR or a resource-list URI
    /// (`sip:bob@example.com`).
    pub resource: String,
    /// The watcher's AOR (the SUBSCRIBE's From URI).
    pub watcher: String,
    /// The dialog's Call-ID.
    pub call_id: String,
    /// The server's tag (To tag of the SUBSCRIBE's answer, From tag of
    /// its NOTIFYs).
    pub local_tag: String,
    /// The watcher's tag.
    pub remote_tag: String,
    /// The watcher's Contact URI: the NOTIFYs' Request-URI.
    pub remote_target: String,
    /// The route set (Record-Route values of the SUBSCRIBE, in order).
    pub route_set: Vec<String>,
    /// The CSeq of the last NOTIFY sent.
    pub local_cseq: u32,
    /// Where the SUBSCRIBE came from (a NAT'd watcher is reached there,
    /// not at its Contact); `None` when the Contact is reachable.
    pub source: Option<(Transport, SocketAddr)>,
    /// The subscription is a resource list (RFC 4662: RLMI NOTIFYs).
    pub list: bool,
    /// The subscription is active (`false`: pending).
    pub active: bool,
    /// When it ends, in seconds since the Unix epoch.
    pub expires_unix: u64,
    /// The version of the last document sent (dialog-info, reginfo, RLMI).
    pub version: u32,
}

/// One publication (RFC 3903) of a local user's event state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationRecord {
    /// The entity tag the server gave it (SIP-ETag): the key.
    pub etag: String,
    /// The publishing user's AOR.
    pub aor: String,
    /// The event package (`presence`).
    pub event: String,
    /// The body's media type (`application/pidf+xml`).
    pub content_type: String,
    /// The published document.
    pub body: String,
    /// When it ends, in seconds since the Unix epoch.
    pub expires_unix: u64,
}

/// One MESSAGE kept for a local user who had no device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Stable key (unique, random).
    pub id: String,
    /// The recipient's AOR.
    pub aor: String,
    /// The From header value as sent (display name, URI, tag).
    pub from: String,
    /// The To header value as sent.
    pub to: String,
    /// The Date header value as sent, or the time it was received.
    pub date: String,
    /// The Content-Type header value as sent.
    pub content_type: String,
    /// The body as sent.
    pub body: Vec<u8>,
    /// When it was received, in seconds since the Unix epoch.
    pub received_unix: u64,
}

/// One change of the kept event state. Puts replace the record with the
/// same key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateChange {
    /// A subscription created or changed.
    PutSubscription(SubscriptionRecord),
    /// A subscription ended.
    RemoveSubscription {
        /// Its [`SubscriptionRecord::id`].
        id: String,
    },
    /// A publication created, refreshed or modified.
    PutPublication(PublicationRecord),
    /// A publication removed or expired.
    RemovePublication {
        /// Its [`PublicationRecord::etag`].
        etag: String,
    },
    /// A message stored for later delivery.
    PutMessage(StoredMessage),
    /// A message delivered (the device's 2xx) or expired.
    RemoveMessage {
        /// Its [`StoredMessage::id`].
        id: String,
    },
    /// A call record written or updated (same [`CallRecord::id`]).
    PutCallRecord(CallRecord),
    /// Retention: the call records that started before `start_ms` (Unix
    /// milliseconds) are deleted.
    RemoveCallRecordsBefore {
        /// The oldest start kept.
        start_ms: u64,
    },
    /// A record-routed call answered (or its record brought up to date);
    /// boxed: the largest record by far.
    PutDialog(Box<DialogRecord>),
    /// A call ended (BYE, hang-up) or was forgotten idle.
    RemoveDialog {
        /// Its [`DialogRecord::id`].
        id: String,
    },
    /// In a cluster: a dialog of a user's call this node routes changed
    /// state, for the other nodes' busy-lamp watchers (kept per user and
    /// [`DialogEntry::id`]; a terminated one replaces the user's previous
    /// terminated ones).
    PutCallState {
        /// The user.
        aor: Aor,
        /// The dialog as that user sees it.
        dialog: Box<DialogEntry>,
    },
}

/// Everything kept, as loaded at start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredState {
    /// Every subscription, expired or not.
    pub subscriptions: Vec<SubscriptionRecord>,
    /// Every publication, expired or not.
    pub publications: Vec<PublicationRecord>,
    /// Every stored message, oldest first.
    pub messages: Vec<StoredMessage>,
    /// Every call in progress, idle or not, oldest first.
    pub dialogs: Vec<DialogRecord>,
}

/// The event state: subscriptions, publications, stored messages. Writes
/// are durable when the call returns `Ok`. Blocking, `&self`.
pub trait EventStateStore {
    /// What goes wrong in this back end.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Applies `changes` in order, in one transaction: all or nothing.
    ///
    /// # Errors
    /// When the back end fails (nothing is written).
    fn apply_state(&self, changes: &[StateChange]) -> Result<(), Self::Error>;

    /// Everything kept.
    ///
    /// # Errors
    /// When the back end fails or holds damaged data.
    fn load_state(&self) -> Result<StoredState, Self::Error>;
}
