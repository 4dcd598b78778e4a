#![forbid(unsafe_code)]
//! Media for Switchboard: RTP and RTCP (RFC 3550), SRTP and SRTCP
//! (RFC 3711, RFC 7714) keyed by SDES master keys (RFC 4568), G.711 µ-law
//! and A-law, DTMF as telephone-events (RFC 4733), and WAV in and out.
//!
//! Sans-IO like the signalling crates: nothing here opens a socket or reads
//! the clock. Arrival times come in as arguments, and SSRCs, initial
//! sequence numbers and keys come from an injected [`rand_core::RngCore`].
//! Only the WAV helpers touch files, and only when given a path.
//!
//! Parsers of peer input (RTP, RTCP, SRTP/SRTCP, telephone-events) return
//! typed errors and never panic, whatever the bytes.
//!
//! Dependencies: SRTP is composed from the RustCrypto primitives (`aes`,
//! `ctr`, `hmac`, `sha1`, `aes-gcm`, `subtle`) rather than `webrtc-srtp`,
//! which would pull tokio's multi-threaded runtime and webrtc-util into a
//! sans-IO crate (see [`srtp`]); `hound` reads and writes WAV; `base64`
//! codes SDES inline keys. The resampler is a small windowed-sinc filter
//! written here.

pub mod audio;
pub mod dtmf;
pub mod g711;
pub mod rtcp;
pub mod rtp;
pub mod srtp;
mod stream;
mod wire;

pub use stream::{FRAME_SAMPLES, Frame, MediaConfig, MediaError, MediaEvent, MediaStream};

/// Helpers shared by the unit tests.
#[cfg(test)]
pub(crate) mod test_util {
    /// Bytes from a hex string (test vectors).
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
