//! A plan that does not load says where and what: `path:line: item: what`.
// Tests: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::load_error;
use switchboard_routing::{Plan, PlanSource};

const TRUNK: &str = "[[trunk]]\nname = \"c1\"\ngateways = [\"sip:gw.example\"]\n";

/// The error of a plan made of the carrier trunk (lines 1-3) and `rest`.
fn after_trunk(rest: &str) -> String {
    load_error(&format!("{TRUNK}{rest}"))
}

#[test]
fn toml_syntax_and_unknown_keys_name_the_line_and_the_item() {
    assert_eq!(
        load_error("[[route]]\nname = \"a\"\nuser = \n"),
        "plan.toml:3: route \"a\": string values must be quoted, expected literal string"
    );
    let unknown = load_error("[[route]]\nname = \"a\"\nbogus = 1\nuser = \"bob\"\n");
    assert!(
        unknown.starts_with("plan.toml:3: route \"a\": unknown field `bogus`, expected one of"),
        "{unknown}"
    );
    let in_routing = load_error("[routing]\ncountry = \"49\"\n");
    assert!(
        in_routing.starts_with("plan.toml:2: [routing]: unknown field `country`"),
        "{in_routing}"
    );
    let in_dids = load_error(
        "[[trunk]]\nname = \"c1\"\ngateways = [\"sip:gw\"]\n[trunk.dids]\n\"+49\" = 5\n",
    );
    assert!(
        in_dids.starts_with("plan.toml:5: trunk \"c1\": invalid type"),
        "{in_dids}"
    );
    let elsewhere = load_error("[[route]]\nname = \"a\"\nuser = \"b\"\n[server]\nport = = 1\n");
    assert!(elsewhere.starts_with("plan.toml:5: "), "{elsewhere}");
    assert!(!elsewhere.contains("route"), "{elsewhere}");
}

#[test]
fn other_top_level_keys_are_ignored() {
    assert!(
        Plan::load(&[PlanSource {
            path: "main.toml",
            text: "[server]\nbogus = { x = 1 }\n[[users]]\nname = 1\n"
        }])
        .is_ok()
    );
}

