//! Property tests of the message core.
//!
//! * Generated valid requests and responses (known and extension methods,
//!   sip/sips/tel URIs, Vias, From/To with quoted display names, Contact
//!   lists, unknown headers, compact names, folding, LF-only line ends,
//!   bodies) parse to exactly what was generated, print, and parse back
//!   equal.
//! * Any bytes, and valid messages with random edits, never panic the
//!   parser or the framer; whatever parses still round-trips.
//! * A stream of printed messages cut at random points frames back to the
//!   same messages.
//! * Every input saved in tests/data/fuzz-regressions/ is replayed.

// A test fails by panicking: unwrap, expect, indexing and panic! are the
// point here, unlike in the library (see the workspace lints).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use switchboard_proto::header::{Contact, From, HeaderName, NameAddr, To, Via};
use switchboard_proto::uri::{HostKind, Uri};
use switchboard_proto::{Frame, Framing, Message, Method, StatusCode, StreamFramer};

// ---------------------------------------------------------------------------
// Character sets (RFC 3261 §25.1)

const ALPHA: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGIT: &str = "0123456789";
const TOKEN_MARKS: &str = "-.!%*_+`'~";
const UNRESERVED_MARKS: &str = "-_.!~*'()";

fn set(parts: &[&str]) -> Vec<char> {
    let mut v: Vec<char> = parts.iter().flat_map(|p| p.chars()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn string_of(chars: Vec<char>, len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    vec(select(chars), len).prop_map(String::from_iter)
}

fn token() -> impl Strategy<Value = String> {
    string_of(set(&[ALPHA, DIGIT, TOKEN_MARKS]), 1..10)
}

/// A token that is not the name of a header this crate knows.
fn unknown_header_name() -> impl Strategy<Value = String> {
    (
        string_of(set(&[ALPHA]), 1..2),
        string_of(set(&[ALPHA, DIGIT, "-_."]), 1..12),
    )
        .prop_map(|(a, b)| format!("X{a}{b}"))
        .prop_filter("known header", |n| {
            HeaderName::from_name(n) == HeaderName::Other
        })
}

/// An escaped octet, `%HH`.
fn escaped() -> impl Strategy<Value = String> {
    any::<u8>().prop_map(|b| format!("%{b:02X}"))
}

/// A piece of text made of `chars`, with `%HH` escapes mixed in.
fn escaped_text(chars: Vec<char>, len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    vec(
        prop_oneof![4 => string_of(chars, 1..4), 1 => escaped()],
        len,
    )
    .prop_map(|v| v.concat())
}

// ---------------------------------------------------------------------------
// URIs

#[derive(Debug, Clone)]
struct HostGen {
    text: String,
    kind: HostKind,
}

fn domain() -> impl Strategy<Value = String> {
    let label = (
        string_of(set(&[ALPHA]), 1..2),
        string_of(set(&[ALPHA, DIGIT, "-"]), 0..6),
        string_of(set(&[ALPHA, DIGIT]), 0..2),
    )
        .prop_map(|(a, b, c)| {
            if c.is_empty() && b.ends_with('-') {
                format!("{a}{b}x")
            } else {
                format!("{a}{b}{c}")
            }
        });
    vec(label, 1..4).prop_map(|l| l.join("."))
}

fn ipv4() -> impl Strategy<Value = String> {
    any::<[u8; 4]>().prop_map(|o| Ipv4Addr::from(o).to_string())
}

fn ipv6() -> impl Strategy<Value = String> {
    // Mostly-zero segments give the `::` forms.
    vec(prop_oneof![Just(0u16), Just(1u16), any::<u16>()], 8).prop_map(|s| {
        let seg: [u16; 8] = s.try_into().unwrap();
        Ipv6Addr::from(seg).to_string()
    })
}

fn host() -> BoxedStrategy<HostGen> {
    prop_oneof![
        3 => domain().prop_map(|text| HostGen { text, kind: HostKind::Domain }),
        1 => ipv4().prop_map(|text| HostGen { text, kind: HostKind::Ipv4 }),
        1 => ipv6().prop_map(|a| HostGen { text: format!("[{a}]"), kind: HostKind::Ipv6 }),
    ]
    .boxed()
}

type ParamList = Vec<(String, Option<String>)>;

fn uri_params() -> BoxedStrategy<ParamList> {
    let paramchar = set(&[ALPHA, DIGIT, UNRESERVED_MARKS, "[]/:&+$"]);
    let generic = (
        escaped_text(paramchar.clone(), 1..3),
        proptest::option::of(escaped_text(paramchar, 0..3)),
    );
    let known = prop_oneof![
        select(vec!["udp", "tcp", "tls", "sctp", "ws"])
            .prop_map(|t| ("transport".to_owned(), Some(t.to_owned()))),
        Just(("lr".to_owned(), None)),
        Just(("user".to_owned(), Some("phone".to_owned()))),
        ipv4().prop_map(|a| ("maddr".to_owned(), Some(a))),
    ];
    vec(prop_oneof![known, generic], 0..4).boxed()
}

fn print_params(params: &ParamList) -> String {
    params
        .iter()
        .map(|(n, v)| match v {
            Some(v) => format!(";{n}={v}"),
            None => format!(";{n}"),
        })
        .collect()
}

#[derive(Debug, Clone)]
enum UriGen {
    Sip {
        secure: bool,
        user: Option<String>,
        password: Option<String>,
        host: HostGen,
        port: Option<u16>,
        params: ParamList,
        headers: Option<String>,
    },
    Tel {
        number: String,
        params: ParamList,
    },
}

impl UriGen {
    fn text(&self) -> String {
        match self {
            Self::Sip {
                secure,
                user,
                password,
                host,
                port,
                params,
                headers,
            } => {
                let mut s = String::from(if *secure { "sips:" } else { "sip:" });
                if let Some(u) = user {
                    s.push_str(u);
                    if let Some(p) = password {
                        s.push(':');
                        s.push_str(p);
                    }
                    s.push('@');
                }
                s.push_str(&host.text);
                if let Some(p) = port {
                    s.push_str(&format!(":{p}"));
                }
                s.push_str(&print_params(params));
                if let Some(h) = headers {
                    s.push('?');
                    s.push_str(h);
                }
                s
            }
            Self::Tel { number, params } => format!("tel:{number}{}", print_params(params)),
        }
    }

    /// True when the URI cannot stand without `<>` in a name-addr (§20.10).
    fn needs_brackets(&self) -> bool {
        self.text().contains([';', ',', '?'])
    }

    fn check(&self, uri: &Uri<'_>) {
        assert_eq!(uri.as_str(), self.text());
        match (self, uri) {
            (
                Self::Sip {
                    secure,
                    user,
                    password,
                    host,
                    port,
                    params,
                    headers,
                },
                Uri::Sip(u),
            ) => {
                assert_eq!(u.secure, *secure);
                assert_eq!(u.user, user.as_deref());
                assert_eq!(u.password, password.as_deref());
                assert_eq!(u.host.as_str(), host.text);
                assert_eq!(u.host.kind(), host.kind);
                assert_eq!(u.port, *port);
                check_params(u.params.iter().map(|p| (p.name, p.value)), params);
                assert_eq!(u.headers, headers.as_deref());
            }
            (Self::Tel { number, params }, Uri::Tel(u)) => {
                assert_eq!(u.number, number);
                check_params(u.params.iter().map(|p| (p.name, p.value)), params);
            }
            (g, u) => panic!("generated {g:?}, parsed {u:?}"),
        }
    }
}

fn check_params<'a>(
    parsed: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    expected: &ParamList,
) {
    let parsed: Vec<(&str, Option<&str>)> = parsed.collect();
    let expected: Vec<(&str, Option<&str>)> = expected
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_deref()))
        .collect();
    assert_eq!(parsed, expected);
}

