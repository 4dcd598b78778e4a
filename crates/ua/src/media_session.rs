//! SDP offer/answer (RFC 3264) for one call's audio stream: G.711 (PCMU,
//! PCMA) and telephone-event, the four directions for hold and resume, and
//! RTP/AVP or RTP/SAVP with SDES keys (`a=crypto`, RFC 4568) by
//! [`SrtpPolicy`].

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use rand_core::RngCore;
use switchboard_media::g711::G711;
use switchboard_media::srtp::{MasterKey, SrtpSuite};
use switchboard_proto::sdp::{
    Attribute, Connection, Crypto, Direction, Fmtp, InlineKey, MediaDescription, MediaType, Origin,
    Protocol, RtpMap, SessionDescription,
};

use crate::error::NegotiationError;

/// Whether media is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrtpPolicy {
    /// Plain RTP only: offers RTP/AVP without keys, refuses RTP/SAVP.
    Off,
    /// SRTP when the peer takes it: offers RTP/AVP with `a=crypto` keys
    /// (best-effort SRTP), accepts either.
    #[default]
    Optional,
    /// SRTP or no call: offers RTP/SAVP, refuses plain RTP (488).
    Required,
}

impl FromStr for SrtpPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "off" => Ok(Self::Off),
            "optional" => Ok(Self::Optional),
            "required" => Ok(Self::Required),
            _ => Err(format!(
                "SRTP policy must be off, optional or required, not {s:?}"
            )),
        }
    }
}

/// What we are willing to negotiate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPolicy {
    /// Encryption.
    pub srtp: SrtpPolicy,
    /// Codecs, in order of preference.
    pub codecs: Vec<G711>,
    /// Offer and accept telephone-event (RFC 4733).
    pub telephone_event: bool,
    /// SRTP suites, in order of preference.
    pub suites: Vec<SrtpSuite>,
}

impl Default for MediaPolicy {
    fn default() -> Self {
        Self {
            srtp: SrtpPolicy::default(),
            codecs: vec![G711::Ulaw, G711::Alaw],
            telephone_event: true,
            suites: vec![
                SrtpSuite::AesCm128HmacSha1_80,
                SrtpSuite::AesCm128HmacSha1_32,
                SrtpSuite::AeadAes128Gcm,
            ],
        }
    }
}

/// SDES keys of a negotiated SRTP stream, base64 key||salt as in `inline:`.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    /// The suite.
    pub suite: SrtpSuite,
    /// Our key: protects what we send.
    pub local: String,
    /// The peer's key: unprotects what we receive.
    pub remote: String,
}

impl std::fmt::Debug for SrtpKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys never reach a log.
        f.debug_struct("SrtpKeys")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// The outcome of an offer/answer exchange: how to run the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Where to send RTP.
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP (the `a=rtcp` port, else RTP port + 1).
    pub remote_rtcp: SocketAddr,
    /// The codec.
    pub codec: G711,
    /// Its payload type.
    pub payload_type: u8,
    /// The telephone-event payload type, if both sides have it.
    pub dtmf_payload_type: Option<u8>,
    /// Our direction: `SendRecv`, `SendOnly` (we hold), `RecvOnly` (we are
    /// held) or `Inactive`.
    pub direction: Direction,
    /// SRTP keys, `None` for plain RTP.
    pub srtp: Option<SrtpKeys>,
}

/// One call's side of offer/answer: our address, keys and direction, and
/// the versioned `o=` line.
#[derive(Debug)]
pub struct MediaSession {
    policy: MediaPolicy,
    local: SocketAddr,
    session_id: u64,
    version: u64,
    /// Our key per suite, made once per call; in an offer, crypto tag
    /// `i + 1` carries `keys[i]`.
    keys: Vec<MasterKey>,
    /// What we would like: `SendRecv`, or `SendOnly` on hold.
    preferred: Direction,
}

/// The direction the other side sees: ours as written from its viewpoint.
pub fn reverse(direction: Direction) -> Direction {
    match direction {
        Direction::SendOnly => Direction::RecvOnly,
        Direction::RecvOnly => Direction::SendOnly,
        d => d,
    }
}

