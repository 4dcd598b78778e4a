//! A [`UserAgent`] on a real endpoint and a virtual clock, fed whatever a
//! peer might send: the rig behind the `ua_machine` fuzz target and the
//! crate's property test. Not part of the API (feature `fuzzing`).
//!
//! The peer sits at [`PEER`] (the outbound proxy of the user agent, so
//! every request of ours goes there). An [`Op`] answers one of our
//! requests (any status, headers and body), sends a request of its own
//! (aimed at one of our Call-IDs or a new one), sends raw bytes, lets time
//! pass, or gives the user agent a command. After any sequence of them
//! the user agent must not have panicked, must not spin at one instant,
//! and must still answer an OPTIONS ([`Rig::answers_options`]).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::{Config, Endpoint, Input, Source, Transport};
use switchboard_proto::{HeaderName, Message, Request, Response};

use crate::{MediaPolicy, MediaSession, SrtpPolicy, UaConfig, UaEvent, UserAgent};

/// Our address.
pub const LOCAL: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1)),
    5060,
);
/// The peer's (the outbound proxy).
pub const PEER: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1)),
    5080,
);
/// The longest time one [`Op::Wait`] lets pass.
pub const MAX_WAIT: Duration = Duration::from_secs(64);
/// Timeouts handled within one [`Op::Wait`] before the rig calls it a
/// livelock.
const MAX_STEPS: usize = 10_000;
/// Requests of ours remembered for answering.
const KEEP_SENT: usize = 16;

/// An SDP answer that fits our offers (plain RTP, PCMU): lets calls
/// come up so that later inputs reach established dialogs.
pub const GOOD_SDP: &str = "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
t=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

/// Header lines a peer's message may carry; `{}` takes the op's text.
pub const HEADERS: [&str; 17] = [
    "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"{}\", qop=\"auth\"",
    "Proxy-Authenticate: Digest realm=\"proxy\", nonce=\"{}\", algorithm=SHA-256, qop=\"auth\"",
    "WWW-Authenticate: {}",
    "Contact: <sip:peer@127.0.0.1:5080>;expires={}",
    "Contact: {}",
    "Record-Route: <sip:{};lr>",
    "Expires: {}",
    "Min-Expires: {}",
    "Session-Expires: {};refresher=uac",
    "Min-SE: {}",
    "Require: {}",
    "Content-Type: {}",
    "Retry-After: {}",
    "Subscription-State: {}",
    "Event: {}",
    "SIP-ETag: {}",
    "{}",
];

/// Request methods a peer sends.
pub const METHODS: [&str; 10] = [
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "MESSAGE", "INFO", "UPDATE", "NOTIFY", "FOO",
];

/// A body: ours to fit, or anything.
#[derive(Debug, Clone)]
pub enum Body {
    /// [`GOOD_SDP`].
    GoodSdp,
    /// These bytes.
    Raw(Vec<u8>),
}

impl Body {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::GoodSdp => GOOD_SDP.as_bytes(),
            Self::Raw(b) => b,
        }
    }
}

/// What the user agent is told to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// Register for this many seconds.
    Register(u32),
    /// Call `sip:bob@example.com`.
    Dial,
    /// Send a MESSAGE.
    Message,
    /// Hang up every call.
    Hangup,
    /// Hold (`true`) or resume every call.
    Hold(bool),
    /// Wind down.
    Stop,
    /// Offer incoming calls to the front end (which takes them) or not.
    Answering(bool),
    /// Subscribe to `sip:bob@example.com`'s presence (`true`) or dialog
    /// events.
    Subscribe(bool),
    /// Publish our presence (open, or away).
    Publish(bool),
    /// End every subscription and the publication.
    Unsubscribe,
}

