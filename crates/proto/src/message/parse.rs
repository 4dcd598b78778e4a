//! The message parser: start line, header lines with folding, the hot
//! headers, and the body by Content-Length (RFC 3261 §7, §18.3, §25).

use bytes::Bytes;
use bytestring::ByteString;

use super::{Framing, Message, Request, Response};
use crate::error::{ParseError, ParseErrorKind as K};
use crate::header::{
    CSeq, Contact, Field, HeaderError, HeaderName, Headers, Hot, NameAddr, RecordRoute, Route,
    Text, TypedHeader, Via, sub_text,
};
use crate::text::{
    CommaSplit, any_ascii_ws, class, find_in, is_lws, parse_u32, skip_class, skip_lws,
};
use crate::uri::Uri;
use crate::{Method, StatusCode};

/// Parses one message. `bytes` may start with CRLFs (keep-alives), which are
/// skipped.
pub(crate) fn parse(bytes: Bytes, framing: Framing) -> Result<Message, ParseError> {
    parse_with(bytes, framing, true)
}

/// Parses one message; `require_via` is false only for requests built by
/// local code, which get their Via from the transaction layer.
pub(crate) fn parse_with(
    bytes: Bytes,
    framing: Framing,
    require_via: bool,
) -> Result<Message, ParseError> {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .ok_or(ParseError::new(K::Empty, 0))?;
    let input = bytes.get(start..).unwrap_or_default();
    let err = |kind: K, off: usize| ParseError::new(kind, start + off);

    // One pass over the lines of the head: split the header lines and find
    // the empty line that ends the head. A line that starts with SP/HT
    // continues the previous one. After a bad line only the end is looked
    // for, so that an unterminated or non-UTF-8 head is reported first.
    let mut fields: Vec<Field> = Vec::with_capacity(16);
    let mut folded: Vec<usize> = Vec::new();
    let mut bad_line: Option<usize> = None;
    let mut start_line_len = None;
    let mut ls = 0;
    let (head_len, body_at) = loop {
        let nl = match memchr::memchr(b'\n', input.get(ls..).unwrap_or_default()) {
            Some(i) => ls + i,
            None => return Err(ParseError::new(K::Unterminated, bytes.len())),
        };
        let end = if nl > ls && input.get(nl - 1) == Some(&b'\r') {
            nl - 1
        } else {
            nl
        };
        if start_line_len.is_none() {
            start_line_len = Some(end);
        } else if bad_line.is_none() {
            if let Err(at) = header_line(input, ls, end, &mut fields, &mut folded) {
                bad_line = Some(at);
            }
        }
        // The head ends at the first "\n\n" or "\r\n\r\n".
        let next = nl + 1;
        match input.get(next) {
            Some(b'\n') => break (next, next + 1),
            Some(b'\r') if input.get(next + 1) == Some(&b'\n') && end < nl => {
                break (next, next + 2);
            }
            _ => {}
        }
        ls = next;
    };

    let head = bytes.slice(start..start + head_len);
    let head = ByteString::try_from(head)
        .map_err(|e| ParseError::new(K::NotUtf8, start + e.valid_up_to()))?;
    let text: &str = &head;
    let line = text.get(..start_line_len.unwrap_or(0)).unwrap_or("");
    let start_line = parse_start_line(line).map_err(|k| err(k, 0))?;
    if let Some(at) = bad_line {
        return Err(err(K::HeaderLine, at));
    }
    for &idx in &folded {
        if let Some(Field {
            value: value @ Text::Span(..),
            ..
        }) = fields.get_mut(idx)
        {
            // Folding is equivalent to one space (RFC 3261 §7.3.1).
            let raw = value.resolve(text);
            let joined: Vec<&str> = raw
                .split('\n')
                .map(|l| crate::text::trim(l.strip_suffix('\r').unwrap_or(l)))
                .filter(|l| !l.is_empty())
                .collect();
            *value = Text::Owned(joined.join(" ").into());
        }
    }
    let mut headers = Headers::from_parts(head.clone(), fields);

    index_hot_headers(&mut headers, require_via).map_err(|(k, off)| err(k, off))?;

    // The body (RFC 3261 §18.3).
    let body_start = start + body_at;
    let available = bytes.len().saturating_sub(body_start);
    let body_len = match (headers.content_length(), framing) {
        (Some(n), _) if n as usize > available => {
            return Err(ParseError::new(K::BodyTruncated, bytes.len()));
        }
        (Some(n), _) => n as usize,
        (None, Framing::Datagram) => available,
        (None, Framing::Stream) => 0,
    };
    let body = bytes.slice(body_start..body_start + body_len);

    message(start_line, headers, body, start)
}

