//! Call transfer through the proxy (REFER, RFC 3515; Replaces, RFC 3891;
//! the flows of RFC 5589): who may send a REFER in a dialog, and how the
//! transferee's new INVITE is let through.
//!
//! * A REFER inside a call the proxy routes must carry the tags of one of
//!   its dialogs (one party to the other): anyone else gets 403. A REFER
//!   of a dialog the call book does not know (out of dialog, or another
//!   kind of dialog) follows the relay rules as any request.
//! * When such a REFER passes and its sender is a local user (the caller
//!   who authenticated the call's INVITE, or a device a local user
//!   registered, recognised by the address the REFER came from), a
//!   [`Grant`] is noted: the transferee (the other party, by the address
//!   its messages came from in the dialog, or its trunk), the Refer-To
//!   target (user and host), the transferor and the call.
//! * For [`GRANT_LIFETIME`], one initial INVITE from the transferee for
//!   that target takes the grant. An external transferee (a trunk, or a
//!   caller from another domain) is then routed as if the transferor
//!   called: the dial plan decides with the transferor as the caller, so
//!   no 407 it cannot answer, no 403 for a stranger sent to a trunk by a
//!   local user, and nothing the transferor could not reach herself. A
//!   local user who is transferred still proves who she is (she can).
//! * Either way the transferred call ends as
//!   [`Disposition::Transferred`](crate::storage::Disposition), as does
//!   a call an INVITE with Replaces takes the place of.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use switchboard_core::{Now, Source};
use switchboard_proto::{HeaderName, Method, Uri};

use crate::bodies::Direction;
use crate::calls::{DialogMatch, DialogParties};
use crate::proxy::{Incoming, TransactionLayer};
use crate::registrar::Aor;

use super::Service;
use super::relay::first_uri;
use super::route::RouteCaller;

/// How long a transferee has to send its INVITE once the REFER passed
/// (RFC 5589: at once, after the 202).
pub(crate) const GRANT_LIFETIME: Duration = Duration::from_secs(60);
/// Most grants kept (a bound on memory whatever local users send).
const MAX_GRANTS: usize = 10_000;

/// A transfer a local user asked for: the transferee may call the target
/// once with the transferor's rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    expires: Instant,
    /// Where the transferee's messages came from.
    transferee: IpAddr,
    /// The trunk the transferee's calls come from, when it is one (a
    /// carrier may send the new INVITE from another gateway).
    transferee_trunk: Option<String>,
    /// The local user who sent the REFER.
    pub(crate) transferor: Aor,
    /// The Call-ID of the transferred call (the caller's).
    pub(crate) call_id: String,
}

/// The transfers granted and not yet used, by target (`user@host`).
#[derive(Debug, Default)]
pub(crate) struct Transfers {
    grants: HashMap<String, Vec<Grant>>,
    count: usize,
}

impl Transfers {
    /// Notes a grant for `target`.
    fn grant(&mut self, at: Instant, target: String, grant: Grant) {
        if self.count >= MAX_GRANTS {
            self.purge(at);
            if self.count >= MAX_GRANTS {
                tracing::debug!("transfer grants full: this transfer gets no grant");
                return;
            }
        }
        self.grants.entry(target).or_default().push(grant);
        self.count += 1;
    }

    /// Takes the grant an INVITE for `target` from `source` (of `trunk`,
    /// when it is one) may use.
    fn take(
        &mut self,
        at: Instant,
        target: &str,
        source: IpAddr,
        trunk: Option<&str>,
    ) -> Option<Grant> {
        let grants = self.grants.get_mut(target)?;
        let position = grants.iter().position(|g| {
            at < g.expires
                && (g.transferee == source
                    || trunk.is_some_and(|t| g.transferee_trunk.as_deref() == Some(t)))
        })?;
        let grant = grants.remove(position);
        if grants.is_empty() {
            self.grants.remove(target);
        }
        self.count = self.count.saturating_sub(1);
        Some(grant)
    }

    /// Forgets grants nobody used in time.
    pub(crate) fn purge(&mut self, at: Instant) {
        self.grants.retain(|_, grants| {
            grants.retain(|g| at < g.expires);
            !grants.is_empty()
        });
        self.count = self.grants.values().map(Vec::len).sum();
    }

