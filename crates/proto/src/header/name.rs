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
                    let c = name.first().map_or(0, u8::to_ascii_lowercase) as char;
                    $( $( if c == $compact { return HeaderName::$variant; } )? )*
                    return HeaderName::Other;
                }
                // Lower-case into a stack buffer, then one `match` on the
                // bytes: the compiler dispatches on length first.
                let mut buf = [0u8; 24];
                let Some(dst) = buf.get_mut(..name.len()) else {
                    return HeaderName::Other;
                };
                for (d, s) in dst.iter_mut().zip(name) {
                    *d = s.to_ascii_lowercase();
                }
                match &*dst {
                    $( $lower => return HeaderName::$variant, )*
                    _ => {}
                }
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
}
