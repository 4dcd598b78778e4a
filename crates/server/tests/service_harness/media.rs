//! Media relay helpers shared by the relay's service tests: a relaying
//! server, SDP bodies, RTP and RTCP packets sent to the relay's ports.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::time::Duration;

use bytes::Bytes;
use switchboard_proto::sdp::SessionDescription;
use switchboard_proto::{HeaderName, Method, Request, Response, ResponseBuilder, StatusCode};
use switchboard_relay::{RelayConfig, Transmit};
use switchboard_server::media::{MediaConfig, MediaPolicy};

use super::{Phone, Server, addr};

/// The address the relay advertises.
pub const RELAY_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));

/// A server relaying every call on `ports`, silent calls ended after
/// 10 s; bob registered at 198.51.100.20:5060, alice at .10.
pub fn relaying(ports: RangeInclusive<u16>) -> (Server, Phone, Phone) {
    let mut h = Server::with(|config| config.media = always(ports));
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    h.register(&mut bob, 3600);
    (h, Phone::new("alice", "198.51.100.10:5060"), bob)
}

/// `[media]` relaying every call on `ports`, silent calls ended after 10 s.
pub fn always(ports: RangeInclusive<u16>) -> MediaConfig {
    let relay = RelayConfig {
        ports,
        media_timeout: Duration::from_secs(10),
        ..RelayConfig::default()
    };
    MediaConfig::new(MediaPolicy::Always, relay, Some(RELAY_IP))
}

/// An SDP at `ip` with one `m=` line per port (audio first, then video;
/// port 0: a disabled stream).
pub fn sdp_streams(ip: &str, ports: &[u16]) -> String {
    let mut text = format!("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n");
    for (index, port) in ports.iter().enumerate() {
        if index == 0 {
            text.push_str(&format!(
                "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
            ));
        } else {
            text.push_str(&format!(
                "m=video {port} RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\na=sendrecv\r\n"
            ));
        }
    }
    text
}

/// An SDP of one audio stream at `ip:port`.
pub fn sdp(ip: &str, port: u16) -> String {
    sdp_streams(ip, &[port])
}

/// The connection address and each stream's port a body names.
pub fn streams_of(body: &Bytes) -> (IpAddr, Vec<u16>) {
    let sdp = SessionDescription::parse(std::str::from_utf8(body).unwrap()).unwrap();
    let ip = sdp
        .media
        .iter()
        .enumerate()
        .find_map(|(index, m)| (m.port != 0).then(|| sdp.media_connection(index)).flatten())
        .and_then(|c| c.ip_addr())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    (ip, sdp.media.iter().map(|m| m.port).collect())
}

/// The connection address and audio port a body names.
pub fn media_of(body: &Bytes) -> (IpAddr, u16) {
    let (ip, ports) = streams_of(body);
    (ip, ports[0])
}

/// Alice's INVITE for bob with `body` (empty: no offer), authenticated.
pub fn alice_invites_with(h: &mut Server, alice: &mut Phone, body: &str) {
    let password = h.password(alice);
    h.authenticate(alice, &password, |phone| {
        let invite = phone.call(Method::Invite, "sip:bob@example.com");
        if body.is_empty() {
            invite
        } else {
            invite.body("application/sdp", body.to_owned())
        }
    });
}

/// Bob's 200 OK to `invite` with `body` as its SDP.
pub fn bob_answers_with(h: &mut Server, bob: &Phone, invite: &Request, body: &str) {
    let ok = ResponseBuilder::from_request(invite, StatusCode::OK)
        .to_tag("bob-tag")
        .header(HeaderName::Contact, bob.contact.clone())
        .body("application/sdp", body.to_owned())
        .build()
        .unwrap();
    h.send(bob, ok);
}

/// A call from alice (media at 198.51.100.10:4000) to bob (at
/// 198.51.100.20:5000), answered and acknowledged: bob's INVITE and
/// alice's 200 OK.
pub fn answered_call(h: &mut Server, alice: &mut Phone, bob: &Phone) -> (Request, Response) {
    alice_invites_with(h, alice, &sdp("198.51.100.10", 4000));
    let invite = h.request_to(bob, Method::Invite);
    bob_answers_with(h, bob, &invite, &sdp("198.51.100.20", 5000));
    let ok = h.final_response(alice);
    assert_eq!(ok.status(), StatusCode::OK);
    let ack = alice.in_dialog(Method::Ack, &ok).build().unwrap();
    h.send(alice, ack);
    h.request_to(bob, Method::Ack);
    (invite, ok)
}

/// An RTP packet (PCMU, 20 ms).
pub fn rtp(seq: u16) -> Bytes {
    let mut packet = vec![0x80, 0x00];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    packet.extend_from_slice(&0xA1B2_C3D4_u32.to_be_bytes());
    packet.extend_from_slice(&[0xFF; 160]);
    packet.into()
}

/// An RTCP receiver report (RFC 3550 §6.4.2) of one block: `lost`
/// packets lost so far, interarrival `jitter`.
pub fn receiver_report(lost: u32, jitter: u32) -> Bytes {
    let mut packet = vec![0x81, 201, 0, 7];
    packet.extend_from_slice(&0x1111_2222_u32.to_be_bytes());
    packet.extend_from_slice(&0xA1B2_C3D4_u32.to_be_bytes());
    packet.push(0); // fraction lost
    packet.extend_from_slice(&lost.to_be_bytes()[1..]);
    packet.extend_from_slice(&100_u32.to_be_bytes()); // highest sequence
    packet.extend_from_slice(&jitter.to_be_bytes());
    packet.extend_from_slice(&[0; 8]); // LSR, DLSR
    packet.into()
}

/// `source` sends `bytes` to the relay's `port`; what the relay sends.
pub fn send_media(h: &mut Server, port: u16, source: &str, bytes: Bytes) -> Vec<Transmit> {
    let now = h.now;
    h.service.handle_media(now, port, addr(source), bytes);
    std::iter::from_fn(|| h.service.poll_media_transmit()).collect()
}
