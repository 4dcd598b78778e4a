//! The offline messages held for local users, in memory beside the store:
//! per user, oldest first, with the bounds (count and bytes, per user and
//! in all), the delivery in flight (one message at a time per user, so
//! that order is kept), and the retry schedule after a failed delivery
//! (a message a device refuses for good is dropped instead: it would
//! otherwise block its user's queue until it expires).
//!
//! The store is the durable copy; this is what the service decides with.
//! A message counts against the bounds from the moment it is accepted for
//! saving, so that MESSAGEs arriving while a save is in flight cannot go
//! over them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use switchboard_core::TransactionId;

use crate::proxy::Incoming;
use crate::registrar::Aor;
use crate::storage::StoredMessage;

use super::config::MailboxConfig;
use super::effect::StoreId;

/// Why a message is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The message alone is larger than a user's mailbox.
    TooLarge,
    /// The user's mailbox is full (count or bytes).
    UserFull,
    /// The server keeps as many messages as it may.
    ServerFull,
}

/// A save of the mailbox in flight.
#[derive(Debug)]
pub(crate) enum Saving {
    /// A new message: 202 once stored, 500 if not.
    Keep(Box<Keeping>),
    /// Delivered or expired messages removed.
    Removal { count: usize },
}

/// A new message being saved: the MESSAGE to answer, and what is saved.
#[derive(Debug)]
pub(crate) struct Keeping {
    pub(crate) incoming: Incoming,
    pub(crate) aor: Aor,
    pub(crate) message: StoredMessage,
}

/// What one device's final answer (or its absence) says about a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A 2xx: delivered.
    Taken,
    /// A refusal that no retry can change (see [`Answer::of_status`]).
    Refused,
    /// A timeout, a transport error or a refusal that may pass (busy,
    /// unavailable, overloaded): try again later.
    Failed,
}

impl Answer {
    /// Classifies a final status: 2xx taken; 6xx, 501, 513 and every 4xx
    /// but 408, 480, 486 and 491 refused for good (the device will never
    /// take this message); anything else may pass.
    pub(crate) fn of_status(code: u16) -> Self {
        match code {
            200..=299 => Self::Taken,
            408 | 480 | 486 | 491 => Self::Failed,
            400..=499 | 501 | 513 | 600..=699 => Self::Refused,
            _ => Self::Failed,
        }
    }
}

/// How a delivery attempt ended, once it has.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A device answered 2xx: the message is gone from memory and must be
    /// removed from the store.
    Delivered { aor: Aor, id: String },
    /// No device took it and one refused it for good: it is gone from
    /// memory (never deliverable) and must be removed from the store; the
    /// next message may go.
    Dropped { aor: Aor, id: String },
    /// No device took it: a retry is scheduled.
    Failed { aor: Aor, retry_in: Duration },
}

/// One delivery in flight: the message and the transactions (one per
/// device) not answered yet.
#[derive(Debug)]
struct Attempt {
    id: String,
    outstanding: usize,
    /// A device refused it for good.
    refused: bool,
}

/// One user's messages.
#[derive(Debug, Default)]
struct UserBox {
    /// Stored messages, oldest first.
    queue: VecDeque<StoredMessage>,
    /// Messages and body bytes counted against the bounds (stored and
    /// being saved).
    count: usize,
    bytes: usize,
    attempt: Option<Attempt>,
    /// No delivery before this (after a failure).
    retry_at: Option<Instant>,
    /// The wait after the next failure.
    backoff: Duration,
}

impl UserBox {
    fn is_idle(&self) -> bool {
        self.count == 0 && self.attempt.is_none()
    }
}

/// Every user's messages and what is in flight for them.
#[derive(Debug)]
pub(crate) struct Mailbox {
    config: MailboxConfig,
    boxes: HashMap<Aor, UserBox>,
    count: usize,
    bytes: usize,
    saving: HashMap<StoreId, Saving>,
    delivering: HashMap<TransactionId, Aor>,
    /// Retries, earliest first; an entry whose box has moved on is skipped.
    retries: BinaryHeap<Reverse<(Instant, Aor)>>,
}

