//! Inputs that must fail with the right error, and sloppy inputs that must
//! be tolerated.

use super::{crlf, round_trip};
use crate::sdp::{
    AddrType, Attribute, Direction, LineError, MediaType, NetType, Protocol, SdpError,
    SessionDescription,
};

/// The first lines of a valid description, up to `t=`.
const HEAD: [&str; 4] = ["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0"];

/// Parses `HEAD` followed by `rest`, expecting an error.
fn error_after_head(rest: &[&str]) -> SdpError {
    let mut lines = HEAD.to_vec();
    lines.extend_from_slice(rest);
    SessionDescription::parse(&crlf(&lines)).expect_err("should not parse")
}

/// Expects `HEAD` + `m=audio 9 RTP/AVP 0` + `line` to fail on `line` with
/// `kind`.
fn assert_media_line_error(line: &str, kind: LineError) {
    assert_eq!(
        error_after_head(&["m=audio 9 RTP/AVP 0", line]),
        SdpError::Invalid { line: 6, kind },
        "{line}"
    );
}

#[test]
fn empty_input() {
    for text in ["", "\r\n", "\n\n\n", "  \r\n\t\r\n"] {
        assert_eq!(
            SessionDescription::parse(text),
            Err(SdpError::Empty),
            "{text:?}"
        );
    }
    assert_eq!(SessionDescription::from_bytes(b""), Err(SdpError::Empty));
}

#[test]
fn garbage() {
    for text in [
        "garbage",
        "hello world\r\n",
        "v 0",
        "vv=0",
        "=0",
        "1=0",
        "\u{e9}=0",
        " v=0",
    ] {
        assert_eq!(
            SessionDescription::parse(text),
            Err(LineError::Syntax.at(1)),
            "{text:?}"
        );
    }
    assert_eq!(
        SessionDescription::parse("v=0\r\nINVITE sip:bob@example.com SIP/2.0\r\n"),
        Err(LineError::Syntax.at(2))
    );
    assert_eq!(
        SessionDescription::parse("\u{0}\u{1}\u{2}"),
        Err(LineError::ForbiddenChar.at(1))
    );
}

#[test]
fn missing_version_line() {
    let error = SessionDescription::parse("o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\n").unwrap_err();
    assert_eq!(
        error,
        SdpError::Missing {
            line: 1,
            field: 'v'
        }
    );
    assert_eq!(error.line(), Some(1));
    assert_eq!(error.to_string(), "line 1: missing required \"v=\" line");
    // Blank lines do not count, but do count for the line number.
    assert_eq!(
        SessionDescription::parse("\r\n\r\ns=-\r\n"),
        Err(SdpError::Missing {
            line: 3,
            field: 'v'
        })
    );
}

#[test]
fn unsupported_version() {
    for version in ["1", "", "00x", "99999999999999999999999"] {
        let text = format!("v={version}\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n");
        assert_eq!(
            SessionDescription::parse(&text),
            Err(LineError::UnsupportedVersion.at(1)),
            "{version:?}"
        );
    }
}

#[test]
fn missing_required_lines() {
    let missing = |text: &str| match SessionDescription::parse(text) {
        Err(SdpError::Missing { line, field }) => (line, field),
        other => panic!("{other:?}"),
    };
    assert_eq!(missing("v=0\r\n"), (1, 'o'));
    assert_eq!(missing("v=0\r\ns=-\r\nt=0 0\r\n"), (3, 'o'));
    assert_eq!(
        missing("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0 0\r\n"),
        (3, 's')
    );
    assert_eq!(
        missing("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"),
        (3, 't')
    );
    // Reported at the first m= line when missing from the session part.
    assert_eq!(
        missing("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 9 RTP/AVP 0\r\nt=0 0\r\n"),
        (4, 't')
    );
    assert_eq!(
        missing("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nm=audio 9 RTP/AVP 0\r\n"),
        (3, 's')
    );
}

