//! The few header values of a sent INVITE that its client transaction needs
//! later: for the CANCEL (§9.1) and for the ACK to a non-2xx final response
//! (§17.1.1.3).

use switchboard_proto::{BuildError, HeaderName, Method, Request, RequestBuilder};

/// What an INVITE client transaction keeps of its request instead of the
/// whole parsed message: CANCEL and ACK copy the Request-URI, top Via,
/// From, Call-ID, CSeq number and Route set, and differ only in the To
/// (the INVITE's for a CANCEL, the response's for an ACK).
#[derive(Debug)]
pub(crate) struct InviteFields {
    uri: Box<str>,
    via: Box<str>,
    branch: Box<str>,
    from: Box<str>,
    to: Box<str>,
    call_id: Box<str>,
    seq: u32,
    routes: Box<[Box<str>]>,
}

impl InviteFields {
    /// The fields of `invite`, or `None` when it lacks one of them (then no
    /// CANCEL or ACK can be built for it).
    pub(crate) fn of(invite: &Request) -> Option<Self> {
        let h = invite.headers();
        Some(Self {
            uri: invite.uri_str().into(),
            via: h.values(HeaderName::Via).next()?.into(),
            branch: h.top_branch()?.into(),
            from: h.get(HeaderName::From)?.into(),
            to: h.get(HeaderName::To)?.into(),
            call_id: h.get(HeaderName::CallId)?.into(),
            seq: h.cseq()?.seq,
            routes: h.get_all(HeaderName::Route).map(Box::from).collect(),
        })
    }

    /// The top Via branch, which the CANCEL reuses.
    pub(crate) fn branch(&self) -> &str {
        &self.branch
    }

    /// The CANCEL for this INVITE (§9.1).
    pub(crate) fn cancel(&self) -> Result<Request, BuildError> {
        self.build(Method::Cancel, &self.to)
    }

    /// The ACK for a non-2xx final response whose To header is `to`.
    pub(crate) fn ack(&self, to: &str) -> Result<Request, BuildError> {
        self.build(Method::Ack, to)
    }

    fn build(&self, method: Method, to: &str) -> Result<Request, BuildError> {
        let mut b = RequestBuilder::new(method, &*self.uri)
            .header(HeaderName::Via, &*self.via)
            .header(HeaderName::From, &*self.from)
            .header(HeaderName::To, to)
            .header(HeaderName::CallId, &*self.call_id)
            .cseq(self.seq)
            .header(HeaderName::MaxForwards, "70");
        for route in &self.routes {
            b = b.header(HeaderName::Route, &**route);
        }
        b.build()
    }
}
