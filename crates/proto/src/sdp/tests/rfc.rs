//! Examples from the RFCs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{canonical, round_trip};
use crate::sdp::{
    AddrType, Attribute, Connection, Crypto, Direction, InlineKey, KeyLifetime, KeyParam,
    MediaType, Mki, NetType, RtpMap, Timing,
};

#[test]
fn rfc4566_example() {
    // RFC 4566 §5, with the r= and z= examples of §5.10 and §5.11 added.
    let sdp = canonical(&[
        "v=0",
        "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5",
        "s=SDP Seminar",
        "i=A Seminar on the session description protocol",
        "u=http://www.example.com/seminars/sdp.pdf",
        "e=j.doe@example.com (Jane Doe)",
        "p=+1 617 555-6011",
        "c=IN IP4 224.2.17.12/127",
        "t=2873397496 2873404696",
        "t=3034423619 3042462419",
        "r=604800 3600 0 90000",
        "r=7d 1h 0 25h",
        "z=2882844526 -1h 2898848070 0",
        "a=recvonly",
        "m=audio 49170 RTP/AVP 0",
        "m=video 51372 RTP/AVP 99",
        "a=rtpmap:99 h263-1998/90000",
    ]);
    assert_eq!(sdp.version, 0);
    assert_eq!(sdp.origin.username, "jdoe");
    assert_eq!(sdp.origin.session_id, "2890844526");
    assert_eq!(sdp.origin.session_version, 2_890_842_807);
    assert_eq!(sdp.origin.nettype, NetType::In);
    assert_eq!(sdp.origin.addrtype, AddrType::Ip4);
    assert_eq!(sdp.origin.address, "10.47.16.5");
    assert_eq!(sdp.session_name, "SDP Seminar");
    assert_eq!(
        sdp.information.as_deref(),
        Some("A Seminar on the session description protocol")
    );
    assert_eq!(
        sdp.uri.as_deref(),
        Some("http://www.example.com/seminars/sdp.pdf")
    );
    assert_eq!(sdp.emails, ["j.doe@example.com (Jane Doe)"]);
    assert_eq!(sdp.phones, ["+1 617 555-6011"]);
    let connection = sdp.connection.as_ref().unwrap();
    assert_eq!(connection.address, "224.2.17.12");
    assert_eq!(connection.ttl, Some(127));
    assert_eq!(connection.num_addresses, None);
    assert_eq!(
        sdp.timings,
        [
            Timing::new(2_873_397_496, 2_873_404_696),
            Timing {
                start: 3_034_423_619,
                stop: 3_042_462_419,
                repeats: vec!["604800 3600 0 90000".to_owned(), "7d 1h 0 25h".to_owned()],
            },
        ]
    );
    assert_eq!(
        sdp.time_zones.as_deref(),
        Some("2882844526 -1h 2898848070 0")
    );
    assert_eq!(sdp.direction(), Some(Direction::RecvOnly));
    assert_eq!(sdp.media_direction(1), Some(Direction::RecvOnly));
    assert_eq!(sdp.media[0].attributes, []);
    assert_eq!(
        sdp.media[1].rtpmap(99),
        Some(&RtpMap::new(99, "h263-1998", 90000))
    );
    // Both sections use the session-level multicast connection.
    assert_eq!(sdp.media_connection(1), Some(connection));
}

#[test]
fn multicast_connection_forms() {
    let cases = [
        ("IN IP4 224.2.1.1/127", "224.2.1.1", Some(127), None),
        ("IN IP4 224.2.1.1/127/3", "224.2.1.1", Some(127), Some(3)),
        ("IN IP6 FF15::101/3", "FF15::101", None, Some(3)),
        ("IN IP6 2001:db8::20", "2001:db8::20", None, None),
        ("IN IP4 host.example.com", "host.example.com", None, None),
    ];
    for (text, address, ttl, count) in cases {
        let connection: Connection = text.parse().unwrap();
        assert_eq!(connection.address, address, "{text}");
        assert_eq!(connection.ttl, ttl, "{text}");
        assert_eq!(connection.num_addresses, count, "{text}");
        assert_eq!(connection.to_string(), text);
    }
    // Unknown address types keep the address whole.
    let other: Connection = "IN X25 a/b/c/d".parse().unwrap();
    assert_eq!(other.addrtype, AddrType::Other("X25".to_owned()));
    assert_eq!(other.address, "a/b/c/d");
    assert_eq!(other.to_string(), "IN X25 a/b/c/d");
}