fn sip_uri() -> BoxedStrategy<UriGen> {
    let user_chars = set(&[ALPHA, DIGIT, UNRESERVED_MARKS, "&=+$,;?/"]);
    let password_chars = set(&[ALPHA, DIGIT, UNRESERVED_MARKS, "&=+$,"]);
    let header_chars = set(&[ALPHA, DIGIT, UNRESERVED_MARKS, "[]/?:+$"]);
    let header = (
        escaped_text(header_chars.clone(), 1..3),
        escaped_text(header_chars, 0..3),
    )
        .prop_map(|(n, v)| format!("{n}={v}"));
    (
        any::<bool>(),
        proptest::option::weighted(
            0.8,
            (
                escaped_text(user_chars, 1..4),
                proptest::option::weighted(0.2, escaped_text(password_chars, 0..3)),
            ),
        ),
        host(),
        proptest::option::of(any::<u16>()),
        uri_params(),
        proptest::option::weighted(0.2, vec(header, 1..3).prop_map(|h| h.join("&"))),
    )
        .prop_map(|(secure, userinfo, host, port, params, headers)| {
            let (user, password) = match userinfo {
                Some((u, p)) => (Some(u), p),
                None => (None, None),
            };
            UriGen::Sip {
                secure,
                user,
                password,
                host,
                port,
                params,
                headers,
            }
        })
        .boxed()
}

fn tel_uri() -> BoxedStrategy<UriGen> {
    let global = string_of(set(&[DIGIT, "-.()"]), 0..12).prop_map(|d| format!("+1{d}"));
    let local = string_of(set(&[DIGIT, "ABCDEFabcdef", "*#-.()"]), 1..10);
    let context = prop_oneof![domain(), Just("+1-201".to_owned())]
        .prop_map(|c| vec![("phone-context".to_owned(), Some(c))]);
    (
        prop_oneof![global, local],
        prop_oneof![Just(vec![]), context, uri_params()],
    )
        .prop_map(|(number, params)| UriGen::Tel { number, params })
        .boxed()
}

fn uri() -> BoxedStrategy<UriGen> {
    prop_oneof![5 => sip_uri(), 1 => tel_uri()].boxed()
}

// ---------------------------------------------------------------------------
// Header values

/// A display name: `raw` as written (trimmed), `unquoted` as read back.
#[derive(Debug, Clone)]
struct DisplayGen {
    raw: String,
    unquoted: String,
}

fn display_name() -> BoxedStrategy<DisplayGen> {
    let tokens = vec(token(), 1..4).prop_map(|t| {
        let s = t.join(" ");
        DisplayGen {
            raw: s.clone(),
            unquoted: s,
        }
    });
    // qdtext (with UTF-8) and quoted-pairs.
    let qdtext: Vec<char> = (0x20u8..0x7f)
        .map(char::from)
        .filter(|c| *c != '"' && *c != '\\')
        .chain("\téß€日本😀".chars())
        .collect();
    let piece = prop_oneof![
        4 => string_of(qdtext, 1..6).prop_map(|s| (s.clone(), s)),
        1 => select(vec!['"', '\\', 'a', '<', ',', ';', '\u{1}', '\u{7f}'])
            .prop_map(|c| (format!("\\{c}"), c.to_string())),
    ];
    let quoted = vec(piece, 0..5).prop_map(|pieces| {
        let (raw, unquoted): (Vec<String>, Vec<String>) = pieces.into_iter().unzip();
        DisplayGen {
            raw: format!("\"{}\"", raw.concat()),
            unquoted: unquoted.concat(),
        }
    });
    prop_oneof![tokens, quoted].boxed()
}