#[test]
fn route_errors_name_the_line_where_the_route_starts() {
    let cases: &[(&str, &str)] = &[
        (
            "[[route]]\nuser = \"bob\"\n",
            "plan.toml:4: route #1: name is missing",
        ),
        (
            "[[route]]\nname = \"a\"\nuser = \"b\"\n\n[[route]]\nname = \"a\"\nuser = \"c\"\n",
            "plan.toml:8: route \"a\": a route of this name comes earlier",
        ),
        (
            "[[route]]\nname = \"a\"\nto = [\"1\"]\n",
            "plan.toml:4: route \"a\": needs exactly one action (user, ring_group, forward, redirect, reject, trunks), has none",
        ),
        (
            "[[route]]\nname = \"a\"\nuser = \"b\"\nreject = 404\n",
            "plan.toml:4: route \"a\": needs exactly one action (user, ring_group, forward, redirect, reject, trunks), has user, reject",
        ),
        (
            "[[route]]\nname = \"a\"\nto_pattern = \"(\"\nuser = \"b\"\n",
            "plan.toml:4: route \"a\": to_pattern \"(\" does not compile: error: unclosed group",
        ),
        (
            "[[route]]\nname = \"a\"\nto_range = [\"100-1999\"]\nuser = \"b\"\n",
            "plan.toml:4: route \"a\": to_range: \"100-1999\": both ends must have the same length",
        ),
        (
            "[[route]]\nname = \"a\"\nto_range = [\"199-100\"]\nuser = \"b\"\n",
            "plan.toml:4: route \"a\": to_range: \"199-100\": the first end is above the second",
        ),
        (
            "[[route]]\nname = \"a\"\ntime = [\"25:00-06:00\"]\nuser = \"b\"\n",
            "plan.toml:4: route \"a\": time: \"25:00-06:00\" is not a time window like \"08:00-12:00\"",
        ),
        (
            "[[route]]\nname = \"a\"\ndays = [\"mon-fry\"]\nuser = \"b\"\n",
            "plan.toml:4: route \"a\": days: \"mon-fry\" is not a weekday or range like \"mon-fri\"",
        ),
        (
            "[[route]]\nname = \"a\"\ndates = [\"2026-02-30\"]\nuser = \"b\"\n",
            "plan.toml:4: route \"a\": dates: \"2026-02-30\" is not a date (YYYY-MM-DD) or range (YYYY-MM-DD..YYYY-MM-DD)",
        ),
        (
            "[[route]]\nname = \"a\"\nsource = [\"10.0.0.0/33\"]\nuser = \"b\"\n",
            "plan.toml:4: route \"a\": source: \"10.0.0.0/33\" is not a network (like 10.1.0.0/16 or 2001:db8::/32)",
        ),
        (
            "[[route]]\nname = \"a\"\nfrom_group = [\"staff\"]\nuser = \"b\"\n",
            "plan.toml:4: route \"a\": from_group: no group \"staff\" in [groups]",
        ),
        (
            "[[route]]\nname = \"a\"\nsite = [\"paris\"]\nuser = \"b\"\n",
            "plan.toml:4: route \"a\": site: no site \"paris\"",
        ),
        (
            "[[route]]\nname = \"a\"\ntrunks = [\"c2\"]\n",
            "plan.toml:4: route \"a\": trunks: no trunk \"c2\"",
        ),
        (
            "[[route]]\nname = \"a\"\nrequire_group = \"staff\"\nuser = \"b\"\n",
            "plan.toml:4: route \"a\": require_group: no group \"staff\" in [groups]",
        ),
        (
            "[[route]]\nname = \"a\"\nreject = 200\n",
            "plan.toml:4: route \"a\": reject must be a status in 400..699",
        ),
        (
            "[[route]]\nname = \"a\"\nredirect = \"sip:x@y\"\nredirect_status = 404\n",
            "plan.toml:4: route \"a\": redirect_status must be 300..399",
        ),
        (
            "[[route]]\nname = \"a\"\nforward = \"mailto:x\"\n",
            "plan.toml:4: route \"a\": forward \"mailto:x\" is not a sip: URI",
        ),
        (
            "[[route]]\nname = \"a\"\nnormalize = \"e164\"\nuser = \"b\"\n",
            "plan.toml:4: route \"a\": normalize = \"e164\" needs [routing] country_code",
        ),
        (
            "[[route]]\nname = \"a\"\nreject = 403\non_busy = \"user:b\"\n",
            "plan.toml:4: route \"a\": on_busy needs an action that rings (user, ring_group, forward, trunks)",
        ),
        (
            "[[route]]\nname = \"a\"\nuser = \"b\"\non_unavailable = \"voicemail\"\n",
            "plan.toml:4: route \"a\": on_unavailable: target \"voicemail\": expected \"user:NAME\", \"group:NAME\", \"trunk:NAME\" or a sip: URI",
        ),
        (
            "[[route]]\nname = \"a\"\nuser = \"b\"\non_no_answer = \"group:nobody\"\n",
            "plan.toml:4: route \"a\": on_no_answer: target \"group:nobody\": no ring group \"nobody\"",
        ),
        (
            "[[route]]\nname = \"a\"\nuser = \"b\"\nstrip = -1\n",
            "plan.toml:4: route \"a\": strip -1 must be 0 or more",
        ),
        (
            "[[route]]\nname = \"a\"\nuser = \"b\"\nlcr = true\n",
            "plan.toml:4: route \"a\": lcr goes with trunks",
        ),
    ];
    for (rest, expected) in cases {
        assert_eq!(after_trunk(rest), *expected, "for {rest:?}");
    }
}

