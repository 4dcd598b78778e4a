//! A new SDP of an anchored call with another set of streams (a video
//! stream added, one disabled with port 0): the relay session follows it
//! before it learns the SDP, so the description each party receives
//! stays anchored stream by stream.

use std::time::Instant;

use switchboard_proto::sdp::SessionDescription;
use switchboard_relay::{Relay, RelayError, SessionId};

/// Gives `session` the streams `sdp` enables (ports for new ones, none
/// for those at port 0), when they differ from its own.
///
/// # Errors
///
/// [`RelayError::PortsExhausted`] when new streams do not fit.
pub(super) fn follow_streams(
    relay: &mut Relay,
    now: Instant,
    session: SessionId,
    sdp: &SessionDescription,
) -> Result<(), RelayError> {
    let enabled: Vec<bool> = sdp.media.iter().map(|m| m.port != 0).collect();
    if relay.enabled_streams(session).as_ref() == Some(&enabled) {
        return Ok(());
    }
    relay.set_streams(now, session, &enabled)
}