/// One thing that happens to the user agent.
#[derive(Debug, Clone)]
pub enum Op {
    /// The peer answers one of our recent requests (`pick` modulo how many
    /// are remembered).
    Respond {
        /// Which request.
        pick: usize,
        /// The status (any number; what does not parse is dropped).
        status: u16,
        /// A To tag.
        to_tag: Option<String>,
        /// Extra header lines: an index into [`HEADERS`] and its text.
        headers: Vec<(usize, String)>,
        /// The body.
        body: Body,
    },
    /// The peer sends a request.
    Request {
        /// An index into [`METHODS`].
        method: usize,
        /// Which of our Call-IDs (modulo), or a new one when none is known.
        call: usize,
        /// The From tag and the To tag.
        tags: (Option<String>, Option<String>),
        /// The CSeq number.
        cseq: u32,
        /// Extra header lines, as for [`Op::Respond`].
        headers: Vec<(usize, String)>,
        /// The body.
        body: Body,
    },
    /// The peer sends these bytes as one datagram.
    Datagram(Vec<u8>),
    /// This much time passes (at most [`MAX_WAIT`]).
    Wait(Duration),
    /// The front end gives a command.
    Command(Command),
}

/// The user agent got stuck: more than `MAX_STEPS` timeouts at one
/// instant, or a deadline that does not move once handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Livelock;

/// The user agent, its endpoint and the clock.
pub struct Rig {
    ep: Endpoint,
    ua: UserAgent,
    now: Instant,
    /// Our recent requests.
    sent: Vec<Request>,
    /// Call-IDs of our requests and of calls offered to us.
    call_ids: Vec<String>,
    /// Responses we sent since the last op.
    answered: Vec<Response>,
    serial: u64,
}

impl std::fmt::Debug for Rig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rig")
            .field("ua", &self.ua)
            .field("sent", &self.sent.len())
            .finish_non_exhaustive()
    }
}

impl Rig {
    /// A user agent for `sip:alice@example.com` with credentials,
    /// answering calls, its RNGs seeded from `seed`.
    pub fn new(seed: u64) -> Self {
        let ep = Endpoint::new(
            Config {
                via_addresses: vec![(Transport::Udp, LOCAL)],
                ..Config::default()
            },
            Box::new(StdRng::seed_from_u64(seed)),
        );
        // `UaConfig::new` only fails on a bad AOR; this one is fine, and a
        // default-looking fallback keeps the rig panic-free regardless.
        let mut config = UaConfig::new("sip:alice@example.com", Transport::Udp, LOCAL)
            .unwrap_or_else(|_| fallback_config());
        config.outbound_proxy = Some(PEER);
        config.credentials = Some(crate::Credentials {
            username: "alice".into(),
            password: "secret".into(),
        });
        let mut ua = UserAgent::new(config, Box::new(StdRng::seed_from_u64(seed ^ 0x5eed)));
        ua.set_answering(true);
        Self {
            ep,
            ua,
            now: Instant::now(),
            sent: Vec::new(),
            call_ids: Vec::new(),
            answered: Vec::new(),
            serial: 0,
        }
    }

    /// The user agent.
    pub fn user_agent(&self) -> &UserAgent {
        &self.ua
    }

    /// Applies one op and everything that follows from it.
    ///
    /// # Errors
    ///
    /// [`Livelock`] when time cannot move on.
    pub fn apply(&mut self, op: Op) -> Result<(), Livelock> {
        self.answered.clear();
        match op {
            Op::Respond {
                pick,
                status,
                to_tag,
                headers,
                body,
            } => {
                if let Some(text) = self.response_to(pick, status, to_tag.as_deref(), &headers) {
                    self.deliver(with_body(text, body.bytes()));
                }
            }
            Op::Request {
                method,
                call,
                tags,
                cseq,
                headers,
                body,
            } => {
                let text = self.request(method, call, &tags, cseq, &headers);
                self.deliver(with_body(text, body.bytes()));
            }
            Op::Datagram(bytes) => self.deliver(bytes),
            Op::Wait(d) => return self.wait(d.min(MAX_WAIT)),
            Op::Command(c) => self.command(c),
        }
        Ok(())
    }

