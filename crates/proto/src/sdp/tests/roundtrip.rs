//! Property tests: printing a description and parsing it back gives the
//! same value, and no input makes the parser panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use crate::sdp::{
    AddrType, Attribute, Bandwidth, Connection, Crypto, Direction, Fmtp, InlineKey, KeyLifetime,
    KeyParam, MediaDescription, MediaType, Mki, NetType, Origin, Protocol, Rtcp, RtpMap,
    SessionDescription, Timing,
};

/// Names the parser gives a meaning to; verbatim attributes avoid them.
const TYPED_NAMES: [&str; 11] = [
    "rtpmap", "fmtp", "ptime", "maxptime", "rtcp", "mid", "crypto", "sendrecv", "sendonly",
    "recvonly", "inactive",
];

/// A single word as used for names, addresses and formats.
fn word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.+-]{1,12}"
}

/// Free text for verbatim fields: anything but line breaks and NUL.
fn text() -> impl Strategy<Value = String> {
    "[^\r\n\u{0}]{0,24}"
}

fn attribute_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,10}".prop_filter("typed name", |name| !TYPED_NAMES.contains(&name.as_str()))
}

fn other_of(known: &'static [&'static str]) -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9/]{0,10}".prop_filter("known name", move |name| {
        !known.iter().any(|known| known.eq_ignore_ascii_case(name))
    })
}

fn nettype() -> impl Strategy<Value = NetType> {
    prop_oneof![
        4 => Just(NetType::In),
        1 => other_of(&["IN"]).prop_map(NetType::Other),
    ]
}

fn connection() -> impl Strategy<Value = Connection> {
    let ip4 = (
        any::<Ipv4Addr>(),
        option::of((any::<u8>(), option::of(any::<u32>()))),
    )
        .prop_map(|(address, multicast)| Connection {
            ttl: multicast.map(|(ttl, _)| ttl),
            num_addresses: multicast.and_then(|(_, count)| count),
            ..Connection::new(IpAddr::V4(address))
        });
    let ip6 =
        (any::<Ipv6Addr>(), option::of(any::<u32>())).prop_map(|(address, count)| Connection {
            num_addresses: count,
            ..Connection::new(IpAddr::V6(address))
        });
    let named = (
        nettype(),
        prop_oneof![Just(AddrType::Ip4), Just(AddrType::Ip6)],
        word(),
    )
        .prop_map(|(nettype, addrtype, address)| Connection {
            nettype,
            addrtype,
            address,
            ttl: None,
            num_addresses: None,
        });
    let other = (nettype(), other_of(&["IP4", "IP6"]), "[A-Za-z0-9./:]{1,16}").prop_map(
        |(nettype, addrtype, address)| Connection {
            nettype,
            addrtype: AddrType::Other(addrtype),
            address,
            ttl: None,
            num_addresses: None,
        },
    );
    prop_oneof![4 => ip4, 4 => ip6, 1 => named, 1 => other]
}

fn origin() -> impl Strategy<Value = Origin> {
    (word(), word(), any::<u64>(), connection()).prop_map(
        |(username, session_id, session_version, connection)| Origin {
            username,
            session_id,
            session_version,
            nettype: connection.nettype,
            addrtype: connection.addrtype,
            address: connection.address,
        },
    )
}

fn bandwidth() -> impl Strategy<Value = Bandwidth> {
    ("[A-Za-z0-9_-]{1,6}", any::<u64>())
        .prop_map(|(bwtype, bandwidth)| Bandwidth { bwtype, bandwidth })
}

fn timing() -> impl Strategy<Value = Timing> {
    (any::<u64>(), any::<u64>(), vec(text(), 0..3)).prop_map(|(start, stop, repeats)| Timing {
        start,
        stop,
        repeats,
    })
}

