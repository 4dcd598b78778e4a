//! The behaviour every back end of the store shares: the bodies of the
//! tests that run against SQLite and PostgreSQL alike (`backend_tests!`
//! makes one `#[test]` per body on a fresh database of the back end).
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Instant;

use super::{aor, binding, numbered};
use switchboard_core::{FlowId, Source, Transport};
use switchboard_server::registrar::{Aor, Binding, BindingKey, RemoveReason};
use switchboard_server::service::UserDirectory;
use switchboard_store::{
    AdminToken, AnyStore, BindingChange, BindingStore, CallMedia, CallRecord, CommitterConfig,
    DB_FILE_NAME, Disposition, EventStateStore, GroupCommitter, Ha1Set, HangupSide, MediaLeg,
    PostgresStore, PublicationRecord, RecordQuery, SqliteStore, StateChange, StoreError,
    StoredMessage, StoredState, Submission, SubscriptionRecord, User, UserStore,
};
use switchboard_testsupport::Postgres;

mod dialogs;
mod user_changes;
mod user_writes;

// Not every test binary runs every body.
#[allow(unused_imports)]
pub use dialogs::*;
#[allow(unused_imports)]
pub use user_changes::*;
#[allow(unused_imports)]
pub use user_writes::*;

/// Where a test's store lives; every [`open`](Backend::open) is a new
/// handle (a new connection) on the same database.
pub trait Backend {
    fn open(&self) -> AnyStore;
    /// Runs `sql` on the database directly (to damage a row).
    fn execute(&self, sql: &str);
}

/// A SQLite file in a temporary directory.
pub struct Sqlite(tempfile::TempDir);

impl Sqlite {
    pub fn new() -> Option<Self> {
        Some(Self(tempfile::tempdir().unwrap()))
    }
}

impl Backend for Sqlite {
    fn open(&self) -> AnyStore {
        SqliteStore::open(self.0.path()).unwrap().into()
    }

    fn execute(&self, sql: &str) {
        rusqlite::Connection::open(self.0.path().join(DB_FILE_NAME))
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }
}

/// A new database on the test binary's PostgreSQL server; `None` (the
/// test skipped, with a message) when PostgreSQL is not installed.
pub struct Pg(pub String);

impl Pg {
    pub fn new() -> Option<Self> {
        Postgres::shared().map(|server| Self(server.create_database()))
    }
}

impl Backend for Pg {
    fn open(&self) -> AnyStore {
        PostgresStore::connect(&self.0).unwrap().into()
    }

    fn execute(&self, sql: &str) {
        postgres::Client::connect(&self.0, postgres::NoTls)
            .unwrap()
            .batch_execute(sql)
            .unwrap();
    }
}

pub fn user(name: &str, domain: &str) -> User {
    User::with_password(name, domain, &format!("pw-{name}"), 1_700_000_000)
}