    /// Whether an OPTIONS from the peer, sent now, is answered 200 at
    /// once: the user agent still works.
    pub fn answers_options(&mut self) -> bool {
        self.answered.clear();
        self.serial += 1;
        let call_id = format!("probe-{}", self.serial);
        let text = format!(
            "OPTIONS sip:alice@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch=z9hG4bKprobe{}\r\n\
             From: <sip:peer@127.0.0.1:5080>;tag=p\r\nTo: <sip:alice@example.com>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            self.serial
        );
        self.deliver(text.into_bytes());
        self.answered
            .iter()
            .any(|r| r.status().as_u16() == 200 && r.headers().call_id() == Some(call_id.as_str()))
    }

    fn command(&mut self, command: Command) {
        let (now, ep, ua) = (self.now, &mut self.ep, &mut self.ua);
        let result = match command {
            Command::Register(expires) => ua.register(now, ep, expires),
            Command::Dial => {
                let media = MediaSession::new(
                    MediaPolicy {
                        srtp: SrtpPolicy::Optional,
                        ..MediaPolicy::default()
                    },
                    SocketAddr::new(LOCAL.ip(), 40_000),
                    &mut StdRng::seed_from_u64(self.serial),
                );
                ua.dial(now, ep, "sip:bob@example.com", media).map(drop)
            }
            Command::Message => ua
                .send_message(now, ep, "sip:bob@example.com", "hi")
                .map(drop),
            Command::Hangup => {
                ua.hangup_all(now, ep);
                Ok(())
            }
            Command::Hold(hold) => {
                ua.hold_all(now, ep, hold);
                Ok(())
            }
            Command::Stop => {
                ua.stop(now, ep);
                Ok(())
            }
            Command::Answering(on) => {
                ua.set_answering(on);
                Ok(())
            }
            Command::Subscribe(presence) => {
                let package = if presence { "presence" } else { "dialog" };
                ua.subscribe(now, ep, "sip:bob@example.com", package, 600)
                    .map(drop)
            }
            Command::Publish(open) => {
                let status = if open { "open" } else { "away" };
                ua.publish(now, ep, crate::Presence::from_status(status), 600)
            }
            Command::Unsubscribe => {
                let ids: Vec<String> = ua.subscriptions().map(|s| s.id().to_owned()).collect();
                for id in ids {
                    let _ = ua.unsubscribe(now, ep, &id);
                }
                ua.unpublish(now, ep);
                Ok(())
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "command refused");
        }
        self.settle();
    }

    /// Feeds `bytes` to the endpoint as a datagram from the peer.
    fn deliver(&mut self, bytes: Vec<u8>) {
        let source = Source {
            transport: Transport::Udp,
            remote: PEER,
            local: LOCAL,
            flow: None,
        };
        let bytes = Bytes::from(bytes);
        self.ep
            .handle_input(self.now, Input::Datagram { source, bytes });
        self.settle();
    }

    /// Lets `d` pass, handling every deadline on the way in order.
    fn wait(&mut self, d: Duration) -> Result<(), Livelock> {
        let end = self.now + d;
        for _ in 0..MAX_STEPS {
            let next = [self.ep.poll_timeout(), self.ua.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|t| *t <= end) else {
                self.now = end;
                return Ok(());
            };
            self.now = self.now.max(next);
            if self.ep.poll_timeout().is_some_and(|t| t <= self.now) {
                self.ep.handle_timeout(self.now);
            }
            if self.ua.poll_timeout().is_some_and(|t| t <= self.now) {
                self.ua.handle_timeout(self.now, &mut self.ep);
            }
            self.settle();
        }
        Err(Livelock)
    }