    /// No grant is waiting.
    fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// The target a transfer names: the URI's user and host (lower case),
/// without its parameters and headers (`?Replaces=...`).
fn target_of(uri: &Uri<'_>) -> Option<String> {
    let sip = uri.as_sip()?;
    let host = sip.host.as_str();
    let host = host.strip_suffix('.').unwrap_or(host);
    Some(format!(
        "{}@{}",
        sip.user.unwrap_or_default(),
        host.to_ascii_lowercase()
    ))
}

impl Service {
    /// Who sends an in-dialog REFER, as the call book sees its tags.
    pub(super) fn refer_sender(&self, incoming: &Incoming) -> DialogMatch {
        let headers = incoming.request().headers();
        let (Some(call_id), Some(from_tag), Some(to_tag)) =
            (headers.call_id(), headers.from_tag(), headers.to_tag())
        else {
            return DialogMatch::Unknown;
        };
        let call_id = self.proxy.caller_call_id(call_id);
        self.calls.parties(call_id, from_tag, to_tag)
    }

    /// A REFER from `parties`' sender passed: when the sender is a local
    /// user, the transferee may call the Refer-To target with her rights
    /// (see the module documentation).
    pub(super) fn note_transfer(&mut self, now: Now, incoming: &Incoming, parties: &DialogParties) {
        let request = incoming.request();
        let Some(call_id) = request.headers().call_id() else {
            return;
        };
        let call_id = self.proxy.caller_call_id(call_id).to_owned();
        let Some(transferor) = self.transferor(now, &call_id, parties, incoming.source()) else {
            tracing::debug!(%call_id, "REFER from a party who is not a local user: no transfer grant");
            return;
        };
        let (Some(peer), Some(target)) = (
            parties.peer_source,
            first_uri(request, HeaderName::ReferTo)
                .and_then(|u| Uri::parse(&u).ok().and_then(|u| target_of(&u))),
        ) else {
            return;
        };
        let at = now.instant();
        let transferee = peer.remote.ip();
        let transferee_trunk = self.plan.inbound_trunk(transferee).map(|t| t.name.clone());
        tracing::debug!(%call_id, %transferor, %target, %transferee, "transfer granted");
        self.transfers.grant(
            at,
            target,
            Grant {
                expires: at + GRANT_LIFETIME,
                transferee,
                transferee_trunk,
                transferor,
                call_id,
            },
        );
    }

    /// The local user who sent a REFER in a dialog: it must come from
    /// where that party's messages came from, and that party be the
    /// caller who authenticated the call, or a device a local user
    /// registered from that address.
    fn transferor(
        &self,
        now: Now,
        call_id: &str,
        parties: &DialogParties,
        source: &Source,
    ) -> Option<Aor> {
        if parties.sender_source.map(|s| s.remote.ip()) != Some(source.remote.ip()) {
            return None;
        }
        if parties.sender == Direction::Initiator {
            let user = self
                .records
                .open_record(call_id)
                .and_then(|r| r.caller_user.as_deref());
            if let Some((name, domain)) = user.and_then(|u| u.rsplit_once('@')) {
                return Aor::new(name, domain).ok();
            }
        }
        self.registered_at(now, parties.sender_aor.as_ref(), source)
    }

    /// The local user whose device registered from `source`'s address:
    /// `hint`'s bindings first, then all (a REFER is rare); `None` when
    /// users of different AORs share it.
    fn registered_at(&self, now: Now, hint: Option<&Aor>, source: &Source) -> Option<Aor> {
        let from_there = |b: &&crate::registrar::Binding| b.source.remote == source.remote;
        if let Some(aor) = hint {
            let found = self
                .registrar
                .lookup(aor, now.unix())
                .iter()
                .any(from_there);
            if found {
                return Some(aor.clone());
            }
        }
        let mut found: Option<&Aor> = None;
        for binding in self.registrar.bindings(now.unix()).filter(from_there) {
            match found {
                Some(aor) if aor != &binding.aor => return None,
                _ => found = Some(&binding.aor),
            }
        }
        found.cloned()
    }

