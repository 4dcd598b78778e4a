//! Hanging up a call from the server (the operator's `DELETE
//! /api/v1/calls/{call_id}`): a BYE to each party of an answered call,
//! built from what the proxy saw of the dialog when it record-routed it
//! (both Contacts, the route set, the tags, the CSeqs), or the proxy's
//! CANCEL of a call still ringing.

use switchboard_core::{Destination, Source};
use switchboard_proto::{BuildError, HeaderName, Method, Request, RequestBuilder};

/// How a call is ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hangup {
    /// Not answered yet: the proxy cancels its branches and the caller
    /// gets 487.
    Cancel,
    /// Answered: a BYE to each party.
    Bye {
        /// To the caller, as if from the callee.
        to_caller: Box<DialogBye>,
        /// To the callee, as if from the caller.
        to_callee: Box<DialogBye>,
    },
}

/// One in-dialog BYE the server sends in a party's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogBye {
    /// The Call-ID.
    pub call_id: String,
    /// The Request-URI: the receiver's Contact.
    pub target: String,
    /// The Route set towards the receiver beyond this server.
    pub route: Vec<String>,
    /// The From: the other party's URI and tag.
    pub from: (String, String),
    /// The To: the receiver's URI and tag.
    pub to: (String, String),
    /// Above every CSeq the other party used in the dialog.
    pub cseq: u32,
    /// The next hop: where the receiver's messages came from.
    pub destination: Destination,
}

impl DialogBye {
    /// The BYE (the endpoint adds its Via when it sends it).
    ///
    /// # Errors
    /// When the dialog's values do not make a valid request.
    pub fn request(&self) -> Result<Request, BuildError> {
        let mut b = RequestBuilder::new(Method::Bye, self.target.as_str());
        for route in &self.route {
            b = b.header(HeaderName::Route, route.as_str());
        }
        b.from(&format!("<{}>", self.from.0), &self.from.1)
            .to(&format!("<{}>", self.to.0), Some(&self.to.1))
            .call_id(&self.call_id)
            .cseq(self.cseq)
            .header(
                HeaderName::Reason,
                "SIP;cause=200;text=\"Ended by the operator\"",
            )
            .build()
    }
}

/// The route sets of a dialog from the server's place in it: from the
/// Record-Route of the answer (`record_route`, top first), the entries
/// towards the callee (those above ours, nearest first) and towards the
/// caller (those below ours). `is_ours` tells our own entries. Without
/// one of ours, each side gets the whole set.
#[must_use]
pub fn split_route_set(
    record_route: &[String],
    is_ours: impl Fn(&str) -> bool,
) -> (Vec<String>, Vec<String>) {
    let first = record_route.iter().position(|v| is_ours(v));
    let last = record_route.iter().rposition(|v| is_ours(v));
    match (first, last) {
        (Some(first), Some(last)) => (
            record_route
                .get(..first)
                .unwrap_or_default()
                .iter()
                .rev()
                .cloned()
                .collect(),
            record_route.get(last + 1..).unwrap_or_default().to_vec(),
        ),
        _ => (
            record_route.iter().rev().cloned().collect(),
            record_route.to_vec(),
        ),
    }
}

/// Where to send to a party whose messages came from `source`: down its
/// connection, or back to that address (NAT).
#[must_use]
pub fn destination_of(source: &Source) -> Destination {
    match source.flow {
        Some(flow) => Destination::Flow(flow),
        None => Destination::Address {
            transport: source.transport,
            remote: source.remote,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use super::*;

    fn ours(v: &str) -> bool {
        v.contains("proxy.example")
    }

    #[test]
    fn the_route_set_is_split_at_our_own_entries() {
        let rr: Vec<String> = [
            "<sip:d2.example;lr>",
            "<sip:d1.example;lr>",
            "<sip:proxy.example;lr>",
            "<sip:proxy.example;transport=tcp;lr>",
            "<sip:u1.example;lr>",
            "<sip:u2.example;lr>",
        ]
        .map(str::to_owned)
        .to_vec();
        let (to_callee, to_caller) = split_route_set(&rr, ours);
        assert_eq!(to_callee, ["<sip:d1.example;lr>", "<sip:d2.example;lr>"]);
        assert_eq!(to_caller, ["<sip:u1.example;lr>", "<sip:u2.example;lr>"]);
        let only_us = vec!["<sip:proxy.example;lr>".to_owned()];
        assert_eq!(split_route_set(&only_us, ours), (vec![], vec![]));
    }

    #[test]
    fn a_bye_carries_the_dialog() {
        let bye = DialogBye {
            call_id: "c1@example".to_owned(),
            target: "sip:bob@192.0.2.2:5060".to_owned(),
            route: vec!["<sip:d1.example;lr>".to_owned()],
            from: ("sip:alice@example.com".to_owned(), "a1".to_owned()),
            to: ("sip:bob@example.com".to_owned(), "b1".to_owned()),
            cseq: 8,
            destination: Destination::Address {
                transport: switchboard_core::Transport::Udp,
                remote: "192.0.2.2:5060".parse().unwrap(),
            },
        };
        let request = bye.request().unwrap();
        let h = request.headers();
        assert_eq!(request.uri_str(), "sip:bob@192.0.2.2:5060");
        assert_eq!(h.call_id(), Some("c1@example"));
        assert_eq!(h.from_tag(), Some("a1"));
        assert_eq!(h.to_tag(), Some("b1"));
        assert_eq!(h.cseq().map(|c| c.seq), Some(8));
        assert_eq!(h.get(HeaderName::Route), Some("<sip:d1.example;lr>"));
    }
}
