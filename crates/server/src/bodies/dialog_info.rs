//! The dialogs of a user for busy-lamp fields (RFC 4235, `Event: dialog`):
//! who calls whom and in which state, with the Call-ID and tags a phone
//! needs to pick a ringing call up with Replaces (RFC 3891).

use std::fmt::Write as _;

use super::xml::{DECLARATION, push_attr, push_text_element};

/// The media type of a dialog-info document.
pub const DIALOG_INFO: &str = "application/dialog-info+xml";

const DIALOG_INFO_NS: &str = "urn:ietf:params:xml:ns:dialog-info";

/// Which side of the call the watched user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The user called (sent the INVITE).
    Initiator,
    /// The user is called.
    Recipient,
}

impl Direction {
    /// The attribute value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initiator => "initiator",
            Self::Recipient => "recipient",
        }
    }

    /// The side an attribute value names.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "initiator" => Some(Self::Initiator),
            "recipient" => Some(Self::Recipient),
            _ => None,
        }
    }
}

/// The state of one dialog (RFC 4235 §3.7.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DialogState {
    /// The INVITE is on its way.
    Trying,
    /// A provisional answer without a To tag.
    Proceeding,
    /// Ringing: a provisional answer with a To tag (an early dialog).
    Early,
    /// Answered.
    Confirmed,
    /// Over.
    Terminated {
        /// The `event` attribute: `cancelled`, `rejected`, `replaced`,
        /// `local-bye`, `remote-bye`, `error` or `timeout`.
        reason: Option<String>,
        /// The final status of a rejected call (`code` attribute).
        code: Option<u16>,
    },
}

impl DialogState {
    /// The element text.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Trying => "trying",
            Self::Proceeding => "proceeding",
            Self::Early => "early",
            Self::Confirmed => "confirmed",
            Self::Terminated { .. } => "terminated",
        }
    }

    /// The state an element text names, with the `event` and `code` of a
    /// terminated one.
    #[must_use]
    pub fn parse(value: &str, reason: Option<String>, code: Option<u16>) -> Option<Self> {
        match value {
            "trying" => Some(Self::Trying),
            "proceeding" => Some(Self::Proceeding),
            "early" => Some(Self::Early),
            "confirmed" => Some(Self::Confirmed),
            "terminated" => Some(Self::Terminated { reason, code }),
            _ => None,
        }
    }

    /// Whether the dialog is over.
    #[must_use]
    pub fn is_terminated(&self) -> bool {
        matches!(self, Self::Terminated { .. })
    }
}

/// One dialog as the watched user sees it: "local" is the user's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogEntry {
    /// Unique among the user's dialogs, the same across NOTIFYs.
    pub id: String,
    /// The call's Call-ID.
    pub call_id: String,
    /// The user's side's tag (None until the callee's side has one).
    pub local_tag: Option<String>,
    /// The other side's tag.
    pub remote_tag: Option<String>,
    /// Which side the user is.
    pub direction: Direction,
    /// The state.
    pub state: DialogState,
    /// The user's URI in the call.
    pub local_identity: String,
    /// The user's display name.
    pub local_display: Option<String>,
    /// The user's device (Contact URI), when known.
    pub local_target: Option<String>,
    /// The other party's URI: the caller ID.
    pub remote_identity: String,
    /// The other party's display name.
    pub remote_display: Option<String>,
    /// The other party's device, when known.
    pub remote_target: Option<String>,
    /// Seconds since the dialog was created, when known.
    pub duration: Option<u64>,
}

/// The dialog-info document of `entity` (its URI): `full` lists all its
/// dialogs, partial only those that changed.
#[must_use]
pub fn dialog_info(entity: &str, version: u32, full: bool, dialogs: &[DialogEntry]) -> String {
    let mut out = String::from(DECLARATION);
    let _ = write!(
        out,
        "<dialog-info xmlns=\"{DIALOG_INFO_NS}\" version=\"{version}\""
    );
    push_attr(&mut out, "state", if full { "full" } else { "partial" });
    push_attr(&mut out, "entity", entity);
    out.push_str(">\n");
    for dialog in dialogs {
        write_dialog(&mut out, dialog);
    }
    out.push_str("</dialog-info>\n");
    out
}

fn write_dialog(out: &mut String, dialog: &DialogEntry) {
    out.push_str("<dialog");
    push_attr(out, "id", &dialog.id);
    push_attr(out, "call-id", &dialog.call_id);
    if let Some(tag) = &dialog.local_tag {
        push_attr(out, "local-tag", tag);
    }
    if let Some(tag) = &dialog.remote_tag {
        push_attr(out, "remote-tag", tag);
    }
    push_attr(out, "direction", dialog.direction.as_str());
    out.push_str(">\n<state");
    if let DialogState::Terminated { reason, code } = &dialog.state {
        if let Some(reason) = reason {
            push_attr(out, "event", reason);
        }
        if let Some(code) = code {
            push_attr(out, "code", &code.to_string());
        }
    }
    let _ = writeln!(out, ">{}</state>", dialog.state.as_str());
    if let Some(duration) = dialog.duration {
        push_text_element(out, "duration", &duration.to_string());
        out.push('\n');
    }
    let sides = [
        (
            "local",
            &dialog.local_identity,
            &dialog.local_display,
            &dialog.local_target,
        ),
        (
            "remote",
            &dialog.remote_identity,
            &dialog.remote_display,
            &dialog.remote_target,
        ),
    ];
    for (name, identity, display, target) in sides {
        write_participant(out, name, identity, display.as_deref(), target.as_deref());
    }
    out.push_str("</dialog>\n");
}