#[test]
fn bad_origin() {
    for origin in [
        "o=",
        "o=- 1 1 IN IP4",
        "o=- 1 1 IN IP4 192.0.2.1 extra",
        "o=- 1 x IN IP4 192.0.2.1",
        "o=- 1 -1 IN IP4 192.0.2.1",
        "o=- 1 18446744073709551616 IN IP4 192.0.2.1",
    ] {
        let text = crlf(&["v=0", origin, "s=-", "t=0 0"]);
        match SessionDescription::parse(&text) {
            Err(SdpError::Invalid {
                line: 2,
                kind: LineError::Origin(_),
            }) => {}
            other => panic!("{origin}: {other:?}"),
        }
    }
    // The largest session version fits; a very long session id is fine.
    let text = crlf(&[
        "v=0",
        "o=- 123456789012345678901234567890 18446744073709551615 IN IP4 192.0.2.1",
        "s=-",
        "t=0 0",
    ]);
    let sdp = round_trip(&text);
    assert_eq!(sdp.origin.session_version, u64::MAX);
    assert_eq!(sdp.origin.session_id, "123456789012345678901234567890");
}

#[test]
fn bad_media_line() {
    for (media, kind) in [
        ("m=audio 65536 RTP/AVP 0", LineError::MediaPort),
        (
            "m=audio 99999999999999999999 RTP/AVP 0",
            LineError::MediaPort,
        ),
        ("m=audio -1 RTP/AVP 0", LineError::MediaPort),
        ("m=audio +9 RTP/AVP 0", LineError::MediaPort),
        ("m=audio port RTP/AVP 0", LineError::MediaPort),
        ("m=audio 9/ RTP/AVP 0", LineError::MediaPort),
        ("m=audio 9/2/3 RTP/AVP 0", LineError::MediaPort),
        ("m=audio 9/70000 RTP/AVP 0", LineError::MediaPort),
        (
            "m=audio",
            LineError::Media("expected <media> <port> <proto> <fmt> ..."),
        ),
        (
            "m=audio 9",
            LineError::Media("expected <media> <port> <proto> <fmt> ..."),
        ),
        (
            "m=",
            LineError::Media("expected <media> <port> <proto> <fmt> ..."),
        ),
    ] {
        assert_eq!(
            error_after_head(&[media]),
            SdpError::Invalid { line: 5, kind },
            "{media}"
        );
    }
    let error = error_after_head(&["m=audio 65536 RTP/AVP 0"]);
    assert_eq!(
        error.to_string(),
        "line 5: bad m= line: port is not a number from 0 to 65535"
    );
}

#[test]
fn bad_rtpmap() {
    for rtpmap in [
        "a=rtpmap",
        "a=rtpmap:",
        "a=rtpmap:0",
        "a=rtpmap:0 PCMU",
        "a=rtpmap:0 PCMU/",
        "a=rtpmap:0 /8000",
        "a=rtpmap:128 PCMU/8000",
        "a=rtpmap:x PCMU/8000",
        "a=rtpmap:0 PCMU/8000/1/2",
        "a=rtpmap:0 PCMU/99999999999",
        "a=rtpmap:111 opus/48000/two",
        "a=rtpmap:111 op us/48000",
    ] {
        match error_after_head(&["m=audio 9 RTP/AVP 0", rtpmap]) {
            SdpError::Invalid {
                line: 6,
                kind: LineError::Rtpmap(_),
            } => {}
            other => panic!("{rtpmap}: {other:?}"),
        }
    }
}

#[test]
fn bad_crypto() {
    for crypto in [
        "a=crypto",
        "a=crypto:",
        "a=crypto:1",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80",
        "a=crypto:1234567890 AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVm",
        "a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVm",
        "a=crypto:1 AES-CM AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVm",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:not*base64",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 YUJDZGVm",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVm;",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVm|2^20|1:0",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVm|2^20|1:129",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVm|2^20|2^20",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVm|1:4|2^20",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVm|2^256",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVm|",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVm|x:4",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 uri:",
    ] {
        match error_after_head(&["m=audio 9 RTP/SAVP 0", crypto]) {
            SdpError::Invalid {
                line: 6,
                kind: LineError::Crypto(_),
            } => {}
            other => panic!("{crypto}: {other:?}"),
        }
    }
}