/// The message of a head whose fields are indexed, its body cut out; `start`
/// is where the message began in the parsed bytes, for errors.
pub(super) fn message(
    start_line: StartLine,
    headers: Headers,
    body: Bytes,
    start: usize,
) -> Result<Message, ParseError> {
    Ok(match start_line {
        StartLine::Request { method, uri } => {
            let cseq = headers.cseq().map(|c| &c.method);
            if cseq != Some(&method) {
                return Err(ParseError::new(K::CSeqMethodMismatch, start));
            }
            Message::Request(Request {
                method,
                uri: Text::Span(uri.0 as u32, uri.1 as u32),
                headers,
                body,
            })
        }
        StartLine::Response { status, reason } => Message::Response(Response {
            status,
            reason: Text::Span(reason.0 as u32, reason.1 as u32),
            headers,
            body,
        }),
    })
}

/// One header line `input[ls..end]` (without its line end): a continuation
/// of the last field, or a new field. `Err` holds the offset of a bad line.
///
/// A field's value is trimmed of LWS. A folded value runs raw to the end of
/// its last line and is listed in `folded`, to be joined once the head is
/// known to be UTF-8.
#[inline]
fn header_line(
    input: &[u8],
    ls: usize,
    end: usize,
    fields: &mut Vec<Field>,
    folded: &mut Vec<usize>,
) -> Result<(), usize> {
    match input.get(ls) {
        Some(b' ' | b'\t') if end > ls => {
            let idx = fields.len().checked_sub(1).ok_or(ls)?;
            if let Some(Field {
                value: Text::Span(_, e),
                ..
            }) = fields.last_mut()
            {
                *e = end as u32;
            }
            if folded.last() != Some(&idx) {
                folded.push(idx);
            }
        }
        _ if end == ls => {}
        _ => {
            // `token *(SP / HTAB) ":"`
            let name_end = skip_class(input, ls, class::TOKEN).min(end);
            let mut colon = name_end;
            if input.get(colon) != Some(&b':') {
                while colon < end && matches!(input.get(colon), Some(b' ' | b'\t')) {
                    colon += 1;
                }
            }
            if name_end == ls || colon >= end || input.get(colon) != Some(&b':') {
                return Err(ls);
            }
            let (mut s, mut e) = (colon + 1, end);
            // Usually one space after the colon.
            if s < e && input.get(s) == Some(&b' ') {
                s += 1;
            }
            while s < e && input.get(s).is_some_and(|&b| is_lws(b)) {
                s += 1;
            }
            while e > s && input.get(e - 1).is_some_and(|&b| is_lws(b)) {
                e -= 1;
            }
            fields.push(Field {
                name: HeaderName::from_wire(input, ls, name_end - ls),
                raw_name: Text::Span(ls as u32, name_end as u32),
                value: Text::Span(s as u32, e as u32),
            });
        }
    }
    Ok(())
}

pub(super) enum StartLine {
    Request {
        method: Method,
        uri: (usize, usize),
    },
    Response {
        status: StatusCode,
        reason: (usize, usize),
    },
}

pub(super) fn parse_start_line(line: &str) -> Result<StartLine, K> {
    if line.len() >= 4
        && line
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
    {
        let (version, rest) = line.split_once(' ').ok_or(K::StartLine)?;
        check_version(version)?;
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(K::StatusCode);
        }
        let status = code
            .parse::<u16>()
            .ok()
            .and_then(StatusCode::new)
            .ok_or(K::StatusCode)?;
        let reason_at = line.len() - reason.len();
        return Ok(StartLine::Response {
            status,
            reason: (reason_at, line.len()),
        });
    }
    let (method, rest) = line.split_once(' ').ok_or(K::StartLine)?;
    let (uri, version) = rest.rsplit_once(' ').ok_or(K::StartLine)?;
    let method = Method::from_token(method).ok_or(K::Method)?;
    check_version(version)?;
    Uri::parse(uri).map_err(K::RequestUri)?;
    let uri_at = method.as_str().len() + 1;
    Ok(StartLine::Request {
        method,
        uri: (uri_at, uri_at + uri.len()),
    })
}

