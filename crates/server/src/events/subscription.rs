//! One subscription dialog the server is the notifier of (RFC 6665): what
//! was learnt from the SUBSCRIBE, the NOTIFYs it builds, and where they go.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use switchboard_core::{Destination, FlowId, Transport};
use switchboard_proto::{BuildError, HeaderName, Method, Request, RequestBuilder, Uri};

use super::Owed;
use crate::storage::SubscriptionRecord;

/// At most this many owed items are queued; past it the oldest go and the
/// next NOTIFY carries the full state.
const MAX_OWED: usize = 256;

/// Why a subscription ended (the `reason` of `Subscription-State:
/// terminated`, RFC 6665 §4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// It expired, or the watcher unsubscribed (Expires: 0).
    Timeout,
    /// The resource is gone.
    NoResource,
    /// The policy no longer allows the watcher.
    Rejected,
    /// The server is shutting down.
    Deactivated,
}

impl EndReason {
    /// The token.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::NoResource => "noresource",
            Self::Rejected => "rejected",
            Self::Deactivated => "deactivated",
        }
    }
}

/// A notifier-side subscription: its durable record and what only lives
/// in memory (the watcher's connection, the NOTIFY in flight).
#[derive(Debug, Clone)]
pub struct Subscription {
    record: SubscriptionRecord,
    /// The server's Contact in this dialog.
    local_contact: String,
    /// The connection the SUBSCRIBE came on (gone after a restart).
    flow: Option<FlowId>,
    /// The address the watcher authenticated from: a refresh from
    /// elsewhere is challenged again (unknown after a restart, except
    /// behind NAT where the record keeps it).
    origin: Option<IpAddr>,
    /// A NOTIFY is in flight.
    in_flight: bool,
    /// The state changed while a NOTIFY was in flight: send another.
    pending: bool,
    /// A list's members whose state changed since the last NOTIFY.
    changed: BTreeSet<String>,
    /// The next NOTIFY of a list carries every member (the first one,
    /// after a refresh, a failure or a restart).
    full_next: bool,
    /// What the next NOTIFY must say beyond the current state, oldest
    /// first; the first `owed_sent` went out in the NOTIFY in flight.
    owed: Vec<Owed>,
    owed_sent: usize,
    /// The watcher has the state of the last NOTIFY (answered 2xx): the
    /// next may be partial. Not so at first, after a failure, a refresh
    /// or a restart.
    synced: bool,
}

impl Subscription {
    /// A subscription from its record; `local_contact` is the server's
    /// Contact value, `flow` the watcher's connection.
    #[must_use]
    pub fn new(record: SubscriptionRecord, local_contact: String, flow: Option<FlowId>) -> Self {
        let origin = record.source.map(|(_, remote)| remote.ip());
        Self {
            record,
            local_contact,
            flow,
            origin,
            in_flight: false,
            pending: false,
            changed: BTreeSet::new(),
            full_next: true,
            owed: Vec::new(),
            owed_sent: 0,
            synced: false,
        }
    }

    /// The durable part.
    #[must_use]
    pub fn record(&self) -> &SubscriptionRecord {
        &self.record
    }

    /// Its key (the server's tag).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// The event package.
    #[must_use]
    pub fn event(&self) -> &str {
        &self.record.event
    }

    /// The watched resource.
    #[must_use]
    pub fn resource(&self) -> &str {
        &self.record.resource
    }

    /// The watcher's AOR.
    #[must_use]
    pub fn watcher(&self) -> &str {
        &self.record.watcher
    }

    /// The server's Contact value.
    #[must_use]
    pub fn local_contact(&self) -> &str {
        &self.local_contact
    }

    /// Whether an in-dialog request with this Call-ID and From tag belongs
    /// to this dialog (the To tag, its key, already matched).
    #[must_use]
    pub fn matches(&self, call_id: &str, remote_tag: &str) -> bool {
        self.record.call_id == call_id && self.record.remote_tag == remote_tag
    }

    /// When it ends (Unix seconds).
    #[must_use]
    pub fn expires_unix(&self) -> u64 {
        self.record.expires_unix
    }

    /// Seconds left at `unix_now`.
    #[must_use]
    pub fn remaining(&self, unix_now: u64) -> u64 {
        self.record.expires_unix.saturating_sub(unix_now)
    }

    /// A refresh: the new end and, when the watcher moved, its connection.
    pub(crate) fn set_expires(&mut self, expires_unix: u64) {
        self.record.expires_unix = expires_unix;
    }