fn sends(direction: Direction) -> bool {
    matches!(direction, Direction::SendRecv | Direction::SendOnly)
}

fn receives(direction: Direction) -> bool {
    matches!(direction, Direction::SendRecv | Direction::RecvOnly)
}

fn from_flags(send: bool, receive: bool) -> Direction {
    match (send, receive) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}

/// The codec behind payload type `pt` of `media`.
fn codec_of(media: &MediaDescription, pt: u8) -> Option<G711> {
    match media.rtpmap(pt) {
        Some(map) if map.clock_rate == 8000 => {
            if map.encoding_name.eq_ignore_ascii_case("PCMU") {
                Some(G711::Ulaw)
            } else if map.encoding_name.eq_ignore_ascii_case("PCMA") {
                Some(G711::Alaw)
            } else {
                None
            }
        }
        Some(_) => None,
        None => match pt {
            0 => Some(G711::Ulaw),
            8 => Some(G711::Alaw),
            _ => None,
        },
    }
}

fn telephone_event_of(media: &MediaDescription) -> Option<u8> {
    media.payload_types().find(|pt| {
        media.rtpmap(*pt).is_some_and(|m| {
            m.encoding_name.eq_ignore_ascii_case("telephone-event") && m.clock_rate == 8000
        })
    })
}

fn codec_name(codec: G711) -> &'static str {
    match codec {
        G711::Ulaw => "PCMU",
        G711::Alaw => "PCMA",
    }
}

/// The remote RTP and RTCP addresses of media section `index`.
fn remote_addresses(
    sdp: &SessionDescription,
    index: usize,
    media: &MediaDescription,
) -> Result<(SocketAddr, SocketAddr), NegotiationError> {
    let ip: IpAddr = sdp
        .media_connection(index)
        .and_then(Connection::ip_addr)
        .ok_or(NegotiationError::NoAddress)?;
    let rtcp_port = media.rtcp().map_or(media.port.wrapping_add(1), |r| r.port);
    let rtcp_ip = media
        .rtcp()
        .and_then(|r| r.connection.as_ref())
        .and_then(Connection::ip_addr)
        .unwrap_or(ip);
    Ok((
        SocketAddr::new(ip, media.port),
        SocketAddr::new(rtcp_ip, rtcp_port),
    ))
}

impl MediaSession {
    /// A session for RTP at `local` (RTCP at the next port); keys and the
    /// session id come from `rng`.
    pub fn new(policy: MediaPolicy, local: SocketAddr, rng: &mut dyn RngCore) -> Self {
        let keys = policy
            .suites
            .iter()
            .map(|suite| MasterKey::generate(*suite, rng))
            .collect();
        Self {
            policy,
            local,
            session_id: u64::from(rng.next_u32()),
            version: 1,
            keys,
            preferred: Direction::SendRecv,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &MediaPolicy {
        &self.policy
    }

    /// Puts the stream on hold (`SendOnly`) or takes it off (`SendRecv`)
    /// in the next offer or answer.
    pub fn set_hold(&mut self, hold: bool) {
        self.preferred = if hold {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        };
    }

    /// Whether we hold the call.
    pub fn on_hold(&self) -> bool {
        self.preferred == Direction::SendOnly
    }

    fn key(&self, suite: SrtpSuite) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.suite() == suite)
    }

    fn skeleton(&mut self) -> SessionDescription {
        self.version = self.version.wrapping_add(1);
        let ip = self.local.ip();
        SessionDescription::new(
            Origin::new("switchboard", self.session_id.to_string(), self.version, ip),
            "switchboard",
        )
        .with_connection(Connection::new(ip))
    }

    fn audio_line(
        &self,
        protocol: Protocol,
        codecs: &[(u8, G711)],
        dtmf: Option<u8>,
    ) -> MediaDescription {
        let mut m = MediaDescription::new(MediaType::Audio, self.local.port(), protocol);
        for (pt, codec) in codecs {
            m = m.with_rtpmap(RtpMap::new(*pt, codec_name(*codec), 8000));
        }
        if let Some(pt) = dtmf {
            m = m
                .with_rtpmap(RtpMap::new(pt, "telephone-event", 8000))
                .with_attribute(Fmtp::new(pt, "0-16"));
        }
        m.with_attribute(Attribute::Ptime(20))
    }

