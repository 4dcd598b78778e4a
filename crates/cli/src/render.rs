//! Prints a parsed message in a readable form: start line, Request-URI
//! parts, hot headers, every header line, body and the server's verdict.

use std::borrow::Cow;
use std::io::{self, Write};

use switchboard_proto::header::{BRANCH_MAGIC_COOKIE, From, To, Via};
use switchboard_proto::sdp::{MediaDescription, SessionDescription};
use switchboard_proto::uri::HostKind;
use switchboard_proto::validate::{Policy, check_request};
use switchboard_proto::{HeaderName, Headers, Message, Params, Request, Response, Uri};

/// Width of the label column.
const LABEL: usize = 18;

/// Writes the whole report for `msg`. `ignored` is the number of bytes
/// that followed the body in the datagram (0 for stream messages).
pub(crate) fn message(out: &mut dyn Write, msg: &Message, ignored: usize) -> io::Result<()> {
    match msg {
        Message::Request(req) => request_line(out, req)?,
        Message::Response(resp) => status_line(out, resp)?,
    }
    let headers = msg.headers();
    hot_headers(out, headers)?;
    header_lines(out, headers)?;
    body(out, headers, msg.body().len())?;
    if ignored > 0 {
        writeln!(
            out,
            "  {ignored} bytes after the Content-Length body are ignored \
             (one datagram holds one message, RFC 3261 §18.3)"
        )?;
    }
    if is_sdp(headers) && !msg.body().is_empty() {
        sdp(out, msg.body())?;
    }
    verdict(out, msg)
}

fn row(out: &mut dyn Write, indent: usize, label: &str, value: &str) -> io::Result<()> {
    let width = LABEL.saturating_sub(indent);
    writeln!(out, "{:indent$}{label:<width$} {}", "", printable(value))
}

fn request_line(out: &mut dyn Write, req: &Request) -> io::Result<()> {
    writeln!(
        out,
        "Request: {} {}",
        req.method(),
        printable(req.uri_str())
    )?;
    row(out, 2, "method", req.method().as_str())?;
    row(out, 2, "Request-URI", req.uri_str())?;
    uri_parts(out, 4, &req.uri())
}

fn uri_parts(out: &mut dyn Write, indent: usize, uri: &Uri<'_>) -> io::Result<()> {
    row(out, indent, "scheme", uri.scheme())?;
    match uri {
        Uri::Sip(sip) => {
            match sip.user {
                Some(user) => {
                    let unescaped = sip.user_unescaped().unwrap_or_default();
                    if user.contains('%') {
                        let shown = unescaped.escape_ascii().to_string();
                        row(out, indent, "user", &format!("{user} (unescaped: {shown})"))?;
                    } else {
                        row(out, indent, "user", user)?;
                    }
                }
                None => row(out, indent, "user", "none")?,
            }
            if sip.password.is_some() {
                row(out, indent, "password", "present (not shown)")?;
            }
            let kind = match sip.host.kind() {
                HostKind::Domain => "domain name",
                HostKind::Ipv4 => "IPv4 address",
                HostKind::Ipv6 => "IPv6 reference",
            };
            row(out, indent, "host", &format!("{} ({kind})", sip.host))?;
            match sip.port {
                Some(port) => row(out, indent, "port", &port.to_string())?,
                None => row(out, indent, "port", "none (the default of the transport)")?,
            }
            row(out, indent, "params", &params(sip.params))?;
            if let Some(h) = sip.headers {
                row(out, indent, "headers", h)?;
            }
        }
        Uri::Tel(tel) => {
            row(out, indent, "number", tel.number)?;
            row(out, indent, "params", &params(tel.params))?;
        }
        Uri::Absolute(abs) => row(out, indent, "rest", abs.rest)?,
    }
    Ok(())
}

/// `a, b=c` or `none`.
fn params(p: Params<'_>) -> String {
    let list: Vec<String> = p
        .iter()
        .map(|p| match p.value {
            Some(v) => format!("{}={v}", p.name),
            None => p.name.to_owned(),
        })
        .collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

fn status_line(out: &mut dyn Write, resp: &Response) -> io::Result<()> {
    let status = resp.status();
    writeln!(out, "Response: {} {}", status, printable(resp.reason()))?;
    let class = match status.class() {
        1 => "provisional",
        2 => "success",
        3 => "redirection",
        4 => "client error",
        5 => "server error",
        _ => "global failure",
    };
    row(out, 2, "status", &format!("{status} ({class})"))?;
    let reason = resp.reason();
    if reason.is_empty() {
        row(out, 2, "reason", "none (empty reason phrase)")
    } else {
        row(out, 2, "reason", reason)
    }
}

fn or_absent<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "absent".to_owned(), |v| v.to_string())
}

