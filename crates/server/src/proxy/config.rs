//! How the proxy behaves, and which addresses and domains are "this
//! server".

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_core::Transport;
use switchboard_proto::Uri;
use switchboard_proto::uri::SipUri;

/// One address the server listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Its transport.
    pub transport: Transport,
    /// The socket address (what Via sent-by and Record-Route carry unless
    /// `host` says otherwise).
    pub addr: SocketAddr,
    /// The host written into Record-Route (and recognised in Route and the
    /// Request-URI) instead of `addr`'s IP: the public name or address of a
    /// socket bound to `0.0.0.0`, for example.
    pub host: Option<String>,
}

impl Listener {
    /// A listener known by its address.
    pub fn new(transport: Transport, addr: SocketAddr) -> Self {
        Self {
            transport,
            addr,
            host: None,
        }
    }

    /// The host as written in URIs (IPv6 in brackets).
    pub(crate) fn host_text(&self) -> String {
        match (&self.host, self.addr) {
            (Some(h), _) => h.clone(),
            (None, SocketAddr::V4(a)) => a.ip().to_string(),
            (None, SocketAddr::V6(a)) => format!("[{}]", a.ip()),
        }
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        if self.addr.port() != port {
            return false;
        }
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match &self.host {
            Some(h) => h.eq_ignore_ascii_case(host) || h.eq_ignore_ascii_case(bare),
            None => bare
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip == self.addr.ip()),
        }
    }
}

/// What the proxy does with requests for its users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Forward to the targets (RFC 3261 §16).
    #[default]
    Proxy,
    /// Answer 302 Moved Temporarily with the targets as Contacts
    /// (RFC 3261 §8.3): a redirect server.
    Redirect,
}

/// The proxy's configuration. `ProxyConfig::default()` follows RFC 3261's
/// values but knows no listener: give it the server's addresses.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The server's addresses: a URI is "this server" when its host and
    /// port match one of them.
    pub listeners: Vec<Listener>,
    /// Domains the server is responsible for: a URI with one of these hosts
    /// and no port is "this server" too.
    pub domains: Vec<String>,
    /// Proxy or redirect server.
    pub mode: Mode,
    /// Insert Record-Route into dialog-creating requests (two entries when
    /// the request leaves on another transport or listener than it came in
    /// on, RFC 5658).
    pub record_route: bool,
    /// Timer C (RFC 3261 §16.6 step 11): how long an INVITE branch may
    /// stay without a final response; every provisional response restarts
    /// it. More than 3 minutes.
    pub timer_c: Duration,
    /// Serial forking: how long a group of targets of equal q may ring
    /// before the next group (lower q) is tried.
    pub group_timeout: Duration,
    /// On a 3xx from a branch, try its Contacts (true) or keep the 3xx as a
    /// candidate for the best response (false).
    pub recurse_on_3xx: bool,
    /// Most branches one request may fork into, counting those added by
    /// 3xx recursion.
    pub max_branches: usize,
    /// Option tags in Proxy-Require the proxy understands (others: 420).
    pub extensions: Vec<String>,
    /// Answer an INVITE with 100 Trying as soon as it is forwarded (else
    /// the endpoint sends its own 100 after 200 ms when nothing else was
    /// sent).
    pub send_trying: bool,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listeners: Vec::new(),
            domains: Vec::new(),
            mode: Mode::Proxy,
            record_route: true,
            timer_c: Duration::from_secs(181),
            group_timeout: Duration::from_secs(20),
            recurse_on_3xx: true,
            max_branches: 16,
            extensions: Vec::new(),
            send_trying: true,
        }
    }
}

impl ProxyConfig {
    /// A configuration for these listeners and served domains.
    pub fn new(listeners: Vec<Listener>, domains: Vec<String>) -> Self {
        Self {
            listeners,
            domains,
            ..Self::default()
        }
    }

    /// Whether `uri` names this server: a SIP URI whose host and port
    /// (5060, or 5061 for `sips:` and `transport=tls`, when absent) match a
    /// listener, or whose host is a served domain and has no port.
    pub fn is_local(&self, uri: &Uri<'_>) -> bool {
        uri.as_sip().is_some_and(|u| self.is_local_sip(u))
    }

    pub(crate) fn is_local_sip(&self, uri: &SipUri<'_>) -> bool {
        let host = uri.host.as_str();
        if uri.port.is_none() && self.domains.iter().any(|d| d.eq_ignore_ascii_case(host)) {
            return true;
        }
        let secure = uri.secure
            || uri
                .transport()
                .is_some_and(|t| t.eq_ignore_ascii_case("tls"));
        let port = uri.port.unwrap_or(if secure { 5061 } else { 5060 });
        self.is_local_host_port(host, port)
    }

    /// Whether `host:port` (as written in a URI or a Via sent-by) is one of
    /// the listeners.
    pub fn is_local_host_port(&self, host: &str, port: u16) -> bool {
        self.listeners.iter().any(|l| l.matches(host, port))
    }

    /// The listener a request on `transport` arrived at (`local`), or the
    /// first one of that transport.
    pub(crate) fn listener(
        &self,
        transport: Transport,
        local: Option<SocketAddr>,
    ) -> Option<&Listener> {
        local
            .and_then(|a| {
                self.listeners
                    .iter()
                    .find(|l| l.transport == transport && l.addr == a)
            })
            .or_else(|| self.listeners.iter().find(|l| l.transport == transport))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ProxyConfig {
        ProxyConfig::new(
            vec![
                Listener::new(
                    Transport::Udp,
                    "127.0.0.1:5060".parse().unwrap_or_else(|_| unreachable!()),
                ),
                Listener {
                    transport: Transport::Tls,
                    addr: "0.0.0.0:5061".parse().unwrap_or_else(|_| unreachable!()),
                    host: Some("sip.example.com".into()),
                },
            ],
            vec!["example.com".into()],
        )
    }

    fn local(uri: &str) -> bool {
        Uri::parse(uri).is_ok_and(|u| config().is_local(&u))
    }

    #[test]
    fn this_server_is_host_and_port() {
        assert!(local("sip:127.0.0.1:5060;lr"));
        assert!(local("sip:127.0.0.1"));
        assert!(local("sip:bob@example.com"));
        assert!(local("sips:sip.example.com"));
        assert!(local("sip:sip.example.com;transport=tls"));
        // Other ports on our address are other user agents.
        assert!(!local("sip:127.0.0.1:5072"));
        assert!(!local("sip:bob@example.com:5080"));
        assert!(!local("sip:sip.example.com"));
        assert!(!local("sip:bob@example.org"));
        assert!(!local("tel:+15551234"));
    }
}