/// Header parameters (token, host or quoted-string values).
fn header_params() -> BoxedStrategy<ParamList> {
    let value = prop_oneof![
        3 => token(),
        1 => ipv4(),
        1 => ipv6().prop_map(|a| format!("[{a}]")),
        1 => string_of(set(&[ALPHA, DIGIT, " ;,=<>:@"]), 0..8).prop_map(|s| format!("\"{s}\"")),
    ];
    vec(
        (
            token().prop_filter("tag is set apart", |n| !n.eq_ignore_ascii_case("tag")),
            proptest::option::of(value),
        ),
        0..3,
    )
    .boxed()
}

#[derive(Debug, Clone)]
struct NameAddrGen {
    display: Option<DisplayGen>,
    uri: UriGen,
    bracketed: bool,
    /// Written between the display name and `<`.
    gap: &'static str,
    params: ParamList,
}

impl NameAddrGen {
    fn text(&self) -> String {
        let mut s = String::new();
        if let Some(d) = &self.display {
            s.push_str(&d.raw);
            s.push_str(self.gap);
        }
        if self.bracketed {
            s.push_str(&format!("<{}>", self.uri.text()));
        } else {
            s.push_str(&self.uri.text());
        }
        s.push_str(&print_params(&self.params));
        s
    }

    fn tag(&self) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("tag"))
            .and_then(|(_, v)| v.as_deref())
    }

    fn check(&self, a: &NameAddr<'_>) {
        assert_eq!(
            a.display_name,
            self.display.as_ref().map(|d| d.raw.as_str())
        );
        assert_eq!(
            a.display_name_unquoted().as_deref(),
            self.display.as_ref().map(|d| d.unquoted.as_str())
        );
        assert_eq!(a.bracketed, self.bracketed);
        self.uri.check(&a.uri);
        check_params(a.params.iter().map(|p| (p.name, p.value)), &self.params);
        assert_eq!(a.tag(), self.tag());
    }
}

fn name_addr(tag: bool) -> BoxedStrategy<NameAddrGen> {
    (
        proptest::option::weighted(0.6, display_name()),
        uri(),
        any::<bool>(),
        select(vec![" ", "", "  ", "\t"]),
        header_params(),
        proptest::option::weighted(0.8, token()),
    )
        .prop_map(
            move |(display, uri, bracketed, gap, mut params, tag_value)| {
                // A token display name needs LWS before `<` only to be read as
                // one; a quoted one may touch it (RFC 4475 lwsdisp).
                let gap = match &display {
                    Some(d) if !d.raw.starts_with('"') && gap.is_empty() => " ",
                    _ => gap,
                };
                let bracketed = bracketed || display.is_some() || uri.needs_brackets();
                if let Some(t) = tag_value.filter(|_| tag) {
                    params.insert(0, ("tag".to_owned(), Some(t)));
                }
                NameAddrGen {
                    display,
                    uri,
                    bracketed,
                    gap,
                    params,
                }
            },
        )
        .boxed()
}

#[derive(Debug, Clone)]
struct ViaGen {
    transport: String,
    host: HostGen,
    port: Option<u16>,
    branch: String,
    rport: Option<Option<u16>>,
    received: Option<String>,
    extra: ParamList,
    /// LWS around the `;` separators.
    spaced: bool,
}

impl ViaGen {
    fn text(&self) -> String {
        let sep = if self.spaced { " ; " } else { ";" };
        let mut s = format!("SIP/2.0/{} {}", self.transport, self.host.text);
        if let Some(p) = self.port {
            s.push_str(&format!(":{p}"));
        }
        s.push_str(&format!("{sep}branch={}", self.branch));
        match self.rport {
            None => {}
            Some(None) => s.push_str(&format!("{sep}rport")),
            Some(Some(p)) => s.push_str(&format!("{sep}rport={p}")),
        }
        if let Some(r) = &self.received {
            s.push_str(&format!("{sep}received={r}"));
        }
        for (n, v) in &self.extra {
            match v {
                Some(v) => s.push_str(&format!("{sep}{n}={v}")),
                None => s.push_str(&format!("{sep}{n}")),
            }
        }
        s
    }

    fn check(&self, v: &Via<'_>) {
        assert_eq!(
            (v.protocol, v.version, v.transport),
            ("SIP", "2.0", self.transport.as_str())
        );
        assert_eq!(v.host.as_str(), self.host.text);
        assert_eq!(v.host.kind(), self.host.kind);
        assert_eq!(v.port, self.port);
        assert_eq!(v.branch(), Some(self.branch.as_str()));
        assert!(v.has_rfc3261_branch());
        // rport=0 and the like parse as numbers; the generator's ports do.
        assert_eq!(v.rport(), self.rport);
        let received = self
            .received
            .as_deref()
            .map(|r| r.trim_start_matches('[').trim_end_matches(']'));
        assert_eq!(v.received(), received);
    }
}

fn via() -> BoxedStrategy<ViaGen> {
    let extra = vec(
        (
            token().prop_filter("set apart", |n| {
                !["branch", "rport", "received"]
                    .iter()
                    .any(|k| n.eq_ignore_ascii_case(k))
            }),
            proptest::option::of(token()),
        ),
        0..2,
    );
    (
        prop_oneof![
            select(vec!["UDP", "TCP", "TLS", "SCTP", "WS", "WSS"]).prop_map(str::to_owned),
            token()
        ],
        host(),
        proptest::option::of(any::<u16>()),
        token(),
        proptest::option::of(proptest::option::of(any::<u16>())),
        proptest::option::of(prop_oneof![
            ipv4(),
            ipv6(),
            ipv6().prop_map(|a| format!("[{a}]"))
        ]),
        extra,
        any::<bool>(),
    )
        .prop_map(
            |(transport, host, port, branch, rport, received, extra, spaced)| ViaGen {
                transport,
                host,
                port,
                branch: format!("z9hG4bK{branch}"),
                rport,
                received,
                extra,
                spaced,
            },
        )
        .boxed()
}

