//! The calls in progress through the proxy, by the users involved: what a
//! busy-lamp field shows (RFC 4235 dialogs) and where a pickup with
//! Replaces (RFC 3891) must go.
//!
//! Fed by the proxy's [`CallUpdate`]s. Each call is filed under its
//! caller's AOR (From) and its callee's (the Request-URI the INVITE came
//! with), without parameters, so the dialogs of one user come back with
//! the direction relative to that user.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_core::{Now, Source};

use crate::bodies::{DialogEntry, DialogState, Direction, stable_id};
use crate::cdr::unix_ms;
use crate::hangup::{DialogBye, Hangup, destination_of, split_route_set};
use crate::live_call::{LiveCall, LiveState};
use crate::proxy::{CallEnd, CallParty, CallPhase, CallUpdate};
use crate::registrar::Aor;

/// Most calls remembered (a bound on memory whatever peers send).
const MAX_CALLS: usize = 100_000;
/// A call not yet answered and silent this long is forgotten (Timer C is
/// three minutes; a lost final response must not light a lamp forever).
const RINGING_IDLE: Duration = Duration::from_secs(10 * 60);
/// An answered call whose BYE the proxy never saw (no Record-Route) is
/// forgotten after this long.
const ANSWERED_IDLE: Duration = Duration::from_secs(12 * 3600);

/// One dialog of a call: the callee's side of one fork.
#[derive(Debug, Clone)]
struct Leg {
    /// The callee's tag; `None` until a response has one.
    to_tag: Option<String>,
    phase: CallPhase,
    callee_contact: Option<String>,
    callee_source: Option<Source>,
    /// When it was confirmed (for the duration).
    confirmed_at: Option<Instant>,
    /// A BYE ended it, sent by the caller (`Some(true)`) or the callee.
    bye_by_caller: Option<bool>,
    /// The Record-Route of its 2xx (top first): the dialog's route set;
    /// shared by the calls that have the same one ([`CallBook::route_set`]).
    record_route: Option<Arc<[String]>>,
    /// The highest CSeq of the callee's requests in the dialog.
    callee_cseq: Option<u32>,
}

impl Leg {
    fn is_over(&self) -> bool {
        matches!(self.phase, CallPhase::Terminated(_))
    }

    /// The dialog's route set, top first (empty before the answer).
    fn route_set(&self) -> &[String] {
        self.record_route.as_deref().unwrap_or_default()
    }
}

/// One call: the initial INVITE's parties and its dialogs.
#[derive(Debug, Clone)]
struct Call {
    created: Instant,
    updated: Instant,
    from_tag: String,
    caller: CallParty,
    callee: CallParty,
    caller_aor: Option<Aor>,
    callee_aor: Option<Aor>,
    caller_contact: Option<String>,
    caller_source: Source,
    /// The highest CSeq of the caller's requests (the INVITE's first).
    caller_cseq: u32,
    /// The Request-URI the INVITE came with.
    request_uri: String,
    legs: Vec<Leg>,
}

impl Call {
    fn aors(&self) -> Vec<Aor> {
        let mut aors: Vec<Aor> = self.caller_aor.iter().cloned().collect();
        if let Some(callee) = &self.callee_aor {
            if !aors.contains(callee) {
                aors.push(callee.clone());
            }
        }
        aors
    }

    fn answered(&self) -> bool {
        self.legs.iter().any(|l| l.confirmed_at.is_some())
    }

    /// The leg of `to_tag`, made when missing: a tagged response adopts
    /// the untagged leg (the call before any tag).
    fn leg_mut(&mut self, to_tag: Option<&str>) -> Option<&mut Leg> {
        let position = self.legs.iter().position(|l| l.to_tag.as_deref() == to_tag);
        let index = match (position, to_tag) {
            (Some(index), _) => index,
            (None, Some(tag)) => match self.legs.iter().position(|l| l.to_tag.is_none()) {
                Some(untagged) => {
                    let leg = self.legs.get_mut(untagged)?;
                    leg.to_tag = Some(tag.to_owned());
                    untagged
                }
                None => {
                    self.legs.push(Leg::new(Some(tag.to_owned())));
                    self.legs.len() - 1
                }
            },
            (None, None) => {
                self.legs.push(Leg::new(None));
                self.legs.len() - 1
            }
        };
        self.legs.get_mut(index)
    }