#[test]
fn rfc4568_crypto_lines() {
    // §4 and §9.1 (tag 1), §6.1 (MKI without lifetime), §9.2 offer
    // (FEC_ORDER session parameter, two keys).
    let simple: Crypto = "1 AES_CM_128_HMAC_SHA1_80 \
                          inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4"
        .parse()
        .unwrap();
    assert_eq!(simple.tag, 1);
    assert_eq!(simple.suite, "AES_CM_128_HMAC_SHA1_80");
    assert_eq!(
        simple.key_params,
        [KeyParam::Inline(InlineKey {
            key_salt: "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR".to_owned(),
            lifetime: Some(KeyLifetime::PowerOfTwo(20)),
            mki: Some(Mki {
                value: 1,
                length: 4
            }),
        })]
    );
    assert!(simple.session_params.is_empty());

    let mki_only: InlineKey = "YUJDZGVmZ2hpSktMbW9QUXJzVHVWd3l6MTIzNDU2|1066:4"
        .parse()
        .unwrap();
    assert_eq!(mki_only.lifetime, None);
    assert_eq!(
        mki_only.mki,
        Some(Mki {
            value: 1066,
            length: 4
        })
    );

    let decimal_lifetime: InlineKey = "MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|1048576|2:4"
        .parse()
        .unwrap();
    assert_eq!(
        decimal_lifetime.lifetime,
        Some(KeyLifetime::Packets(1_048_576))
    );

    let sdp = canonical(&[
        "v=0",
        "o=sam 2890844526 2890842807 IN IP4 10.47.16.5",
        "s=SRTP Discussion",
        "i=A discussion of Secure RTP",
        "u=http://www.example.com/seminars/srtp.pdf",
        "e=marge@example.com (Marge Simpson)",
        "c=IN IP4 168.2.17.12",
        "t=2873397496 2873404696",
        "m=audio 49170 RTP/SAVP 0",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 \
         inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 FEC_ORDER=FEC_SRTP",
        "a=crypto:2 F8_128_HMAC_SHA1_80 \
         inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;\
         inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_ORDER=FEC_SRTP",
    ]);
    let crypto: Vec<_> = sdp.media[0].crypto().collect();
    assert_eq!(crypto.len(), 2);
    assert_eq!(crypto[0].session_params, ["FEC_ORDER=FEC_SRTP"]);
    assert_eq!(crypto[1].suite, "F8_128_HMAC_SHA1_80");
    let keys: Vec<_> = crypto[1].inline_keys().collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].mki.map(|mki| mki.value), Some(1));
    assert_eq!(keys[1].mki.map(|mki| mki.value), Some(2));
    assert_eq!(keys[1].key_salt, "QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5");

    // Session parameters, and a key method other than inline.
    let line = "3 AES_CM_128_HMAC_SHA1_32 \
                inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32 \
                KDR=1 UNENCRYPTED_SRTCP WSH=64";
    let with_params: Crypto = line.parse().unwrap();
    assert_eq!(
        with_params.session_params,
        ["KDR=1", "UNENCRYPTED_SRTCP", "WSH=64"]
    );
    assert_eq!(with_params.to_string(), line);
    let other: Crypto = "4 SUITE_X uri:https://example.com/key".parse().unwrap();
    assert_eq!(
        other.key_params,
        [KeyParam::Other {
            method: "uri".to_owned(),
            info: "https://example.com/key".to_owned()
        }]
    );
    assert_eq!(other.inline_keys().count(), 0);
}

