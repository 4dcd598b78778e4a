//! Any bytes → a sequence of what a peer, the clock and the front end do
//! to a `switchboard_ua::UserAgent` on a real endpoint with a virtual
//! clock (`switchboard_ua::fuzzing`): answers to its own requests with
//! any status, headers and SDP body, requests of the peer aimed at its
//! calls, raw datagrams, time jumps, commands. It must never panic, never
//! spin at one instant, and must still answer an OPTIONS at the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_ua::fuzzing::{Command, Op, OpReader, Rig};

fuzz_target!(|data: &[u8]| {
    let seed = data.iter().take(8).fold(0u64, |s, b| s << 8 | u64::from(*b));
    let mut rig = Rig::new(seed);
    // Start with a registration and a call, so answers have something to
    // match from the first op on.
    for op in [Op::Command(Command::Register(3600)), Op::Command(Command::Dial)] {
        rig.apply(op).expect("no livelock");
    }
    for op in OpReader::new(data).take(64) {
        if let Err(livelock) = rig.apply(op.clone()) {
            panic!("{livelock:?} after {op:?}: {rig:?}");
        }
    }
    assert!(rig.answers_options(), "OPTIONS not answered: {rig:?}");
});
