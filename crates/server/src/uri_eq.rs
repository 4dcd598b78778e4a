//! URI comparison of RFC 3261 §19.1.4, which decides whether a Contact in a
//! REGISTER names an existing binding, and whether a digest `uri` names the
//! Request-URI.

use switchboard_proto::uri::SipUri;
use switchboard_proto::{Params, Uri, unescape};

/// Parameters that make two SIP URIs differ when only one of them carries
/// them (§19.1.4; `transport` too, since a URI without it can resolve to
/// another transport).
const STRICT_PARAMS: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];

/// Whether `a` and `b` are equivalent by RFC 3261 §19.1.4: for SIP and SIPS
/// URIs, scheme, user and password (after unescaping, case-sensitive), host
/// (case-insensitive), port (a default port written out differs from an
/// absent one), the parameters that appear in both, the `user`, `ttl`,
/// `method`, `maddr` and `transport` parameters when either has them, and
/// the header components. Other schemes compare as text, the scheme
/// ignoring case.
#[must_use]
pub fn uri_equivalent(a: &Uri<'_>, b: &Uri<'_>) -> bool {
    match (a, b) {
        (Uri::Sip(a), Uri::Sip(b)) => sip_equivalent(a, b),
        (Uri::Sip(_), _) | (_, Uri::Sip(_)) => false,
        _ => {
            let (sa, ra) = a.as_str().split_once(':').unwrap_or(("", a.as_str()));
            let (sb, rb) = b.as_str().split_once(':').unwrap_or(("", b.as_str()));
            sa.eq_ignore_ascii_case(sb) && ra == rb
        }
    }
}

fn sip_equivalent(a: &SipUri<'_>, b: &SipUri<'_>) -> bool {
    a.secure == b.secure
        && a.user.map(unescape) == b.user.map(unescape)
        && a.password.map(unescape) == b.password.map(unescape)
        && a.host.as_str().eq_ignore_ascii_case(b.host.as_str())
        && a.port == b.port
        && params_equivalent(a.params, b.params)
        && headers_equivalent(a.headers, b.headers)
}

fn param_value_eq(x: Option<&str>, y: Option<&str>) -> bool {
    match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => unescape(x).eq_ignore_ascii_case(&unescape(y)),
        _ => false,
    }
}

fn params_equivalent(a: Params<'_>, b: Params<'_>) -> bool {
    let strict_ok = STRICT_PARAMS
        .iter()
        .all(|name| match (a.get(name), b.get(name)) {
            (None, None) => true,
            (Some(x), Some(y)) => param_value_eq(x, y),
            _ => false,
        });
    strict_ok
        && a.iter().all(|p| match b.get(p.name) {
            None => true,
            Some(other) => param_value_eq(p.value, other),
        })
}

fn headers_equivalent(a: Option<&str>, b: Option<&str>) -> bool {
    fn fields(h: Option<&str>) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = h
            .unwrap_or_default()
            .split('&')
            .filter(|f| !f.is_empty())
            .map(|f| {
                let (n, val) = f.split_once('=').unwrap_or((f, ""));
                (n.to_ascii_lowercase(), unescape(val).into_owned())
            })
            .collect();
        v.sort();
        v
    }
    fields(a) == fields(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(a: &str, b: &str) -> bool {
        let (ua, ub) = (Uri::parse(a).unwrap(), Uri::parse(b).unwrap());
        let r = uri_equivalent(&ua, &ub);
        assert_eq!(r, uri_equivalent(&ub, &ua), "symmetry for {a} / {b}");
        r
    }

    #[test]
    fn rfc3261_equivalent_examples() {
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eq(
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eq(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
    }

    #[test]
    fn rfc3261_different_examples() {
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp"
        ));
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
        assert!(!eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;security=off"
        ));
        assert!(!eq("sip:alice@atlanta.com", "sips:alice@atlanta.com"));
        assert!(!eq("sip:alice@atlanta.com", "tel:+1234"));
    }

    #[test]
    fn other_schemes_compare_as_text() {
        assert!(eq("tel:+1-201-555-0123", "TEL:+1-201-555-0123"));
        assert!(!eq("tel:+1-201-555-0123", "tel:+1-201-555-0124"));
        assert!(eq("mailto:a@example.com", "mailto:a@example.com"));
    }
}