    /// Applies a state change (`route_set`: the update's Record-Route, as
    /// the book shares it); whether anything changed.
    fn apply(
        &mut self,
        at: Instant,
        update: &CallUpdate,
        route_set: Option<Arc<[String]>>,
    ) -> bool {
        self.updated = at;
        match update.state {
            CallPhase::Trying => false,
            CallPhase::Proceeding
                if update.to_tag.is_none() && self.legs.iter().all(|l| l.to_tag.is_some()) =>
            {
                // An untagged 1xx of one fork while others have dialogs.
                false
            }
            CallPhase::Proceeding | CallPhase::Early => {
                let Some(leg) = self.leg_mut(update.to_tag.as_deref()) else {
                    return false;
                };
                // A late 1xx never takes a dialog back from confirmed or over.
                if !matches!(
                    leg.phase,
                    CallPhase::Trying | CallPhase::Proceeding | CallPhase::Early
                ) || leg.phase == update.state
                {
                    return false;
                }
                leg.phase = update.state;
                leg.callee_contact = update.callee_contact.clone().or(leg.callee_contact.take());
                leg.callee_source = update.callee_source.or(leg.callee_source);
                true
            }
            CallPhase::Confirmed => {
                let Some(leg) = self.leg_mut(update.to_tag.as_deref()) else {
                    return false;
                };
                if leg.phase == CallPhase::Confirmed || leg.is_over() {
                    return false;
                }
                leg.phase = CallPhase::Confirmed;
                leg.confirmed_at = Some(at);
                leg.record_route = route_set;
                leg.callee_contact = update.callee_contact.clone().or(leg.callee_contact.take());
                leg.callee_source = update.callee_source.or(leg.callee_source);
                // The forks that lost are cancelled by the proxy.
                for loser in &mut self.legs {
                    if loser.to_tag != update.to_tag
                        && !loser.is_over()
                        && loser.phase != CallPhase::Confirmed
                    {
                        loser.phase = CallPhase::Terminated(CallEnd::Cancelled);
                    }
                }
                true
            }
            CallPhase::Terminated(CallEnd::Bye) => self.bye(update),
            CallPhase::Terminated(end) => {
                let mut changed = false;
                for leg in &mut self.legs {
                    let concerned = match &update.to_tag {
                        Some(tag) => leg.to_tag.as_deref() == Some(tag),
                        None => true,
                    };
                    // Only a BYE ends an answered dialog.
                    if concerned && !leg.is_over() && leg.phase != CallPhase::Confirmed {
                        leg.phase = CallPhase::Terminated(end);
                        changed = true;
                    }
                }
                changed
            }
        }
    }

    /// A BYE in either direction: its tags name the dialog.
    fn bye(&mut self, update: &CallUpdate) -> bool {
        let by_caller = update.from_tag == self.from_tag;
        let callee_tag = if by_caller {
            update.to_tag.as_deref()
        } else if update.to_tag.as_deref() == Some(self.from_tag.as_str()) {
            Some(update.from_tag.as_str())
        } else {
            return false;
        };
        let mut changed = false;
        for leg in &mut self.legs {
            if leg.to_tag.as_deref() == callee_tag && !leg.is_over() {
                leg.phase = CallPhase::Terminated(CallEnd::Bye);
                leg.bye_by_caller = Some(by_caller);
                changed = true;
            }
        }
        changed
    }

    /// The dialog of `leg` seen by the caller (`Initiator`) or the callee.
    fn entry(
        &self,
        call_id: &str,
        leg: &Leg,
        direction: Direction,
        now: Option<Instant>,
    ) -> DialogEntry {
        let callee_target = leg.callee_contact.clone();
        let (local, local_tag, local_target, remote, remote_tag, remote_target) = match direction {
            Direction::Initiator => (
                &self.caller,
                Some(self.from_tag.clone()),
                self.caller_contact.clone(),
                &self.callee,
                leg.to_tag.clone(),
                callee_target,
            ),
            Direction::Recipient => (
                &self.callee,
                leg.to_tag.clone(),
                callee_target,
                &self.caller,
                Some(self.from_tag.clone()),
                self.caller_contact.clone(),
            ),
        };
        // The same dialog keeps its id across NOTIFYs; each side's view of
        // a call to oneself is its own.
        let id = format!(
            "{call_id};{};{};{}",
            self.from_tag,
            leg.to_tag.as_deref().unwrap_or_default(),
            direction.as_str()
        );
        DialogEntry {
            id: stable_id("d", &id),
            call_id: call_id.to_owned(),
            local_tag,
            remote_tag,
            direction,
            state: dialog_state(leg, direction),
            local_identity: local.uri.clone(),
            local_display: local.display.clone(),
            local_target,
            remote_identity: remote.uri.clone(),
            remote_display: remote.display.clone(),
            remote_target,
            duration: now
                .zip(leg.confirmed_at)
                .map(|(now, at)| now.saturating_duration_since(at).as_secs()),
        }
    }
}

