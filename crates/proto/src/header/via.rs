//! `Via` (RFC 3261 §20.42, §18.2.1; RFC 3581 rport).

use std::fmt;

use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::params::{ParamSyntax, Params};
use crate::text::{
    class, find_unquoted, is, is_token, skip_class, skip_class_acc, skip_lws, split_once_byte,
    trim, trim_start,
};
use crate::uri::{Host, parse_port, split_hostport};

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
        Self::parse_with_branch(value).map(|(v, _)| v)
    }

    /// Parses one Via value and returns [`Via::branch`] with it, found in
    /// the same pass as the parameters are checked.
    pub(crate) fn parse_with_branch(
        value: &'a str,
    ) -> Result<(Self, Option<&'a str>), HeaderError> {
        match Self::parse_common(value) {
            Some(parsed) => Ok(parsed),
            None => Self::parse_general(value),
        }
    }

    /// Any Via value, part by part.
    fn parse_general(value: &'a str) -> Result<(Self, Option<&'a str>), HeaderError> {
        let (protocol, rest) = split_once_byte(value, b'/').ok_or(HeaderError::Syntax)?;
        let (version, rest) = split_once_byte(rest, b'/').ok_or(HeaderError::Syntax)?;
        let (protocol, version) = (trim(protocol), trim(version));
        let rest = trim_start(rest);
        let t_end = rest
            .bytes()
            .position(|b| is(b, class::ASCII_WS))
            .ok_or(HeaderError::Syntax)?;
        let transport = rest.get(..t_end).ok_or(HeaderError::Syntax)?;
        let rest = rest.get(t_end..).ok_or(HeaderError::Syntax)?;
        if !is_token(protocol) || !is_token(version) || !is_token(transport) {
            return Err(HeaderError::Syntax);
        }
        let rest = trim_start(rest);
        let sent_by_end = find_unquoted(rest, b';').unwrap_or(rest.len());
        let sent_by = rest.get(..sent_by_end).ok_or(HeaderError::Syntax)?;
        let params = rest.get(sent_by_end..).ok_or(HeaderError::Syntax)?;
        // LWS is allowed around the ':' of sent-by in practice (RFC 4475 wsinv).
        let sent_by = trim(sent_by);
        let (host, port) = if sent_by.bytes().any(|b| is(b, class::ASCII_WS)) {
            let compact: &str = sent_by;
            let (h, p) = compact.rsplit_once(':').ok_or(HeaderError::Syntax)?;
            let port = trim(p).parse::<u16>().map_err(|_| HeaderError::Number)?;
            (Host::parse(trim(h))?, Some(port))
        } else {
            split_hostport(sent_by)?
        };
        let (params, branch) = Params::parse_find(trim(params), ParamSyntax::Header, "branch")
            .ok_or(HeaderError::Params)?;
        let via = Self {
            protocol,
            version,
            transport,
            host,
            port,
            params,
        };
        Ok((via, branch.flatten()))
    }

    /// The common shape `SIP/2.0/TRANSPORT host[:port][;params]` with a
    /// domain or IPv4 host, in one pass. `None` for anything else, valid or
    /// not: the general path gives the same result for what this accepts.
    fn parse_common(value: &'a str) -> Option<(Self, Option<&'a str>)> {
        match Self::scan(value, 0) {
            Some((via, branch, stop)) if stop == value.len() => Some((via, branch)),
            _ => None,
        }
    }

    /// The common shape parsed in place from byte `at` of `value`: the Via,
    /// its branch, and where the scan stopped (the first byte after the
    /// element that is not LWS). When that is the end of `value` or a `,`,
    /// the Via is what the general path gives for the element; `None` says
    /// nothing.
    #[inline(always)]
    pub(crate) fn scan(value: &'a str, at: usize) -> Option<(Self, Option<&'a str>, usize)> {
        let b = value.as_bytes();
        if b.get(at..at + 8)? != b"SIP/2.0/" {
            return None;
        }
        let t_end = skip_class(b, at + 8, class::TOKEN);
        if t_end == at + 8 || b.get(t_end) != Some(&b' ') {
            return None;
        }
        let host_at = skip_lws(b, t_end + 1);
        // `DIGIT_DOT` bytes are `DOMAIN` bytes too.
        let (mut i, acc) = skip_class_acc(b, host_at, class::DOMAIN);
        let host = Host::parse_plain(
            value.get(host_at..i)?,
            acc & (class::DOMAIN | class::DIGIT_DOT),
        )?;
        let mut port = None;
        if b.get(i) == Some(&b':') {
            let ps = i + 1;
            i = skip_class(b, ps, class::DIGIT_DOT);
            port = Some(parse_port(b.get(ps..i)?)?);
        }
        let (params, branch, stop) = if b.get(i) == Some(&b';') {
            Params::scan(value, i, ParamSyntax::Header, "branch")?
        } else {
            (Params::default(), None, skip_lws(b, i))
        };
        let via = Self {
            protocol: value.get(at..at + 3)?,
            version: value.get(at + 4..at + 7)?,
            transport: value.get(at + 8..t_end)?,
            host,
            port,
            params,
        };
        Some((via, branch.flatten(), stop))
    }

    /// [`Via::scan`] for checking: the branch and where the scan stopped.
    #[inline(never)]
    pub(crate) fn scan_check(value: &'a str, at: usize) -> Option<(Option<&'a str>, usize)> {
        Self::scan(value, at).map(|(_, branch, stop)| (branch, stop))
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
    fn common_shape_parses_as_the_general_path() {
        for v in [
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;rport",
            "SIP/2.0/TCP host.example.com;branch=x;BRANCH=y",
            "SIP/2.0/UDP  10.0.0.1 ;branch=z",
            "SIP/2.0/UDP 10.0.0.1:99999",
            "SIP/2.0/UDP 1.2.3:5060;received=1.2.3.4",
            "SIP/2.0/WSS -bad.example.com",
            "SIP/2.0/UDP host;;branch=x",
            "SIP/2.0/UDP host;x=\"a;b\";branch=q ",
            "SIP/2.0/UDP host:5060,SIP/2.0/UDP other",
            "SIP/2.0/ UDP host",
            "SIP/2.0/UDP host , SIP/2.0/TCP x",
            "SIP/2.0/UDP host;branch=\"a,b\" ,x",
            "SIP/2.0/UDP 10.0.0.1:5060 ;branch=z",
            "SIP/2.0/UDP ho\"st",
            "SIP/2.0/UDP host:5060,SIP/2.0/UDP other;branch=q",
        ] {
            if let Some((fast, branch, stop)) = Via::scan(v, 0) {
                let piece = match v.as_bytes().get(stop) {
                    None => v,
                    Some(b',') => crate::text::CommaSplit::new(v).next().unwrap(),
                    Some(_) => "",
                };
                if !piece.is_empty() {
                    assert_eq!(Ok((fast, branch)), Via::parse_general(piece), "{v}");
                }
            }
            let general = Via::parse_general(v);
            if let Some(fast) = Via::parse_common(v) {
                assert_eq!(Ok(fast), general, "{v}");
            }
            assert_eq!(Via::parse_with_branch(v), general, "{v}");
        }
    }

    #[test]
    fn display_round_trips() {
        let s = "SIP/2.0/TCP [::1]:5061;branch=z9hG4bKx;received=10.0.0.1";
        assert_eq!(Via::parse_value(s).unwrap().to_string(), s);
    }
}
