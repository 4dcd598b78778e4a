//! `Plan::decide`: DIDs, then the rules in order, then the action with
//! emergency, authorization, rewrites, trunk order and health applied.

use crate::call_view::CallView;
use crate::number::at_gateway;
use crate::rule::{Action, Rule};
use crate::target::TargetSpec;
use crate::trace::Trace;
use crate::{
    CallFacts, CallerKind, Decision, GatewayHealth, Outcome, Plan, Route, RouteTarget, TrunkAttempt,
};

/// The status a rule's `require_group` answers a caller outside it.
const FORBIDDEN: u16 = 403;

impl Plan {
    /// Decides where a call goes, with the full trace (dry runs, logs).
    pub fn decide(&self, call: &CallFacts<'_>, health: &dyn GatewayHealth) -> Decision {
        self.decide_traced(call, health, Trace::new(true))
    }

    /// Decides exactly as [`Plan::decide`] but without the trace (it is
    /// left empty) and skipping, through an index on the dialled number,
    /// rules whose `to`/`to_prefix`/`to_range` cannot match: the call
    /// path of a server with a big plan.
    pub fn decide_untraced(&self, call: &CallFacts<'_>, health: &dyn GatewayHealth) -> Decision {
        self.decide_traced(call, health, Trace::new(false))
    }

    fn decide_traced(
        &self,
        call: &CallFacts<'_>,
        health: &dyn GatewayHealth,
        mut trace: Trace,
    ) -> Decision {
        let view = CallView::new(self, call);
        let emergency = self.is_emergency(call.to);
        if emergency {
            trace.note(|| format!("{} is an emergency number", call.to));
        }
        if let Some(decision) = self.did(&view, health, &mut trace) {
            return decision;
        }
        let matched = if trace.is_on() {
            self.rules
                .iter()
                .find(|rule| rule.matches(&view, &mut trace))
        } else {
            self.index
                .candidates(call.to)
                .filter_map(|index| self.rules.get(index))
                .find(|rule| rule.matches(&view, &mut trace))
        };
        if let Some(rule) = matched {
            return self.apply(rule, &view, emergency, health, trace);
        }
        trace.note(|| "no rule matched".to_owned());
        let site_trunks = self.emergency_trunks(&view, emergency);
        if !site_trunks.is_empty() {
            trace.note(|| "emergency: the caller's site's emergency trunks".to_owned());
            let target = self.trunk_attempts(site_trunks, &[], false, call.to, health, &mut trace);
            return Decision {
                outcome: Outcome::Route(self.bare_route(target)),
                rule: None,
                number: call.to.to_owned(),
                trace: trace.into_lines(),
            };
        }
        Decision {
            outcome: Outcome::NoRoute,
            rule: None,
            number: call.to.to_owned(),
            trace: trace.into_lines(),
        }
    }

    /// A call from a trunk to one of its DIDs.
    fn did(
        &self,
        view: &CallView<'_, '_>,
        health: &dyn GatewayHealth,
        trace: &mut Trace,
    ) -> Option<Decision> {
        let CallerKind::Trunk { name } = view.call.caller else {
            return None;
        };
        let routing = self.trunk_routing.get(self.trunk_named(name)?)?;
        if routing.dids.is_empty() {
            return None;
        }
        let dialled = view.call.to;
        let normalized = self.numbering.e164(dialled);
        let (number, spec) = [dialled, normalized.as_str()]
            .into_iter()
            .find_map(|number| routing.dids.get(number).map(|spec| (number, spec)))?;
        trace.note(|| format!("DID {number} -> {spec}"));
        let target = self.resolve(spec, number, view, health, trace);
        Some(Decision {
            outcome: Outcome::Route(self.bare_route(target)),
            rule: None,
            number: number.to_owned(),
            trace: std::mem::take(trace).into_lines(),
        })
    }