    /// The watcher reached through a new connection (a refresh on it).
    pub(crate) fn set_flow(&mut self, flow: Option<FlowId>) {
        if flow.is_some() {
            self.flow = flow;
        }
    }

    /// The address the watcher last authenticated from.
    #[must_use]
    pub fn origin(&self) -> Option<IpAddr> {
        self.origin
    }

    /// The watcher proved who it is from `ip`.
    pub(crate) fn set_origin(&mut self, ip: IpAddr) {
        self.origin = Some(ip);
    }

    /// The next document version (dialog-info, reginfo, RLMI).
    pub(crate) fn next_version(&mut self) -> u32 {
        self.record.version = self.record.version.wrapping_add(1);
        self.record.version
    }

    /// After a restart: CSeq and version moved on by `margin`, so the
    /// watcher sees them increase past whatever was sent but not stored.
    pub(crate) fn bump(&mut self, margin: u32) {
        self.record.local_cseq = self.record.local_cseq.saturating_add(margin);
        self.record.version = self.record.version.saturating_add(margin);
        self.full_next = true;
        self.synced = false;
    }

    /// Whether a NOTIFY is in flight.
    #[must_use]
    pub fn in_flight(&self) -> bool {
        self.in_flight
    }

    /// Remembers that the state changed while a NOTIFY is in flight.
    pub(crate) fn defer(&mut self) {
        self.pending = true;
    }

    /// The NOTIFY in flight was answered or failed (`failed`: a list's
    /// next NOTIFY carries every member). Whether a deferred change must go
    /// out now. (A single resource's NOTIFY always carries its full state,
    /// so a lost one is made good by the next.)
    pub(crate) fn settle(&mut self, failed: bool) -> bool {
        self.in_flight = false;
        self.full_next |= failed;
        // What the watcher got is no longer owed; after a failure all of
        // it still is.
        let sent = std::mem::take(&mut self.owed_sent);
        if !failed {
            self.owed.drain(..sent.min(self.owed.len()));
        }
        self.synced = !failed;
        std::mem::take(&mut self.pending)
    }

    /// Queues what the next NOTIFY must say.
    pub(crate) fn owe(&mut self, item: Owed) {
        if self.owed.len() >= MAX_OWED {
            self.owed.remove(0);
            self.owed_sent = self.owed_sent.saturating_sub(1);
            self.synced = false;
        }
        self.owed.push(item);
    }

    /// What is owed, oldest first.
    #[must_use]
    pub fn owed(&self) -> &[Owed] {
        &self.owed
    }

    /// The NOTIFY being built carries everything owed so far.
    pub(crate) fn owed_sent(&mut self) {
        self.owed_sent = self.owed.len();
    }

    /// Whether the watcher has the state of the last NOTIFY (the next
    /// may be a partial state).
    #[must_use]
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// The next NOTIFY carries the full state (a refresh).
    pub(crate) fn want_full(&mut self) {
        self.synced = false;
        self.full_next = true;
    }

    /// Records what changed: `member` of a list, or everything (`None`).
    pub(crate) fn note_change(&mut self, member: Option<&str>) {
        match member {
            Some(m) => {
                self.changed.insert(m.to_owned());
            }
            None => self.full_next = true,
        }
    }

    /// What a list's next NOTIFY carries: `None` for every member, else
    /// the members that changed. Forgets both.
    pub(crate) fn take_changes(&mut self) -> Option<Vec<String>> {
        let changed = std::mem::take(&mut self.changed);
        if std::mem::take(&mut self.full_next) || changed.is_empty() {
            None
        } else {
            Some(changed.into_iter().collect())
        }
    }