#[test]
fn bad_other_typed_attributes() {
    assert_media_line_error("a=fmtp:", LineError::Fmtp("missing format"));
    assert_media_line_error("a=fmtp", LineError::Fmtp("missing format"));
    assert_media_line_error("a=ptime:20.5", LineError::Ptime);
    assert_media_line_error("a=ptime:", LineError::Ptime);
    assert_media_line_error("a=ptime:99999999999", LineError::Ptime);
    assert_media_line_error("a=maxptime:-1", LineError::MaxPtime);
    assert_media_line_error("a=mid:", LineError::Mid);
    assert_media_line_error("a=mid:  ", LineError::Mid);
    assert_media_line_error("a=mid", LineError::Mid);
    assert_media_line_error(
        "a=rtcp:abc",
        LineError::Rtcp("port is not a number from 0 to 65535"),
    );
    assert_media_line_error(
        "a=rtcp:70000",
        LineError::Rtcp("port is not a number from 0 to 65535"),
    );
    assert_media_line_error(
        "a=rtcp:9 IN IP4",
        LineError::Rtcp("expected <nettype> <addrtype> <address>"),
    );
    assert_media_line_error("a=", LineError::Attribute("empty attribute name"));
    assert_media_line_error("a=:value", LineError::Attribute("empty attribute name"));
}

#[test]
fn bad_connection_bandwidth_timing() {
    for (line, kind) in [
        (
            "c=IN IP4",
            LineError::Connection("expected <nettype> <addrtype> <address>"),
        ),
        (
            "c=IN IP4 1.2.3.4 5",
            LineError::Connection("expected <nettype> <addrtype> <address>"),
        ),
        (
            "c=IN IP4 224.2.1.1/300",
            LineError::Connection("bad multicast TTL"),
        ),
        (
            "c=IN IP4 224.2.1.1/1/2/3",
            LineError::Connection("too many '/' in address"),
        ),
        (
            "c=IN IP4 224.2.1.1/1/x",
            LineError::Connection("bad multicast address count"),
        ),
        (
            "c=IN IP6 ff15::1/1/2",
            LineError::Connection("too many '/' in address"),
        ),
        (
            "c=IN IP6 ff15::1/",
            LineError::Connection("bad multicast address count"),
        ),
        ("c=IN IP4 /127", LineError::Connection("empty address")),
        (
            "b=AS",
            LineError::Bandwidth("expected <bwtype>:<bandwidth>"),
        ),
        ("b=:64", LineError::Bandwidth("bad bandwidth type")),
        (
            "b=AS:",
            LineError::Bandwidth("bandwidth is not a number below 2^64"),
        ),
        (
            "b=AS:1e3",
            LineError::Bandwidth("bandwidth is not a number below 2^64"),
        ),
        (
            "b=AS:18446744073709551616",
            LineError::Bandwidth("bandwidth is not a number below 2^64"),
        ),
        (
            "t=0",
            LineError::Timing("expected <start-time> <stop-time>"),
        ),
        (
            "t=0 0 0",
            LineError::Timing("expected <start-time> <stop-time>"),
        ),
        (
            "t=now 0",
            LineError::Timing("time is not a number below 2^64"),
        ),
    ] {
        assert_eq!(
            error_after_head(&[line]),
            SdpError::Invalid { line: 5, kind },
            "{line}"
        );
        // The same lines are checked at media level (t= is not allowed
        // there at all).
        if !line.starts_with('t') {
            assert_media_line_error(line, kind);
        }
    }
}

