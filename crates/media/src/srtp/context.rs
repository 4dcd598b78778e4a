use std::collections::HashMap;
use std::collections::hash_map::Entry;

use bytes::Bytes;

use super::aes_cm::{AesCmCipher, SRTCP_CLEAR_LEN};
use super::error::{KeyError, SrtpError};
use super::gcm::GcmCipher;
use super::kdf::SessionKeys;
use super::key::MasterKey;
use super::replay::ReplayWindow;
use super::suite::SrtpSuite;
use crate::rtp::HeaderView;
use crate::wire::u32_at;

/// Sources one context keeps state for. A new source is only added once
/// one of its packets authenticated, so a forger cannot fill the table.
const MAX_SOURCES: usize = 64;

/// The session cipher of one suite.
#[derive(Clone)]
enum Cipher {
    AesCm(AesCmCipher),
    Gcm(GcmCipher),
}

impl Cipher {
    fn new(master: &MasterKey, rtcp: bool) -> Self {
        let keys = SessionKeys::derive(master, rtcp);
        let suite = master.suite();
        let tag_len = if rtcp {
            suite.rtcp_tag_len()
        } else {
            suite.rtp_tag_len()
        };
        if suite.is_aead() {
            Self::Gcm(GcmCipher::new(&keys))
        } else {
            Self::AesCm(AesCmCipher::new(&keys, tag_len))
        }
    }
}

/// Where a source's packet index stands: the rollover counter and the
/// highest sequence number (RFC 3711 §3.3.1).
#[derive(Debug, Clone, Copy)]
struct RolloverState {
    roc: u32,
    highest_seq: u16,
}

impl RolloverState {
    fn index(self) -> u64 {
        u64::from(self.roc) << 16 | u64::from(self.highest_seq)
    }

    /// The index of a packet with `seq` (RFC 3711 Appendix A).
    fn estimate(self, seq: u16) -> Result<u64, SrtpError> {
        let (s_l, s) = (i64::from(self.highest_seq), i64::from(seq));
        let roc = i64::from(self.roc);
        let v = if s_l < 32768 {
            if s - s_l > 32768 { roc - 1 } else { roc }
        } else if s_l - 32768 > s {
            roc + 1
        } else {
            roc
        };
        let v = u32::try_from(v).map_err(|_| {
            if v < 0 {
                SrtpError::TooOld
            } else {
                SrtpError::RocExhausted
            }
        })?;
        Ok(u64::from(v) << 16 | u64::from(seq))
    }

    fn update(&mut self, index: u64) {
        if index > self.index() {
            self.roc = (index >> 16) as u32;
            self.highest_seq = index as u16;
        }
    }
}

#[derive(Debug, Clone)]
struct Inbound {
    rollover: RolloverState,
    replay: ReplayWindow,
}

/// An SRTP/SRTCP cryptographic context for one master key (RFC 3711
/// §3.2): what SDES gives each direction of a call. It protects what this
/// side sends under its own key, or unprotects what the peer sends under
/// the peer's key; it keeps rollover counters, SRTCP indices and replay
/// windows per SSRC.
pub struct SrtpContext {
    suite: SrtpSuite,
    rtp: Cipher,
    rtcp: Cipher,
    outbound: HashMap<u32, RolloverState>,
    inbound: HashMap<u32, Inbound>,
    rtcp_outbound: HashMap<u32, u32>,
    rtcp_inbound: HashMap<u32, ReplayWindow>,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .field("sources", &(self.outbound.len() + self.inbound.len()))
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    /// A context from a master key.
    pub fn new(master: &MasterKey) -> Self {
        Self {
            suite: master.suite(),
            rtp: Cipher::new(master, false),
            rtcp: Cipher::new(master, true),
            outbound: HashMap::new(),
            inbound: HashMap::new(),
            rtcp_outbound: HashMap::new(),
            rtcp_inbound: HashMap::new(),
        }
    }

    /// A context from decoded `inline:` key||salt (16+14 bytes for AES-CM,
    /// 16+12 for GCM).
    pub fn from_inline_key(suite: SrtpSuite, key_salt: &[u8]) -> Result<Self, KeyError> {
        Ok(Self::new(&MasterKey::from_bytes(suite, key_salt)?))
    }

