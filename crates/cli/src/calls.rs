//! `switchboard calls` (the calls in progress, one per line) and
//! `switchboard calls hangup CALL-ID`, through the admin API.

use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

use switchboard_admin::{Call, HungUp};

use crate::Error;
use crate::admin_client::call;

/// `switchboard calls`.
pub(crate) fn list(
    url: &str,
    token: Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    call(
        url,
        token,
        ("GET", "/api/v1/calls"),
        out,
        err,
        |calls: &Vec<Call>, out| print_calls(calls, out),
    )
}

/// `switchboard calls hangup CALL-ID`.
pub(crate) fn hang_up(
    url: &str,
    token: Option<String>,
    call_id: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let path = format!("/api/v1/calls/{}", path_segment(call_id));
    call(
        url,
        token,
        ("DELETE", &path),
        out,
        err,
        |done: &HungUp, out| {
            let how = if done.action == "cancel" {
                "cancelled (the caller gets 487)"
            } else {
                "ended (BYE sent to both parties)"
            };
            writeln!(out, "call {} {how}", done.call_id)
        },
    )
}

/// One line per call: Call-ID, state, duration, caller and callee (user
/// and devices), the rule and trunk when the plan routed it.
fn print_calls(calls: &[Call], out: &mut dyn Write) -> std::io::Result<()> {
    if calls.is_empty() {
        return writeln!(out, "no calls in progress");
    }
    for c in calls {
        let secs = c.duration_ms / 1000;
        let mut line = format!(
            "{} {} {}:{:02}:{:02} {} -> {}",
            c.call_id,
            c.state,
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            party(&c.caller),
            party(&c.callee),
        );
        if let Some(rule) = &c.rule {
            let _ = write!(line, " rule {rule}");
        }
        if let Some(trunk) = &c.trunk {
            let _ = write!(line, " trunk {trunk}");
        }
        if let Some(media) = &c.media {
            let _ = write!(
                line,
                " relay caller {} callee {}",
                media_leg(&media.caller),
                media_leg(&media.callee)
            );
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `30000 in 1500 out 0`: the relay's ports of one party's leg, the
/// packets it sent in and those sent to it (0 out: it hears nothing).
fn media_leg(leg: &switchboard_admin::CallMediaLeg) -> String {
    let ports: Vec<String> = leg.relay_ports.iter().map(u16::to_string).collect();
    format!(
        "{} in {} out {}",
        ports.join(","),
        leg.packets_in,
        leg.packets_out
    )
}

/// `alice@example.com [sip:alice@192.0.2.1:5070]`.
fn party(p: &switchboard_admin::CallParty) -> String {
    let who = p.user.as_deref().unwrap_or(&p.uri);
    if p.devices.is_empty() {
        who.to_owned()
    } else {
        format!("{who} [{}]", p.devices.join(" "))
    }
}

/// A Call-ID as one path segment: every byte but the unreserved ones
/// percent-encoded (Call-IDs hold '@', '/', '%' and more).
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use super::*;
    use switchboard_admin::{CallMedia, CallMediaLeg, CallParty};

    #[test]
    fn a_call_id_is_one_encoded_path_segment() {
        assert_eq!(
            path_segment("a84b4c76@pc33.example.com"),
            "a84b4c76%40pc33.example.com"
        );
        assert_eq!(path_segment("x/y%z"), "x%2Fy%25z");
    }

    #[test]
    fn each_call_is_one_line_with_its_state_duration_and_parties() {
        let call = Call {
            call_id: "c1@example".into(),
            caller: CallParty {
                uri: "sip:alice@example.com".into(),
                display: None,
                user: Some("alice@example.com".into()),
                devices: vec!["sip:alice@192.0.2.1:5070".into()],
            },
            callee: CallParty {
                uri: "sip:+15551234@example.com".into(),
                display: None,
                user: None,
                devices: vec![],
            },
            dialled: "sip:+15551234@example.com".into(),
            state: "confirmed".into(),
            start_ms: 0,
            answer_ms: Some(1000),
            duration_ms: 3_725_000,
            rule: Some("national".into()),
            trunk: Some("carrier".into()),
            media: None,
        };
        let mut out = Vec::new();
        print_calls(&[call], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "c1@example confirmed 1:02:05 alice@example.com [sip:alice@192.0.2.1:5070] -> sip:+15551234@example.com rule national trunk carrier\n"
        );
        let mut out = Vec::new();
        print_calls(&[], &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "no calls in progress\n");
    }

    #[test]
    fn a_relayed_call_shows_each_legs_relay_port_and_packets() {
        let leg = |port, packets_in, packets_out| CallMediaLeg {
            relay_ports: vec![port],
            packets_in,
            bytes_in: packets_in * 172,
            packets_out,
            bytes_out: packets_out * 172,
            lost: None,
            jitter: None,
        };
        let call = Call {
            call_id: "c2@example".into(),
            caller: CallParty {
                uri: "sip:alice@example.com".into(),
                display: None,
                user: None,
                devices: vec![],
            },
            callee: CallParty {
                uri: "sip:bob@example.com".into(),
                display: None,
                user: None,
                devices: vec![],
            },
            dialled: "sip:bob@example.com".into(),
            state: "confirmed".into(),
            start_ms: 0,
            answer_ms: Some(0),
            duration_ms: 30_000,
            rule: None,
            trunk: None,
            media: Some(CallMedia {
                caller: leg(30_000, 1_500, 0),
                callee: leg(30_002, 0, 1_500),
            }),
        };
        let mut out = Vec::new();
        print_calls(&[call], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "c2@example confirmed 0:00:30 sip:alice@example.com -> sip:bob@example.com relay caller 30000 in 1500 out 0 callee 30002 in 0 out 1500\n"
        );
    }
}
