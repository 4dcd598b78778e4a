// Tests may unwrap and index: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use switchboard_core::Transport;

use super::*;

const CALL: &str = "call-1@192.0.2.1";
const ALICE_TAG: &str = "a-tag";

fn source(remote: &str) -> Source {
    Source {
        transport: Transport::Udp,
        remote: remote.parse().unwrap(),
        local: "192.0.2.254:5060".parse().unwrap(),
        flow: None,
    }
}

fn alice() -> Aor {
    Aor::new("alice", "example.com").unwrap()
}

fn bob() -> Aor {
    Aor::new("bob", "example.com").unwrap()
}

/// An update of alice's call to bob.
fn update(state: CallPhase, to_tag: Option<&str>) -> CallUpdate {
    CallUpdate {
        call_id: CALL.to_owned(),
        from_tag: ALICE_TAG.to_owned(),
        to_tag: to_tag.map(str::to_owned),
        caller: CallParty {
            display: Some("Alice".to_owned()),
            uri: "sip:alice@example.com".to_owned(),
        },
        callee: CallParty {
            display: None,
            uri: "sip:bob@example.com".to_owned(),
        },
        request_uri: "sip:bob@example.com;user=phone".to_owned(),
        caller_contact: Some("sip:alice@192.0.2.1:5060".to_owned()),
        caller_source: source("192.0.2.1:5060"),
        callee_contact: to_tag.map(|tag| format!("sip:bob@192.0.2.2:5060;fork={tag}")),
        callee_source: to_tag.map(|_| source("192.0.2.2:5060")),
        cseq: 1,
        record_route: Vec::new(),
        state,
    }
}

/// A BYE: from alice (`by_caller`) or from bob's fork `bob_tag`.
fn bye(by_caller: bool, bob_tag: &str) -> CallUpdate {
    let mut u = update(CallPhase::Terminated(CallEnd::Bye), Some(bob_tag));
    if !by_caller {
        u.from_tag = bob_tag.to_owned();
        u.to_tag = Some(ALICE_TAG.to_owned());
    }
    u
}

/// A book with alice's call to bob, then `steps` applied at `t0`.
fn book_with(t0: Instant, steps: &[(CallPhase, Option<&str>)]) -> CallBook {
    let mut book = CallBook::default();
    book.apply(t0, update(CallPhase::Trying, None));
    for (phase, tag) in steps {
        book.apply(t0, update(*phase, *tag));
    }
    book
}

fn states(book: &CallBook, aor: &Aor) -> Vec<DialogState> {
    book.dialogs_of(aor).into_iter().map(|d| d.state).collect()
}

/// Bob's dialogs: his tag and the state of each.
fn bob_tags_and_states(book: &CallBook) -> Vec<(String, DialogState)> {
    book.dialogs_of(&bob())
        .into_iter()
        .map(|d| (d.local_tag.unwrap(), d.state))
        .collect()
}

fn terminated(reason: &str, code: Option<u16>) -> DialogState {
    DialogState::Terminated {
        reason: Some(reason.to_owned()),
        code,
    }
}

#[test]
fn a_call_rings_is_answered_and_hung_up() {
    let t0 = Instant::now();
    let mut book = CallBook::default();
    assert_eq!(
        book.apply(t0, update(CallPhase::Trying, None)),
        [alice(), bob()]
    );

    let bob_view = book.dialogs_of(&bob());
    assert_eq!(bob_view.len(), 1);
    let d = &bob_view[0];
    assert_eq!(d.direction, Direction::Recipient);
    assert_eq!(d.state, DialogState::Trying);
    assert_eq!(d.call_id, CALL);
    assert_eq!(d.local_identity, "sip:bob@example.com");
    assert_eq!(d.local_tag, None);
    assert_eq!(d.remote_identity, "sip:alice@example.com");
    assert_eq!(d.remote_display.as_deref(), Some("Alice"));
    assert_eq!(d.remote_tag.as_deref(), Some(ALICE_TAG));
    assert_eq!(d.remote_target.as_deref(), Some("sip:alice@192.0.2.1:5060"));

    let changed = book.apply(t0, update(CallPhase::Early, Some("b1")));
    assert_eq!(changed, [alice(), bob()]);
    let d = &book.dialogs_of(&bob())[0];
    assert_eq!(d.state, DialogState::Early);
    assert_eq!(d.local_tag.as_deref(), Some("b1"));
    let a = &book.dialogs_of(&alice())[0];
    assert_eq!(a.direction, Direction::Initiator);
    assert_eq!(a.local_tag.as_deref(), Some(ALICE_TAG));
    assert_eq!(a.remote_tag.as_deref(), Some("b1"));
    assert_eq!(a.remote_identity, "sip:bob@example.com");
    assert_ne!(a.id, d.id, "each side's view has its own id");

    book.apply(t0, update(CallPhase::Confirmed, Some("b1")));
    assert_eq!(states(&book, &bob()), [DialogState::Confirmed]);
    let at = book.dialogs_at(&bob(), t0 + Duration::from_secs(42));
    assert_eq!(at[0].duration, Some(42));
    assert_eq!(at[0].id, d.id, "the dialog keeps its id");

    book.apply(t0, bye(true, "b1"));
    assert_eq!(states(&book, &alice()), [terminated("local-bye", None)]);
    assert_eq!(states(&book, &bob()), [terminated("remote-bye", None)]);
    // Reported once: gone at the next change.
    book.purge(t0);
    assert!(book.dialogs_of(&bob()).is_empty());
    assert!(book.is_empty());
}

