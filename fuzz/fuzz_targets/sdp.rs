//! Any bytes → `SessionDescription::from_bytes`. Whatever parses must print
//! to text that parses to an equal description (the SDP module's printing
//! contract), printing must be stable, and the offer/answer accessors and
//! edits must not panic.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use switchboard_proto::sdp::{Direction, SessionDescription};

fn reparse(sdp: &SessionDescription, what: &str) {
    let printed = sdp.to_string();
    let again = SessionDescription::parse(&printed).unwrap_or_else(|e| {
        panic!("{what}: printed SDP does not parse: {e}\n{printed:?}\n{sdp:?}")
    });
    assert_eq!(
        &again, sdp,
        "{what}: print → parse changed the SDP; printed {printed:?}"
    );
    assert_eq!(again.to_string(), printed, "{what}: printing is not stable");
}

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = SessionDescription::from_bytes(data) else {
        return;
    };
    let _ = sdp.direction();
    for i in 0..sdp.media.len() {
        let _ = (sdp.media_direction(i), sdp.media_connection(i));
    }
    for name in [
        "rtpmap",
        "fmtp",
        "ptime",
        "group",
        "ice-ufrag",
        "fingerprint",
    ] {
        let _ = sdp.attribute(name);
    }
    reparse(&sdp, "parsed");

    // An answerer's edits keep the description printable and parsable.
    let mut edited = sdp.clone();
    edited.set_direction(Direction::SendOnly);
    edited.set_connection_address(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    for m in &mut edited.media {
        m.set_direction(Direction::RecvOnly);
        m.set_connection_address(IpAddr::V6(Ipv6Addr::LOCALHOST));
    }
    reparse(&edited, "edited");
});
