//! The SDP the tool writes for its phones and what it reads back from the
//! server: where to send media and, for an SDES leg, the key to expect.

use std::net::{IpAddr, SocketAddr};

use switchboard_media::srtp::{MasterKey, SrtpSuite};

use crate::error::LoadError;

/// The one suite offered on the SRTP leg (the suite every SDES peer has).
pub(crate) const SUITE: SrtpSuite = SrtpSuite::AesCm128HmacSha1_80;

/// Where a phone sends its RTP, and the key the relay sends to it with.
#[derive(Debug, Clone)]
pub(crate) struct MediaTarget {
    pub(crate) rtp: SocketAddr,
    pub(crate) key: Option<MasterKey>,
}

/// A phone's SDP: PCMU at `port` on loopback, SDES-SRTP with `key` when
/// given, plain RTP otherwise.
pub(crate) fn phone_sdp(session: u64, port: u16, key: Option<&MasterKey>) -> String {
    let profile = if key.is_some() { "RTP/SAVP" } else { "RTP/AVP" };
    let mut sdp = format!(
        "v=0\r\no=load {session} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} {profile} 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n"
    );
    if let Some(key) = key {
        sdp.push_str(&format!(
            "a=crypto:1 {} inline:{}\r\n",
            key.suite().name(),
            key.to_base64()
        ));
    }
    sdp.push_str("a=sendrecv\r\n");
    sdp
}

/// The audio target of an SDP the server sent (its `c=` and first
/// `m=audio`, its `a=crypto` of [`SUITE`] if any).
///
/// # Errors
/// [`LoadError::Missing`] without an address or port; [`LoadError::Key`]
/// for a key that does not decode.
pub(crate) fn media_target(step: &'static str, sdp: &str) -> Result<MediaTarget, LoadError> {
    let mut ip: Option<IpAddr> = None;
    let mut port: Option<u16> = None;
    let mut key = None;
    for line in sdp.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("c=IN IP4 ") {
            ip = rest.split_whitespace().next().and_then(|a| a.parse().ok());
        } else if let Some(rest) = line.strip_prefix("m=audio ") {
            if port.is_none() {
                port = rest.split_whitespace().next().and_then(|p| p.parse().ok());
            }
        } else if let Some(rest) = line.strip_prefix("a=crypto:") {
            let mut fields = rest.split_whitespace();
            let (_tag, suite, params) = (fields.next(), fields.next(), fields.next());
            if key.is_none() && suite == Some(SUITE.name()) {
                let inline = params
                    .and_then(|p| p.strip_prefix("inline:"))
                    .and_then(|p| p.split('|').next())
                    .ok_or(LoadError::Missing {
                        step,
                        what: "SDES key",
                    })?;
                key = Some(MasterKey::from_base64(SUITE, inline)?);
            }
        }
    }
    let (Some(ip), Some(port)) = (ip, port) else {
        return Err(LoadError::Missing {
            step,
            what: "audio address",
        });
    };
    Ok(MediaTarget {
        rtp: SocketAddr::new(ip, port),
        key,
    })
}

#[cfg(test)]
// Test code: a failed unwrap is a failed test.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_target_and_key_of_an_offer_are_read_back() {
        let key = MasterKey::from_bytes(SUITE, &[7; 30]).unwrap();
        let target = media_target("test", &phone_sdp(1, 30_002, Some(&key))).unwrap();
        assert_eq!(target.rtp, "127.0.0.1:30002".parse().unwrap());
        assert_eq!(target.key.unwrap().to_base64(), key.to_base64());
    }

    #[test]
    fn a_plain_answer_has_no_key_and_an_sdp_without_address_is_refused() {
        let target = media_target("test", &phone_sdp(1, 4_000, None)).unwrap();
        assert!(target.key.is_none());
        assert!(matches!(
            media_target("test", "v=0\r\nm=audio 4000 RTP/AVP 0\r\n"),
            Err(LoadError::Missing { .. })
        ));
    }
}
