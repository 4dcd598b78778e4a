//! Builders for requests (RFC 3261 §8.1.1) and for responses made from a
//! request (§8.2.6, §12.1.1).
//!
//! A builder prints the message and returns exactly what a peer would parse
//! from those bytes, with Content-Length always right. It does not parse
//! the text back: it knows where each line went as it prints it, and checks
//! the lines as the parser would. A line copied unchanged from a parsed
//! message was checked then and is not checked again. A line that would not
//! read back as printed (a line break in a value, a name that is not a
//! token) sends the builder the long way: print, then parse.

use bytes::Bytes;
use bytestring::ByteString;

use super::parse::{HotScan, StartLine, parse_start_line};
use super::{Framing, Message, Request, Response};
use crate::header::{Field, HeaderName, Headers, Hot, Text};
use crate::text::{class, is_lws, skip_class};
use crate::{Method, ParseError, StatusCode};

/// The message a builder was asked to make is not valid SIP: a fault of the
/// calling code, not of a peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("built message is invalid: {0}")]
pub struct BuildError(pub ParseError);

#[derive(Debug, Clone)]
struct Line {
    name: HeaderName,
    raw_name: Option<String>,
    value: String,
    /// Copied unchanged from a field the parser checked.
    checked: Option<Checked>,
}

/// A line copied from a parsed message's field as the parser read it: where
/// the parser found the top Via's branch or the tag in its value, as
/// offsets into it.
#[derive(Debug, Clone, Copy)]
struct Checked {
    part: Option<(u32, u32)>,
}

impl Line {
    /// A line given by the calling code: checked when built.
    fn given(name: HeaderName, raw_name: Option<String>, value: String) -> Self {
        Self {
            name,
            raw_name,
            value,
            checked: None,
        }
    }

    /// A copy of `field` of a parsed message whose hot values are `hot`.
    /// Only a field exactly as the parser read it (name and value still
    /// slices of the received text) counts as checked.
    fn copied(field: &Field, view: crate::header::HeaderField<'_>, hot: &Hot) -> Self {
        let checked = match (&field.raw_name, &field.value) {
            (Text::Span(..), Text::Span(start, end)) => {
                let part = match field.name {
                    HeaderName::Via => hot.branch.as_ref(),
                    HeaderName::From => hot.from_tag.as_ref(),
                    HeaderName::To => hot.to_tag.as_ref(),
                    _ => None,
                };
                // The hot value lies in this field's value, or comes from
                // another field of the same name (a later Via).
                let part = match part {
                    Some(Text::Span(s, e)) if s >= start && e <= end => {
                        Some((s - start, e - start))
                    }
                    _ => None,
                };
                Some(Checked { part })
            }
            _ => None,
        };
        Self {
            name: field.name,
            raw_name: (field.name == HeaderName::Other).then(|| view.raw_name.to_owned()),
            value: view.value.to_owned(),
            checked,
        }
    }

    fn print_name(&self) -> &str {
        self.raw_name.as_deref().unwrap_or(self.name.as_str())
    }

    /// Printed as `name: value`, the parser reads back this name and value:
    /// a token for a name, a value without line breaks or white space at
    /// either end (the parser would trim it).
    fn reads_back(&self) -> bool {
        let name = self.print_name().as_bytes();
        let value = self.value.as_bytes();
        !name.is_empty()
            && skip_class(name, 0, class::TOKEN) == name.len()
            && !value.first().is_some_and(|&b| is_lws(b))
            && !value.last().is_some_and(|&b| is_lws(b))
            && memchr::memchr2(b'\r', b'\n', value).is_none()
    }
}

/// Builds a request.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    method: Method,
    uri: String,
    lines: Vec<Line>,
    body: Bytes,
}

impl RequestBuilder {
    /// A request with this method and Request-URI.
    pub fn new(method: Method, uri: impl Into<String>) -> Self {
        Self {
            method,
            uri: uri.into(),
            lines: Vec::with_capacity(10),
            body: Bytes::new(),
        }
    }

