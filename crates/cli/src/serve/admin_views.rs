//! The admin API's larger answers, computed on the driver task: one page
//! of the bindings (never the whole registrar copied), the presence
//! published per presentity, a dry run of the plan in force.

use std::collections::BTreeSet;

use switchboard_admin::{
    AdminAnswer, Presence, RegistrationPage, RouteTest, RouteTested, UserFilter,
};
use switchboard_core::Now;
use switchboard_routing::{AssumeUp, DryCall, Outcome};
use switchboard_server::Service;
use switchboard_server::bodies::parse_pidf;
use switchboard_server::registrar::{Aor, Binding};

use super::admin::{is_of, registration};
use super::aor_index::AorIndex;

/// The event package of presence publications.
const PRESENCE: &str = "presence";

/// The bindings after the address of record `after`, by address of
/// record, at most `limit` of them, a user's bindings never split between
/// pages (unless one user alone has more than `limit`): every user's
/// through the index, one user's by looking its address up in each domain.
pub(crate) fn registrations_page(
    service: &Service,
    index: &mut AorIndex,
    now: Now,
    user: Option<&UserFilter>,
    after: Option<&str>,
    limit: usize,
) -> RegistrationPage {
    let unix_now = now.unix();
    let (page, next) = match user {
        None => index.page(service, now.instant(), unix_now, after, limit.max(1)),
        Some(filter) => {
            let registrar = service.registrar();
            let mut domains: Vec<String> = match filter.domain() {
                Some(domain) => vec![domain.to_owned()],
                None => registrar
                    .config()
                    .domains
                    .iter()
                    .map(|d| d.to_ascii_lowercase())
                    .collect(),
            };
            domains.sort_unstable();
            domains.dedup();
            let mut page: Vec<&Binding> = domains
                .iter()
                .filter_map(|domain| Aor::new(filter.user(), domain).ok())
                .filter(|aor| after.is_none_or(|a| aor.as_str() > a))
                .flat_map(|aor| registrar.lookup(&aor, unix_now))
                .filter(|b| is_of(b, user))
                .collect();
            page.sort_unstable_by(|a, b| {
                a.aor
                    .as_str()
                    .cmp(b.aor.as_str())
                    .then_with(|| a.key.cmp(&b.key))
            });
            // A user has few bindings (the contact limit): one page.
            (page, None)
        }
    };
    RegistrationPage {
        items: page.iter().map(|b| registration(b, unix_now)).collect(),
        next,
    }
}

/// The presence published per presentity (of `user` only, when given):
/// open when any publication is, the newest note, every activity.
pub(crate) fn presence(
    service: &Service,
    unix_now: u64,
    user: Option<&UserFilter>,
) -> Vec<Presence> {
    let publications = service.publications();
    let presentities: BTreeSet<String> = publications
        .iter()
        .filter(|p| p.event == PRESENCE)
        .map(|p| p.aor.to_ascii_lowercase())
        .filter(|aor| {
            let address = aor.strip_prefix("sip:").unwrap_or(aor);
            user.is_none_or(|f| {
                address
                    .split_once('@')
                    .is_some_and(|(u, d)| f.matches(u, d))
            })
        })
        .collect();
    presentities
        .into_iter()
        .map(|aor| {
            // Oldest first: a later note wins.
            let records = publications.of(&aor, PRESENCE);
            let documents: Vec<_> = records
                .iter()
                .filter_map(|r| parse_pidf(&r.body).ok())
                .collect();
            let basics: Vec<_> = documents.iter().filter_map(|d| d.basic()).collect();
            let basic = if basics.iter().any(|b| b.as_str() == "open") {
                Some("open")
            } else {
                basics.first().map(|b| b.as_str())
            };
            let mut activities: Vec<String> =
                documents.iter().flat_map(|d| d.activities()).collect();
            activities.sort_unstable();
            activities.dedup();
            let expires_at = records.iter().map(|r| r.expires_unix).max().unwrap_or(0);
            Presence {
                basic: basic.map(str::to_owned),
                note: documents.iter().rev().find_map(|d| d.note()),
                activities,
                publications: records.len(),
                expires_at,
                expires_in: expires_at.saturating_sub(unix_now),
                presentity: aor,
            }
        })
        .collect()
}

/// `call` decided by the plan in force for the served domains, as `route
/// test` does (gateways assumed up).
pub(crate) fn route_test(service: &Service, unix_now: u64, call: &RouteTest) -> AdminAnswer {
    let plan = service.plan();
    let at_unix = match call.time.as_deref() {
        None => i64::try_from(unix_now).unwrap_or(i64::MAX),
        Some(text) => match plan.parse_at(text) {
            Some(at) => at,
            None => return AdminAnswer::RouteTimeRefused(text.to_owned()),
        },
    };
    let domains = &service.registrar().config().domains;
    // The caller's stored groups, when a local user of a served domain.
    let sip = switchboard_proto::Uri::parse(&call.from).ok();
    let groups = sip
        .as_ref()
        .and_then(|uri| uri.as_sip())
        .and_then(|sip| {
            let domain = domains
                .iter()
                .find(|d| d.eq_ignore_ascii_case(sip.host.as_str()))?;
            Some(service.stored_groups(sip.user?, domain))
        })
        .unwrap_or(&[]);
    let dry = DryCall {
        from: &call.from,
        to: &call.number,
        source: call
            .source
            .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1])),
        transport: call.transport.as_deref().unwrap_or("udp"),
        at_unix,
        trunk: call.trunk.as_deref(),
        groups,
    };
    let decision = plan.dry_run(&dry, domains, &AssumeUp);
    let (outcome, status) = match &decision.outcome {
        Outcome::Route(_) => ("route", None),
        Outcome::Reject { status, .. } => ("reject", Some(*status)),
        Outcome::Redirect { status, .. } => ("redirect", Some(*status)),
        _ => ("no-route", None),
    };
    AdminAnswer::RouteTested(RouteTested {
        plan: plan.version().to_owned(),
        outcome: outcome.to_owned(),
        status,
        refused: decision.refuses(),
        text: decision.render(),
        rule: decision.rule,
        number: decision.number,
        trace: decision.trace,
    })
}