#[test]
fn duplicate_and_misplaced_lines() {
    for (line, kind) in [
        ("v=0", LineError::Duplicate('v')),
        ("o=- 2 2 IN IP4 192.0.2.1", LineError::Duplicate('o')),
        ("s=again", LineError::Duplicate('s')),
        ("c=IN IP4 192.0.2.1", LineError::Duplicate('c')),
        ("i=info", LineError::Duplicate('i')),
        ("u=http://example.com", LineError::Duplicate('u')),
        ("z=0 0", LineError::Duplicate('z')),
        ("k=prompt", LineError::Duplicate('k')),
    ] {
        let mut lines = HEAD.to_vec();
        lines.extend(["c=IN IP4 192.0.2.1", "i=info", "u=x", "z=0 0", "k=clear:x"]);
        lines.push(line);
        assert_eq!(
            SessionDescription::parse(&crlf(&lines)),
            Err(SdpError::Invalid { line: 10, kind }),
            "{line}"
        );
    }
    for line in [
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "s=-",
        "u=http://example.com",
        "e=a@example.com",
        "p=+1 555",
        "t=0 0",
        "r=7d 1h 0 25h",
        "z=0 0",
    ] {
        let kind = line.chars().next().unwrap();
        assert_media_line_error(line, LineError::Misplaced(kind));
    }
    // Media-level i= and k= may appear once per section.
    assert_eq!(
        error_after_head(&["m=audio 9 RTP/AVP 0", "i=a", "i=b"]),
        LineError::Duplicate('i').at(7)
    );
    assert_eq!(
        error_after_head(&["m=audio 9 RTP/AVP 0", "k=a", "k=b"]),
        LineError::Duplicate('k').at(7)
    );
    // r= needs a t= before it.
    assert_eq!(
        SessionDescription::parse(&crlf(&[
            "v=0",
            "o=- 1 1 IN IP4 192.0.2.1",
            "s=-",
            "r=7d 1h 0 25h",
            "t=0 0",
        ])),
        Err(LineError::Misplaced('r').at(4))
    );
}

#[test]
fn forbidden_characters() {
    assert_eq!(
        error_after_head(&["a=tool:x\u{0}y"]),
        LineError::ForbiddenChar.at(5)
    );
    assert_eq!(
        error_after_head(&["s=a\rb"]),
        LineError::ForbiddenChar.at(5)
    );
    // One CR before the LF is the line end, a second one is not.
    assert_eq!(
        SessionDescription::parse("v=0\r\r\n"),
        Err(LineError::ForbiddenChar.at(1))
    );
}

