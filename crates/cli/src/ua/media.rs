//! One call's audio: a tokio task over an RTP and an RTCP socket that
//! drives `switchboard_media::MediaStream` every 20 ms (send a frame of
//! the played file, take received packets through the jitter buffer into
//! the recording, RTCP reports every 5 s, DTMF).

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdSocket};
use std::time::{Duration, Instant, SystemTime};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_media::srtp::{MasterKey, SrtpContext};
use switchboard_media::{FRAME_SAMPLES, MediaConfig, MediaEvent, MediaStream};
use switchboard_proto::sdp::Direction;
use switchboard_ua::Negotiated;
use tokio::net::UdpSocket;
use tokio::sync::mpsc::UnboundedReceiver;

/// An RTP socket and the RTCP socket on the next port.
#[derive(Debug)]
pub(crate) struct RtpSockets {
    rtp: StdSocket,
    rtcp: StdSocket,
}

impl RtpSockets {
    /// The RTP address (what goes into the SDP).
    pub(crate) fn rtp_addr(&self) -> SocketAddr {
        self.rtp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }
}

/// Binds an RTP socket on `ip` and RTCP on the port after it.
pub(crate) fn bind_pair(ip: IpAddr) -> io::Result<RtpSockets> {
    let mut last = io::Error::other("no port pair free");
    for _ in 0..32 {
        let rtp = StdSocket::bind(SocketAddr::new(ip, 0))?;
        let port = rtp.local_addr()?.port();
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        match StdSocket::bind(SocketAddr::new(ip, next)) {
            Ok(rtcp) => {
                rtp.set_nonblocking(true)?;
                rtcp.set_nonblocking(true)?;
                return Ok(RtpSockets { rtp, rtcp });
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Changes to a running stream.
#[derive(Debug)]
pub(crate) enum MediaCommand {
    /// A re-INVITE changed the media (hold, resume).
    Update(Negotiated),
    /// The call is over.
    Stop,
}

/// What to do with the audio.
#[derive(Debug, Clone, Default)]
pub(crate) struct MediaOptions {
    /// Samples (8 kHz) to play, then silence.
    pub(crate) play: Option<Vec<i16>>,
    /// DTMF digits to send one second in.
    pub(crate) dtmf: Option<String>,
    /// Keep the received datagrams (see [`MediaSummary::captured`]).
    pub(crate) capture: bool,
}

/// Most datagrams kept by a capture (about 3 minutes of audio).
const CAPTURE_LIMIT: usize = 10_000;

/// What happened on the stream.
#[derive(Debug, Default)]
pub(crate) struct MediaSummary {
    /// Everything heard, 8 kHz, from the first packet on.
    pub(crate) recorded: Vec<i16>,
    pub(crate) sent: u64,
    pub(crate) received: u64,
    /// Packets that failed SRTP or RTP checks.
    pub(crate) rejected: u64,
    pub(crate) dtmf: String,
    /// The RTP datagrams received, raw, when capturing.
    pub(crate) captured: Vec<Vec<u8>>,
}

fn stream_for(n: &Negotiated) -> MediaStream {
    let config = MediaConfig {
        payload_type: n.payload_type,
        dtmf_payload_type: n.dtmf_payload_type,
        ..MediaConfig::new(n.codec)
    };
    let (tx, rx) = match &n.srtp {
        Some(keys) => (
            MasterKey::from_base64(keys.suite, &keys.local)
                .ok()
                .map(|k| SrtpContext::new(&k)),
            MasterKey::from_base64(keys.suite, &keys.remote)
                .ok()
                .map(|k| SrtpContext::new(&k)),
        ),
        None => (None, None),
    };
    MediaStream::new(config, &mut StdRng::from_os_rng(), tx, rx)
}

fn sends(d: Direction) -> bool {
    matches!(d, Direction::SendRecv | Direction::SendOnly)
}

/// Runs the stream until [`MediaCommand::Stop`] (or the sender is dropped).
pub(crate) async fn run(
    sockets: RtpSockets,
    negotiated: Negotiated,
    options: MediaOptions,
    mut commands: UnboundedReceiver<MediaCommand>,
) -> io::Result<MediaSummary> {
    let rtp = UdpSocket::from_std(sockets.rtp)?;
    let rtcp = UdpSocket::from_std(sockets.rtcp)?;
    let mut current = negotiated;
    let mut stream = stream_for(&current);
    let mut summary = MediaSummary::default();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reports = tokio::time::interval(Duration::from_secs(5));
    let mut played = 0usize;
    let started = Instant::now();
    let mut dtmf = options.dtmf.clone();
    let cname = format!("switchboard@{}", rtp.local_addr()?.ip());
    let mut buf = vec![0u8; 2048];
    let mut rbuf = vec![0u8; 2048];
    let silence = [0i16; FRAME_SAMPLES];
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if sends(current.direction) {
                    let frame = options
                        .play
                        .as_deref()
                        .and_then(|p| p.get(played..played + FRAME_SAMPLES))
                        .unwrap_or(&silence);
                    played += FRAME_SAMPLES;
                    if started.elapsed() >= Duration::from_secs(1) {
                        if let Some(digits) = dtmf.take() {
                            if let Err(error) = stream.send_dtmf(&digits) {
                                tracing::warn!(%error, "cannot send DTMF");
                            }
                        }
                    }
                    match stream.send_frame(frame) {
                        Ok(packet) => {
                            if rtp.send_to(&packet, current.remote_rtp).await.is_ok() {
                                summary.sent += 1;
                            }
                        }
                        Err(error) => tracing::debug!(%error, "frame not sent"),
                    }
                }
                if let Some(frame) = stream.poll_frame() {
                    summary.recorded.extend_from_slice(frame.samples());
                }
                while let Some(event) = stream.poll_event() {
                    if let MediaEvent::Dtmf(d) = event {
                        println!("dtmf {}", d.digit);
                        summary.dtmf.push(d.digit);
                    }
                }
            }
            r = rtp.recv_from(&mut buf) => {
                if let Ok((n, _)) = r {
                    if options.capture && summary.captured.len() < CAPTURE_LIMIT {
                        summary.captured.push(buf.get(..n).unwrap_or_default().to_vec());
                    }
                    match stream.receive(Instant::now(), buf.get(..n).unwrap_or_default()) {
                        Ok(()) => summary.received += 1,
                        Err(error) => {
                            summary.rejected += 1;
                            tracing::debug!(%error, "RTP packet dropped");
                        }
                    }
                }
            }
            r = rtcp.recv_from(&mut rbuf) => {
                if let Ok((n, _)) = r {
                    if let Err(error) = stream.receive_rtcp(Instant::now(), rbuf.get(..n).unwrap_or_default()) {
                        tracing::debug!(%error, "RTCP packet dropped");
                    }
                }
            }
            _ = reports.tick() => {
                if let Ok(report) = stream.rtcp_report(Instant::now(), SystemTime::now(), &cname) {
                    let _ = rtcp.send_to(&report, current.remote_rtcp).await;
                }
            }
            command = commands.recv() => match command {
                Some(MediaCommand::Update(n)) => {
                    if n.srtp != current.srtp || n.codec != current.codec || n.payload_type != current.payload_type {
                        stream = stream_for(&n);
                    }
                    current = n;
                }
                Some(MediaCommand::Stop) | None => break,
            },
        }
    }
    Ok(summary)
}

/// A running stream: its command channel and task.
#[derive(Debug)]
pub(crate) struct ActiveMedia {
    commands: tokio::sync::mpsc::UnboundedSender<MediaCommand>,
    task: tokio::task::JoinHandle<io::Result<MediaSummary>>,
}

impl ActiveMedia {
    /// Starts the stream as negotiated.
    pub(crate) fn start(
        sockets: RtpSockets,
        negotiated: Negotiated,
        options: MediaOptions,
    ) -> Self {
        let (commands, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(run(sockets, negotiated, options, rx));
        Self { commands, task }
    }

    /// Applies a re-negotiation.
    pub(crate) fn update(&self, negotiated: Negotiated) {
        let _ = self.commands.send(MediaCommand::Update(negotiated));
    }

    /// Stops the stream; writes what was heard to `record` (WAV) and the
    /// datagrams received to `capture`.
    pub(crate) async fn finish(
        self,
        record: Option<&std::path::Path>,
        capture: Option<&std::path::Path>,
    ) -> Option<MediaSummary> {
        let _ = self.commands.send(MediaCommand::Stop);
        let summary = match self.task.await {
            Ok(Ok(summary)) => summary,
            Ok(Err(error)) => {
                tracing::warn!(%error, "media failed");
                return None;
            }
            Err(_) => return None,
        };
        if let Some(path) = record {
            if let Err(error) = switchboard_media::audio::write_wav_file(path, &summary.recorded) {
                eprintln!("error: cannot write {}: {error}", path.display());
            }
        }
        if let Some(path) = capture {
            let mut bytes = Vec::new();
            for datagram in &summary.captured {
                let len = u16::try_from(datagram.len()).unwrap_or(u16::MAX);
                bytes.extend_from_slice(&len.to_be_bytes());
                bytes.extend_from_slice(datagram.get(..usize::from(len)).unwrap_or_default());
            }
            if let Err(error) = std::fs::write(path, bytes) {
                eprintln!("error: cannot write {}: {error}", path.display());
            }
        }
        tracing::info!(
            sent = summary.sent,
            received = summary.received,
            rejected = summary.rejected,
            "media stopped"
        );
        Some(summary)
    }
}

/// Reads `--play` (resampled to 8 kHz).
pub(crate) fn load_play(path: Option<&std::path::Path>) -> Result<Option<Vec<i16>>, String> {
    path.map(|p| {
        switchboard_media::audio::read_wav_file_8k(p)
            .map_err(|e| format!("cannot read {}: {e}", p.display()))
    })
    .transpose()
}
