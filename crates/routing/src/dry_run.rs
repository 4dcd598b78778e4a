//! A call described the way an operator types it (`switchboard route
//! test --from URI --to NUMBER`), turned into the facts the server would
//! establish, so that `route test` and `[[test]]` cases decide alike.

use std::net::IpAddr;

use crate::number::{host_part, user_part};
use crate::{CallFacts, CallerKind, Decision, GatewayHealth, Plan};

/// A call to decide without a server.
#[derive(Debug, Clone, Copy)]
pub struct DryCall<'a> {
    /// The caller's URI: a local user when its domain is served.
    pub from: &'a str,
    /// The dialled number or user, or a SIP URI (its user and host).
    pub to: &'a str,
    /// Where it comes from: a trunk's inbound network makes it that
    /// trunk's call, as in the server.
    pub source: IpAddr,
    /// `udp`, `tcp`, `tls`, `ws`, `wss`.
    pub transport: &'a str,
    /// When.
    pub at_unix: i64,
    /// The call comes from this trunk (whatever the source).
    pub trunk: Option<&'a str>,
    /// The groups the store keeps for the caller, when a local user (on
    /// top of the plan's `[groups]`); none where no store is at hand.
    pub groups: &'a [String],
}

impl Plan {
    /// Decides `call` as the server would for the domains it serves
    /// (`served_domains`: whose callers are local users), with the trace.
    pub fn dry_run(
        &self,
        call: &DryCall<'_>,
        served_domains: &[String],
        health: &dyn GatewayHealth,
    ) -> Decision {
        let from_user = user_part(call.from);
        let from_host = host_part(call.from);
        let served = served_domains
            .iter()
            .find(|domain| domain.eq_ignore_ascii_case(from_host));
        let inbound = call.trunk.or_else(|| {
            self.inbound_trunk(call.source)
                .map(|trunk| trunk.name.as_str())
        });
        let caller = match (inbound, served) {
            (Some(trunk), _) => CallerKind::Trunk { name: trunk },
            (None, Some(_)) => CallerKind::User {
                name: from_user,
                domain: from_host,
                groups: call.groups,
            },
            (None, None) => CallerKind::Foreign,
        };
        let default_domain = served
            .or_else(|| served_domains.first())
            .map_or("localhost", String::as_str);
        let (to, to_domain) = if call.to.contains(':') {
            (user_part(call.to), host_part(call.to))
        } else {
            (call.to, default_domain)
        };
        let facts = CallFacts {
            to,
            to_domain,
            from_uri: call.from,
            anonymous: from_user.eq_ignore_ascii_case("anonymous")
                || from_host.eq_ignore_ascii_case("anonymous.invalid"),
            caller,
            source: call.source,
            transport: call.transport,
            at_unix: call.at_unix,
        };
        self.decide(&facts, health)
    }
}
