//! What the URI alone decides (RFC 3263 §4.1, §4.2), and which URI that is
//! for a request (RFC 3261 §8.1.2).

use std::net::{IpAddr, SocketAddr};

use switchboard_proto::header::NameAddr;
use switchboard_proto::uri::HostKind;
use switchboard_proto::{HeaderName, Request, SipUri, Uri};

use super::{ResolveError, Target};
use crate::Transport;

/// What the URI alone decides (RFC 3263 §4.1, §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// A numeric host: the one target.
    Direct(Target),
    /// A/AAAA of `host`, with this transport and port.
    Address {
        /// The domain.
        host: String,
        /// The transport.
        transport: Transport,
        /// The port.
        port: u16,
    },
    /// SRV for this transport, else A/AAAA with its default port.
    Srv {
        /// The domain.
        host: String,
        /// The transport.
        transport: Transport,
    },
    /// NAPTR, else SRV per transport, else A/AAAA.
    Naptr {
        /// The domain.
        host: String,
        /// `sips:`: only TLS transports.
        secure: bool,
    },
}

/// The default port of a transport: 5060, 5061 for TLS, 80/443 for WS/WSS.
pub fn default_port(transport: Transport) -> u16 {
    match transport {
        Transport::Udp | Transport::Tcp => 5060,
        Transport::Tls => 5061,
        Transport::Ws => 80,
        Transport::Wss => 443,
    }
}

/// The transport of a `transport=` value, upgraded for `sips:`.
fn transport_param(value: &str, secure: bool) -> Result<Transport, ResolveError> {
    let unsupported = || ResolveError::UnsupportedTransport(value.to_owned());
    let t = Transport::from_token(value).ok_or_else(unsupported)?;
    Ok(match (t, secure) {
        (Transport::Udp, true) => return Err(unsupported()),
        (Transport::Tcp, true) => Transport::Tls,
        (Transport::Ws, true) => Transport::Wss,
        (t, _) => t,
    })
}

/// The transport used when nothing else decides: TLS for `sips:`, else UDP.
pub(super) fn fallback_transport(secure: bool) -> Transport {
    if secure {
        Transport::Tls
    } else {
        Transport::Udp
    }
}

/// Decides from the URI alone what to look up (`maddr` replaces the host).
pub fn plan(uri: &SipUri<'_>) -> Result<Plan, ResolveError> {
    let secure = uri.secure;
    let transport = uri
        .transport()
        .map(|t| transport_param(t, secure))
        .transpose()?;
    let fallback = fallback_transport(secure);
    let (host, ip) = match uri.params.value("maddr") {
        Some(maddr) => {
            let bare = maddr.trim_start_matches('[').trim_end_matches(']');
            (bare.to_owned(), bare.parse::<IpAddr>().ok())
        }
        None => {
            let ip = match uri.host.kind() {
                HostKind::Domain => None,
                _ => uri.host.ip(),
            };
            (uri.host.address().to_owned(), ip)
        }
    };
    if let Some(ip) = ip {
        let transport = transport.unwrap_or(fallback);
        let port = uri.port.unwrap_or_else(|| default_port(transport));
        return Ok(Plan::Direct(Target {
            transport,
            addr: SocketAddr::new(ip, port),
            host,
        }));
    }
    Ok(match (transport, uri.port) {
        (t, Some(port)) => Plan::Address {
            host,
            transport: t.unwrap_or(fallback),
            port,
        },
        (Some(transport), None) => Plan::Srv { host, transport },
        (None, None) => Plan::Naptr { host, secure },
    })
}

/// The URI that RFC 3263 is applied to for sending `request` (RFC 3261
/// §8.1.2): the first Route value when it is a loose router (`;lr`), else
/// the Request-URI (no Route, or a strict router, whose URI the UAC has
/// put in the Request-URI already, §12.2.1.1).
pub fn next_hop(request: &Request) -> Result<&str, ResolveError> {
    if let Some(route) = request.headers().values(HeaderName::Route).next() {
        let route = NameAddr::parse_value(route).map_err(|_| ResolveError::NotSip)?;
        return match route.uri {
            Uri::Sip(uri) if uri.is_loose_router() => Ok(uri.as_str()),
            Uri::Sip(_) => Ok(request.uri_str()),
            _ => Err(ResolveError::NotSip),
        };
    }
    Ok(request.uri_str())
}