fn hot_headers(out: &mut dyn Write, h: &Headers) -> io::Result<()> {
    writeln!(out, "Hot headers:")?;
    let vias = h.values(HeaderName::Via).count();
    let label = format!("Via (top of {vias})");
    match h.top_via() {
        None => row(out, 2, "Via", "absent")?,
        Some(Err(e)) => row(out, 2, &label, &format!("does not parse: {e}"))?,
        Some(Ok(via)) => {
            row(out, 2, &label, &via.to_string())?;
            row(out, 4, "transport", via.transport)?;
            let sent_by = match via.port {
                Some(port) => format!("{}:{port}", via.host),
                None => format!("{} (no port: the default of the transport)", via.host),
            };
            row(out, 4, "sent-by", &sent_by)?;
            row(out, 4, "branch", &branch(&via))?;
        }
    }
    address(
        out,
        "From",
        h.typed::<From<'_>>().map(|r| r.map(|f| f.0)),
        h.from_tag(),
    )?;
    address(
        out,
        "To",
        h.typed::<To<'_>>().map(|r| r.map(|t| t.0)),
        h.to_tag(),
    )?;
    row(out, 2, "Call-ID", &or_absent(h.call_id()))?;
    row(out, 2, "CSeq", &or_absent(h.cseq()))?;
    row(out, 2, "Max-Forwards", &or_absent(h.max_forwards()))?;
    row(out, 2, "Content-Length", &or_absent(h.content_length()))
}

fn branch(via: &Via<'_>) -> String {
    match via.branch() {
        None => "none (an RFC 2543 peer)".to_owned(),
        Some(b) if via.has_rfc3261_branch() => b.to_owned(),
        Some(b) => format!("{b} (no {BRANCH_MAGIC_COOKIE} cookie: matched the RFC 2543 way)"),
    }
}

fn address(
    out: &mut dyn Write,
    label: &str,
    parsed: Option<
        Result<switchboard_proto::header::NameAddr<'_>, switchboard_proto::header::HeaderError>,
    >,
    tag: Option<&str>,
) -> io::Result<()> {
    match parsed {
        None => row(out, 2, label, "absent"),
        Some(Err(e)) => row(out, 2, label, &format!("does not parse: {e}")),
        Some(Ok(addr)) => {
            let mut value = addr.uri.to_string();
            if let Some(name) = addr.display_name_unquoted() {
                value.push_str(&format!(" (display name: {name})"));
            }
            row(out, 2, label, &value)?;
            row(out, 4, "tag", tag.unwrap_or("none"))
        }
    }
}

fn header_lines(out: &mut dyn Write, h: &Headers) -> io::Result<()> {
    writeln!(out, "Header fields ({} lines):", h.len())?;
    for field in h.iter() {
        let name: Cow<'_, str> = if field.name == HeaderName::Other {
            format!("{} (unknown)", field.raw_name).into()
        } else if field.raw_name != field.name.as_str() {
            format!("{} (as \"{}\")", field.name, field.raw_name).into()
        } else {
            field.name.as_str().into()
        };
        writeln!(out, "  {}: {}", printable(&name), printable(field.value))?;
    }
    Ok(())
}

fn body(out: &mut dyn Write, h: &Headers, len: usize) -> io::Result<()> {
    if len == 0 {
        return writeln!(out, "Body: none");
    }
    match h.get(HeaderName::ContentType) {
        Some(ct) => writeln!(out, "Body: {len} bytes of {}", printable(ct)),
        None => writeln!(out, "Body: {len} bytes (no Content-Type)"),
    }
}

/// True when Content-Type is `application/sdp` (any case, any parameters).
fn is_sdp(h: &Headers) -> bool {
    h.get(HeaderName::ContentType).is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
    })
}

/// A summary of an SDP body: origin, session name, connection and each
/// media line with its formats and direction.
fn sdp(out: &mut dyn Write, body: &[u8]) -> io::Result<()> {
    let sdp = match SessionDescription::from_bytes(body) {
        Ok(sdp) => sdp,
        Err(e) => return writeln!(out, "SDP: does not parse: {}", printable(&e.to_string())),
    };
    writeln!(out, "SDP:")?;
    row(out, 2, "origin", &sdp.origin.to_string())?;
    row(out, 2, "session name", &sdp.session_name)?;
    if let Some(c) = &sdp.connection {
        row(out, 2, "connection", &c.to_string())?;
    }
    let session_direction = sdp.direction();
    for (i, m) in sdp.media.iter().enumerate() {
        let label = format!("media {}", i + 1);
        let mut line = format!("{} port {} {}", m.media, m.port, m.protocol);
        if let Some(n) = m.port_count {
            line.push_str(&format!(" ({n} ports)"));
        }
        line.push_str(&format!(", {}", m.effective_direction(session_direction)));
        row(out, 2, &label, &line)?;
        row(out, 4, "formats", &formats(m))?;
        if let Some(c) = m.connection() {
            row(out, 4, "connection", &c.to_string())?;
        }
    }
    Ok(())
}