pub fn users_crud(backend: &impl Backend) {
    let store = backend.open();
    assert_eq!(store.count_users(None).unwrap(), 0);
    store.add_user(&user("bob", "example.com")).unwrap();
    store.add_user(&user("alice", "example.com")).unwrap();
    store.add_user(&user("alice", "other.org")).unwrap();

    let err = store.add_user(&user("alice", "example.com")).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let names: Vec<_> = store
        .list_users(None)
        .unwrap()
        .into_iter()
        .map(|u| format!("{}@{}", u.name, u.domain))
        .collect();
    assert_eq!(
        names,
        ["alice@example.com", "bob@example.com", "alice@other.org"]
    );
    assert_eq!(
        store.list_users(Some("other.org")).unwrap(),
        vec![user("alice", "other.org")]
    );
    assert_eq!(store.count_users(Some("example.com")).unwrap(), 2);
    assert_eq!(store.count_users(None).unwrap(), 3);

    let new_ha1 = Ha1Set::from_password("bob", "example.com", "new password");
    store.set_ha1("bob", "example.com", &new_ha1).unwrap();
    let bob = store.get_user("bob", "example.com").unwrap().unwrap();
    assert_eq!(bob.ha1, new_ha1);
    assert_eq!(bob.created_unix, 1_700_000_000);
    assert!(matches!(
        store.set_ha1("carol", "example.com", &new_ha1),
        Err(StoreError::NotFound(_))
    ));

    store.remove_user("bob", "example.com").unwrap();
    assert_eq!(store.get_user("bob", "example.com").unwrap(), None);
    assert!(matches!(
        store.remove_user("bob", "example.com"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.add_user(&user("", "example.com")),
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(store.count_users(None).unwrap(), 2);
}

pub fn binding_upsert_remove_remove_aor_and_purge(backend: &impl Backend) {
    let store = backend.open();
    let alice = "sip:alice@example.com";
    let a1 = binding(alice, "sip:alice@192.0.2.1:5060", 300);
    let a2 = binding(alice, "sip:alice@192.0.2.2:5060;transport=tcp", 900);
    let a3 = binding(alice, "sip:alice@192.0.2.3:5060", 3);
    let b1 = binding("sip:bob@example.com", "sip:bob@192.0.2.9", 10);
    store
        .apply(&[
            BindingChange::Upsert(a1.clone()),
            BindingChange::Upsert(a2.clone()),
            BindingChange::Upsert(a3.clone()),
            BindingChange::Upsert(b1.clone()),
        ])
        .unwrap();
    // Highest q first.
    assert_eq!(
        store.bindings_for(&aor(alice)).unwrap(),
        vec![a2.clone(), a1.clone(), a3.clone()]
    );
    assert_eq!(store.load_all().unwrap().len(), 4);

    // Upsert replaces the binding with the same (aor, contact).
    let mut a1b = binding(alice, "sip:alice@192.0.2.1:5060", 1_000);
    a1b.path = vec!["<sip:p.example.com;lr>".into()];
    store.apply(&[BindingChange::Upsert(a1b.clone())]).unwrap();
    assert_eq!(
        store.bindings_for(&aor(alice)).unwrap(),
        vec![a1b.clone(), a2.clone(), a3.clone()]
    );

    store
        .apply(&[BindingChange::Remove {
            aor: aor(alice),
            key: a2.key.clone(),
            reason: RemoveReason::Unregistered,
        }])
        .unwrap();
    // Removing what is not there is no error.
    store
        .apply(&[
            BindingChange::Remove {
                aor: aor(alice),
                key: a2.key.clone(),
                reason: RemoveReason::Unregistered,
            },
            BindingChange::Remove {
                aor: aor("sip:nobody@example.com"),
                key: a2.key.clone(),
                reason: RemoveReason::Expired,
            },
        ])
        .unwrap();
    assert_eq!(
        store.bindings_for(&aor(alice)).unwrap(),
        vec![a1b.clone(), a3.clone()]
    );

    // expires_at: a3 = 1_700_000_003, b1 = 1_700_000_010, a1b = 1_700_001_000.
    assert_eq!(store.purge_expired(1_700_000_002).unwrap(), 0);
    assert_eq!(
        store.purge_expired(1_700_000_010).unwrap(),
        2,
        "expiry at now counts"
    );
    assert_eq!(store.load_all().unwrap(), vec![a1b.clone()]);
    assert_eq!(a1b.remaining(1_700_000_010), 990);

    store
        .apply(&[BindingChange::Remove {
            aor: aor(alice),
            key: a1b.key.clone(),
            reason: RemoveReason::Unregistered,
        }])
        .unwrap();
    assert!(store.load_all().unwrap().is_empty());
}

pub fn apply_is_all_or_nothing(backend: &impl Backend) {
    let store = backend.open();
    let good = binding("sip:a@example.com", "sip:a@192.0.2.1", 1);
    let mut bad = binding("sip:a@example.com", "sip:a@192.0.2.2", 2);
    bad.q = Some(1001);
    let err = store
        .apply(&[
            BindingChange::Upsert(good.clone()),
            BindingChange::Upsert(bad.clone()),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err:?}");
    assert!(store.load_all().unwrap().is_empty());

    // Group commit: a bad group fails alone.
    let good_group = [BindingChange::Upsert(good.clone())];
    let bad_group = [BindingChange::Upsert(bad)];
    let results = store.apply_groups(&[&good_group, &bad_group, &[]]).unwrap();
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(StoreError::InvalidInput(_))));
    assert!(results[2].is_ok());
    assert_eq!(store.load_all().unwrap(), vec![good]);
}

pub fn bad_binding_text_is_refused(backend: &impl Backend) {
    let store = backend.open();
    let mut with_newline = binding("sip:a@example.com", "sip:a@192.0.2.1", 1);
    with_newline.path = vec!["<sip:x;lr>\n<sip:y;lr>".into()];
    let mut empty_contact = binding("sip:a@example.com", "", 1);
    empty_contact.contact.clear();
    for bad in [with_newline, empty_contact] {
        assert!(matches!(
            store.apply(&[BindingChange::Upsert(bad)]),
            Err(StoreError::InvalidInput(_))
        ));
    }
}

/// The registrar's binding as in the old `serve/convert.rs` round-trip
/// test: every field set, a Path, an instance.
pub fn registrar_binding(q: Option<u16>, key: BindingKey) -> Binding {
    Binding {
        aor: Aor::new("alice", "example.com").unwrap(),
        key,
        contact: "sip:alice@192.0.2.1:5060;transport=tcp".into(),
        params: ";+sip.instance=\"<urn:uuid:1>\";reg-id=1".into(),
        q,
        expires_at: 1_700_003_600,
        call_id: "c1".into(),
        cseq: 7,
        path: vec!["<sip:edge.example.com;lr>".into()],
        instance: Some("urn:uuid:1".into()),
        reg_id: Some(1),
        source: Source {
            transport: Transport::Tcp,
            remote: "192.0.2.1:5060".parse().unwrap(),
            local: "192.0.2.2:5060".parse().unwrap(),
            flow: None,
        },
        user_agent: Some("phone".into()),
        registered_at: 1_700_000_000,
        updated_at: 1_700_000_000,
    }
}

pub fn every_key_kind_and_q_is_loaded_back_as_stored(backend: &impl Backend) {
    for (q, key) in [
        (None, BindingKey::Contact("sip:alice@192.0.2.1:5060".into())),
        (Some(500), BindingKey::Instance("urn:uuid:1".into())),
        (Some(0), BindingKey::Instance("urn:uuid:2".into())),
        (
            Some(1000),
            BindingKey::Flow {
                instance: "urn:uuid:1".into(),
                reg_id: 1,
            },
        ),
    ] {
        let store = backend.open();
        // One database for the four cases: each starts with no binding.
        store.purge_expired(u64::MAX).unwrap();
        let b = registrar_binding(q, key);
        switchboard_store::validate_binding(&b).unwrap();
        store.apply(&[BindingChange::Upsert(b.clone())]).unwrap();
        assert_eq!(store.load_all().unwrap(), vec![b]);
    }
}

pub fn a_flow_is_not_restored_and_registered_at_comes_back_as_updated_at(backend: &impl Backend) {
    let store = backend.open();
    let mut b = registrar_binding(Some(500), BindingKey::Instance("urn:uuid:1".into()));
    b.source.flow = Some(FlowId(7));
    b.registered_at = 1_699_000_000;
    store.apply(&[BindingChange::Upsert(b.clone())]).unwrap();
    b.source.flow = None;
    b.registered_at = b.updated_at;
    assert_eq!(store.load_all().unwrap(), vec![b]);
}

pub fn subscription(id: &str, source: bool) -> SubscriptionRecord {
    SubscriptionRecord {
        id: id.to_owned(),
        event: "dialog".to_owned(),
        resource: "sip:bob@example.com".to_owned(),
        watcher: "sip:alice@example.com".to_owned(),
        call_id: format!("{id}@watcher"),
        local_tag: id.to_owned(),
        remote_tag: "w-tag".to_owned(),
        remote_target: "sip:alice@192.0.2.7:5060;transport=tcp".to_owned(),
        route_set: if source {
            vec![
                "<sip:edge.example.net;lr>".to_owned(),
                "<sip:core.example.net;lr>".to_owned(),
            ]
        } else {
            Vec::new()
        },
        local_cseq: 41,
        source: source.then(|| (Transport::Tcp, "203.0.113.9:40000".parse().unwrap())),
        list: source,
        active: !source,
        expires_unix: 1_700_003_600,
        version: 7,
    }
}

pub fn publication(etag: &str) -> PublicationRecord {
    PublicationRecord {
        etag: etag.to_owned(),
        aor: "sip:bob@example.com".to_owned(),
        event: "presence".to_owned(),
        content_type: "application/pidf+xml".to_owned(),
        body: "<?xml version=\"1.0\"?>\n<presence entity=\"sip:bob@example.com\">\n\t<tuple id=\"a\"/>\n</presence>\n".to_owned(),
        expires_unix: 1_700_000_900,
    }
}

pub fn message(id: &str, received_unix: u64) -> StoredMessage {
    StoredMessage {
        id: id.to_owned(),
        aor: "sip:bob@example.com".to_owned(),
        from: "\"Alice\" <sip:alice@example.com>;tag=a1".to_owned(),
        to: "<sip:bob@example.com>".to_owned(),
        date: "Sat, 13 Nov 2010 23:29:00 GMT".to_owned(),
        content_type: "text/plain;charset=utf-8".to_owned(),
        // Any bytes: line breaks, a NUL, non-UTF-8.
        body: b"hello\r\n\0\xff bob".to_vec(),
        received_unix,
    }
}

pub fn every_kind() -> Vec<StateChange> {
    vec![
        StateChange::PutSubscription(subscription("s1", true)),
        StateChange::PutSubscription(subscription("s2", false)),
        StateChange::PutPublication(publication("e1")),
        StateChange::PutMessage(message("m2", 1_700_000_100)),
        StateChange::PutMessage(message("m1", 1_700_000_050)),
        // Same second as m2, stored later: after it.
        StateChange::PutMessage(message("m3", 1_700_000_100)),
    ]
}

pub fn expected() -> StoredState {
    StoredState {
        subscriptions: vec![subscription("s1", true), subscription("s2", false)],
        publications: vec![publication("e1")],
        messages: vec![
            message("m1", 1_700_000_050),
            message("m2", 1_700_000_100),
            message("m3", 1_700_000_100),
        ],
        dialogs: Vec::new(),
    }
}

pub fn every_record_kind_round_trips_and_survives_reopen(backend: &impl Backend) {
    {
        let store = backend.open();
        assert_eq!(store.load_state().unwrap(), StoredState::default());
        store.apply_state(&every_kind()).unwrap();
        assert_eq!(store.load_state().unwrap(), expected());
    }
    let store = backend.open();
    assert_eq!(store.load_state().unwrap(), expected());

    // A put replaces the record with the same key (a message keeps its
    // place in the order); removes take records away.
    let mut refreshed = subscription("s1", true);
    refreshed.local_cseq = 42;
    refreshed.version = 8;
    let mut changed = message("m1", 1_700_000_050);
    changed.body = b"edited".to_vec();
    store
        .apply_state(&[
            StateChange::PutSubscription(refreshed.clone()),
            StateChange::RemoveSubscription { id: "s2".into() },
            StateChange::RemovePublication { etag: "e1".into() },
            StateChange::PutMessage(changed.clone()),
            StateChange::RemoveMessage { id: "m2".into() },
            // Removing what is not there is no error.
            StateChange::RemoveMessage { id: "nope".into() },
        ])
        .unwrap();
    assert_eq!(
        store.load_state().unwrap(),
        StoredState {
            subscriptions: vec![refreshed],
            publications: Vec::new(),
            messages: vec![changed, message("m3", 1_700_000_100)],
            dialogs: Vec::new(),
        }
    );
}

pub fn the_committer_writes_bindings_and_state_together_durably(backend: &impl Backend) {
    let committer = GroupCommitter::start(backend.open(), CommitterConfig::default()).unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    let mut bindings = Vec::new();
    for id in 0..50_u64 {
        let b = binding(
            &format!("sip:u{id}@example.com"),
            &format!("sip:u{id}@192.0.2.1:{}", 6000 + id),
            id,
        );
        bindings.push(b.clone());
        let done = done_tx.clone();
        committer
            .submit_with(vec![BindingChange::Upsert(b)], move |r| {
                done.send(r).unwrap();
            })
            .unwrap();
        let done = done_tx.clone();
        committer
            .submit_state_with(
                vec![StateChange::PutMessage(message(&format!("m{id:02}"), id))],
                move |r| done.send(r).unwrap(),
            )
            .unwrap();
    }
    for _ in 0..100 {
        done_rx.recv().unwrap().unwrap();
    }
    // Refused before queuing: the callback is never called.
    let err = committer
        .submit_state_with(
            vec![StateChange::RemoveMessage { id: String::new() }],
            |_| panic!("not queued"),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)));
    let stats = committer.stats();
    assert_eq!((stats.groups, stats.changes), (100, 100));
    assert!(stats.commits <= 100);
    committer.shutdown().unwrap();

    let store = backend.open();
    let mut loaded = store.load_all().unwrap();
    loaded.sort_by_key(|b| b.expires_at);
    assert_eq!(loaded, bindings);
    let ids: Vec<String> = store
        .load_state()
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.id)
        .collect();
    let expected: Vec<String> = (0..50).map(|id| format!("m{id:02}")).collect();
    assert_eq!(ids, expected, "oldest first");
}

