//! The XML documents of the SIP event packages the server notifies: presence
//! (PIDF, RFC 3863 with RPID, RFC 4480), registrations (reginfo, RFC 3680),
//! dialogs for busy-lamp fields (dialog-info, RFC 4235) and resource lists
//! (RLMI in multipart/related, RFC 4662).
//!
//! Pure text in, text out: the only document the server reads from a peer is
//! a published PIDF ([`parse_pidf`], bounded and never panicking); every
//! other document is built here from the server's own state, with every
//! value XML-escaped.

mod dialog_info;
mod error;
mod pidf;
mod reginfo;
mod rlmi;
mod xml;

pub use dialog_info::{DIALOG_INFO, DialogEntry, DialogState, Direction, dialog_info};
pub use error::BodyError;
pub use pidf::{
    Basic, ElementKind, MAX_PIDF_BYTES, PIDF, PidfDocument, PidfElement, compose_pidf, parse_pidf,
    pidf_from_registration,
};
pub use reginfo::{REGINFO, RegEvent, reginfo};
pub use rlmi::{ListResource, RLMI, ResourceState, rlmi_notify_body};
pub(crate) use xml::stable_id;
