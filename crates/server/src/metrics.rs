//! What the server counts for its operators (Prometheus at the admin
//! listener): counters kept as plain integers where the work happens
//! (the service runs on one thread: no atomics, no registry), and the
//! snapshot [`ServiceMetrics`] that adds the gauges read from the parts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_core::shrink_after_peak;

use crate::auth::AuthResult;
use crate::protect::RejectReason;
use crate::proxy::{CallEnd, CallPhase, CallUpdate};
use crate::storage::HangupSide;

/// How long a 2xx's dialog is remembered: the callee retransmits its 2xx
/// until the ACK comes, for 64*T1 at most (RFC 3261 §13.3.1.4), and each
/// copy passes the proxy.
const RETRANSMITTED_2XX: Duration = Duration::from_secs(32);

/// The counters the service moves as it works.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    /// The dialogs (Call-ID, To tag) answered lately, and when: a
    /// retransmitted 2xx is not a new answer. The Call-ID is the string
    /// the call's other tables share.
    answered: HashMap<(Arc<str>, Option<String>), Instant>,
    call_attempts: u64,
    call_answers: u64,
    call_failures: u64,
    auth_failures: u64,
    lockouts: u64,
    plan_loads: u64,
    registrations: u64,
    ended_by_operator: u64,
    ended_session_expired: u64,
    ended_max_duration: u64,
    ended_media_timeout: u64,
    ended_relay_lost: u64,
    refused_overload: u64,
    refused_rate: u64,
}

impl Counters {
    /// A call changed state at `at`: an initial INVITE forwarded is an
    /// attempt, a 2xx an answer (once per dialog), a final non-2xx to the
    /// caller (the whole call, not one fork) a failure. `call_id` is the
    /// update's, shared.
    pub(crate) fn call(&mut self, at: Instant, update: &CallUpdate, call_id: &Arc<str>) {
        match update.state {
            CallPhase::Trying => self.call_attempts += 1,
            CallPhase::Confirmed => {
                let dialog = (Arc::clone(call_id), update.to_tag.clone());
                if self.answered.insert(dialog, at).is_none() {
                    self.call_answers += 1;
                }
            }
            CallPhase::Terminated(CallEnd::Status(code))
                if update.to_tag.is_none() && code >= 300 =>
            {
                self.call_failures += 1;
            }
            _ => {}
        }
    }

    /// An authentication's outcome (`locked`: refused because of a
    /// lockout, whatever the credentials) and the lockouts it started.
    pub(crate) fn auth(&mut self, result: &AuthResult, locked: bool, lockouts: usize) {
        if locked || result.is_failure() {
            self.auth_failures += 1;
        }
        self.lockouts += lockouts as u64;
    }

    /// Forgets the answers whose 2xx can no longer be retransmitted.
    pub(crate) fn purge(&mut self, at: Instant) {
        self.answered
            .retain(|_, answered| at.saturating_duration_since(*answered) < RETRANSMITTED_2XX);
        shrink_after_peak(&mut self.answered);
    }

    /// A REGISTER was accepted and its bindings stored.
    pub(crate) fn registered(&mut self) {
        self.registrations += 1;
    }

    /// The server ended an answered call, for this reason.
    pub(crate) fn ended_by_server(&mut self, side: HangupSide) {
        match side {
            HangupSide::SessionExpired => self.ended_session_expired += 1,
            HangupSide::MaxDuration => self.ended_max_duration += 1,
            HangupSide::MediaTimeout => self.ended_media_timeout += 1,
            HangupSide::RelayLost => self.ended_relay_lost += 1,
            _ => self.ended_by_operator += 1,
        }
    }

    /// A new request was answered 503 by the protections, for this reason.
    pub(crate) fn refused(&mut self, reason: RejectReason) {
        match reason {
            RejectReason::Overload => self.refused_overload += 1,
            _ => self.refused_rate += 1,
        }
    }

    /// A dial plan was put in force.
    pub(crate) fn plan_loaded(&mut self) {
        self.plan_loads += 1;
    }

