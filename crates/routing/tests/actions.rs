//! Rewrites, actions, authorization, emergency numbers, DIDs, trunks with
//! least cost and health, fallthrough, and the plan's lookups.
// Tests: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use common::{call, load};
use switchboard_routing::{
    AssumeUp, CallFacts, CallerIdMode, CallerKind, DryCall, GatewayHealth, Outcome, Plan,
    PlanSource, RingStrategy, Route, RouteTarget, TrunkAttempt,
};

const BASE: &str = r#"
[routing]
country_code = "49"
area_code = "30"
emergency = ["112"]
trusted_networks = ["10.9.0.0/16"]
[groups]
staff = ["alice"]
[[site]]
name = "berlin"
networks = ["10.1.0.0/16"]
emergency_trunks = ["berlin-pstn"]
[[ring_group]]
name = "sales"
members = ["alice", "bob@example.org"]
strategy = "sequential"
ring_timeout = 15
[[trunk]]
name = "berlin-pstn"
gateways = ["sip:pstn.berlin.example"]
[[trunk]]
name = "carrier1"
gateways = ["sip:gw1.carrier.example", "sip:192.0.2.10:5080;transport=tcp"]
inbound_networks = ["192.0.2.0/24"]
costs = { "+49" = 0.010, "+4930" = 0.005, "+1" = 0.020 }
[trunk.dids]
"+493012345601" = "user:alice"
"+493012345602" = "group:sales"
[[trunk]]
name = "carrier2"
gateways = ["sip:gw.carrier2.example"]
costs = { "+49" = 0.008 }
[[trunk]]
name = "carrier3"
gateways = ["sip:gw.carrier3.example"]
"#;

fn plan_with(routes: &str) -> Plan {
    load(&format!("{BASE}\n{routes}"))
}

fn route_of(plan: &Plan, facts: &CallFacts<'_>) -> Route {
    match plan.decide(facts, &AssumeUp).outcome {
        Outcome::Route(route) => route,
        other => panic!("expected a route, got {other:?}"),
    }
}

fn trunk_order(target: &RouteTarget) -> Vec<String> {
    match target {
        RouteTarget::Trunks(attempts) => attempts
            .iter()
            .map(|a| format!("{} {}", a.trunk, a.gateway))
            .collect(),
        other => panic!("expected trunks, got {other:?}"),
    }
}

