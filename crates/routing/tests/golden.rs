//! The fixture plan's `[[test]]` cases pass, and each case's rendered
//! decision (what `switchboard route test` prints) is exactly its
//! `tests/data/*.trace` file. `UPDATE_GOLDEN=1` rewrites the files (review
//! the diff before committing).
// Tests: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;

use switchboard_routing::{AssumeUp, Plan, PlanSource};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn fixture() -> Plan {
    let text = std::fs::read_to_string(data("plan.toml")).unwrap();
    Plan::load(&[PlanSource {
        path: "plan.toml",
        text: &text,
    }])
    .unwrap()
}

fn served() -> Vec<String> {
    vec!["example.com".to_owned()]
}

#[test]
fn the_fixture_cases_pass() {
    let outcomes = fixture().run_tests(&served(), &AssumeUp);
    assert_eq!(outcomes.len(), 8);
    for outcome in &outcomes {
        assert!(
            outcome.passed,
            "{}: {:?}\n{}",
            outcome.name,
            outcome.differences,
            outcome.decision.render()
        );
    }
}

#[test]
fn rendered_decisions_match_the_golden_traces() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for outcome in fixture().run_tests(&served(), &AssumeUp) {
        let path = data(&format!("{}.trace", outcome.name.replace(' ', "-")));
        let rendered = outcome.decision.render();
        if update {
            std::fs::write(&path, &rendered).unwrap();
            continue;
        }
        let expected =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            rendered,
            expected,
            "{} differs from {}",
            outcome.name,
            path.display()
        );
    }
}

#[test]
fn a_case_that_does_not_hold_says_what_differs() {
    let text = r#"
[[route]]
name = "all"
reject = 404
[[test]]
name = "wrong"
from = "sip:alice@example.com"
to = "100"
expect_rule = "all"
expect = "route"
expect_status = 486
expect_target = "user:bob"
"#;
    let plan = Plan::load(&[PlanSource {
        path: "p.toml",
        text,
    }])
    .unwrap();
    let [outcome] = plan.run_tests(&served(), &AssumeUp).try_into().unwrap();
    assert!(!outcome.passed);
    assert_eq!(
        outcome.differences,
        [
            r#"outcome: expected "route", got "reject""#,
            r#"status: expected "486", got "404""#,
            r#"target: expected "user:bob", got "none""#,
        ]
    );
}

#[test]
fn test_times_are_local_to_the_plan_unless_they_carry_an_offset() {
    let text = r#"
[routing]
timezone = "America/New_York"
[[route]]
name = "office"
time = ["09:00-17:00"]
user = "desk"
[[route]]
name = "after hours"
user = "voicemail"
[[test]]
name = "local nine"
from = "sip:alice@example.com"
to = "1"
at = "2026-12-07T09:00:00"
expect_rule = "office"
[[test]]
name = "nine utc is four in new york"
from = "sip:alice@example.com"
to = "1"
at = "2026-12-07T09:00:00Z"
expect_rule = "after hours"
[[test]]
name = "with an offset"
from = "sip:alice@example.com"
to = "1"
at = "2026-12-07T15:30:00+01:00"
expect_rule = "office"
"#;
    let plan = Plan::load(&[PlanSource {
        path: "p.toml",
        text,
    }])
    .unwrap();
    let outcomes = plan.run_tests(&served(), &AssumeUp);
    assert_eq!(outcomes.len(), 3);
    for outcome in outcomes {
        assert!(
            outcome.passed,
            "{}: {:?}",
            outcome.name, outcome.differences
        );
    }
}
