//! Offers as real user agents send them.

use std::net::{IpAddr, Ipv4Addr};

use super::canonical;
use crate::sdp::{AddrType, Attribute, Direction, KeyLifetime, MediaType, Protocol, Rtcp, RtpMap};

#[test]
fn baresip_offer() {
    let sdp = canonical(&[
        "v=0",
        "o=- 1394726212 2417963553 IN IP4 192.168.1.37",
        "s=-",
        "c=IN IP4 192.168.1.37",
        "t=0 0",
        "a=tool:baresip 3.10.1",
        "m=audio 10160 RTP/AVP 96 9 0 8 101",
        "b=AS:128",
        "a=rtpmap:96 opus/48000/2",
        "a=fmtp:96 stereo=1;sprop-stereo=1",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=sendrecv",
        "a=label:1",
        "a=rtcp-rsize",
        "a=ssrc:1906227380 cname:af6a2a0e-ab3b-4a28-8d7a-8e3b9ff2cd59",
        "a=ptime:20",
        "m=video 10104 RTP/AVP 100",
        "b=AS:1000",
        "a=rtpmap:100 H264/90000",
        "a=fmtp:100 packetization-mode=0;profile-level-id=42e01f",
        "a=sendrecv",
        "a=label:2",
    ]);
    assert_eq!(sdp.origin.username, "-");
    assert_eq!(sdp.origin.session_id, "1394726212");
    assert_eq!(sdp.origin.session_version, 2_417_963_553);
    assert_eq!(sdp.session_name, "-");
    assert_eq!(
        sdp.attribute("tool"),
        Some(&Attribute::value("tool", "baresip 3.10.1"))
    );
    assert_eq!(sdp.media.len(), 2);

    let audio = &sdp.media[0];
    assert_eq!(audio.media, MediaType::Audio);
    assert_eq!(audio.port, 10160);
    assert_eq!(audio.protocol, Protocol::RtpAvp);
    assert_eq!(audio.formats, ["96", "9", "0", "8", "101"]);
    assert_eq!(
        audio.payload_types().collect::<Vec<_>>(),
        [96, 9, 0, 8, 101]
    );
    assert_eq!(
        audio.rtpmap(96),
        Some(&RtpMap::new(96, "opus", 48000).with_channels(2))
    );
    assert_eq!(audio.rtpmap(0), Some(&RtpMap::new(0, "PCMU", 8000)));
    assert_eq!(audio.rtpmap(97), None);
    let opus = audio.fmtp(96).unwrap();
    assert_eq!(opus.param("stereo"), Some("1"));
    assert_eq!(opus.param("sprop-stereo"), Some("1"));
    assert_eq!(audio.fmtp(101).unwrap().params, "0-15");
    assert_eq!(audio.bandwidths[0].bwtype, "AS");
    assert_eq!(audio.bandwidths[0].bandwidth, 128);
    assert_eq!(audio.ptime(), Some(20));
    assert_eq!(audio.direction(), Some(Direction::SendRecv));
    assert_eq!(
        sdp.media_connection(0).and_then(|c| c.ip_addr()),
        Some(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 37)))
    );

    let video = &sdp.media[1];
    assert_eq!(video.media, MediaType::Video);
    assert_eq!(video.rtpmap(100).unwrap().clock_rate, 90000);
    assert_eq!(
        video.fmtp(100).unwrap().param("profile-level-id"),
        Some("42e01f")
    );
}

#[test]
fn linphone_offer() {
    let sdp = canonical(&[
        "v=0",
        "o=jehan-mac 1239 1239 IN IP6 2a01:e35:1387:1020:6233:4bff:fe0b:5663",
        "s=Talk",
        "c=IN IP6 2a01:e35:1387:1020:6233:4bff:fe0b:5663",
        "t=0 0",
        "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics",
        "a=record:off",
        "m=audio 7078 RTP/AVP 111 110 3 0 8 101",
        "a=rtpmap:111 speex/16000",
        "a=fmtp:111 vbr=on",
        "a=rtpmap:110 speex/8000",
        "a=fmtp:110 vbr=on",
        "a=rtpmap:3 GSM/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-11",
        "a=rtcp-fb:* trr-int 5000",
        "a=rtcp-fb:* ccm tmmbr",
        "m=video 8078 RTP/AVP 99 97 98",
        "a=rtpmap:99 MP4V-ES/90000",
        "a=fmtp:99 profile-level-id=3",
        "a=rtpmap:97 theora/90000",
        "a=rtpmap:98 H263-1998/90000",
        "a=fmtp:98 CIF=1;QCIF=1",
        "a=rtcp-fb:* ccm fir",
    ]);
    assert_eq!(sdp.origin.addrtype, AddrType::Ip6);
    assert_eq!(sdp.origin.address, "2a01:e35:1387:1020:6233:4bff:fe0b:5663");
    let connection = sdp.connection.as_ref().unwrap();
    assert_eq!(connection.addrtype, AddrType::Ip6);
    assert!(connection.ip_addr().is_some_and(|ip| ip.is_ipv6()));
    assert_eq!(
        sdp.attribute("rtcp-xr"),
        Some(&Attribute::value(
            "rtcp-xr",
            "rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics"
        ))
    );
    // No direction anywhere: sendrecv.
    assert_eq!(sdp.media_direction(0), Some(Direction::SendRecv));
    assert_eq!(sdp.media_direction(1), Some(Direction::SendRecv));
    assert_eq!(sdp.media_direction(2), None);
    let video = &sdp.media[1];
    assert_eq!(video.fmtp(98).unwrap().param("qcif"), Some("1"));
    assert_eq!(video.rtpmap(3), None);
    assert_eq!(sdp.media[0].rtpmap(3).unwrap().encoding_name, "GSM");
}