/// The SDP bodies of the RFC 5118 torture tests (§4.5, §4.6, §4.7).
#[test]
fn rfc5118_ipv6_in_sdp() {
    let sdp = canonical(&[
        "v=0",
        "o=assistant 971731711378798081 0 IN IP6 2001:db8::20",
        "s=Live video feed for today's meeting",
        "c=IN IP6 2001:db8::20",
        "t=3338481189 3370017201",
        "m=audio 6000 RTP/AVP 2",
        "a=rtpmap:2 G726-32/8000",
        "m=video 6024 RTP/AVP 107",
        "a=rtpmap:107 H263-1998/90000",
    ]);
    assert_eq!(sdp.origin.session_id, "971731711378798081");
    assert_eq!(sdp.origin.session_version, 0);
    assert_eq!(sdp.origin.addrtype, AddrType::Ip6);
    let expected: IpAddr = "2001:db8::20".parse().unwrap();
    assert_eq!(sdp.media_connection(0).unwrap().ip_addr(), Some(expected));
    assert_eq!(sdp.media_connection(1).unwrap().ip_addr(), Some(expected));
    assert_eq!(
        sdp.media[0].rtpmap(2),
        Some(&RtpMap::new(2, "G726-32", 8000))
    );
}

#[test]
fn rfc5118_multiple_ip_versions_in_sdp() {
    let sdp = canonical(&[
        "v=0",
        "o=bob 280744730 28977631 IN IP4 host.example.com",
        "s=",
        "t=0 0",
        "m=audio 22334 RTP/AVP 0",
        "c=IN IP4 192.0.2.1",
        "m=video 6024 RTP/AVP 107",
        "c=IN IP6 2001:db8::1",
        "a=rtpmap:107 H263-1998/90000",
    ]);
    assert_eq!(sdp.session_name, "");
    assert_eq!(sdp.origin.address, "host.example.com");
    assert_eq!(sdp.connection, None);
    let audio = sdp.media_connection(0).unwrap();
    assert_eq!(audio.addrtype, AddrType::Ip4);
    assert_eq!(audio.address, "192.0.2.1");
    let video = sdp.media_connection(1).unwrap();
    assert_eq!(video.addrtype, AddrType::Ip6);
    assert_eq!(
        video.ip_addr(),
        Some(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)))
    );
}

#[test]
fn rfc5118_ipv4_mapped_ipv6_in_sdp() {
    let sdp = canonical(&[
        "v=0",
        "o=assistant 971731711378798081 0 IN IP6 ::ffff:192.0.2.2",
        "s=Call me soon, please!",
        "c=IN IP6 ::ffff:192.0.2.2",
        "t=3338481189 3370017201",
        "m=audio 6000 RTP/AVP 2",
        "a=rtpmap:2 G726-32/8000",
        "m=video 6024 RTP/AVP 107",
        "a=rtpmap:107 H263-1998/90000",
    ]);
    assert_eq!(sdp.origin.address, "::ffff:192.0.2.2");
    let connection = sdp.connection.as_ref().unwrap();
    assert_eq!(connection.addrtype, AddrType::Ip6);
    assert_eq!(connection.num_addresses, None);
    assert_eq!(
        connection.ip_addr(),
        Some(IpAddr::V6(Ipv4Addr::new(192, 0, 2, 2).to_ipv6_mapped()))
    );
}

#[test]
fn rfc3264_answer_with_rejected_stream() {
    // RFC 3264 §10.1, the answer: the video stream is rejected with port 0.
    let sdp = round_trip(
        "v=0\r\n\
         o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com\r\n\
         s=\r\n\
         c=IN IP4 host.biloxi.example.com\r\n\
         t=0 0\r\n\
         m=audio 49172 RTP/AVP 99\r\n\
         a=rtpmap:99 iLBC/8000\r\n\
         m=video 0 RTP/AVP 31\r\n\
         a=rtpmap:31 H261/90000\r\n",
    );
    assert_eq!(sdp.media[1].port, 0);
    assert_eq!(sdp.media[1].media, MediaType::Video);
    assert_eq!(sdp.media_connection(0).unwrap().ip_addr(), None);
    assert_eq!(
        sdp.media[0].attributes,
        [Attribute::RtpMap(RtpMap::new(99, "iLBC", 8000))]
    );
}
