//! One audio stream of a call, without I/O: 20 ms PCM frames in, protected
//! packets out; protected packets in, through the jitter buffer, PCM
//! frames out; DTMF both ways; RTCP reports.

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use rand_core::RngCore;
use thiserror::Error;

use crate::dtmf::{DtmfError, DtmfReceiver, DtmfSender, DtmfTiming, NotADigit, ReceivedDigit};
use crate::g711::G711;
use crate::rtcp::{
    ReceiverReport, RtcpBuildError, RtcpError, RtcpPacket, SenderReport, SourceDescription,
    ntp_time,
};
use crate::rtp::{
    Arrival, JitterBuffer, RtpBuildError, RtpError, RtpPacket, RtpReceiver, RtpSender,
};
use crate::srtp::{SrtpContext, SrtpError};

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// The G.711 clock rate.
const CLOCK_RATE: u32 = 8000;

/// How a stream is set up, from the negotiated SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaConfig {
    /// The audio codec.
    pub codec: G711,
    /// Its payload type (the static one unless the SDP says otherwise).
    pub payload_type: u8,
    /// The telephone-event payload type, if negotiated.
    pub dtmf_payload_type: Option<u8>,
    /// Most packets the jitter buffer holds.
    pub jitter_packets: usize,
    /// How far playout runs behind the first packet, in samples.
    pub playout_delay: u32,
}

impl MediaConfig {
    /// PCMU or PCMA with its static payload type, telephone-event on 101,
    /// a 10-packet jitter buffer and 60 ms playout delay.
    pub fn new(codec: G711) -> Self {
        Self {
            codec,
            payload_type: codec.payload_type(),
            dtmf_payload_type: Some(101),
            jitter_packets: 10,
            playout_delay: 3 * FRAME_SAMPLES as u32,
        }
    }
}

