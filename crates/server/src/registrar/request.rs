//! Reading a REGISTER: the AOR, the contacts with their expiry, Path and
//! the option tags, with the RFC 3261 §10.3 checks that need nothing but
//! the request and the settings.

use switchboard_proto::header::{Contact, Expires, NameAddr};
use switchboard_proto::{HeaderName, Method, Request, Uri, unquote};

use super::RegisterError;
use super::aor::Aor;
use super::config::RegistrarConfig;

/// A REGISTER, read.
#[derive(Debug)]
pub(crate) struct ParsedRegister<'r> {
    pub(crate) aor: Aor,
    pub(crate) from_aor: Option<Aor>,
    pub(crate) call_id: &'r str,
    pub(crate) cseq: u32,
    pub(crate) contacts: Contacts<'r>,
    /// Path values, top first.
    pub(crate) path: Vec<&'r str>,
    pub(crate) supports_path: bool,
    pub(crate) supports_outbound: bool,
    pub(crate) via_count: usize,
    pub(crate) user_agent: Option<&'r str>,
}

/// The Contact header fields of a REGISTER.
#[derive(Debug)]
pub(crate) enum Contacts<'r> {
    /// No Contact: a query for the current bindings.
    Query,
    /// `Contact: *` with `Expires: 0`: remove every binding.
    Wildcard,
    /// Bindings to add, refresh or remove.
    List(Vec<ContactEntry<'r>>),
}

/// One Contact of a REGISTER, with the expiry the registrar grants.
#[derive(Debug)]
pub(crate) struct ContactEntry<'r> {
    pub(crate) uri: Uri<'r>,
    pub(crate) uri_text: &'r str,
    /// The kept header parameters (everything but `expires` and `q`).
    pub(crate) params: String,
    pub(crate) q: Option<u16>,
    /// Seconds granted; 0 removes the binding.
    pub(crate) expires: u32,
    pub(crate) instance: Option<String>,
    pub(crate) reg_id: Option<u32>,
}

/// An expiry value as a lenient server reads it: a number, saturated at
/// `u32::MAX` when too large; anything else counts as 3600 seconds
/// (RFC 3261 §20.19: "Malformed values SHOULD be treated as equivalent to
/// 3600").
fn lenient_seconds(text: &str) -> u32 {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.bytes().fold(0u32, |n, d| {
            n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
        })
    } else {
        3600
    }
}

fn has_option_tag(request: &Request, tag: &str) -> bool {
    request
        .headers()
        .values(HeaderName::Supported)
        .any(|t| t.trim().eq_ignore_ascii_case(tag))
}

/// Reads the request: method, CSeq, To (the AOR) and From, Contact with
/// the wildcard rules, the expiry of each contact with the 423 rule, Path.
pub(crate) fn parse<'r>(
    request: &'r Request,
    config: &RegistrarConfig,
) -> Result<ParsedRegister<'r>, RegisterError> {
    let headers = request.headers();
    if request.method() != &Method::Register {
        return Err(RegisterError::NotRegister);
    }
    let call_id = headers
        .call_id()
        .ok_or(RegisterError::Malformed("no Call-ID"))?;
    let cseq = headers.cseq().ok_or(RegisterError::Malformed("no CSeq"))?;
    if cseq.method != Method::Register {
        return Err(RegisterError::Malformed("CSeq method is not REGISTER"));
    }
    let to = headers
        .typed::<switchboard_proto::header::To<'_>>()
        .ok_or(RegisterError::Malformed("no To"))?
        .map_err(|_| RegisterError::Malformed("unreadable To"))?;
    let aor = Aor::from_uri(&to.uri).map_err(RegisterError::InvalidAor)?;
    let from_aor = headers
        .typed::<switchboard_proto::header::From<'_>>()
        .and_then(Result::ok)
        .and_then(|f| Aor::from_uri(&f.uri).ok());

    // The Expires header, when present, applies to contacts without their
    // own `expires` parameter.
    let expires_header =
        headers
            .get(HeaderName::Expires)
            .map(|v| match headers.typed::<Expires>() {
                Some(Ok(e)) => e.get(),
                _ => lenient_seconds(v),
            });

    let mut wildcard = false;
    let mut entries = Vec::new();
    for contact in headers.typed_all::<Contact<'_>>() {
        match contact.map_err(|_| RegisterError::Malformed("unreadable Contact"))? {
            Contact::Wildcard => wildcard = true,
            Contact::Address(addr) => entries.push(read_contact(&addr, expires_header, config)?),
        }
    }
    let contacts = if wildcard {
        if !entries.is_empty() {
            return Err(RegisterError::WildcardNotAlone);
        }
        if expires_header != Some(0) {
            return Err(RegisterError::WildcardWithoutExpiresZero);
        }
        Contacts::Wildcard
    } else if entries.is_empty() {
        Contacts::Query
    } else {
        // §10.3 step 7: a registrar MAY reject an interval under its
        // minimum only when it is above zero and under one hour.
        if let Some(_too_brief) = entries
            .iter()
            .find(|e| e.expires > 0 && e.expires < config.min_expires && e.expires < 3600)
        {
            return Err(RegisterError::IntervalTooBrief {
                min_expires: config.min_expires,
            });
        }
        Contacts::List(entries)
    };

    let mut path = Vec::new();
    for value in headers.values(HeaderName::Path) {
        NameAddr::parse_value(value).map_err(|_| RegisterError::Malformed("unreadable Path"))?;
        path.push(value);
    }

    Ok(ParsedRegister {
        aor,
        from_aor,
        call_id,
        cseq: cseq.seq,
        contacts,
        path,
        supports_path: has_option_tag(request, "path"),
        supports_outbound: has_option_tag(request, "outbound"),
        via_count: headers.values(HeaderName::Via).count(),
        user_agent: headers.get(HeaderName::UserAgent),
    })
}

