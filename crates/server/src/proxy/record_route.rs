//! Record-Route (RFC 3261 §16.6 step 4, RFC 5658 double Record-Route).

use std::net::SocketAddr;

use switchboard_core::Transport;
use switchboard_proto::{HeaderName, Method, Request};

use super::config::{Listener, ProxyConfig};

/// A request that can create a dialog, which the proxy record-routes: an
/// INVITE, SUBSCRIBE, REFER or NOTIFY outside a dialog (no To tag).
pub(crate) fn creates_dialog(request: &Request) -> bool {
    matches!(
        request.method(),
        Method::Invite | Method::Subscribe | Method::Refer | Method::Notify
    ) && request.headers().to_tag().is_none()
}

/// Our Record-Route URI for a listener: `<sip:host:port;transport=x;lr>`.
fn value(listener: &Listener) -> String {
    let transport = match listener.transport {
        Transport::Udp => String::new(),
        t => format!(";transport={}", t.as_lowercase_token()),
    };
    format!(
        "<sip:{}:{}{transport};lr>",
        listener.host_text(),
        listener.addr.port()
    )
}

/// Adds our Record-Route to `request`, which came in on (`in_transport`,
/// `in_local`) and leaves on `out_transport`: one entry when both sides
/// are the same listener, else two (the outgoing side on top, so that each
/// side of the dialog reaches us where it can: RFC 5658).
pub(crate) fn insert(
    config: &ProxyConfig,
    request: &mut Request,
    in_transport: Transport,
    in_local: SocketAddr,
    out_transport: Transport,
) {
    let inbound = config.listener(in_transport, Some(in_local));
    let outbound = if out_transport == in_transport {
        inbound
    } else {
        config.listener(out_transport, None)
    };
    let h = request.headers_mut();
    match (inbound, outbound) {
        (Some(i), Some(o)) if i == o => h.push_front(HeaderName::RecordRoute, value(i)),
        (Some(i), Some(o)) => {
            h.push_front(HeaderName::RecordRoute, value(i));
            h.push_front(HeaderName::RecordRoute, value(o));
        }
        (Some(one), None) | (None, Some(one)) => {
            h.push_front(HeaderName::RecordRoute, value(one));
        }
        (None, None) => {
            tracing::warn!("no listener to record-route with; the dialog will bypass the proxy");
        }
    }
}