/// Why a stream operation failed. Receive errors mean "drop the packet".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MediaError {
    /// SRTP/SRTCP refused the packet.
    #[error(transparent)]
    Srtp(#[from] SrtpError),
    /// Not an RTP packet.
    #[error(transparent)]
    Rtp(#[from] RtpError),
    /// Not an RTCP packet.
    #[error(transparent)]
    Rtcp(#[from] RtcpError),
    /// A malformed telephone-event.
    #[error(transparent)]
    Dtmf(#[from] DtmfError),
    /// A packet could not be built (a bug in the caller's parameters).
    #[error(transparent)]
    RtpBuild(#[from] RtpBuildError),
    /// An RTCP packet could not be built.
    #[error(transparent)]
    RtcpBuild(#[from] RtcpBuildError),
    /// A character that is not a DTMF digit.
    #[error(transparent)]
    NotADigit(#[from] NotADigit),
    /// DTMF asked for but no telephone-event payload type negotiated.
    #[error("no telephone-event payload type was negotiated")]
    NoTelephoneEvent,
}

/// What the stream tells the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// A DTMF digit arrived.
    Dtmf(ReceivedDigit),
}

/// One received frame of audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Decoded audio.
    Audio(Vec<i16>),
    /// The packet for this frame did not come in time: silence.
    Missing(Vec<i16>),
}

impl Frame {
    /// The samples, whichever kind.
    pub fn samples(&self) -> &[i16] {
        match self {
            Self::Audio(s) | Self::Missing(s) => s,
        }
    }
}

/// A send-and-receive G.711 stream with optional SRTP.
#[derive(Debug)]
pub struct MediaStream {
    config: MediaConfig,
    sender: RtpSender,
    receiver: RtpReceiver,
    jitter: JitterBuffer,
    srtp_tx: Option<SrtpContext>,
    srtp_rx: Option<SrtpContext>,
    dtmf_tx: DtmfSender,
    dtmf_rx: DtmfReceiver,
    events: VecDeque<MediaEvent>,
    playout: Option<u32>,
    first_packet: bool,
}

impl MediaStream {
    /// A stream; `srtp_tx` protects what is sent (our key), `srtp_rx`
    /// unprotects what is received (the peer's key); `None` for plain RTP.
    pub fn new(
        config: MediaConfig,
        rng: &mut dyn RngCore,
        srtp_tx: Option<SrtpContext>,
        srtp_rx: Option<SrtpContext>,
    ) -> Self {
        Self {
            config,
            sender: RtpSender::new(rng),
            receiver: RtpReceiver::new(CLOCK_RATE),
            jitter: JitterBuffer::new(config.jitter_packets),
            srtp_tx,
            srtp_rx,
            dtmf_tx: DtmfSender::new(DtmfTiming::default()),
            dtmf_rx: DtmfReceiver::new(),
            events: VecDeque::new(),
            playout: None,
            first_packet: true,
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.sender.ssrc()
    }

    /// Reception statistics of the peer's source.
    pub fn receiver(&self) -> &RtpReceiver {
        &self.receiver
    }

    /// The jitter buffer (for its drop counters).
    pub fn jitter_buffer(&self) -> &JitterBuffer {
        &self.jitter
    }

    /// Queues DTMF digits; they replace audio frames while they play.
    pub fn send_dtmf(&mut self, digits: &str) -> Result<(), MediaError> {
        if self.config.dtmf_payload_type.is_none() {
            return Err(MediaError::NoTelephoneEvent);
        }
        Ok(self.dtmf_tx.send(digits)?)
    }

    /// Turns one frame of PCM (normally [`FRAME_SAMPLES`]) into the packet to
    /// send: audio, or a telephone-event while a digit plays.
    pub fn send_frame(&mut self, pcm: &[i16]) -> Result<Bytes, MediaError> {
        let samples = u32::try_from(pcm.len()).unwrap_or(u32::MAX);
        let timestamp = self.sender.timestamp();
        let event = self
            .config
            .dtmf_payload_type
            .zip(self.dtmf_tx.tick(timestamp));
        let packet = if let Some((pt, event)) = event {
            let packet =
                self.sender
                    .packet_at(pt, event.marker, event.timestamp, event.event.to_bytes());
            self.sender.advance(samples);
            packet
        } else {
            let mut payload = Vec::with_capacity(pcm.len());
            self.config.codec.encode(pcm, &mut payload);
            let marker = std::mem::take(&mut self.first_packet);
            self.sender.packet(
                self.config.payload_type,
                marker,
                samples,
                Bytes::from(payload),
            )
        };
        self.protect(&packet)
    }

    fn protect(&mut self, packet: &RtpPacket) -> Result<Bytes, MediaError> {
        let bytes = packet.to_bytes()?;
        Ok(match &mut self.srtp_tx {
            Some(srtp) => srtp.protect_rtp(&bytes)?,
            None => bytes,
        })
    }

    /// Takes one datagram from the RTP port, received at `now`.
    pub fn receive(&mut self, now: Instant, datagram: &[u8]) -> Result<(), MediaError> {
        let plain = match &mut self.srtp_rx {
            Some(srtp) => srtp.unprotect_rtp(datagram)?,
            None => Bytes::copy_from_slice(datagram),
        };
        let packet = RtpPacket::parse(plain)?;
        let restarts = self.receiver.restarts();
        let arrival = self
            .receiver
            .on_packet(now, packet.ssrc, packet.sequence, packet.timestamp);
        if restarts != self.receiver.restarts() {
            // A new source, or the old one restarted its sequence: its
            // extended numbers start over, so the buffer must too.
            self.jitter.reset();
            self.playout = None;
        }
        let Arrival::Accepted(extended) = arrival else {
            return Ok(());
        };
        if Some(packet.payload_type) == self.config.dtmf_payload_type {
            if let Some(digit) = self.dtmf_rx.on_packet(packet.timestamp, &packet.payload)? {
                self.events.push_back(MediaEvent::Dtmf(digit));
            }
        } else if packet.payload_type == self.config.payload_type {
            let behind = self.config.playout_delay;
            self.playout
                .get_or_insert(packet.timestamp.wrapping_sub(behind));
            self.jitter.push(extended, packet);
        }
        Ok(())
    }

    /// The next 20 ms of received audio; call once per frame time. `None`
    /// until the first audio packet arrived.
    pub fn poll_frame(&mut self) -> Option<Frame> {
        let playout = self.playout?;
        // A source that restarted far from the playout clock: follow it.
        if let Some(first) = self.jitter.first_timestamp() {
            let ahead = first.wrapping_sub(playout) as i32;
            if ahead > 50 * FRAME_SAMPLES as i32 {
                self.playout = Some(first.wrapping_sub(self.config.playout_delay));
                return self.poll_frame();
            }
        }
        self.playout = Some(playout.wrapping_add(FRAME_SAMPLES as u32));
        Some(match self.jitter.pop(playout) {
            Some(packet) => {
                let mut pcm = Vec::with_capacity(packet.payload.len());
                self.config.codec.decode(&packet.payload, &mut pcm);
                Frame::Audio(pcm)
            }
            None => Frame::Missing(vec![0; FRAME_SAMPLES]),
        })
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// A compound RTCP report (SR if we sent, else RR, plus SDES CNAME),
    /// protected if SRTP is on. `wall` is the caller's wall-clock time.
    pub fn rtcp_report(
        &mut self,
        now: Instant,
        wall: SystemTime,
        cname: &str,
    ) -> Result<Bytes, MediaError> {
        let reports: Vec<_> = self.receiver.report_block(now).into_iter().collect();
        let ssrc = self.sender.ssrc();
        let report = if self.sender.packets_sent() > 0 {
            RtcpPacket::SenderReport(SenderReport {
                ssrc,
                ntp_time: ntp_time(wall),
                rtp_timestamp: self.sender.timestamp(),
                packet_count: self.sender.packets_sent(),
                octet_count: self.sender.octets_sent(),
                reports,
            })
        } else {
            RtcpPacket::ReceiverReport(ReceiverReport { ssrc, reports })
        };
        let sdes = RtcpPacket::SourceDescription(SourceDescription::cname(
            ssrc,
            Bytes::copy_from_slice(cname.as_bytes()),
        ));
        let mut out = BytesMut::new();
        report.write_to(&mut out)?;
        sdes.write_to(&mut out)?;
        Ok(match &mut self.srtp_tx {
            Some(srtp) => srtp.protect_rtcp(&out)?,
            None => out.freeze(),
        })
    }

    /// Takes one datagram from the RTCP port; notes sender reports for
    /// the next report's LSR/DLSR and returns the packets.
    pub fn receive_rtcp(
        &mut self,
        now: Instant,
        datagram: &[u8],
    ) -> Result<Vec<RtcpPacket>, MediaError> {
        let plain = match &mut self.srtp_rx {
            Some(srtp) => srtp.unprotect_rtcp(datagram)?,
            None => Bytes::copy_from_slice(datagram),
        };
        let packets = RtcpPacket::parse_compound(&plain)?;
        for packet in &packets {
            if let RtcpPacket::SenderReport(sr) = packet {
                if self.receiver.ssrc() == Some(sr.ssrc) {
                    self.receiver.on_sender_report(now, sr.ntp_time);
                }
            }
        }
        Ok(packets)
    }
}