#[test]
fn the_callee_hanging_up_is_a_remote_bye_for_the_caller() {
    let t0 = Instant::now();
    let mut book = book_with(t0, &[(CallPhase::Confirmed, Some("b1"))]);
    assert_eq!(book.apply(t0, bye(false, "b1")), [alice(), bob()]);
    assert_eq!(states(&book, &alice()), [terminated("remote-bye", None)]);
    assert_eq!(states(&book, &bob()), [terminated("local-bye", None)]);
    // A BYE of another dialog of the same Call-ID changes nothing.
    let mut book = book_with(t0, &[(CallPhase::Confirmed, Some("b1"))]);
    assert!(book.apply(t0, bye(true, "other")).is_empty());
    assert_eq!(states(&book, &bob()), [DialogState::Confirmed]);
}

#[test]
fn forks_ring_each_and_the_losers_end_when_one_answers() {
    let t0 = Instant::now();
    let mut book = book_with(t0, &[(CallPhase::Proceeding, None)]);
    assert_eq!(states(&book, &bob()), [DialogState::Proceeding]);
    book.apply(t0, update(CallPhase::Early, Some("desk")));
    book.apply(t0, update(CallPhase::Early, Some("soft")));
    // An untagged 183 of a third fork adds no dialog.
    book.apply(t0, update(CallPhase::Proceeding, None));
    assert_eq!(
        bob_tags_and_states(&book),
        [
            ("desk".to_owned(), DialogState::Early),
            ("soft".to_owned(), DialogState::Early)
        ]
    );

    book.apply(t0, update(CallPhase::Confirmed, Some("soft")));
    assert_eq!(
        bob_tags_and_states(&book),
        [
            ("desk".to_owned(), terminated("cancelled", None)),
            ("soft".to_owned(), DialogState::Confirmed)
        ]
    );
    book.purge(t0);
    assert_eq!(states(&book, &bob()), [DialogState::Confirmed]);
    // The 487 of the cancelled fork and a late 180 change nothing.
    let end = CallPhase::Terminated(CallEnd::Status(487));
    assert!(book.apply(t0, update(end, Some("desk"))).is_empty());
    assert!(
        book.apply(t0, update(CallPhase::Early, Some("soft")))
            .is_empty()
    );
    assert_eq!(states(&book, &bob()), [DialogState::Confirmed]);
}

#[test]
fn cancelled_rejected_and_timed_out_calls() {
    let t0 = Instant::now();
    let cases = [
        (CallEnd::Cancelled, terminated("cancelled", None)),
        (CallEnd::Status(487), terminated("cancelled", None)),
        (CallEnd::Status(486), terminated("rejected", Some(486))),
        (CallEnd::Status(408), terminated("timeout", None)),
        (CallEnd::Gone, terminated("error", None)),
    ];
    for (end, expected) in cases {
        let mut book = book_with(t0, &[(CallPhase::Early, Some("b1"))]);
        let changed = book.apply(t0, update(CallPhase::Terminated(end), None));
        assert_eq!(changed, [alice(), bob()], "{end:?}");
        assert_eq!(states(&book, &alice()), states(&book, &bob()), "{end:?}");
        assert_eq!(states(&book, &bob()), [expected], "{end:?}");
        book.purge(t0);
        assert!(book.is_empty());
    }
}

#[test]
fn one_fork_rejecting_leaves_the_others_ringing() {
    let t0 = Instant::now();
    let mut book = book_with(
        t0,
        &[
            (CallPhase::Early, Some("desk")),
            (CallPhase::Early, Some("soft")),
        ],
    );
    let busy = CallPhase::Terminated(CallEnd::Status(486));
    book.apply(t0, update(busy, Some("desk")));
    assert_eq!(
        states(&book, &bob()),
        [terminated("rejected", Some(486)), DialogState::Early]
    );
    book.purge(t0);
    assert_eq!(states(&book, &bob()), [DialogState::Early]);
    // A fork's final response before any dialog waits for the call's end.
    let mut book = CallBook::default();
    book.apply(t0, update(CallPhase::Trying, None));
    assert!(book.apply(t0, update(busy, Some("x"))).is_empty());
    assert_eq!(states(&book, &bob()), [DialogState::Trying]);
}