impl Call {
    /// What the operator sees of this call at `now`.
    fn live(&self, call_id: &str, now: Now) -> LiveCall {
        let legs: Vec<&Leg> = self.legs.iter().filter(|l| !l.is_over()).collect();
        let phase = legs
            .iter()
            .map(|l| l.phase)
            .max_by_key(|phase| match phase {
                CallPhase::Confirmed => 3,
                CallPhase::Early => 2,
                CallPhase::Proceeding => 1,
                _ => 0,
            })
            .unwrap_or(CallPhase::Trying);
        let state = match phase {
            CallPhase::Confirmed => LiveState::Confirmed,
            CallPhase::Early => LiveState::Early,
            _ => LiveState::Trying,
        };
        let answered_at = legs.iter().find_map(|l| l.confirmed_at);
        let at = now.instant();
        let unix_of = |instant: Instant| {
            unix_ms(now).saturating_sub(millis(at.saturating_duration_since(instant)))
        };
        LiveCall {
            call_id: call_id.to_owned(),
            caller: self.caller.clone(),
            callee: self.callee.clone(),
            caller_aor: self.caller_aor.clone(),
            callee_aor: self.callee_aor.clone(),
            dialled: self.request_uri.clone(),
            state,
            start_ms: unix_of(self.created),
            answer_ms: answered_at.map(unix_of),
            duration_ms: millis(at.saturating_duration_since(self.created)),
            caller_contact: self.caller_contact.clone(),
            callee_contacts: legs
                .iter()
                .filter(|l| state != LiveState::Confirmed || l.phase == CallPhase::Confirmed)
                .filter_map(|l| l.callee_contact.clone())
                .collect(),
            caller_user: None,
            rule: None,
            trunk: None,
            media: None,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Leg {
    fn new(to_tag: Option<String>) -> Self {
        Self {
            to_tag,
            phase: CallPhase::Trying,
            callee_contact: None,
            callee_source: None,
            confirmed_at: None,
            bye_by_caller: None,
            record_route: None,
            callee_cseq: None,
        }
    }
}

/// The RFC 4235 state of a leg for one side.
fn dialog_state(leg: &Leg, direction: Direction) -> DialogState {
    match leg.phase {
        CallPhase::Trying => DialogState::Trying,
        CallPhase::Proceeding => DialogState::Proceeding,
        CallPhase::Early => DialogState::Early,
        CallPhase::Confirmed => DialogState::Confirmed,
        CallPhase::Terminated(end) => {
            let (reason, code) = match end {
                CallEnd::Status(408) => ("timeout", None),
                CallEnd::Status(487) | CallEnd::Cancelled => ("cancelled", None),
                CallEnd::Status(code) => ("rejected", Some(code)),
                CallEnd::Bye => {
                    let by_caller = leg.bye_by_caller.unwrap_or(true);
                    if by_caller == (direction == Direction::Initiator) {
                        ("local-bye", None)
                    } else {
                        ("remote-bye", None)
                    }
                }
                CallEnd::Gone => ("error", None),
            };
            DialogState::Terminated {
                reason: Some(reason.to_owned()),
                code,
            }
        }
    }
}

/// Where an INVITE with Replaces for a call must go (RFC 3891), and the
/// Replaces value that device matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplacesTarget {
    /// The side whose device it is: the caller's (`Initiator`) or the
    /// callee's.
    pub side: Direction,
    /// Its Contact URI (the Request-URI to use).
    pub contact: String,
    /// Where its messages came from: the next hop to it.
    pub source: Source,
    /// `call-id;to-tag=...;from-tag=...` from that device's point of view
    /// (to-tag is its own tag), for the relayed INVITE.
    pub replaces: String,
    /// The dialog is early (ringing): the pickup case.
    pub early: bool,
    /// The user of that device: the new call is hers, not the user the
    /// INVITE was addressed to (after a pickup, the callee's lamp must
    /// not show the picker's call).
    pub aor: Option<Aor>,
}

/// The two parties of a dialog the book knows, as a request sent in it
/// names them (its From tag is the sender's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogParties {
    /// The side that sent the request: the caller (`Initiator`) or the
    /// callee.
    pub sender: Direction,
    /// The sender's address of record (From of the INVITE for the caller,
    /// its Request-URI for the callee).
    pub sender_aor: Option<Aor>,
    /// Where the sender's messages came from.
    pub sender_source: Option<Source>,
    /// Where the other party's messages came from.
    pub peer_source: Option<Source>,
}

/// What the book makes of an in-dialog request's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogMatch {
    /// The tags are those of a dialog of the call: one party to the other.
    Party(Box<DialogParties>),
    /// The call is known but the tags name none of its dialogs.
    NotAParty,
    /// No call with that Call-ID is in the book.
    Unknown,
}

