//! The server's side of the plan's trunks (sans-IO): how healthy each
//! gateway is (OPTIONS probes and the outcomes of calls sent there) and
//! the server's registrations at providers.
//!
//! [`Trunks`] is owned by the [`Service`](crate::Service): it sends its
//! probes and REGISTERs through the same transaction layer, asks for
//! RFC 3263 resolution through the service's
//! [`Effect::Resolve`](crate::Effect::Resolve), and answers the plan's
//! [`GatewayHealth`](switchboard_routing::GatewayHealth) questions.
//!
//! ```text
//! reconfigure(specs) ─► per gateway: GatewayState (kept by trunk name + URI)
//!                   └─► per trunk:   TrunkRegistration (kept while unchanged)
//! handle_timeout ─► OPTIONS every interval (one in flight) ─► response / timeout / DNS ─► up / down
//!                └─► REGISTER ─► 401/407 ─► digest (once per nonce) ─► 2xx ─► refresh before expiry
//!                                                                   └─► failure ─► backoff 30 s .. 10 min
//! report_attempt(call outcome) ─► GatewayState
//! ```

mod attempt;
mod digest_answer;
mod error;
mod gateway;
mod gateway_state;
mod local;
mod registration;
mod status;
mod table;

pub use attempt::AttemptResult;
pub use error::ChallengeError;
pub use gateway_state::{GatewayState, Health};
pub use registration::{RegistrationState, TrunkRegistration};
pub use status::{GatewayStatus, TrunkStatus};
pub use table::Trunks;

pub(crate) use local::Local;
