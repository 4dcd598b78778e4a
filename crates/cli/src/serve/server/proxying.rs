//! Every request other than REGISTER: the policy around the sans-IO
//! [`Proxy`](switchboard_server::Proxy) (who may send what where), the
//! location lookup, and the next hops of the devices the server knows.
//!
//! * Requests from local users (the From domain is served here) are
//!   challenged with 407, with the same lockout as REGISTER, and the
//!   authenticated user must be the From user (403 otherwise).
//! * Requests from other domains to local users are accepted without a
//!   challenge (`[proxy] trust_foreign_callers`, default true).
//! * Nothing is relayed for someone who is not a local user: a request
//!   for another domain from a non-user gets 403 (no open relay).
//! * In-dialog requests (a To tag) that this server record-routed, or
//!   that go to a device it knows, are forwarded without a challenge; ACK
//!   and CANCEL are never challenged.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use switchboard_core::{Destination, Endpoint, Source, TransactionId};
use switchboard_proto::header::NameAddr;
use switchboard_proto::{HeaderName, Method, Request, StatusCode, Uri};
use switchboard_server::AuthResult;
use switchboard_server::proxy::{Incoming, NextHop, ProxyEvent, Target, TargetSet};
use switchboard_server::registrar::Aor;

use super::{ALLOW, Done, Server, unix_now};

/// Longest wait for one DNS resolution (RFC 3263).
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(8);

/// Who sent a request, as far as relaying is concerned.
enum Caller {
    /// A local user who proved to be the From user.
    Local,
    /// Someone from another domain (not challenged).
    Foreign,
    /// Already answered (challenge, 403, 500).
    Answered,
}

/// The hop of a request that came from `source`: back down its connection,
/// or to its address and port (NAT).
pub(super) fn hop_of(source: &Source) -> NextHop {
    NextHop {
        destination: match source.flow {
            Some(flow) => Destination::Flow(flow),
            None => Destination::Address {
                transport: source.transport,
                remote: source.remote,
            },
        },
        transport: source.transport,
    }
}

/// Whether a device whose `contact` came from `source` must be reached
/// through `source` rather than at its contact: a connection (TCP, TLS,
/// WebSocket: the device may accept no connection of its own), a contact
/// no DNS knows (`*.invalid`), or a contact address other than the one the
/// packets came from (NAT). A contact on the source's own address but
/// another port is another socket of the same host, reached directly.
pub(super) fn via_source(contact: &str, source: &Source) -> bool {
    if source.flow.is_some() {
        return true;
    }
    let Ok(uri) = Uri::parse(contact) else {
        return true;
    };
    let Some(sip) = uri.as_sip() else {
        return true;
    };
    let host = sip.host.as_str();
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip != source.remote.ip(),
        Err(_) => host.to_ascii_lowercase().ends_with(".invalid"),
    }
}

/// The URI of the first value of `name`, as text.
fn first_uri(request: &Request, name: HeaderName) -> Option<String> {
    let value = request.headers().values(name).next()?;
    let addr = NameAddr::parse_value(value).ok()?;
    Some(addr.uri.to_string())
}