    /// What a matching rule does.
    fn apply(
        &self,
        rule: &Rule,
        view: &CallView<'_, '_>,
        emergency: bool,
        health: &dyn GatewayHealth,
        mut trace: Trace,
    ) -> Decision {
        let call = view.call;
        let decided = |outcome, number: String, trace: Trace| Decision {
            outcome,
            rule: Some(rule.name.clone()),
            number,
            trace: trace.into_lines(),
        };
        if let Some(group) = &rule.require_group {
            let caller = || view.caller_text();
            if view.in_group(group) {
                trace.note(|| format!("{} is in group {group:?}", caller()));
            } else if emergency {
                trace.note(|| {
                    format!(
                        "{} is not in group {group:?}: allowed, emergency number",
                        caller()
                    )
                });
            } else {
                trace.note(|| format!("{} is not in group {group:?}: refused", caller()));
                let outcome = Outcome::Reject {
                    status: FORBIDDEN,
                    reason: rule.deny_reason.clone(),
                };
                return decided(outcome, call.to.to_owned(), trace);
            }
        }
        let number = rule.rewrite(call.to, &self.numbering, &mut trace);
        let site_trunks = self.emergency_trunks(view, emergency);
        let target = match &rule.action {
            Action::Trunks { trunks, lcr } => {
                self.trunk_attempts(site_trunks, trunks, *lcr, &number, health, &mut trace)
            }
            _ if !site_trunks.is_empty() => {
                // No voicemail or forwarding for an emergency call: the
                // site's trunks alone.
                trace.note(|| {
                    "emergency: the caller's site's trunks instead of the rule's action".to_owned()
                });
                let target =
                    self.trunk_attempts(site_trunks, &[], false, &number, health, &mut trace);
                trace.note(|| format!("target {}", target.label()));
                return decided(Outcome::Route(self.bare_route(target)), number, trace);
            }
            Action::Reject { status, reason } => {
                trace.note(|| format!("reject {status} {reason}"));
                return decided(
                    Outcome::Reject {
                        status: *status,
                        reason: reason.clone(),
                    },
                    number,
                    trace,
                );
            }
            Action::Redirect { status, uri } => {
                let uri = with_number(uri, &number);
                trace.note(|| format!("redirect {status} {uri}"));
                return decided(
                    Outcome::Redirect {
                        status: *status,
                        uri,
                    },
                    number,
                    trace,
                );
            }
            Action::User(name) => self.user_target(name, &number, view),
            Action::RingGroup(group) => group.target(view.call.to_domain),
            Action::Forward(uri) => RouteTarget::Uri(with_number(uri, &number)),
        };
        trace.note(|| format!("target {}", target.label()));
        let fallthrough = |spec: &Option<TargetSpec>, when: &str, trace: &mut Trace| {
            spec.as_ref().map(|spec| {
                trace.note(|| format!("{when}: {spec}"));
                self.resolve(spec, &number, view, health, trace)
            })
        };
        let on_busy = fallthrough(&rule.on_busy, "on busy", &mut trace);
        let on_no_answer = fallthrough(&rule.on_no_answer, "on no answer", &mut trace);
        let on_unavailable = fallthrough(&rule.on_unavailable, "on unavailable", &mut trace);
        let route = Route {
            target,
            on_busy,
            on_no_answer,
            no_answer_after: rule.no_answer_after,
            on_unavailable,
            prefer_caller_site: rule.prefer_caller_site,
        };
        decided(Outcome::Route(route), number, trace)
    }

    /// A route without fallthrough (DIDs, emergency without a rule).
    fn bare_route(&self, target: RouteTarget) -> Route {
        Route {
            target,
            on_busy: None,
            on_no_answer: None,
            no_answer_after: None,
            on_unavailable: None,
            prefer_caller_site: self.prefer_caller_site,
        }
    }

    /// The caller's site's emergency trunks, for an emergency number.
    fn emergency_trunks(&self, view: &CallView<'_, '_>, emergency: bool) -> &[usize] {
        if !emergency {
            return &[];
        }
        view.site()
            .and_then(|name| self.sites.iter().find(|site| site.name == name))
            .map_or(&[], |site| site.emergency_trunks.as_slice())
    }