/// Health from a table; gateways not in it are unknown.
struct Table(HashMap<&'static str, bool>);

impl GatewayHealth for Table {
    fn is_up(&self, _trunk: &str, gateway: &str) -> Option<bool> {
        self.0.get(gateway).copied()
    }
}

#[test]
fn rewrites_run_strip_replace_prepend_normalize_in_order_and_are_traced() {
    let plan = plan_with(
        r#"
[[route]]
name = "r"
strip = 1
replace = { pattern = "^9(\\d+)$", with = "$1" }
prepend = "0"
normalize = "e164"
forward = "sip:$number@pstn.example"
"#,
    );
    let decision = plan.decide(&call("X9301234"), &AssumeUp);
    assert_eq!(decision.number, "+49301234");
    assert_eq!(
        decision.trace[1..5],
        [
            "number X9301234 -> 9301234 (strip 1)",
            r#"number 9301234 -> 301234 (replace "^9(\\d+)$" with "$1")"#,
            r#"number 301234 -> 0301234 (prepend "0")"#,
            "number 0301234 -> +49301234 (normalize e164)",
        ]
    );
    match decision.outcome {
        Outcome::Route(route) => assert_eq!(
            route.target,
            RouteTarget::Uri("sip:+49301234@pstn.example".into())
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn normalize_e164_completes_international_national_and_local_numbers() {
    let plan = plan_with("[[route]]\nname = \"r\"\nnormalize = \"e164\"\nuser = \"$number\"\n");
    let number = |to: &str| plan.decide(&call(to), &AssumeUp).number;
    assert_eq!(number("0044123456"), "+44123456");
    assert_eq!(number("04012345"), "+494012345");
    assert_eq!(number("12345"), "+493012345");
    assert_eq!(number("+3312345"), "+3312345");
    assert_eq!(number("alice"), "alice");
}

#[test]
fn user_action_targets_the_named_user_or_the_number() {
    let plan = plan_with(
        "[[route]]\nname = \"r\"\nto = [\"100\"]\nuser = \"bob\"\n[[route]]\nname = \"n\"\nuser = \"$number\"\n",
    );
    assert_eq!(
        route_of(&plan, &call("100")).target,
        RouteTarget::User {
            name: "bob".into(),
            domain: "example.com".into()
        }
    );
    assert_eq!(
        route_of(&plan, &call("carol")).target,
        RouteTarget::User {
            name: "carol".into(),
            domain: "example.com".into()
        }
    );
}

#[test]
fn ring_group_action_lists_members_with_strategy_and_timeout() {
    let plan = plan_with("[[route]]\nname = \"r\"\nring_group = \"sales\"\n");
    assert_eq!(
        route_of(&plan, &call("200")).target,
        RouteTarget::RingGroup {
            name: "sales".into(),
            members: vec![
                ("alice".into(), "example.com".into()),
                ("bob".into(), "example.org".into())
            ],
            strategy: RingStrategy::Sequential,
            ring_timeout: Duration::from_secs(15),
        }
    );
}

#[test]
fn redirect_and_reject_answer_with_their_status() {
    let plan = plan_with(
        r#"
[[route]]
name = "moved"
to = ["300"]
redirect = "sip:$number@other.example"
redirect_status = 301
[[route]]
name = "gone"
to = ["400"]
reject = 404
reason = "Not here"
[[route]]
name = "busy"
reject = 486
"#,
    );
    let decide = |to: &str| plan.decide(&call(to), &AssumeUp);
    assert_eq!(
        decide("300").outcome,
        Outcome::Redirect {
            status: 301,
            uri: "sip:300@other.example".into()
        }
    );
    let gone = decide("400");
    assert!(gone.refuses());
    assert_eq!(
        gone.outcome,
        Outcome::Reject {
            status: 404,
            reason: "Not here".into()
        }
    );
    assert_eq!(
        decide("5").outcome,
        Outcome::Reject {
            status: 486,
            reason: "Rejected by dial plan".into()
        }
    );
}

#[test]
fn trunks_in_order_give_every_gateway_with_its_request_uri() {
    let plan = plan_with("[[route]]\nname = \"out\"\ntrunks = [\"carrier1\", \"carrier3\"]\n");
    match route_of(&plan, &call("+4930123")).target {
        RouteTarget::Trunks(attempts) => assert_eq!(
            attempts,
            vec![
                TrunkAttempt {
                    trunk: "carrier1".into(),
                    gateway: "sip:gw1.carrier.example".into(),
                    request_uri: "sip:+4930123@gw1.carrier.example".into(),
                    up: None,
                },
                TrunkAttempt {
                    trunk: "carrier1".into(),
                    gateway: "sip:192.0.2.10:5080;transport=tcp".into(),
                    request_uri: "sip:+4930123@192.0.2.10:5080;transport=tcp".into(),
                    up: None,
                },
                TrunkAttempt {
                    trunk: "carrier3".into(),
                    gateway: "sip:gw.carrier3.example".into(),
                    request_uri: "sip:+4930123@gw.carrier3.example".into(),
                    up: None,
                },
            ]
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn least_cost_orders_by_longest_prefix_and_puts_trunks_without_cost_last() {
    let plan = plan_with(
        "[[route]]\nname = \"out\"\ntrunks = [\"carrier3\", \"carrier1\", \"carrier2\"]\nlcr = true\n",
    );
    // Berlin: carrier1's +4930 (0.005) beats carrier2's +49 (0.008).
    let berlin = plan.decide(&call("+4930123"), &AssumeUp);
    assert!(berlin.trace.contains(
        &"least cost for +4930123: carrier1 0.005, carrier2 0.008, carrier3 no cost".to_owned()
    ));
    let Outcome::Route(route) = berlin.outcome else {
        panic!()
    };
    assert_eq!(
        trunk_order(&route.target),
        [
            "carrier1 sip:gw1.carrier.example",
            "carrier1 sip:192.0.2.10:5080;transport=tcp",
            "carrier2 sip:gw.carrier2.example",
            "carrier3 sip:gw.carrier3.example"
        ]
    );
    // Hamburg: carrier2's +49 (0.008) beats carrier1's +49 (0.010).
    assert_eq!(
        trunk_order(&route_of(&plan, &call("+4940123")).target)[0],
        "carrier2 sip:gw.carrier2.example"
    );
    // US: only carrier1 has a cost; the others keep their written order.
    assert_eq!(
        trunk_order(&route_of(&plan, &call("+1555")).target),
        [
            "carrier1 sip:gw1.carrier.example",
            "carrier1 sip:192.0.2.10:5080;transport=tcp",
            "carrier3 sip:gw.carrier3.example",
            "carrier2 sip:gw.carrier2.example"
        ]
    );
}

#[test]
fn down_gateways_are_skipped_unless_every_gateway_is_down() {
    let plan = plan_with("[[route]]\nname = \"out\"\ntrunks = [\"carrier1\", \"carrier2\"]\n");
    let health = Table(HashMap::from([
        ("sip:gw1.carrier.example", false),
        ("sip:gw.carrier2.example", true),
    ]));
    let decision = plan.decide(&call("+4930123"), &health);
    assert!(
        decision
            .trace
            .contains(&"carrier1 sip:gw1.carrier.example down: skipped".to_owned())
    );
    assert!(
        decision
            .trace
            .contains(&"carrier1 sip:192.0.2.10:5080;transport=tcp unknown: assumed up".to_owned())
    );
    assert!(
        decision
            .trace
            .contains(&"carrier2 sip:gw.carrier2.example up".to_owned())
    );
    let Outcome::Route(route) = decision.outcome else {
        panic!()
    };
    assert_eq!(
        trunk_order(&route.target),
        [
            "carrier1 sip:192.0.2.10:5080;transport=tcp",
            "carrier2 sip:gw.carrier2.example"
        ]
    );

    let all_down = Table(HashMap::from([
        ("sip:gw1.carrier.example", false),
        ("sip:192.0.2.10:5080;transport=tcp", false),
        ("sip:gw.carrier2.example", false),
    ]));
    let Outcome::Route(route) = plan.decide(&call("+4930123"), &all_down).outcome else {
        panic!()
    };
    assert_eq!(
        trunk_order(&route.target).len(),
        3,
        "all down: all kept, better to try than to refuse"
    );
}

#[test]
fn require_group_refuses_outsiders_with_403_and_the_reason() {
    let plan = plan_with(
        r#"
[[route]]
name = "international"
to_prefix = ["00"]
require_group = "staff"
deny_reason = "International calls need the staff group"
trunks = ["carrier1"]
"#,
    );
    let alice = plan.decide(&call("0044123"), &AssumeUp);
    assert!(matches!(alice.outcome, Outcome::Route(_)));
    assert!(
        alice
            .trace
            .contains(&r#"local user alice@example.com is in group "staff""#.to_owned())
    );
    let bob = CallFacts {
        caller: CallerKind::User {
            name: "bob",
            domain: "example.com",
            groups: &[],
        },
        ..call("0044123")
    };
    let refused = plan.decide(&bob, &AssumeUp);
    assert!(refused.refuses());
    assert_eq!(
        refused.outcome,
        Outcome::Reject {
            status: 403,
            reason: "International calls need the staff group".into()
        }
    );
    assert_eq!(refused.rule.as_deref(), Some("international"));
    assert_eq!(
        refused.trace.last().unwrap(),
        r#"local user bob@example.com is not in group "staff": refused"#
    );
}

#[test]
fn a_group_kept_with_the_user_in_the_store_satisfies_require_group_and_from_group() {
    let plan = plan_with(
        r#"
[[route]]
name = "international"
to_prefix = ["00"]
require_group = "staff"
trunks = ["carrier1"]

[[route]]
name = "staff-line"
to_prefix = ["7"]
from_group = ["staff"]
trunks = ["carrier1"]
"#,
    );
    let stored = ["not-in-plan".to_owned(), "staff".to_owned()];
    let bob = |groups| CallFacts {
        caller: CallerKind::User {
            name: "bob",
            domain: "example.com",
            groups,
        },
        ..call("0044123")
    };
    let routed = plan.decide(&bob(&stored), &AssumeUp);
    assert!(matches!(routed.outcome, Outcome::Route(_)), "{routed:?}");
    assert!(
        routed
            .trace
            .contains(&r#"local user bob@example.com is in group "staff""#.to_owned())
    );
    assert!(plan.decide(&bob(&[]), &AssumeUp).refuses());
    let staff_line = CallFacts {
        to: "7001",
        ..bob(&stored)
    };
    assert_eq!(
        plan.decide(&staff_line, &AssumeUp).rule.as_deref(),
        Some("staff-line")
    );
}

#[test]
fn emergency_numbers_are_never_refused_and_use_the_site_trunks_first() {
    let plan = plan_with(
        r#"
[[route]]
name = "everything"
require_group = "staff"
trunks = ["carrier1"]
"#,
    );
    let bob = CallFacts {
        caller: CallerKind::User {
            name: "bob",
            domain: "example.com",
            groups: &[],
        },
        ..call("112")
    };
    let decision = plan.decide(&bob, &AssumeUp);
    assert_eq!(decision.trace[0], "112 is an emergency number");
    let Outcome::Route(route) = decision.outcome else {
        panic!("emergency refused: {decision:?}")
    };
    assert_eq!(
        trunk_order(&route.target),
        [
            "berlin-pstn sip:pstn.berlin.example",
            "carrier1 sip:gw1.carrier.example",
            "carrier1 sip:192.0.2.10:5080;transport=tcp"
        ]
    );
    // Outside any site: the rule's trunks only.
    let away = CallFacts {
        source: IpAddr::from([10, 3, 0, 1]),
        ..bob
    };
    assert_eq!(
        trunk_order(&route_of(&plan, &away).target)[0],
        "carrier1 sip:gw1.carrier.example"
    );
}

#[test]
fn emergency_numbers_reach_the_site_trunks_when_the_rule_does_not_use_trunks_or_no_rule_matches() {
    let plan = plan_with("[[route]]\nname = \"local\"\nto = [\"112\"]\nuser = \"bob\"\n");
    assert_eq!(
        trunk_order(&route_of(&plan, &call("112")).target),
        ["berlin-pstn sip:pstn.berlin.example"]
    );
    let plan = plan_with("");
    assert_eq!(
        trunk_order(&route_of(&plan, &call("112")).target),
        ["berlin-pstn sip:pstn.berlin.example"]
    );
    assert_eq!(
        plan.decide(&call("113"), &AssumeUp).outcome,
        Outcome::NoRoute
    );
}

#[test]
fn calls_from_a_trunk_to_its_dids_reach_the_did_target_before_any_rule() {
    let plan = plan_with("[[route]]\nname = \"all\"\nreject = 403\n");
    let from_trunk = |to| CallFacts {
        caller: CallerKind::Trunk { name: "carrier1" },
        ..call(to)
    };
    let decision = plan.decide(&from_trunk("+493012345601"), &AssumeUp);
    assert_eq!(
        decision.trace,
        vec!["DID +493012345601 -> user:alice".to_owned()]
    );
    assert_eq!(decision.rule, None);
    let Outcome::Route(route) = decision.outcome else {
        panic!()
    };
    assert_eq!(
        route.target,
        RouteTarget::User {
            name: "alice".into(),
            domain: "example.com".into()
        }
    );
    // National format from the carrier: matched after normalisation.
    let Outcome::Route(route) = plan.decide(&from_trunk("03012345602"), &AssumeUp).outcome else {
        panic!()
    };
    assert_eq!(route.target.label(), "group:sales");
    // Another number, or the same number from a user: the rules decide.
    assert!(
        plan.decide(&from_trunk("+493012345699"), &AssumeUp)
            .refuses()
    );
    assert!(plan.decide(&call("+493012345601"), &AssumeUp).refuses());
}

#[test]
fn fallthrough_targets_resolve_with_the_number() {
    let plan = plan_with(
        r#"
[[route]]
name = "r"
user = "bob"
on_busy = "sip:vm-$number@vm.example.com"
on_no_answer = "user:carol"
no_answer_after = 25
on_unavailable = "trunk:carrier3"
prefer_caller_site = true
"#,
    );
    let route = route_of(&plan, &call("100"));
    assert_eq!(
        route.on_busy,
        Some(RouteTarget::Uri("sip:vm-100@vm.example.com".into()))
    );
    assert_eq!(
        route.on_no_answer,
        Some(RouteTarget::User {
            name: "carol".into(),
            domain: "example.com".into()
        })
    );
    assert_eq!(route.no_answer_after, Some(Duration::from_secs(25)));
    assert_eq!(
        route
            .on_unavailable
            .as_ref()
            .map(RouteTarget::label)
            .as_deref(),
        Some("trunk:carrier3")
    );
    assert!(route.prefer_caller_site);

    let plan =
        plan_with("[[route]]\nname = \"r\"\nuser = \"bob\"\non_no_answer = \"user:carol\"\n");
    assert_eq!(
        route_of(&plan, &call("100")).no_answer_after,
        Some(Duration::from_secs(20)),
        "on_no_answer without no_answer_after rings 20 s"
    );
}

#[test]
fn inbound_trusted_and_sites_are_looked_up_by_address() {
    let plan = plan_with("");
    assert_eq!(
        plan.inbound_trunk(IpAddr::from([192, 0, 2, 77]))
            .map(|t| t.name.as_str()),
        Some("carrier1")
    );
    assert!(plan.inbound_trunk(IpAddr::from([192, 0, 3, 1])).is_none());
    assert!(plan.is_trusted(IpAddr::from([192, 0, 2, 77])));
    assert!(plan.is_trusted(IpAddr::from([10, 9, 1, 1])));
    assert!(!plan.is_trusted(IpAddr::from([10, 1, 1, 1])));
    assert_eq!(plan.site_of(IpAddr::from([10, 1, 1, 1])), Some("berlin"));
    assert_eq!(plan.site_of(IpAddr::from([10, 2, 1, 1])), None);
}

#[test]
fn trunk_specs_carry_credentials_registration_probing_and_defaults() {
    let plan = load(
        r#"
[[trunk]]
name = "carrier1"
gateways = ["sip:gw1.carrier.example:5070;transport=tcp", "sip:gw2.carrier.example"]
username = "acct1"
password = "secret"
register = true
probe = true
probe_interval = 10
caller_id = "+493012345600"
caller_id_mode = "assert"
fresh_call_id = false
inbound_networks = ["192.0.2.0/24"]
[[trunk]]
name = "plain"
gateways = ["sip:gw.plain.example"]
"#,
    );
    let [carrier, plain] = plan.trunks() else {
        panic!()
    };
    let credentials = carrier.credentials.as_ref().unwrap();
    assert_eq!(
        (credentials.username.as_str(), credentials.password.as_str()),
        ("acct1", "secret")
    );
    let register = carrier.register.as_ref().unwrap();
    assert_eq!(register.aor, "sip:acct1@gw1.carrier.example");
    assert_eq!(
        register.registrar,
        "sip:gw1.carrier.example:5070;transport=tcp"
    );
    assert_eq!(register.expires, Duration::from_secs(600));
    let probe = carrier.probe.as_ref().unwrap();
    assert_eq!(
        (probe.interval, probe.up_after, probe.down_after),
        (Duration::from_secs(10), 2, 3)
    );
    assert_eq!(
        carrier.caller_id,
        CallerIdMode::Assert("+493012345600".into())
    );
    assert!(!carrier.fresh_call_id);
    assert_eq!(
        carrier.inbound_networks,
        vec![(IpAddr::from([192, 0, 2, 0]), 24)]
    );
    assert!(!format!("{credentials:?}").contains("secret"));

    assert_eq!(plain.credentials, None);
    assert_eq!(plain.register, None);
    assert_eq!(plain.probe, None);
    assert_eq!(plain.failover_after, Duration::from_secs(5));
    assert_eq!(plain.caller_id, CallerIdMode::Keep);
    assert!(plain.fresh_call_id);
}

#[test]
fn an_empty_plan_routes_nothing_and_a_version_follows_the_text() {
    let empty = load("[server]\nlisten = 1\n[routing]\ntimezone = \"UTC\"\n");
    assert!(empty.is_empty());
    assert_eq!(
        empty.decide(&call("100"), &AssumeUp).outcome,
        Outcome::NoRoute
    );
    let plan = plan_with("");
    assert!(!plan.is_empty());
    assert_eq!(plan.version().len(), 12);
    assert_eq!(plan.version(), plan_with("").version());
    assert_ne!(
        plan.version(),
        plan_with("[[route]]\nname = \"x\"\nuser = \"bob\"\n").version()
    );
}

#[test]
fn the_plan_may_be_split_over_two_files() {
    let main =
        "[server]\nport = 5060\n[routing]\nplan = \"routes.toml\"\n[groups]\nstaff = [\"alice\"]\n";
    let routes = "[[route]]\nname = \"staff\"\nfrom_group = [\"staff\"]\nuser = \"bob\"\n";
    let plan = Plan::load(&[
        PlanSource {
            path: "main.toml",
            text: main,
        },
        PlanSource {
            path: "routes.toml",
            text: routes,
        },
    ])
    .unwrap();
    assert_eq!(
        plan.decide(&call("1"), &AssumeUp).rule.as_deref(),
        Some("staff")
    );
}

#[test]
fn cost_files_are_read_through_the_reader_relative_to_the_plan() {
    let text = "[[trunk]]\nname = \"big\"\ngateways = [\"sip:gw.example\"]\ncost_file = \"costs.csv\"\n[[trunk]]\nname = \"small\"\ngateways = [\"sip:gw2.example\"]\ncosts = { \"+49\" = 0.01 }\n[[route]]\nname = \"out\"\ntrunks = [\"small\", \"big\"]\nlcr = true\n";
    let reader = |path: &str| {
        (path == "/etc/sb/costs.csv").then(|| "# prefix,cost\n+49,0.02\n+4930,0.001\n".to_owned())
    };
    let plan = Plan::load_with(
        &[PlanSource {
            path: "/etc/sb/plan.toml",
            text,
        }],
        &reader,
    )
    .unwrap();
    assert_eq!(
        trunk_order(&route_of(&plan, &call("+4930123")).target)[0],
        "big sip:gw.example"
    );
    assert_eq!(
        trunk_order(&route_of(&plan, &call("+4940123")).target)[0],
        "small sip:gw2.example"
    );
    let changed = |path: &str| (path == "/etc/sb/costs.csv").then(|| "+49,0.03\n".to_owned());
    let other = Plan::load_with(
        &[PlanSource {
            path: "/etc/sb/plan.toml",
            text,
        }],
        &changed,
    )
    .unwrap();
    assert_ne!(
        plan.version(),
        other.version(),
        "the cost file is part of the version"
    );
}

#[test]
fn a_dry_run_decides_as_the_server_would() {
    let plan = plan_with("[[route]]\nname = \"staff\"\nfrom_group = [\"staff\"]\nuser = \"bob\"\n");
    let served = vec!["example.com".to_owned()];
    let dry = DryCall {
        from: "sip:alice@example.com",
        to: "100",
        source: IpAddr::from([10, 1, 2, 3]),
        transport: "udp",
        at_unix: plan.parse_at("2026-12-07T10:00:00").unwrap(),
        trunk: None,
        groups: &[],
    };
    let local = plan.dry_run(&dry, &served, &AssumeUp);
    assert_eq!(
        local.rule.as_deref(),
        Some("staff"),
        "alice of a served domain is a local user"
    );
    let foreign = plan.dry_run(
        &DryCall {
            from: "sip:alice@elsewhere.example",
            ..dry
        },
        &served,
        &AssumeUp,
    );
    assert_eq!(foreign.rule, None);
    let from_carrier = DryCall {
        to: "+493012345601",
        source: IpAddr::from([192, 0, 2, 9]),
        ..dry
    };
    assert_eq!(
        plan.dry_run(&from_carrier, &served, &AssumeUp).trace,
        ["DID +493012345601 -> user:alice"],
        "a source in a trunk's inbound networks is that trunk's call"
    );
    assert_eq!(plan.parse_at("2026-12-07T10:00:00Z"), Some(1_796_637_600));
    assert_eq!(
        plan.parse_at("2026-12-07T11:00:00+01:00"),
        Some(1_796_637_600)
    );
    assert_eq!(plan.parse_at("monday"), None);
}
