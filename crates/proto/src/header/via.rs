//! `Via` (RFC 3261 §20.42, §18.2.1; RFC 3581 rport).

use std::fmt;

use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::params::{ParamSyntax, Params};
use crate::text::{find_unquoted, trim, trim_start};
use crate::uri::{Host, split_hostport};

/// The magic cookie that marks an RFC 3261 branch.
pub const BRANCH_MAGIC_COOKIE: &str = "z9hG4bK";

/// One `Via` value: `SIP/2.0/UDP host:port;branch=...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// Protocol name, `SIP`.
    pub protocol: &'a str,
    /// Protocol version, `2.0`.
    pub version: &'a str,
    /// Transport token as written (`UDP`, `TCP`, `TLS`, `WS`, `WSS`, ...).
    pub transport: &'a str,
    /// The sent-by host.
    pub host: Host<'a>,
    /// The sent-by port.
    pub port: Option<u16>,
    /// Via parameters.
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses one Via value.
    pub fn parse_value(value: &'a str) -> Result<Self, HeaderError> {
        let (protocol, rest) = value.split_once('/').ok_or(HeaderError::Syntax)?;
        let (version, rest) = rest.split_once('/').ok_or(HeaderError::Syntax)?;
        let (protocol, version) = (trim(protocol), trim(version));
        let rest = trim_start(rest);
        let t_end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .ok_or(HeaderError::Syntax)?;
        let (transport, rest) = rest.split_at(t_end);
        if !crate::text::is_token(protocol)
            || !crate::text::is_token(version)
            || !crate::text::is_token(transport)
        {
            return Err(HeaderError::Syntax);
        }
        let rest = trim_start(rest);
        let sent_by_end = find_unquoted(rest, b';').unwrap_or(rest.len());
        let (sent_by, params) = rest.split_at(sent_by_end);
        // LWS is allowed around the ':' of sent-by in practice (RFC 4475 wsinv).
        let sent_by = trim(sent_by);
        let (host, port) = if sent_by.contains(|c: char| c.is_ascii_whitespace()) {
            let compact: &str = sent_by;
            let (h, p) = compact.rsplit_once(':').ok_or(HeaderError::Syntax)?;
            let port = trim(p).parse::<u16>().map_err(|_| HeaderError::Number)?;
            (Host::parse(trim(h))?, Some(port))
        } else {
            split_hostport(sent_by)?
        };
        let params = Params::parse(trim(params), ParamSyntax::Header).ok_or(HeaderError::Params)?;
        Ok(Self {
            protocol,
            version,
            transport,
            host,
            port,
            params,
        })
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.params.value("branch")
    }

    /// The `received` parameter, without IPv6 brackets.
    pub fn received(&self) -> Option<&'a str> {
        self.params.value("received").map(|r| {
            r.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .unwrap_or(r)
        })
    }

    /// `rport`: `None` when absent, `Some(None)` when present without value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|v| v.parse().ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.value("maddr")
    }

    /// True when the branch starts with the RFC 3261 magic cookie (and has
    /// more than the cookie: RFC 4475 §3.2.1).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| {
            b.len() > BRANCH_MAGIC_COOKIE.len() && b.starts_with(BRANCH_MAGIC_COOKIE)
        })
    }
}

impl<'a> TypedHeader<'a> for Via<'a> {
    const NAME: HeaderName = HeaderName::Via;
    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        Self::parse_value(value)
    }
}

impl fmt::Display for Via<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} {}",
            self.protocol, self.version, self.transport, self.host
        )?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(self.params.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_via_forms() {
        let v = Via::parse_value("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;rport").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bK776"));
        assert_eq!(v.rport(), Some(None));
        assert!(v.has_rfc3261_branch());

        let v = Via::parse_value("SIP  /   2.0  / UDP  192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.host.as_str(), "192.0.2.2");
        assert!(!v.has_rfc3261_branch());

        let v = Via::parse_value(
            "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3",
        )
        .unwrap();
        assert_eq!(v.received(), Some("2001:db8::9:255"));
        let v = Via::parse_value(
            "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3",
        )
        .unwrap();
        assert_eq!(v.received(), Some("2001:db8::9:255"));
        assert_eq!(
            Via::parse_value("SIP/2.0/UDP host;;branch=x"),
            Err(HeaderError::Params)
        );
        assert!(Via::parse_value("SIP/2.0/UDP").is_err());
        assert!(Via::parse_value("garbage").is_err());
    }

    #[test]
    fn display_round_trips() {
        let s = "SIP/2.0/TCP [::1]:5061;branch=z9hG4bKx;received=10.0.0.1";
        assert_eq!(Via::parse_value(s).unwrap().to_string(), s);
    }
}