pub fn record(id: &str, start_ms: u64) -> CallRecord {
    CallRecord {
        id: format!("{id};from-tag"),
        call_id: id.to_owned(),
        caller: "sip:alice@example.com".to_owned(),
        caller_user: Some("alice@example.com".to_owned()),
        callee: "sip:bob@example.com".to_owned(),
        dialled: "sip:bob@example.com".to_owned(),
        routed_number: Some("bob".to_owned()),
        rule: Some("internal".to_owned()),
        target: Some("user:bob".to_owned()),
        trunk: None,
        gateway: None,
        source: "udp 192.0.2.1:5060".to_owned(),
        start_ms,
        answer_ms: None,
        end_ms: Some(start_ms + 3_000),
        disposition: Disposition::Busy,
        status: Some(486),
        hangup: None,
        media: None,
    }
}

pub fn answered(id: &str, start_ms: u64) -> CallRecord {
    CallRecord {
        trunk: Some("carrier".to_owned()),
        gateway: Some("sip:gw1.example.net".to_owned()),
        answer_ms: Some(start_ms + 2_000),
        end_ms: None,
        disposition: Disposition::Answered,
        status: Some(200),
        caller_user: None,
        routed_number: None,
        rule: None,
        target: None,
        ..record(id, start_ms)
    }
}