fn key_param() -> impl Strategy<Value = KeyParam> {
    let lifetime = prop_oneof![
        any::<u8>().prop_map(KeyLifetime::PowerOfTwo),
        any::<u64>().prop_map(KeyLifetime::Packets),
    ];
    let mki = (any::<u64>(), 1..=128u8).prop_map(|(value, length)| Mki { value, length });
    let inline = (
        "[A-Za-z0-9+/]{1,40}={0,2}",
        option::of(lifetime),
        option::of(mki),
    )
        .prop_map(|(key_salt, lifetime, mki)| {
            KeyParam::Inline(InlineKey {
                key_salt,
                lifetime,
                mki,
            })
        });
    let other = (
        "[a-z][a-z0-9-]{0,8}"
            .prop_filter("inline", |method| !method.eq_ignore_ascii_case("inline")),
        "[!-:<-~]{1,20}",
    )
        .prop_map(|(method, info)| KeyParam::Other { method, info });
    prop_oneof![4 => inline, 1 => other]
}

fn crypto() -> impl Strategy<Value = Crypto> {
    (
        0..=999_999_999u32,
        "[A-Z0-9_]{1,24}",
        vec(key_param(), 1..3),
        vec("[!-~]{1,12}", 0..3),
    )
        .prop_map(|(tag, suite, key_params, session_params)| Crypto {
            tag,
            suite,
            key_params,
            session_params,
        })
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![
        Just(Direction::SendRecv),
        Just(Direction::SendOnly),
        Just(Direction::RecvOnly),
        Just(Direction::Inactive),
    ]
}

fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        (
            0..=127u8,
            "[A-Za-z0-9_.-]{1,12}",
            any::<u32>(),
            option::of(any::<u16>())
        )
            .prop_map(|(payload_type, encoding_name, clock_rate, channels)| {
                Attribute::RtpMap(RtpMap {
                    payload_type,
                    encoding_name,
                    clock_rate,
                    channels,
                })
            }),
        (
            word(),
            prop_oneof![Just(String::new()), "[!-~][^\r\n\u{0}]{0,24}"]
        )
            .prop_map(|(format, params)| Attribute::Fmtp(Fmtp { format, params })),
        any::<u32>().prop_map(Attribute::Ptime),
        any::<u32>().prop_map(Attribute::MaxPtime),
        direction().prop_map(Attribute::Direction),
        (any::<u16>(), option::of(connection()))
            .prop_map(|(port, connection)| Attribute::Rtcp(Rtcp { port, connection })),
        word().prop_map(Attribute::Mid),
        crypto().prop_map(Attribute::Crypto),
        attribute_name().prop_map(Attribute::Property),
        (attribute_name(), text()).prop_map(|(name, value)| Attribute::Value { name, value }),
    ]
}

fn media_type() -> impl Strategy<Value = MediaType> {
    prop_oneof![
        Just(MediaType::Audio),
        Just(MediaType::Video),
        Just(MediaType::Text),
        Just(MediaType::Application),
        Just(MediaType::Message),
        Just(MediaType::Image),
        other_of(&["audio", "video", "text", "application", "message", "image"])
            .prop_map(MediaType::Other),
    ]
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::RtpAvp),
        Just(Protocol::RtpAvpf),
        Just(Protocol::RtpSavp),
        Just(Protocol::RtpSavpf),
        Just(Protocol::UdpTlsRtpSavp),
        Just(Protocol::UdpTlsRtpSavpf),
        Just(Protocol::Udp),
        other_of(&[
            "RTP/AVP",
            "RTP/AVPF",
            "RTP/SAVP",
            "RTP/SAVPF",
            "UDP/TLS/RTP/SAVP",
            "UDP/TLS/RTP/SAVPF",
            "udp",
        ])
        .prop_map(Protocol::Other),
    ]
}

fn media() -> impl Strategy<Value = MediaDescription> {
    (
        (
            media_type(),
            any::<u16>(),
            option::of(any::<u16>()),
            protocol(),
        ),
        vec(word(), 0..5),
        option::of(text()),
        vec(connection(), 0..3),
        vec(bandwidth(), 0..2),
        option::of(text()),
        vec(attribute(), 0..8),
    )
        .prop_map(
            |(
                (media, port, port_count, protocol),
                formats,
                information,
                connections,
                bandwidths,
                key,
                attributes,
            )| MediaDescription {
                media,
                port,
                port_count,
                protocol,
                formats,
                information,
                connections,
                bandwidths,
                key,
                attributes,
            },
        )
}

