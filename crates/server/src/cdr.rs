//! Call detail records: one [`CallRecord`] per call attempt the proxy
//! routes, built from its [`CallUpdate`]s (forwarded, answered, ended) and
//! what the service knows besides (the authenticated caller, the dial
//! plan's rule and target, the trunk and gateway tried).
//!
//! The book only says what to write: a record when an answered call is
//! answered (a crash keeps it) and when any call ends; the service saves
//! them through [`Effect::Save`](crate::service::Effect::Save).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_core::{Source, TransactionId};

use crate::proxy::{CallEnd, CallPhase, CallUpdate};
use crate::service::StoreId;
use crate::storage::{CallMedia, CallRecord, DialogRecord, Disposition, HangupSide, StateChange};

/// Most open records (a bound on memory whatever peers send).
const MAX_OPEN: usize = 100_000;
/// An unanswered call silent this long is forgotten (Timer C is three
/// minutes: its end was lost).
const RINGING_IDLE: Duration = Duration::from_secs(10 * 60);
/// An answered call whose BYE never passed (no Record-Route) is forgotten
/// after this long; its record, written at the answer, stays without end.
const ANSWERED_IDLE: Duration = Duration::from_secs(12 * 3600);
/// How often expired records are deleted.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// What the dial plan made of a call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Routing {
    /// The rule that decided.
    pub(crate) rule: Option<String>,
    /// The number after the rule's rewrites.
    pub(crate) number: String,
    /// The target's label (`user:bob`, `trunk:carrier`).
    pub(crate) target: String,
}

/// A call not yet over.
#[derive(Debug)]
struct Open {
    record: CallRecord,
    from_tag: String,
    updated: Instant,
    /// The proxy's server transaction, when the plan routed the call (its
    /// carrier attempts are reported by it).
    tx: Option<TransactionId>,
    /// The server is ending it (for the operator, or a deadline).
    by_server: Option<HangupSide>,
}

/// The records of calls in progress, and the saves under way.
#[derive(Debug)]
pub struct CallRecords {
    /// Boxed: a record is large, and the table (sized by a power of two)
    /// would pay its size in every empty slot too.
    /// Keyed by the Call-ID string the call book shares.
    open: HashMap<Arc<str>, Box<Open>>,
    /// Routing decisions and authenticated callers noted before the
    /// proxy reported the call, by Call-ID; taken when it does.
    routed: HashMap<String, (TransactionId, Routing)>,
    users: HashMap<String, String>,
    by_tx: HashMap<TransactionId, Arc<str>>,
    /// Open calls a transfer handed on, by Call-ID: their end says so.
    transferred: HashSet<String>,
    saving: HashSet<StoreId>,
    keep: Option<Duration>,
    next_retention: Option<Instant>,
}

impl CallRecords {
    /// A book whose records are kept `keep` in the store (`None`: for
    /// good).
    pub(crate) fn new(keep: Option<Duration>) -> Self {
        Self {
            open: HashMap::new(),
            routed: HashMap::new(),
            users: HashMap::new(),
            by_tx: HashMap::new(),
            transferred: HashSet::new(),
            saving: HashSet::new(),
            keep,
            next_retention: None,
        }
    }

    /// Calls in progress.
    #[must_use]
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// The record of `call_id`, while the call is in progress.
    #[must_use]
    pub fn open_record(&self, call_id: &str) -> Option<&CallRecord> {
        self.open.get(call_id).map(|open| &open.record)
    }

    /// The server is ending `call_id` for the operator: its end, when it
    /// comes, is the server's.
    pub(crate) fn ended_by_server(&mut self, call_id: &str) {
        self.ended_by(call_id, HangupSide::Server);
    }

    /// The server is ending `call_id` for this reason (`side`): its end,
    /// when it comes, says so.
    pub(crate) fn ended_by(&mut self, call_id: &str, side: HangupSide) {
        if let Some(open) = self.open.get_mut(call_id) {
            open.by_server = Some(side);
        }
    }

    /// A transfer handed the call `call_id` on (the transferee's new
    /// INVITE passed, or an INVITE with Replaces for it): once answered,
    /// it ends as [`Disposition::Transferred`].
    pub(crate) fn transferred(&mut self, call_id: &str) {
        if self.open.contains_key(call_id) {
            self.transferred.insert(call_id.to_owned());
        }
    }

    /// The media relay's counters of `call_id` so far: the record written
    /// next (at the answer, at the end) carries them.
    pub(crate) fn media(&mut self, call_id: &str, media: CallMedia) {
        if let Some(open) = self.open.get_mut(call_id) {
            open.record.media = Some(Box::new(media));
        }
    }