/// The calls in progress, by the AORs involved.
#[derive(Debug)]
pub struct CallBook {
    /// Boxed, as the call records are: the table's empty slots cost a
    /// pointer each, not a call.
    calls: HashMap<Arc<str>, Box<Call>>,
    /// The Call-IDs of each user's calls: the same shared strings as the
    /// keys of `calls`, not copies.
    by_aor: HashMap<Aor, HashSet<Arc<str>>>,
    max_calls: usize,
    /// Terminated legs were reported: drop them at the next change. Only
    /// the calls the last change touched (a sweep of every call would cost
    /// O(calls) per request).
    sweep: Vec<String>,
    /// The route set of the last answer: the next call through the same
    /// proxies has the same one, kept once.
    last_route_set: Option<Arc<[String]>>,
}

impl Default for CallBook {
    fn default() -> Self {
        Self::new(MAX_CALLS)
    }
}

impl CallBook {
    /// A book of at most `max_calls` calls.
    #[must_use]
    pub fn new(max_calls: usize) -> Self {
        Self {
            calls: HashMap::new(),
            by_aor: HashMap::new(),
            max_calls,
            sweep: Vec::new(),
            last_route_set: None,
        }
    }

    /// Calls remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// No call remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Takes a state change of a call; the AORs whose dialogs changed. Read
    /// their [`CallBook::dialogs_of`] before the next `apply` or `purge`:
    /// dialogs that ended are reported once, then dropped.
    pub fn apply(&mut self, at: Instant, update: CallUpdate) -> Vec<Aor> {
        let call_id = self
            .shared_id(&update.call_id)
            .unwrap_or_else(|| Arc::from(update.call_id.as_str()));
        self.apply_shared(at, call_id, update)
    }

    /// [`CallBook::apply`], a new call filed under `call_id` (the update's
    /// Call-ID, in a string other tables share).
    pub(crate) fn apply_shared(
        &mut self,
        at: Instant,
        call_id: Arc<str>,
        update: CallUpdate,
    ) -> Vec<Aor> {
        self.sweep_terminated();
        if update.state == CallPhase::Trying {
            return self.start(at, call_id, update);
        }
        let Some(call) = self.calls.get_mut(update.call_id.as_str()) else {
            return Vec::new();
        };
        let route_set = (update.state == CallPhase::Confirmed && !update.record_route.is_empty())
            .then(|| Self::route_set(&mut self.last_route_set, &update.record_route));
        if call.apply(at, &update, route_set) {
            self.sweep.push(update.call_id.clone());
            call.aors()
        } else {
            Vec::new()
        }
    }

    /// `record_route` in a shared list: the last one kept (`last`) when
    /// equal, else a new one that becomes the last.
    fn route_set(last: &mut Option<Arc<[String]>>, record_route: &[String]) -> Arc<[String]> {
        match last {
            Some(kept) if **kept == *record_route => Arc::clone(kept),
            _ => Arc::clone(last.insert(Arc::from(record_route))),
        }
    }

