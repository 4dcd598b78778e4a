//! What a subscription's next NOTIFY must still say although the current
//! state no longer shows it: a contact's registration event (RFC 3680), a
//! dialog that ended (RFC 4235). Changes that happen while a NOTIFY is in
//! flight are queued, not folded into a later state.

use crate::bodies::{DialogEntry, RegEvent};
use crate::registrar::Binding;

/// One thing owed to a watcher, about `resource` (the watched AOR, or a
/// member of the watched list).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Owed {
    /// A contact was registered, refreshed or went (`binding` as it was
    /// for those removed).
    Contact {
        /// The AOR's URI.
        resource: String,
        /// The binding.
        binding: Box<Binding>,
        /// What happened to it.
        event: RegEvent,
    },
    /// A dialog ended: its `terminated` state must be seen once.
    Dialog {
        /// The AOR's URI.
        resource: String,
        /// The dialog in its terminated state.
        dialog: Box<DialogEntry>,
    },
}

impl Owed {
    /// The resource it is about.
    #[must_use]
    pub fn resource(&self) -> &str {
        match self {
            Self::Contact { resource, .. } | Self::Dialog { resource, .. } => resource,
        }
    }
}