    /// Adds a header line.
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.lines.push(Line::given(name, None, value.into()));
        self
    }

    /// Adds a header line with a name this crate does not know.
    pub fn header_other(mut self, name: &str, value: impl Into<String>) -> Self {
        self.lines.push(Line::given(
            HeaderName::from_name(name),
            Some(name.to_owned()),
            value.into(),
        ));
        self
    }

    /// Adds `Via: SIP/2.0/<transport> <sent_by>;branch=<branch>` (add
    /// `;rport` yourself through [`RequestBuilder::header`] if wanted).
    pub fn via(self, transport: &str, sent_by: &str, branch: &str) -> Self {
        self.header(
            HeaderName::Via,
            format!("SIP/2.0/{transport} {sent_by};branch={branch}"),
        )
    }

    /// Adds `From: <addr>;tag=<tag>`.
    pub fn from(self, addr: &str, tag: &str) -> Self {
        self.header(HeaderName::From, format!("{addr};tag={tag}"))
    }

    /// Adds `To: <addr>` (and `;tag=` when given, for in-dialog requests).
    pub fn to(self, addr: &str, tag: Option<&str>) -> Self {
        let value = match tag {
            Some(t) => format!("{addr};tag={t}"),
            None => addr.to_owned(),
        };
        self.header(HeaderName::To, value)
    }

    /// Adds `Call-ID`.
    pub fn call_id(self, id: &str) -> Self {
        self.header(HeaderName::CallId, id)
    }

    /// Adds `CSeq: <seq> <method>` with the request's method.
    pub fn cseq(self, seq: u32) -> Self {
        let value = format!("{seq} {}", self.method);
        self.header(HeaderName::CSeq, value)
    }

    /// Adds `Contact`.
    pub fn contact(self, addr: &str) -> Self {
        self.header(HeaderName::Contact, addr)
    }

    /// Sets the body and its Content-Type.
    pub fn body(self, content_type: &str, body: impl Into<Bytes>) -> Self {
        let mut b = self.header(HeaderName::ContentType, content_type);
        b.body = body.into();
        b
    }

    /// A request with `request`'s method and Request-URI and those of its
    /// header lines `keep` accepts, as they are and in order, without the
    /// body. Lines the parser checked in `request` are not checked again
    /// by [`RequestBuilder::build`].
    pub fn from_request_fields(request: &Request, keep: impl Fn(HeaderName) -> bool) -> Self {
        let headers = request.headers();
        let lines = headers
            .fields()
            .iter()
            .zip(headers.iter())
            .filter(|(field, _)| keep(field.name))
            .map(|(field, view)| Line::copied(field, view, &headers.hot))
            .collect();
        Self {
            method: request.method().clone(),
            uri: request.uri_str().to_owned(),
            lines,
            body: Bytes::new(),
        }
    }

    /// Prints and checks the request. Adds `Max-Forwards: 70` when missing
    /// and sets Content-Length. A request may be built without Via: the
    /// endpoint adds its own when it sends it.
    pub fn build(self) -> Result<Request, BuildError> {
        let method = self.method.as_str();
        let mut head = Head::new(
            method.len()
                + self.uri.len()
                + " SIP/2.0\r\nMax-Forwards: 70\r\n".len()
                + printed_len(&self.lines),
        );
        head.start_line(&[method, " ", &self.uri, " SIP/2.0"]);
        if !self.lines.iter().any(|l| l.name == HeaderName::MaxForwards) {
            head.line(&Line::given(HeaderName::MaxForwards, None, "70".to_owned()));
        }
        // Without a Via: the transaction layer adds it when it sends.
        match head.finish(&self.lines, self.body, false)? {
            Message::Request(r) => Ok(r),
            Message::Response(_) => Err(BuildError(ParseError::new(
                crate::ParseErrorKind::StartLine,
                0,
            ))),
        }
    }
}

/// Builds a response to a request.
#[derive(Debug, Clone)]
pub struct ResponseBuilder {
    status: StatusCode,
    reason: Option<String>,
    lines: Vec<Line>,
    body: Bytes,
    /// The request's To already has a tag (read from its parsed headers, so
    /// that [`ResponseBuilder::to_tag`] does not parse the To value again).
    to_tagged: bool,
}

impl ResponseBuilder {
    /// A response to `req` (RFC 3261 §8.2.6.2): copies Via, From, To,
    /// Call-ID, CSeq and Timestamp, and Record-Route when the response can
    /// establish a dialog (§12.1.1).
    pub fn from_request(req: &Request, status: StatusCode) -> Self {
        let copies_record_route = matches!(
            req.method(),
            Method::Invite | Method::Subscribe | Method::Refer | Method::Notify
        ) && status.as_u16() > 100
            && status.as_u16() < 300;
        let headers = req.headers();
        let mut lines = Vec::with_capacity(10);
        for (field, view) in headers.fields().iter().zip(headers.iter()) {
            let keep = match field.name {
                HeaderName::Via
                | HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
                | HeaderName::Timestamp => true,
                HeaderName::RecordRoute => copies_record_route,
                _ => false,
            };
            if keep {
                lines.push(Line::copied(field, view, &headers.hot));
            }
        }
        Self {
            status,
            reason: None,
            lines,
            body: Bytes::new(),
            to_tagged: req.headers().to_tag().is_some(),
        }
    }

    /// Adds `;tag=<tag>` to To unless it already has a tag.
    pub fn to_tag(mut self, tag: &str) -> Self {
        if self.to_tagged {
            return self;
        }
        if let Some(line) = self.lines.iter_mut().find(|l| l.name == HeaderName::To) {
            line.value.push_str(";tag=");
            line.value.push_str(tag);
            // Changed: checked again when built.
            line.checked = None;
            self.to_tagged = true;
        }
        self
    }