    /// The string the book keeps `call_id` in, for other tables to share.
    pub(crate) fn shared_id(&self, call_id: &str) -> Option<Arc<str>> {
        self.calls
            .get_key_value(call_id)
            .map(|(id, _)| Arc::clone(id))
    }

    fn start(&mut self, at: Instant, call_id: Arc<str>, update: CallUpdate) -> Vec<Aor> {
        if self.calls.contains_key(update.call_id.as_str()) {
            return Vec::new(); // a retransmission reaching the proxy again
        }
        if self.calls.len() >= self.max_calls {
            self.purge(at);
            if self.calls.len() >= self.max_calls {
                tracing::debug!("call book full: call not shown to busy-lamp watchers");
                return Vec::new();
            }
        }
        let caller_aor = Aor::parse(&update.caller.uri).ok();
        let callee_aor = Aor::parse(&update.request_uri)
            .or_else(|_| Aor::parse(&update.callee.uri))
            .ok();
        let call = Call {
            created: at,
            updated: at,
            from_tag: update.from_tag,
            caller: update.caller,
            callee: update.callee,
            caller_aor,
            callee_aor,
            caller_contact: update.caller_contact,
            caller_source: update.caller_source,
            caller_cseq: update.cseq,
            request_uri: update.request_uri,
            legs: vec![Leg::new(None)],
        };
        let aors = call.aors();
        self.insert(call_id, call, &aors);
        aors
    }

    /// The dialogs of `aor`, direction relative to it, oldest call first.
    #[must_use]
    pub fn dialogs_of(&self, aor: &Aor) -> Vec<DialogEntry> {
        self.entries(aor, None)
    }

    /// [`CallBook::dialogs_of`] with the duration of answered dialogs at
    /// `now`.
    #[must_use]
    pub fn dialogs_at(&self, aor: &Aor, now: Instant) -> Vec<DialogEntry> {
        self.entries(aor, Some(now))
    }

    fn entries(&self, aor: &Aor, now: Option<Instant>) -> Vec<DialogEntry> {
        let Some(ids) = self.by_aor.get(aor) else {
            return Vec::new();
        };
        let mut calls: Vec<(&str, &Call)> = ids
            .iter()
            .filter_map(|id| self.calls.get(id).map(|call| (&**id, &**call)))
            .collect();
        calls.sort_by(|a, b| a.1.created.cmp(&b.1.created).then(a.0.cmp(b.0)));
        let mut entries = Vec::new();
        for (call_id, call) in calls {
            let mut sides = Vec::new();
            if call.caller_aor.as_ref() == Some(aor) {
                sides.push(Direction::Initiator);
            }
            if call.callee_aor.as_ref() == Some(aor) {
                sides.push(Direction::Recipient);
            }
            for direction in sides {
                for leg in &call.legs {
                    entries.push(call.entry(call_id, leg, direction, now));
                }
            }
        }
        entries
    }

    /// Whether `call_id` has an answered dialog that did not end.
    #[must_use]
    pub fn is_answered(&self, call_id: &str) -> bool {
        self.calls
            .get(call_id)
            .is_some_and(|call| call.legs.iter().any(|l| l.phase == CallPhase::Confirmed))
    }

    /// Whether `call_id` has a dialog that did not end (ringing or up).
    #[must_use]
    pub fn is_in_progress(&self, call_id: &str) -> bool {
        self.calls
            .get(call_id)
            .is_some_and(|call| call.legs.iter().any(|l| !l.is_over()))
    }

