//! The message parser: start line, header lines with folding, the hot
//! headers, and the body by Content-Length (RFC 3261 §7, §18.3, §25).

use bytes::Bytes;
use bytestring::ByteString;
use memchr::memmem;

use super::{Framing, Message, Request, Response};
use crate::error::{ParseError, ParseErrorKind as K};
use crate::header::{
    CSeq, Contact, HeaderError, HeaderName, Headers, Hot, NameAddr, RecordRoute, Route, Text,
    TypedHeader, Via, sub_text,
};
use crate::text::{CommaSplit, is_token, parse_u32};
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
    let (head_len, body_at) =
        find_head_end(input).ok_or(ParseError::new(K::Unterminated, bytes.len()))?;
    let head = bytes.slice(start..start + head_len);
    let head = ByteString::try_from(head)
        .map_err(|e| ParseError::new(K::NotUtf8, start + e.valid_up_to()))?;
    let err = |kind: K, off: usize| ParseError::new(kind, start + off);

    let text: &str = &head;
    let (line, mut rest_at) = match text.find('\n') {
        Some(i) => (text.get(..i).unwrap_or(""), i + 1),
        None => (text, text.len()),
    };
    let line = line.strip_suffix('\r').unwrap_or(line);
    let start_line = parse_start_line(line).map_err(|k| err(k, 0))?;

    // Header lines. A line that starts with SP/HT continues the previous one.
    let mut headers = Headers::with_buffer(head.clone(), 16);
    let mut pending: Option<PendingField> = None;
    let body_len = text.len();
    while rest_at < body_len {
        let rest = text.get(rest_at..).unwrap_or("");
        let (line_len, next) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => (i, rest_at + i + 1),
            None => (rest.len(), body_len),
        };
        let raw = rest.get(..line_len).unwrap_or("");
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.starts_with([' ', '\t']) {
            let field = pending
                .as_mut()
                .ok_or_else(|| err(K::HeaderLine, rest_at))?;
            field.value_end = rest_at + line.len();
            field.folded = true;
        } else if !line.is_empty() {
            if let Some(f) = pending.take() {
                f.finish(text, &mut headers);
            }
            let colon = line.find(':').ok_or_else(|| err(K::HeaderLine, rest_at))?;
            let (name, value) = line.split_at(colon);
            let name = name.trim_end_matches([' ', '\t']);
            if !is_token(name) {
                return Err(err(K::HeaderLine, rest_at));
            }
            let value_start = rest_at + colon + 1;
            pending = Some(PendingField {
                name: HeaderName::from_name(name),
                name_at: (rest_at, rest_at + name.len()),
                value_start,
                value_end: value_start + value.len().saturating_sub(1),
                folded: false,
            });
        }
        rest_at = next;
    }
    if let Some(f) = pending.take() {
        f.finish(text, &mut headers);
    }

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

    Ok(match start_line {
        StartLine::Request { method, uri } => {
            let cseq = headers.cseq().map(|c| &c.method);
            if cseq != Some(&method) {
                return Err(err(K::CSeqMethodMismatch, 0));
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

/// Length of the header section (without the empty line) and the offset of
/// the body.
fn find_head_end(input: &[u8]) -> Option<(usize, usize)> {
    if let Some(i) = memmem::find(input, b"\r\n\r\n") {
        // A bare "\n\n" earlier ends the head too (LF-only peers).
        match memmem::find(input.get(..i)?, b"\n\n") {
            Some(j) => Some((j + 1, j + 2)),
            None => Some((i + 2, i + 4)),
        }
    } else {
        memmem::find(input, b"\n\n").map(|j| (j + 1, j + 2))
    }
}

enum StartLine {
    Request {
        method: Method,
        uri: (usize, usize),
    },
    Response {
        status: StatusCode,
        reason: (usize, usize),
    },
}

fn parse_start_line(line: &str) -> Result<StartLine, K> {
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

struct PendingField {
    name: HeaderName,
    name_at: (usize, usize),
    value_start: usize,
    value_end: usize,
    folded: bool,
}

impl PendingField {
    fn finish(self, text: &str, headers: &mut Headers) {
        let raw_name = Text::Span(self.name_at.0 as u32, self.name_at.1 as u32);
        let raw = text.get(self.value_start..self.value_end).unwrap_or("");
        let value = if self.folded {
            // Folding is equivalent to one space (RFC 3261 §7.3.1).
            let joined: Vec<&str> = raw
                .split('\n')
                .map(|l| crate::text::trim(l.strip_suffix('\r').unwrap_or(l)))
                .filter(|l| !l.is_empty())
                .collect();
            Text::Owned(joined.join(" ").into())
        } else {
            let trimmed = crate::text::trim(raw);
            let off = crate::text::offset_in(text, trimmed).unwrap_or(self.value_start);
            Text::Span(off as u32, (off + trimmed.len()) as u32)
        };
        headers.push_parsed(self.name, raw_name, value);
    }
}

/// Parses the hot headers once, checks the ones that must be well formed for
/// any element to handle the message, and records their values.
fn index_hot_headers(headers: &mut Headers, require_via: bool) -> Result<(), (K, usize)> {
    let mut hot = HotScan::default();
    let buf = headers.buffer();
    let mut seen_via = false;
    for (idx, field) in headers.iter().enumerate() {
        let at = headers.field_offset(idx);
        let bad = |error: HeaderError| {
            (
                K::InvalidHeader {
                    name: field.name,
                    error,
                },
                at,
            )
        };
        let dup = |name| (K::DuplicateHeader(name), at);
        let value = field.value;
        let whole = headers.field_text(idx);
        match field.name {
            HeaderName::Via => {
                for (n, v) in CommaSplit::new(value).enumerate() {
                    let via = Via::parse_value(v).map_err(bad)?;
                    if !seen_via && n == 0 {
                        hot.hot.branch = via.branch().map(|b| sub_text(whole, buf, value, b));
                    }
                }
                seen_via = true;
            }
            HeaderName::From | HeaderName::To => {
                let addr = NameAddr::parse_value(value).map_err(bad)?;
                let tag = addr.tag().map(|t| sub_text(whole, buf, value, t));
                let (slot, seen) = if field.name == HeaderName::From {
                    (&mut hot.hot.from_tag, &mut hot.seen_from)
                } else {
                    (&mut hot.hot.to_tag, &mut hot.seen_to)
                };
                if std::mem::replace(seen, true) {
                    return Err(dup(field.name));
                }
                *slot = tag;
            }
            HeaderName::CallId => {
                if value.is_empty() || value.contains(|c: char| c.is_ascii_whitespace()) {
                    return Err(bad(HeaderError::Syntax));
                }
                if hot.hot.call_id.replace(whole.clone()).is_some() {
                    return Err(dup(field.name));
                }
            }
            HeaderName::CSeq => {
                let cseq = CSeq::parse_value(value).map_err(bad)?;
                if hot.hot.cseq.replace(cseq).is_some() {
                    return Err(dup(field.name));
                }
            }
            HeaderName::MaxForwards => {
                let n = parse_u32(value)
                    .filter(|n| *n <= 255)
                    .ok_or(bad(HeaderError::Number))?;
                if hot.hot.max_forwards.replace(n).is_some() {
                    return Err(dup(field.name));
                }
            }
            HeaderName::ContentLength => {
                let n = parse_u32(value).ok_or(bad(HeaderError::Number))?;
                if hot.hot.content_length.replace(n).is_some() {
                    return Err(dup(field.name));
                }
            }
            HeaderName::Contact => check_all::<Contact<'_>>(value).map_err(bad)?,
            HeaderName::Route => check_all::<Route<'_>>(value).map_err(bad)?,
            HeaderName::RecordRoute => check_all::<RecordRoute<'_>>(value).map_err(bad)?,
            _ => {}
        }
    }
    for (present, name) in [
        (hot.hot.call_id.is_some(), HeaderName::CallId),
        (hot.hot.cseq.is_some(), HeaderName::CSeq),
        (hot.seen_from, HeaderName::From),
        (hot.seen_to, HeaderName::To),
        (seen_via || !require_via, HeaderName::Via),
    ] {
        if !present {
            return Err((K::MissingHeader(name), 0));
        }
    }
    headers.hot = hot.hot;
    Ok(())
}

#[derive(Default)]
struct HotScan {
    hot: Hot,
    seen_from: bool,
    seen_to: bool,
}

fn check_all<'a, T: TypedHeader<'a>>(value: &'a str) -> Result<(), HeaderError> {
    for v in CommaSplit::new(value) {
        T::parse(v)?;
    }
    Ok(())
}