    /// The suite.
    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// Sets the rollover counter of a source we send (a stream joined midway).
    pub fn set_outbound_roc(&mut self, ssrc: u32, roc: u32, seq: u16) {
        self.outbound.insert(
            ssrc,
            RolloverState {
                roc,
                highest_seq: seq,
            },
        );
    }

    /// Encrypts and authenticates an RTP packet.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Bytes, SrtpError> {
        let view = HeaderView::parse(packet)?;
        let state = self.outbound.entry(view.ssrc).or_insert(RolloverState {
            roc: 0,
            highest_seq: view.sequence,
        });
        let index = state.estimate(view.sequence)?;
        state.update(index);
        let mut buf = Vec::with_capacity(packet.len() + self.suite.rtp_tag_len());
        buf.extend_from_slice(packet);
        match &self.rtp {
            Cipher::AesCm(c) => c.protect_rtp(&mut buf, view.header_len, view.ssrc, index),
            Cipher::Gcm(c) => c.protect_rtp(&mut buf, view.header_len, view.ssrc, index)?,
        }
        Ok(Bytes::from(buf))
    }

    /// Authenticates, checks for replay and decrypts an SRTP packet.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Bytes, SrtpError> {
        let view = HeaderView::parse(packet)?;
        let known = self.inbound.get(&view.ssrc);
        let index = match known {
            Some(state) => {
                let index = state.rollover.estimate(view.sequence)?;
                state.replay.check(index)?;
                index
            }
            None if self.inbound.len() >= MAX_SOURCES => return Err(SrtpError::TooManySources),
            None => u64::from(view.sequence),
        };
        let plain = match &self.rtp {
            Cipher::AesCm(c) => c.unprotect_rtp(packet, view.header_len, view.ssrc, index)?,
            Cipher::Gcm(c) => c.unprotect_rtp(packet, view.header_len, view.ssrc, index)?,
        };
        let state = self.inbound.entry(view.ssrc).or_insert_with(|| Inbound {
            rollover: RolloverState {
                roc: 0,
                highest_seq: view.sequence,
            },
            replay: ReplayWindow::default(),
        });
        state.rollover.update(index);
        state.replay.accept(index);
        Ok(Bytes::from(plain))
    }

    /// Encrypts and authenticates a (compound) RTCP packet.
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Bytes, SrtpError> {
        let ssrc = u32_at(packet, 4).ok_or(SrtpError::TooShort)?;
        let counter = self.rtcp_outbound.entry(ssrc).or_insert(0);
        // The first index sent is 1, as libsrtp does.
        *counter = counter
            .checked_add(1)
            .filter(|i| *i <= 0x7FFF_FFFF)
            .ok_or(SrtpError::RocExhausted)?;
        let index = *counter;
        let mut buf = Vec::with_capacity(packet.len() + 4 + self.suite.rtcp_tag_len());
        buf.extend_from_slice(packet);
        match &self.rtcp {
            Cipher::AesCm(c) => c.protect_rtcp(&mut buf, ssrc, index),
            Cipher::Gcm(c) => c.protect_rtcp(&mut buf, ssrc, index)?,
        }
        Ok(Bytes::from(buf))
    }

    /// Authenticates, checks for replay and decrypts an SRTCP packet.
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Bytes, SrtpError> {
        if packet.len() < SRTCP_CLEAR_LEN {
            return Err(SrtpError::TooShort);
        }
        let ssrc = u32_at(packet, 4).ok_or(SrtpError::TooShort)?;
        if !self.rtcp_inbound.contains_key(&ssrc) && self.rtcp_inbound.len() >= MAX_SOURCES {
            return Err(SrtpError::TooManySources);
        }
        let (plain, index) = match &self.rtcp {
            Cipher::AesCm(c) => c.unprotect_rtcp(packet, ssrc)?,
            Cipher::Gcm(c) => c.unprotect_rtcp(packet, ssrc)?,
        };
        let window = match self.rtcp_inbound.entry(ssrc) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(ReplayWindow::default()),
        };
        window.check(u64::from(index))?;
        window.accept(u64::from(index));
        Ok(Bytes::from(plain))
    }
}