    /// A fallthrough or DID target for the call.
    fn resolve(
        &self,
        spec: &TargetSpec,
        number: &str,
        view: &CallView<'_, '_>,
        health: &dyn GatewayHealth,
        trace: &mut Trace,
    ) -> RouteTarget {
        match spec {
            TargetSpec::User(name) => self.user_target(name, number, view),
            TargetSpec::Group(group) => group.target(view.call.to_domain),
            TargetSpec::Uri(uri) => RouteTarget::Uri(with_number(uri, number)),
            TargetSpec::Trunk { index, .. } => {
                self.trunk_attempts(&[], &[*index], false, number, health, trace)
            }
        }
    }

    fn user_target(&self, name: &str, number: &str, view: &CallView<'_, '_>) -> RouteTarget {
        let name = if name == "$number" { number } else { name };
        RouteTarget::User {
            name: name.to_owned(),
            domain: view.call.to_domain.to_owned(),
        }
    }

    /// The carrier attempts: `first` (a site's emergency trunks), then
    /// `trunks` in order or by cost; every gateway of each, down ones
    /// skipped unless every one is down.
    fn trunk_attempts(
        &self,
        first: &[usize],
        trunks: &[usize],
        lcr: bool,
        number: &str,
        health: &dyn GatewayHealth,
        trace: &mut Trace,
    ) -> RouteTarget {
        let mut order: Vec<usize> = first.to_vec();
        let rest = if lcr {
            self.by_cost(trunks, number, trace)
        } else {
            trunks.to_vec()
        };
        for index in rest {
            if !order.contains(&index) {
                order.push(index);
            }
        }
        let candidates: Vec<(&str, &str, Option<bool>)> = order
            .iter()
            .filter_map(|&index| self.trunks.get(index))
            .flat_map(|trunk| {
                trunk.gateways.iter().map(|gateway| {
                    let up = health.is_up(&trunk.name, &gateway.uri);
                    (trunk.name.as_str(), gateway.uri.as_str(), up)
                })
            })
            .collect();
        let all_down = candidates.iter().all(|(_, _, up)| *up == Some(false));
        let mut attempts = Vec::with_capacity(candidates.len());
        for (trunk, gateway, up) in candidates {
            let state = match up {
                Some(true) => "up",
                None => "unknown: assumed up",
                Some(false) if all_down => "down: tried anyway (every gateway is down)",
                Some(false) => "down: skipped",
            };
            trace.note(|| format!("{trunk} {gateway} {state}"));
            if up != Some(false) || all_down {
                attempts.push(TrunkAttempt {
                    trunk: trunk.to_owned(),
                    gateway: gateway.to_owned(),
                    request_uri: at_gateway(number, gateway),
                    up,
                });
            }
        }
        RouteTarget::Trunks(attempts)
    }

    /// `trunks` by the cost of their longest prefix of `number`, cheapest
    /// first; trunks without a cost go last in their written order.
    fn by_cost(&self, trunks: &[usize], number: &str, trace: &mut Trace) -> Vec<usize> {
        let mut costed: Vec<(usize, Option<f64>)> = trunks
            .iter()
            .map(|&index| {
                (
                    index,
                    self.trunk_routing
                        .get(index)
                        .and_then(|r| r.costs.cost(number)),
                )
            })
            .collect();
        costed.sort_by(|(_, a), (_, b)| match (a, b) {
            (Some(a), Some(b)) => a.total_cmp(b),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
        trace.note(|| {
            let listed: Vec<String> = costed
                .iter()
                .map(|(index, cost)| {
                    let name = self.trunks.get(*index).map_or("?", |t| t.name.as_str());
                    match cost {
                        Some(cost) => format!("{name} {cost}"),
                        None => format!("{name} no cost"),
                    }
                })
                .collect();
            format!("least cost for {number}: {}", listed.join(", "))
        });
        costed.into_iter().map(|(index, _)| index).collect()
    }
}

/// `$number` in a URI's user part replaced by the routed number.
fn with_number(uri: &str, number: &str) -> String {
    uri.replace("$number", number)
}
