//! Building and editing descriptions, and the offer/answer helpers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{crlf, round_trip};
use crate::sdp::{
    AddrType, Attribute, Bandwidth, Connection, Crypto, Direction, Fmtp, InlineKey, KeyLifetime,
    KeyParam, LineError, MediaDescription, MediaType, Mki, NetType, Origin, Protocol, Rtcp, RtpMap,
    SdpError, SessionDescription, Timing,
};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));

fn built_offer() -> SessionDescription {
    let key = InlineKey {
        lifetime: Some(KeyLifetime::PowerOfTwo(31)),
        mki: Some(Mki {
            value: 1,
            length: 4,
        }),
        ..InlineKey::new("WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz")
    };
    SessionDescription::new(Origin::new("switchboard", "42", 1, LOCAL), "-")
        .with_connection(Connection::new(LOCAL))
        .with_attribute(Attribute::value("tool", "switchboard"))
        .with_media(
            MediaDescription::new(MediaType::Audio, 30000, Protocol::RtpSavp)
                .with_rtpmap(RtpMap::new(111, "opus", 48000).with_channels(2))
                .with_rtpmap(RtpMap::new(0, "PCMU", 8000))
                .with_rtpmap(RtpMap::new(101, "telephone-event", 8000))
                .with_attribute(Fmtp::new(111, "minptime=10;useinbandfec=1"))
                .with_attribute(Fmtp::new(101, "0-16"))
                .with_attribute(Attribute::Ptime(20))
                .with_attribute(Crypto::new(1, "AES_CM_128_HMAC_SHA1_80", key))
                .with_attribute(Rtcp::new(30001))
                .with_attribute(Direction::SendRecv),
        )
        .with_media(
            MediaDescription::new(MediaType::Video, 30002, Protocol::RtpAvp)
                .with_bandwidth(Bandwidth::new("TIAS", 2_000_000))
                .with_rtpmap(RtpMap::new(96, "VP8", 90000)),
        )
}

#[test]
fn build_and_print() {
    let sdp = built_offer();
    let text = crlf(&[
        "v=0",
        "o=switchboard 42 1 IN IP4 192.0.2.10",
        "s=-",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "a=tool:switchboard",
        "m=audio 30000 RTP/SAVP 111 0 101",
        "a=rtpmap:111 opus/48000/2",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31|1:4",
        "a=rtcp:30001",
        "a=sendrecv",
        "m=video 30002 RTP/AVP 96",
        "b=TIAS:2000000",
        "a=rtpmap:96 VP8/90000",
    ]);
    assert_eq!(sdp.to_string(), text);
    assert_eq!(round_trip(&text), sdp);
    assert_eq!(text.parse::<SessionDescription>(), Ok(sdp));
}

#[test]
fn edit_for_hold_and_relay() {
    let mut sdp = built_offer();
    let relay = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99));

    // Put the audio on hold: the existing a=sendrecv is replaced in place.
    let audio = &mut sdp.media[0];
    audio.set_direction(Direction::SendOnly);
    assert_eq!(
        audio.attributes.last(),
        Some(&Attribute::Direction(Direction::SendOnly))
    );
    assert_eq!(
        audio
            .attributes
            .iter()
            .filter(|a| matches!(a, Attribute::Direction(_)))
            .count(),
        1
    );
    // Relay it.
    audio.set_port(40000);
    audio.set_connection_address(relay);
    assert_eq!(audio.port, 40000);
    assert_eq!(
        audio.connection().and_then(Connection::ip_addr),
        Some(relay)
    );
    assert_eq!(
        audio.connection().map(|c| &c.addrtype),
        Some(&AddrType::Ip6)
    );

    // Video has no direction of its own: it follows the session level.
    sdp.set_direction(Direction::Inactive);
    assert_eq!(sdp.media_direction(0), Some(Direction::SendOnly));
    assert_eq!(sdp.media_direction(1), Some(Direction::Inactive));
    sdp.media[1].set_direction(Direction::RecvOnly);
    assert_eq!(sdp.media_direction(1), Some(Direction::RecvOnly));

    sdp.set_connection_address(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert!(sdp.media_connection(1).unwrap().is_unspecified());
    assert_eq!(sdp.media_connection(0).unwrap().ip_addr(), Some(relay));
    assert_eq!(sdp.media_connection(2), None);

    let text = sdp.to_string();
    assert!(text.contains("c=IN IP4 0.0.0.0\r\n"));
    assert!(text.contains("m=audio 40000 RTP/SAVP 111 0 101\r\nc=IN IP6 2001:db8::99\r\n"));
    assert!(text.contains("a=inactive\r\nm=audio"));
    assert!(text.ends_with("a=rtpmap:96 VP8/90000\r\na=recvonly\r\n"));
    assert_eq!(round_trip(&text), sdp);
}