/// `0 PCMU/8000, 101 telephone-event/8000, 31`.
fn formats(m: &MediaDescription) -> String {
    let list: Vec<String> = m
        .formats
        .iter()
        .map(|f| {
            f.parse::<u8>()
                .ok()
                .and_then(|pt| m.rtpmap(pt))
                .map_or_else(|| f.clone(), ToString::to_string)
        })
        .collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

fn verdict(out: &mut dyn Write, msg: &Message) -> io::Result<()> {
    let Some(req) = msg.as_request() else {
        return writeln!(
            out,
            "Verdict: a response: a server matches it to its client transaction (top Via branch and CSeq \
             method); responses are never answered"
        );
    };
    match check_request(req, &Policy::default()) {
        Ok(()) => writeln!(
            out,
            "Verdict: a server accepts it: it passes the request checks of RFC 3261 §8.2.2 \
             (URI scheme, Require) with the default policy"
        ),
        Err(rejection) => {
            let status = rejection.status();
            writeln!(
                out,
                "Verdict: a server answers {} {}: {}",
                status,
                status.canonical_reason(),
                printable(&rejection.to_string())
            )
        }
    }
}

/// `s` with control characters (other than tab) escaped, so that peer
/// bytes cannot drive the terminal.
pub(crate) fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut shown = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() && c != '\t' {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use bytes::Bytes;

    /// The report for `raw`, with runs of spaces squeezed to one so that
    /// the checks do not depend on column widths.
    fn render(raw: &'static [u8]) -> String {
        let msg = Message::parse_datagram(Bytes::from_static(raw)).unwrap();
        let mut out = Vec::new();
        message(&mut out, &msg, 0).unwrap();
        squeeze(&String::from_utf8(out).unwrap())
    }

    fn squeeze(s: &str) -> String {
        s.lines()
            .map(|l| {
                l.split(' ')
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn assert_has(out: &str, wanted: &[&str]) {
        for want in wanted {
            assert!(out.contains(&squeeze(want)), "missing {want:?} in\n{out}");
        }
    }

    #[test]
    fn request_report_names_every_part() {
        let out = render(
            b"REGISTER sips:alice%41@[2001:db8::1]:5061;transport=tcp;lr SIP/2.0\r\n\
              v: SIP/2.0/TLS client.example.com:5061;branch=z9hG4bKabc\r\n\
              f: \"Alice\" <sip:alice@example.com>;tag=ft\r\nTo: <sip:alice@example.com>\r\n\
              i: reg1\r\nCSeq: 7 REGISTER\r\nMax-Forwards: 70\r\nRequire: foo\r\nX-Odd: a\x01b\r\n\
              Content-Length: 0\r\n\r\n",
        );
        let wanted = &[
            "Request: REGISTER sips:alice%41@[2001:db8::1]:5061;transport=tcp;lr",
            "scheme          sips",
            "user            alice%41 (unescaped: aliceA)",
            "host            [2001:db8::1] (IPv6 reference)",
            "port            5061",
            "params          transport=tcp, lr",
            "Via (top of 1)",
            "transport     TLS",
            "sent-by       client.example.com:5061",
            "branch        z9hG4bKabc",
            "From            sip:alice@example.com (display name: Alice)",
            "tag           ft",
            "tag           none",
            "Call-ID         reg1",
            "CSeq            7 REGISTER",
            "Via (as \"v\"): SIP/2.0/TLS",
            "X-Odd (unknown): a\\u{1}b",
            "Body: none",
            "a server answers 420 Bad Extension: unsupported extensions: foo",
        ];
        assert_has(&out, wanted);
    }

    #[test]
    fn sdp_summary() {
        let out = render(
            b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
              From: <sip:a@b>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\
              Content-Type: Application/SDP\r\n\r\n\
              v=0\r\no=alice 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
              m=audio 49170 RTP/AVP 0 101 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
              a=sendonly\r\n",
        );
        assert_has(
            &out,
            &[
                "SDP:",
                "origin alice 1 2 IN IP4 192.0.2.1",
                "connection IN IP4 192.0.2.1",
                "media 1 audio port 49170 RTP/AVP, sendonly",
                "formats 0 PCMU/8000, 101 telephone-event/8000, 8",
            ],
        );
    }

    #[test]
    fn response_report() {
        let out = render(
            b"SIP/2.0 180 \r\nVia: SIP/2.0/UDP h;branch=1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n\
              Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n",
        );
        let wanted = &[
            "Response: 180",
            "status          180 (provisional)",
            "reason          none",
            "branch        1 (no z9hG4bK cookie",
            "Max-Forwards    absent",
            "responses are never answered",
        ];
        assert_has(&out, wanted);
    }
}