// Test data, built a few hundred times: size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum ContactGen {
    Star,
    Addr {
        addr: NameAddrGen,
        expires: Option<u32>,
        q: Option<(u16, String)>,
    },
}

impl ContactGen {
    fn text(&self) -> String {
        match self {
            Self::Star => "*".to_owned(),
            Self::Addr { addr, expires, q } => {
                let mut s = addr.text();
                if let Some(e) = expires {
                    s.push_str(&format!(";expires={e}"));
                }
                if let Some((_, q)) = q {
                    s.push_str(&format!(";q={q}"));
                }
                s
            }
        }
    }

    fn check(&self, c: &Contact<'_>) {
        match (self, c) {
            (Self::Star, Contact::Wildcard) => {}
            (Self::Addr { addr, expires, q }, Contact::Address(a)) => {
                assert_eq!(
                    a.display_name,
                    addr.display.as_ref().map(|d| d.raw.as_str())
                );
                addr.uri.check(&a.uri);
                assert_eq!(a.expires(), *expires);
                assert_eq!(a.q(), q.as_ref().map(|(n, _)| *n));
            }
            (g, p) => panic!("generated {g:?}, parsed {p:?}"),
        }
    }
}

fn contact() -> BoxedStrategy<ContactGen> {
    let q = (0u16..=1000, 0usize..3).prop_map(|(n, digits)| {
        let text = match (n, digits) {
            (1000, _) => "1.0".to_owned(),
            (n, 0) => format!("0.{n:03}"),
            (n, 1) => format!("0.{}", n / 100),
            (n, _) => format!("0.{:02}", n / 10),
        };
        let value = match (n, digits) {
            (1000, _) | (_, 0) => n,
            (n, 1) => n / 100 * 100,
            (n, _) => n / 10 * 10,
        };
        (value, text)
    });
    (
        name_addr(false).prop_map(|mut a| {
            a.params.retain(|(n, _)| {
                !n.eq_ignore_ascii_case("expires") && !n.eq_ignore_ascii_case("q")
            });
            a
        }),
        proptest::option::of(any::<u32>()),
        proptest::option::of(q),
    )
        .prop_map(|(addr, expires, q)| ContactGen::Addr { addr, expires, q })
        .boxed()
}

/// Free text made of words, for Subject and unknown headers.
fn words() -> impl Strategy<Value = Vec<String>> {
    let chars: Vec<char> = (0x21u8..0x7f)
        .map(char::from)
        .chain("éü€日本".chars())
        .collect();
    vec(string_of(chars, 1..8), 1..5)
}

// ---------------------------------------------------------------------------
// Header lines and messages

/// What a header line should read back as, besides its name and value.
#[derive(Debug, Clone)]
enum Expect {
    Via(Vec<ViaGen>),
    From(NameAddrGen),
    To(NameAddrGen),
    CallId(String),
    CSeq(u32, Method),
    MaxForwards(u32),
    Contact(Vec<ContactGen>),
    ContentLength(u32),
    Plain,
}

#[derive(Debug, Clone)]
struct Line {
    /// The name as written.
    wire_name: String,
    name: HeaderName,
    /// Between name and value: `:`, `: `, ` : ` ...
    colon: &'static str,
    /// The value as written, with `\n` standing for a fold (made into the
    /// message's line end plus `fold_ws` when written).
    wire_value: Vec<String>,
    /// Joins `wire_value` pieces: ` ` or a fold.
    folds: Vec<bool>,
    fold_ws: &'static str,
    expect: Expect,
}

impl Line {
    /// The value the parser reports: pieces joined by one space.
    fn value(&self) -> String {
        self.wire_value.join(" ")
    }

    fn write(&self, out: &mut Vec<u8>, eol: &str) {
        out.extend_from_slice(self.wire_name.as_bytes());
        out.extend_from_slice(self.colon.as_bytes());
        for (i, piece) in self.wire_value.iter().enumerate() {
            if i > 0 {
                if self.folds[i - 1] {
                    out.extend_from_slice(eol.as_bytes());
                    out.extend_from_slice(self.fold_ws.as_bytes());
                } else {
                    out.push(b' ');
                }
            }
            out.extend_from_slice(piece.as_bytes());
        }
        out.extend_from_slice(eol.as_bytes());
    }
}

/// A header name as written: canonical, lower, upper or compact.
fn wire_name(name: HeaderName) -> impl Strategy<Value = String> {
    let long = name.as_str();
    let mut forms = vec![
        long.to_owned(),
        long.to_owned(),
        long.to_ascii_lowercase(),
        long.to_ascii_uppercase(),
    ];
    if let Some(c) = name.compact() {
        forms.push(c.to_string());
        forms.push(c.to_ascii_uppercase().to_string());
    }
    select(forms)
}

fn line(
    name: HeaderName,
    pieces: Vec<String>,
    expect: Expect,
    foldable: bool,
) -> impl Strategy<Value = Line> {
    let n = pieces.len().saturating_sub(1);
    (
        wire_name(name),
        select(vec![": ", ": ", ":", " : ", "\t:\t", ":   "]),
        vec(any::<bool>().prop_map(move |b| b && foldable), n),
        select(vec![" ", "\t", "   "]),
    )
        .prop_map(move |(wire_name, colon, folds, fold_ws)| Line {
            wire_name,
            name,
            colon,
            wire_value: pieces.clone(),
            folds,
            fold_ws,
            expect: expect.clone(),
        })
}

