//! Helpers shared by the plan's tests: load a plan from text, build a
//! call's facts with sensible defaults.
#![allow(dead_code)]

use std::net::IpAddr;

use switchboard_routing::{CallFacts, CallerKind, Plan, PlanSource};

/// 2026-12-07T10:00:00Z, a Monday.
pub(crate) const MONDAY_10_UTC: i64 = 1_796_637_600;

pub(crate) fn load(text: &str) -> Plan {
    match Plan::load(&[PlanSource {
        path: "plan.toml",
        text,
    }]) {
        Ok(plan) => plan,
        Err(error) => panic!("plan does not load: {error}"),
    }
}

pub(crate) fn load_error(text: &str) -> String {
    match Plan::load(&[PlanSource {
        path: "plan.toml",
        text,
    }]) {
        Ok(_) => panic!("plan loads, expected an error"),
        Err(error) => error.to_string(),
    }
}

/// alice@example.com calling `to` from 10.1.2.3 over UDP on Monday 10:00 UTC.
pub(crate) fn call(to: &str) -> CallFacts<'_> {
    CallFacts {
        to,
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
        at_unix: MONDAY_10_UTC,
    }
}