#[test]
fn trunk_site_group_and_routing_errors_name_their_item() {
    let cases: &[(&str, &str)] = &[
        (
            "[routing]\ntimezone = \"Mars/Base\"\n",
            "plan.toml:1: [routing]: unknown time zone \"Mars/Base\"",
        ),
        (
            "[routing]\ncountry_code = \"+49\"\n",
            "plan.toml:1: [routing]: country_code \"+49\" must be digits",
        ),
        (
            "\n[routing]\ntrusted_networks = [\"x\"]\n",
            "plan.toml:2: [routing]: trusted_networks: \"x\" is not a network (like 10.1.0.0/16 or 2001:db8::/32)",
        ),
        (
            "[groups]\nstaff = [\"sip:alice\"]\n",
            "plan.toml:1: group \"staff\": member \"sip:alice\" is not a user name or user@domain",
        ),
        (
            "[[trunk]]\nname = \"t\"\n",
            "plan.toml:1: trunk \"t\": gateways is missing or empty",
        ),
        (
            "[[trunk]]\nname = \"t\"\ngateways = [\"gw.example\"]\n",
            "plan.toml:1: trunk \"t\": gateway \"gw.example\" is not a sip: or sips: URI",
        ),
        (
            "[[trunk]]\nname = \"t\"\ngateways = [\"sip:gw\"]\nregister = true\n",
            "plan.toml:1: trunk \"t\": register = true needs username and password",
        ),
        (
            "[[trunk]]\nname = \"t\"\ngateways = [\"sip:gw\"]\nusername = \"u\"\n",
            "plan.toml:1: trunk \"t\": username and password go together",
        ),
        (
            "[[trunk]]\nname = \"t\"\ngateways = [\"sip:gw\"]\ncosts = { \"+49\" = -1.0 }\n",
            "plan.toml:1: trunk \"t\": costs: cost -1 for \"+49\" must be a non-negative number",
        ),
        (
            "[[trunk]]\nname = \"t\"\ngateways = [\"sip:gw\"]\ncaller_id_mode = \"replace\"\n",
            "plan.toml:1: trunk \"t\": caller_id_mode = \"replace\" needs caller_id",
        ),
        (
            "[[trunk]]\nname = \"t\"\ngateways = [\"sip:gw\"]\ncost_file = \"c.csv\"\n",
            "plan.toml:1: trunk \"t\": cost_file \"c.csv\" cannot be read",
        ),
        (
            "[[trunk]]\nname = \"t\"\ngateways = [\"sip:gw\"]\n[trunk.dids]\n\"+49301\" = \"trunk:t\"\n",
            "plan.toml:1: trunk \"t\": dids: \"+49301\": target \"trunk:t\": no trunk \"t\"",
        ),
        (
            "[[trunk]]\nname = \"t\"\ngateways = [\"sip:gw\"]\nprobe = true\nprobe_interval = 0\n",
            "plan.toml:1: trunk \"t\": probe_interval must be a positive number of seconds",
        ),
        (
            "[[site]]\nname = \"s\"\nnetworks = [\"10.0.0.0/8\"]\nemergency_trunks = [\"x\"]\n",
            "plan.toml:1: site \"s\": emergency_trunks: no trunk \"x\"",
        ),
        (
            "[[ring_group]]\nname = \"g\"\nmembers = []\n",
            "plan.toml:1: ring_group \"g\": members is missing or empty",
        ),
        (
            "[[ring_group]]\nname = \"g\"\nmembers = [\"a\"]\nstrategy = \"random\"\n",
            "plan.toml:1: ring_group \"g\": strategy \"random\": expected \"parallel\" or \"sequential\"",
        ),
        (
            "[[test]]\nname = \"t\"\nfrom = \"alice\"\nto = \"1\"\n",
            "plan.toml:1: test \"t\": from \"alice\" is not a sip: URI",
        ),
        (
            "[[test]]\nname = \"t\"\nfrom = \"sip:a@b\"\nto = \"1\"\nexpect_rule = \"nope\"\n",
            "plan.toml:1: test \"t\": expect_rule: no route \"nope\"",
        ),
        (
            "[[test]]\nname = \"t\"\nfrom = \"sip:a@b\"\nto = \"1\"\nat = \"tomorrow\"\n",
            "plan.toml:1: test \"t\": at \"tomorrow\" is not a time like \"2026-12-07T10:00:00\"",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(load_error(text), *expected, "for {text:?}");
    }
}

#[test]
fn a_section_in_both_files_names_both() {
    let error = Plan::load(&[
        PlanSource {
            path: "main.toml",
            text: "[groups]\na = [\"x\"]\n",
        },
        PlanSource {
            path: "routes.toml",
            text: "\n[groups]\nb = [\"y\"]\n",
        },
    ])
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "routes.toml:2: [groups]: also given in main.toml:1; keep it in one file"
    );
    let error = Plan::load(&[
        PlanSource {
            path: "main.toml",
            text: "[[route]]\nname = \"a\"\nuser = \"b\"\n",
        },
        PlanSource {
            path: "routes.toml",
            text: "[[route]]\nname = \"c\"\nuser = \"d\"\n",
        },
    ])
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "routes.toml:1: [[route]]: also given in main.toml:1; keep it in one file"
    );
}