fn via_line() -> BoxedStrategy<Line> {
    vec(via(), 1..3)
        .prop_flat_map(|vias| {
            // Fold after the commas (and after the transport of one-value lines).
            let pieces: Vec<String> = if vias.len() == 1 {
                let t = vias[0].text();
                let (a, b) = t.split_once(' ').unwrap();
                vec![a.to_owned(), b.to_owned()]
            } else {
                let n = vias.len();
                vias.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        if i + 1 < n {
                            format!("{},", v.text())
                        } else {
                            v.text()
                        }
                    })
                    .collect()
            };
            line(HeaderName::Via, pieces, Expect::Via(vias), true)
        })
        .boxed()
}

fn from_line() -> BoxedStrategy<Line> {
    name_addr(true)
        .prop_flat_map(|a| line(HeaderName::From, vec![a.text()], Expect::From(a), false))
        .boxed()
}

fn to_line() -> BoxedStrategy<Line> {
    name_addr(true)
        .prop_flat_map(|a| line(HeaderName::To, vec![a.text()], Expect::To(a), false))
        .boxed()
}

fn call_id_line() -> BoxedStrategy<Line> {
    let word = set(&[ALPHA, DIGIT, TOKEN_MARKS, "()<>:\\\"/[]?{}"]);
    (
        string_of(word.clone(), 1..20),
        proptest::option::of(string_of(word, 1..10)),
    )
        .prop_map(|(a, b)| match b {
            Some(b) => format!("{a}@{b}"),
            None => a,
        })
        .prop_flat_map(|id| {
            line(
                HeaderName::CallId,
                vec![id.clone()],
                Expect::CallId(id),
                false,
            )
        })
        .boxed()
}

fn cseq_line(method: Method) -> impl Strategy<Value = Line> {
    (any::<u32>(), select(vec![" ", "  ", "\t"]), 0usize..3).prop_flat_map(
        move |(seq, gap, zeros)| {
            let text = format!("{}{seq}{gap}{method}", "0".repeat(zeros));
            line(
                HeaderName::CSeq,
                vec![text],
                Expect::CSeq(seq, method.clone()),
                false,
            )
        },
    )
}

fn max_forwards_line() -> impl Strategy<Value = Line> {
    (0u32..=255, any::<bool>()).prop_flat_map(|(n, zero)| {
        let text = if zero { format!("0{n}") } else { n.to_string() };
        line(
            HeaderName::MaxForwards,
            vec![text],
            Expect::MaxForwards(n),
            false,
        )
    })
}

fn contact_line() -> BoxedStrategy<Line> {
    prop_oneof![1 => Just(vec![ContactGen::Star]), 6 => vec(contact(), 1..4)]
        .prop_flat_map(|cs| {
            let n = cs.len();
            let pieces: Vec<String> = cs
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i + 1 < n {
                        format!("{},", c.text())
                    } else {
                        c.text()
                    }
                })
                .collect();
            line(HeaderName::Contact, pieces, Expect::Contact(cs), true)
        })
        .boxed()
}

fn unknown_line() -> BoxedStrategy<Line> {
    (
        unknown_header_name(),
        words(),
        select(vec![": ", ":", " : "]),
        vec(any::<bool>(), 4),
        select(vec![" ", "\t"]),
    )
        .prop_map(|(name, pieces, colon, mut folds, fold_ws)| {
            folds.truncate(pieces.len().saturating_sub(1));
            Line {
                wire_name: name,
                name: HeaderName::Other,
                colon,
                wire_value: pieces,
                folds,
                fold_ws,
                expect: Expect::Plain,
            }
        })
        .boxed()
}

fn subject_line() -> BoxedStrategy<Line> {
    words()
        .prop_flat_map(|w| line(HeaderName::Subject, w, Expect::Plain, true))
        .boxed()
}

fn content_type_line() -> impl Strategy<Value = Line> {
    select(vec![
        "application/sdp",
        "text/plain;charset=utf-8",
        "application/octet-stream",
    ])
    .prop_flat_map(|ct| {
        line(
            HeaderName::ContentType,
            vec![ct.to_owned()],
            Expect::Plain,
            false,
        )
    })
}

fn content_length_line(len: usize) -> impl Strategy<Value = Line> {
    (0usize..4).prop_flat_map(move |zeros| {
        let text = format!("{}{len}", "0".repeat(zeros));
        line(
            HeaderName::ContentLength,
            vec![text],
            Expect::ContentLength(len as u32),
            false,
        )
    })
}