    /// The first of `media`'s payload types that is one of our codecs, and
    /// its telephone-event payload type when we take DTMF.
    fn formats(
        &self,
        media: &MediaDescription,
    ) -> Result<(u8, G711, Option<u8>), NegotiationError> {
        let (pt, codec) = media
            .payload_types()
            .find_map(|pt| {
                codec_of(media, pt)
                    .filter(|c| self.policy.codecs.contains(c))
                    .map(|c| (pt, c))
            })
            .ok_or(NegotiationError::NoCodec)?;
        let dtmf = self
            .policy
            .telephone_event
            .then(|| telephone_event_of(media))
            .flatten();
        Ok((pt, codec, dtmf))
    }

    /// A new offer: every codec of the policy, telephone-event on 101, our
    /// direction, and for SRTP one `a=crypto` line per suite.
    pub fn create_offer(&mut self) -> SessionDescription {
        let mut sdp = self.skeleton();
        let protocol = match self.policy.srtp {
            SrtpPolicy::Required => Protocol::RtpSavp,
            SrtpPolicy::Off | SrtpPolicy::Optional => Protocol::RtpAvp,
        };
        let codecs: Vec<(u8, G711)> = self
            .policy
            .codecs
            .iter()
            .map(|c| (c.payload_type(), *c))
            .collect();
        let dtmf = self.policy.telephone_event.then_some(101);
        let mut m = self.audio_line(protocol, &codecs, dtmf);
        if self.policy.srtp != SrtpPolicy::Off {
            for (i, key) in self.keys.iter().enumerate() {
                let tag = u32::try_from(i + 1).unwrap_or(u32::MAX);
                m = m.with_attribute(Crypto::new(
                    tag,
                    key.suite().name(),
                    InlineKey::new(key.to_base64()),
                ));
            }
        }
        m.set_direction(self.preferred);
        sdp.media.push(m);
        sdp
    }

    /// Takes the answer to our last offer.
    ///
    /// # Errors
    ///
    /// When the answer refuses the stream or does not fit the offer or the
    /// policy: the caller ends the call (a 2xx is ACKed, then BYE).
    pub fn process_answer(&mut self, body: &[u8]) -> Result<Negotiated, NegotiationError> {
        let sdp = SessionDescription::from_bytes(body).map_err(|_| NegotiationError::Unparsable)?;
        let (index, media) = sdp
            .media
            .iter()
            .enumerate()
            .find(|(_, m)| m.media == MediaType::Audio)
            .ok_or(NegotiationError::NoAudio)?;
        if media.port == 0 {
            return Err(NegotiationError::AnswerMismatch("audio stream refused"));
        }
        let (pt, codec, dtmf) = self.formats(media)?;
        let srtp = if self.policy.srtp == SrtpPolicy::Off {
            if media.protocol.is_secure_rtp() {
                return Err(NegotiationError::SecurityMismatch);
            }
            None
        } else {
            let chosen = media.crypto().find_map(|c| {
                let index = usize::try_from(c.tag).ok()?.checked_sub(1)?;
                let ours = self.keys.get(index)?;
                let suite = SrtpSuite::from_str(&c.suite).ok()?;
                if suite != ours.suite() {
                    return None;
                }
                let theirs = c.inline_keys().next()?;
                MasterKey::from_base64(suite, &theirs.key_salt).ok()?;
                Some(SrtpKeys {
                    suite,
                    local: ours.to_base64(),
                    remote: theirs.key_salt.clone(),
                })
            });
            match (chosen, self.policy.srtp) {
                (Some(keys), _) => Some(keys),
                (None, SrtpPolicy::Required) => return Err(NegotiationError::SecurityMismatch),
                (None, _) if media.protocol.is_secure_rtp() => {
                    return Err(NegotiationError::NoCrypto);
                }
                (None, _) => None,
            }
        };
        let (remote_rtp, remote_rtcp) = remote_addresses(&sdp, index, media)?;
        let theirs = media.effective_direction(sdp.direction());
        let direction = from_flags(
            sends(self.preferred) && receives(theirs),
            receives(self.preferred) && sends(theirs),
        );
        Ok(Negotiated {
            remote_rtp,
            remote_rtcp,
            codec,
            payload_type: pt,
            dtmf_payload_type: dtmf,
            direction,
            srtp,
        })
    }

