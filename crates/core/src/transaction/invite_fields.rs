//! The few header values of a sent INVITE that its client transaction needs
//! later: for the CANCEL (§9.1) and for the ACK to a non-2xx final response
//! (§17.1.1.3).

use switchboard_proto::{BuildError, HeaderName, Method, Request, RequestBuilder};

/// Positions of the single-valued fields in [`InviteFields::text`].
const URI: usize = 0;
const VIA: usize = 1;
const BRANCH: usize = 2;
const FROM: usize = 3;
const TO: usize = 4;
const CALL_ID: usize = 5;
const FIXED: usize = 6;

/// What an INVITE client transaction keeps of its request instead of the
/// whole parsed message: CANCEL and ACK copy the Request-URI, top Via,
/// From, Call-ID, CSeq number and Route set, and differ only in the To
/// (the INVITE's for a CANCEL, the response's for an ACK).
///
/// The values sit back to back in one string (one allocation per INVITE
/// sent, plus one when it has Routes) with their end offsets beside it.
#[derive(Debug)]
pub(crate) struct InviteFields {
    text: Box<str>,
    ends: [u32; FIXED],
    route_ends: Box<[u32]>,
    seq: u32,
}

impl InviteFields {
    /// The fields of `invite`, or `None` when it lacks one of them (then no
    /// CANCEL or ACK can be built for it).
    pub(crate) fn of(invite: &Request) -> Option<Self> {
        let h = invite.headers();
        let fixed: [&str; FIXED] = [
            invite.uri_str(),
            h.values(HeaderName::Via).next()?,
            h.top_branch()?,
            h.get(HeaderName::From)?,
            h.get(HeaderName::To)?,
            h.get(HeaderName::CallId)?,
        ];
        let seq = h.cseq()?.seq;
        let mut text = String::with_capacity(fixed.iter().map(|s| s.len()).sum());
        let mut ends = [0; FIXED];
        for (end, value) in ends.iter_mut().zip(fixed) {
            text.push_str(value);
            *end = u32::try_from(text.len()).ok()?;
        }
        let route_ends = h
            .get_all(HeaderName::Route)
            .map(|route| {
                text.push_str(route);
                u32::try_from(text.len()).ok()
            })
            .collect::<Option<_>>()?;
        Some(Self {
            text: text.into(),
            ends,
            route_ends,
            seq,
        })
    }

    /// The top Via branch, which the CANCEL reuses.
    pub(crate) fn branch(&self) -> &str {
        self.field(BRANCH)
    }

    /// The CANCEL for this INVITE (§9.1).
    pub(crate) fn cancel(&self) -> Result<Request, BuildError> {
        self.build(Method::Cancel, self.field(TO))
    }

    /// The ACK for a non-2xx final response whose To header is `to`.
    pub(crate) fn ack(&self, to: &str) -> Result<Request, BuildError> {
        self.build(Method::Ack, to)
    }

    fn build(&self, method: Method, to: &str) -> Result<Request, BuildError> {
        let mut b = RequestBuilder::new(method, self.field(URI))
            .header(HeaderName::Via, self.field(VIA))
            .header(HeaderName::From, self.field(FROM))
            .header(HeaderName::To, to)
            .header(HeaderName::CallId, self.field(CALL_ID))
            .cseq(self.seq)
            .header(HeaderName::MaxForwards, "70");
        let mut start = self.ends.get(FIXED - 1).copied().unwrap_or(0);
        for &end in &self.route_ends {
            b = b.header(HeaderName::Route, self.span(start, end));
            start = end;
        }
        b.build()
    }

    fn field(&self, i: usize) -> &str {
        let start = i
            .checked_sub(1)
            .and_then(|prev| self.ends.get(prev))
            .copied()
            .unwrap_or(0);
        let end = self.ends.get(i).copied().unwrap_or(0);
        self.span(start, end)
    }

    fn span(&self, start: u32, end: u32) -> &str {
        self.text
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }
}
