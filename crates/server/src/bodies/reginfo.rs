//! The registration state of an address-of-record (RFC 3680, `Event: reg`):
//! whether a watched user has devices registered, so "registered and idle"
//! differs from "offline".

use std::fmt::Write as _;

use switchboard_proto::header::format_qvalue;

use super::xml::{DECLARATION, push_attr, push_text_element, stable_id};
use crate::registrar::{Aor, Binding, RemoveReason};

/// The media type of a reginfo document.
pub const REGINFO: &str = "application/reginfo+xml";

const REGINFO_NS: &str = "urn:ietf:params:xml:ns:reginfo";

/// What happened to a contact (RFC 3680 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RegEvent {
    /// Registered (also the event of every active contact in a full state).
    Registered,
    /// Created by the server (not a REGISTER).
    Created,
    /// Refreshed by a REGISTER.
    Refreshed,
    /// Its expiry shortened by the server.
    Shortened,
    /// Its time ran out.
    Expired,
    /// Removed; the device should register again.
    Deactivated,
    /// Removed; the device should register again later.
    Probation,
    /// Removed by the device (Expires: 0).
    Unregistered,
    /// Removed by the server (refused, or evicted at the contact limit).
    Rejected,
}

impl RegEvent {
    /// The attribute value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Created => "created",
            Self::Refreshed => "refreshed",
            Self::Shortened => "shortened",
            Self::Expired => "expired",
            Self::Deactivated => "deactivated",
            Self::Probation => "probation",
            Self::Unregistered => "unregistered",
            Self::Rejected => "rejected",
        }
    }

    /// Whether the contact is gone after it (state `terminated`).
    #[must_use]
    pub fn terminates(self) -> bool {
        matches!(
            self,
            Self::Expired
                | Self::Deactivated
                | Self::Probation
                | Self::Unregistered
                | Self::Rejected
        )
    }
}

impl From<RemoveReason> for RegEvent {
    fn from(reason: RemoveReason) -> Self {
        match reason {
            RemoveReason::Unregistered => Self::Unregistered,
            RemoveReason::Expired => Self::Expired,
            RemoveReason::Evicted => Self::Rejected,
        }
    }
}

/// The reginfo document of `aor`.
///
/// `bindings` are its current bindings (expired ones are left out);
/// `changed` are the contacts that changed since the last NOTIFY, with the
/// binding as it was for those removed. A full state lists every current
/// contact (with its event from `changed`, else `registered`) and the
/// removed ones; a partial state only `changed`. The registration is
/// `active` with a contact left, `terminated` when the last one just went,
/// `init` when it never had one.
#[must_use]
pub fn reginfo(
    version: u32,
    full: bool,
    aor: &Aor,
    bindings: &[Binding],
    unix_now: u64,
    changed: &[(&Binding, RegEvent)],
) -> String {
    let event_of = |binding: &Binding| {
        changed
            .iter()
            .find(|(c, _)| c.key == binding.key)
            .map(|(_, event)| *event)
    };
    let current = bindings.iter().filter(|b| !b.is_expired(unix_now));
    let mut contacts: Vec<(&Binding, RegEvent)> = if full {
        current
            .clone()
            .map(|b| (b, event_of(b).unwrap_or(RegEvent::Registered)))
            .filter(|(_, event)| !event.terminates())
            .chain(changed.iter().filter(|(_, e)| e.terminates()).copied())
            .collect()
    } else {
        changed.to_vec()
    };
    contacts.dedup_by(|a, b| a.0.key == b.0.key);

    let state = if current.clone().next().is_some() {
        "active"
    } else if changed.iter().any(|(_, event)| event.terminates()) {
        "terminated"
    } else {
        "init"
    };
    let aor_uri = format!("sip:{aor}");

    let mut out = String::from(DECLARATION);
    let _ = write!(out, "<reginfo xmlns=\"{REGINFO_NS}\" version=\"{version}\"");
    push_attr(&mut out, "state", if full { "full" } else { "partial" });
    out.push_str(">\n<registration");
    push_attr(&mut out, "aor", &aor_uri);
    push_attr(&mut out, "id", &stable_id("r", aor.as_str()));
    push_attr(&mut out, "state", state);
    out.push_str(">\n");
    for (binding, event) in contacts {
        out.push_str("<contact");
        push_attr(&mut out, "id", &stable_id("c", &binding.key.to_string()));
        let terminated = event.terminates();
        push_attr(
            &mut out,
            "state",
            if terminated { "terminated" } else { "active" },
        );
        push_attr(&mut out, "event", event.as_str());
        let registered = unix_now.saturating_sub(binding.registered_at);
        push_attr(&mut out, "duration-registered", &registered.to_string());
        if !terminated {
            push_attr(
                &mut out,
                "expires",
                &binding.remaining(unix_now).to_string(),
            );
        }
        if let Some(q) = binding.q {
            push_attr(&mut out, "q", &format_qvalue(q));
        }
        push_attr(&mut out, "callid", &binding.call_id);
        push_attr(&mut out, "cseq", &binding.cseq.to_string());
        out.push('>');
        push_text_element(&mut out, "uri", &binding.contact);
        out.push_str("</contact>\n");
    }
    out.push_str("</registration>\n</reginfo>\n");
    out
}

