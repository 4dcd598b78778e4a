//! Dialog state (RFC 3261 §12): identifiers, route set, remote target and
//! CSeq numbers, and building requests inside the dialog.

use rand_core::RngCore;
use switchboard_core::token;
use switchboard_proto::header::{Contact, NameAddr, RecordRoute};
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, Response};

use crate::config::UaConfig;
use crate::error::UaError;

/// One dialog, from either side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dialog {
    pub(crate) call_id: String,
    pub(crate) local_tag: String,
    /// The peer's tag; `None` until a response with one arrives.
    pub(crate) remote_tag: Option<String>,
    /// Our address for From (no tag).
    pub(crate) local_uri: String,
    /// The peer's address for To (no tag).
    pub(crate) remote_uri: String,
    /// Where requests go: the peer's Contact.
    pub(crate) remote_target: String,
    /// Route values, in the order they go into requests.
    pub(crate) route_set: Vec<String>,
    pub(crate) local_cseq: u32,
    pub(crate) remote_cseq: Option<u32>,
}

/// `<uri>` of a From/To/Contact value: the address without its parameters.
pub(crate) fn bare_address(value: &str) -> Option<String> {
    let addr = NameAddr::parse_value(value).ok()?;
    Some(match addr.display_name {
        Some(name) => format!("{name} <{}>", addr.uri),
        None => format!("<{}>", addr.uri),
    })
}

/// The URI of the first Contact of a message's headers.
pub(crate) fn contact_uri(headers: &switchboard_proto::Headers) -> Option<String> {
    headers
        .typed::<Contact<'_>>()?
        .ok()?
        .address()
        .map(|a| a.uri.as_str().to_owned())
}

fn record_routes(headers: &switchboard_proto::Headers) -> Vec<String> {
    headers
        .typed_all::<RecordRoute<'_>>()
        .filter_map(Result::ok)
        .map(|r| r.to_string())
        .collect()
}

impl Dialog {
    /// The dialog of a request we start to `target` (an INVITE, a first
    /// SUBSCRIBE): a new Call-ID and tag, no peer tag or route set yet.
    pub(crate) fn outgoing(
        config: &UaConfig,
        target: &str,
        rng: &mut dyn RngCore,
    ) -> Result<Self, UaError> {
        let remote_uri =
            bare_address(target).ok_or_else(|| UaError::InvalidUri(target.to_owned()))?;
        Ok(Self {
            call_id: token::call_id(rng),
            local_tag: token::tag(rng),
            remote_tag: None,
            local_uri: config.aor_value(),
            remote_uri,
            remote_target: target.to_owned(),
            route_set: Vec::new(),
            local_cseq: 0,
            remote_cseq: None,
        })
    }

    /// The dialog a UAS creates from an INVITE (§12.1.1); `None` when the
    /// request lacks what a dialog needs.
    pub(crate) fn from_request(request: &Request, local_tag: String) -> Option<Self> {
        let h = request.headers();
        Some(Self {
            call_id: h.call_id()?.to_owned(),
            local_tag,
            remote_tag: h.from_tag().map(str::to_owned),
            local_uri: bare_address(h.get(HeaderName::To)?)?,
            remote_uri: bare_address(h.get(HeaderName::From)?)?,
            remote_target: contact_uri(h)?,
            route_set: record_routes(h),
            local_cseq: 0,
            remote_cseq: h.cseq().map(|c| c.seq),
        })
    }

    /// Completes a UAC dialog from a 2xx (or 1xx with a tag): remote tag,
    /// route set (Record-Route reversed) and remote target (§12.1.2).
    pub(crate) fn confirm(&mut self, response: &Response) {
        let h = response.headers();
        if let Some(tag) = h.to_tag() {
            self.remote_tag = Some(tag.to_owned());
        }
        let mut routes = record_routes(h);
        routes.reverse();
        self.route_set = routes;
        if let Some(target) = contact_uri(h) {
            self.remote_target = target;
        }
    }

    /// Completes a subscriber's dialog from a NOTIFY that came before the
    /// SUBSCRIBE's 2xx (RFC 6665 §4.1.2.4): the notifier's tag, its
    /// Contact, and the route set as the NOTIFY's Record-Route lists it.
    pub(crate) fn confirm_from_request(&mut self, request: &Request) {
        let h = request.headers();
        if let Some(tag) = h.from_tag() {
            self.remote_tag = Some(tag.to_owned());
        }
        self.route_set = record_routes(h);
        self.refresh_target(h);
    }

    /// Updates the remote target from a target refresh (re-INVITE).
    pub(crate) fn refresh_target(&mut self, headers: &switchboard_proto::Headers) {
        if let Some(target) = contact_uri(headers) {
            self.remote_target = target;
        }
    }

    /// The URI the first hop is found from: the first (loose) route, else
    /// the remote target.
    pub(crate) fn next_hop(&self) -> String {
        self.route_set
            .first()
            .and_then(|r| NameAddr::parse_value(r).ok())
            .map_or_else(|| self.remote_target.clone(), |a| a.uri.as_str().to_owned())
    }

    /// A request in the dialog with CSeq `cseq`.
    pub(crate) fn builder(&self, method: Method, cseq: u32) -> RequestBuilder {
        let mut b = RequestBuilder::new(method, self.remote_target.clone())
            .from(&self.local_uri, &self.local_tag)
            .to(&self.remote_uri, self.remote_tag.as_deref())
            .call_id(&self.call_id)
            .cseq(cseq);
        for route in &self.route_set {
            b = b.header(HeaderName::Route, route.clone());
        }
        b
    }

    /// The next local CSeq.
    pub(crate) fn next_cseq(&mut self) -> u32 {
        self.local_cseq = self.local_cseq.wrapping_add(1);
        self.local_cseq
    }
}
