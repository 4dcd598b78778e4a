//! Route processing: §16.4 on the way in (strict-router compatibility,
//! removing our own Route), §16.6 steps 6 and 7 on the way out (strict
//! next hops, choosing where to send).

use std::net::{IpAddr, SocketAddr};

use switchboard_core::Transport;
use switchboard_proto::header::Route;
use switchboard_proto::uri::SipUri;
use switchboard_proto::{HeaderName, Request, Uri};

use super::config::ProxyConfig;
use super::target::NextHop;

/// The URI inside one Route value.
fn route_uri(value: &str) -> Option<Uri<'_>> {
    switchboard_proto::header::NameAddr::parse_value(value)
        .ok()
        .map(|a| a.uri)
}

/// §16.4: when the Request-URI is a Record-Route value of ours (a strict
/// router before us put it there), the last Route becomes the Request-URI;
/// then every Route on top that names us goes.
pub(crate) fn preprocess(config: &ProxyConfig, request: &mut Request) {
    let ruri_is_our_record_route = request
        .uri()
        .as_sip()
        .is_some_and(|u| u.is_loose_router() && u.user.is_none() && config.is_local_sip(u));
    if ruri_is_our_record_route && request.headers().get(HeaderName::Route).is_some() {
        let mut routes: Vec<String> = request
            .headers()
            .values(HeaderName::Route)
            .map(str::to_owned)
            .collect();
        if let Some(last) = routes.pop() {
            let uri = route_uri(&last).map(|u| u.as_str().to_owned());
            if let Some(uri) = uri.as_deref().and_then(|u| Uri::parse(u).ok()) {
                request.set_uri(&uri);
                let h = request.headers_mut();
                h.remove_all(HeaderName::Route);
                for r in routes {
                    h.push(HeaderName::Route, r);
                }
            }
        }
    }
    loop {
        let ours = request
            .headers()
            .typed::<Route<'_>>()
            .and_then(Result::ok)
            .is_some_and(|r| config.is_local(&r.uri));
        if !ours {
            break;
        }
        request.headers_mut().pop_front_value(HeaderName::Route);
    }
}

/// Puts a pre-loaded route (a binding's Path) on top of the Route set.
pub(crate) fn preload(request: &mut Request, path: &[String]) {
    for value in path.iter().rev() {
        request
            .headers_mut()
            .push_front(HeaderName::Route, value.as_str());
    }
}

/// §16.6 step 6: when the first Route is a strict router, it becomes the
/// Request-URI and the Request-URI goes to the end of the Route set.
pub(crate) fn fix_strict_next_hop(request: &mut Request) {
    let Some(top) = request.headers().values(HeaderName::Route).next() else {
        return;
    };
    let Some(uri) = route_uri(top) else {
        return;
    };
    if uri.as_sip().is_none_or(SipUri::is_loose_router) {
        return;
    }
    let new_ruri = uri.as_str().to_owned();
    let old_ruri = request.uri_str().to_owned();
    if let Ok(parsed) = Uri::parse(&new_ruri) {
        request.headers_mut().pop_front_value(HeaderName::Route);
        request
            .headers_mut()
            .push(HeaderName::Route, format!("<{old_ruri}>"));
        request.set_uri(&parsed);
    }
}

/// §16.6 step 7: the URI to send to: the first Route, else the
/// Request-URI.
pub(crate) fn next_hop_uri(request: &Request) -> String {
    request
        .headers()
        .values(HeaderName::Route)
        .next()
        .and_then(route_uri)
        .map_or_else(|| request.uri_str().to_owned(), |u| u.as_str().to_owned())
}

/// Where a URI points without DNS: its `maddr` or host when that is an IP
/// address, at its port (5060, 5061 for `sips:`/TLS), over its `transport`
/// (UDP, TLS for `sips:`). `None` for host names (RFC 3263 is the
/// application's) and other schemes.
pub(crate) fn hop_for_uri(uri: &str) -> Option<NextHop> {
    let uri = Uri::parse(uri).ok()?;
    let sip = uri.as_sip()?;
    let ip: IpAddr = match sip.params.value("maddr") {
        Some(m) => m
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?,
        None => sip.host.ip()?,
    };
    let transport = match sip.transport() {
        Some(t) => Transport::from_token(t)?,
        None if sip.secure => Transport::Tls,
        None => Transport::Udp,
    };
    let port = sip
        .port
        .unwrap_or(if transport.is_secure() { 5061 } else { 5060 });
    Some(NextHop::address(transport, SocketAddr::new(ip, port)))
}