fn method() -> BoxedStrategy<Method> {
    prop_oneof![
        3 => select(vec![
            Method::Invite, Method::Ack, Method::Bye, Method::Cancel, Method::Register, Method::Options,
            Method::Info, Method::Update, Method::Prack, Method::Subscribe, Method::Notify,
            Method::Publish, Method::Message, Method::Refer,
        ]),
        1 => token().prop_map(|t| Method::from_token(&t).unwrap()),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
enum StartGen {
    Request {
        method: Method,
        uri: UriGen,
        version: &'static str,
    },
    Response {
        status: u16,
        reason: String,
    },
}

#[derive(Debug, Clone)]
struct MessageGen {
    /// CRLFs before the start line (keep-alive leftovers).
    lead: &'static str,
    start: StartGen,
    lines: Vec<Line>,
    eol: &'static str,
    body: Vec<u8>,
}

impl MessageGen {
    fn wire(&self) -> Vec<u8> {
        let mut out = self.lead.as_bytes().to_vec();
        match &self.start {
            StartGen::Request {
                method,
                uri,
                version,
            } => {
                out.extend_from_slice(format!("{method} {} {version}", uri.text()).as_bytes());
            }
            StartGen::Response { status, reason } => {
                out.extend_from_slice(format!("SIP/2.0 {status} {reason}").as_bytes());
            }
        }
        out.extend_from_slice(self.eol.as_bytes());
        for l in &self.lines {
            l.write(&mut out, self.eol);
        }
        out.extend_from_slice(self.eol.as_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// Everything the parsed message must say.
    fn check(&self, msg: &Message) {
        match (&self.start, msg) {
            (StartGen::Request { method, uri, .. }, Message::Request(r)) => {
                assert_eq!(r.method(), method);
                assert_eq!(r.uri_str(), uri.text());
                uri.check(&r.uri());
            }
            (StartGen::Response { status, reason }, Message::Response(r)) => {
                assert_eq!(r.status().as_u16(), *status);
                assert_eq!(r.reason(), reason);
            }
            (g, m) => panic!("generated {g:?}, parsed {m:?}"),
        }
        let h = msg.headers();
        let fields: Vec<_> = h.iter().collect();
        assert_eq!(fields.len(), self.lines.len(), "header count");
        let mut vias = Vec::new();
        let mut contacts = Vec::new();
        for (f, l) in fields.iter().zip(&self.lines) {
            assert_eq!(f.name, l.name, "name of {l:?}");
            assert_eq!(f.value, l.value(), "value of {l:?}");
            if l.name == HeaderName::Other {
                assert_eq!(f.raw_name, l.wire_name);
                assert_eq!(f.print_name(), l.wire_name);
            } else {
                assert_eq!(f.print_name(), l.name.as_str());
            }
            match &l.expect {
                Expect::Via(v) => vias.extend(v.iter().cloned()),
                Expect::From(a) => {
                    a.check(&h.typed::<From<'_>>().unwrap().unwrap());
                    assert_eq!(h.from_tag(), a.tag());
                }
                Expect::To(a) => {
                    a.check(&h.typed::<To<'_>>().unwrap().unwrap());
                    assert_eq!(h.to_tag(), a.tag());
                }
                Expect::CallId(id) => assert_eq!(h.call_id(), Some(id.as_str())),
                Expect::CSeq(seq, m) => {
                    let c = h.cseq().unwrap();
                    assert_eq!((c.seq, &c.method), (*seq, m));
                }
                Expect::MaxForwards(n) => assert_eq!(h.max_forwards(), Some(*n)),
                Expect::Contact(c) => contacts.extend(c.iter().cloned()),
                Expect::ContentLength(n) => assert_eq!(h.content_length(), Some(*n)),
                Expect::Plain => {}
            }
        }
        let parsed_vias: Vec<Via<'_>> = h.typed_all::<Via<'_>>().map(Result::unwrap).collect();
        assert_eq!(parsed_vias.len(), vias.len(), "Via values");
        for (g, p) in vias.iter().zip(&parsed_vias) {
            g.check(p);
        }
        vias[0].check(&h.top_via().unwrap().unwrap());
        assert_eq!(h.top_branch(), Some(vias[0].branch.as_str()));
        let parsed_contacts: Vec<Contact<'_>> =
            h.typed_all::<Contact<'_>>().map(Result::unwrap).collect();
        assert_eq!(parsed_contacts.len(), contacts.len(), "Contact values");
        for (g, p) in contacts.iter().zip(&parsed_contacts) {
            g.check(p);
        }
        assert_eq!(msg.body().as_ref(), self.body.as_slice());
    }
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => Just(Vec::new()),
        2 => vec(any::<u8>(), 1..200),
        1 => string_of(set(&[ALPHA, DIGIT, " =\r\n"]), 1..200).prop_map(String::into_bytes),
    ]
}

fn header_lines(cseq_method: Method, body_len: usize) -> BoxedStrategy<Vec<Line>> {
    (
        vec(via_line(), 1..3),
        from_line(),
        to_line(),
        call_id_line(),
        cseq_line(cseq_method),
        proptest::option::of(max_forwards_line()),
        vec(contact_line(), 0..3),
        vec(unknown_line(), 0..3),
        proptest::option::of(subject_line()),
        content_type_line(),
        content_length_line(body_len),
    )
        .prop_flat_map(
            move |(vias, from, to, call_id, cseq, mf, contacts, unknown, subject, ct, cl)| {
                let mut lines = vias;
                lines.extend([from, to, call_id, cseq]);
                lines.extend(mf);
                lines.extend(contacts);
                lines.extend(unknown);
                lines.extend(subject);
                if body_len > 0 {
                    lines.push(ct);
                }
                lines.push(cl);
                Just(lines).prop_shuffle()
            },
        )
        .boxed()
}

fn framing() -> impl Strategy<Value = (&'static str, &'static str)> {
    // (leading CRLFs, line end)
    (
        select(vec!["", "", "", "\r\n", "\r\n\r\n"]),
        select(vec!["\r\n", "\r\n", "\r\n", "\n"]),
    )
}

fn request() -> BoxedStrategy<MessageGen> {
    (
        method(),
        uri(),
        select(vec!["SIP/2.0", "SIP/2.0", "sip/2.0"]),
        body(),
        framing(),
    )
        .prop_flat_map(|(method, uri, version, body, (lead, eol))| {
            header_lines(method.clone(), body.len()).prop_map(move |lines| MessageGen {
                lead,
                start: StartGen::Request {
                    method: method.clone(),
                    uri: uri.clone(),
                    version,
                },
                lines,
                eol,
                body: body.clone(),
            })
        })
        .boxed()
}

fn response() -> BoxedStrategy<MessageGen> {
    let reason_chars: Vec<char> = (0x20u8..0x7f)
        .map(char::from)
        .chain("\téü€日本".chars())
        .collect();
    (
        100u16..=699,
        string_of(reason_chars, 0..20),
        method(),
        body(),
        framing(),
    )
        .prop_flat_map(|(status, reason, method, body, (lead, eol))| {
            header_lines(method, body.len()).prop_map(move |lines| MessageGen {
                lead,
                start: StartGen::Response {
                    status,
                    reason: reason.clone(),
                },
                lines,
                eol,
                body: body.clone(),
            })
        })
        .boxed()
}

fn message() -> BoxedStrategy<MessageGen> {
    prop_oneof![request(), response()].boxed()
}

// ---------------------------------------------------------------------------
// The round-trip contract

/// Print → parse (both framings, the message carrying Content-Length) gives
/// an equal message, and printing that gives the same bytes.
fn assert_round_trip(msg: &Message) {
    let printed = msg.to_bytes();
    for framing in [Framing::Datagram, Framing::Stream] {
        let again = Message::parse(printed.clone(), framing).unwrap_or_else(|e| {
            panic!(
                "printed message does not parse ({framing:?}): {e}\n{:?}",
                String::from_utf8_lossy(&printed)
            )
        });
        assert_eq!(
            &again,
            msg,
            "{framing:?} round trip; printed {:?}",
            String::from_utf8_lossy(&printed)
        );
        assert_eq!(again.to_bytes(), printed, "printing is not stable");
    }
}

/// The round-trip contract for whatever parses (any framing): the parsed
/// message reprints to bytes that parse equal under the same framing.
fn assert_contract(bytes: &Bytes) {
    for framing in [Framing::Datagram, Framing::Stream] {
        if let Ok(msg) = Message::parse(bytes.clone(), framing) {
            let printed = msg.to_bytes();
            let again = Message::parse(printed.clone(), framing).unwrap_or_else(|e| {
                panic!(
                    "accepted {:?} but its print {:?} does not parse ({framing:?}): {e}",
                    String::from_utf8_lossy(bytes),
                    String::from_utf8_lossy(&printed)
                )
            });
            assert_eq!(
                again,
                msg,
                "round trip of {:?} ({framing:?})",
                String::from_utf8_lossy(bytes)
            );
            // Accessors must not panic either.
            let h = msg.headers();
            let _ = h.top_via();
            let _ = h.typed_all::<Contact<'_>>().count();
            let _ = h.typed::<From<'_>>();
            let _ = h.typed::<To<'_>>();
            if let Message::Request(r) = &msg {
                let _ = r.uri();
            }
        }
    }
}

/// Pushes `pieces` into a framer, draining after each push.
fn frame_pieces(
    pieces: &[&[u8]],
    max: usize,
) -> (Vec<Frame>, Option<switchboard_proto::FramerError>, usize) {
    let mut framer = StreamFramer::new(max);
    let mut frames = Vec::new();
    for p in pieces {
        framer.push(p);
        while let Some(f) = framer.next_frame() {
            match f {
                Ok(f) => frames.push(f),
                Err(e) => return (frames, Some(e), framer.buffered()),
            }
        }
    }
    let buffered = framer.buffered();
    (frames, None, buffered)
}

/// Cuts `data` at `cuts` (positions taken modulo the length, sorted).
fn cut<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|c| {
            if data.is_empty() {
                0
            } else {
                c % (data.len() + 1)
            }
        })
        .collect();
    at.push(0);
    at.push(data.len());
    at.sort_unstable();
    at.dedup();
    at.windows(2).map(|w| &data[w[0]..w[1]]).collect()
}

/// Random edits of a byte string: overwrite, insert, delete.
fn mutate(mut data: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    const INTERESTING: &[u8] = b"\r\n \t:;,<>\"\\@=%[]?0\x00\xff";
    for &(at, op, b) in edits {
        let at = if data.is_empty() { 0 } else { at % data.len() };
        let byte = if b % 2 == 0 {
            INTERESTING[usize::from(b / 2) % INTERESTING.len()]
        } else {
            b
        };
        match op % 3 {
            0 if !data.is_empty() => data[at] = byte,
            1 => data.insert(at, byte),
            _ if !data.is_empty() => {
                data.remove(at);
            }
            _ => {}
        }
    }
    data
}

// ---------------------------------------------------------------------------
// Properties

proptest! {
    // About 2 s of CPU per 100 cases for all properties in a debug build:
    // 384 keeps the file under ~10 s. PROPTEST_CASES=5000 runs more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(384),
        max_shrink_iters: 4096,
        // Failures are reported, not saved next to the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn generated_requests_parse_as_generated_and_round_trip(g in request()) {
        let wire = g.wire();
        let msg = Message::parse_datagram(Bytes::from(wire.clone())).unwrap_or_else(|e| {
            panic!("generated request does not parse: {e}\n{:?}", String::from_utf8_lossy(&wire))
        });
        g.check(&msg);
        assert_round_trip(&msg);
        // The stream parse of the same bytes (minus the keep-alive CRLFs,
        // which the framer would have eaten) gives the same message.
        if g.eol == "\r\n" {
            let stream = Message::parse_stream(Bytes::from(wire[g.lead.len()..].to_vec())).unwrap();
            prop_assert_eq!(&stream, &msg);
        }
    }

    #[test]
    fn generated_responses_parse_as_generated_and_round_trip(g in response()) {
        let wire = g.wire();
        let msg = Message::parse_datagram(Bytes::from(wire.clone())).unwrap_or_else(|e| {
            panic!("generated response does not parse: {e}\n{:?}", String::from_utf8_lossy(&wire))
        });
        g.check(&msg);
        assert_round_trip(&msg);
    }

    #[test]
    fn any_bytes_never_panic(data in vec(any::<u8>(), 0..600), cuts in vec(any::<usize>(), 0..8)) {
        let bytes = Bytes::from(data.clone());
        assert_contract(&bytes);
        let _ = frame_pieces(&cut(&data, &cuts), 1024);
    }

    #[test]
    fn edited_messages_never_panic_and_round_trip(
        g in message(),
        edits in vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6),
        cuts in vec(any::<usize>(), 0..8),
    ) {
        let data = mutate(g.wire(), &edits);
        assert_contract(&Bytes::from(data.clone()));
        let (frames, _, _) = frame_pieces(&cut(&data, &cuts), 64 * 1024);
        for f in frames {
            if let Frame::Message(m) = f {
                assert_contract(&m);
            }
        }
    }

    #[test]
    fn framing_printed_messages_cut_anywhere_gives_them_back(
        gs in vec(message(), 1..5),
        pings in vec(any::<bool>(), 5),
        cuts in vec(any::<usize>(), 0..12),
    ) {
        // Parse each generated message, print it: these are what a peer
        // sends over TCP, optionally with CRLFCRLF keep-alives between.
        let msgs: Vec<Message> = gs.iter().map(|g| Message::parse_datagram(Bytes::from(g.wire())).unwrap()).collect();
        let mut stream = Vec::new();
        for (m, ping) in msgs.iter().zip(&pings) {
            stream.extend_from_slice(&m.to_bytes());
            if *ping {
                stream.extend_from_slice(b"\r\n\r\n");
            }
        }
        let (frames, err, buffered) = frame_pieces(&cut(&stream, &cuts), 64 * 1024);
        prop_assert_eq!(err, None);
        prop_assert_eq!(buffered, 0);
        let framed: Vec<Bytes> = frames
            .into_iter()
            .filter_map(|f| match f {
                Frame::Message(m) => Some(m),
                Frame::Ping | Frame::Pong => None,
            })
            .collect();
        prop_assert_eq!(framed.len(), msgs.len());
        for (m, f) in msgs.iter().zip(framed) {
            prop_assert_eq!(&f, &m.to_bytes());
            prop_assert_eq!(&Message::parse_stream(f).unwrap(), m);
        }
    }
}

/// Every input saved from a fuzzer crash (tests/data/fuzz-regressions,
/// named `<target>-<what>`) is replayed: message and framer inputs through
/// the parser's contract, URIs through `Uri::parse`, and everything, in
/// every form, must not panic the message parser or the framer. (SDP and
/// digest inputs are replayed by the fuzz targets from their seeds; their
/// modules' own tests hold their regressions.)
#[test]
fn fuzz_regressions_replay() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-regressions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| {
            if name.starts_with("stream_framer-") {
                replay_stream_framer_input(&data);
            } else {
                assert_contract(&Bytes::from(data.clone()));
            }
            if name.starts_with("uri-") {
                if let Ok(u) = Uri::parse(std::str::from_utf8(&data).unwrap_or_default()) {
                    assert_eq!(u.as_str().as_bytes(), data.as_slice());
                }
            }
            let whole: [&[u8]; 1] = [&data];
            let _ = frame_pieces(&whole, 64 * 1024);
            let bytewise: Vec<&[u8]> = data.chunks(1).collect();
            let _ = frame_pieces(&bytewise, 64 * 1024);
        });
        assert!(result.is_ok(), "fuzz regression {} fails", path.display());
    }
}

