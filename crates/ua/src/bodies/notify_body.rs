//! What a NOTIFY's body says, by its media type.

use super::dialog_info::{DIALOG_INFO, DialogInfo};
use super::presence::{PIDF, Presence};
use super::reg_info::{REGINFO, RegInfo};
use super::resource_list::ResourceList;

/// The summary of a NOTIFY body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotifyBody {
    /// No body (a pending subscription, a final NOTIFY).
    Empty,
    /// A PIDF document.
    Presence(Presence),
    /// A dialog-info document.
    Dialogs(DialogInfo),
    /// A reginfo document.
    Registrations(RegInfo),
    /// A resource list (RFC 4662): each resource's document.
    List(ResourceList),
    /// A body of another type, or one that does not parse as its type
    /// says.
    Other {
        /// The Content-Type.
        content_type: String,
    },
}

impl NotifyBody {
    /// Reads `body` of media type `content_type`.
    pub fn read(content_type: Option<&str>, body: &[u8]) -> Self {
        if body.is_empty() {
            return Self::Empty;
        }
        let content_type = content_type.unwrap_or_default();
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let text = String::from_utf8_lossy(body);
        let read = match media.as_str() {
            PIDF => Presence::from_pidf(&text).map(Self::Presence),
            DIALOG_INFO => DialogInfo::parse(&text).map(Self::Dialogs),
            REGINFO => RegInfo::parse(&text).map(Self::Registrations),
            "multipart/related" => ResourceList::parse(content_type, &text).map(Self::List),
            _ => None,
        };
        read.unwrap_or_else(|| Self::Other {
            content_type: content_type.to_owned(),
        })
    }
}
