//! Call-ID and CSeq translation of a carrier's leg: a call sent to a
//! trunk with a Call-ID of its own (`fresh_call_id`), or whose INVITE was
//! sent again with CSeq + 1 to answer a challenge, keeps both sides
//! consistent for the rest of the dialog. The caller sees its own Call-ID
//! and CSeq numbers; the carrier sees its own.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use switchboard_proto::header::{CSeq, RAck};
use switchboard_proto::{HeaderName, Headers};

/// A leg nothing crossed for this long is forgotten (a dialog that ended
/// without a BYE the proxy saw).
pub(crate) const LEG_IDLE: Duration = Duration::from_secs(2 * 60 * 60);

/// What changes on a message crossing a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rewrite {
    /// The Call-ID on the other side.
    pub(crate) call_id: Option<String>,
    /// Added to the CSeq number (negative towards the caller).
    pub(crate) cseq_shift: i64,
}

impl Rewrite {
    /// Rewrites the Call-ID and CSeq of a message, and the CSeq number a
    /// PRACK's RAck names (RFC 3262).
    pub(crate) fn apply(&self, headers: &mut Headers) {
        if let Some(call_id) = &self.call_id {
            headers.set(HeaderName::CallId, call_id.as_str());
        }
        if self.cseq_shift == 0 {
            return;
        }
        let shifted = headers.cseq().and_then(|c| {
            Some(CSeq {
                seq: self.shift(c.seq)?,
                method: c.method.clone(),
            })
        });
        if let Some(cseq) = shifted {
            headers.set(HeaderName::CSeq, cseq.to_string());
        }
        let rack = headers.typed::<RAck>().and_then(Result::ok).and_then(|r| {
            Some(RAck {
                cseq: self.shift(r.cseq)?,
                ..r
            })
        });
        if let Some(rack) = rack {
            headers.set(HeaderName::RAck, rack.to_string());
        }
    }

    fn shift(&self, seq: u32) -> Option<u32> {
        u32::try_from(i64::from(seq) + self.cseq_shift).ok()
    }
}

/// Which way an in-dialog request crosses a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Way {
    /// From the caller to the carrier: the carrier's Call-ID, the CSeq
    /// ahead by the leg's delta.
    ToCarrier {
        /// The carrier's Call-ID.
        call_id: String,
        /// How far the carrier's CSeq numbers are ahead.
        delta: u32,
    },
    /// From the carrier to the caller: the caller's Call-ID, the CSeq as
    /// the carrier numbered it (the carrier's own sequence).
    ToCaller {
        /// The caller's Call-ID.
        call_id: String,
    },
}

impl Way {
    /// The rewrite of the request.
    pub(crate) fn rewrite(&self) -> Rewrite {
        match self {
            Self::ToCarrier { call_id, delta } => Rewrite {
                call_id: Some(call_id.clone()),
                cseq_shift: i64::from(*delta),
            },
            Self::ToCaller { call_id } => Rewrite {
                call_id: Some(call_id.clone()),
                cseq_shift: 0,
            },
        }
    }
}

#[derive(Debug)]
struct Leg {
    /// The caller's From tag.
    caller_tag: String,
    /// The carrier side's To tag (from its 2xx).
    remote_tag: String,
    carrier_call_id: String,
    cseq_delta: u32,
    last_used: Instant,
}

impl Leg {
    fn is_dialog(&self, a: &str, b: &str) -> bool {
        (self.caller_tag == a && self.remote_tag == b)
            || (self.caller_tag == b && self.remote_tag == a)
    }
}

/// The translated legs of established calls, by the caller's Call-ID.
#[derive(Debug, Default)]
pub(crate) struct Legs {
    by_caller: HashMap<String, Vec<Leg>>,
    /// The carrier's Call-ID to the caller's.
    carrier: HashMap<String, String>,
    /// No leg expires before this.
    next_sweep: Option<Instant>,
}

/// The ids of a dialog as one side sees a message of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DialogIds<'a> {
    pub(crate) call_id: &'a str,
    pub(crate) from_tag: &'a str,
    pub(crate) to_tag: &'a str,
}

impl<'a> DialogIds<'a> {
    /// The ids of a message, when it has them all.
    pub(crate) fn of(headers: &'a Headers) -> Option<Self> {
        Some(Self {
            call_id: headers.call_id()?,
            from_tag: headers.from_tag()?,
            to_tag: headers.to_tag()?,
        })
    }
}