    /// The NOTIFY for the current state: `Subscription-State` is
    /// `active;expires=N` (or `pending`), or `terminated;reason=...` when
    /// `end` is given; `body` is the content type and the document. It
    /// takes the next CSeq and marks a NOTIFY in flight.
    ///
    /// # Errors
    /// When the stored dialog does not make a valid request.
    pub fn notify(
        &mut self,
        unix_now: u64,
        end: Option<EndReason>,
        body: Option<(&str, &str)>,
    ) -> Result<Request, BuildError> {
        let r = &self.record;
        let state = match end {
            Some(reason) => format!("terminated;reason={}", reason.as_str()),
            None if r.active => format!("active;expires={}", self.remaining(unix_now)),
            None => format!("pending;expires={}", self.remaining(unix_now)),
        };
        let cseq = r.local_cseq.wrapping_add(1);
        let mut b = RequestBuilder::new(Method::Notify, r.remote_target.as_str());
        for route in &r.route_set {
            b = b.header(HeaderName::Route, route.as_str());
        }
        b = b
            .from(&format!("<{}>", r.resource), &r.local_tag)
            .to(&format!("<{}>", r.watcher), Some(&r.remote_tag))
            .call_id(&r.call_id)
            .cseq(cseq)
            .contact(&self.local_contact)
            .header(HeaderName::Event, r.event.as_str())
            .header(HeaderName::SubscriptionState, state);
        if let Some((content_type, text)) = body {
            b = b.body(content_type, text.to_owned());
        }
        let request = b.build()?;
        self.record.local_cseq = cseq;
        self.in_flight = true;
        Ok(request)
    }

    /// Where its NOTIFYs go: down the watcher's connection, to where its
    /// SUBSCRIBE came from (NAT), or to the first route or the remote
    /// target when that is an address. `None`: a name to resolve, which
    /// only a watcher behind a proxy uses.
    #[must_use]
    pub fn destination(&self) -> Option<Destination> {
        if let Some(flow) = self.flow {
            return Some(Destination::Flow(flow));
        }
        if let Some((transport, remote)) = self.record.source {
            return Some(Destination::Address { transport, remote });
        }
        let first = self
            .record
            .route_set
            .first()
            .and_then(|r| {
                switchboard_proto::header::NameAddr::parse_value(r)
                    .ok()
                    .map(|a| a.uri.to_string())
            })
            .unwrap_or_else(|| self.record.remote_target.clone());
        address_of(&first)
    }
}

/// The address an IP-literal SIP URI names (port 5060 when absent), with
/// its transport parameter.
fn address_of(uri: &str) -> Option<Destination> {
    let uri = Uri::parse(uri).ok()?;
    let sip = uri.as_sip()?;
    let ip = crate::util::host_ip(sip.host.as_str())?;
    let transport = match sip.transport().map(str::to_ascii_lowercase).as_deref() {
        Some("tcp") => Transport::Tcp,
        Some("tls") => Transport::Tls,
        _ if sip.secure => Transport::Tls,
        _ => Transport::Udp,
    };
    let default_port = if transport == Transport::Tls {
        5061
    } else {
        5060
    };
    Some(Destination::Address {
        transport,
        remote: SocketAddr::new(ip, sip.port.unwrap_or(default_port)),
    })
}

#[cfg(test)]
mod tests {
    // Test code: a panic is a failing test.
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record() -> SubscriptionRecord {
        SubscriptionRecord {
            id: "srv1".into(),
            event: "presence".into(),
            resource: "sip:alice@example.com".into(),
            watcher: "sip:bob@example.com".into(),
            call_id: "c1".into(),
            local_tag: "srv1".into(),
            remote_tag: "bobtag".into(),
            remote_target: "sip:bob@192.0.2.7:5070;transport=tcp".into(),
            route_set: vec![],
            local_cseq: 4,
            source: None,
            list: false,
            active: true,
            expires_unix: 1_000,
            version: 0,
        }
    }

    #[test]
    fn notify_carries_dialog_state_and_increasing_cseq() {
        let mut sub = Subscription::new(record(), "<sip:192.0.2.1:5060>".into(), None);
        let first = sub.notify(400, None, Some(("text/plain", "x"))).unwrap();
        let h = first.headers();
        assert_eq!(h.cseq().unwrap().seq, 5);
        assert_eq!(
            h.get(HeaderName::SubscriptionState),
            Some("active;expires=600")
        );
        assert_eq!(h.to_tag(), Some("bobtag"));
        assert_eq!(h.from_tag(), Some("srv1"));
        assert_eq!(first.uri_str(), "sip:bob@192.0.2.7:5070;transport=tcp");
        let last = sub.notify(1_000, Some(EndReason::Timeout), None).unwrap();
        assert_eq!(last.headers().cseq().unwrap().seq, 6);
        assert_eq!(
            last.headers().get(HeaderName::SubscriptionState),
            Some("terminated;reason=timeout")
        );
        assert_eq!(
            sub.destination(),
            Some(Destination::Address {
                transport: Transport::Tcp,
                remote: "192.0.2.7:5070".parse().unwrap()
            })
        );
    }
}
