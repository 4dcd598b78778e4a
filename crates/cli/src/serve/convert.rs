//! Between the registrar's bindings (`switchboard-server`) and the stored
//! ones (`switchboard-store`).
//!
//! The store keys a binding by `(aor, contact)`; the registrar by AOR and
//! [`BindingKey`]. The store's `contact` column holds the printed key
//! (`contact:<uri>`, `instance:<urn>`, `flow:<reg-id>:<urn>`), so that a
//! device that changes its contact URI under one instance-id updates its
//! row instead of leaving one behind. `contact_header` holds
//! `<uri>;params[;q=..]`: the contact as the registrar returns it, and what
//! `switchboard registrations` prints.

use std::net::SocketAddr;

use switchboard_core::{Source, Transport};
use switchboard_server::registrar::{Aor, Binding, BindingChange, BindingKey};
use switchboard_store as store;

/// The change as the store takes it.
pub(crate) fn change_to_store(change: &BindingChange) -> store::BindingChange {
    match change {
        BindingChange::Upsert(b) => store::BindingChange::Upsert(binding_to_store(b)),
        BindingChange::Remove { aor, key, .. } => store::BindingChange::Remove {
            aor: stored_aor(aor),
            contact: key.to_string(),
        },
    }
}

/// The binding as stored.
pub(crate) fn binding_to_store(b: &Binding) -> store::Binding {
    let mut header = format!("<{}>{}", b.contact, b.params);
    if let Some(q) = b.q {
        header.push_str(";q=");
        header.push_str(&format_q(q));
    }
    store::Binding {
        aor: stored_aor(&b.aor),
        contact: b.key.to_string(),
        contact_header: header,
        q: b.q.unwrap_or(1000).min(1000),
        expires_at_unix: b.expires_at,
        call_id: b.call_id.clone(),
        cseq: b.cseq,
        instance_id: b.instance.clone(),
        reg_id: b.reg_id,
        path: b.path.clone(),
        source: store::BindingSource {
            transport: b.source.transport.as_via_token().to_ascii_lowercase(),
            remote_addr: b.source.remote.to_string(),
            local_addr: b.source.local.to_string(),
            flow_token: b.source.flow.map(|f| f.0.to_string()),
        },
        user_agent: b.user_agent.clone(),
        updated_unix: b.updated_at,
    }
}

/// `sip:user@domain`: the AOR as the store keeps it (the registrar's
/// canonical `user@domain`, user part unescaped, with the scheme in front).
fn stored_aor(aor: &Aor) -> String {
    format!("sip:{}", aor.as_str())
}

fn format_q(q: u16) -> String {
    if q >= 1000 {
        return "1".to_owned();
    }
    let frac = format!("{q:03}");
    format!("0.{}", frac.trim_end_matches('0'))
        .trim_end_matches('.')
        .to_owned()
}

/// Why a stored binding cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[error("stored binding {aor} {contact}: {why}")]
pub(crate) struct LoadError {
    aor: String,
    contact: String,
    why: &'static str,
}

/// A stored binding back as the registrar's. Connections do not survive a
/// restart, so the flow is gone (`source.flow` is `None`).
pub(crate) fn binding_from_store(s: &store::Binding) -> Result<Binding, LoadError> {
    let err = |why| LoadError {
        aor: s.aor.clone(),
        contact: s.contact.clone(),
        why,
    };
    let (user, domain) = s
        .aor
        .strip_prefix("sip:")
        .and_then(|a| a.rsplit_once('@'))
        .ok_or_else(|| err("the AOR is not sip:user@domain"))?;
    let aor = Aor::new(user, domain).map_err(|_| err("the AOR is not sip:user@domain"))?;
    let key: BindingKey = s
        .contact
        .parse()
        .map_err(|_| err("the key does not parse"))?;
    let rest = s
        .contact_header
        .strip_prefix('<')
        .ok_or_else(|| err("the contact is not <uri>"))?;
    let (uri, params) = rest
        .split_once('>')
        .ok_or_else(|| err("the contact is not <uri>"))?;
    // `q` was appended last when the UA gave one.
    let (params, q) = match params.rfind(";q=") {
        Some(at) if params.get(at + 3..).is_some_and(|q| !q.contains(';')) => {
            (params.get(..at).unwrap_or_default(), Some(s.q))
        }
        _ => (params, None),
    };
    let transport =
        Transport::from_token(&s.source.transport).ok_or_else(|| err("unknown transport"))?;
    let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
    let source = Source {
        transport,
        remote: s.source.remote_addr.parse().unwrap_or(unspecified),
        local: s.source.local_addr.parse().unwrap_or(unspecified),
        flow: None,
    };
    Ok(Binding {
        aor,
        key,
        contact: uri.to_owned(),
        params: params.to_owned(),
        q,
        expires_at: s.expires_at_unix,
        call_id: s.call_id.clone(),
        cseq: s.cseq,
        path: s.path.clone(),
        instance: s.instance_id.clone(),
        reg_id: s.reg_id,
        source,
        user_agent: s.user_agent.clone(),
        registered_at: s.updated_unix,
        updated_at: s.updated_unix,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn sample(q: Option<u16>, key: BindingKey) -> Binding {
        Binding {
            aor: Aor::new("alice", "example.com").unwrap(),
            key,
            contact: "sip:alice@192.0.2.1:5060;transport=tcp".into(),
            params: ";+sip.instance=\"<urn:uuid:1>\";reg-id=1".into(),
            q,
            expires_at: 1_700_003_600,
            call_id: "c1".into(),
            cseq: 7,
            path: vec!["<sip:edge.example.com;lr>".into()],
            instance: Some("urn:uuid:1".into()),
            reg_id: Some(1),
            source: Source {
                transport: Transport::Tcp,
                remote: "192.0.2.1:5060".parse().unwrap(),
                local: "192.0.2.2:5060".parse().unwrap(),
                flow: None,
            },
            user_agent: Some("phone".into()),
            registered_at: 1_700_000_000,
            updated_at: 1_700_000_000,
        }
    }

    #[test]
    fn round_trip() {
        for (q, key) in [
            (None, BindingKey::Contact("sip:alice@192.0.2.1:5060".into())),
            (Some(500), BindingKey::Instance("urn:uuid:1".into())),
            (
                Some(1000),
                BindingKey::Flow {
                    instance: "urn:uuid:1".into(),
                    reg_id: 1,
                },
            ),
        ] {
            let b = sample(q, key);
            let stored = binding_to_store(&b);
            stored.validate().unwrap();
            assert_eq!(binding_from_store(&stored).unwrap(), b);
        }
    }
}