impl Server {
    /// A request other than REGISTER.
    pub(super) fn on_proxy_request(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        tx: TransactionId,
        request: Request,
        source: Source,
        ip: IpAddr,
    ) {
        // Before Route processing: did the request come along a route this
        // server put in (its top Route names us)?
        let routed_to_us = first_uri(&request, HeaderName::Route)
            .and_then(|u| {
                Uri::parse(&u)
                    .ok()
                    .map(|u| self.proxy.config().is_local(&u))
            })
            .unwrap_or(false);
        let Ok(incoming) = self.proxy.on_request(now, ep, tx, request, source) else {
            return; // answered: 416, 420, 482, 483
        };
        let request = incoming.request();
        let in_dialog = request.headers().to_tag().is_some();
        let known_hop = self.contacts.find(now, request.uri_str());
        let call_id = request.headers().call_id().unwrap_or_default().to_owned();
        if in_dialog
            && (known_hop.is_some()
                || (routed_to_us
                    && (self.dialogs.touch(now, &call_id)
                        || self.local_domain(request, HeaderName::To).is_some())))
        {
            // A dialog this server let through (or one towards a local
            // user, who may be called without a challenge anyway), or a
            // device it knows: relayed without a challenge.
            if request.method() == &Method::Bye {
                self.dialogs.end(&call_id);
            }
            let target = incoming.request_uri_target();
            let target =
                match known_hop.filter(|_| request.headers().get(HeaderName::Route).is_none()) {
                    Some(hop) => target.with_next_hop(hop),
                    None => target,
                };
            self.forward(now, ep, incoming, TargetSet::single(target));
            return;
        }
        if incoming.is_for_us() {
            self.for_us(now, ep, incoming, ip);
            return;
        }
        // On its way elsewhere: only for our own users.
        match self.caller(now, ep, &incoming, ip) {
            Caller::Local => {
                self.learn_caller(now, &incoming);
                self.learn_dialog(now, &incoming);
                let mut target = incoming.request_uri_target();
                let routed = incoming
                    .request()
                    .headers()
                    .get(HeaderName::Route)
                    .is_some();
                if let Some(outbound) = self.outbound.clone().filter(|_| !routed) {
                    target = target.with_path(vec![outbound]);
                }
                self.forward(now, ep, incoming, TargetSet::single(target));
            }
            Caller::Foreign => {
                tracing::debug!(uri = %incoming.request().uri_str(), "relay refused: the caller is not a local user");
                self.reply(now, ep, &incoming, StatusCode::FORBIDDEN);
            }
            Caller::Answered => {}
        }
    }

