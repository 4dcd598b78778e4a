//! Any string → `Uri::parse` (and the header parsers that hold URIs). A URI
//! that parses must be usable as a Request-URI.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    switchboard_fuzz::check_uri(text);
});
