//! Header field names: the ones this stack knows, their compact forms, and
//! case-insensitive recognition.

use std::fmt;

macro_rules! header_names {
    ($( $variant:ident => $canonical:literal, $lower:literal $(, $compact:literal)? ; )*) => {
        /// A header field name. Unknown names are [`HeaderName::Other`]; their
        /// text is kept verbatim by [`crate::Headers`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $(
                #[doc = concat!("`", $canonical, "`")]
                $variant,
            )*
            /// A header this stack does not know.
            Other,
        }

        /// The lower-case long names.
        const NAMES: &[(&[u8], HeaderName)] = &[ $( ($lower, HeaderName::$variant), )* ];

        impl HeaderName {
            /// The canonical (long) name; `""` for [`HeaderName::Other`].
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( HeaderName::$variant => $canonical, )*
                    HeaderName::Other => "",
                }
            }

            /// The compact form (RFC 3261 §7.3.3 and extensions), if any.
            pub const fn compact(self) -> Option<char> {
                match self {
                    $( $( HeaderName::$variant => Some($compact), )? )*
                    _ => None,
                }
            }

            /// Recognises a name, long or compact, in any letter case.
            pub fn from_name(name: &str) -> Self {
                Self::from_bytes(name.as_bytes())
            }

            /// [`HeaderName::from_name`] on bytes.
            pub(crate) fn from_bytes(name: &[u8]) -> Self {
                if name.len() == 1 {
                    return Self::compact_form(name.first().copied().unwrap_or(0));
                }
                if name.len() > 24 {
                    return HeaderName::Other;
                }
                let mut words = [0u64; 3];
                for (w, chunk) in words.iter_mut().zip(name.chunks(8)) {
                    let mut buf = [0u8; 8];
                    for (d, s) in buf.iter_mut().zip(chunk) {
                        *d = *s;
                    }
                    *w = u64::from_le_bytes(buf);
                }
                lookup(words, name.len())
            }

            /// [`HeaderName::from_bytes`] on `input[at..at + len]`, reading
            /// whole words of `input` where it can.
            #[inline]
            pub(crate) fn from_wire(input: &[u8], at: usize, len: usize) -> Self {
                if len == 1 {
                    return Self::compact_form(input.get(at).copied().unwrap_or(0));
                }
                let word = |k: usize| -> Option<u64> {
                    let bytes = input.get(at + 8 * k..at + 8 * k + 8)?;
                    Some(u64::from_le_bytes(bytes.try_into().ok()?))
                };
                let keep = |n: usize| -> u64 {
                    if n >= 8 { !0 } else { (1u64 << (8 * n)) - 1 }
                };
                let words = match len {
                    2..=8 => word(0).map(|w0| [w0 & keep(len), 0, 0]),
                    9..=16 => word(0)
                        .zip(word(1))
                        .map(|(w0, w1)| [w0, w1 & keep(len - 8), 0]),
                    _ => None,
                };
                match words {
                    Some(words) => lookup(words, len),
                    None => input
                        .get(at..at + len)
                        .map_or(HeaderName::Other, Self::from_bytes),
                }
            }

            fn compact_form(c: u8) -> Self {
                let c = c.to_ascii_lowercase() as char;
                $( $( if c == $compact { return HeaderName::$variant; } )? )*
                HeaderName::Other
            }
        }
    };
}