    /// Sets the reason phrase (default: the canonical one).
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Adds a header line.
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.lines.push(Line::given(name, None, value.into()));
        self
    }

    /// Adds a header line with a name this crate does not know.
    pub fn header_other(mut self, name: &str, value: impl Into<String>) -> Self {
        self.lines.push(Line::given(
            HeaderName::from_name(name),
            Some(name.to_owned()),
            value.into(),
        ));
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(self, content_type: &str, body: impl Into<Bytes>) -> Self {
        let mut b = self.header(HeaderName::ContentType, content_type);
        b.body = body.into();
        b
    }

    /// Prints and checks the response; sets Content-Length.
    pub fn build(self) -> Result<Response, BuildError> {
        let reason = self
            .reason
            .as_deref()
            .unwrap_or(self.status.canonical_reason());
        // Sized once: a 401 with its challenges is past any fixed guess.
        let mut head =
            Head::new("SIP/2.0 000 \r\n".len() + reason.len() + printed_len(&self.lines));
        let code = self.status.to_string();
        head.start_line(&["SIP/2.0 ", &code, " ", reason]);
        match head.finish(&self.lines, self.body, true)? {
            Message::Response(r) => Ok(r),
            Message::Request(_) => Err(BuildError(ParseError::new(
                crate::ParseErrorKind::StartLine,
                0,
            ))),
        }
    }
}

/// The bytes the header lines, Content-Length and the empty line take, at
/// most.
fn printed_len(lines: &[Line]) -> usize {
    let head: usize = lines
        .iter()
        .map(|l| l.print_name().len() + ": \r\n".len() + l.value.len())
        .sum();
    head + "Content-Length: 4294967295\r\n\r\n".len()
}

/// A head being printed, with the fields the parser would find in it.
struct Head {
    text: String,
    start_line_len: usize,
    fields: Vec<Field>,
    /// For each field: copied from a field the parser checked.
    checked: Vec<Option<Checked>>,
    /// Every line so far reads back as printed.
    reads_back: bool,
}

impl Head {
    fn new(capacity: usize) -> Self {
        Self {
            text: String::with_capacity(capacity),
            start_line_len: 0,
            fields: Vec::with_capacity(12),
            checked: Vec::with_capacity(12),
            reads_back: true,
        }
    }

    fn start_line(&mut self, parts: &[&str]) {
        for part in parts {
            self.text.push_str(part);
        }
        self.reads_back &= memchr::memchr2(b'\r', b'\n', self.text.as_bytes()).is_none();
        self.start_line_len = self.text.len();
        self.text.push_str("\r\n");
    }

    fn line(&mut self, line: &Line) {
        if line.checked.is_none() && !line.reads_back() {
            self.reads_back = false;
        }
        let name_at = self.text.len();
        self.text.push_str(line.print_name());
        let name_end = self.text.len();
        self.text.push_str(": ");
        let value_at = self.text.len();
        self.text.push_str(&line.value);
        let value_end = self.text.len();
        self.text.push_str("\r\n");
        let name = match line.checked {
            Some(_) => line.name,
            // As the parser names it.
            None => HeaderName::from_wire(self.text.as_bytes(), name_at, name_end - name_at),
        };
        self.fields.push(Field {
            name,
            raw_name: Text::Span(name_at as u32, name_end as u32),
            value: Text::Span(value_at as u32, value_end as u32),
        });
        self.checked.push(line.checked);
    }

    /// Adds `lines` and Content-Length, and makes the message with `body`
    /// as the parser would from the printed bytes (a Via required when
    /// `require_via`).
    fn finish(
        mut self,
        lines: &[Line],
        body: Bytes,
        require_via: bool,
    ) -> Result<Message, BuildError> {
        for line in lines.iter().filter(|l| l.name != HeaderName::ContentLength) {
            self.line(line);
        }
        let length = Line::given(HeaderName::ContentLength, None, body.len().to_string());
        self.line(&length);
        // Offsets are u32 in a message.
        if !self.reads_back || self.text.len() > u32::MAX as usize {
            let mut out = self.text.into_bytes();
            out.reserve_exact(2 + body.len());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&body);
            return super::parse::parse_with(out.into(), Framing::Stream, require_via)
                .map_err(BuildError);
        }
        self.read_back(body, require_via).map_err(BuildError)
    }

    /// What the parser does after splitting the lines, on the fields known
    /// from printing them.
    fn read_back(self, body: Bytes, require_via: bool) -> Result<Message, ParseError> {
        let at = |(kind, offset)| ParseError::new(kind, offset);
        let line = self.text.get(..self.start_line_len).unwrap_or_default();
        let start_line: StartLine = parse_start_line(line).map_err(|k| ParseError::new(k, 0))?;
        let buf = ByteString::from(self.text);
        let mut scan = HotScan::default();
        for (field, checked) in self.fields.iter().zip(&self.checked) {
            match checked {
                Some(c) => scan.known(field, &buf, c.part),
                None => scan.check(field, &buf),
            }
            .map_err(at)?;
        }
        let hot = scan.finish(require_via).map_err(at)?;
        let mut headers = Headers::from_parts(buf, self.fields);
        headers.hot = hot;
        super::parse::message(start_line, headers, body, 0)
    }
}