fn write_participant(
    out: &mut String,
    name: &str,
    identity: &str,
    display: Option<&str>,
    target: Option<&str>,
) {
    let _ = write!(out, "<{name}><identity");
    if let Some(display) = display {
        push_attr(out, "display", display);
    }
    out.push('>');
    out.push_str(&super::xml::escape(identity));
    out.push_str("</identity>");
    if let Some(target) = target {
        out.push_str("<target");
        push_attr(out, "uri", target);
        out.push_str("/>");
    }
    let _ = writeln!(out, "</{name}>");
}

#[cfg(test)]
mod tests {
    // Tests may unwrap and index: a panic is a failed test.
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::super::xml::read_back;
    use super::*;

    fn ringing() -> DialogEntry {
        DialogEntry {
            id: "d1".to_owned(),
            call_id: "abc@192.0.2.1".to_owned(),
            local_tag: Some("to-tag".to_owned()),
            remote_tag: Some("from-tag".to_owned()),
            direction: Direction::Recipient,
            state: DialogState::Early,
            local_identity: "sip:bob@example.com".to_owned(),
            local_display: None,
            local_target: Some("sip:bob@192.0.2.2:5060".to_owned()),
            remote_identity: "sip:alice@example.com".to_owned(),
            remote_display: Some("Alice \"A\" <&>\u{1}".to_owned()),
            remote_target: Some("sip:alice@192.0.2.1:5060;transport=udp".to_owned()),
            duration: None,
        }
    }

    #[test]
    fn a_ringing_call_carries_what_pickup_needs() {
        let body = dialog_info("sip:bob@example.com", 5, true, &[ringing()]);
        let elements = read_back(&body);
        let root = &elements[0];
        assert_eq!(
            (root.ns.as_str(), root.local.as_str()),
            (DIALOG_INFO_NS, "dialog-info")
        );
        assert_eq!(root.attr("version"), Some("5"));
        assert_eq!(root.attr("state"), Some("full"));
        assert_eq!(root.attr("entity"), Some("sip:bob@example.com"));
        let dialog = elements.iter().find(|e| e.local == "dialog").unwrap();
        assert_eq!(dialog.attr("call-id"), Some("abc@192.0.2.1"));
        assert_eq!(dialog.attr("local-tag"), Some("to-tag"));
        assert_eq!(dialog.attr("remote-tag"), Some("from-tag"));
        assert_eq!(dialog.attr("direction"), Some("recipient"));
        let state = elements.iter().find(|e| e.local == "state").unwrap();
        assert_eq!(state.text, "early");
        let remote_identity = elements
            .iter()
            .find(|e| e.local == "identity" && e.path.last().unwrap() == "remote")
            .unwrap();
        assert_eq!(remote_identity.text, "sip:alice@example.com");
        assert_eq!(
            remote_identity.attr("display"),
            Some("Alice \"A\" <&>\u{fffd}"),
            "escaped, and a control character XML cannot carry replaced"
        );
        let remote_target = elements
            .iter()
            .find(|e| e.local == "target" && e.path.last().unwrap() == "remote")
            .unwrap();
        assert_eq!(
            remote_target.attr("uri"),
            Some("sip:alice@192.0.2.1:5060;transport=udp")
        );
    }

    #[test]
    fn every_state_is_written() {
        let states = [
            (DialogState::Trying, "trying"),
            (DialogState::Proceeding, "proceeding"),
            (DialogState::Early, "early"),
            (DialogState::Confirmed, "confirmed"),
            (
                DialogState::Terminated {
                    reason: Some("rejected".to_owned()),
                    code: Some(486),
                },
                "terminated",
            ),
        ];
        for (state, text) in states {
            let mut entry = ringing();
            entry.state = state.clone();
            entry.local_tag = None;
            entry.duration = Some(12);
            let elements = read_back(&dialog_info("sip:bob@example.com", 1, false, &[entry]));
            assert_eq!(elements[0].attr("state"), Some("partial"));
            let state_element = elements.iter().find(|e| e.local == "state").unwrap();
            assert_eq!(state_element.text, text);
            let dialog = elements.iter().find(|e| e.local == "dialog").unwrap();
            assert_eq!(dialog.attr("local-tag"), None);
            if state.is_terminated() {
                assert_eq!(state_element.attr("event"), Some("rejected"));
                assert_eq!(state_element.attr("code"), Some("486"));
            }
            let duration = elements.iter().find(|e| e.local == "duration").unwrap();
            assert_eq!(duration.text, "12");
        }
    }

    #[test]
    fn no_dialogs_is_an_idle_lamp() {
        let elements = read_back(&dialog_info("sip:bob@example.com", 0, true, &[]));
        assert_eq!(elements.len(), 1);
    }
}
