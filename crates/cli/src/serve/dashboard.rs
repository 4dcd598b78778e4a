//! The dashboard's snapshot (`GET /api/v1/events`), read on the driver
//! task from the service, and the calls and registrations per minute it
//! charts, kept from the service's counters.

use switchboard_admin::{
    DASHBOARD_LIST_LIMIT, DashboardCall, DashboardRegistration, DashboardSnapshot, PerMinute,
    Totals,
};
use switchboard_core::Now;
use switchboard_server::registrar::Aor;
use switchboard_server::{LiveCall, Service, ServiceMetrics};

/// The per-minute series, read from the service at the first input of
/// every minute.
#[derive(Debug, Clone, Default)]
pub(crate) struct Activity {
    series: PerMinute,
}

impl Activity {
    /// Reads the counters when a new minute began: called before the
    /// service handles each input (a cheap comparison otherwise).
    pub(crate) fn sample(&mut self, now: Now, service: &Service) {
        let unix_s = now.unix();
        if self.series.is_due(unix_s) {
            self.series.observe(unix_s, totals(&service.metrics()));
        }
    }

    /// What the dashboard shows now.
    pub(crate) fn snapshot(&self, service: &Service, now: Now) -> DashboardSnapshot {
        let unix_s = now.unix();
        let registrar = service.registrar();
        let mut registrations: Vec<DashboardRegistration> = registrar
            .bindings(unix_s)
            .take(DASHBOARD_LIST_LIMIT)
            .map(|b| DashboardRegistration {
                aor: format!("sip:{}", b.aor),
                contact: b.contact.clone(),
                transport: b.source.transport.as_lowercase_token().to_owned(),
                expires_at: b.expires_at,
                user_agent: b.user_agent.as_deref().map(str::to_owned),
            })
            .collect();
        registrations.sort_by(|a, b| (&a.aor, &a.contact).cmp(&(&b.aor, &b.contact)));
        let live = service.live_calls(now);
        let calls_total = live.len();
        DashboardSnapshot {
            registrations_total: registrar.binding_count(),
            registrations,
            calls_total,
            calls: live
                .into_iter()
                .take(DASHBOARD_LIST_LIMIT)
                .map(dashboard_call)
                .collect(),
            trunks: service
                .trunks()
                .states()
                .into_iter()
                .map(super::admin::trunk)
                .collect(),
            per_minute: self.series.series(unix_s, totals(&service.metrics())),
        }
    }
}

/// The counters the series counts.
fn totals(metrics: &ServiceMetrics) -> Totals {
    Totals {
        calls: metrics.call_attempts,
        answered: metrics.call_answers,
        registrations: metrics.registrations,
    }
}

fn dashboard_call(call: LiveCall) -> DashboardCall {
    let name = |user: Option<String>, aor: Option<&Aor>, uri: String| {
        user.or_else(|| aor.map(ToString::to_string)).unwrap_or(uri)
    };
    DashboardCall {
        caller: name(call.caller_user, call.caller_aor.as_ref(), call.caller.uri),
        callee: name(None, call.callee_aor.as_ref(), call.callee.uri),
        call_id: call.call_id,
        state: call.state.as_str().to_owned(),
        start_ms: call.start_ms,
        answer_ms: call.answer_ms,
    }
}
