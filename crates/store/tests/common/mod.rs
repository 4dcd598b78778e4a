//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod spec;

use switchboard_core::{Source, Transport};
use switchboard_server::registrar::{Aor, Binding, BindingKey};

/// The canonical AOR of `uri` (`sip:alice@example.com`).
pub fn aor(uri: &str) -> Aor {
    Aor::parse(uri).unwrap()
}

/// A binding with every field set, varied by `id`, keyed by its contact
/// URI. What the store keeps of it all: no flow, `registered_at` equal to
/// `updated_at`.
pub fn binding(aor_uri: &str, contact: &str, id: u64) -> Binding {
    let q = u16::try_from(id % 1001).unwrap();
    let at = 1_699_999_000 + id;
    Binding {
        aor: aor(aor_uri),
        key: BindingKey::Contact(contact.to_owned()),
        contact: contact.to_owned(),
        params: format!(";+sip.instance=\"<urn:uuid:{id}>\""),
        // 1.0 both ways: given, and absent.
        q: (q != 1000).then_some(q),
        expires_at: 1_700_000_000 + id,
        call_id: format!("call-{id}@client"),
        cseq: u32::try_from(id % 100_000).unwrap() + 1,
        instance: (id % 2 == 0).then(|| format!("urn:uuid:00000000-0000-0000-0000-{id:012}")),
        reg_id: (id % 2 == 0).then_some(1),
        path: if id % 3 == 0 {
            vec![
                "<sip:edge1.example.com;lr>".into(),
                "<sip:edge2.example.com;lr;ob>".into(),
            ]
        } else {
            Vec::new()
        },
        source: Source {
            transport: if id % 2 == 0 {
                Transport::Tcp
            } else {
                Transport::Udp
            },
            remote: format!("192.0.2.{}:{}", id % 250, 5060 + id % 1000)
                .parse()
                .unwrap(),
            local: "203.0.113.1:5060".parse().unwrap(),
            flow: None,
        },
        user_agent: (id % 5 != 0).then(|| "Softphone/1.0".into()),
        registered_at: at,
        updated_at: at,
    }
}

/// The AOR and contact of the binding numbered `id` in the bulk tests.
pub fn numbered(id: u64) -> (String, String) {
    (
        format!("sip:user{}@example.com", id % 1000),
        format!("sip:user{}@192.0.2.1:{}", id % 1000, 10_000 + id),
    )
}

/// One `#[test]` per body of [`spec`] named, each on a new backend from
/// `$backend` (an `Option`: `None` skips the test).
macro_rules! backend_tests {
    ($backend:expr; $($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                let Some(backend) = $backend else { return };
                common::spec::$name(&backend);
            }
        )+
    };
}
pub(crate) use backend_tests;
