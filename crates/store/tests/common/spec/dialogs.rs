//! Dialog records (the calls in progress) on every back end: written and
//! removed through the event-state path and the group committer, loaded
//! at start with the rest, kept across a reopen, refused when unstorable,
//! damaged rows reported.

use switchboard_core::Transport;
use switchboard_store::{
    CallRecord, CarrierLeg, CommitterConfig, DeviceSource, DialogParty, DialogPhase, DialogRecord,
    EventStateStore, GroupCommitter, GroupStore, HangupSide, RecordQuery, RelaySdp, StateChange,
    StoreError, Submission,
};

use super::Backend;

pub fn source(remote: &str) -> DeviceSource {
    DeviceSource {
        transport: Transport::Tcp,
        remote: remote.parse().unwrap(),
        local: "192.0.2.10:5060".parse().unwrap(),
    }
}

/// A call from alice to a carrier through the trunk, translated.
pub fn to_carrier(call_id: &str, start_ms: u64) -> DialogRecord {
    DialogRecord {
        id: DialogRecord::key(call_id, "a1"),
        call_id: call_id.to_owned(),
        caller: DialogParty {
            uri: "sip:alice@example.com".to_owned(),
            display: Some("Alice \"A\" Smith".to_owned()),
            tag: "a1".to_owned(),
            aor: Some("alice@example.com".to_owned()),
            contact: Some("sip:alice@198.51.100.7:40000;transport=tcp".to_owned()),
            source: Some(source("198.51.100.7:40000")),
            cseq: Some(2),
        },
        callee: DialogParty {
            uri: "sip:+4930123@example.com".to_owned(),
            display: None,
            tag: "gw-9".to_owned(),
            aor: None,
            contact: Some("sip:gw@203.0.113.5".to_owned()),
            source: Some(DeviceSource {
                transport: Transport::Udp,
                remote: "[2001:db8::5]:5060".parse().unwrap(),
                local: "[2001:db8::10]:5060".parse().unwrap(),
            }),
            cseq: None,
        },
        dialled: "sip:004930123@example.com".to_owned(),
        route_set: vec![
            "<sip:203.0.113.1;lr>".to_owned(),
            "<sip:192.0.2.10;lr;transport=tcp>".to_owned(),
        ],
        phase: DialogPhase::Confirmed,
        start_ms,
        answer_ms: Some(start_ms + 4_000),
        updated_ms: start_ms + 4_000,
        caller_user: Some("alice@example.com".to_owned()),
        routed_number: Some("+4930123".to_owned()),
        rule: Some("national".to_owned()),
        target: Some("trunk:carrier".to_owned()),
        trunk: Some("carrier".to_owned()),
        gateway: Some("sip:gw1.example.net".to_owned()),
        carrier_leg: Some(CarrierLeg {
            call_id: "carrier-77".to_owned(),
            cseq_delta: 1,
        }),
        // Anchored on the media relay (and `internal` not): the flag and
        // the SDP round-trip both ways.
        relayed: true,
        relay_sdp: Some(RelaySdp {
            caller_sent: "v=0\r\nm=audio 4000 RTP/AVP 0\r\n".to_owned(),
            callee_sent: "v=0\r\nm=audio 5000 RTP/AVP 0\r\n".to_owned(),
            caller_received: "v=0\r\nm=audio 30000 RTP/AVP 0\r\n".to_owned(),
            callee_received: "v=0\r\nm=audio 30002 RTP/AVP 0\r\n".to_owned(),
        }),
    }
}

/// A call between two local users, nothing optional.
pub fn internal(call_id: &str, start_ms: u64) -> DialogRecord {
    DialogRecord {
        caller: DialogParty {
            display: None,
            aor: None,
            contact: None,
            cseq: None,
            ..to_carrier(call_id, start_ms).caller
        },
        callee: DialogParty {
            source: None,
            contact: None,
            ..to_carrier(call_id, start_ms).callee
        },
        route_set: Vec::new(),
        phase: DialogPhase::Early,
        answer_ms: None,
        caller_user: None,
        routed_number: None,
        rule: None,
        target: None,
        trunk: None,
        gateway: None,
        carrier_leg: None,
        relayed: false,
        relay_sdp: None,
        ..to_carrier(call_id, start_ms)
    }
}

pub fn dialogs_round_trip_are_replaced_removed_and_survive_reopen(backend: &impl Backend) {
    let later = to_carrier("c2", 2_000_000);
    let earlier = internal("c1", 1_000_000);
    {
        let store = backend.open();
        store
            .apply_state(&[
                StateChange::PutDialog(Box::new(later.clone())),
                StateChange::PutDialog(Box::new(earlier.clone())),
            ])
            .unwrap();
        // Oldest call first.
        assert_eq!(
            store.load_state().unwrap().dialogs,
            vec![earlier.clone(), later.clone()]
        );
    }
    let store = backend.open();
    assert_eq!(
        store.load_state().unwrap().dialogs,
        vec![earlier.clone(), later.clone()]
    );

    // A put replaces the record of the same id; a remove takes it away
    // (removing what is not there is no error).
    let mut refreshed = later.clone();
    refreshed.caller.cseq = Some(7);
    refreshed.updated_ms += 60_000;
    store
        .apply_state(&[
            StateChange::PutDialog(Box::new(refreshed.clone())),
            StateChange::RemoveDialog {
                id: earlier.id.clone(),
            },
            StateChange::RemoveDialog { id: "nope".into() },
        ])
        .unwrap();
    assert_eq!(store.load_state().unwrap().dialogs, vec![refreshed.clone()]);
    drop(store);
    let store = backend.open();
    assert_eq!(store.load_state().unwrap().dialogs, vec![refreshed]);
}

