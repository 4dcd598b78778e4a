//! The call book's side of a [`DialogRecord`]: what of an answered call is
//! kept in the store, and the call taken back from it after a restart.

use std::time::{Duration, Instant};

use switchboard_core::Now;

use super::{ANSWERED_IDLE, Call, CallBook, Leg, RINGING_IDLE};
use crate::cdr::{instant_of_unix_ms, unix_ms};
use crate::proxy::{CallParty, CallPhase};
use crate::registrar::Aor;
use crate::storage::{DeviceSource, DialogParty, DialogPhase, DialogRecord};

impl CallBook {
    /// Whether `call_id` has an answered dialog not yet ended by a BYE.
    #[must_use]
    pub fn is_up(&self, call_id: &str) -> bool {
        self.calls
            .get(call_id)
            .is_some_and(|call| call.legs.iter().any(|l| l.phase == CallPhase::Confirmed))
    }

    /// The record of `call_id`'s answered dialog (or of its early one
    /// while it rings) at `now`: parties, devices, route set, CSeqs and
    /// times (written at `now`: the call's latest activity). The dial
    /// plan's part (rule, trunk, ...) and the carrier's
    /// names are left empty: the call records and the proxy know them.
    #[must_use]
    pub fn dialog_record(&self, call_id: &str, now: Now) -> Option<DialogRecord> {
        let call = self.calls.get(call_id)?;
        let leg = call
            .legs
            .iter()
            .find(|l| l.phase == CallPhase::Confirmed)
            .or_else(|| {
                call.legs
                    .iter()
                    .find(|l| l.phase == CallPhase::Early && l.to_tag.is_some())
            })?;
        let at = now.instant();
        let unix_of = |instant: Instant| {
            let age = at.saturating_duration_since(instant);
            unix_ms(now).saturating_sub(u64::try_from(age.as_millis()).unwrap_or(u64::MAX))
        };
        Some(DialogRecord {
            id: DialogRecord::key(call_id, &call.from_tag),
            call_id: call_id.to_owned(),
            caller: DialogParty {
                uri: call.caller.uri.clone(),
                display: call.caller.display.clone(),
                tag: call.from_tag.clone(),
                aor: call.caller_aor.as_ref().map(|a| a.as_str().to_owned()),
                contact: call.caller_contact.clone(),
                source: Some(DeviceSource::from(call.caller_source)),
                cseq: Some(call.caller_cseq),
            },
            callee: DialogParty {
                uri: call.callee.uri.clone(),
                display: call.callee.display.clone(),
                tag: leg.to_tag.clone()?,
                aor: call.callee_aor.as_ref().map(|a| a.as_str().to_owned()),
                contact: leg.callee_contact.clone(),
                source: leg.callee_source.map(DeviceSource::from),
                cseq: leg.callee_cseq,
            },
            dialled: call.request_uri.clone(),
            route_set: leg.route_set().to_vec(),
            phase: if leg.phase == CallPhase::Confirmed {
                DialogPhase::Confirmed
            } else {
                DialogPhase::Early
            },
            start_ms: unix_of(call.created),
            answer_ms: leg.confirmed_at.map(unix_of),
            updated_ms: unix_ms(now),
            caller_user: None,
            routed_number: None,
            rule: None,
            target: None,
            trunk: None,
            relayed: false,
            relay_sdp: None,
            gateway: None,
            carrier_leg: None,
        })
    }

    /// Takes a stored call back at `now` (at start): listed, hung up and
    /// ended by its BYE as before the restart. False when it cannot be
    /// (idle beyond the limits the book forgets calls after, no caller
    /// source, already known, the book full).
    pub fn restore(&mut self, now: Now, record: &DialogRecord) -> bool {
        let Some(caller_source) = record.caller.source else {
            return false;
        };
        if self.calls.contains_key(record.call_id.as_str()) || self.calls.len() >= self.max_calls {
            return false;
        }
        let confirmed = record.phase == DialogPhase::Confirmed;
        let limit = if confirmed {
            ANSWERED_IDLE
        } else {
            RINGING_IDLE
        };
        let idle = Duration::from_millis(unix_ms(now).saturating_sub(record.updated_ms));
        if idle >= limit {
            return false;
        }
        let leg = Leg {
            to_tag: Some(record.callee.tag.clone()),
            phase: if confirmed {
                CallPhase::Confirmed
            } else {
                CallPhase::Early
            },
            callee_contact: record.callee.contact.clone(),
            callee_source: record.callee.source.map(DeviceSource::to_source),
            confirmed_at: record
                .answer_ms
                .filter(|_| confirmed)
                .map(|ms| instant_of_unix_ms(now, ms)),
            bye_by_caller: None,
            record_route: (!record.route_set.is_empty())
                .then(|| Self::route_set(&mut self.last_route_set, &record.route_set)),
            callee_cseq: record.callee.cseq,
        };
        let call = Call {
            created: instant_of_unix_ms(now, record.start_ms),
            updated: instant_of_unix_ms(now, record.updated_ms),
            from_tag: record.caller.tag.clone(),
            caller: party(&record.caller),
            callee: party(&record.callee),
            caller_aor: aor(&record.caller),
            callee_aor: aor(&record.callee),
            caller_contact: record.caller.contact.clone(),
            caller_source: caller_source.to_source(),
            caller_cseq: record.caller.cseq.unwrap_or_default(),
            request_uri: record.dialled.clone(),
            legs: vec![leg],
        };
        let aors = call.aors();
        self.insert(record.call_id.as_str().into(), call, &aors);
        true
    }
}

fn party(party: &DialogParty) -> CallParty {
    CallParty {
        display: party.display.clone(),
        uri: party.uri.clone(),
    }
}

/// The user a party's call is filed under, as stored (`user@domain`).
fn aor(party: &DialogParty) -> Option<Aor> {
    let (user, domain) = party.aor.as_deref()?.rsplit_once('@')?;
    Aor::new(user, domain).ok()
}
