//! Who the user agent is and where its requests go.

use std::net::{IpAddr, SocketAddr};

use switchboard_core::{Destination, Transport};
use switchboard_proto::Uri;

use crate::auth::Credentials;
use crate::error::UaError;

/// The identity and transport settings shared by registrations and calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UaConfig {
    /// Our address of record, `sip:alice@example.com` (From of our
    /// requests, To of REGISTER).
    pub aor: String,
    /// Display name in From, if any.
    pub display_name: Option<String>,
    /// Credentials for 401/407 challenges.
    pub credentials: Option<Credentials>,
    /// Where we are reached: the Contact URI (no angle brackets).
    pub contact: String,
    /// The transport of requests whose URI does not name one.
    pub transport: Transport,
    /// Our SIP address (Via sent-by of the ACKs we build ourselves).
    pub local_addr: SocketAddr,
    /// Send every request here instead of to its URI (an outbound proxy,
    /// or the server's address).
    pub outbound_proxy: Option<SocketAddr>,
    /// The `User-Agent` header value.
    pub user_agent: String,
    /// The session interval asked for in our INVITEs (RFC 4028; `None`:
    /// none asked, though one the peer asks for is honoured). At least
    /// 90 s.
    pub session_expires: Option<u32>,
}

impl UaConfig {
    /// A configuration for `aor` reached at `local_addr` over `transport`,
    /// with the Contact made from the AOR's user and `local_addr`.
    pub fn new(aor: &str, transport: Transport, local_addr: SocketAddr) -> Result<Self, UaError> {
        let uri = Uri::parse(aor).map_err(|_| UaError::InvalidUri(aor.to_owned()))?;
        let sip = uri
            .as_sip()
            .ok_or_else(|| UaError::InvalidUri(aor.to_owned()))?;
        let user = sip.user.map(|u| format!("{u}@")).unwrap_or_default();
        let host = match local_addr.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        let scheme = if transport == Transport::Tls {
            "sips"
        } else {
            "sip"
        };
        let param = match transport {
            Transport::Udp | Transport::Tls => String::new(),
            t => format!(";transport={}", t.as_lowercase_token()),
        };
        Ok(Self {
            aor: aor.to_owned(),
            display_name: None,
            credentials: None,
            contact: format!("{scheme}:{user}{host}:{}{param}", local_addr.port()),
            transport,
            local_addr,
            outbound_proxy: None,
            user_agent: concat!("Switchboard/", env!("CARGO_PKG_VERSION")).to_owned(),
            session_expires: Some(1800),
        })
    }

    /// The From/To value of our AOR (without tag).
    pub(crate) fn aor_value(&self) -> String {
        match &self.display_name {
            Some(name) => format!("\"{}\" <{}>", name.replace('"', ""), self.aor),
            None => format!("<{}>", self.aor),
        }
    }

    /// The registrar's URI: the AOR without its user part.
    pub(crate) fn registrar_uri(&self) -> Result<String, UaError> {
        let uri = Uri::parse(&self.aor).map_err(|_| UaError::InvalidUri(self.aor.clone()))?;
        let sip = uri
            .as_sip()
            .ok_or_else(|| UaError::InvalidUri(self.aor.clone()))?;
        let scheme = if sip.secure { "sips" } else { "sip" };
        Ok(match sip.port {
            Some(port) => format!("{scheme}:{}:{port}", sip.host.as_str()),
            None => format!("{scheme}:{}", sip.host.as_str()),
        })
    }

    /// Where to send a request whose next hop is `uri` (the first Route,
    /// else the Request-URI): the outbound proxy when there is one, else
    /// the URI's IP address and port (5060, or 5061 for `sips:`/TLS) over
    /// its `transport=` parameter or our default transport.
    pub fn destination(&self, uri: &str) -> Result<Destination, UaError> {
        if let Some(remote) = self.outbound_proxy {
            return Ok(Destination::Address {
                transport: self.transport,
                remote,
            });
        }
        uri_destination(uri, self.transport)
    }
}

/// The address a SIP URI with an IP host names.
pub(crate) fn uri_destination(uri: &str, default: Transport) -> Result<Destination, UaError> {
    let parsed = Uri::parse(uri).map_err(|_| UaError::InvalidUri(uri.to_owned()))?;
    let sip = parsed
        .as_sip()
        .ok_or_else(|| UaError::InvalidUri(uri.to_owned()))?;
    let ip = sip
        .host
        .ip()
        .ok_or_else(|| UaError::NoRoute(uri.to_owned()))?;
    let transport = sip
        .transport()
        .and_then(Transport::from_token)
        .unwrap_or(if sip.secure { Transport::Tls } else { default });
    let port = sip
        .port
        .unwrap_or(if transport.is_secure() { 5061 } else { 5060 });
    Ok(Destination::Address {
        transport,
        remote: SocketAddr::new(ip, port),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failure is a bug in the test
mod tests {
    use super::*;

    #[test]
    fn contact_registrar_and_destinations() {
        let c = UaConfig::new(
            "sip:alice@example.com",
            Transport::Tcp,
            "127.0.0.1:5070".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(c.contact, "sip:alice@127.0.0.1:5070;transport=tcp");
        assert_eq!(c.registrar_uri().unwrap(), "sip:example.com");
        assert_eq!(
            c.destination("sip:bob@example.com"),
            Err(UaError::NoRoute("sip:bob@example.com".into()))
        );
        assert_eq!(
            c.destination("sip:bob@192.0.2.1:5080;transport=udp")
                .unwrap(),
            Destination::Address {
                transport: Transport::Udp,
                remote: "192.0.2.1:5080".parse().unwrap()
            }
        );
        assert_eq!(
            c.destination("sips:bob@192.0.2.1").unwrap(),
            Destination::Address {
                transport: Transport::Tls,
                remote: "192.0.2.1:5061".parse().unwrap()
            }
        );
        let mut p = c.clone();
        p.outbound_proxy = Some("127.0.0.1:5999".parse().unwrap());
        assert_eq!(
            p.destination("sip:bob@example.com").unwrap(),
            Destination::Address {
                transport: Transport::Tcp,
                remote: "127.0.0.1:5999".parse().unwrap()
            }
        );
        assert!(UaConfig::new("mailto:x", Transport::Udp, "127.0.0.1:1".parse().unwrap()).is_err());
    }
}
