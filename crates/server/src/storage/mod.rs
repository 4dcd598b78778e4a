//! What the server keeps across restarts, and the traits a storage back
//! end implements for it.
//!
//! The stored model is the server's own: the registrar's
//! [`Binding`](crate::registrar::Binding) and
//! [`BindingChange`](crate::registrar::BindingChange), and here the users
//! ([`User`] with its [`Ha1Set`]). A back end (`switchboard-store`:
//! SQLite) implements [`UserStore`] and [`BindingStore`] on these types, so
//! nothing converts between two models on the way in or out.
//!
//! The traits are blocking and take `&self`; this crate only defines them
//! and never calls a back end (it stays sans-IO). Each back end brings its
//! own error type ([`UserStore::Error`], [`BindingStore::Error`]).

mod binding_store;
mod call_media;
mod call_record;
mod dialog_record;
mod event_state;
mod ha1;
mod relay_sdp;
mod user;
mod user_store;

pub use binding_store::BindingStore;
pub use call_media::{CallMedia, MediaLeg};
pub use call_record::{CallRecord, Disposition, HangupSide};
pub use dialog_record::{CarrierLeg, DeviceSource, DialogParty, DialogPhase, DialogRecord};
pub use event_state::{
    EventStateStore, PublicationRecord, StateChange, StoredMessage, StoredState, SubscriptionRecord,
};
pub use ha1::{Ha1Error, Ha1Set};
pub use relay_sdp::RelaySdp;
pub use user::{InvalidGroupName, MAX_GROUP_NAME, User};
pub use user_store::{ImportSummary, UserStore};
