//! Header fields: names, the header list, and typed values.
//!
//! Values are kept as text and parsed into typed values on demand with
//! [`Headers::typed`] / [`Headers::typed_all`]; the hot ones (Via branch,
//! From/To tags, Call-ID, CSeq, Max-Forwards, Content-Length) are parsed once
//! when the message is parsed.

mod call_id;
mod cseq;
mod event;
mod headers;
mod media_type;
mod name;
mod name_addr;
mod number;
mod option_tags;
mod product;
mod reason;
mod reliable;
mod replaces;
mod retry_after;
mod session_timer;
mod timestamp;
mod typed;
mod util;
mod via;

pub use call_id::CallId;
pub use cseq::CSeq;
pub use event::{Event, SubState, SubscriptionState};
pub(crate) use headers::{Field, Hot, Text, sub_text};
pub use headers::{HeaderField, Headers};
pub use media_type::{Accept, ContentType, MediaType};
pub use name::HeaderName;
pub use name_addr::{
    Contact, From, NameAddr, Path, RecordRoute, ReferTo, ReferredBy, ReplyTo, Route, To,
    format_qvalue,
};
pub use number::{ContentLength, Expires, MaxForwards, MinExpires};
pub use option_tags::{Allow, AllowEvents, ProxyRequire, Require, Supported, Unsupported};
pub use product::{Server, UserAgent};
pub use reason::Reason;
pub use reliable::{RAck, RSeq};
pub use replaces::Replaces;
pub use retry_after::RetryAfter;
pub use session_timer::{MinSe, Refresher, SessionExpires};
pub use timestamp::Timestamp;
pub use typed::{HeaderError, TypedHeader};
pub use via::{BRANCH_MAGIC_COOKIE, Via};
