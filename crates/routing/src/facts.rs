//! What the plan knows about a call when it decides.

use std::net::IpAddr;

/// Who placed the call, as the server established it before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallerKind<'a> {
    /// A local user who authenticated: in the groups the plan's
    /// `[groups]` gives her and in her stored `groups`.
    User {
        /// The user name.
        name: &'a str,
        /// The user's domain.
        domain: &'a str,
        /// The groups kept with the user in the store (the server passes
        /// them; any name, in the plan or not).
        groups: &'a [String],
    },
    /// A call that came from a trunk's inbound networks.
    Trunk {
        /// The trunk's name.
        name: &'a str,
    },
    /// Anyone else (another domain, not challenged).
    Foreign,
}

/// The facts of one call attempt.
#[derive(Debug, Clone, Copy)]
pub struct CallFacts<'a> {
    /// The called user part (a number or a name) of the Request-URI, as
    /// dialled.
    pub to: &'a str,
    /// The Request-URI's host.
    pub to_domain: &'a str,
    /// The caller ID: the P-Asserted-Identity URI when the caller is
    /// trusted to send one, else the From URI.
    pub from_uri: &'a str,
    /// The caller asked for privacy or sent an anonymous From
    /// (`anonymous@anonymous.invalid`, `Privacy: id`).
    pub anonymous: bool,
    /// Who placed it.
    pub caller: CallerKind<'a>,
    /// Where it came from.
    pub source: IpAddr,
    /// The transport it came over, lower case: `udp`, `tcp`, `tls`, `ws`,
    /// `wss`.
    pub transport: &'a str,
    /// When, in seconds since the Unix epoch (the plan's time zone turns
    /// it into a local time of day, weekday and date).
    pub at_unix: i64,
}