    /// Runs the endpoint's events through the user agent until all is
    /// quiet, playing the front end (incoming calls are taken) and
    /// remembering what was sent.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.ep.poll_transmit() {
                moved = true;
                match Message::parse_datagram(t.bytes) {
                    Ok(Message::Request(r)) => self.remember(r),
                    Ok(Message::Response(r)) => self.answered.push(r),
                    Err(_) => {}
                }
            }
            while self.ep.poll_close().is_some() {}
            if let Some(event) = self.ep.poll_event() {
                moved = true;
                self.ua.handle_event(self.now, &mut self.ep, event);
            }
            while let Some(event) = self.ua.poll_event() {
                moved = true;
                if let UaEvent::IncomingCall { call_id, .. } = event {
                    let media = MediaSession::new(
                        MediaPolicy::default(),
                        SocketAddr::new(LOCAL.ip(), 40_002),
                        &mut StdRng::seed_from_u64(self.serial),
                    );
                    let delay = Duration::from_millis(300);
                    let _ = self
                        .ua
                        .accept(self.now, &mut self.ep, &call_id, media, delay);
                    self.remember_call_id(call_id);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn remember(&mut self, request: Request) {
        if let Some(id) = request.headers().call_id() {
            self.remember_call_id(id.to_owned());
        }
        if self.sent.len() >= KEEP_SENT {
            self.sent.remove(0);
        }
        self.sent.push(request);
    }

    fn remember_call_id(&mut self, id: String) {
        if !self.call_ids.contains(&id) {
            self.call_ids.push(id);
        }
    }

    /// A response to our request number `pick`, without Content-Length
    /// and body.
    fn response_to(
        &self,
        pick: usize,
        status: u16,
        to_tag: Option<&str>,
        headers: &[(usize, String)],
    ) -> Option<String> {
        let request = self.sent.get(pick.checked_rem(self.sent.len())?)?;
        let h = request.headers();
        let mut text = format!("SIP/2.0 {status} Fuzz\r\n");
        for via in h.get_all(HeaderName::Via) {
            let _ = write!(text, "Via: {via}\r\n");
        }
        let to = h.get(HeaderName::To).unwrap_or_default();
        let _ = write!(
            text,
            "From: {}\r\nTo: {to}{}\r\nCall-ID: {}\r\nCSeq: {}\r\n",
            h.get(HeaderName::From).unwrap_or_default(),
            to_tag.map(|t| format!(";tag={t}")).unwrap_or_default(),
            h.call_id().unwrap_or_default(),
            h.get(HeaderName::CSeq).unwrap_or_default(),
        );
        push_headers(&mut text, headers);
        Some(text)
    }

    /// A request from the peer, without Content-Length and body.
    fn request(
        &mut self,
        method: usize,
        call: usize,
        tags: &(Option<String>, Option<String>),
        cseq: u32,
        headers: &[(usize, String)],
    ) -> String {
        self.serial += 1;
        let method = METHODS
            .get(method % METHODS.len())
            .copied()
            .unwrap_or("FOO");
        let call_id = call
            .checked_rem(self.call_ids.len())
            .and_then(|i| self.call_ids.get(i))
            .cloned()
            .unwrap_or_else(|| format!("peer-{}", self.serial));
        let tag = |t: &Option<String>| t.as_ref().map(|t| format!(";tag={t}")).unwrap_or_default();
        let mut text = format!(
            "{method} sip:alice@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PEER};branch=z9hG4bKpeer{}\r\n\
             From: <sip:peer@127.0.0.1:5080>{}\r\nTo: <sip:alice@example.com>{}\r\nCall-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\nContact: <sip:peer@127.0.0.1:5080>\r\nMax-Forwards: 70\r\n",
            self.serial,
            tag(&tags.0),
            tag(&tags.1),
        );
        push_headers(&mut text, headers);
        text
    }
}

fn push_headers(text: &mut String, headers: &[(usize, String)]) {
    for (index, value) in headers {
        let template = HEADERS.get(index % HEADERS.len()).copied().unwrap_or("{}");
        // A CR or LF in the value would make the line something else;
        // raw bytes are what `Op::Datagram` is for.
        let value: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        text.push_str(&template.replace("{}", &value));
        text.push_str("\r\n");
    }
}

fn with_body(mut text: String, body: &[u8]) -> Vec<u8> {
    if !body.is_empty() {
        text.push_str("Content-Type: application/sdp\r\n");
    }
    let _ = write!(text, "Content-Length: {}\r\n\r\n", body.len());
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn fallback_config() -> UaConfig {
    UaConfig {
        aor: "sip:alice@example.com".into(),
        display_name: None,
        credentials: None,
        contact: "sip:alice@127.0.0.1:5060".into(),
        transport: Transport::Udp,
        local_addr: LOCAL,
        outbound_proxy: Some(PEER),
        user_agent: "fuzz".into(),
        session_expires: Some(1800),
    }
}

/// Reads [`Op`]s from fuzzer bytes.
#[derive(Debug)]
pub struct OpReader<'a> {
    data: &'a [u8],
}

impl<'a> OpReader<'a> {
    /// Ops from `data`, until it runs out.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(*first)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.byte()?, self.byte()?]))
    }

    /// A length byte, then that many bytes (fewer at the end).
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let len = usize::from(self.byte()?).min(self.data.len());
        let (taken, rest) = self.data.split_at_checked(len)?;
        self.data = rest;
        Some(taken.to_vec())
    }

    fn text(&mut self) -> Option<String> {
        Some(String::from_utf8_lossy(&self.bytes()?).into_owned())
    }

    fn tag(&mut self) -> Option<Option<String>> {
        Some(match self.byte()? % 3 {
            0 => None,
            1 => Some("t1".to_owned()),
            _ => Some(self.text()?),
        })
    }

    fn headers(&mut self) -> Option<Vec<(usize, String)>> {
        let count = self.byte()? % 4;
        (0..count)
            .map(|_| Some((usize::from(self.byte()?), self.text()?)))
            .collect()
    }

    fn body(&mut self) -> Option<Body> {
        Some(match self.byte()? % 3 {
            0 => Body::Raw(Vec::new()),
            1 => Body::GoodSdp,
            _ => Body::Raw(self.bytes()?),
        })
    }

    fn status(&mut self) -> Option<u16> {
        // Mostly the statuses a user agent acts on.
        const COMMON: [u16; 15] = [
            100, 180, 183, 200, 202, 401, 407, 408, 412, 422, 423, 481, 486, 489, 503,
        ];
        let pick = self.byte()?;
        Some(match COMMON.get(usize::from(pick)) {
            Some(s) => *s,
            None => self.u16()?,
        })
    }

    fn command(&mut self) -> Option<Command> {
        Some(match self.byte()? % 11 {
            0 => Command::Register(u32::from(self.u16()?)),
            1 | 2 => Command::Dial,
            3 => Command::Message,
            4 => Command::Hangup,
            5 => Command::Hold(self.byte()? % 2 == 0),
            6 => Command::Stop,
            7 => Command::Subscribe(self.byte()? % 2 == 0),
            8 => Command::Publish(self.byte()? % 2 == 0),
            9 => Command::Unsubscribe,
            _ => Command::Answering(self.byte()? % 2 == 0),
        })
    }
}

impl Iterator for OpReader<'_> {
    type Item = Op;

    fn next(&mut self) -> Option<Op> {
        Some(match self.byte()? % 6 {
            0 | 1 => Op::Respond {
                pick: usize::from(self.byte()?),
                status: self.status()?,
                to_tag: self.tag()?,
                headers: self.headers()?,
                body: self.body()?,
            },
            2 => Op::Request {
                method: usize::from(self.byte()?),
                call: usize::from(self.byte()?),
                tags: (self.tag()?, self.tag()?),
                cseq: u32::from(self.byte()?),
                headers: self.headers()?,
                body: self.body()?,
            },
            3 => Op::Datagram(self.bytes()?),
            4 => Op::Wait(Duration::from_millis(u64::from(self.u16()?) * 4)),
            _ => Op::Command(self.command()?),
        })
    }
}