/// Reads one Contact address: its URI, kept parameters, q, expiry,
/// instance-id and reg-id.
fn read_contact<'r>(
    addr: &NameAddr<'r>,
    expires_header: Option<u32>,
    config: &RegistrarConfig,
) -> Result<ContactEntry<'r>, RegisterError> {
    let mut params = String::new();
    let mut expires_param = None;
    let mut q = None;
    let mut instance = None;
    let mut reg_id = None;
    for p in addr.params.iter() {
        if p.name.eq_ignore_ascii_case("expires") {
            expires_param = Some(p.value.map_or(3600, lenient_seconds));
            continue;
        }
        if p.name.eq_ignore_ascii_case("q") {
            q = Some(
                addr.q()
                    .ok_or(RegisterError::Malformed("q-value out of range"))?,
            );
            continue;
        }
        if p.name.eq_ignore_ascii_case("+sip.instance") {
            let value = p
                .value
                .ok_or(RegisterError::Malformed("+sip.instance without a value"))?;
            let unquoted = unquote(value);
            let urn = unquoted
                .strip_prefix('<')
                .and_then(|v| v.strip_suffix('>'))
                .unwrap_or(&unquoted)
                .trim();
            if urn.is_empty() {
                return Err(RegisterError::Malformed("empty +sip.instance"));
            }
            instance = Some(urn.to_owned());
        } else if p.name.eq_ignore_ascii_case("reg-id") {
            let id = p
                .value
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|id| (1..=0x7fff_ffff).contains(id))
                .ok_or(RegisterError::Malformed("reg-id is not 1 to 2^31-1"))?;
            reg_id = Some(id);
        }
        params.push(';');
        params.push_str(p.name);
        if let Some(v) = p.value {
            params.push('=');
            params.push_str(v);
        }
    }
    // §10.3 step 7: the parameter wins over the header, the header over the
    // default; the registrar may shorten but not lengthen.
    let requested = expires_param
        .or(expires_header)
        .unwrap_or(config.default_expires);
    let expires = requested.min(config.max_expires);
    Ok(ContactEntry {
        uri: addr.uri,
        uri_text: addr.uri.as_str(),
        params,
        q,
        expires,
        instance,
        reg_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_expiry_values() {
        assert_eq!(lenient_seconds("3600"), 3600);
        assert_eq!(lenient_seconds(" 0 "), 0);
        assert_eq!(lenient_seconds("99999999999999"), u32::MAX);
        assert_eq!(lenient_seconds("Thu, 01 Dec 1994 16:00:00 GMT"), 3600);
        assert_eq!(lenient_seconds(""), 3600);
        assert_eq!(lenient_seconds("-5"), 3600);
    }
}