header_names! {
    Via => "Via", b"via", 'v';
    From => "From", b"from", 'f';
    To => "To", b"to", 't';
    CallId => "Call-ID", b"call-id", 'i';
    CSeq => "CSeq", b"cseq";
    MaxForwards => "Max-Forwards", b"max-forwards";
    ContentLength => "Content-Length", b"content-length", 'l';
    Contact => "Contact", b"contact", 'm';
    Route => "Route", b"route";
    RecordRoute => "Record-Route", b"record-route";
    ContentType => "Content-Type", b"content-type", 'c';
    Expires => "Expires", b"expires";
    Authorization => "Authorization", b"authorization";
    WwwAuthenticate => "WWW-Authenticate", b"www-authenticate";
    ProxyAuthenticate => "Proxy-Authenticate", b"proxy-authenticate";
    ProxyAuthorization => "Proxy-Authorization", b"proxy-authorization";
    AuthenticationInfo => "Authentication-Info", b"authentication-info";
    Allow => "Allow", b"allow";
    Supported => "Supported", b"supported", 'k';
    Require => "Require", b"require";
    ProxyRequire => "Proxy-Require", b"proxy-require";
    Unsupported => "Unsupported", b"unsupported";
    UserAgent => "User-Agent", b"user-agent";
    Server => "Server", b"server";
    MinExpires => "Min-Expires", b"min-expires";
    Accept => "Accept", b"accept";
    AcceptEncoding => "Accept-Encoding", b"accept-encoding";
    AcceptLanguage => "Accept-Language", b"accept-language";
    ContentEncoding => "Content-Encoding", b"content-encoding", 'e';
    ContentDisposition => "Content-Disposition", b"content-disposition";
    ContentLanguage => "Content-Language", b"content-language";
    Event => "Event", b"event", 'o';
    AllowEvents => "Allow-Events", b"allow-events", 'u';
    SubscriptionState => "Subscription-State", b"subscription-state";
    ReferTo => "Refer-To", b"refer-to", 'r';
    ReferredBy => "Referred-By", b"referred-by", 'b';
    Replaces => "Replaces", b"replaces";
    Path => "Path", b"path";
    SessionExpires => "Session-Expires", b"session-expires", 'x';
    MinSe => "Min-SE", b"min-se";
    RSeq => "RSeq", b"rseq";
    RAck => "RAck", b"rack";
    Reason => "Reason", b"reason";
    RetryAfter => "Retry-After", b"retry-after";
    Timestamp => "Timestamp", b"timestamp";
    Subject => "Subject", b"subject", 's';
    Date => "Date", b"date";
    Warning => "Warning", b"warning";
    Organization => "Organization", b"organization";
    Priority => "Priority", b"priority";
    AlertInfo => "Alert-Info", b"alert-info";
    CallInfo => "Call-Info", b"call-info";
    ErrorInfo => "Error-Info", b"error-info";
    InReplyTo => "In-Reply-To", b"in-reply-to";
    MimeVersion => "MIME-Version", b"mime-version";
    ReplyTo => "Reply-To", b"reply-to";
    AcceptContact => "Accept-Contact", b"accept-contact", 'a';
    RejectContact => "Reject-Contact", b"reject-contact", 'j';
    RequestDisposition => "Request-Disposition", b"request-disposition", 'd';
    Identity => "Identity", b"identity", 'y';
    SipETag => "SIP-ETag", b"sip-etag";
    SipIfMatch => "SIP-If-Match", b"sip-if-match";
    PAssertedIdentity => "P-Asserted-Identity", b"p-asserted-identity";
    PPreferredIdentity => "P-Preferred-Identity", b"p-preferred-identity";
    Privacy => "Privacy", b"privacy";
}

/// Slots of [`TABLE`]: a power of two, about twice the number of names.
const SLOTS: usize = 128;

/// One slot of [`TABLE`]: a lower-case name as three little-endian words
/// (zero-padded), its length (0 for an empty slot) and what it names.
#[derive(Clone, Copy)]
struct Slot {
    words: [u64; 3],
    len: usize,
    name: HeaderName,
}

const fn hash(words: [u64; 3], len: usize) -> usize {
    let [w0, w1, w2] = words;
    let mixed = (w0 ^ w1.rotate_left(21) ^ w2.rotate_left(42) ^ len as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 57) as usize
}

/// The long names by hash, with linear probing; built at compile time.
static TABLE: [Slot; SLOTS] = {
    let empty = Slot {
        words: [0; 3],
        len: 0,
        name: HeaderName::Other,
    };
    let mut table = [empty; SLOTS];
    let mut n = 0;
    // Indexing is checked at compile time here: a bad index fails the build.
    #[allow(clippy::indexing_slicing)]
    while n < NAMES.len() {
        let (lower, name) = NAMES[n];
        assert!(lower.len() > 1 && lower.len() <= 24);
        let mut words = [0u64; 3];
        let mut i = 0;
        while i < lower.len() {
            words[i / 8] |= (lower[i] as u64) << (8 * (i % 8));
            i += 1;
        }
        let mut slot = hash(words, lower.len());
        while table[slot].len != 0 {
            slot = (slot + 1) % SLOTS;
        }
        table[slot] = Slot {
            words,
            len: lower.len(),
            name,
        };
        n += 1;
    }
    table
};