/// Decodes a `stream_framer` fuzz input (see fuzz/fuzz_targets/stream_framer.rs)
/// and frames it as the target does; every frame keeps to the contract.
fn replay_stream_framer_input(data: &[u8]) {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(head & 0x1f);
    let max = if head & 0x20 != 0 { 512 } else { 64 * 1024 };
    let (lens, mut stream) = rest.split_at(n.min(rest.len()));
    let mut pieces: Vec<&[u8]> = Vec::new();
    if lens.is_empty() {
        pieces.push(stream);
    } else {
        for &l in lens.iter().cycle() {
            if stream.is_empty() {
                break;
            }
            let l = if l == 0 { 256 } else { usize::from(l) };
            let (piece, tail) = stream.split_at(l.min(stream.len()));
            pieces.push(piece);
            stream = tail;
        }
    }
    let (frames, _, _) = frame_pieces(&pieces, max);
    for f in frames {
        if let Frame::Message(m) = f {
            assert!(m.len() <= max);
            assert_contract(&m);
        }
    }
}

/// The generators themselves: a fixed example reads back as written.
#[test]
fn example_request_reads_back() {
    let raw = "INVITE sips:alice;p=1@[2001:db8::1]:5061;transport=tls SIP/2.0\r\n\
               v: SIP/2.0/TLS example.com ; branch=z9hG4bKa ; rport ; received=[2001:db8::2]\r\n\
               f: \"A \\\"B\\\"\"<sip:a@b>;tag=1\r\nt: sip:c@d\r\ni: x@y\r\nCSeq: 7 INVITE\r\n\
               m: <sip:a@b>;q=0.5,\r\n *\r\nl: 0\r\n\r\n";
    let msg = Message::parse_datagram(Bytes::from_static(raw.as_bytes())).unwrap();
    let h = msg.headers();
    assert_eq!(h.get(HeaderName::Contact), Some("<sip:a@b>;q=0.5, *"));
    let from = h.typed::<From<'_>>().unwrap().unwrap();
    assert_eq!(from.display_name_unquoted().as_deref(), Some("A \"B\""));
    let via = h.top_via().unwrap().unwrap();
    assert_eq!(
        (via.rport(), via.received()),
        (Some(None), Some("2001:db8::2"))
    );
    assert_eq!(
        msg.as_request().unwrap().uri().as_sip().unwrap().user,
        Some("alice;p=1")
    );
    assert_eq!(StatusCode::new(200).map(StatusCode::as_u16), Some(200));
    assert_round_trip(&msg);
}
