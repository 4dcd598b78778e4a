//! Loop detection (RFC 3261 §16.3 step 4, §16.6 step 8): every branch the
//! proxy sends carries a hash of the fields that stay the same when a
//! request comes back unchanged; a request that holds one of our Vias whose
//! hash equals its own has looped, one whose hash differs is spiralling
//! (legitimately passing again, for instance after a retarget).

use sha2::{Digest, Sha256};
use switchboard_proto::header::Via;
use switchboard_proto::{HeaderName, Request};

use super::config::ProxyConfig;

/// Separates the random part of our branches from the loop hash.
const SEPARATOR: char = '.';

/// The hash of a request as received: Request-URI, From and To tags,
/// Call-ID, CSeq, Proxy-Require and Proxy-Authorization (the topmost Via,
/// which §16.6 also lists, changes at every hop and would hide loops).
pub(crate) fn loop_hash(request: &Request) -> String {
    let h = request.headers();
    let mut hasher = Sha256::new();
    let mut field = |s: &str| {
        hasher.update(s.as_bytes());
        hasher.update([0u8]);
    };
    field(request.uri_str());
    field(h.from_tag().unwrap_or_default());
    field(h.to_tag().unwrap_or_default());
    field(h.call_id().unwrap_or_default());
    if let Some(cseq) = h.cseq() {
        field(&cseq.seq.to_string());
        field(cseq.method.as_str());
    }
    for name in [HeaderName::ProxyRequire, HeaderName::ProxyAuthorization] {
        for v in h.get_all(name) {
            field(v);
        }
    }
    let digest = hasher.finalize();
    crate::util::hex(digest.get(..8).unwrap_or_default())
}

/// A branch for a request whose loop hash is `hash`: a fresh random branch
/// (magic cookie included), the separator and the hash.
pub(crate) fn branch_with_hash(random: &str, hash: &str) -> String {
    format!("{random}{SEPARATOR}{hash}")
}

/// Whether `request` (as received) carries one of our Vias with its own
/// loop hash.
pub(crate) fn has_looped(config: &ProxyConfig, request: &Request) -> bool {
    let mut hash = None;
    for via in request.headers().typed_all::<Via<'_>>().flatten() {
        let port = via.port.unwrap_or(default_port(via.transport));
        if !config.is_local_host_port(via.host.as_str(), port) {
            continue;
        }
        let Some((_, theirs)) = via.branch().and_then(|b| b.rsplit_once(SEPARATOR)) else {
            continue;
        };
        let ours = hash.get_or_insert_with(|| loop_hash(request));
        if theirs == ours.as_str() {
            return true;
        }
    }
    false
}

/// The port a Via sent-by means when it has none (RFC 3261 §18.2.2).
pub(crate) fn default_port(transport: &str) -> u16 {
    if transport.eq_ignore_ascii_case("TLS") || transport.eq_ignore_ascii_case("WSS") {
        5061
    } else {
        5060
    }
}

/// The branch of an ACK (or other message) the proxy forwards without a
/// transaction: derived from the incoming top branch, so that a
/// retransmission leaves with the same branch (§16.11).
pub(crate) fn stateless_branch(request: &Request) -> String {
    let mut hasher = Sha256::new();
    hasher.update(
        request
            .headers()
            .top_branch()
            .unwrap_or_default()
            .as_bytes(),
    );
    hasher.update([0u8]);
    hasher.update(request.headers().call_id().unwrap_or_default().as_bytes());
    hasher.update([0u8]);
    hasher.update(request.method().as_str().as_bytes());
    let digest = hasher.finalize();
    format!(
        "{}{}",
        switchboard_proto::header::BRANCH_MAGIC_COOKIE,
        crate::util::hex(digest.get(..10).unwrap_or_default())
    )
}