pub fn records_round_trip_are_updated_by_id_and_read_by_start_time(backend: &impl Backend) {
    let store = backend.open();
    let call = answered("c1", 1_000_000);
    store
        .apply_state(&[
            StateChange::PutCallRecord(record("c2", 2_000_000)),
            StateChange::PutCallRecord(call.clone()),
            StateChange::PutCallRecord(record("c3", 3_000_000)),
        ])
        .unwrap();
    // The end of the answered call replaces the row written at answer.
    let ended = CallRecord {
        end_ms: Some(1_062_500),
        hangup: Some(HangupSide::Callee),
        ..call
    };
    store
        .apply_state(&[StateChange::PutCallRecord(ended.clone())])
        .unwrap();
    drop(store);

    let store = backend.open();
    let all = store.call_records(&RecordQuery::default()).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0], ended, "oldest first, every field back");
    assert_eq!(all[0].duration_ms(), Some(60_500));
    assert_eq!(all[1], record("c2", 2_000_000));

    let window = store
        .call_records(&RecordQuery {
            since_ms: Some(2_000_000),
            until_ms: Some(3_000_000),
            limit: None,
        })
        .unwrap();
    assert_eq!(
        window,
        vec![record("c2", 2_000_000)],
        "since inclusive, until exclusive"
    );
    let first_two = store
        .call_records(&RecordQuery {
            limit: Some(2),
            ..RecordQuery::default()
        })
        .unwrap();
    assert_eq!(first_two.len(), 2);
    assert_eq!(first_two[1].call_id, "c2");
}

