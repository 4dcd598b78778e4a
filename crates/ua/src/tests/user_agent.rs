//! The whole user agent on the simulated network: what the front end
//! sees (registration, incoming calls, messages) and the answers the user
//! agent gives by itself.

use std::time::Duration;

use switchboard_core::Transport;
use switchboard_proto::{HeaderName, Message, Method, StatusCode};

use super::harness::{Net, Who};
use crate::{CallEvent, Delivery, EndReason, RegistrationEvent, UaEvent};

const BOB: &str = "sip:bob@127.0.0.1:5070";

fn ended(events: &[CallEvent]) -> Option<&EndReason> {
    events.iter().find_map(|e| match e {
        CallEvent::Ended(r) => Some(r),
        _ => None,
    })
}

fn failed(status: StatusCode) -> EndReason {
    EndReason::Failed {
        status,
        reason: status.canonical_reason().to_owned(),
    }
}

fn registrations(events: &[UaEvent]) -> Vec<RegistrationEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::Registration(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn incoming_call_id(events: &[UaEvent]) -> String {
    events
        .iter()
        .find_map(|e| match e {
            UaEvent::IncomingCall { call_id, .. } => Some(call_id.clone()),
            _ => None,
        })
        .expect("an incoming call was offered")
}

#[test]
fn message_is_delivered_and_reported_to_the_recipient() {
    let mut net = Net::new();
    let id = net.command(Who::A, |ua, ep, now| {
        ua.send_message(now, ep, BOB, "hello bob")
    });
    let id = id.unwrap();
    net.run(Duration::from_millis(100));
    assert!(net.b.other.iter().any(|e| matches!(
        e,
        UaEvent::Message { from, text } if from.contains("sip:alice@127.0.0.1") && text == "hello bob"
    )));
    assert_eq!(
        net.a.other,
        vec![UaEvent::Delivered {
            call_id: id,
            delivery: Delivery {
                status: StatusCode::OK,
                reason: "OK".into()
            }
        }]
    );
}

#[test]
fn a_user_agent_not_answering_is_busy() {
    let mut net = Net::new();
    net.b.ua.set_answering(false);
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    assert_eq!(ended(&net.a.events), Some(&failed(StatusCode::BUSY_HERE)));
    assert!(net.b.events.is_empty() && net.b.other.is_empty());
}

#[test]
fn a_second_call_while_one_is_up_is_busy() {
    let mut net = Net::new();
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    assert!(net.b.call().unwrap().is_confirmed());
    // A second call from alice to bob: bob has one already.
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    let a_ended: Vec<_> = net
        .a
        .events
        .iter()
        .filter(|e| matches!(e, CallEvent::Ended(_)))
        .collect();
    assert_eq!(a_ended, [&CallEvent::Ended(failed(StatusCode::BUSY_HERE))]);
    assert!(net.b.call().unwrap().is_confirmed());
}

/// Alice calls bob, whose front end lets the call wait for `wait`; the
/// network and the Call-ID offered to bob.
fn call_waiting_at_bob(wait: Duration) -> (Net, String) {
    let mut net = Net::new();
    net.b.auto_accept = false;
    net.dial(BOB);
    net.run(wait);
    let id = incoming_call_id(&net.b.other);
    (net, id)
}

#[test]
fn the_front_end_rejects_an_incoming_call() {
    let (mut net, id) = call_waiting_at_bob(Duration::from_millis(100));
    let decline = |net: &mut Net| {
        net.command(Who::B, |ua, ep, now| {
            ua.reject(now, ep, &id, StatusCode::DECLINE)
        })
    };
    decline(&mut net).unwrap();
    net.run(Duration::from_millis(100));
    assert_eq!(ended(&net.a.events), Some(&failed(StatusCode::DECLINE)));
    // It cannot be answered twice.
    assert!(decline(&mut net).is_err());
}

#[test]
fn an_incoming_call_cancelled_before_the_front_end_answers_ends() {
    let (mut net, id) = call_waiting_at_bob(Duration::from_millis(300));
    // Alice's CANCEL (her call sends one only after a 180, which bob's
    // front end never let go out): made from the INVITE she sent.
    let invite = net.sim.capture()[0].bytes.clone();
    let Ok(Message::Request(invite)) = Message::parse_datagram(invite) else {
        panic!("the INVITE parses");
    };
    let h = invite.headers();
    let cancel = format!(
        "CANCEL {BOB} SIP/2.0\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\n\
         CSeq: {} CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        h.get(HeaderName::Via).unwrap(),
        h.get(HeaderName::From).unwrap(),
        h.get(HeaderName::To).unwrap(),
        h.call_id().unwrap(),
        h.cseq().unwrap().seq,
    );
    net.sim.inject(
        net.b.node,
        Transport::Udp,
        net.a.addr,
        cancel.into_bytes().into(),
    );
    net.run(Duration::from_secs(1));
    assert!(net.b.received.contains(&Method::Cancel));
    assert_eq!(net.b.events, [CallEvent::Ended(EndReason::RemoteHangup)]);
    assert!(net.b.ua.call(&id).is_none());
    assert_eq!(
        ended(&net.a.events),
        Some(&failed(StatusCode::REQUEST_TERMINATED))
    );
}

#[test]
fn registers_refreshes_and_unregisters_on_stop() {
    let mut net = Net::new();
    net.b.registrar = Some(60);
    net.a.config_mut().outbound_proxy = Some(net.b.addr);
    net.command(Who::A, |ua, ep, now| ua.register(now, ep, 3600))
        .unwrap();
    net.run(Duration::from_millis(100));
    assert_eq!(
        registrations(&net.a.other),
        [RegistrationEvent::Registered { expires: 60 }]
    );
    // Refreshed at 54 s of the 60 granted, not before.
    net.run(Duration::from_secs(50));
    assert_eq!(registrations(&net.a.other).len(), 1);
    net.run(Duration::from_secs(10));
    assert_eq!(registrations(&net.a.other).len(), 2);
    let registers = |net: &Net| {
        net.b
            .received
            .iter()
            .filter(|m| **m == Method::Register)
            .count()
    };
    assert_eq!(registers(&net), 2);
    net.command(Who::A, |ua, ep, now| ua.stop(now, ep));
    net.run(Duration::from_millis(100));
    assert_eq!(registers(&net), 3);
    assert_eq!(
        registrations(&net.a.other).last(),
        Some(&RegistrationEvent::Unregistered)
    );
    assert!(net.a.ua.registration().unwrap().is_stopped());
}

#[test]
fn stop_without_registration_reports_unregistered_and_hangs_up() {
    let mut net = Net::new();
    net.dial(BOB);
    net.run(Duration::from_secs(1));
    net.command(Who::A, |ua, ep, now| ua.stop(now, ep));
    net.run(Duration::from_millis(100));
    assert_eq!(
        registrations(&net.a.other),
        [RegistrationEvent::Unregistered]
    );
    assert_eq!(ended(&net.a.events), Some(&EndReason::LocalHangup));
    assert_eq!(ended(&net.b.events), Some(&EndReason::RemoteHangup));
}

#[test]
fn commands_on_unknown_calls_are_refused() {
    let mut net = Net::new();
    let hangup = net.command(Who::A, |ua, ep, now| ua.hangup(now, ep, "nope"));
    assert_eq!(hangup, Err(crate::UaError::UnknownCall("nope".into())));
    let hold = net.command(Who::A, |ua, ep, now| ua.hold(now, ep, "nope", true));
    assert!(hold.is_err());
}