#[test]
fn set_direction_removes_extra_direction_attributes() {
    let mut media = MediaDescription::new(MediaType::Audio, 9, Protocol::RtpAvp)
        .with_attribute(Attribute::property("x-a"))
        .with_attribute(Direction::SendOnly)
        .with_attribute(Attribute::property("x-b"))
        .with_attribute(Direction::RecvOnly);
    assert_eq!(media.direction(), Some(Direction::SendOnly));
    media.set_direction(Direction::Inactive);
    assert_eq!(
        media.attributes,
        [
            Attribute::property("x-a"),
            Attribute::Direction(Direction::Inactive),
            Attribute::property("x-b"),
        ]
    );
    assert_eq!(
        media.effective_direction(Some(Direction::SendOnly)),
        Direction::Inactive
    );
    let plain = MediaDescription::new(MediaType::Audio, 9, Protocol::RtpAvp);
    assert_eq!(
        plain.effective_direction(Some(Direction::SendOnly)),
        Direction::SendOnly
    );
    assert_eq!(plain.effective_direction(None), Direction::SendRecv);
}

#[test]
fn direction_helpers() {
    use Direction::{Inactive, RecvOnly, SendOnly, SendRecv};
    for (direction, name, reversed, sends, receives) in [
        (SendRecv, "sendrecv", SendRecv, true, true),
        (SendOnly, "sendonly", RecvOnly, true, false),
        (RecvOnly, "recvonly", SendOnly, false, true),
        (Inactive, "inactive", Inactive, false, false),
    ] {
        assert_eq!(direction.as_str(), name);
        assert_eq!(direction.to_string(), name);
        assert_eq!(Direction::from_name(name), Some(direction));
        assert_eq!(direction.reversed(), reversed);
        assert_eq!(direction.sends(), sends);
        assert_eq!(direction.receives(), receives);
        assert_eq!(Attribute::Direction(direction).name(), name);
    }
    assert_eq!(Direction::from_name("SENDRECV"), None);
    assert_eq!(Direction::default(), SendRecv);
}

#[test]
fn protocol_and_media_type() {
    for (text, protocol, rtp, secure) in [
        ("RTP/AVP", Protocol::RtpAvp, true, false),
        ("RTP/AVPF", Protocol::RtpAvpf, true, false),
        ("RTP/SAVP", Protocol::RtpSavp, true, true),
        ("RTP/SAVPF", Protocol::RtpSavpf, true, true),
        ("UDP/TLS/RTP/SAVP", Protocol::UdpTlsRtpSavp, true, true),
        ("UDP/TLS/RTP/SAVPF", Protocol::UdpTlsRtpSavpf, true, true),
        ("udp", Protocol::Udp, false, false),
        (
            "TCP/TLS/RTP/SAVP",
            Protocol::Other("TCP/TLS/RTP/SAVP".to_owned()),
            true,
            true,
        ),
        (
            "TCP/MSRP",
            Protocol::Other("TCP/MSRP".to_owned()),
            false,
            false,
        ),
        ("udptl", Protocol::Other("udptl".to_owned()), false, false),
    ] {
        assert_eq!(Protocol::from(text), protocol);
        assert_eq!(protocol.to_string(), text);
        assert_eq!(protocol.is_rtp(), rtp, "{text}");
        assert_eq!(protocol.is_secure_rtp(), secure, "{text}");
    }
    assert_eq!(Protocol::from("rtp/savpf"), Protocol::RtpSavpf);
    for (text, media) in [
        ("audio", MediaType::Audio),
        ("video", MediaType::Video),
        ("text", MediaType::Text),
        ("application", MediaType::Application),
        ("message", MediaType::Message),
        ("image", MediaType::Image),
        ("control", MediaType::Other("control".to_owned())),
    ] {
        assert_eq!(MediaType::from(text), media);
        assert_eq!(media.as_str(), text);
    }
}

