use std::time::Duration;

use switchboard_proto::sdp::Direction;
use switchboard_proto::{Method, StatusCode};

use super::harness::{Net, Who};
use crate::{CallEvent, EndReason, SrtpPolicy};

const BOB: &str = "sip:bob@127.0.0.1:5070";

fn answered(events: &[CallEvent]) -> Option<&crate::Negotiated> {
    events.iter().find_map(|e| match e {
        CallEvent::Answered(n) => Some(n),
        _ => None,
    })
}

fn ended(events: &[CallEvent]) -> Option<&EndReason> {
    events.iter().find_map(|e| match e {
        CallEvent::Ended(r) => Some(r),
        _ => None,
    })
}

#[test]
fn call_rings_answers_with_srtp_and_caller_hangs_up() {
    let mut net = Net::new();
    net.dial(BOB);
    net.run(Duration::from_millis(100));
    // 180 at once, no answer before the delay.
    assert!(net.a.events.contains(&CallEvent::Ringing));
    assert!(net.b.events.contains(&CallEvent::Ringing));
    assert!(answered(&net.a.events).is_none());
    net.run(Duration::from_millis(600));
    let na = answered(&net.a.events).expect("caller answered").clone();
    let nb = answered(&net.b.events).expect("callee answered").clone();
    assert_eq!(na.remote_rtp.port(), 15070);
    assert_eq!(nb.remote_rtp.port(), 15060);
    let (ka, kb) = (na.srtp.unwrap(), nb.srtp.unwrap());
    assert_eq!(
        (ka.local.as_str(), ka.remote.as_str()),
        (kb.remote.as_str(), kb.local.as_str())
    );
    assert!(net.a.call().unwrap().is_confirmed());
    assert!(net.b.received.contains(&Method::Ack));
    // Bob's 200 is not retransmitted once the ACK came: run long.
    net.run(Duration::from_secs(40));
    assert_eq!(
        net.b.received.iter().filter(|m| **m == Method::Ack).count(),
        1
    );
    net.hangup(Who::A);
    net.run(Duration::from_millis(100));
    assert_eq!(ended(&net.a.events), Some(&EndReason::LocalHangup));
    assert_eq!(ended(&net.b.events), Some(&EndReason::RemoteHangup));
}

#[test]
fn callee_hangs_up_with_bye() {
    let mut net = Net::new();
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    net.hangup(Who::B);
    net.run(Duration::from_millis(100));
    assert_eq!(net.a.received.last(), Some(&Method::Bye));
    assert_eq!(ended(&net.a.events), Some(&EndReason::RemoteHangup));
    assert_eq!(ended(&net.b.events), Some(&EndReason::LocalHangup));
}

#[test]
fn proxy_challenge_is_answered_once() {
    let mut net = Net::new();
    net.b.challenge = true;
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    assert_eq!(net.b.challenges, 1);
    assert!(answered(&net.a.events).is_some());
    // Wrong password: challenged twice, then the call fails with 407.
    let mut net = Net::new();
    net.b.challenge = true;
    net.a.config_mut().credentials.as_mut().unwrap().password = "nope".into();
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    assert_eq!(net.b.challenges, 2);
    assert_eq!(
        ended(&net.a.events),
        Some(&EndReason::Failed {
            status: StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            reason: "Proxy Authentication Required".into()
        })
    );
}

#[test]
fn challenged_bye_is_answered() {
    let mut net = Net::new();
    net.b.challenge_bye = true;
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    net.hangup(Who::A);
    net.run(Duration::from_millis(200));
    assert_eq!(net.b.challenges, 1);
    assert_eq!(
        net.b.received.iter().filter(|m| **m == Method::Bye).count(),
        2
    );
    assert_eq!(ended(&net.a.events), Some(&EndReason::LocalHangup));
    assert_eq!(ended(&net.b.events), Some(&EndReason::RemoteHangup));
}

#[test]
fn cancel_while_ringing() {
    let mut net = Net::new();
    net.b.answer_delay = Duration::from_secs(30);
    net.dial(BOB);
    net.run(Duration::from_millis(200));
    net.hangup(Who::A);
    net.run(Duration::from_secs(1));
    assert!(net.b.received.contains(&Method::Cancel));
    assert_eq!(ended(&net.b.events), Some(&EndReason::RemoteHangup));
    assert_eq!(ended(&net.a.events), Some(&EndReason::LocalHangup));
    assert!(answered(&net.a.events).is_none());
}

#[test]
fn hangup_before_any_provisional_cancels_once_ringing() {
    let mut net = Net::new();
    net.b.answer_delay = Duration::from_secs(30);
    net.dial(BOB);
    net.hangup(Who::A);
    net.run(Duration::from_secs(1));
    assert!(net.b.received.contains(&Method::Cancel));
    assert_eq!(ended(&net.a.events), Some(&EndReason::LocalHangup));
}