impl Legs {
    /// A translated branch got a dialog: an early one (1xx with a To
    /// tag) or the call answered (2xx).
    pub(crate) fn insert(
        &mut self,
        now: Instant,
        caller: DialogIds<'_>,
        carrier_call_id: &str,
        cseq_delta: u32,
    ) {
        let legs = self.by_caller.entry(caller.call_id.to_owned()).or_default();
        if let Some(leg) = legs
            .iter_mut()
            .find(|l| l.caller_tag == caller.from_tag && l.remote_tag == caller.to_tag)
        {
            leg.last_used = now; // a 2xx retransmission
            return;
        }
        legs.push(Leg {
            caller_tag: caller.from_tag.to_owned(),
            remote_tag: caller.to_tag.to_owned(),
            carrier_call_id: carrier_call_id.to_owned(),
            cseq_delta,
            last_used: now,
        });
        self.carrier
            .insert(carrier_call_id.to_owned(), caller.call_id.to_owned());
        let expiry = now + LEG_IDLE;
        self.next_sweep = Some(self.next_sweep.map_or(expiry, |at| at.min(expiry)));
    }

    /// Which way a request (or an ACK) of a translated dialog goes, as it
    /// arrives; the leg counts as used.
    pub(crate) fn way_of_request(&mut self, now: Instant, ids: DialogIds<'_>) -> Option<Way> {
        if let Some(leg) = self.caller_side(now, ids.call_id, ids.from_tag, ids.to_tag) {
            return Some(Way::ToCarrier {
                call_id: leg.carrier_call_id.clone(),
                delta: leg.cseq_delta,
            });
        }
        let caller_call_id = self.carrier.get(ids.call_id)?.clone();
        self.carrier_side(now, ids.call_id, ids.to_tag, ids.from_tag)?;
        Some(Way::ToCaller {
            call_id: caller_call_id,
        })
    }

    /// The rewrite of a response that no transaction carries back (a 2xx
    /// retransmission): a response to the caller's request (the carrier's
    /// Call-ID, the caller's From tag) gets the caller's Call-ID and CSeq
    /// back; one to the carrier's request gets the carrier's Call-ID.
    pub(crate) fn response_rewrite(&mut self, now: Instant, ids: DialogIds<'_>) -> Option<Rewrite> {
        if let Some(caller_call_id) = self.carrier.get(ids.call_id).cloned() {
            if let Some(leg) = self.carrier_side(now, ids.call_id, ids.from_tag, ids.to_tag) {
                return Some(Rewrite {
                    call_id: Some(caller_call_id),
                    cseq_shift: -i64::from(leg.cseq_delta),
                });
            }
        }
        let leg = self.caller_side(now, ids.call_id, ids.to_tag, ids.from_tag)?;
        Some(Rewrite {
            call_id: Some(leg.carrier_call_id.clone()),
            cseq_shift: 0,
        })
    }

    /// The leg of the caller's Call-ID with these tags, touched.
    fn caller_side(
        &mut self,
        now: Instant,
        caller_call_id: &str,
        caller_tag: &str,
        remote_tag: &str,
    ) -> Option<&mut Leg> {
        let leg = self
            .by_caller
            .get_mut(caller_call_id)?
            .iter_mut()
            .find(|l| l.caller_tag == caller_tag && l.remote_tag == remote_tag)?;
        leg.last_used = now;
        Some(leg)
    }

    /// The leg of the carrier's Call-ID with these tags, touched.
    fn carrier_side(
        &mut self,
        now: Instant,
        carrier_call_id: &str,
        caller_tag: &str,
        remote_tag: &str,
    ) -> Option<&mut Leg> {
        let caller_call_id = self.carrier.get(carrier_call_id)?;
        let leg = self
            .by_caller
            .get_mut(caller_call_id)?
            .iter_mut()
            .find(|l| {
                l.carrier_call_id == carrier_call_id
                    && l.caller_tag == caller_tag
                    && l.remote_tag == remote_tag
            })?;
        leg.last_used = now;
        Some(leg)
    }

    /// The carrier's Call-ID and CSeq delta of the leg the caller's side
    /// names `caller`.
    pub(crate) fn leg_of(&self, caller: DialogIds<'_>) -> Option<(&str, u32)> {
        self.by_caller
            .get(caller.call_id)?
            .iter()
            .find(|l| l.caller_tag == caller.from_tag && l.remote_tag == caller.to_tag)
            .map(|l| (l.carrier_call_id.as_str(), l.cseq_delta))
    }