    /// An in-dialog request of `call_id` passed with these tags and CSeq
    /// number: a BYE the server sends later in a party's place must be
    /// numbered above it.
    pub fn saw_request(&mut self, call_id: &str, from_tag: &str, to_tag: &str, cseq: u32) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        if from_tag == call.from_tag {
            call.caller_cseq = call.caller_cseq.max(cseq);
        } else if to_tag == call.from_tag {
            for leg in &mut call.legs {
                if leg.to_tag.as_deref() == Some(from_tag) {
                    leg.callee_cseq = Some(leg.callee_cseq.map_or(cseq, |c| c.max(cseq)));
                }
            }
        }
    }

    /// How the server ends `call_id`: a BYE to both parties of its
    /// answered dialog, or a CANCEL while it rings. `is_ours` tells this
    /// server's Record-Route values. `None` for a call not in progress (or
    /// answered by a device the proxy never learnt the Contact of).
    #[must_use]
    pub fn hangup(&self, call_id: &str, is_ours: impl Fn(&str) -> bool) -> Option<Hangup> {
        let call = self.calls.get(call_id)?;
        let live = call.legs.iter().filter(|l| !l.is_over());
        let Some(leg) = call.legs.iter().find(|l| l.phase == CallPhase::Confirmed) else {
            return live.count().gt(&0).then_some(Hangup::Cancel);
        };
        let callee_tag = leg.to_tag.clone()?;
        let (route_to_callee, route_to_caller) = split_route_set(leg.route_set(), is_ours);
        let caller = (call.caller.uri.clone(), call.from_tag.clone());
        let callee = (call.callee.uri.clone(), callee_tag);
        Some(Hangup::Bye {
            to_caller: Box::new(DialogBye {
                call_id: call_id.to_owned(),
                target: call.caller_contact.clone()?,
                route: route_to_caller,
                from: callee.clone(),
                to: caller.clone(),
                // Any number works when the callee never sent a request
                // (the caller has no remote CSeq yet).
                cseq: leg.callee_cseq.map_or(1, |c| c.saturating_add(1)),
                destination: destination_of(&call.caller_source),
            }),
            to_callee: Box::new(DialogBye {
                call_id: call_id.to_owned(),
                target: leg.callee_contact.clone()?,
                route: route_to_callee,
                from: caller,
                to: callee,
                cseq: call.caller_cseq.saturating_add(1),
                destination: destination_of(&leg.callee_source?),
            }),
        })
    }

    /// The update that says the server's BYE ended the answered dialog of
    /// `call_id` (as the caller's BYE would).
    #[must_use]
    pub fn bye_update(&self, call_id: &str) -> Option<CallUpdate> {
        let call = self.calls.get(call_id)?;
        let leg = call.legs.iter().find(|l| l.phase == CallPhase::Confirmed)?;
        Some(CallUpdate {
            call_id: call_id.to_owned(),
            from_tag: call.from_tag.clone(),
            to_tag: leg.to_tag.clone(),
            caller: call.caller.clone(),
            callee: call.callee.clone(),
            request_uri: call.request_uri.clone(),
            caller_contact: call.caller_contact.clone(),
            caller_source: call.caller_source,
            callee_contact: leg.callee_contact.clone(),
            callee_source: leg.callee_source,
            cseq: call.caller_cseq.saturating_add(1),
            record_route: Vec::new(),
            state: CallPhase::Terminated(CallEnd::Bye),
        })
    }

    /// The calls in progress at `now`, oldest first.
    #[must_use]
    pub fn live(&self, now: Now) -> Vec<LiveCall> {
        let mut calls: Vec<(&str, &Call)> = self
            .calls
            .iter()
            .filter(|(_, call)| call.legs.iter().any(|l| !l.is_over()))
            .map(|(id, call)| (&**id, &**call))
            .collect();
        calls.sort_by(|a, b| a.1.created.cmp(&b.1.created).then(a.0.cmp(b.0)));
        calls
            .into_iter()
            .map(|(call_id, call)| call.live(call_id, now))
            .collect()
    }

    /// Where an INVITE with `Replaces: call_id;to-tag=to_tag;from-tag=
    /// from_tag` must go: the caller's device when the tags name the dialog
    /// from the caller's side, or an early dialog from either side (only
    /// the UAC of an early dialog accepts Replaces for it); the callee's
    /// device for an answered dialog named from the callee's side. `None`
    /// for a dialog not in the book, or one that ended.
    #[must_use]
    pub fn replaces_target(
        &self,
        call_id: &str,
        to_tag: &str,
        from_tag: &str,
    ) -> Option<ReplacesTarget> {
        let call = self.calls.get(call_id)?;
        let (callee_tag, named_by_caller) = if to_tag == call.from_tag {
            (from_tag, true)
        } else if from_tag == call.from_tag {
            (to_tag, false)
        } else {
            return None;
        };
        let leg = call
            .legs
            .iter()
            .find(|l| l.to_tag.as_deref() == Some(callee_tag) && !l.is_over())?;
        let early = leg.phase != CallPhase::Confirmed;
        if early || named_by_caller {
            Some(ReplacesTarget {
                side: Direction::Initiator,
                contact: call.caller_contact.clone()?,
                source: call.caller_source,
                replaces: format!("{call_id};to-tag={};from-tag={callee_tag}", call.from_tag),
                early,
                aor: call.caller_aor.clone(),
            })
        } else {
            Some(ReplacesTarget {
                side: Direction::Recipient,
                contact: leg.callee_contact.clone()?,
                source: leg.callee_source?,
                replaces: format!("{call_id};to-tag={callee_tag};from-tag={}", call.from_tag),
                early,
                aor: call.callee_aor.clone(),
            })
        }
    }

    /// Who sends a request of `call_id` with these tags: one party of a
    /// dialog of the call (its From tag is the caller's and its To tag a
    /// callee's, or the other way round), someone else, or a call the book
    /// does not know.
    #[must_use]
    pub fn parties(&self, call_id: &str, from_tag: &str, to_tag: &str) -> DialogMatch {
        let Some(call) = self.calls.get(call_id) else {
            return DialogMatch::Unknown;
        };
        let (sender, callee_tag) = if from_tag == call.from_tag {
            (Direction::Initiator, to_tag)
        } else if to_tag == call.from_tag {
            (Direction::Recipient, from_tag)
        } else {
            return DialogMatch::NotAParty;
        };
        let Some(leg) = call
            .legs
            .iter()
            .find(|l| l.to_tag.as_deref() == Some(callee_tag) && !l.is_over())
        else {
            return DialogMatch::NotAParty;
        };
        let caller = (call.caller_aor.clone(), Some(call.caller_source));
        let callee = (call.callee_aor.clone(), leg.callee_source);
        let ((sender_aor, sender_source), (_, peer_source)) = match sender {
            Direction::Initiator => (caller, callee),
            Direction::Recipient => (callee, caller),
        };
        DialogMatch::Party(Box::new(DialogParties {
            sender,
            sender_aor,
            sender_source,
            peer_source,
        }))
    }

    /// Forgets calls that ended, calls unanswered and silent for long, and
    /// answered ones whose end the proxy never saw; drops the ended
    /// dialogs already reported.
    pub fn purge(&mut self, at: Instant) {
        self.sweep_terminated();
        let stale: Vec<Arc<str>> = self
            .calls
            .iter()
            .filter(|(_, call)| {
                let idle = at.saturating_duration_since(call.updated);
                idle >= if call.answered() {
                    ANSWERED_IDLE
                } else {
                    RINGING_IDLE
                }
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            self.remove(&id);
        }
    }

    /// Drops the legs that ended (reported by the last change) and the
    /// calls left without legs.
    fn sweep_terminated(&mut self) {
        for id in std::mem::take(&mut self.sweep) {
            let Some(call) = self.calls.get_mut(id.as_str()) else {
                continue;
            };
            call.legs.retain(|leg| !leg.is_over());
            if call.legs.is_empty() {
                self.remove(&id);
            }
        }
    }

    /// Files `call` under `call_id` and under each of `aors`, sharing the
    /// one Call-ID string, and the call's AORs with the index's keys (one
    /// string per user, not one per call).
    fn insert(&mut self, call_id: Arc<str>, mut call: Call, aors: &[Aor]) {
        for aor in aors {
            self.by_aor
                .entry(aor.clone())
                .or_default()
                .insert(Arc::clone(&call_id));
        }
        call.caller_aor = call.caller_aor.map(|aor| self.filed_aor(aor));
        call.callee_aor = call.callee_aor.map(|aor| self.filed_aor(aor));
        self.calls.insert(call_id, Box::new(call));
    }

    /// The index's key equal to `aor`, when it has one.
    fn filed_aor(&self, aor: Aor) -> Aor {
        match self.by_aor.get_key_value(&aor) {
            Some((filed, _)) => filed.clone(),
            None => aor,
        }
    }

    fn remove(&mut self, call_id: &str) {
        let Some(call) = self.calls.remove(call_id) else {
            return;
        };
        for aor in call.aors() {
            if let Some(ids) = self.by_aor.get_mut(&aor) {
                ids.remove(call_id);
                if ids.is_empty() {
                    self.by_aor.remove(&aor);
                }
            }
        }
    }
}

#[path = "calls_record.rs"]
mod record;

#[cfg(test)]
#[path = "calls_tests.rs"]
mod tests;
