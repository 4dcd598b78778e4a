//! Typed headers read from whole parsed messages through
//! `Headers::typed` / `Headers::typed_all`: compact names, folded lines,
//! comma lists spread over several lines, and malformed values.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::borrow::Cow;

use switchboard_proto::header::{
    Accept, Allow, AllowEvents, CallId, ContentLength, ContentType, Event, Expires, HeaderError,
    MaxForwards, MinExpires, MinSe, ProxyRequire, RAck, RSeq, Reason, Refresher, Replaces, Require,
    RetryAfter, Server, SessionExpires, SubState, SubscriptionState, Supported, Timestamp,
    TypedHeader, Unsupported, UserAgent,
};
use switchboard_proto::{HeaderName, Message, Method};

fn parse(head: &str) -> Message {
    let raw = head.replace('\n', "\r\n");
    Message::parse_datagram(raw.into_bytes().into())
        .unwrap_or_else(|e| panic!("message did not parse: {e}"))
}

const BASE: &str = "\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1
From: <sip:alice@example.com>;tag=1
To: <sip:bob@example.com>
CSeq: 1 INVITE
";

fn invite(extra: &str) -> Message {
    parse(&format!(
        "INVITE sip:bob@example.com SIP/2.0\n{BASE}{extra}\n"
    ))
}