pub fn the_committer_writes_and_removes_dialogs_durably(backend: &impl Backend) {
    let committer = GroupCommitter::start(backend.open(), CommitterConfig::default()).unwrap();
    let call = to_carrier("c1", 1_000_000);
    committer
        .submit_any(Submission::State(vec![StateChange::PutDialog(Box::new(
            call.clone(),
        ))]))
        .unwrap()
        .wait()
        .unwrap();
    let reader = backend.open();
    assert_eq!(reader.load_state().unwrap().dialogs, vec![call.clone()]);
    committer
        .submit_any(Submission::State(vec![StateChange::RemoveDialog {
            id: call.id.clone(),
        }]))
        .unwrap()
        .wait()
        .unwrap();
    assert!(reader.load_state().unwrap().dialogs.is_empty());
}

pub fn an_unstorable_dialog_is_refused_and_nothing_is_written(backend: &impl Backend) {
    let store = backend.open();
    let mut no_tag = to_carrier("c1", 1);
    no_tag.callee.tag.clear();
    let mut bad_route = to_carrier("c2", 1);
    bad_route
        .route_set
        .push("<sip:x;lr>\r\nVia: forged".to_owned());
    let mut too_many = to_carrier("c3", 1);
    too_many.route_set = vec!["<sip:x;lr>".to_owned(); 33];
    let mut far = to_carrier("c4", 1);
    far.updated_ms = u64::MAX;
    for bad in [no_tag, bad_route, too_many, far] {
        let err = store
            .apply_state(&[
                StateChange::PutDialog(Box::new(internal("ok", 1))),
                StateChange::PutDialog(Box::new(bad.clone())),
            ])
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidInput(_)),
            "{bad:?}: {err:?}"
        );
        assert!(store.load_state().unwrap().dialogs.is_empty());
    }
    let err = store
        .apply_state(&[StateChange::RemoveDialog { id: String::new() }])
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err:?}");
}

pub fn a_damaged_dialog_row_is_reported_not_a_panic(backend: &impl Backend) {
    let store = backend.open();
    store
        .apply_state(&[StateChange::PutDialog(Box::new(to_carrier("c1", 1_000)))])
        .unwrap();
    for damage in [
        "UPDATE dialogs SET phase = 'ringing-ish'",
        "UPDATE dialogs SET phase = 'confirmed', caller_source = 'pigeon 1.2.3.4:5 1.2.3.4:6'",
        "UPDATE dialogs SET caller_source = 'udp 1.2.3.4:5'",
        "UPDATE dialogs SET caller_source = NULL, callee_cseq = -1",
        "UPDATE dialogs SET callee_cseq = NULL, carrier_delta = NULL",
        "UPDATE dialogs SET carrier_call_id = NULL, start_ms = -1",
    ] {
        backend.execute(damage);
        let err = store.load_state().unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{damage}: {err:?}");
    }
}

/// Many calls' records and dialogs in one commit (the group committer's
/// batch, written by kind at its end on PostgreSQL) read back as the last
/// change of each key, as if applied one by one in order; a submission
/// refused in the batch leaves nothing and takes no other with it.
pub fn a_batch_keeps_the_last_change_of_each_call_and_dialog(backend: &impl Backend) {
    let store = backend.open();
    store
        .apply_state(&[StateChange::PutDialog(Box::new(internal("gone", 1)))])
        .unwrap();
    let answered = super::answered("c1", 1_000_000);
    let ended = CallRecord {
        end_ms: Some(1_060_000),
        hangup: Some(HangupSide::Caller),
        ..answered.clone()
    };
    let other = super::record("c2", 2_000_000);
    let first = to_carrier("c1", 1_000_000);
    let mut refreshed = first.clone();
    refreshed.caller.cseq = Some(7);
    refreshed.updated_ms += 60_000;
    let (removed, readded) = (internal("c2", 2_000_000), internal("c3", 3_000_000));
    let mut untaggable = to_carrier("c4", 4_000_000);
    untaggable.callee.tag.clear();
    let put = |record: &DialogRecord| StateChange::PutDialog(Box::new(record.clone()));
    let remove = |record: &DialogRecord| StateChange::RemoveDialog {
        id: record.id.clone(),
    };
    let submissions = [
        Submission::State(vec![
            StateChange::PutCallRecord(answered),
            put(&first),
            put(&removed),
        ]),
        Submission::State(vec![
            StateChange::PutCallRecord(ended.clone()),
            StateChange::PutCallRecord(other.clone()),
            put(&refreshed),
            remove(&removed),
        ]),
        // Refused: nothing of it is written, the others commit.
        Submission::State(vec![put(&internal("c5", 5_000_000)), put(&untaggable)]),
        Submission::State(vec![remove(&readded), put(&readded)]),
        Submission::State(vec![StateChange::RemoveDialog {
            id: internal("gone", 1).id,
        }]),
    ];
    let results = store
        .apply_submissions(&submissions.iter().collect::<Vec<_>>())
        .unwrap();
    assert_eq!(results.len(), 5);
    assert!(
        matches!(results[2], Err(StoreError::InvalidInput(_))),
        "{results:?}"
    );
    for index in [0, 1, 3, 4] {
        assert!(results[index].is_ok(), "{index}: {results:?}");
    }
    assert_eq!(
        store.call_records(&RecordQuery::default()).unwrap(),
        vec![ended, other]
    );
    assert_eq!(
        store.load_state().unwrap().dialogs,
        vec![refreshed, readded]
    );
}