fn session() -> impl Strategy<Value = SessionDescription> {
    (
        (origin(), text(), option::of(text()), option::of(text())),
        (vec(text(), 0..2), vec(text(), 0..2)),
        (option::of(connection()), vec(bandwidth(), 0..2)),
        (vec(timing(), 1..3), option::of(text()), option::of(text())),
        vec(attribute(), 0..6),
        vec(media(), 0..4),
    )
        .prop_map(
            |(
                (origin, session_name, information, uri),
                (emails, phones),
                (connection, bandwidths),
                (timings, time_zones, key),
                attributes,
                media,
            )| SessionDescription {
                version: 0,
                origin,
                session_name,
                information,
                uri,
                emails,
                phones,
                connection,
                bandwidths,
                timings,
                time_zones,
                key,
                attributes,
                media,
            },
        )
}

/// Lines to build SDP-like input from: plausible ones (valid or nearly
/// so), broken ones and noise.
fn sdp_line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just("m=audio 9 RTP/AVP 0 8".to_owned()),
        1 => "m=[a-z]{1,6} [0-9]{1,5}(/[0-9])? [A-Z/]{3,9}( [0-9a-z*]{1,3}){0,3}",
        3 => "a=[a-z-]{1,8}(:[ -~]{0,30})?",
        2 => "a=rtpmap: ?[0-9]{1,3} [A-Za-z0-9-]{1,6}/[0-9]{1,6}(/[0-9])? ?",
        1 => "a=fmtp:[0-9]{1,3}( [ -~]{0,20})?",
        2 => "a=crypto:[0-9]{1,2} [A-Z_0-9]{3,10}               inline:[A-Za-z0-9+/]{4,20}(\\|2\\^[0-9]{1,2})?(\\|[0-9]:[0-9])?( [A-Z=0-9]{1,6}){0,2}",
        2 => "a=(sendrecv|sendonly|recvonly|inactive) ?",
        1 => "a=rtcp:[0-9]{1,5}( IN IP[46] [0-9a-f.:/]{1,15})?",
        1 => "a=(ptime|maxptime):[0-9]{1,3}",
        1 => "a=mid:[ -~]{0,5}",
        1 => "c=(IN|in) IP[46x] [0-9a-f.:/]{1,20}",
        1 => "b=[A-Z]{1,4}:[0-9]{1,5}",
        1 => "t=[0-9]{1,3} [0-9]{1,3}",
        1 => "[iukeprz]=[^\r\n]{0,30}",
        1 => "[a-z]=[^\r\n]{0,30}",
        1 => "[^\n]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_gives_the_same_description(sdp in session()) {
        let printed = sdp.to_string();
        prop_assert_eq!(SessionDescription::parse(&printed), Ok(sdp));
    }

    #[test]
    fn attributes_round_trip_alone(attribute in attribute()) {
        prop_assert_eq!(attribute.to_string().parse::<Attribute>(), Ok(attribute));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let _ = SessionDescription::from_bytes(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,256}") {
        let _ = SessionDescription::parse(&text);
    }

    /// Whatever the parser accepts, it prints in a form it reads back the
    /// same.
    #[test]
    fn accepted_input_reprints_stably(
        head in Just(vec![
            "v=0".to_owned(),
            "o=- 1 1 IN IP4 192.0.2.1".to_owned(),
            "s=-".to_owned(),
            "t=0 0".to_owned(),
        ]),
        lines in vec(sdp_line(), 0..24),
        lf_only in any::<bool>(),
    ) {
        let end = if lf_only { "\n" } else { "\r\n" };
        let text: String = head.iter().chain(&lines).map(|line| format!("{line}{end}")).collect();
        if let Ok(sdp) = SessionDescription::parse(&text) {
            let printed = sdp.to_string();
            prop_assert_eq!(SessionDescription::parse(&printed), Ok(sdp));
        }
    }
}
