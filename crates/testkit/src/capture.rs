//! The packet capture: one [`Packet`] per message a node handed to the
//! network, with what became of it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use switchboard_core::Transport;
use switchboard_proto::header::CSeq;
use switchboard_proto::{Framing, Message, Method};

use crate::{NodeId, RuleId};

/// What became of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fate {
    /// It arrives (or arrived) at [`Packet::arrival`].
    Delivered,
    /// The link lost it at random ([`crate::LinkConfig::loss`]).
    Lost,
    /// A scripted rule dropped it.
    Dropped(RuleId),
    /// No node listens at the destination on that transport, or the flow
    /// is unknown to the network.
    Unroutable,
    /// Its connection closed before it arrived.
    Discarded,
}

/// One message handed to the network by a node, as captured.
///
/// Fields describing the message (`method`, `status`, `cseq`, `call_id`)
/// are `None` when the bytes do not parse (keep-alives, garbage).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Packet {
    /// Position in the capture.
    pub index: usize,
    /// When it was sent (time since the network's epoch).
    pub sent: Duration,
    /// When it arrives, for [`Fate::Delivered`] packets.
    pub arrival: Option<Duration>,
    /// The sending node.
    pub from: NodeId,
    /// The receiving node, when one was found.
    pub to: Option<NodeId>,
    /// The sender's address.
    pub source: SocketAddr,
    /// The address it was sent to (for a flow, the peer's address), when
    /// known.
    pub destination: Option<SocketAddr>,
    /// The transport.
    pub transport: Transport,
    /// What became of it.
    pub fate: Fate,
    /// For a copy made by the link's duplication, the index of the original.
    pub duplicate_of: Option<usize>,
    /// The start line (`INVITE sip:bob@... SIP/2.0`, `SIP/2.0 180 Ringing`),
    /// or `<keep-alive>`.
    pub first_line: String,
    /// The request method, for a request.
    pub method: Option<Method>,
    /// The status code, for a response.
    pub status: Option<u16>,
    /// The CSeq header.
    pub cseq: Option<CSeq>,
    /// The Call-ID.
    pub call_id: Option<String>,
    /// The bytes as sent.
    pub bytes: Bytes,
}

impl Packet {
    pub(crate) fn new(
        index: usize,
        sent: Duration,
        from: NodeId,
        source: SocketAddr,
        transport: Transport,
        bytes: Bytes,
    ) -> Self {
        let mut packet = Self {
            index,
            sent,
            arrival: None,
            from,
            to: None,
            source,
            destination: None,
            transport,
            fate: Fate::Delivered,
            duplicate_of: None,
            first_line: first_line(&bytes),
            method: None,
            status: None,
            cseq: None,
            call_id: None,
            bytes,
        };
        if let Ok(m) = Message::parse(packet.bytes.clone(), Framing::Datagram) {
            packet.method = m.as_request().map(|r| r.method().clone());
            packet.status = m.as_response().map(|r| r.status().as_u16());
            packet.cseq = m.headers().cseq().cloned();
            packet.call_id = m.headers().call_id().map(str::to_owned);
        }
        packet
    }

    /// The message, parsed again from the captured bytes.
    pub fn message(&self) -> Option<Message> {
        Message::parse(self.bytes.clone(), Framing::Datagram).ok()
    }

    /// A request with this method.
    pub fn is_request(&self, method: &Method) -> bool {
        self.method.as_ref() == Some(method)
    }

    /// A response with this status code (to any method).
    pub fn is_response(&self, status: u16) -> bool {
        self.status == Some(status)
    }

    /// A response with this status to a request with this method (by CSeq).
    pub fn is_response_to(&self, status: u16, method: &Method) -> bool {
        self.status == Some(status) && self.cseq_method() == Some(method)
    }

    /// The CSeq method (for a response, the method it answers).
    pub fn cseq_method(&self) -> Option<&Method> {
        self.cseq.as_ref().map(|c| &c.method)
    }

    /// It was sent by the application or the endpoint, not made by the
    /// link's duplication.
    pub fn is_original(&self) -> bool {
        self.duplicate_of.is_none()
    }

    /// It arrives (or arrived).
    pub fn is_delivered(&self) -> bool {
        self.fate == Fate::Delivered
    }
}

fn first_line(bytes: &[u8]) -> String {
    if bytes
        .iter()
        .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
    {
        return "<keep-alive>".to_owned();
    }
    let end = bytes
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(bytes.len())
        .min(120);
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}

/// `12.345s`.
pub(crate) fn format_time(t: Duration) -> String {
    format!("{}.{:03}s", t.as_secs(), t.subsec_millis())
}