/// ASCII upper-case letters of a word made lower-case, other bytes kept.
#[inline(always)]
fn lower_word(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let heptets = w & (0x7F * ONES);
    // Bit 7 of each byte: at least `A`, above `Z`, and not a non-ASCII byte.
    let ge_a = heptets + (0x80 - u64::from(b'A')) * ONES;
    let gt_z = heptets + (0x7F - u64::from(b'Z')) * ONES;
    let upper = ge_a & !gt_z & !w & (0x80 * ONES);
    w | (upper >> 2)
}

/// The known name whose lower-case words are those of `words` lowered (a
/// name of `len` bytes, zero-padded), or [`HeaderName::Other`].
#[inline]
fn lookup(words: [u64; 3], len: usize) -> HeaderName {
    let words = words.map(lower_word);
    let mut slot = hash(words, len);
    loop {
        let Some(entry) = TABLE.get(slot) else {
            return HeaderName::Other;
        };
        if entry.len == 0 {
            return HeaderName::Other;
        }
        if entry.len == len && entry.words == words {
            return entry.name;
        }
        slot = (slot + 1) % SLOTS;
    }
}

impl HeaderName {
    /// True for headers whose value may be a comma-separated list that can
    /// be split into one header line per element (RFC 3261 §7.3.1). Headers
    /// whose values contain unquoted commas (dates, auth credentials) are
    /// excluded.
    pub fn is_list(self) -> bool {
        matches!(
            self,
            Self::Via
                | Self::Contact
                | Self::Route
                | Self::RecordRoute
                | Self::Path
                | Self::Allow
                | Self::Supported
                | Self::Require
                | Self::ProxyRequire
                | Self::Unsupported
                | Self::Accept
                | Self::AcceptEncoding
                | Self::AcceptLanguage
                | Self::ContentEncoding
                | Self::ContentLanguage
                | Self::AllowEvents
                | Self::Reason
                | Self::Warning
                | Self::AlertInfo
                | Self::CallInfo
                | Self::ErrorInfo
                | Self::InReplyTo
                | Self::AcceptContact
                | Self::RejectContact
                | Self::RequestDisposition
        )
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_long_and_compact_forms() {
        assert_eq!(HeaderName::from_name("via"), HeaderName::Via);
        assert_eq!(HeaderName::from_name("V"), HeaderName::Via);
        assert_eq!(HeaderName::from_name("cAlL-iD"), HeaderName::CallId);
        assert_eq!(HeaderName::from_name("l"), HeaderName::ContentLength);
        assert_eq!(
            HeaderName::from_name("WWW-Authenticate"),
            HeaderName::WwwAuthenticate
        );
        assert_eq!(HeaderName::from_name("NewFangledHeader"), HeaderName::Other);
        assert_eq!(HeaderName::from_name("q"), HeaderName::Other);
        assert_eq!(HeaderName::from_name(""), HeaderName::Other);
    }

    #[test]
    fn every_name_in_any_case_and_nothing_else() {
        for &(lower, name) in NAMES {
            let lower = std::str::from_utf8(lower).unwrap();
            let upper = lower.to_ascii_uppercase();
            for n in [lower, upper.as_str(), name.as_str()] {
                assert_eq!(HeaderName::from_name(n), name, "{n}");
                let wire = format!("{n}: x\r\n");
                assert_eq!(HeaderName::from_wire(wire.as_bytes(), 0, n.len()), name);
                assert_eq!(HeaderName::from_wire(n.as_bytes(), 0, n.len()), name);
            }
            for near in [
                format!("{lower}x"),
                format!("{lower}\0"),
                lower[1..].to_string(),
                lower.replace('-', "\r"),
                lower.replace('a', "\u{e1}"),
                lower.replace('e', "E\u{301}"),
            ] {
                if near != lower && near.len() > 1 {
                    assert_eq!(HeaderName::from_name(&near), HeaderName::Other, "{near:?}");
                    let wire = format!("{near}: x\r\n");
                    let got = HeaderName::from_wire(wire.as_bytes(), 0, near.len());
                    assert_eq!(got, HeaderName::Other, "{near:?}");
                }
            }
        }
        // Bytes that lower-case to letters only by a bit trick.
        for b in 0..=255u8 {
            let mut n = *b"via";
            n[1] = b;
            let want = if b.eq_ignore_ascii_case(&b'i') {
                HeaderName::Via
            } else {
                HeaderName::Other
            };
            assert_eq!(HeaderName::from_bytes(&n), want, "{b}");
        }
    }
}