fn check_version(v: &str) -> Result<(), K> {
    if v.eq_ignore_ascii_case("SIP/2.0") {
        return Ok(());
    }
    // A well-formed but different version is 505; anything else is 400.
    let well_formed = v
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("SIP/"))
        .and_then(|_| v.get(4..))
        .and_then(|n| n.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        });
    Err(if well_formed {
        K::Version
    } else {
        K::StartLine
    })
}

/// Parses the hot headers once, checks the ones that must be well formed for
/// any element to handle the message, and records their values.
fn index_hot_headers(headers: &mut Headers, require_via: bool) -> Result<(), (K, usize)> {
    let mut scan = HotScan::default();
    let buf = headers.buffer();
    for field in headers.fields() {
        scan.check(field, buf)?;
    }
    headers.hot = scan.finish(require_via)?;
    Ok(())
}

/// The hot values found so far in a head, field by field.
#[derive(Default)]
pub(super) struct HotScan {
    hot: Hot,
    seen_from: bool,
    seen_to: bool,
    seen_via: bool,
}

impl HotScan {
    /// Checks `field` (over `buf`) as a received one and records its hot
    /// value; `Err` holds what is wrong and the offset of its line.
    pub(super) fn check(&mut self, field: &Field, buf: &str) -> Result<(), (K, usize)> {
        let bad = |error: HeaderError| {
            (
                K::InvalidHeader {
                    name: field.name,
                    error,
                },
                line_at(field),
            )
        };
        let dup = |name| (K::DuplicateHeader(name), line_at(field));
        let whole = &field.value;
        let value = whole.resolve(buf);
        match field.name {
            HeaderName::Via => {
                let branch = check_vias(value).map_err(bad)?;
                if !self.seen_via {
                    self.hot.branch = branch.map(|b| sub_text(whole, buf, value, b));
                }
                self.seen_via = true;
            }
            HeaderName::From | HeaderName::To => {
                let tag = NameAddr::check_with_param(value, "tag").map_err(bad)?;
                self.tag(field, tag.map(|t| sub_text(whole, buf, value, t)))?;
            }
            HeaderName::CallId => {
                if value.is_empty() || any_ascii_ws(value.as_bytes()) {
                    return Err(bad(HeaderError::Syntax));
                }
                if self.hot.call_id.replace(whole.clone()).is_some() {
                    return Err(dup(field.name));
                }
            }
            HeaderName::CSeq => {
                let cseq = CSeq::parse_value(value).map_err(bad)?;
                if self.hot.cseq.replace(cseq).is_some() {
                    return Err(dup(field.name));
                }
            }
            HeaderName::MaxForwards => {
                let n = parse_u32(value)
                    .filter(|n| *n <= 255)
                    .ok_or(bad(HeaderError::Number))?;
                if self.hot.max_forwards.replace(n).is_some() {
                    return Err(dup(field.name));
                }
            }
            HeaderName::ContentLength => {
                let n = parse_u32(value).ok_or(bad(HeaderError::Number))?;
                if self.hot.content_length.replace(n).is_some() {
                    return Err(dup(field.name));
                }
            }
            HeaderName::Contact => check_addrs::<Contact<'_>>(value).map_err(bad)?,
            HeaderName::Route => check_addrs::<Route<'_>>(value).map_err(bad)?,
            HeaderName::RecordRoute => check_addrs::<RecordRoute<'_>>(value).map_err(bad)?,
            _ => {}
        }
        Ok(())
    }