    /// The caller of the initial INVITE `call_id` authenticated as `user`.
    pub(crate) fn authenticated(&mut self, call_id: &str, user: String) {
        self.users.insert(call_id.to_owned(), user);
    }

    /// The plan routed the INVITE `call_id` (server transaction `tx`).
    pub(crate) fn routed(&mut self, call_id: &str, tx: TransactionId, routing: Routing) {
        self.routed.insert(call_id.to_owned(), (tx, routing));
    }

    /// A carrier attempt of the call of `tx` went to `gateway` of `trunk`.
    pub(crate) fn attempted(&mut self, tx: TransactionId, trunk: &str, gateway: &str) {
        let Some(open) = self.by_tx.get(&tx).and_then(|id| self.open.get_mut(id)) else {
            return;
        };
        open.record.trunk = Some(trunk.to_owned());
        open.record.gateway = Some(gateway.to_owned());
    }

    /// Takes a state change of a call at `at` (`unix_ms` on the wall
    /// clock); the record to write, when there is one.
    pub(crate) fn apply(
        &mut self,
        at: Instant,
        unix_ms: u64,
        update: &CallUpdate,
        call_id: &Arc<str>,
    ) -> Option<CallRecord> {
        if update.state == CallPhase::Trying {
            self.start(at, unix_ms, update, call_id);
            return None;
        }
        let open = self.open.get_mut(update.call_id.as_str())?;
        open.updated = at;
        let record = &mut open.record;
        let answered = record.answer_ms.is_some();
        match update.state {
            CallPhase::Confirmed if !answered => {
                record.answer_ms = Some(unix_ms);
                record.disposition = Disposition::Answered;
                record.status = Some(200);
                return Some(record.clone());
            }
            CallPhase::Terminated(CallEnd::Bye) if answered => {
                let side = if update.from_tag == open.from_tag {
                    HangupSide::Caller
                } else if update.to_tag.as_deref() == Some(open.from_tag.as_str()) {
                    HangupSide::Callee
                } else {
                    return None; // a BYE of another call with this Call-ID
                };
                record.hangup = Some(side);
                if self.transferred.contains(&update.call_id) {
                    record.disposition = Disposition::Transferred;
                }
            }
            // The whole call's end (a fork's own end has its To tag).
            CallPhase::Terminated(end) if !answered && update.to_tag.is_none() => {
                let status = match end {
                    CallEnd::Status(code) => Some(code),
                    CallEnd::Cancelled => Some(487),
                    _ => None,
                };
                record.status = status;
                record.disposition = status.map_or(Disposition::Failed, Disposition::of_status);
            }
            _ => return None,
        }
        record.end_ms = Some(unix_ms);
        if let Some(side) = open.by_server {
            record.hangup = Some(side);
        }
        self.close(&update.call_id)
    }

    /// Opens the record of a forwarded INVITE, filed under `call_id` (its
    /// Call-ID, shared).
    fn start(&mut self, at: Instant, unix_ms: u64, update: &CallUpdate, call_id: &Arc<str>) {
        if self.open.contains_key(update.call_id.as_str()) {
            return;
        }
        let routed = self.routed.remove(&update.call_id);
        let caller_user = self.users.remove(&update.call_id);
        if self.open.len() >= MAX_OPEN {
            self.purge(at);
            if self.open.len() >= MAX_OPEN {
                tracing::warn!(call_id = %update.call_id, "too many calls in progress: call not recorded");
                return;
            }
        }
        let (tx, routing) = routed.unzip();
        let routing = routing.unwrap_or_default();
        let record = CallRecord {
            id: format!("{};{}", update.call_id, update.from_tag),
            call_id: update.call_id.clone(),
            caller: update.caller.uri.clone(),
            caller_user,
            callee: update.callee.uri.clone(),
            dialled: update.request_uri.clone(),
            routed_number: tx.map(|_| routing.number),
            rule: routing.rule,
            target: tx.map(|_| routing.target),
            trunk: None,
            gateway: None,
            source: source_text(&update.caller_source),
            start_ms: unix_ms,
            answer_ms: None,
            end_ms: None,
            disposition: Disposition::Failed,
            status: None,
            hangup: None,
            media: None,
        };
        if let Some(tx) = tx {
            self.by_tx.insert(tx, Arc::clone(call_id));
        }
        self.open.insert(
            Arc::clone(call_id),
            Box::new(Open {
                record,
                from_tag: update.from_tag.clone(),
                updated: at,
                tx,
                by_server: None,
            }),
        );
    }