#[test]
fn component_parsers_and_printers() {
    let origin: Origin = "- 0 0 IN IP4 127.0.0.1".parse().unwrap();
    assert_eq!(
        origin,
        Origin::new("-", "0", 0, IpAddr::V4(Ipv4Addr::LOCALHOST))
    );
    assert_eq!(origin.to_string(), "- 0 0 IN IP4 127.0.0.1");

    let odd: Origin = "x 1 2 ATM NSAP 47.0005.80".parse().unwrap();
    assert_eq!(odd.nettype, NetType::Other("ATM".to_owned()));
    assert_eq!(odd.addrtype, AddrType::Other("NSAP".to_owned()));
    assert_eq!(odd.to_string(), "x 1 2 ATM NSAP 47.0005.80");

    let mut connection: Connection = "IN IP4 224.2.1.1/127/3".parse().unwrap();
    assert_eq!(
        connection.ip_addr(),
        Some(IpAddr::V4(Ipv4Addr::new(224, 2, 1, 1)))
    );
    connection.set_ip_addr(IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert_eq!(
        connection,
        Connection::from(IpAddr::V6(Ipv6Addr::LOCALHOST))
    );
    assert_eq!(connection.to_string(), "IN IP6 ::1");

    let bandwidth: Bandwidth = "AS:64".parse().unwrap();
    assert_eq!(bandwidth, Bandwidth::new("AS", 64));
    assert_eq!(bandwidth.to_string(), "AS:64");

    let timing: Timing = "0 0".parse().unwrap();
    assert_eq!(timing, Timing::default());
    assert_eq!(timing.to_string(), "0 0");

    let rtpmap: RtpMap = "111 opus/48000/2".parse().unwrap();
    assert_eq!(rtpmap.channels, Some(2));
    assert_eq!(rtpmap.to_string(), "111 opus/48000/2");

    let rtcp: Rtcp = "53020 IN IP6 2001:db8::1".parse().unwrap();
    assert_eq!(rtcp.port, 53020);
    assert_eq!(
        rtcp.connection.as_ref().map(|c| c.address.as_str()),
        Some("2001:db8::1")
    );
    assert_eq!(rtcp.to_string(), "53020 IN IP6 2001:db8::1");

    let fmtp: Fmtp = "101 0-15".parse().unwrap();
    assert_eq!(fmtp, Fmtp::new(101, "0-15"));
    assert_eq!(fmtp.payload_type(), Some(101));
    assert_eq!(fmtp.param_pairs().collect::<Vec<_>>(), [("0-15", None)]);
    assert_eq!(fmtp.param("0-15"), Some(""));
    let bare: Fmtp = "t140".parse().unwrap();
    assert_eq!(bare.params, "");
    assert_eq!(bare.payload_type(), None);
    assert_eq!(bare.to_string(), "t140");
    let spaced: Fmtp = "96 profile-level-id = 42e01f ; ; packetization-mode=1"
        .parse()
        .unwrap();
    assert_eq!(
        spaced.param_pairs().collect::<Vec<_>>(),
        [
            ("profile-level-id", Some("42e01f")),
            ("packetization-mode", Some("1"))
        ]
    );
    assert_eq!(spaced.param("PACKETIZATION-MODE"), Some("1"));
    assert_eq!(spaced.param("missing"), None);

    let attribute: Attribute = "crypto:1 AES_256_CM_HMAC_SHA1_80 INLINE:YUJDZGVm"
        .parse()
        .unwrap();
    assert_eq!(attribute.name(), "crypto");
    assert_eq!(
        attribute.to_string(),
        "crypto:1 AES_256_CM_HMAC_SHA1_80 inline:YUJDZGVm"
    );
    let key: KeyParam = "inline:YUJDZGVm|2^48".parse().unwrap();
    assert_eq!(
        key.as_inline()
            .and_then(|k| k.lifetime)
            .and_then(KeyLifetime::packets),
        Some(1 << 48)
    );
    assert_eq!(KeyLifetime::PowerOfTwo(64).packets(), None);
    assert_eq!(KeyLifetime::Packets(7).to_string(), "7");
    assert_eq!(
        "10:4".parse::<Mki>(),
        Ok(Mki {
            value: 10,
            length: 4
        })
    );
    assert_eq!(
        "10".parse::<Mki>(),
        Err(LineError::Crypto("MKI is not <value>:<length>"))
    );
}

#[test]
fn media_lookups() {
    let sdp = built_offer();
    let audio = &sdp.media[0];
    assert_eq!(audio.payload_types().collect::<Vec<_>>(), [111, 0, 101]);
    assert_eq!(audio.rtpmaps().count(), 3);
    assert_eq!(audio.rtpmap(101).map(|r| r.clock_rate), Some(8000));
    assert_eq!(
        audio.fmtp(111).and_then(|f| f.param("minptime")),
        Some("10")
    );
    assert_eq!(audio.fmtp(0), None);
    assert_eq!(audio.ptime(), Some(20));
    assert_eq!(audio.maxptime(), None);
    assert_eq!(audio.rtcp().map(|r| r.port), Some(30001));
    assert_eq!(audio.mid(), None);
    assert_eq!(audio.crypto().map(|c| c.tag).collect::<Vec<_>>(), [1]);
    assert_eq!(audio.attribute("ptime"), Some(&Attribute::Ptime(20)));
    assert_eq!(audio.attribute("nothing"), None);
    assert_eq!(sdp.attribute("tool").map(Attribute::name), Some("tool"));
    let video = &sdp.media[1];
    assert_eq!(video.crypto().count(), 0);
    assert_eq!(video.direction(), None);
}

#[test]
fn error_messages() {
    let error = SessionDescription::parse("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:300 X/1\r\n")
        .unwrap_err();
    assert_eq!(error.line(), Some(6));
    assert_eq!(
        error.to_string(),
        "line 6: bad a=rtpmap: payload type is not a number from 0 to 127"
    );
    assert_eq!(
        SdpError::InvalidUtf8 { valid_up_to: 3 }.to_string(),
        "SDP is not valid UTF-8 (invalid byte at offset 3)"
    );
    assert_eq!(SdpError::Empty.to_string(), "SDP is empty");
    assert_eq!(
        LineError::Duplicate('c').at(4).to_string(),
        "line 4: \"c=\" may appear only once here"
    );
}