#[test]
fn a_bad_cost_file_line_names_the_cost_file_and_its_line() {
    let text =
        "[[trunk]]\nname = \"big\"\ngateways = [\"sip:gw.example\"]\ncost_file = \"costs.csv\"\n";
    let reader = |_: &str| Some("+49,0.02\n+4930;0.001\n".to_owned());
    let error = Plan::load_with(
        &[PlanSource {
            path: "conf/plan.toml",
            text,
        }],
        &reader,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "conf/costs.csv:2: trunk \"big\": \"+4930;0.001\" is not \"prefix,cost\""
    );
}

#[test]
fn a_plural_slip_in_a_section_name_is_refused_not_ignored() {
    assert_eq!(
        load_error("[groups]\nstaff = [\"a\"]\n\n[[routes]]\nname = \"r\"\nuser = \"b\"\n"),
        "plan.toml:4: [[routes]]: not a routing section; did you mean [[route]]?"
    );
}

#[test]
fn a_group_limit_names_a_known_group_and_a_positive_max_call() {
    assert_eq!(
        load_error("[groups]\nstaff = [\"alice\"]\n\n[group_limits.sales]\nmax_call = 60\n"),
        "plan.toml:4: [group_limits.sales]: no group \"sales\" in [groups]"
    );
    assert_eq!(
        load_error("[groups]\nstaff = [\"alice\"]\n\n[group_limits.staff]\nmax_call = 0\n"),
        "plan.toml:4: [group_limits.staff]: max_call must be a positive number of seconds"
    );
    let unknown = load_error("[groups]\nstaff = [\"alice\"]\n[group_limits.staff]\nmax_cal = 5\n");
    assert!(unknown.contains("unknown field `max_cal`"), "{unknown}");
    let source = PlanSource {
        path: "plan.toml",
        text: "[groups]\nstaff = [\"alice\"]\nboss = [\"alice@example.com\"]\n\
               [group_limits.staff]\nmax_call = 7200\n[group_limits.boss]\nmax_call = 600\n",
    };
    let plan = Plan::load(&[source]).unwrap();
    let minutes = |m: u64| Some(std::time::Duration::from_secs(m * 60));
    assert_eq!(
        plan.max_call("alice", "example.com", &[]),
        minutes(10),
        "the shortest"
    );
    assert_eq!(plan.max_call("alice", "example.org", &[]), minutes(120));
    assert_eq!(plan.max_call("bob", "example.com", &[]), None);
    let stored = ["boss".to_owned(), "elsewhere".to_owned()];
    assert_eq!(
        plan.max_call("bob", "example.com", &stored),
        minutes(10),
        "a group kept in the store counts as the plan's own"
    );
}