#[test]
fn non_utf8_input() {
    let mut body = crlf(&HEAD).into_bytes();
    let bad_at = body.len() + "i=caf".len();
    body.extend_from_slice(b"i=caf\xe9\r\n");
    assert_eq!(
        SessionDescription::from_bytes(&body),
        Err(SdpError::InvalidUtf8 {
            valid_up_to: bad_at
        })
    );
    assert_eq!(
        SessionDescription::try_from(&[0xff, 0xfe, 0x00][..]),
        Err(SdpError::InvalidUtf8 { valid_up_to: 0 })
    );
    assert_eq!(
        SessionDescription::from_bytes(b"\xc3").unwrap_err().line(),
        None
    );
    // Valid UTF-8 goes through.
    let sdp = SessionDescription::from_bytes(
        crlf(&[
            "v=0",
            "o=- 1 1 IN IP4 192.0.2.1",
            "s=Caf\u{e9} \u{2615}",
            "t=0 0",
        ])
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(sdp.session_name, "Caf\u{e9} \u{2615}");
}

#[test]
fn huge_inputs() {
    // Many lines.
    let mut text = crlf(&HEAD);
    text.push_str("m=audio 9 RTP/AVP 0\r\n");
    for index in 0..100_000 {
        text.push_str(&format!("a=x-{index}:{index}\r\n"));
    }
    let sdp = SessionDescription::parse(&text).unwrap();
    assert_eq!(sdp.media[0].attributes.len(), 100_000);

    // One very long line.
    let long = format!("s={}", "x".repeat(1 << 20));
    let text = crlf(&["v=0", "o=- 1 1 IN IP4 192.0.2.1", &long, "t=0 0"]);
    assert_eq!(
        SessionDescription::parse(&text).unwrap().session_name.len(),
        1 << 20
    );

    // Many formats and a huge number of media sections.
    let formats = (0..=127)
        .map(|pt| pt.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let mut text = crlf(&HEAD);
    for _ in 0..2_000 {
        text.push_str(&format!("m=audio 9 RTP/AVP {formats}\r\n"));
    }
    let sdp = round_trip(&text);
    assert_eq!(sdp.media.len(), 2_000);
    assert_eq!(sdp.media[1_999].payload_types().count(), 128);
}

#[test]
fn tolerated_sloppiness() {
    // Bare LF line ends, mixed with CRLF, blank lines, a byte order mark,
    // no final line end.
    let text = "\u{feff}v=0\no=- 1 1 IN IP4 192.0.2.1\r\n\r\ns=-\n\nt=0 0\nm=audio 9 RTP/AVP 0\na=sendonly";
    let sdp = round_trip(text);
    assert_eq!(sdp.media_direction(0), Some(Direction::SendOnly));

    // Session lines out of order, several spaces or tabs between fields,
    // lower-case nettype/addrtype, a trailing space after a property.
    let sdp = round_trip(&crlf(&[
        "v=0",
        "c=in ip4  192.0.2.1",
        "a=recvonly ",
        "t=0\t0",
        "s=-",
        "o=-  1 1 IN IP4 192.0.2.1",
        "b=AS:64",
        "m=audio  9  RTP/AVP  0 ",
        "a=rtpmap: 0 PCMU/8000 ",
        "a=ptime: 20",
        "a=mid: audio ",
    ]));
    let connection = sdp.connection.as_ref().unwrap();
    assert_eq!(connection.nettype, NetType::In);
    assert_eq!(connection.addrtype, AddrType::Ip4);
    assert_eq!(sdp.direction(), Some(Direction::RecvOnly));
    assert_eq!(sdp.bandwidths.len(), 1);
    let audio = &sdp.media[0];
    assert_eq!(audio.formats, ["0"]);
    assert_eq!(audio.rtpmap(0).unwrap().encoding_name, "PCMU");
    assert_eq!(audio.ptime(), Some(20));
    assert_eq!(audio.mid(), Some("audio"));
    assert!(sdp.to_string().starts_with(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nb=AS:64\r\nt=0 0\r\n"
    ));

    // Unknown line types are ignored at both levels.
    let sdp = round_trip(&crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "s=-",
        "x=session junk",
        "t=0 0",
        "m=audio 9 RTP/AVP 0",
        "y=media junk",
        "X=upper case",
        "a=sendrecv",
    ]));
    assert!(!sdp.to_string().contains("junk"));
    assert_eq!(
        sdp.media[0].attributes,
        [Attribute::Direction(Direction::SendRecv)]
    );

    // Media with no formats, unusual media and protocol names, case.
    let sdp = round_trip(&crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "s=-",
        "t=0 0",
        "m=audio 0 RTP/AVP",
        "m=AUDIO 9 rtp/avp 0",
        "m=image 9 udptl t38",
        "m=message 9 TCP/MSRP *",
        "m=x-data 9 udp 1",
    ]));
    assert!(sdp.media[0].formats.is_empty());
    assert_eq!(sdp.media[1].media, MediaType::Audio);
    assert_eq!(sdp.media[1].protocol, Protocol::RtpAvp);
    assert_eq!(sdp.media[2].media, MediaType::Image);
    assert_eq!(sdp.media[2].protocol, Protocol::Other("udptl".to_owned()));
    assert_eq!(sdp.media[3].media, MediaType::Message);
    assert_eq!(sdp.media[4].media, MediaType::Other("x-data".to_owned()));
    assert_eq!(sdp.media[4].protocol, Protocol::Udp);

    // Attributes that only look typed stay verbatim.
    let sdp = round_trip(&crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "s=-",
        "t=0 0",
        "a=RTPMAP:0 PCMU/8000",
        "a=sendonly:later",
        "a=x-empty:",
        "a=x-flag",
    ]));
    assert_eq!(
        sdp.attributes,
        [
            Attribute::value("RTPMAP", "0 PCMU/8000"),
            Attribute::value("sendonly", "later"),
            Attribute::value("x-empty", ""),
            Attribute::property("x-flag"),
        ]
    );
    assert_eq!(sdp.direction(), None);
}
