//! Every matcher of a `[[route]]`: what it matches, what it does not, and
//! the trace line naming the first failing one.
// Tests: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::IpAddr;

use common::{call, load};
use switchboard_routing::{AssumeUp, CallFacts, CallerKind, Plan};

/// The rule that decided `facts`, if any.
fn rule_for(plan: &Plan, facts: &CallFacts<'_>) -> Option<String> {
    plan.decide(facts, &AssumeUp).rule
}

/// A plan with one rule `r` with `matchers`, plus groups and a site.
fn one_rule(matchers: &str) -> Plan {
    load(&format!(
        r#"
[routing]
timezone = "Europe/Berlin"
[groups]
staff = ["alice", "carol@example.org"]
[[site]]
name = "berlin"
networks = ["10.1.0.0/16"]
[[trunk]]
name = "carrier1"
gateways = ["sip:gw1.example.net"]
[[route]]
name = "r"
{matchers}
user = "bob"
"#
    ))
}

fn at(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap().as_second()
}

#[test]
fn to_matches_the_dialled_number_exactly() {
    let plan = one_rule(r#"to = ["100", "alice"]"#);
    assert_eq!(rule_for(&plan, &call("100")).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &call("alice")).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &call("1000")), None);
}

#[test]
fn to_prefix_matches_the_start_and_names_itself_in_the_trace() {
    let plan = one_rule(r#"to_prefix = ["00", "+"]"#);
    assert_eq!(rule_for(&plan, &call("0044123")).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &call("+44123")).as_deref(), Some("r"));
    let decision = plan.decide(&call("4930"), &AssumeUp);
    assert_eq!(decision.rule, None);
    assert_eq!(
        decision.trace[0],
        r#"route "r": to_prefix ["00", "+"] does not match "4930""#
    );
    assert_eq!(decision.trace[1], "no rule matched");
}

#[test]
fn to_range_is_inclusive_and_needs_the_same_length() {
    let plan = one_rule(r#"to_range = ["+4930100-+4930199"]"#);
    assert_eq!(rule_for(&plan, &call("+4930100")).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &call("+4930199")).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &call("+4930150")).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &call("+4930200")), None);
    assert_eq!(rule_for(&plan, &call("+49301500")), None);
    assert_eq!(rule_for(&plan, &call("4930150")), None);
}

#[test]
fn to_pattern_is_a_regex() {
    let plan = one_rule(r#"to_pattern = "^\\+49(30|40)[0-9]+$""#);
    assert_eq!(rule_for(&plan, &call("+4940123")).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &call("+4950123")), None);
}