    /// The caller's Call-ID of the carrier leg `carrier_call_id`.
    pub(crate) fn caller_of(&self, carrier_call_id: &str) -> Option<&str> {
        self.carrier.get(carrier_call_id).map(String::as_str)
    }

    /// The dialog ended (2xx to its BYE, or a final failure of its
    /// INVITE): its leg goes. `ids` as the caller's side names it.
    pub(crate) fn remove(&mut self, ids: DialogIds<'_>) {
        let Some(legs) = self.by_caller.get_mut(ids.call_id) else {
            return;
        };
        let carrier = &mut self.carrier;
        legs.retain(|l| {
            let gone = l.is_dialog(ids.from_tag, ids.to_tag);
            if gone {
                carrier.remove(&l.carrier_call_id);
            }
            !gone
        });
        if legs.is_empty() {
            self.by_caller.remove(ids.call_id);
        }
    }

    /// When [`Legs::sweep`] is due.
    pub(crate) fn next_sweep(&self) -> Option<Instant> {
        self.next_sweep
    }

    /// Forgets the legs idle for [`LEG_IDLE`].
    pub(crate) fn sweep(&mut self, now: Instant) {
        if self.next_sweep.is_none_or(|at| at > now) {
            return;
        }
        let carrier = &mut self.carrier;
        let mut next: Option<Instant> = None;
        self.by_caller.retain(|_, legs| {
            legs.retain(|l| {
                let expiry = l.last_used + LEG_IDLE;
                if expiry <= now {
                    carrier.remove(&l.carrier_call_id);
                    tracing::debug!(call_id = %l.carrier_call_id, "idle carrier leg forgotten");
                    return false;
                }
                next = Some(next.map_or(expiry, |at| at.min(expiry)));
                true
            });
            !legs.is_empty()
        });
        self.next_sweep = next;
    }

    /// How many legs are kept.
    pub(crate) fn len(&self) -> usize {
        self.by_caller.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
// Test code: a panic is a failing test.
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use switchboard_proto::{Method, Request, RequestBuilder};

    fn prack() -> Request {
        RequestBuilder::new(Method::Prack, "sip:gw@192.0.2.1")
            .from("<sip:alice@example.com>", "a1")
            .to("<sip:+4930@192.0.2.1>", Some("gw"))
            .call_id("call-1")
            .cseq(2)
            .header(HeaderName::RAck, "7 1 INVITE")
            .build()
            .unwrap()
    }

    /// Alice's call-1 (tag a1) answered by a gateway (tag gw) on the
    /// carrier's carrier-1, one challenge answered.
    fn one_leg() -> (Legs, Instant) {
        let mut legs = Legs::default();
        let now = Instant::now();
        let caller = DialogIds {
            call_id: "call-1",
            from_tag: "a1",
            to_tag: "gw",
        };
        legs.insert(now, caller, "carrier-1", 1);
        (legs, now)
    }

    #[test]
    fn towards_the_carrier_a_prack_names_the_invite_it_got() {
        let (mut legs, now) = one_leg();
        let mut request = prack();
        let way = legs
            .way_of_request(now, DialogIds::of(request.headers()).unwrap())
            .unwrap();
        assert_eq!(
            way,
            Way::ToCarrier {
                call_id: "carrier-1".into(),
                delta: 1
            }
        );
        way.rewrite().apply(request.headers_mut());
        let h = request.headers();
        assert_eq!(h.call_id(), Some("carrier-1"));
        assert_eq!(h.cseq().unwrap().seq, 3);
        assert_eq!(h.get(HeaderName::RAck), Some("7 2 INVITE"));
    }

    #[test]
    fn the_carriers_request_goes_to_the_caller_and_the_bye_ends_the_leg() {
        let (mut legs, now) = one_leg();
        let from_carrier = DialogIds {
            call_id: "carrier-1",
            from_tag: "gw",
            to_tag: "a1",
        };
        assert_eq!(
            legs.way_of_request(now, from_carrier),
            Some(Way::ToCaller {
                call_id: "call-1".into()
            })
        );
        // A stranger's tags on the same Call-ID are not the leg.
        let stranger = DialogIds {
            to_tag: "zz",
            ..from_carrier
        };
        assert_eq!(legs.way_of_request(now, stranger), None);
        legs.remove(DialogIds {
            call_id: "call-1",
            from_tag: "gw",
            to_tag: "a1",
        });
        assert_eq!(legs.len(), 0);
        assert_eq!(legs.way_of_request(now, from_carrier), None);
    }
}
