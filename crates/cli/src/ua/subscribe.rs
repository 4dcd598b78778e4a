//! `switchboard subscribe`: subscribes to a user's presence, dialog or
//! reg events and prints one line per NOTIFY until SIGINT/SIGTERM,
//! `--count` or `--duration`; then unsubscribes.

use std::io::Write;
use std::process::ExitCode;

use switchboard_ua::{
    DialogInfo, Notification, NotifyBody, RegInfo, ResourceList, SubscriptionEnd,
    SubscriptionEvent, SubscriptionState,
};

use super::SubscribeArgs;
use super::app::{Msg, Report};
use super::setup::{Flow, Running, Stopping, drive, run_configured};
use crate::{EXIT_FAILURE, Error};

pub(crate) fn subscribe(
    args: SubscribeArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    run_configured(
        &args.ua,
        &args.target,
        args.identity.as_deref(),
        err,
        async |running, _, err| run(&args, running, out, err).await,
    )
}

async fn run(
    args: &SubscribeArgs,
    running: Running,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    running.sender.send(Msg::Subscribe {
        target: args.target.clone(),
        package: args.event.package(),
        expires: args.expires,
    });
    let stopping = Stopping::new(args.duration)?;
    let mut notifies = 0u32;
    let mut ended_badly = false;
    let failed = drive(
        running,
        stopping,
        out,
        err,
        |report, stopping, sender, out, err| {
            let Report::Subscription(event) = report else {
                return Ok(Flow::Go);
            };
            match event {
                SubscriptionEvent::Notified(n) => {
                    writeln!(out, "{}", describe_notification(&args.target, &n))?;
                    notifies = notifies.saturating_add(1);
                    if args.count.is_some_and(|c| notifies >= c) {
                        stopping.request(sender);
                    }
                }
                SubscriptionEvent::Accepted { expires } => {
                    let package = args.event.package();
                    writeln!(
                        err,
                        "subscribed to {package} {} (expires {expires} s)",
                        args.target
                    )?;
                }
                SubscriptionEvent::Retrying {
                    status,
                    reason,
                    retry_in,
                } => {
                    let (secs, code) = (retry_in.as_secs(), status.as_u16());
                    writeln!(err, "subscribing again in {secs} s ({code} {reason})")?;
                }
                SubscriptionEvent::Ended(end) => {
                    writeln!(err, "subscription ended: {end}")?;
                    ended_badly = end != SubscriptionEnd::Unsubscribed;
                    return Ok(Flow::Done);
                }
                _ => {}
            }
            Ok(Flow::Go)
        },
    )
    .await?;
    Ok(if failed || ended_badly {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

/// One line for a NOTIFY: the package, who, and what the body says (the
/// subscription state when it says nothing, and in brackets when it is
/// not active).
pub(crate) fn describe_notification(target: &str, n: &Notification) -> String {
    let state = n.state.to_string();
    let summary = describe_body(target, &n.body, &state);
    let active = matches!(n.state, SubscriptionState::Active { .. });
    let has_body = !matches!(n.body, NotifyBody::Empty | NotifyBody::Other { .. });
    if has_body && !active {
        format!("{} {summary} [{state}]", n.event)
    } else {
        format!("{} {summary}", n.event)
    }
}

/// What `body` says about `target` (or the resource it names); `state`
/// (of the subscription, or of a list's resource) when it says nothing.
fn describe_body(target: &str, body: &NotifyBody, state: &str) -> String {
    match body {
        NotifyBody::Presence(p) => {
            let who = p.entity.as_deref().unwrap_or(target);
            format!("{who} {p}")
        }
        NotifyBody::Dialogs(info) => describe_dialogs(target, info),
        NotifyBody::Registrations(info) => describe_registrations(target, info),
        NotifyBody::List(list) => describe_list(list),
        NotifyBody::Other { content_type } => format!("{target} {state} ({content_type})"),
        NotifyBody::Empty => format!("{target} {state}"),
        other => format!("{target} {other:?}"),
    }
}

/// `list sip:alice-blf@...: sip:bob@... idle; sip:carol@... early ...`:
/// each resource as its own document says, or its state.
fn describe_list(list: &ResourceList) -> String {
    let resources: Vec<String> = list
        .resources
        .iter()
        .map(|r| describe_body(&r.uri, &r.body, &r.state))
        .collect();
    format!("list {}: {}", list.uri, resources.join("; "))
}

/// `sip:bob@... early recipient from sip:alice@... call-id=...`, one
/// part per dialog joined by `; `, or `idle`.
fn describe_dialogs(target: &str, info: &DialogInfo) -> String {
    let who = info.entity.as_deref().unwrap_or(target);
    if info.dialogs.is_empty() {
        return format!("{who} idle");
    }
    let parts: Vec<String> = info
        .dialogs
        .iter()
        .map(|d| {
            let mut line = d.state.clone();
            if let Some(direction) = &d.direction {
                line.push(' ');
                line.push_str(direction);
            }
            if let Some(remote) = &d.remote {
                let word = if d.direction.as_deref() == Some("initiator") {
                    "to"
                } else {
                    "from"
                };
                line.push_str(&format!(" {word} {remote}"));
            }
            if let Some(call_id) = &d.call_id {
                line.push_str(&format!(" call-id={call_id}"));
            }
            line
        })
        .collect();
    format!("{who} {}", parts.join("; "))
}

/// `sip:bob@... active 2 contacts`, one part per address joined by `; `.
fn describe_registrations(target: &str, info: &RegInfo) -> String {
    if info.registrations.is_empty() {
        return format!("{target} none");
    }
    let parts: Vec<String> = info
        .registrations
        .iter()
        .map(|r| {
            let n = r.active_contacts();
            let noun = if n == 1 { "contact" } else { "contacts" };
            format!("{} {} {n} {noun}", r.aor, r.state)
        })
        .collect();
    parts.join("; ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failure is a bug in the test
mod tests {
    use super::*;
    use switchboard_ua::{ContactSummary, DialogSummary, Presence, RegistrationSummary};

    fn notification(state: SubscriptionState, event: &str, body: NotifyBody) -> Notification {
        Notification {
            event: event.into(),
            state,
            body,
        }
    }

    const ACTIVE: SubscriptionState = SubscriptionState::Active { expires: None };

    #[test]
    fn one_line_per_package() {
        let mut p = Presence::from_status("open").with_note(Some("at lunch".into()));
        p.entity = Some("sip:bob@example.com".into());
        assert_eq!(
            describe_notification(
                "sip:bob@x",
                &notification(ACTIVE, "presence", NotifyBody::Presence(p))
            ),
            r#"presence sip:bob@example.com open note="at lunch""#
        );
        let dialog = DialogSummary {
            id: "d".into(),
            call_id: Some("c1".into()),
            state: "early".into(),
            direction: Some("recipient".into()),
            remote: Some("sip:alice@example.com".into()),
            remote_display: None,
        };
        let info = DialogInfo {
            entity: Some("sip:bob@example.com".into()),
            version: Some(1),
            full: true,
            dialogs: vec![dialog],
        };
        assert_eq!(
            describe_notification(
                "sip:bob@x",
                &notification(ACTIVE, "dialog", NotifyBody::Dialogs(info))
            ),
            "dialog sip:bob@example.com early recipient from sip:alice@example.com call-id=c1"
        );
        let contact = |uri: &str| ContactSummary {
            id: uri.into(),
            uri: uri.into(),
            state: "active".into(),
        };
        let reg = RegInfo {
            version: Some(0),
            full: true,
            registrations: vec![RegistrationSummary {
                aor: "sip:bob@example.com".into(),
                state: "active".into(),
                contacts: vec![contact("sip:bob@192.0.2.1"), contact("sip:bob@192.0.2.2")],
            }],
        };
        assert_eq!(
            describe_notification(
                "sip:bob@x",
                &notification(ACTIVE, "reg", NotifyBody::Registrations(reg))
            ),
            "reg sip:bob@example.com active 2 contacts"
        );
        let ended = SubscriptionState::Terminated {
            reason: Some("timeout".into()),
        };
        assert_eq!(
            describe_notification(
                "sip:bob@x",
                &notification(ended, "presence", NotifyBody::Empty)
            ),
            "presence sip:bob@x terminated;reason=timeout"
        );
    }
}