#[test]
fn webrtc_offer() {
    let sdp = canonical(&[
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1 2",
        "a=extmap-allow-mixed",
        "a=msid-semantic: WMS 5b3ac9b2-1e4e-4a2a-9a3c-3f4b1d2c8e6f",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0 network-id 1",
        "a=candidate:435653019 1 tcp 1518280447 192.168.0.196 9 typ host tcptype active generation 0",
        "a=ice-ufrag:4ZcD",
        "a=ice-pwd:2/1muCWoOi3uLifh0NuRHlDq",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 75:74:5A:A6:A4:E5:52:F4:A7:67:4C:01:C7:EE:91:3F:21:3D:A2:E3:53:7B:6F:30:86:F2:30:FF:A6:22:D2:04",
        "a=setup:actpass",
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=sendrecv",
        "a=msid:5b3ac9b2-1e4e-4a2a-9a3c-3f4b1d2c8e6f 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "a=rtcp-mux",
        "a=rtcp-rsize",
        "a=rtpmap:111 opus/48000/2",
        "a=rtcp-fb:111 transport-cc",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:63 red/48000/2",
        "a=fmtp:63 111/111",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:13 CN/8000",
        "a=rtpmap:110 telephone-event/48000",
        "a=rtpmap:126 telephone-event/8000",
        "a=ssrc:3735928559 cname:JnPqYbEOuBVAzrHW",
        "a=ssrc:3735928559 msid:5b3ac9b2-1e4e-4a2a-9a3c-3f4b1d2c8e6f 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:4ZcD",
        "a=ice-pwd:2/1muCWoOi3uLifh0NuRHlDq",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 75:74:5A:A6:A4:E5:52:F4:A7:67:4C:01:C7:EE:91:3F:21:3D:A2:E3:53:7B:6F:30:86:F2:30:FF:A6:22:D2:04",
        "a=setup:actpass",
        "a=mid:1",
        "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset",
        "a=extmap:13 urn:3gpp:video-orientation",
        "a=sendonly",
        "a=msid:5b3ac9b2-1e4e-4a2a-9a3c-3f4b1d2c8e6f 9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4",
        "a=rtcp-mux",
        "a=rtcp-rsize",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 goog-remb",
        "a=rtcp-fb:96 transport-cc",
        "a=rtcp-fb:96 ccm fir",
        "a=rtcp-fb:96 nack",
        "a=rtcp-fb:96 nack pli",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "a=rtpmap:102 H264/90000",
        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
        "a=rtpmap:103 rtx/90000",
        "a=fmtp:103 apt=102",
        "a=ssrc-group:FID 2231627014 632943048",
        "a=ssrc:2231627014 cname:JnPqYbEOuBVAzrHW",
        "a=ssrc:632943048 cname:JnPqYbEOuBVAzrHW",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        "a=ice-ufrag:4ZcD",
        "a=ice-pwd:2/1muCWoOi3uLifh0NuRHlDq",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 75:74:5A:A6:A4:E5:52:F4:A7:67:4C:01:C7:EE:91:3F:21:3D:A2:E3:53:7B:6F:30:86:F2:30:FF:A6:22:D2:04",
        "a=setup:actpass",
        "a=mid:2",
        "a=sctp-port:5000",
        "a=max-message-size:262144",
    ]);
    assert_eq!(sdp.connection, None);
    assert_eq!(
        sdp.attribute("msid-semantic"),
        Some(&Attribute::value(
            "msid-semantic",
            " WMS 5b3ac9b2-1e4e-4a2a-9a3c-3f4b1d2c8e6f"
        ))
    );
    assert_eq!(sdp.media.len(), 3);

    let audio = &sdp.media[0];
    assert_eq!(audio.protocol, Protocol::UdpTlsRtpSavpf);
    assert!(audio.protocol.is_secure_rtp());
    assert_eq!(audio.mid(), Some("0"));
    let rtcp = audio.rtcp().unwrap();
    assert_eq!(rtcp.port, 9);
    assert!(rtcp.connection.as_ref().is_some_and(|c| c.is_unspecified()));
    assert_eq!(audio.rtpmap(63).unwrap().encoding_name, "red");
    assert_eq!(audio.fmtp(63).unwrap().params, "111/111");
    assert_eq!(audio.fmtp(111).unwrap().param("useinbandfec"), Some("1"));
    assert_eq!(audio.crypto().count(), 0);
    assert_eq!(
        audio
            .attributes
            .iter()
            .filter(|a| a.name() == "candidate")
            .count(),
        2
    );

    let video = &sdp.media[1];
    assert_eq!(video.mid(), Some("1"));
    assert_eq!(sdp.media_direction(1), Some(Direction::SendOnly));
    assert_eq!(video.fmtp(97).unwrap().param("apt"), Some("96"));

    let data = &sdp.media[2];
    assert_eq!(data.media, MediaType::Application);
    assert_eq!(data.protocol, Protocol::Other("UDP/DTLS/SCTP".to_owned()));
    assert!(!data.protocol.is_rtp());
    assert_eq!(data.formats, ["webrtc-datachannel"]);
    assert_eq!(data.payload_types().count(), 0);
    assert_eq!(data.rtcp(), None);
    assert_eq!(
        data.attribute("sctp-port"),
        Some(&Attribute::value("sctp-port", "5000"))
    );
}