#[test]
fn srtp_mismatch_is_488() {
    let mut net = Net::new();
    net.b.srtp = SrtpPolicy::Off;
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    match ended(&net.a.events) {
        Some(EndReason::Failed { status, .. }) => assert_eq!(status.as_u16(), 488),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ended(&net.b.events),
        Some(EndReason::NotAcceptable(_))
    ));
}

#[test]
fn busy_callee_failure_reports_status_and_reason() {
    let mut net = Net::new();
    net.b.answer_delay = Duration::from_secs(30);
    net.dial(BOB);
    net.run(Duration::from_millis(200));
    // Bob declines.
    net.hangup(Who::B);
    net.run(Duration::from_secs(1));
    assert_eq!(
        ended(&net.a.events),
        Some(&EndReason::Failed {
            status: StatusCode::DECLINE,
            reason: "Decline".into()
        })
    );
}

#[test]
fn nobody_answers_times_out_as_408() {
    let mut net = Net::new();
    net.drop_to_b("INVITE");
    net.dial(BOB);
    net.run(Duration::from_secs(40));
    match ended(&net.a.events) {
        Some(EndReason::Failed { status, .. }) => assert_eq!(status.as_u16(), 408),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hold_and_resume_by_reinvite() {
    let mut net = Net::new();
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    net.hold(Who::A, true).unwrap();
    net.run(Duration::from_millis(200));
    let updated = |events: &[CallEvent]| {
        events
            .iter()
            .filter_map(|e| match e {
                CallEvent::MediaUpdated(n) => Some(n.direction),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(updated(&net.a.events), vec![Direction::SendOnly]);
    assert_eq!(updated(&net.b.events), vec![Direction::RecvOnly]);
    // A second re-INVITE before this one finished is refused by the UA.
    net.hold(Who::A, false).unwrap();
    assert!(net.hold(Who::A, false).is_err());
    net.run(Duration::from_millis(200));
    assert_eq!(
        updated(&net.a.events),
        vec![Direction::SendOnly, Direction::SendRecv]
    );
    assert_eq!(
        updated(&net.b.events),
        vec![Direction::RecvOnly, Direction::SendRecv]
    );
    // Bob holds too: the callee can re-INVITE.
    net.hold(Who::B, true).unwrap();
    net.run(Duration::from_millis(200));
    assert_eq!(updated(&net.a.events).last(), Some(&Direction::RecvOnly));
    assert_eq!(updated(&net.b.events).last(), Some(&Direction::SendOnly));
    // The re-INVITEs were ACKed: 3 ACKs at bob (1 initial + 2), 1 at alice.
    assert_eq!(
        net.b.received.iter().filter(|m| **m == Method::Ack).count(),
        3
    );
    assert_eq!(
        net.a.received.iter().filter(|m| **m == Method::Ack).count(),
        1
    );
}

#[test]
fn session_timer_refreshed_by_the_caller() {
    let mut net = Net::new();
    net.a.config_mut().session_expires = Some(120);
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    assert_eq!(net.a.call().unwrap().session_timer(), Some((120, true)));
    assert_eq!(net.b.call().unwrap().session_timer(), Some((120, false)));
    // Refreshes at half the interval: 60 s, 120 s, 180 s.
    net.run(Duration::from_secs(200));
    let invites = net
        .b
        .received
        .iter()
        .filter(|m| **m == Method::Invite)
        .count();
    assert_eq!(invites, 4, "{:?}", net.b.session_expires);
    assert!(net.b.session_expires.iter().all(|v| v == "120"));
    assert!(ended(&net.a.events).is_none() && ended(&net.b.events).is_none());
    assert!(net.a.call().unwrap().is_confirmed());
}

#[test]
fn session_expires_when_the_refresher_goes_silent() {
    let mut net = Net::new();
    net.a.config_mut().session_expires = Some(120);
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    // Alice's refreshes are lost: bob ends the session at 120 - 32 s.
    net.drop_to_b("INVITE");
    net.run(Duration::from_secs(86));
    assert!(ended(&net.b.events).is_none());
    net.run(Duration::from_secs(3));
    assert_eq!(ended(&net.b.events), Some(&EndReason::SessionExpired));
    net.run(Duration::from_secs(1));
    assert_eq!(ended(&net.a.events), Some(&EndReason::RemoteHangup));
}

#[test]
fn interval_too_small_is_retried_with_min_se() {
    let mut net = Net::new();
    net.a.config_mut().session_expires = Some(100);
    net.b.min_se = Some(300);
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    assert_eq!(
        net.b.session_expires,
        vec!["100".to_owned(), "300".to_owned()]
    );
    assert_eq!(net.a.call().unwrap().session_timer(), Some((300, true)));
    assert!(answered(&net.a.events).is_some());
}

#[test]
fn no_session_timer_when_nobody_asks() {
    let mut net = Net::new();
    net.a.config_mut().session_expires = None;
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    assert_eq!(net.a.call().unwrap().session_timer(), None);
    assert_eq!(net.b.call().unwrap().session_timer(), None);
    net.run(Duration::from_secs(4000));
    assert_eq!(
        net.b
            .received
            .iter()
            .filter(|m| **m == Method::Invite)
            .count(),
        1
    );
}
