//! Any bytes → `Message::parse_datagram` / `parse_stream` and the stream
//! framer. Whatever parses must print to bytes that parse to an equal
//! message; nothing may panic. See `switchboard_fuzz::check_message`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    switchboard_fuzz::check_message(data);
    let _ = switchboard_fuzz::check_framer(&[data], switchboard_fuzz::MAX_MESSAGE);
});