    /// Takes the record of a stored call in progress back (at start, `at`
    /// its last change): the BYE after the restart completes it with its
    /// end, duration and who hung up.
    /// Filed under `call_id`, the record's Call-ID as the call book shares it.
    pub(crate) fn restore(&mut self, at: Instant, dialog: &DialogRecord, call_id: Arc<str>) {
        if self.open.contains_key(dialog.call_id.as_str()) || self.open.len() >= MAX_OPEN {
            return;
        }
        let answered = dialog.answer_ms.is_some();
        let record = CallRecord {
            id: dialog.id.clone(),
            call_id: dialog.call_id.clone(),
            caller: dialog.caller.uri.clone(),
            caller_user: dialog.caller_user.clone(),
            callee: dialog.callee.uri.clone(),
            dialled: dialog.dialled.clone(),
            routed_number: dialog.routed_number.clone(),
            rule: dialog.rule.clone(),
            target: dialog.target.clone(),
            trunk: dialog.trunk.clone(),
            gateway: dialog.gateway.clone(),
            source: dialog
                .caller
                .source
                .map(|s| source_text(&s.to_source()))
                .unwrap_or_default(),
            start_ms: dialog.start_ms,
            answer_ms: dialog.answer_ms,
            end_ms: None,
            disposition: if answered {
                Disposition::Answered
            } else {
                Disposition::Failed
            },
            status: answered.then_some(200),
            hangup: None,
            media: None,
        };
        self.open.insert(
            call_id,
            Box::new(Open {
                record,
                from_tag: dialog.caller.tag.clone(),
                updated: at,
                tx: None,
                by_server: None,
            }),
        );
    }

    fn close(&mut self, call_id: &str) -> Option<CallRecord> {
        self.transferred.remove(call_id);
        let open = self.open.remove(call_id)?;
        if let Some(tx) = open.tx {
            self.by_tx.remove(&tx);
        }
        Some(open.record)
    }

    /// Forgets calls whose end will not come, and notes nobody took.
    pub(crate) fn purge(&mut self, at: Instant) {
        // Notes are taken in the pass that made them.
        self.routed.clear();
        self.users.clear();
        let stale: Vec<Arc<str>> = self
            .open
            .iter()
            .filter(|(_, open)| {
                let limit = if open.record.answer_ms.is_some() {
                    ANSWERED_IDLE
                } else {
                    RINGING_IDLE
                };
                at.saturating_duration_since(open.updated) >= limit
            })
            .map(|(id, _)| Arc::clone(id))
            .collect();
        for id in stale {
            tracing::debug!(call_id = %id, "call record dropped: its end was never seen");
            self.close(&id);
        }
    }

    /// At the first housekeeping and then hourly: the change that deletes
    /// the records older than the retention.
    pub(crate) fn retention(&mut self, at: Instant, unix_ms: u64) -> Option<StateChange> {
        let keep = self.keep?;
        if self.next_retention.is_some_and(|next| at < next) {
            return None;
        }
        self.next_retention = Some(at + RETENTION_EVERY);
        let keep = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
        Some(StateChange::RemoveCallRecordsBefore {
            start_ms: unix_ms.saturating_sub(keep),
        })
    }

    /// A save of records was submitted as `id`.
    pub(crate) fn saving(&mut self, id: StoreId) {
        self.saving.insert(id);
    }

    /// The save `id` finished.
    pub(crate) fn saved(&mut self, id: StoreId) {
        self.saving.remove(&id);
    }

    /// Whether `id` is a save of records.
    pub(crate) fn is_saving(&self, id: StoreId) -> bool {
        self.saving.contains(&id)
    }
}

/// The wall clock of `now` in Unix milliseconds.
pub(crate) fn unix_ms(now: switchboard_core::Now) -> u64 {
    u64::try_from(now.since_epoch().as_millis()).unwrap_or(u64::MAX)
}

/// The monotonic instant at which the wall clock of `now` read `ms` Unix
/// milliseconds (a time in the past); `now` itself when the monotonic
/// clock does not reach that far back, or for a time to come.
pub(crate) fn instant_of_unix_ms(now: switchboard_core::Now, ms: u64) -> Instant {
    let age = Duration::from_millis(unix_ms(now).saturating_sub(ms));
    now.instant().checked_sub(age).unwrap_or(now.instant())
}

/// `udp 192.0.2.1:5060`.
fn source_text(source: &Source) -> String {
    format!(
        "{} {}",
        source.transport.as_lowercase_token().to_owned(),
        source.remote
    )
}
