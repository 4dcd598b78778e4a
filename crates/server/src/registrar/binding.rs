//! Bindings (an AOR to a contact), their identity, and the changes the
//! registrar asks the application to store.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use switchboard_core::Source;
use switchboard_proto::header::format_qvalue;

use super::aor::Aor;

/// What identifies a binding within its AOR, and so which binding a new
/// REGISTER refreshes or replaces.
///
/// Printed with [`Display`](fmt::Display) and read back with
/// [`FromStr`], it is the key a store keeps next to the AOR:
/// `contact:<uri>`, `instance:<urn>` or `flow:<reg-id>:<urn>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BindingKey {
    /// RFC 3261: the contact URI (matched by §19.1.4 equivalence; this is
    /// the URI as first registered).
    Contact(String),
    /// A `+sip.instance` without outbound: the device, whatever its
    /// contact URI now is (a phone that changed network replaces its old
    /// binding).
    Instance(String),
    /// RFC 5626: one flow of a device, `+sip.instance` and `reg-id`.
    Flow {
        /// The instance-id (the URN inside `<>`).
        instance: String,
        /// The `reg-id`.
        reg_id: u32,
    },
}

impl fmt::Display for BindingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Contact(uri) => write!(f, "contact:{uri}"),
            Self::Instance(instance) => write!(f, "instance:{instance}"),
            Self::Flow { instance, reg_id } => write!(f, "flow:{reg_id}:{instance}"),
        }
    }
}

/// A stored binding key that is not one [`BindingKey`] prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a binding key")]
pub struct BindingKeyError;

impl FromStr for BindingKey {
    type Err = BindingKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = s.split_once(':').ok_or(BindingKeyError)?;
        match kind {
            "contact" if !rest.is_empty() => Ok(Self::Contact(rest.to_owned())),
            "instance" if !rest.is_empty() => Ok(Self::Instance(rest.to_owned())),
            "flow" => {
                let (reg_id, instance) = rest.split_once(':').ok_or(BindingKeyError)?;
                let reg_id = reg_id.parse().map_err(|_| BindingKeyError)?;
                if instance.is_empty() {
                    return Err(BindingKeyError);
                }
                Ok(Self::Flow {
                    instance: instance.to_owned(),
                    reg_id,
                })
            }
            _ => Err(BindingKeyError),
        }
    }
}

/// One binding of the location service: where requests for an AOR go.
///
/// Times are seconds since the Unix epoch, so that a binding means the same
/// after a restart and on every node that shares the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The address-of-record.
    pub aor: Aor,
    /// The identity of the binding within the AOR.
    pub key: BindingKey,
    /// The contact URI as the UA sent it (no angle brackets).
    pub contact: String,
    /// The other Contact header parameters as received, each with its
    /// leading `;` (`;+sip.instance="<urn:...>";reg-id=1`), without
    /// `expires` and `q`: returned in the 200 OK and kept for the proxy
    /// (callee capabilities).
    pub params: String,
    /// The `q` value in thousandths (`q=0.5` is 500); `None` when absent.
    pub q: Option<u16>,
    /// When the binding ends.
    pub expires_at: u64,
    /// The Call-ID of the REGISTER that last wrote it.
    pub call_id: String,
    /// Its CSeq number.
    pub cseq: u32,
    /// The Path header values of that REGISTER (RFC 3327), top first: the
    /// route back to the UA.
    pub path: Vec<String>,
    /// The `+sip.instance` value (URN without quotes and `<>`).
    pub instance: Option<String>,
    /// The `reg-id` when the binding is an RFC 5626 flow.
    pub reg_id: Option<u32>,
    /// Where the REGISTER came from (transport, addresses, connection): for
    /// an outbound flow, where requests must go; otherwise where a NATed UA
    /// really is.
    pub source: Source,
    /// The User-Agent header of the REGISTER, for operators. Shared: the
    /// location index keeps each distinct text once (thousands of phones
    /// run a few firmware versions).
    pub user_agent: Option<Arc<str>>,
    /// When the binding was first created.
    pub registered_at: u64,
    /// When it was last written.
    pub updated_at: u64,
}