fn all<'a, T: TypedHeader<'a> + 'a>(msg: &'a Message) -> Vec<T> {
    msg.headers()
        .typed_all::<T>()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn hot_headers_through_typed() {
    let msg = invite("Call-ID: a84b4c76e66710@pc33.atlanta.com\nMax-Forwards: 0070\nl: 0\n");
    let h = msg.headers();
    assert_eq!(
        h.typed::<CallId<'_>>().unwrap().unwrap().as_str(),
        "a84b4c76e66710@pc33.atlanta.com"
    );
    assert_eq!(h.typed::<MaxForwards>(), Some(Ok(MaxForwards(70))));
    assert_eq!(h.typed::<ContentLength>(), Some(Ok(ContentLength(0))));
    assert_eq!(h.typed::<Expires>(), None);
}

#[test]
fn numbers_and_timers() {
    let msg = invite(
        "Call-ID: n1\nExpires:   0003600\nMin-Expires: 60\nx: 1800 ;\n refresher=UAC\n\
         Min-SE: 90\nRSeq: 988789\nRAck: 776656\n 1 INVITE\nTimestamp: 54.5 \t 0.25\n\
         Retry-After: 120 (I'm in a meeting) ;duration=3600\n",
    );
    let h = msg.headers();
    assert_eq!(h.typed::<Expires>(), Some(Ok(Expires(3600))));
    assert_eq!(h.typed::<MinExpires>(), Some(Ok(MinExpires(60))));
    let se = h.typed::<SessionExpires<'_>>().unwrap().unwrap();
    assert_eq!((se.delta, se.refresher), (1800, Some(Refresher::Uac)));
    assert_eq!(h.typed::<MinSe<'_>>().unwrap().unwrap().delta, 90);
    assert_eq!(h.typed::<RSeq>(), Some(Ok(RSeq(988789))));
    assert_eq!(
        h.typed::<RAck>(),
        Some(Ok(RAck {
            rseq: 776656,
            cseq: 1,
            method: Method::Invite
        }))
    );
    let ts = h.typed::<Timestamp<'_>>().unwrap().unwrap();
    assert_eq!((ts.time, ts.delay), ("54.5", Some("0.25")));
    let ra = h.typed::<RetryAfter<'_>>().unwrap().unwrap();
    assert_eq!(ra.seconds, 120);
    assert_eq!(ra.comment, Some("I'm in a meeting"));
    assert_eq!(ra.duration, Some(3600));
}

#[test]
fn option_tag_lists_across_lines() {
    let msg = invite(
        "Call-ID: l1\nSupported: 100rel,\n timer , path\nk: gruu\n\
         Require: 100rel\nProxy-Require: sec-agree, foo\nUnsupported: bar\n\
         Allow: INVITE, ACK,\n\tCANCEL,BYE\nAllow: OPTIONS ,\n  PRACK\n\
         Allow-Events: presence, presence.winfo\nu: dialog\n",
    );
    let supported: Vec<&str> = all::<Supported<'_>>(&msg)
        .iter()
        .map(Supported::as_str)
        .collect();
    assert_eq!(supported, ["100rel", "timer", "path", "gruu"]);
    assert_eq!(all::<Require<'_>>(&msg), [Require("100rel")]);
    assert_eq!(
        all::<ProxyRequire<'_>>(&msg),
        [ProxyRequire("sec-agree"), ProxyRequire("foo")]
    );
    assert_eq!(all::<Unsupported<'_>>(&msg), [Unsupported("bar")]);
    let methods: Vec<Method> = all::<Allow>(&msg).into_iter().map(|a| a.0).collect();
    assert_eq!(
        methods,
        [
            Method::Invite,
            Method::Ack,
            Method::Cancel,
            Method::Bye,
            Method::Options,
            Method::Prack
        ]
    );
    assert_eq!(
        all::<AllowEvents<'_>>(&msg),
        [
            AllowEvents("presence"),
            AllowEvents("presence.winfo"),
            AllowEvents("dialog")
        ]
    );
    // `typed` gives the first element of a list header.
    assert_eq!(
        msg.headers().typed::<Supported<'_>>(),
        Some(Ok(Supported("100rel")))
    );
}

#[test]
fn empty_list_headers() {
    let msg = invite("Call-ID: e1\nSupported:\nAllow: \nAccept:\n");
    let h = msg.headers();
    assert_eq!(h.typed::<Supported<'_>>(), Some(Err(HeaderError::Empty)));
    assert_eq!(h.typed::<Allow>(), Some(Err(HeaderError::Empty)));
    // An empty Accept means "nothing acceptable" (RFC 3261 §20.1).
    assert_eq!(h.typed::<Accept<'_>>(), Some(Err(HeaderError::Empty)));
    assert!(Accept::nothing_acceptable(h));
    assert_eq!(h.get(HeaderName::Accept), Some(""));

    let msg = invite("Call-ID: e2\nAccept: application/sdp\n");
    assert!(!Accept::nothing_acceptable(msg.headers()));
    let msg = invite("Call-ID: e3\n");
    assert!(!Accept::nothing_acceptable(msg.headers()));
    assert_eq!(msg.headers().typed::<Accept<'_>>(), None);
}

#[test]
fn media_types() {
    let msg = invite(
        "Call-ID: m1\nc: Application / SDP ; charset=\"utf-8\"\n\
         Accept: application/sdp;level=1, application/*;q=0.5,\n */*;q=0.1\n\
         Accept: text/plain\n",
    );
    let h = msg.headers();
    let ct = h.typed::<ContentType<'_>>().unwrap().unwrap();
    assert!(ct.is("application", "sdp"));
    assert_eq!(ct.param("charset").as_deref(), Some("utf-8"));
    assert_eq!(ct.to_string(), "Application/SDP; charset=\"utf-8\"");
    let accept: Vec<Accept<'_>> = all(&msg);
    assert_eq!(accept.len(), 4);
    assert!(accept[0].is("application", "sdp"));
    assert_eq!(accept[0].params.value("level"), Some("1"));
    assert_eq!(
        (accept[1].q(), accept[2].q(), accept[3].q()),
        (500, 100, 1000)
    );
    assert!(accept[1].matches("application", "pidf+xml"));
    assert!(accept[2].matches("image", "png"));
    assert!(!accept[3].matches("text", "html"));
}

#[test]
fn events_and_subscriptions() {
    let msg = parse(
        "NOTIFY sip:alice@192.0.2.1 SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK2\n\
         From: <sip:bob@example.com>;tag=2\nTo: <sip:alice@example.com>;tag=1\n\
         Call-ID: ev1\nCSeq: 7 NOTIFY\n\
         o: presence.winfo\n ;id=77\n\
         Subscription-State: terminated;\n\treason=noresource ;retry-after=0060\n\n",
    );
    let h = msg.headers();
    let ev = h.typed::<Event<'_>>().unwrap().unwrap();
    assert_eq!((ev.package, ev.id), ("presence.winfo", Some("77")));
    let ss = h.typed::<SubscriptionState<'_>>().unwrap().unwrap();
    assert_eq!(ss.state, SubState::Terminated);
    assert_eq!(
        (ss.reason, ss.retry_after, ss.expires),
        (Some("noresource"), Some(60), None)
    );
}

#[test]
fn replaces_reason_and_products() {
    let msg = invite(
        "Call-ID: r1\nReplaces: 425928@bobster.example.org;to-tag=7743;\n from-tag=6472;early-only\n\
         Reason: SIP ;cause=200 ;text=\"Call completed, elsewhere\",\n Q.850;cause=16\n\
         Reason: preemption ;cause=1\n\
         User-Agent: Softphone/Beta1.5 (Windows; x64)\nServer: HomeServer v2\n",
    );
    let h = msg.headers();
    let r = h.typed::<Replaces<'_>>().unwrap().unwrap();
    assert_eq!(r.call_id, "425928@bobster.example.org");
    assert_eq!((r.to_tag, r.from_tag, r.early_only), ("7743", "6472", true));

    let reasons: Vec<Reason<'_>> = all(&msg);
    assert_eq!(reasons.len(), 3);
    assert!(reasons[0].is_protocol("SIP"));
    assert_eq!(reasons[0].cause, Some(200));
    assert_eq!(
        reasons[0].text,
        Some(Cow::Borrowed("Call completed, elsewhere"))
    );
    assert_eq!((reasons[1].protocol, reasons[1].cause), ("Q.850", Some(16)));
    assert_eq!(
        (reasons[2].protocol, reasons[2].cause),
        ("preemption", Some(1))
    );

    assert_eq!(
        h.typed::<UserAgent<'_>>(),
        Some(Ok(UserAgent("Softphone/Beta1.5 (Windows; x64)")))
    );
    assert_eq!(h.typed::<Server<'_>>(), Some(Ok(Server("HomeServer v2"))));
}

#[test]
fn malformed_values_are_errors_not_panics() {
    let msg = invite(
        "Call-ID: bad1\nExpires: 99999999999\nSession-Expires: 90;refresher=proxy\n\
         RAck: 1 2\nTimestamp: 1.2.3\nRetry-After: 5 (open\n\
         Supported: 100rel,,timer\nContent-Type: application\n\
         Event: presence.\nSubscription-State: active;expires=soon\n\
         Replaces: abc;to-tag=1\nReason: SIP;cause=99999\nUser-Agent: \n",
    );
    let h = msg.headers();
    assert_eq!(h.typed::<Expires>(), Some(Err(HeaderError::Number)));
    assert_eq!(
        h.typed::<SessionExpires<'_>>(),
        Some(Err(HeaderError::Syntax))
    );
    assert_eq!(h.typed::<RAck>(), Some(Err(HeaderError::Syntax)));
    assert_eq!(h.typed::<Timestamp<'_>>(), Some(Err(HeaderError::Number)));
    assert_eq!(
        h.typed::<RetryAfter<'_>>(),
        Some(Err(HeaderError::Unterminated))
    );
    let supported: Vec<_> = h.typed_all::<Supported<'_>>().collect();
    assert_eq!(
        supported,
        [
            Ok(Supported("100rel")),
            Err(HeaderError::Empty),
            Ok(Supported("timer"))
        ]
    );
    assert_eq!(h.typed::<ContentType<'_>>(), Some(Err(HeaderError::Syntax)));
    assert_eq!(h.typed::<Event<'_>>(), Some(Err(HeaderError::Syntax)));
    assert_eq!(
        h.typed::<SubscriptionState<'_>>(),
        Some(Err(HeaderError::Number))
    );
    assert_eq!(h.typed::<Replaces<'_>>(), Some(Err(HeaderError::Syntax)));
    assert_eq!(h.typed::<Reason<'_>>(), Some(Err(HeaderError::Number)));
    assert_eq!(h.typed::<UserAgent<'_>>(), Some(Err(HeaderError::Empty)));
}

#[test]
fn printed_values_reparse_inside_a_message() {
    let msg = invite(
        "Call-ID: p1\nSession-Expires: 01800;refresher=uas\nReason: Q.850;cause=16;text=\"x\"\n\
         Event: dialog;id=1\nRetry-After: 30 (later)\nContent-Type: text/plain\n",
    );
    let h = msg.headers();
    let mut out = msg.clone();
    let oh = out.headers_mut();
    oh.set(
        HeaderName::SessionExpires,
        h.typed::<SessionExpires<'_>>()
            .unwrap()
            .unwrap()
            .to_string(),
    );
    oh.set(
        HeaderName::Reason,
        h.typed::<Reason<'_>>().unwrap().unwrap().to_string(),
    );
    oh.set(
        HeaderName::Event,
        h.typed::<Event<'_>>().unwrap().unwrap().to_string(),
    );
    oh.set(
        HeaderName::RetryAfter,
        h.typed::<RetryAfter<'_>>().unwrap().unwrap().to_string(),
    );
    let again = Message::parse_datagram(out.to_bytes()).unwrap();
    let g = again.headers();
    assert_eq!(
        g.typed::<SessionExpires<'_>>()
            .unwrap()
            .unwrap()
            .to_string(),
        "1800;refresher=uas"
    );
    assert_eq!(g.typed::<Reason<'_>>(), h.typed::<Reason<'_>>());
    assert_eq!(g.typed::<Event<'_>>(), h.typed::<Event<'_>>());
    assert_eq!(g.typed::<RetryAfter<'_>>(), h.typed::<RetryAfter<'_>>());
    assert_eq!(g.typed::<ContentType<'_>>(), h.typed::<ContentType<'_>>());
}

/// Parses `s` as `T`; when it parses, the printed value parses to the same.
fn never_panics_and_round_trips<'a, T>(s: &'a str)
where
    T: TypedHeader<'a> + std::fmt::Display + PartialEq + std::fmt::Debug,
{
    let Ok(x) = T::parse(s) else { return };
    let printed = x.to_string();
    // Reparse from a leaked copy so that both values share the lifetime.
    let printed: &'a str = Box::leak(printed.into_boxed_str());
    assert_eq!(
        T::parse(printed).as_ref(),
        Ok(&x),
        "{s:?} printed as {printed:?}"
    );
}

proptest::proptest! {
    #[test]
    fn arbitrary_values_never_panic(
        s in r#"[0-9a-zA-Z;=,./ *"()\\\t\r\n@<>:?\[\]é-]{0,40}"#
    ) {
        let s = s.as_str();
        never_panics_and_round_trips::<Expires>(s);
        never_panics_and_round_trips::<MinExpires>(s);
        never_panics_and_round_trips::<MaxForwards>(s);
        never_panics_and_round_trips::<ContentLength>(s);
        never_panics_and_round_trips::<CallId<'_>>(s);
        never_panics_and_round_trips::<MinSe<'_>>(s);
        never_panics_and_round_trips::<SessionExpires<'_>>(s);
        never_panics_and_round_trips::<RSeq>(s);
        never_panics_and_round_trips::<RAck>(s);
        never_panics_and_round_trips::<RetryAfter<'_>>(s);
        never_panics_and_round_trips::<Timestamp<'_>>(s);
        never_panics_and_round_trips::<Allow>(s);
        never_panics_and_round_trips::<Supported<'_>>(s);
        never_panics_and_round_trips::<Require<'_>>(s);
        never_panics_and_round_trips::<ProxyRequire<'_>>(s);
        never_panics_and_round_trips::<Unsupported<'_>>(s);
        never_panics_and_round_trips::<AllowEvents<'_>>(s);
        never_panics_and_round_trips::<ContentType<'_>>(s);
        never_panics_and_round_trips::<Accept<'_>>(s);
        never_panics_and_round_trips::<Event<'_>>(s);
        never_panics_and_round_trips::<SubscriptionState<'_>>(s);
        never_panics_and_round_trips::<Replaces<'_>>(s);
        never_panics_and_round_trips::<Reason<'_>>(s);
        never_panics_and_round_trips::<UserAgent<'_>>(s);
        never_panics_and_round_trips::<Server<'_>>(s);
    }

    #[test]
    fn structured_values_round_trip(
        n in "0{0,3}[0-9]{1,9}",
        c in "0{0,3}[0-9]{1,4}",
        tok in "[a-zA-Z0-9][a-zA-Z0-9!%*_+`'~-]{0,7}",
        sp in "[ \t]{0,2}",
    ) {
        macro_rules! ok {
            ($ty:ty, $v:expr) => {{
                let v: String = $v;
                proptest::prop_assert!(<$ty as TypedHeader<'_>>::parse(&v).is_ok(), "{:?}", v);
                never_panics_and_round_trips::<$ty>(&v);
            }};
        }
        ok!(SessionExpires<'_>, format!("{n}{sp};{sp}refresher{sp}={sp}UaC;{tok}"));
        ok!(MinSe<'_>, format!("{n}{sp};{sp}{tok}"));
        ok!(RetryAfter<'_>, format!("{n}{sp}({tok} ({tok})){sp};duration={n}"));
        ok!(RAck, format!("{n}{sp} {n}{sp}\t{tok}"));
        ok!(Timestamp<'_>, format!("{n}.{c}{sp}\t.{n}"));
        ok!(ContentType<'_>, format!("{tok}{sp}/{sp}{tok}{sp};{sp}charset=\"{tok}\""));
        ok!(Accept<'_>, format!("{tok}/*{sp};{sp}q=0.5"));
        ok!(Event<'_>, format!("{tok}.{tok};{sp}id={tok}"));
        ok!(SubscriptionState<'_>, format!("{tok};expires={n};reason={tok};retry-after={n}"));
        ok!(Replaces<'_>, format!("{tok}@{tok};to-tag={tok}{sp};from-tag={tok};early-only"));
        ok!(Reason<'_>, format!("{tok}{sp};cause={c};text=\"{tok}, \\\" {sp}\""));
        ok!(UserAgent<'_>, format!("{tok}/{tok}{sp}({tok}; {tok})"));
    }
}
