//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use switchboard_store::{Binding, BindingSource};

/// A binding with every field set, varied by `id`.
pub fn binding(aor: &str, contact: &str, id: u64) -> Binding {
    Binding {
        aor: aor.to_owned(),
        contact: contact.to_owned(),
        contact_header: format!(
            "\"Phone {id}\" <{contact}>;expires=3600;+sip.instance=\"<urn:uuid:{id}>\""
        ),
        q: u16::try_from(id % 1001).unwrap(),
        expires_at_unix: 1_700_000_000 + id,
        call_id: format!("call-{id}@client"),
        cseq: u32::try_from(id % 100_000).unwrap() + 1,
        instance_id: (id % 2 == 0).then(|| format!("<urn:uuid:00000000-0000-0000-0000-{id:012}>")),
        reg_id: (id % 2 == 0).then_some(1),
        path: if id % 3 == 0 {
            vec![
                "<sip:edge1.example.com;lr>".into(),
                "<sip:edge2.example.com;lr;ob>".into(),
            ]
        } else {
            Vec::new()
        },
        source: BindingSource {
            transport: if id % 2 == 0 { "tcp" } else { "udp" }.into(),
            remote_addr: format!("192.0.2.{}:{}", id % 250, 5060 + id % 1000),
            local_addr: "203.0.113.1:5060".into(),
            flow_token: (id % 2 == 0).then(|| format!("flow-{id}")),
        },
        user_agent: (id % 5 != 0).then(|| "Softphone/1.0".to_owned()),
        updated_unix: 1_699_999_000 + id,
    }
}

/// The AOR and contact of the binding numbered `id` in the bulk tests.
pub fn numbered(id: u64) -> (String, String) {
    (
        format!("sip:user{}@example.com", id % 1000),
        format!("sip:user{}@192.0.2.1:{}", id % 1000, 10_000 + id),
    )
}