pub fn a_relayed_calls_media_counters_round_trip_and_others_have_none(backend: &impl Backend) {
    let store = backend.open();
    let relayed = CallRecord {
        media: Some(Box::new(CallMedia {
            caller: MediaLeg {
                packets_in: 1_500,
                bytes_in: 258_000,
                packets_out: 1_480,
                bytes_out: 254_560,
                lost: Some(3),
                jitter: Some(160),
            },
            // No RTCP from the callee, and nothing it sent came through.
            callee: MediaLeg {
                packets_out: 1_500,
                bytes_out: 258_000,
                ..MediaLeg::default()
            },
        })),
        ..answered("relayed", 1_000)
    };
    store
        .apply_state(&[
            StateChange::PutCallRecord(relayed.clone()),
            StateChange::PutCallRecord(answered("direct", 2_000)),
        ])
        .unwrap();
    drop(store);
    let store = backend.open();
    let all = store.call_records(&RecordQuery::default()).unwrap();
    assert_eq!(all, vec![relayed, answered("direct", 2_000)]);
    assert_eq!(all[1].media, None, "media flowed between the parties");
}

pub fn retention_deletes_only_records_that_started_before(backend: &impl Backend) {
    let store = backend.open();
    let changes: Vec<StateChange> = (1..=5)
        .map(|i| StateChange::PutCallRecord(record(&format!("c{i}"), i * 1_000)))
        .collect();
    store.apply_state(&changes).unwrap();
    store
        .apply_state(&[StateChange::RemoveCallRecordsBefore { start_ms: 3_000 }])
        .unwrap();
    let left: Vec<u64> = store
        .call_records(&RecordQuery::default())
        .unwrap()
        .into_iter()
        .map(|r| r.start_ms)
        .collect();
    assert_eq!(left, vec![3_000, 4_000, 5_000]);
}