    /// Records the hot value of `field`, a copy of a field the parser
    /// checked in another message (its value unchanged, now at a span of
    /// `buf`): `part` is where the parser found the top Via's branch or the
    /// tag in that value (offsets into it). The checks already passed are
    /// not made again; a field that appears twice is still refused.
    pub(super) fn known(
        &mut self,
        field: &Field,
        buf: &str,
        part: Option<(u32, u32)>,
    ) -> Result<(), (K, usize)> {
        let Text::Span(value_at, _) = field.value else {
            return self.check(field, buf);
        };
        let part = part.map(|(s, e)| Text::Span(value_at + s, value_at + e));
        match field.name {
            HeaderName::Via => {
                if !self.seen_via {
                    self.hot.branch = part;
                }
                self.seen_via = true;
                Ok(())
            }
            HeaderName::From | HeaderName::To => self.tag(field, part),
            HeaderName::Contact | HeaderName::Route | HeaderName::RecordRoute => Ok(()),
            _ => self.check(field, buf),
        }
    }

    /// The From or To tag of `field`; a second From or To is refused.
    fn tag(&mut self, field: &Field, tag: Option<Text>) -> Result<(), (K, usize)> {
        let (slot, seen) = if field.name == HeaderName::From {
            (&mut self.hot.from_tag, &mut self.seen_from)
        } else {
            (&mut self.hot.to_tag, &mut self.seen_to)
        };
        if std::mem::replace(seen, true) {
            return Err((K::DuplicateHeader(field.name), line_at(field)));
        }
        *slot = tag;
        Ok(())
    }

    /// The hot values, once every header a message needs was seen (Via
    /// only when `require_via`).
    pub(super) fn finish(self, require_via: bool) -> Result<Hot, (K, usize)> {
        for (present, name) in [
            (self.hot.call_id.is_some(), HeaderName::CallId),
            (self.hot.cseq.is_some(), HeaderName::CSeq),
            (self.seen_from, HeaderName::From),
            (self.seen_to, HeaderName::To),
            (self.seen_via || !require_via, HeaderName::Via),
        ] {
            if !present {
                return Err((K::MissingHeader(name), 0));
            }
        }
        Ok(self.hot)
    }
}

/// Where the line of `field` starts (its name), for errors.
fn line_at(field: &Field) -> usize {
    match field.raw_name {
        Text::Span(s, _) => s as usize,
        Text::Owned(_) => 0,
    }
}

/// The elements of a list header value, as [`CommaSplit`] gives them; a
/// value without any comma (the usual case) is its only element.
fn split_list(value: &str) -> CommaSplit<'_> {
    if find_in(value.as_bytes(), b',').is_none() {
        CommaSplit::single(value)
    } else {
        CommaSplit::new(value)
    }
}

/// Checks a list of addresses (Contact, Route, Record-Route): element by
/// element in place while they have the common forms ([`NameAddr::scan`]),
/// else element by element after splitting on commas.
fn check_addrs<'a, T: TypedHeader<'a>>(value: &'a str) -> Result<(), HeaderError> {
    let b = value.as_bytes();
    let mut at = skip_lws(b, 0);
    while let Some((_, stop)) = NameAddr::scan_check(value, at, "") {
        match b.get(stop) {
            None => return Ok(()),
            Some(b',') => at = skip_lws(b, stop + 1),
            Some(_) => break,
        }
    }
    check_all::<T>(value)
}

/// Checks every Via of a value and returns the branch of the first: in
/// place while they have the common shape ([`Via::scan`]), else element by
/// element after splitting on commas.
fn check_vias(value: &str) -> Result<Option<&str>, HeaderError> {
    let b = value.as_bytes();
    let mut at = skip_lws(b, 0);
    let mut first = None;
    let mut n = 0;
    while let Some((branch, stop)) = Via::scan_check(value, at) {
        if n == 0 {
            first = branch;
        }
        n += 1;
        match b.get(stop) {
            None => return Ok(first),
            Some(b',') => at = skip_lws(b, stop + 1),
            Some(_) => break,
        }
    }
    let mut first = None;
    for (n, v) in split_list(value).enumerate() {
        let (_, branch) = Via::parse_with_branch(v)?;
        if n == 0 {
            first = branch;
        }
    }
    Ok(first)
}

fn check_all<'a, T: TypedHeader<'a>>(value: &'a str) -> Result<(), HeaderError> {
    for v in split_list(value) {
        T::parse(v)?;
    }
    Ok(())
}
