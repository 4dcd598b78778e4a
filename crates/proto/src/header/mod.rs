//! Header fields: names, the header list, and typed values.
//!
//! Values are kept as text and parsed into typed values on demand with
//! [`Headers::typed`] / [`Headers::typed_all`]; the hot ones (Via branch,
//! From/To tags, Call-ID, CSeq, Max-Forwards, Content-Length) are parsed once
//! when the message is parsed.

mod cseq;
mod headers;
mod name;
mod name_addr;
mod typed;
mod via;

pub use cseq::CSeq;
pub use headers::{HeaderField, Headers};
pub(crate) use headers::{Hot, Text, sub_text};
pub use name::HeaderName;
pub use name_addr::{
    Contact, From, NameAddr, Path, RecordRoute, ReferTo, ReferredBy, ReplyTo, Route, To,
};
pub use typed::{HeaderError, TypedHeader};
pub use via::{BRANCH_MAGIC_COOKIE, Via};