    /// A request for this server or one of its users.
    fn for_us(&mut self, now: Instant, ep: &mut Endpoint, incoming: Incoming, ip: IpAddr) {
        let uri = incoming.request().uri();
        let has_user = uri.as_sip().is_some_and(|s| s.user.is_some());
        if !has_user {
            if incoming.request().method() == &Method::Options {
                let headers = [
                    (HeaderName::Allow, ALLOW.to_owned()),
                    (HeaderName::Accept, "application/sdp".to_owned()),
                    (HeaderName::Supported, "path, outbound".to_owned()),
                ];
                if let Err(e) = self
                    .proxy
                    .reply(now, ep, &incoming, StatusCode::OK, &headers)
                {
                    tracing::debug!(error = %e, "OPTIONS answer not sent");
                }
            } else {
                self.reply(now, ep, &incoming, StatusCode::NOT_FOUND);
            }
            return;
        }
        let aor = match Aor::from_uri(&uri) {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(error = %e, "no user in the Request-URI");
                self.reply(now, ep, &incoming, StatusCode::NOT_FOUND);
                return;
            }
        };
        match self.caller(now, ep, &incoming, ip) {
            Caller::Answered => return,
            Caller::Foreign if !self.trust_foreign => {
                tracing::debug!(%aor, "request from another domain refused (trust_foreign_callers = false)");
                self.reply(now, ep, &incoming, StatusCode::FORBIDDEN);
                return;
            }
            Caller::Local => self.learn_caller(now, &incoming),
            Caller::Foreign => {}
        }
        let unix = unix_now();
        let bindings = self.registrar.lookup(&aor, unix);
        if bindings.is_empty() {
            let status = match self.lookup(aor.user(), aor.domain()) {
                Ok(Some(_)) => StatusCode::TEMPORARILY_UNAVAILABLE,
                Ok(None) => StatusCode::NOT_FOUND,
                Err(e) => {
                    tracing::error!(error = %e, "user lookup failed: answering 500");
                    StatusCode::SERVER_INTERNAL_ERROR
                }
            };
            self.reply(now, ep, &incoming, status);
            return;
        }
        let targets: TargetSet = bindings
            .iter()
            .map(|b| {
                let mut target = Target::from_binding(b);
                if !b.is_outbound_flow() && !via_source(&b.contact, &b.source) {
                    target.next_hop = None;
                }
                target
            })
            .collect();
        for t in targets.iter() {
            if let Some(hop) = t.next_hop {
                self.contacts.learn(now, &t.uri, hop);
            }
        }
        self.learn_dialog(now, &incoming);
        self.forward(now, ep, incoming, targets);
    }

    /// Authenticates a caller whose From domain is served here; others
    /// are [`Caller::Foreign`]. ACK never gets here; CANCEL neither.
    fn caller(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        incoming: &Incoming,
        ip: IpAddr,
    ) -> Caller {
        let request = incoming.request();
        let Some((from, realm)) = self.local_domain(request, HeaderName::From) else {
            return Caller::Foreign;
        };
        let from_user = Uri::parse(&from).ok().and_then(|u| Aor::from_uri(&u).ok());
        let result = match self.check_auth(now, request, &realm, ip, true) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "user lookup failed: answering 500");
                self.reply(now, ep, incoming, StatusCode::SERVER_INTERNAL_ERROR);
                return Caller::Answered;
            }
        };
        match result {
            AuthResult::Ok { identity, .. } => {
                let owns = from_user.is_some_and(|a| {
                    Aor::new(&identity.user, &identity.realm).is_ok_and(|id| id == a)
                });
                if owns {
                    Caller::Local
                } else {
                    tracing::debug!(user = %identity.user, %from, "authenticated user is not the From user: 403");
                    self.reply(now, ep, incoming, StatusCode::FORBIDDEN);
                    Caller::Answered
                }
            }
            other => {
                if let Some(answer) = self.auth.respond(unix_now(), request, &realm, true, &other) {
                    Self::send(ep, now, incoming.tx(), answer);
                }
                Caller::Answered
            }
        }
    }

    /// The URI of `header` (From, To) and the served domain it names, when
    /// it names one.
    fn local_domain(&self, request: &Request, header: HeaderName) -> Option<(String, String)> {
        let uri = first_uri(request, header)?;
        let parsed = Uri::parse(&uri).ok()?;
        let host = parsed.as_sip()?.host.as_str();
        let host = host.strip_suffix('.').unwrap_or(host);
        let domain = self
            .registrar
            .config()
            .domains
            .iter()
            .find(|d| d.strip_suffix('.').unwrap_or(d).eq_ignore_ascii_case(host))?
            .clone();
        Some((uri, domain))
    }

    /// Remembers the dialog a forwarded dialog-creating request starts.
    fn learn_dialog(&mut self, now: Instant, incoming: &Incoming) {
        let request = incoming.request();
        if matches!(
            request.method(),
            Method::Invite | Method::Subscribe | Method::Refer
        ) {
            if let Some(call_id) = request.headers().call_id() {
                self.dialogs.learn(now, call_id);
            }
        }
    }

    /// Remembers where an authenticated caller's Contact is reached: where
    /// its request came from.
    fn learn_caller(&mut self, now: Instant, incoming: &Incoming) {
        if let Some(contact) = first_uri(incoming.request(), HeaderName::Contact) {
            if via_source(&contact, incoming.source()) {
                self.contacts
                    .learn(now, &contact, hop_of(incoming.source()));
            }
        }
    }

    fn forward(&mut self, now: Instant, ep: &mut Endpoint, incoming: Incoming, targets: TargetSet) {
        if let Err(e) = self.proxy.forward(now, ep, incoming, targets) {
            tracing::debug!(error = %e, "request not forwarded");
        }
    }

    fn reply(&mut self, now: Instant, ep: &mut Endpoint, incoming: &Incoming, status: StatusCode) {
        if let Err(e) = self.proxy.reply(now, ep, incoming, status, &[]) {
            tracing::debug!(error = %e, %status, "answer not sent");
        }
    }

    /// An ACK outside a transaction (for a 2xx): relayed along its route
    /// when this server record-routed it or knows its target, else dropped
    /// (an ACK is never answered, and never relayed for strangers).
    pub(super) fn on_ack(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        request: Request,
        source: Source,
    ) {
        let config = self.proxy.config();
        let mut routed_to_us = false;
        let mut remote_route = false;
        for (i, value) in request.headers().values(HeaderName::Route).enumerate() {
            let local = NameAddr::parse_value(value).is_ok_and(|a| config.is_local(&a.uri));
            if i == 0 {
                routed_to_us = local;
            }
            remote_route |= !local;
        }
        let known = self.contacts.find(now, request.uri_str());
        let call_id = request.headers().call_id().unwrap_or_default();
        let ours = routed_to_us
            && (self.dialogs.touch(now, call_id)
                || self.local_domain(&request, HeaderName::To).is_some());
        if !ours && known.is_none() {
            tracing::trace!("ACK not for a dialog of ours: dropped");
            return;
        }
        let hop = if remote_route { None } else { known };
        self.proxy.on_ack(now, ep, request, source, hop);
    }

    /// Does what the proxy asked: resolutions run on their own task and
    /// come back as [`Done::Resolved`].
    pub(super) fn drain_proxy(&mut self) {
        while let Some(event) = self.proxy.poll_event() {
            let ProxyEvent::Resolve { id, uri } = event else {
                continue;
            };
            let resolver = std::sync::Arc::clone(&self.resolver);
            let done = self.done.clone();
            tokio::spawn(async move {
                // Every target, in RFC 3263 order: the proxy fails over
                // along them (§4.3).
                let hops =
                    match tokio::time::timeout(RESOLVE_TIMEOUT, resolver.resolve_str(&uri)).await {
                        Ok(Ok(targets)) => targets
                            .iter()
                            .map(|t| NextHop::address(t.transport, t.addr))
                            .collect(),
                        Ok(Err(e)) => {
                            tracing::debug!(%uri, error = %e, "next hop not resolved");
                            Vec::new()
                        }
                        Err(_) => {
                            tracing::debug!(%uri, "next hop resolution timed out");
                            Vec::new()
                        }
                    };
                done.send(Done::Resolved { id, hops });
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use switchboard_core::{FlowId, Transport};

    fn source(remote: &str, flow: Option<u64>) -> Source {
        Source {
            transport: if flow.is_some() {
                Transport::Tcp
            } else {
                Transport::Udp
            },
            remote: remote.parse().unwrap(),
            local: "127.0.0.1:5060".parse().unwrap(),
            flow: flow.map(FlowId),
        }
    }

    #[test]
    fn devices_reached_through_their_source() {
        let udp = source("203.0.113.9:40000", None);
        // Behind NAT: the contact names a private address.
        assert!(via_source("sip:alice@192.168.1.5:5060", &udp));
        // A WebSocket client's contact no DNS knows.
        assert!(via_source("sip:x@df7jal23ls0d.invalid;transport=ws", &udp));
        // The contact is the source's own address: reached at the contact,
        // even on another port (another socket of the same host).
        assert!(!via_source("sip:alice@203.0.113.9:5070", &udp));
        assert!(!via_source("sip:alice@203.0.113.9", &udp));
        // A connection is always reused.
        let tcp = source("203.0.113.9:40000", Some(4));
        assert!(via_source("sip:alice@203.0.113.9:5070;transport=tcp", &tcp));
        assert_eq!(hop_of(&tcp).destination, Destination::Flow(FlowId(4)));
        assert_eq!(
            hop_of(&udp).destination,
            Destination::Address {
                transport: Transport::Udp,
                remote: "203.0.113.9:40000".parse().unwrap()
            }
        );
        assert!(via_source("not a uri", &udp));
    }
}