#[test]
fn from_matches_the_uri_or_its_user_part() {
    let plan = one_rule(r#"from = ["sip:alice@example.com", "+4930555"]"#);
    assert_eq!(rule_for(&plan, &call("1")).as_deref(), Some("r"));
    let by_user = CallFacts {
        from_uri: "sip:+4930555@carrier.example",
        ..call("1")
    };
    assert_eq!(rule_for(&plan, &by_user).as_deref(), Some("r"));
    let other = CallFacts {
        from_uri: "sip:alice@other.example",
        ..call("1")
    };
    let decision = plan.decide(&other, &AssumeUp);
    assert_eq!(decision.rule, None);
    assert_eq!(
        decision.trace[0],
        r#"route "r": from ["sip:alice@example.com", "+4930555"] does not match "sip:alice@other.example""#
    );
}

#[test]
fn from_prefix_tests_the_caller_id_user_part() {
    let plan = one_rule(r#"from_prefix = ["+4930"]"#);
    let berlin = CallFacts {
        from_uri: "sip:+49301234@carrier.example",
        ..call("1")
    };
    let hamburg = CallFacts {
        from_uri: "sip:+49401234@carrier.example",
        ..call("1")
    };
    assert_eq!(rule_for(&plan, &berlin).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &hamburg), None);
}

#[test]
fn from_pattern_is_a_regex_on_the_caller_uri() {
    let plan = one_rule(r#"from_pattern = "@example\\.com$""#);
    assert_eq!(rule_for(&plan, &call("1")).as_deref(), Some("r"));
    let other = CallFacts {
        from_uri: "sip:bob@example.org",
        ..call("1")
    };
    assert_eq!(rule_for(&plan, &other), None);
}

#[test]
fn anonymous_matches_callers_who_hide() {
    let plan = one_rule("anonymous = true");
    let hidden = CallFacts {
        anonymous: true,
        ..call("1")
    };
    assert_eq!(rule_for(&plan, &hidden).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &call("1")), None);
    let plan = one_rule("anonymous = false");
    assert_eq!(rule_for(&plan, &hidden), None);
    assert_eq!(rule_for(&plan, &call("1")).as_deref(), Some("r"));
}

#[test]
fn from_group_members_without_domain_match_any_domain_with_domain_only_that() {
    let plan = one_rule(r#"from_group = ["staff"]"#);
    assert_eq!(rule_for(&plan, &call("1")).as_deref(), Some("r"));
    let alice_elsewhere = CallFacts {
        caller: CallerKind::User {
            name: "alice",
            domain: "example.org",
            groups: &[],
        },
        ..call("1")
    };
    assert_eq!(rule_for(&plan, &alice_elsewhere).as_deref(), Some("r"));
    let carol_home = CallFacts {
        caller: CallerKind::User {
            name: "carol",
            domain: "example.org",
            groups: &[],
        },
        ..call("1")
    };
    assert_eq!(rule_for(&plan, &carol_home).as_deref(), Some("r"));
    let carol_elsewhere = CallFacts {
        caller: CallerKind::User {
            name: "carol",
            domain: "example.com",
            groups: &[],
        },
        ..call("1")
    };
    assert_eq!(rule_for(&plan, &carol_elsewhere), None);
    let foreign = CallFacts {
        caller: CallerKind::Foreign,
        ..call("1")
    };
    let decision = plan.decide(&foreign, &AssumeUp);
    assert_eq!(
        decision.trace[0],
        r#"route "r": from_group ["staff"] does not match a caller that is not a local user"#
    );
}

#[test]
fn from_trunk_and_from_user_test_who_placed_the_call() {
    let plan = one_rule(r#"from_trunk = ["carrier1"]"#);
    let from_trunk = CallFacts {
        caller: CallerKind::Trunk { name: "carrier1" },
        ..call("1")
    };
    assert_eq!(rule_for(&plan, &from_trunk).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &call("1")), None);

    let plan = one_rule("from_user = true");
    assert_eq!(rule_for(&plan, &call("1")).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &from_trunk), None);
    let plan = one_rule("from_user = false");
    assert_eq!(rule_for(&plan, &call("1")), None);
    assert_eq!(rule_for(&plan, &from_trunk).as_deref(), Some("r"));
}

#[test]
fn site_is_found_by_source_network() {
    let plan = one_rule(r#"site = ["berlin"]"#);
    assert_eq!(plan.site_of(IpAddr::from([10, 1, 9, 9])), Some("berlin"));
    assert_eq!(rule_for(&plan, &call("1")).as_deref(), Some("r"));
    let elsewhere = CallFacts {
        source: IpAddr::from([10, 2, 0, 1]),
        ..call("1")
    };
    let decision = plan.decide(&elsewhere, &AssumeUp);
    assert_eq!(decision.rule, None);
    assert_eq!(
        decision.trace[0],
        r#"route "r": site ["berlin"] does not match 10.2.0.1 (no site)"#
    );
}

#[test]
fn source_transport_and_domain_match() {
    let plan = one_rule(r#"source = ["203.0.113.0/24", "2001:db8::/32"]"#);
    let v4 = CallFacts {
        source: IpAddr::from([203, 0, 113, 7]),
        ..call("1")
    };
    let v6 = CallFacts {
        source: "2001:db8::1".parse().unwrap(),
        ..call("1")
    };
    let mapped = CallFacts {
        source: "::ffff:203.0.113.9".parse().unwrap(),
        ..call("1")
    };
    assert_eq!(rule_for(&plan, &v4).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &v6).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &mapped).as_deref(), Some("r"));
    assert_eq!(rule_for(&plan, &call("1")), None);

    let plan = one_rule(r#"transport = ["tls", "wss"]"#);
    assert_eq!(
        rule_for(
            &plan,
            &CallFacts {
                transport: "tls",
                ..call("1")
            }
        )
        .as_deref(),
        Some("r")
    );
    assert_eq!(rule_for(&plan, &call("1")), None);

    let plan = one_rule(r#"domain = ["example.com"]"#);
    assert_eq!(
        rule_for(
            &plan,
            &CallFacts {
                to_domain: "EXAMPLE.com",
                ..call("1")
            }
        )
        .as_deref(),
        Some("r")
    );
    assert_eq!(
        rule_for(
            &plan,
            &CallFacts {
                to_domain: "example.org",
                ..call("1")
            }
        ),
        None
    );
}

/// alice's call at `utc` (RFC 3339 with Z).
fn at_utc(utc: &str) -> CallFacts<'static> {
    CallFacts {
        at_unix: at(utc),
        ..call("1")
    }
}

/// For each (UTC instant, whether rule "r" matches, what that is locally).
fn expect_at(plan: &Plan, cases: &[(&str, bool, &str)]) {
    for (utc, matches, local) in cases {
        let expected = matches.then_some("r");
        assert_eq!(
            rule_for(plan, &at_utc(utc)).as_deref(),
            expected,
            "{utc} ({local})"
        );
    }
}

#[test]
fn time_of_day_is_local_with_exclusive_end() {
    // Berlin is UTC+1 in December.
    let plan = one_rule(r#"time = ["08:00-12:00", "13:00-18:00"]"#);
    expect_at(
        &plan,
        &[
            ("2026-12-07T07:00:00Z", true, "08:00"),
            ("2026-12-07T10:59:00Z", true, "11:59"),
            ("2026-12-07T11:00:00Z", false, "12:00"),
            ("2026-12-07T06:59:00Z", false, "07:59"),
        ],
    );
    let decision = plan.decide(&at_utc("2026-12-07T11:00:00Z"), &AssumeUp);
    assert_eq!(
        decision.trace[0],
        r#"route "r": time ["08:00-12:00", "13:00-18:00"] does not match "12:00""#
    );
}

#[test]
fn time_of_day_wraps_over_midnight() {
    let plan = one_rule(r#"time = ["22:00-06:00"]"#);
    expect_at(
        &plan,
        &[
            ("2026-12-07T21:00:00Z", true, "22:00"),
            ("2026-12-07T23:30:00Z", true, "00:30"),
            ("2026-12-08T04:59:00Z", true, "05:59"),
            ("2026-12-08T05:00:00Z", false, "06:00"),
            ("2026-12-07T20:59:00Z", false, "21:59"),
        ],
    );
}

#[test]
fn time_days_and_dates_follow_the_zone_across_a_dst_change() {
    // Berlin leaves summer time on Sunday 2026-10-25 at 01:00 UTC.
    expect_at(
        &one_rule(r#"time = ["08:00-09:00"]"#),
        &[
            ("2026-10-24T06:30:00Z", true, "08:30 CEST"),
            ("2026-10-24T07:30:00Z", false, "09:30 CEST"),
            ("2026-10-26T07:30:00Z", true, "08:30 CET"),
            ("2026-10-26T06:30:00Z", false, "07:30 CET"),
        ],
    );
    expect_at(
        &one_rule(r#"days = ["sun"]"#),
        &[
            ("2026-10-24T22:30:00Z", true, "Sunday 00:30 CEST"),
            ("2026-10-25T22:59:00Z", true, "Sunday 23:59 CET"),
            ("2026-10-25T23:00:00Z", false, "Monday 00:00 CET"),
        ],
    );
    expect_at(
        &one_rule(r#"dates = ["2026-10-25"]"#),
        &[
            ("2026-10-24T21:59:00Z", false, "Saturday 23:59 CEST"),
            ("2026-10-24T22:00:00Z", true, "Sunday 00:00 CEST"),
            ("2026-10-25T22:59:00Z", true, "Sunday 23:59 CET"),
        ],
    );
}

#[test]
fn days_take_ranges_and_wrap() {
    let plan = one_rule(r#"days = ["mon-fri"]"#);
    expect_at(
        &plan,
        &[
            ("2026-12-11T10:00:00Z", true, "friday"),
            ("2026-12-12T10:00:00Z", false, "saturday"),
        ],
    );
    let decision = plan.decide(&at_utc("2026-12-12T10:00:00Z"), &AssumeUp);
    assert_eq!(
        decision.trace[0],
        r#"route "r": days ["mon-fri"] does not match "sat""#
    );
    expect_at(
        &one_rule(r#"days = ["fri-mon"]"#),
        &[
            ("2026-12-13T10:00:00Z", true, "sunday"),
            ("2026-12-08T10:00:00Z", false, "tuesday"),
        ],
    );
}

#[test]
fn dates_take_inclusive_ranges() {
    let plan = one_rule(r#"dates = ["2026-12-24", "2026-12-26..2026-12-27"]"#);
    expect_at(
        &plan,
        &[
            ("2026-12-24T12:00:00Z", true, "24th"),
            ("2026-12-25T12:00:00Z", false, "25th"),
            ("2026-12-26T12:00:00Z", true, "26th"),
            ("2026-12-27T22:59:00Z", true, "27th 23:59"),
            ("2026-12-27T23:00:00Z", false, "28th 00:00"),
        ],
    );
    let decision = plan.decide(&at_utc("2026-12-27T23:00:00Z"), &AssumeUp);
    assert_eq!(
        decision.trace[0],
        r#"route "r": dates ["2026-12-24", "2026-12-26..2026-12-27"] does not match "2026-12-28""#
    );
}

#[test]
fn every_matcher_present_must_hold_and_the_first_rule_wins() {
    let plan = load(
        r#"
[[route]]
name = "both"
to_prefix = ["00"]
transport = ["tls"]
user = "bob"
[[route]]
name = "any"
user = "carol"
"#,
    );
    let decision = plan.decide(&call("0044"), &AssumeUp);
    assert_eq!(decision.rule.as_deref(), Some("any"));
    assert_eq!(
        decision.trace,
        vec![
            r#"route "both": transport ["tls"] does not match "udp""#.to_owned(),
            r#"route "any": matches"#.to_owned(),
            "target user:carol".to_owned(),
        ]
    );
}