    /// Answers a peer's offer.
    ///
    /// # Errors
    ///
    /// When nothing in the offer can be accepted: the UAS answers
    /// [`NegotiationError::status`] (488).
    pub fn answer_offer(
        &mut self,
        body: &[u8],
    ) -> Result<(SessionDescription, Negotiated), NegotiationError> {
        let offer =
            SessionDescription::from_bytes(body).map_err(|_| NegotiationError::Unparsable)?;
        let mut answer = self.skeleton();
        let mut chosen: Option<Negotiated> = None;
        let mut first_error = NegotiationError::NoAudio;
        for (index, media) in offer.media.iter().enumerate() {
            let rejected = || {
                let mut m = MediaDescription::new(media.media.clone(), 0, media.protocol.clone());
                m.formats = media.formats.iter().take(1).cloned().collect();
                m
            };
            if chosen.is_some() || media.media != MediaType::Audio || media.port == 0 {
                answer.media.push(rejected());
                continue;
            }
            match self.answer_media(&offer, index, media) {
                Ok((m, negotiated)) => {
                    answer.media.push(m);
                    chosen = Some(negotiated);
                }
                Err(e) => {
                    if first_error == NegotiationError::NoAudio {
                        first_error = e;
                    }
                    answer.media.push(rejected());
                }
            }
        }
        match chosen {
            Some(n) => Ok((answer, n)),
            None => Err(first_error),
        }
    }

    fn answer_media(
        &self,
        offer: &SessionDescription,
        index: usize,
        media: &MediaDescription,
    ) -> Result<(MediaDescription, Negotiated), NegotiationError> {
        let secure = media.protocol.is_secure_rtp();
        let plain = matches!(media.protocol, Protocol::RtpAvp | Protocol::RtpAvpf);
        if !secure && !plain {
            return Err(NegotiationError::SecurityMismatch);
        }
        if secure && self.policy.srtp == SrtpPolicy::Off {
            return Err(NegotiationError::SecurityMismatch);
        }
        let (pt, codec, dtmf) = self.formats(media)?;
        // SRTP: the first offered line whose suite we have and whose key
        // decodes, unless the policy is off.
        let crypto = if self.policy.srtp == SrtpPolicy::Off {
            None
        } else {
            media.crypto().find_map(|c| {
                let suite = SrtpSuite::from_str(&c.suite).ok()?;
                if !self.policy.suites.contains(&suite) {
                    return None;
                }
                let theirs = c.inline_keys().next()?;
                MasterKey::from_base64(suite, &theirs.key_salt).ok()?;
                let ours = self.key(suite)?;
                Some((c.tag, suite, ours.to_base64(), theirs.key_salt.clone()))
            })
        };
        if crypto.is_none() {
            if secure {
                return Err(NegotiationError::NoCrypto);
            }
            if self.policy.srtp == SrtpPolicy::Required {
                return Err(NegotiationError::SecurityMismatch);
            }
        }
        let (remote_rtp, remote_rtcp) = remote_addresses(offer, index, media)?;
        let theirs = media.effective_direction(offer.direction());
        let ours = from_flags(
            sends(self.preferred) && receives(theirs),
            receives(self.preferred) && sends(theirs),
        );
        let mut m = self.audio_line(media.protocol.clone(), &[(pt, codec)], dtmf);
        let srtp = crypto.map(|(tag, suite, local, remote)| {
            m.attributes.push(Attribute::Crypto(Crypto::new(
                tag,
                suite.name(),
                InlineKey::new(local.clone()),
            )));
            SrtpKeys {
                suite,
                local,
                remote,
            }
        });
        m.set_direction(ours);
        Ok((
            m,
            Negotiated {
                remote_rtp,
                remote_rtcp,
                codec,
                payload_type: pt,
                dtmf_payload_type: dtmf,
                direction: ours,
                srtp,
            },
        ))
    }
}