#[test]
fn a_ringing_call_is_picked_up_at_the_callers_device() {
    let t0 = Instant::now();
    let book = book_with(t0, &[(CallPhase::Early, Some("b1"))]);

    // Named from the caller's side (to-tag is the caller's own).
    let target = book.replaces_target(CALL, ALICE_TAG, "b1").unwrap();
    assert_eq!(target.side, Direction::Initiator);
    assert_eq!(target.contact, "sip:alice@192.0.2.1:5060");
    assert_eq!(target.source, source("192.0.2.1:5060"));
    assert!(target.early);
    assert_eq!(
        target.replaces,
        format!("{CALL};to-tag={ALICE_TAG};from-tag=b1")
    );
    // Named from the callee's side, as a BLF phone reads its dialog-info:
    // still the caller (only the UAC of an early dialog takes Replaces),
    // with the tags the caller matches.
    let from_bob = book.replaces_target(CALL, "b1", ALICE_TAG).unwrap();
    assert_eq!(from_bob, target);

    assert_eq!(book.replaces_target(CALL, "nope", ALICE_TAG), None);
    assert_eq!(book.replaces_target(CALL, ALICE_TAG, "nope"), None);
    assert_eq!(book.replaces_target("other", ALICE_TAG, "b1"), None);
}

#[test]
fn an_answered_call_is_replaced_at_the_side_it_is_named_from() {
    let t0 = Instant::now();
    let mut book = book_with(t0, &[(CallPhase::Confirmed, Some("b1"))]);

    let at_bob = book.replaces_target(CALL, "b1", ALICE_TAG).unwrap();
    assert_eq!(at_bob.side, Direction::Recipient);
    assert_eq!(at_bob.contact, "sip:bob@192.0.2.2:5060;fork=b1");
    assert_eq!(at_bob.source, source("192.0.2.2:5060"));
    assert!(!at_bob.early);
    assert_eq!(
        at_bob.replaces,
        format!("{CALL};to-tag=b1;from-tag={ALICE_TAG}")
    );

    let at_alice = book.replaces_target(CALL, ALICE_TAG, "b1").unwrap();
    assert_eq!(at_alice.side, Direction::Initiator);

    book.apply(t0, bye(true, "b1"));
    assert_eq!(book.replaces_target(CALL, "b1", ALICE_TAG), None, "ended");
}

#[test]
fn the_book_is_bounded_and_forgets_stale_calls() {
    let t0 = Instant::now();
    let mut book = CallBook::new(2);
    for (i, answered) in [(1, true), (2, false)] {
        let mut u = update(CallPhase::Trying, None);
        u.call_id = format!("c{i}");
        book.apply(t0, u.clone());
        if answered {
            u.state = CallPhase::Confirmed;
            u.to_tag = Some("b".to_owned());
            book.apply(t0, u);
        }
    }
    let mut third = update(CallPhase::Trying, None);
    third.call_id = "c3".to_owned();
    assert!(book.apply(t0, third.clone()).is_empty(), "full");
    assert_eq!(book.len(), 2);

    // The unanswered call goes after RINGING_IDLE, the answered one stays.
    book.purge(t0 + RINGING_IDLE);
    assert_eq!(book.len(), 1);
    assert_eq!(states(&book, &bob()), [DialogState::Confirmed]);
    assert_eq!(book.apply(t0 + RINGING_IDLE, third.clone()).len(), 2);
    // Still ringing a little before the answered call's end of life.
    let recent = t0 + ANSWERED_IDLE - Duration::from_secs(1);
    third.state = CallPhase::Proceeding;
    assert_eq!(book.apply(recent, third).len(), 2);
    book.purge(t0 + ANSWERED_IDLE);
    assert_eq!(book.len(), 1, "the answered call is gone, the new one not");
    assert_eq!(states(&book, &bob()), [DialogState::Proceeding]);
}

#[test]
fn a_call_to_oneself_shows_both_sides() {
    let t0 = Instant::now();
    let mut book = CallBook::default();
    let mut u = update(CallPhase::Trying, None);
    u.request_uri = "sip:alice@example.com".to_owned();
    assert_eq!(book.apply(t0, u), [alice()]);
    let sides: Vec<_> = book
        .dialogs_of(&alice())
        .into_iter()
        .map(|d| d.direction)
        .collect();
    assert_eq!(sides, [Direction::Initiator, Direction::Recipient]);
}
