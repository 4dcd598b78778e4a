//! The dialog event package's document (RFC 4235), summarised: each
//! dialog's state, direction and remote party.

use super::xml::XmlElement;

/// The dialog-info media type.
pub const DIALOG_INFO: &str = "application/dialog-info+xml";

/// One dialog of a dialog-info document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialogSummary {
    /// The `id` attribute.
    pub id: String,
    /// The call's Call-ID, when given.
    pub call_id: Option<String>,
    /// `trying`, `proceeding`, `early`, `confirmed` or `terminated`.
    pub state: String,
    /// `initiator` (the watched user called) or `recipient`.
    pub direction: Option<String>,
    /// The remote party's identity (caller ID), as written.
    pub remote: Option<String>,
    /// The remote identity's display name.
    pub remote_display: Option<String>,
}

/// A dialog-info document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialogInfo {
    /// The watched address.
    pub entity: Option<String>,
    /// The version counter.
    pub version: Option<u32>,
    /// `full` or `partial`.
    pub full: bool,
    /// The dialogs (none when the user is idle).
    pub dialogs: Vec<DialogSummary>,
}

impl DialogInfo {
    /// Reads a dialog-info document; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let root = XmlElement::parse(text)?;
        if root.name != "dialog-info" {
            return None;
        }
        let dialogs = root
            .children_named("dialog")
            .map(|d| {
                let remote = d.child("remote").and_then(|r| r.child("identity"));
                DialogSummary {
                    id: d.attribute("id").unwrap_or_default().to_owned(),
                    call_id: d.attribute("call-id").map(str::to_owned),
                    state: d
                        .child("state")
                        .and_then(XmlElement::trimmed_text)
                        .unwrap_or_default(),
                    direction: d.attribute("direction").map(str::to_owned),
                    remote: remote.and_then(XmlElement::trimmed_text),
                    remote_display: remote.and_then(|i| i.attribute("display").map(str::to_owned)),
                }
            })
            .collect();
        Some(Self {
            entity: root.attribute("entity").map(str::to_owned),
            version: root.attribute("version").and_then(|v| v.parse().ok()),
            full: root.attribute("state") == Some("full"),
            dialogs,
        })
    }
}
