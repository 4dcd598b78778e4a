//! Any text → `switchboard_server::bodies::parse_pidf` (the one document the
//! server reads from peers: a published presence). Parsing never panics; a
//! document that parses composes, as two devices of one user, into one
//! that parses again with the same status and activities (namespaces and
//! prefixes survive the composition).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_server::bodies::{BodyError, compose_pidf, parse_pidf};

fuzz_target!(|text: &str| {
    let Ok(doc) = parse_pidf(text) else {
        return;
    };
    let composed = compose_pidf("pres:fuzz@example.com", &[&doc, &doc]);
    let again = match parse_pidf(&composed) {
        Ok(again) => again,
        Err(BodyError::TooLarge { .. }) => return,
        Err(e) => panic!("the composed document does not parse: {e}\n{composed}\nfrom {text:?}"),
    };
    assert_eq!(again.basic(), doc.basic(), "{composed}");
    let mut before = doc.activities();
    let mut after = again.activities();
    before.sort();
    after.sort();
    assert_eq!(after, before, "{composed}");
});