    /// The snapshot with these counters and the gauges given.
    pub(crate) fn snapshot(&self, gauges: Gauges) -> ServiceMetrics {
        ServiceMetrics {
            bindings: gauges.bindings,
            registered_users: gauges.registered_users,
            calls: gauges.calls,
            proxy_contexts: gauges.proxy_contexts,
            subscriptions: gauges.subscriptions,
            gateways_up: gauges.gateways_up,
            gateways_down: gauges.gateways_down,
            gateways_unknown: gauges.gateways_unknown,
            call_attempts: self.call_attempts,
            call_answers: self.call_answers,
            call_failures: self.call_failures,
            auth_failures: self.auth_failures,
            lockouts: self.lockouts,
            plan_loads: self.plan_loads,
            registrations: self.registrations,
            calls_ended_by_operator: self.ended_by_operator,
            calls_ended_session_expired: self.ended_session_expired,
            calls_ended_max_duration: self.ended_max_duration,
            calls_ended_media_timeout: self.ended_media_timeout,
            calls_ended_relay_lost: self.ended_relay_lost,
            relay_sessions: gauges.relay_sessions,
            relay_dropped: gauges.relay_dropped,
            relay_packets: gauges.relay_packets,
            relay_refused: gauges.relay_refused,
            refused_overload: self.refused_overload,
            refused_rate_limited: self.refused_rate,
        }
    }
}

/// What is there right now, read from the parts at snapshot time.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Gauges {
    pub(crate) bindings: usize,
    pub(crate) registered_users: usize,
    pub(crate) calls: usize,
    pub(crate) proxy_contexts: usize,
    pub(crate) subscriptions: usize,
    pub(crate) gateways_up: usize,
    pub(crate) gateways_down: usize,
    pub(crate) gateways_unknown: usize,
    pub(crate) relay_sessions: usize,
    pub(crate) relay_dropped: u64,
    pub(crate) relay_packets: u64,
    pub(crate) relay_refused: u64,
}

/// The server's metrics at one moment ([`Service::metrics`]): gauges
/// (what is there now) and counters (how many since start).
///
/// [`Service::metrics`]: crate::Service::metrics
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceMetrics {
    /// Gauge: registrar bindings (registered devices).
    pub bindings: usize,
    /// Gauge: addresses of record with at least one binding.
    pub registered_users: usize,
    /// Gauge: calls in the call book (ringing, up, or just ended).
    pub calls: usize,
    /// Gauge: requests the proxy is forwarding (its response contexts).
    pub proxy_contexts: usize,
    /// Gauge: subscriptions the server notifies.
    pub subscriptions: usize,
    /// Gauge: trunk gateways whose probes say up.
    pub gateways_up: usize,
    /// Gauge: trunk gateways whose probes say down.
    pub gateways_down: usize,
    /// Gauge: trunk gateways not probed or not decided yet.
    pub gateways_unknown: usize,
    /// Counter: initial INVITEs forwarded.
    pub call_attempts: u64,
    /// Counter: 2xx answers to initial INVITEs.
    pub call_answers: u64,
    /// Counter: calls that ended with a final non-2xx to the caller.
    pub call_failures: u64,
    /// Counter: failed authentications (wrong credentials, replays,
    /// attempts while locked out).
    pub auth_failures: u64,
    /// Counter: lockouts started (of a source or of a user name).
    pub lockouts: u64,
    /// Counter: dial plans put in force (the first one included).
    pub plan_loads: u64,
    /// Counter: REGISTERs accepted with their bindings stored (a contact
    /// added, refreshed or removed), for the registrations per minute.
    pub registrations: u64,
    /// Counter: answered calls the operator hung up (BYE from the server).
    pub calls_ended_by_operator: u64,
    /// Counter: answered calls the server ended because their session
    /// interval passed without a refresh (RFC 4028).
    pub calls_ended_session_expired: u64,
    /// Counter: answered calls the server ended because they lasted longer
    /// than the caller's group allows.
    pub calls_ended_max_duration: u64,
    /// Counter: answered calls the server ended because no media passed
    /// its relay for the media timeout.
    pub calls_ended_media_timeout: u64,
    /// Counter: answered calls anchored on the media relay that the server
    /// ended at start, their relay sessions not to be set up again.
    pub calls_ended_relay_lost: u64,
    /// Gauge: calls anchored on the media relay.
    pub relay_sessions: usize,
    /// Counter: packets the media relay dropped (a stranger's, over the
    /// rate, on hold, to a port of no call, ...).
    pub relay_dropped: u64,
    /// Counter: packets the media relay forwarded from one party to the
    /// other.
    pub relay_packets: u64,
    /// Counter: calls refused (503) because the media relay had no free
    /// ports or sessions.
    pub relay_refused: u64,
    /// Counter: new requests answered 503 with Retry-After because the
    /// server was overloaded.
    pub refused_overload: u64,
    /// Counter: new requests answered 503 because their source was over
    /// its rate (`LimitAction::Reject`; dropped ones are not counted).
    pub refused_rate_limited: u64,
}