#[cfg(test)]
mod tests {
    // Tests may unwrap and index: a panic is a failed test.
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use switchboard_core::{Source, Transport};

    use super::super::xml::read_back;
    use super::*;
    use crate::registrar::BindingKey;

    fn source() -> Source {
        Source {
            transport: Transport::Udp,
            remote: "192.0.2.1:5060".parse().unwrap(),
            local: "192.0.2.254:5060".parse().unwrap(),
            flow: None,
        }
    }

    fn binding(contact: &str, registered_at: u64, expires_at: u64) -> Binding {
        Binding {
            aor: Aor::new("alice", "example.com").unwrap(),
            key: BindingKey::Contact(contact.to_owned()),
            contact: contact.to_owned(),
            params: String::new(),
            q: Some(500),
            expires_at,
            call_id: "reg-1".to_owned(),
            cseq: 7,
            path: Vec::new(),
            instance: None,
            reg_id: None,
            source: source(),
            user_agent: None,
            registered_at,
            updated_at: registered_at,
        }
    }

    #[test]
    fn a_full_state_lists_active_contacts() {
        let aor = Aor::new("alice", "example.com").unwrap();
        let desk = binding("sip:alice@192.0.2.1:5060", 1000, 2000);
        let gone = binding("sip:alice@192.0.2.9", 500, 900);
        let body = reginfo(3, true, &aor, &[desk.clone(), gone], 1100, &[]);
        let elements = read_back(&body);
        let root = &elements[0];
        assert_eq!(
            (root.ns.as_str(), root.local.as_str()),
            (REGINFO_NS, "reginfo")
        );
        assert_eq!(root.attr("version"), Some("3"));
        assert_eq!(root.attr("state"), Some("full"));
        let registration = &elements[1];
        assert_eq!(registration.attr("aor"), Some("sip:alice@example.com"));
        assert_eq!(registration.attr("state"), Some("active"));
        let contacts: Vec<_> = elements.iter().filter(|e| e.local == "contact").collect();
        assert_eq!(contacts.len(), 1, "the expired binding is not listed");
        assert_eq!(contacts[0].attr("state"), Some("active"));
        assert_eq!(contacts[0].attr("event"), Some("registered"));
        assert_eq!(contacts[0].attr("expires"), Some("900"));
        assert_eq!(contacts[0].attr("duration-registered"), Some("100"));
        assert_eq!(contacts[0].attr("q"), Some("0.5"));
        let uri = elements.iter().find(|e| e.local == "uri").unwrap();
        assert_eq!(uri.text, desk.contact);
    }

    #[test]
    fn the_last_contact_leaving_terminates_the_registration() {
        let aor = Aor::new("alice", "example.com").unwrap();
        let desk = binding("sip:alice@192.0.2.1", 1000, 2000);
        let body = reginfo(
            4,
            false,
            &aor,
            &[],
            1500,
            &[(&desk, RegEvent::Unregistered)],
        );
        let elements = read_back(&body);
        assert_eq!(elements[0].attr("state"), Some("partial"));
        assert_eq!(elements[1].attr("state"), Some("terminated"));
        let contact = elements.iter().find(|e| e.local == "contact").unwrap();
        assert_eq!(contact.attr("state"), Some("terminated"));
        assert_eq!(contact.attr("event"), Some("unregistered"));
        assert_eq!(contact.attr("expires"), None);

        let never = reginfo(0, true, &aor, &[], 1500, &[]);
        assert_eq!(read_back(&never)[1].attr("state"), Some("init"));
    }

    #[test]
    fn contact_ids_are_stable_and_distinct() {
        let aor = Aor::new("alice", "example.com").unwrap();
        let a = binding("sip:alice@192.0.2.1", 1000, 2000);
        let b = binding("sip:alice@192.0.2.2", 1000, 2000);
        let ids = |body: &str| -> Vec<String> {
            read_back(body)
                .iter()
                .filter(|e| e.local == "contact")
                .map(|e| e.attr("id").unwrap().to_owned())
                .collect()
        };
        let first = ids(&reginfo(1, true, &aor, &[a.clone(), b.clone()], 1100, &[]));
        let second = ids(&reginfo(2, true, &aor, &[a, b], 1200, &[]));
        assert_eq!(first, second);
        assert_ne!(first[0], first[1]);
    }
}
