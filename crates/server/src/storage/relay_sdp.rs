//! What the media relay needs to take a relayed call back after a
//! restart, kept with the call's dialog record: the SDP each party sent
//! last (its addresses, directions and keys) and the SDP each received
//! from the relay (the relay's ports and keys toward it).

/// A relayed call's descriptions, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaySdp {
    /// The caller's last SDP, as it sent it.
    pub caller_sent: String,
    /// The callee's last SDP, as it sent it.
    pub callee_sent: String,
    /// The SDP the caller received from the relay (the callee's,
    /// anchored).
    pub caller_received: String,
    /// The SDP the callee received from the relay.
    pub callee_received: String,
}