#[test]
fn sdes_srtp_offer_with_two_crypto_lines() {
    let sdp = canonical(&[
        "v=0",
        "o=- 3760427523 3760427523 IN IP4 192.0.2.10",
        "s=-",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 16000 RTP/SAVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31",
        "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^31",
        "a=rtcp:16001",
        "a=sendrecv",
    ]);
    let audio = &sdp.media[0];
    assert_eq!(audio.protocol, Protocol::RtpSavp);
    assert!(audio.protocol.is_secure_rtp());
    assert_eq!(audio.rtcp(), Some(&Rtcp::new(16001)));
    let crypto: Vec<_> = audio.crypto().collect();
    assert_eq!(crypto.len(), 2);
    assert_eq!(crypto[0].tag, 1);
    assert_eq!(crypto[0].suite, "AES_CM_128_HMAC_SHA1_80");
    assert_eq!(crypto[1].tag, 2);
    assert_eq!(crypto[1].suite, "AES_CM_128_HMAC_SHA1_32");
    let key = crypto[1].inline_keys().next().unwrap();
    assert_eq!(key.key_salt, "NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj");
    assert_eq!(key.lifetime, Some(KeyLifetime::PowerOfTwo(31)));
    assert_eq!(key.lifetime.and_then(KeyLifetime::packets), Some(1 << 31));
    assert_eq!(key.mki, None);
    assert!(crypto.iter().all(|c| c.session_params.is_empty()));
}

#[test]
fn hold_offer_old_and_new_style() {
    // RFC 2543 hold (c=0.0.0.0) together with RFC 3264 hold (a=sendonly).
    let sdp = canonical(&[
        "v=0",
        "o=alice 2890844526 2890844527 IN IP4 192.0.2.1",
        "s=-",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "a=sendonly",
    ]);
    assert!(sdp.media_connection(0).unwrap().is_unspecified());
    assert_eq!(sdp.media_direction(0), Some(Direction::SendOnly));
    assert_eq!(
        sdp.media_direction(0).map(Direction::reversed),
        Some(Direction::RecvOnly)
    );

    // Session-level inactive applies to a section without its own
    // direction; a media-level one overrides it.
    let sdp = canonical(&[
        "v=0",
        "o=bob 2890844730 2890844731 IN IP4 192.0.2.2",
        "s= ",
        "c=IN IP4 192.0.2.2",
        "t=0 0",
        "a=inactive",
        "m=audio 49172 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=video 49174 RTP/AVP 31",
        "a=recvonly",
    ]);
    assert_eq!(sdp.session_name, " ");
    assert!(!sdp.media_connection(0).unwrap().is_unspecified());
    assert_eq!(sdp.direction(), Some(Direction::Inactive));
    assert_eq!(sdp.media[0].direction(), None);
    assert_eq!(sdp.media_direction(0), Some(Direction::Inactive));
    assert_eq!(sdp.media_direction(1), Some(Direction::RecvOnly));
}