impl Binding {
    /// Seconds left at `unix_now` (0 once expired).
    #[must_use]
    pub fn remaining(&self, unix_now: u64) -> u64 {
        self.expires_at.saturating_sub(unix_now)
    }

    /// Whether the binding has expired at `unix_now`.
    #[must_use]
    pub fn is_expired(&self, unix_now: u64) -> bool {
        self.expires_at <= unix_now
    }

    /// True for an RFC 5626 flow: requests must go down the flow the
    /// REGISTER came on (or through the Path), not to the contact URI.
    #[must_use]
    pub fn is_outbound_flow(&self) -> bool {
        matches!(self.key, BindingKey::Flow { .. })
    }

    /// The q-value for ordering: an absent `q` counts as 1.0.
    #[must_use]
    pub fn q_or_default(&self) -> u16 {
        self.q.unwrap_or(1000)
    }

    /// The Contact header value for a 200 OK: `<uri>;params;q=..;expires=N`.
    #[must_use]
    pub fn contact_value(&self, unix_now: u64) -> String {
        let mut v = self.contact_without_expires(24);
        v.push_str(";expires=");
        v.push_str(&self.remaining(unix_now).to_string());
        v
    }

    /// `<uri>;params;q=..`: the contact as registered, with its `q` but
    /// without `expires` (what a store keeps next to the key).
    #[must_use]
    pub fn contact_with_params(&self) -> String {
        self.contact_without_expires(0)
    }

    fn contact_without_expires(&self, spare: usize) -> String {
        let mut v = String::with_capacity(self.contact.len() + self.params.len() + 8 + spare);
        v.push('<');
        v.push_str(&self.contact);
        v.push('>');
        v.push_str(&self.params);
        if let Some(q) = self.q {
            v.push_str(";q=");
            v.push_str(&format_qvalue(q));
        }
        v
    }
}

/// Why a binding goes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemoveReason {
    /// The UA removed it (expires 0, or `Contact: *`).
    Unregistered,
    /// Its time ran out.
    Expired,
    /// The AOR reached its contact limit and this was the oldest binding.
    Evicted,
}

/// A change to the location service that the application must store
/// before the registrar's answer is sent.
// Most changes are upserts, and they are short-lived: boxing would cost an
// allocation each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingChange {
    /// Insert the binding, or replace the one with the same AOR and key.
    Upsert(Binding),
    /// Delete the binding with this AOR and key.
    Remove {
        /// The AOR.
        aor: Aor,
        /// The binding's key.
        key: BindingKey,
        /// Why.
        reason: RemoveReason,
    },
}

impl BindingChange {
    /// The removal of `binding`, whose time ran out.
    #[must_use]
    pub fn expiry_of(binding: Binding) -> Self {
        Self::Remove {
            aor: binding.aor,
            key: binding.key,
            reason: RemoveReason::Expired,
        }
    }

    /// The AOR the change is about.
    #[must_use]
    pub fn aor(&self) -> &Aor {
        match self {
            Self::Upsert(b) => &b.aor,
            Self::Remove { aor, .. } => aor,
        }
    }

    /// The key of the binding the change is about.
    #[must_use]
    pub fn key(&self) -> &BindingKey {
        match self {
            Self::Upsert(b) => &b.key,
            Self::Remove { key, .. } => key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_as_text() {
        for key in [
            BindingKey::Contact("sip:alice@192.0.2.1:5060;transport=tcp".into()),
            BindingKey::Instance("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6".into()),
            BindingKey::Flow {
                instance: "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6".into(),
                reg_id: 2,
            },
        ] {
            assert_eq!(key.to_string().parse::<BindingKey>(), Ok(key));
        }
        for bad in ["", "contact:", "flow:x:urn", "flow:1:", "other:x", "flow:1"] {
            assert!(bad.parse::<BindingKey>().is_err(), "{bad:?}");
        }
    }
}