pub fn a_bad_record_is_refused_and_nothing_of_its_submission_is_written(backend: &impl Backend) {
    let store = backend.open();
    let bad = CallRecord {
        caller: "sip:evil\r\nX: y@example.com".to_owned(),
        ..record("bad", 5)
    };
    let err = store
        .apply_state(&[
            StateChange::PutCallRecord(record("good", 4)),
            StateChange::PutCallRecord(bad),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err:?}");
    assert!(
        store
            .call_records(&RecordQuery::default())
            .unwrap()
            .is_empty()
    );
}

pub fn the_committer_writes_records_durably(backend: &impl Backend) {
    let committer = GroupCommitter::start(backend.open(), CommitterConfig::default()).unwrap();
    // One submission of twenty records: one transaction, one fsync.
    let changes = (0..20_u64)
        .map(|i| StateChange::PutCallRecord(record(&format!("c{i:02}"), i)))
        .collect();
    let ticket = committer.submit_any(Submission::State(changes)).unwrap();
    ticket.wait().unwrap();
    committer.shutdown().unwrap();
    let store = backend.open();
    assert_eq!(
        store.call_records(&RecordQuery::default()).unwrap().len(),
        20
    );
}

pub fn directory_user(name: &str, password: &str) -> User {
    User {
        name: name.into(),
        domain: "example.com".into(),
        ha1: Ha1Set::from_password(name, "example.com", password),
        created_unix: 1,
        groups: Vec::new(),
    }
}

/// What the server holds: the directory read at start, kept up to date
/// by the changes since its version (as the runtime does).
pub struct Users(UserDirectory);

/// What the directory holds of one user.
pub struct Held {
    pub ha1: Ha1Set,
}

impl Users {
    fn read(store: &AnyStore) -> Self {
        Self(store.user_directory().unwrap())
    }

    /// True when the users changed since the version held.
    fn refresh(&mut self, store: &AnyStore) -> bool {
        match store.user_changes_since(self.0.version()).unwrap() {
            Some(delta) => self.0.apply(delta),
            None => {
                *self = Self::read(store);
                true
            }
        }
    }

    fn get(&self, name: &str, domain: &str) -> Option<Held> {
        self.0
            .ha1(name, domain)
            .map(|ha1| Held { ha1: ha1.clone() })
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

pub fn the_directory_reloads_only_when_users_change(backend: &impl Backend) {
    let server = backend.open();
    server.add_user(&directory_user("alice", "a")).unwrap();
    let mut users = Users::read(&server);
    assert_eq!(users.len(), 1);
    let alice = users.get("alice", "example.com").unwrap();
    assert_eq!(
        alice.ha1,
        Ha1Set::from_password("alice", "example.com", "a")
    );
    assert!(users.get("alice", "other.com").is_none());
    assert!(users.get("bob", "example.com").is_none());
    assert!(!users.refresh(&server), "nothing changed");

    // Bindings written by the server do not touch the users.
    server
        .apply(&[BindingChange::Upsert(binding(
            "sip:alice@example.com",
            "sip:a@192.0.2.1",
            1,
        ))])
        .unwrap();
    assert!(!users.refresh(&server));

    // Another process adds, changes and removes users.
    let cli = backend.open();
    cli.add_user(&directory_user("bob", "b")).unwrap();
    assert!(users.refresh(&server));
    assert_eq!(users.len(), 2);
    assert!(users.get("bob", "example.com").is_some());

    let new = Ha1Set::from_password("alice", "example.com", "new");
    cli.set_ha1("alice", "example.com", &new).unwrap();
    assert!(users.refresh(&server));
    assert_eq!(users.get("alice", "example.com").unwrap().ha1, new);

    cli.remove_user("bob", "example.com").unwrap();
    assert!(users.refresh(&server));
    assert!(users.get("bob", "example.com").is_none());
    assert_eq!(users.len(), 1);
    assert!(!users.refresh(&server));
}

pub fn upsert(id: u64) -> BindingChange {
    let (aor, contact) = numbered(id);
    BindingChange::Upsert(binding(&aor, &contact, id))
}

pub fn concurrent_submits_are_all_acknowledged_and_present_after_reopen(backend: &impl Backend) {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 250;
    let committer =
        Arc::new(GroupCommitter::start(backend.open(), CommitterConfig::default()).unwrap());
    let started = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let committer = Arc::clone(&committer);
            thread::spawn(move || {
                let (done_tx, done_rx) = mpsc::channel();
                for n in 0..PER_THREAD {
                    let id = t * PER_THREAD + n;
                    if t % 2 == 0 {
                        // Blocking ticket.
                        committer.submit(vec![upsert(id)]).unwrap().wait().unwrap();
                    } else {
                        // Callback, as the async server uses it.
                        let done_tx = done_tx.clone();
                        committer
                            .submit_with(vec![upsert(id)], move |result| {
                                done_tx.send(result).unwrap();
                            })
                            .unwrap();
                        done_rx.recv().unwrap().unwrap();
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let elapsed = started.elapsed();
    let stats = committer.stats();
    println!(
        "{} acknowledged upserts from {THREADS} threads in {elapsed:?}: {} commits, \
         up to {} submissions per commit",
        THREADS * PER_THREAD,
        stats.commits,
        stats.max_groups_in_commit
    );
    assert_eq!(stats.groups, THREADS * PER_THREAD);
    assert_eq!(stats.changes, THREADS * PER_THREAD);
    assert_eq!(stats.failed_commits, 0);
    assert_eq!(stats.queued, 0);
    committer.shutdown().unwrap();
    drop(committer);

    let store = backend.open();
    let stored = store.load_all().unwrap();
    assert_eq!(stored.len() as u64, THREADS * PER_THREAD);
    for id in 0..THREADS * PER_THREAD {
        let (aor, contact) = numbered(id);
        let found = store.bindings_for(&super::aor(&aor)).unwrap();
        assert!(
            found.iter().any(|b| *b == binding(&aor, &contact, id)),
            "binding {id} missing"
        );
    }
}

pub fn token(name: &str, fill: char) -> AdminToken {
    AdminToken {
        name: name.into(),
        hash: fill.to_string().repeat(64),
        created: 1_700_000_000,
    }
}

pub fn tokens_are_added_listed_found_and_removed(backend: &impl Backend) {
    let store = backend.open();
    store.add_admin_token(&token("ci", 'a')).unwrap();
    store.add_admin_token(&token("dash", 'b')).unwrap();
    assert_eq!(
        store.admin_tokens().unwrap(),
        vec![token("ci", 'a'), token("dash", 'b')]
    );
    let hash_b = "b".repeat(64);
    assert_eq!(
        store.admin_token_named_by_hash(&hash_b).unwrap().as_deref(),
        Some("dash")
    );
    store.remove_admin_token("dash").unwrap();
    assert_eq!(store.admin_token_named_by_hash(&hash_b).unwrap(), None);
    assert!(matches!(
        store.remove_admin_token("dash"),
        Err(StoreError::NotFound(_))
    ));
}

pub fn a_taken_name_or_a_bad_value_is_refused(backend: &impl Backend) {
    let store = backend.open();
    store.add_admin_token(&token("ci", 'a')).unwrap();
    assert!(matches!(
        store.add_admin_token(&token("ci", 'c')),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.add_admin_token(&token("two words", 'd')),
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        store.add_admin_token(&token("upper", 'E')),
        Err(StoreError::InvalidInput(_))
    ));
}