impl Mailbox {
    pub(crate) fn new(config: MailboxConfig) -> Self {
        Self {
            config,
            boxes: HashMap::new(),
            count: 0,
            bytes: 0,
            saving: HashMap::new(),
            delivering: HashMap::new(),
            retries: BinaryHeap::new(),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// Whether messages from callers of other domains are kept too.
    pub(crate) fn keeps_from_other_domains(&self) -> bool {
        self.config.from_other_domains
    }

    /// Counts a message of `size` body bytes for `aor` against the bounds,
    /// or says why it may not be kept.
    pub(crate) fn reserve(&mut self, aor: &Aor, size: usize) -> Result<(), Refusal> {
        let c = &self.config;
        if size > c.max_bytes_per_user {
            return Err(Refusal::TooLarge);
        }
        if self.count >= c.max_total || self.bytes + size > c.max_total_bytes {
            return Err(Refusal::ServerFull);
        }
        let user = self.boxes.entry(aor.clone()).or_default();
        if user.count >= c.max_per_user || user.bytes + size > c.max_bytes_per_user {
            if user.is_idle() {
                self.boxes.remove(aor);
            }
            return Err(Refusal::UserFull);
        }
        user.count += 1;
        user.bytes += size;
        self.count += 1;
        self.bytes += size;
        Ok(())
    }

    /// Whether `aor` has messages kept or being saved: a new one queues
    /// behind them, or it would overtake them.
    pub(crate) fn has_waiting(&self, aor: &Aor) -> bool {
        self.boxes.get(aor).is_some_and(|user| user.count > 0)
    }

    /// Gives back what [`reserve`](Self::reserve) counted (the save failed,
    /// or the message left).
    fn release(&mut self, aor: &Aor, size: usize) {
        self.count = self.count.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(size);
        if let Some(user) = self.boxes.get_mut(aor) {
            user.count = user.count.saturating_sub(1);
            user.bytes = user.bytes.saturating_sub(size);
            if user.is_idle() {
                self.boxes.remove(aor);
            }
        }
    }

    /// A save is in flight.
    pub(crate) fn saving(&mut self, id: StoreId, saving: Saving) {
        self.saving.insert(id, saving);
    }

    /// The save `id` finished, if it is the mailbox's.
    pub(crate) fn take_saving(&mut self, id: StoreId) -> Option<Saving> {
        self.saving.remove(&id)
    }

    /// How many saves are in flight.
    pub(crate) fn saving_count(&self) -> usize {
        self.saving.len()
    }

    /// A kept message is durable: it joins its user's queue.
    pub(crate) fn stored(&mut self, aor: Aor, message: StoredMessage) {
        self.boxes.entry(aor).or_default().queue.push_back(message);
    }

    /// A save of a new message failed: it is not counted any more.
    pub(crate) fn not_stored(&mut self, aor: &Aor, message: &StoredMessage) {
        self.release(aor, message.body.len());
    }

    /// Messages loaded from the store (at start), oldest first; returns
    /// the users they are for. They count against the bounds but are not
    /// refused by them: they were accepted once.
    pub(crate) fn load(&mut self, messages: impl IntoIterator<Item = StoredMessage>) -> Vec<Aor> {
        let mut users = Vec::new();
        for message in messages {
            let Ok(aor) = Aor::parse(&message.aor) else {
                tracing::warn!(aor = %message.aor, id = %message.id, "stored message for an AOR that does not parse: skipped");
                continue;
            };
            let size = message.body.len();
            let user = self.boxes.entry(aor.clone()).or_default();
            if user.queue.is_empty() {
                users.push(aor);
            }
            user.count += 1;
            user.bytes += size;
            user.queue.push_back(message);
            self.count += 1;
            self.bytes += size;
        }
        users
    }

    /// Whether `aor` has a message that may be sent now: one is queued,
    /// none is in flight, no retry is pending.
    pub(crate) fn ready(&self, aor: &Aor, at: Instant) -> bool {
        self.boxes.get(aor).is_some_and(|user| {
            !user.queue.is_empty()
                && user.attempt.is_none()
                && user.retry_at.is_none_or(|t| t <= at)
        })
    }

    /// The user registered: a pending retry is moot, try again at once.
    pub(crate) fn wake(&mut self, aor: &Aor) {
        if let Some(user) = self.boxes.get_mut(aor) {
            user.retry_at = None;
            user.backoff = Duration::ZERO;
        }
    }

    /// The oldest message of `aor` to send, after dropping the expired
    /// ones at the front of its queue (their ids are appended to
    /// `expired`).
    pub(crate) fn next(
        &mut self,
        aor: &Aor,
        now_unix: u64,
        expired: &mut Vec<String>,
    ) -> Option<StoredMessage> {
        let max_age = self.config.max_age.as_secs();
        loop {
            let user = self.boxes.get_mut(aor)?;
            let front = user.queue.front()?;
            if front.received_unix.saturating_add(max_age) > now_unix {
                return Some(front.clone());
            }
            if let Some(old) = user.queue.pop_front() {
                expired.push(old.id);
                self.release(aor, old.body.len());
            }
        }
    }

    /// Delivery of message `id` to `aor` went out on `txs`.
    pub(crate) fn begin(&mut self, aor: &Aor, id: String, txs: &[TransactionId]) {
        if let Some(user) = self.boxes.get_mut(aor) {
            user.attempt = Some(Attempt {
                id,
                outstanding: txs.len(),
                refused: false,
            });
        }
        for tx in txs {
            self.delivering.insert(*tx, aor.clone());
        }
    }

    /// Whether `tx` is one of the mailbox's deliveries.
    pub(crate) fn owns(&self, tx: TransactionId) -> bool {
        self.delivering.contains_key(&tx)
    }

    /// A final answer (or a timeout, a transport error: [`Answer::Failed`])
    /// for delivery transaction `tx`. The attempt ends at the first 2xx,
    /// or once every device has answered: dropped if one refused it for
    /// good, else retried later.
    pub(crate) fn answered(
        &mut self,
        tx: TransactionId,
        answer: Answer,
        at: Instant,
    ) -> Option<Outcome> {
        let aor = self.delivering.remove(&tx)?;
        let user = self.boxes.get_mut(&aor)?;
        let attempt = user.attempt.as_mut()?;
        attempt.outstanding = attempt.outstanding.saturating_sub(1);
        attempt.refused |= answer == Answer::Refused;
        if answer != Answer::Taken && attempt.outstanding > 0 {
            return None;
        }
        let (id, refused) = (attempt.id.clone(), attempt.refused);
        user.attempt = None;
        if answer != Answer::Taken && !refused {
            let retry_in = self.retry_later(&aor, at);
            return Some(Outcome::Failed { aor, retry_in });
        }
        user.backoff = Duration::ZERO;
        // The other devices' answers no longer matter.
        self.delivering.retain(|_, a| *a != aor);
        let position = user.queue.iter().position(|m| m.id == id);
        if let Some(message) = position.and_then(|i| user.queue.remove(i)) {
            self.release(&aor, message.body.len());
        }
        Some(if answer == Answer::Taken {
            Outcome::Delivered { aor, id }
        } else {
            Outcome::Dropped { aor, id }
        })
    }

    /// A delivery failed (or could not even be sent): no new attempt for
    /// `aor` before the backoff has passed, which doubles up to the
    /// maximum. Returns the wait.
    pub(crate) fn retry_later(&mut self, aor: &Aor, at: Instant) -> Duration {
        let Some(user) = self.boxes.get_mut(aor) else {
            return Duration::ZERO;
        };
        let retry_in = if user.backoff.is_zero() {
            self.config.retry_first
        } else {
            user.backoff
        };
        user.backoff = (retry_in * 2).min(self.config.retry_max);
        user.retry_at = Some(at + retry_in);
        self.retries.push(Reverse((at + retry_in, aor.clone())));
        retry_in
    }

    /// Schedules a delivery attempt for `aor` at `at` (users loaded at
    /// start).
    pub(crate) fn schedule(&mut self, aor: Aor, at: Instant) {
        self.retries.push(Reverse((at, aor)));
    }

    /// The users whose retry is due at `at`.
    pub(crate) fn due(&mut self, at: Instant) -> Vec<Aor> {
        let mut due = Vec::new();
        while self.retries.peek().is_some_and(|Reverse((t, _))| *t <= at) {
            if let Some(Reverse((_, aor))) = self.retries.pop() {
                due.push(aor);
            }
        }
        due
    }

    /// When the next retry is due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.retries.peek().map(|Reverse((t, _))| *t)
    }

    /// Drops every message older than the maximum age (not the one in
    /// flight) and returns their ids.
    pub(crate) fn expire(&mut self, now_unix: u64) -> Vec<String> {
        let max_age = self.config.max_age.as_secs();
        let mut expired = Vec::new();
        let mut released = Vec::new();
        for (aor, user) in &mut self.boxes {
            let in_flight = user.attempt.as_ref().map(|a| a.id.clone());
            user.queue.retain(|m| {
                let old = m.received_unix.saturating_add(max_age) <= now_unix
                    && in_flight.as_deref() != Some(m.id.as_str());
                if old {
                    expired.push(m.id.clone());
                    released.push((aor.clone(), m.body.len()));
                }
                !old
            });
        }
        for (aor, size) in released {
            self.release(&aor, size);
        }
        expired
    }

    /// Messages held (stored and being saved).
    pub(crate) fn len(&self) -> usize {
        self.count
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

    use super::*;

    fn message(id: &str, size: usize, received_unix: u64) -> StoredMessage {
        StoredMessage {
            id: id.to_owned(),
            aor: "sip:bob@example.com".to_owned(),
            from: "<sip:alice@example.com>;tag=1".to_owned(),
            to: "<sip:bob@example.com>".to_owned(),
            date: String::new(),
            content_type: "text/plain".to_owned(),
            body: vec![b'x'; size],
            received_unix,
        }
    }

    #[test]
    fn bounds_per_user_and_in_all_and_release() {
        let config = MailboxConfig {
            max_per_user: 2,
            max_bytes_per_user: 10,
            max_total: 3,
            max_total_bytes: 100,
            ..MailboxConfig::default()
        };
        let mut mailbox = Mailbox::new(config);
        let bob = Aor::new("bob", "example.com").unwrap();
        let carol = Aor::new("carol", "example.com").unwrap();
        assert_eq!(mailbox.reserve(&bob, 11), Err(Refusal::TooLarge));
        assert_eq!(mailbox.reserve(&bob, 6), Ok(()));
        assert_eq!(mailbox.reserve(&bob, 5), Err(Refusal::UserFull));
        assert_eq!(mailbox.reserve(&bob, 4), Ok(()));
        assert_eq!(mailbox.reserve(&bob, 0), Err(Refusal::UserFull));
        assert_eq!(mailbox.reserve(&carol, 1), Ok(()));
        assert_eq!(mailbox.reserve(&carol, 1), Err(Refusal::ServerFull));
        mailbox.not_stored(&bob, &message("a", 6, 0));
        assert_eq!(mailbox.len(), 2);
        assert_eq!(mailbox.reserve(&bob, 6), Ok(()));
    }

    #[test]
    fn expired_messages_are_not_sent() {
        let config = MailboxConfig {
            max_age: Duration::from_secs(100),
            ..MailboxConfig::default()
        };
        let mut mailbox = Mailbox::new(config);
        let users = mailbox.load([message("old", 1, 1000), message("new", 1, 1050)]);
        let bob = Aor::new("bob", "example.com").unwrap();
        assert_eq!(users, vec![bob.clone()]);
        let mut expired = Vec::new();
        let next = mailbox.next(&bob, 1100, &mut expired).unwrap();
        assert_eq!((next.id.as_str(), expired), ("new", vec!["old".to_owned()]));
        assert_eq!(mailbox.expire(1150), vec!["new".to_owned()]);
        assert_eq!(mailbox.len(), 0);
    }

    #[test]
    fn a_refusal_for_good_is_told_from_one_that_may_pass() {
        for code in [400, 403, 404, 415, 488, 501, 513, 603, 606] {
            assert_eq!(Answer::of_status(code), Answer::Refused, "{code}");
        }
        for code in [408, 480, 486, 491, 500, 503, 504, 302] {
            assert_eq!(Answer::of_status(code), Answer::Failed, "{code}");
        }
        assert_eq!(Answer::of_status(202), Answer::Taken);
    }
}
