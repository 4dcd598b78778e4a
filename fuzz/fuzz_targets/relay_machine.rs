//! Any bytes → datagrams, time jumps, updates and re-allocations driving a
//! `switchboard_relay::Relay` on a virtual clock (the rig is
//! `switchboard_relay::fuzzing`): it must never panic, never send to anyone
//! but the call's parties (or a NAT-like source that latched in the
//! window), from any port but the session's, and never ask to be woken in
//! the past.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    switchboard_relay::fuzzing::run(data);
    switchboard_relay::fuzzing::run_webrtc(data);
});
