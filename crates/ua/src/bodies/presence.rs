//! Presence (RFC 3863 PIDF with RPID, RFC 4480): the status we publish
//! and the summary of a document a watcher receives.

use quick_xml::escape::escape;

use super::xml::XmlElement;

/// The PIDF media type.
pub const PIDF: &str = "application/pidf+xml";

/// A presence status: the PIDF `basic` status, an RPID activity and a
/// note. What a publisher sends and what a watcher reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presence {
    /// The presentity (`entity` of the document), when read from one.
    pub entity: Option<String>,
    /// `open` (`true`) or `closed`; `None` when the document gives none.
    pub open: Option<bool>,
    /// The RPID activity (`away`, `busy`, `on-the-phone`, ...).
    pub activity: Option<String>,
    /// A note for humans.
    pub note: Option<String>,
}

impl Presence {
    /// `open`, `closed`, or a status with an activity: `away` (open and
    /// away), `busy`, ... (any other word is an RPID activity of an open
    /// tuple).
    pub fn from_status(status: &str) -> Self {
        let (open, activity) = match status {
            "open" => (true, None),
            "closed" => (false, None),
            other => (true, Some(other.to_owned())),
        };
        Self {
            entity: None,
            open: Some(open),
            activity,
            note: None,
        }
    }

    /// The same with a note.
    #[must_use]
    pub fn with_note(mut self, note: Option<String>) -> Self {
        self.note = note;
        self
    }

    /// The PIDF document for `entity` (our AOR), one tuple `tuple_id`,
    /// the activity and note in an RPID person element.
    pub fn to_pidf(&self, entity: &str, tuple_id: &str) -> String {
        let basic = if self.open == Some(false) {
            "closed"
        } else {
            "open"
        };
        let note = self
            .note
            .as_deref()
            .map(|n| format!("<note>{}</note>", escape(n)))
            .unwrap_or_default();
        let mut person = String::new();
        if self.activity.is_some() || self.note.is_some() {
            let activity = self
                .activity
                .as_deref()
                .filter(|a| a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
                .map(|a| format!("<rpid:activities><rpid:{a}/></rpid:activities>"))
                .unwrap_or_default();
            let person_note = self
                .note
                .as_deref()
                .map(|n| format!("<dm:note>{}</dm:note>", escape(n)))
                .unwrap_or_default();
            person = format!("<dm:person id=\"p-{tuple_id}\">{activity}{person_note}</dm:person>");
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
             xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" \
             xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"{}\">\
             <tuple id=\"{}\"><status><basic>{basic}</basic></status>{note}</tuple>\
             {person}</presence>\n",
            escape(entity),
            escape(tuple_id),
        )
    }

    /// The summary of a PIDF document: open when any tuple is open, the
    /// first RPID activity (other than `unknown`) and the first note.
    pub fn from_pidf(text: &str) -> Option<Self> {
        let root = XmlElement::parse(text)?;
        if root.name != "presence" {
            return None;
        }
        let basics: Vec<String> = root
            .children_named("tuple")
            .filter_map(|t| t.child("status")?.child("basic")?.trimmed_text())
            .collect();
        let open = if basics.iter().any(|b| b.eq_ignore_ascii_case("open")) {
            Some(true)
        } else if basics.is_empty() {
            None
        } else {
            Some(false)
        };
        let activity = root
            .find("activities")
            .and_then(|a| a.children.iter().find(|c| c.name != "unknown"))
            .map(|c| c.name.clone());
        Some(Self {
            entity: root.attribute("entity").map(str::to_owned),
            open,
            activity,
            note: root.find("note").and_then(XmlElement::trimmed_text),
        })
    }
}

impl std::fmt::Display for Presence {
    /// `open`, `closed` or `unknown`, the activity, and the note quoted:
    /// `open away note="at lunch"`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.open {
            Some(true) => "open",
            Some(false) => "closed",
            None => "unknown",
        })?;
        if let Some(activity) = &self.activity {
            write!(f, " {activity}")?;
        }
        if let Some(note) = &self.note {
            write!(f, " note={note:?}")?;
        }
        Ok(())
    }
}
