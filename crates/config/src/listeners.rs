//! The listeners' rule: `SCHEME:IP:PORT` strings, the defaults, and the
//! domains they imply.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use switchboard_core::Transport;

use crate::{ConfigError, Host};

/// Parses `SCHEME:IP:PORT` (`udp:0.0.0.0:5060`, `tls:[::]:5061`); `key`
/// names the setting in the error.
pub fn parse_listen(key: &str, value: &str) -> Result<(Transport, SocketAddr), ConfigError> {
    let bad = |why: &str| {
        ConfigError::new(
            key,
            format!(
                "{value:?}: {why} (expected SCHEME:IP:PORT, SCHEME one of udp, tcp, tls, ws, wss)"
            ),
        )
    };
    let (scheme, addr) = value.split_once(':').ok_or_else(|| bad("no scheme"))?;
    let transport = Transport::from_token(scheme).ok_or_else(|| bad("unknown scheme"))?;
    let addr: SocketAddr = addr.parse().map_err(|_| bad("not an IP:PORT"))?;
    Ok((transport, addr))
}

/// The default domains: `localhost`, `127.0.0.1`, the listeners' IPs, and
/// the host's own address when a listener is on every address.
#[must_use]
pub fn default_domains(listen: &[(Transport, SocketAddr)], host: &Host) -> Vec<String> {
    let mut domains = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let mut push = |d: String| {
        if !domains.iter().any(|x| x.eq_ignore_ascii_case(&d)) {
            domains.push(d);
        }
    };
    let mut any_unspecified = false;
    for (_, addr) in listen {
        let ip = addr.ip();
        if ip.is_unspecified() {
            any_unspecified = true;
        } else if ip.is_ipv6() {
            push(format!("[{ip}]"));
        } else {
            push(ip.to_string());
        }
    }
    if let Some(primary) = host.primary_uri_host().filter(|_| any_unspecified) {
        push(primary);
    }
    domains
}

/// The listeners of a server started with no `--listen` and no file.
#[must_use]
pub fn default_listeners(host: &Host) -> Vec<(Transport, SocketAddr)> {
    listeners_on(5060, host)
}

/// UDP and TCP on every IPv4 address at `port`, and on every IPv6 address
/// where the host has IPv6 (the runtime binds IPv6 sockets IPv6-only, so
/// both coexist).
pub(crate) fn listeners_on(port: u16, host: &Host) -> Vec<(Transport, SocketAddr)> {
    let mut any = vec![SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))];
    if host.has_ipv6 {
        any.push(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)));
    }
    any.into_iter()
        .flat_map(|a| [(Transport::Udp, a), (Transport::Tcp, a)])
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use super::*;

    #[test]
    fn listen_strings() {
        let (t, a) = parse_listen("k", "tls:[::1]:5061").unwrap();
        assert_eq!((t, a.port()), (Transport::Tls, 5061));
        assert!(parse_listen("k", "sctp:1.2.3.4:5").is_err());
        assert!(parse_listen("k", "udp:nowhere").is_err());
    }

    #[test]
    fn ipv6_listeners_only_where_the_host_has_ipv6() {
        let v4 = Host::default();
        let v6 = Host {
            has_ipv6: true,
            ..Host::default()
        };
        assert_eq!(default_listeners(&v4).len(), 2);
        let both = default_listeners(&v6);
        assert_eq!(both.len(), 4);
        assert!(both.contains(&(Transport::Tcp, "[::]:5060".parse().unwrap())));
    }

    #[test]
    fn default_domains_name_the_host_only_for_a_listener_on_every_address() {
        let host = Host {
            primary_ip: Some("192.0.2.7".parse().unwrap()),
            has_ipv6: false,
        };
        let any = default_domains(&default_listeners(&host), &host);
        assert_eq!(any, ["localhost", "127.0.0.1", "192.0.2.7"]);
        let one = [(Transport::Udp, "[2001:db8::1]:5060".parse().unwrap())];
        assert_eq!(
            default_domains(&one, &host),
            ["localhost", "127.0.0.1", "[2001:db8::1]"]
        );
    }
}
