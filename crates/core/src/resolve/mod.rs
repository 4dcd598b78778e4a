//! RFC 3263 server location, sans-IO: from a SIP URI to the ordered list of
//! (transport, address) targets to try in turn, and the fail-over along
//! them (§4.3).
//!
//! The DNS lookups are not done here. [`Resolution`] says which query to
//! make next ([`Resolution::poll_query`]) and takes its answer
//! ([`Resolution::handle_answer`]); a runtime (`switchboard-net`'s
//! resolver over hickory) or a test with fixed records does the lookups.
//! SRV weights are drawn from an injected RNG.
//!
//! - Numeric host: that address, the port given or the transport's default.
//! - `transport=` is respected (with `sips:` TCP means TLS, WS means WSS).
//! - A domain with a port: A/AAAA only.
//! - A domain with a transport but no port: SRV for that transport, else
//!   A/AAAA with the default port.
//! - A domain with neither: NAPTR (services `SIP+D2U`, `SIP+D2T`,
//!   `SIPS+D2T`, `SIP+D2W`, `SIPS+D2W`) by order and preference; without
//!   NAPTR, SRV `_sip._udp`, `_sip._tcp` (or `_sips._tcp` for `sips:`); SRV
//!   records by priority, then weighted random (RFC 2782); without SRV,
//!   A/AAAA with port 5060 (5061 for TLS).
//!
//! [`Failover`] walks the targets: which one is next after an attempt
//! failed with a transport error, a timeout or a 503.

mod error;
mod failover;
mod plan;
mod records;
mod resolution;
mod target;

pub use error::ResolveError;
pub use failover::{AttemptOutcome, Failover};
pub use plan::{Plan, default_port, next_hop, plan};
pub use records::{NaptrRecord, SrvRecord, naptr_targets, order_srv, srv_names};
pub use resolution::{Answer, Query, Resolution};
pub use target::Target;

#[cfg(test)]
mod tests;