    /// An initial INVITE that may be a transferee's: when it takes a
    /// grant, the transferred call is marked, and an external transferee
    /// is routed with the transferor's rights (`None`: handled). Every
    /// other request comes back.
    pub(super) fn transferred_invite(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: Incoming,
    ) -> Option<Incoming> {
        if self.transfers.is_empty() {
            return Some(incoming);
        }
        let request = incoming.request();
        if request.method() != &Method::Invite || request.headers().to_tag().is_some() {
            return Some(incoming);
        }
        let ip = incoming.source().remote.ip();
        let trunk = self.plan.inbound_trunk(ip).map(|t| t.name.clone());
        let Some(grant) = target_of(&request.uri())
            .and_then(|t| self.transfers.take(now.instant(), &t, ip, trunk.as_deref()))
        else {
            return Some(incoming);
        };
        self.records.transferred(&grant.call_id);
        let external = trunk.is_some() || self.local_domain(request, HeaderName::From).is_none();
        if !external {
            return Some(incoming);
        }
        tracing::info!(transferor = %grant.transferor, call_id = %grant.call_id, "transferred caller let through with the transferor's rights");
        if let Some(target) = self.replaces_target(&incoming) {
            self.deliver_replaces(now, ep, incoming, target);
            return None;
        }
        let caller = RouteCaller::of_user(&self.plan, &self.users, &grant.transferor);
        if self.plan.is_empty() {
            self.route_default(now, ep, incoming, &caller);
        } else {
            self.route_as(now, ep, incoming, &caller);
        }
        None
    }
}

#[cfg(test)]
// Test code: a panic is a failing test.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn grant(ip: &str, trunk: Option<&str>, expires: Instant) -> Grant {
        Grant {
            expires,
            transferee: ip.parse().unwrap(),
            transferee_trunk: trunk.map(str::to_owned),
            transferor: Aor::new("bob", "example.com").unwrap(),
            call_id: "c1".to_owned(),
        }
    }

    #[test]
    fn a_grant_is_taken_once_by_its_transferee_before_it_expires() {
        let now = Instant::now();
        let ip: IpAddr = [192, 0, 2, 1].into();
        let other: IpAddr = [192, 0, 2, 2].into();
        let mut t = Transfers::default();
        t.grant(
            now,
            "carol@example.com".into(),
            grant("192.0.2.1", None, now + GRANT_LIFETIME),
        );
        assert!(
            t.take(now, "carol@example.com", other, None).is_none(),
            "another address"
        );
        assert!(
            t.take(now, "dave@example.com", ip, None).is_none(),
            "another target"
        );
        assert!(
            t.take(now + GRANT_LIFETIME, "carol@example.com", ip, None)
                .is_none(),
            "expired"
        );
        assert!(t.take(now, "carol@example.com", ip, None).is_some());
        assert!(
            t.take(now, "carol@example.com", ip, None).is_none(),
            "used once"
        );
        assert!(t.is_empty());
    }

    #[test]
    fn a_trunk_transferee_may_call_from_another_gateway_and_stale_grants_go() {
        let now = Instant::now();
        let mut t = Transfers::default();
        t.grant(
            now,
            "00491@pbx".into(),
            grant("192.0.2.1", Some("carrier"), now + GRANT_LIFETIME),
        );
        t.grant(
            now,
            "00492@pbx".into(),
            grant("192.0.2.1", None, now + GRANT_LIFETIME),
        );
        let gateway: IpAddr = [192, 0, 2, 9].into();
        assert!(t.take(now, "00491@pbx", gateway, Some("carrier")).is_some());
        t.purge(now + GRANT_LIFETIME);
        assert!(t.is_empty());
    }

    #[test]
    fn the_target_is_user_and_host_without_parameters_or_headers() {
        let uri = Uri::parse("sip:carol@Example.COM.:5070;transport=tcp?Replaces=abc%3Bto-tag%3D1")
            .unwrap();
        assert_eq!(target_of(&uri).as_deref(), Some("carol@example.com"));
    }
}
