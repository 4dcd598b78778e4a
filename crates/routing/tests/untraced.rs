//! The untraced decision (the call path) decides exactly as the traced one
//! (dry runs): same outcome, rule and number, for calls that hit every
//! kind of rule the index sorts (by `to`, `to_prefix`, `to_range`, or none).
// Tests: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{call, load};
use switchboard_routing::{AssumeUp, CallFacts, CallerKind};

const PLAN: &str = r#"
[routing]
country_code = "49"
[[trunk]]
name = "c1"
gateways = ["sip:gw.example"]
[[route]]
name = "exact"
to = ["100", "+4930100"]
user = "a"
[[route]]
name = "udp only"
transport = ["tcp"]
user = "b"
[[route]]
name = "range"
to_range = ["200-299", "+4930150-+4930199"]
user = "c"
[[route]]
name = "any from c1"
from_trunk = ["c1"]
user = "d"
[[route]]
name = "prefix"
to_prefix = ["0", "+49"]
normalize = "e164"
trunks = ["c1"]
[[route]]
name = "empty prefix"
to_prefix = ["", "9"]
user = "e"
[[route]]
name = "late exact"
to = ["300"]
user = "f"
"#;

#[test]
fn untraced_decisions_equal_traced_ones() {
    let plan = load(PLAN);
    let numbers = [
        "100", "+4930100", "+4930150", "+4930200", "250", "030123", "+4940", "300", "9", "alice",
        "", "1",
    ];
    for number in numbers {
        for facts in [
            call(number),
            CallFacts {
                transport: "tcp",
                ..call(number)
            },
            CallFacts {
                caller: CallerKind::Trunk { name: "c1" },
                ..call(number)
            },
        ] {
            let traced = plan.decide(&facts, &AssumeUp);
            let untraced = plan.decide_untraced(&facts, &AssumeUp);
            assert_eq!(
                untraced.outcome, traced.outcome,
                "{number:?} over {}",
                facts.transport
            );
            assert_eq!(untraced.rule, traced.rule, "{number:?}");
            assert_eq!(untraced.number, traced.number, "{number:?}");
            assert!(untraced.trace.is_empty());
            assert!(!traced.trace.is_empty());
        }
    }
    assert_eq!(
        plan.decide_untraced(&call("300"), &AssumeUp)
            .rule
            .as_deref(),
        Some("empty prefix")
    );
    assert_eq!(
        plan.decide_untraced(&call("250"), &AssumeUp)
            .rule
            .as_deref(),
        Some("range")
    );
}
