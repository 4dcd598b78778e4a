//! Decision time with a big plan: 10,000 rules and 100,000 cost prefixes
//! (generated here), the deciding rule late in the list; and the time to
//! load that plan (what a reload costs).
// Benchmarks: a plan that does not load is a broken benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::net::IpAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_routing::{AssumeUp, CallFacts, CallerKind, Outcome, Plan, PlanSource};

const RULES: usize = 10_000;
const PREFIXES: usize = 100_000;

/// The plan text: 9,999 rules that do not match an international call,
/// then the international rule with least cost over two trunks.
fn plan_text() -> String {
    let mut text = String::from(
        "[routing]\ntimezone = \"Europe/Berlin\"\ncountry_code = \"49\"\narea_code = \"30\"\n\
         [groups]\nstaff = [\"alice\"]\n\
         [[trunk]]\nname = \"a\"\ngateways = [\"sip:gw1.a.example\", \"sip:gw2.a.example\"]\ncost_file = \"a.csv\"\n\
         [[trunk]]\nname = \"b\"\ngateways = [\"sip:gw.b.example\"]\ncost_file = \"b.csv\"\n",
    );
    for index in 0..RULES - 1 {
        let _ = write!(text, "[[route]]\nname = \"r{index}\"\n");
        let _ = match index % 4 {
            0 => writeln!(text, "to_prefix = [\"9{index:05}\"]"),
            1 => writeln!(text, "to_range = [\"8{index:05}000-8{index:05}999\"]"),
            2 => writeln!(text, "domain = [\"d{index}.example\"]"),
            _ => writeln!(text, "to = [\"7{index:05}\"]\ntime = [\"08:00-18:00\"]"),
        };
        text.push_str("user = \"bob\"\n");
    }
    text.push_str(
        "[[route]]\nname = \"international\"\nto_prefix = [\"00\"]\nrequire_group = \"staff\"\n\
         normalize = \"e164\"\ntrunks = [\"a\", \"b\"]\nlcr = true\n",
    );
    text
}

/// `PREFIXES / 2` prefixes per trunk: `+` and 2 to 7 digits.
fn cost_file(seed: usize) -> String {
    let mut text = String::new();
    for index in 0..PREFIXES / 2 {
        let digits = 2 + index % 6;
        let number = (index * 7919 + seed * 104_729) % 10_usize.pow(u32::try_from(digits).unwrap());
        let _ = writeln!(text, "+{number:0digits$},0.{:03}", (index + seed) % 997);
    }
    text
}

fn load(text: &str, a: &str, b: &str) -> Plan {
    let reader = |path: &str| match path {
        "a.csv" => Some(a.to_owned()),
        "b.csv" => Some(b.to_owned()),
        _ => None,
    };
    Plan::load_with(
        &[PlanSource {
            path: "plan.toml",
            text,
        }],
        &reader,
    )
    .unwrap()
}

fn decide(c: &mut Criterion) {
    let (text, a, b) = (plan_text(), cost_file(1), cost_file(2));
    let plan = load(&text, &a, &b);
    let call = CallFacts {
        to: "00442071234567",
        to_domain: "example.com",
        from_uri: "sip:alice@example.com",
        anonymous: false,
        caller: CallerKind::User {
            name: "alice",
            domain: "example.com",
            groups: &[],
        },
        source: IpAddr::from([10, 1, 2, 3]),
        transport: "udp",
        at_unix: 1_796_637_600,
    };
    let decision = plan.decide(&call, &AssumeUp);
    assert_eq!(decision.rule.as_deref(), Some("international"));
    assert!(matches!(decision.outcome, Outcome::Route(_)));
    assert_eq!(
        plan.decide_untraced(&call, &AssumeUp).outcome,
        decision.outcome
    );

    c.bench_function("decide/rule_10000_of_10000_lcr_100k_prefixes", |bench| {
        bench.iter(|| black_box(plan.decide(black_box(&call), &AssumeUp)));
    });
    c.bench_function(
        "decide_untraced/rule_10000_of_10000_lcr_100k_prefixes",
        |bench| {
            bench.iter(|| black_box(plan.decide_untraced(black_box(&call), &AssumeUp)));
        },
    );
    let local = CallFacts {
        to: "900000",
        ..call
    };
    c.bench_function("decide/rule_1_of_10000", |bench| {
        bench.iter(|| black_box(plan.decide(black_box(&local), &AssumeUp)));
    });
    c.bench_function("decide_untraced/rule_1_of_10000", |bench| {
        bench.iter(|| black_box(plan.decide_untraced(black_box(&local), &AssumeUp)));
    });

    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("rules_10000_prefixes_100k", |bench| {
        bench.iter(|| black_box(load(&text, &a, &b)));
    });
    group.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
