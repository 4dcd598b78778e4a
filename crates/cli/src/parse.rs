//! `switchboard parse`: parse message bytes as one datagram or as a stream,
//! print what was found, and report parse errors the way a server sees them.

use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use bytes::Bytes;
use switchboard_proto::{
    Frame, FramerError, Message, ParseError, StatusCode, StreamFramer, error_response,
};

use crate::render::{self, printable};
use crate::{EXIT_FAILURE, Error};

/// Reads the whole input: the file, or standard input for `-`.
pub(crate) fn read_input(path: &Path) -> Result<Bytes, Error> {
    let name = path.display().to_string();
    let read = if name == "-" {
        let mut buf = Vec::new();
        io::stdin().lock().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(path)
    };
    let bytes = read.map_err(|source| Error::Read { path: name, source })?;
    tracing::debug!(bytes = bytes.len(), "read input");
    Ok(bytes.into())
}

/// Parses `input` as one UDP datagram.
pub(crate) fn datagram(
    input: &Bytes,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    match Message::parse_datagram(input.clone()) {
        Ok(msg) => {
            let ignored = ignored_after_body(input, msg.body().len());
            render::message(out, &msg, ignored)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            report_parse_error(err, "", input, &e, 0)?;
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}

/// Runs `input` through the stream framer and parses every message in it.
pub(crate) fn stream(
    input: &Bytes,
    max_size: usize,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let mut framer = StreamFramer::new(max_size);
    framer.push(input);
    let total = input.len();
    let mut frames = 0usize;
    let mut messages = 0usize;
    let mut failed = false;
    while let Some(frame) = framer.next_frame() {
        // Everything before `end` has been taken out of the framer.
        let end = total.saturating_sub(framer.buffered());
        if frames > 0 && frame.is_ok() {
            writeln!(out)?;
        }
        frames += 1;
        match frame {
            Ok(Frame::Message(bytes)) => {
                messages += 1;
                let start = end.saturating_sub(bytes.len());
                writeln!(
                    out,
                    "=== message {messages}: bytes {start}..{end} of the stream ==="
                )?;
                match Message::parse_stream(bytes.clone()) {
                    Ok(msg) => render::message(out, &msg, 0)?,
                    Err(e) => {
                        writeln!(out, "(does not parse: see the error on stderr)")?;
                        let label = format!("message {messages}: ");
                        report_parse_error(err, &label, &bytes, &e, start)?;
                        failed = true;
                    }
                }
            }
            Ok(Frame::Ping) => {
                writeln!(
                    out,
                    "=== keep-alive ping (CRLF CRLF) at byte {}: a server answers CRLF ===",
                    end.saturating_sub(4)
                )?;
            }
            Ok(Frame::Pong) => {
                writeln!(
                    out,
                    "=== keep-alive pong (CRLF) at byte {} ===",
                    end.saturating_sub(2)
                )?;
            }
            Err(e) => {
                let status = framer_status(&e);
                writeln!(
                    err,
                    "error: {e} at byte {end} (the stream cannot be framed any further: a server answers {} {} \
                     and closes the connection)",
                    status,
                    status.canonical_reason()
                )?;
                return Ok(ExitCode::from(EXIT_FAILURE));
            }
        }
    }
    let left = framer.buffered();
    if left > 0 {
        writeln!(
            err,
            "error: the stream ends inside a message: {left} bytes from byte {} are not a whole message \
             (a server waits for the rest, and closes the connection if it never comes)",
            total.saturating_sub(left)
        )?;
        failed = true;
    } else if frames == 0 {
        writeln!(err, "error: the stream holds no message")?;
        failed = true;
    }
    Ok(if failed {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

/// The status a server sends before closing a stream it cannot frame.
fn framer_status(e: &FramerError) -> StatusCode {
    match e {
        FramerError::HeadersTooLarge { .. } | FramerError::MessageTooLarge { .. } => {
            StatusCode::REQUEST_ENTITY_TOO_LARGE
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Bytes of a datagram beyond its header section and `body_len` body
/// bytes: what datagram framing discards. Finds the end of the headers the
/// way the parser does (CRLF CRLF, or LF LF from LF-only peers).
fn ignored_after_body(input: &[u8], body_len: usize) -> usize {
    let start = input
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(input.len());
    let rest = input.get(start..).unwrap_or_default();
    let crlf = memchr::memmem::find(rest, b"\r\n\r\n");
    let lf = memchr::memmem::find(rest, b"\n\n");
    let body_at = match (crlf, lf) {
        (Some(c), Some(l)) if l < c => l + 2,
        (Some(c), _) => c + 4,
        (None, Some(l)) => l + 2,
        (None, None) => return 0,
    };
    rest.len().saturating_sub(body_at.saturating_add(body_len))
}

/// Prints `error: <label><what> at byte N (<what a server does>)` and the
/// line the error is on. `base` is where `raw` starts in the whole input.
fn report_parse_error(
    err: &mut dyn Write,
    label: &str,
    raw: &[u8],
    e: &ParseError,
    base: usize,
) -> io::Result<()> {
    writeln!(
        err,
        "error: {label}{} at byte {} ({})",
        e.kind,
        base.saturating_add(e.offset),
        server_reaction(raw, e)
    )?;
    if let Some((line_no, column, line)) = line_at(raw, e.offset) {
        writeln!(err, "  line {line_no}, column {column}: {line}")?;
    }
    Ok(())
}

/// What a server does with bytes that failed to parse with `e`.
pub(crate) fn server_reaction(raw: &[u8], e: &ParseError) -> String {
    let status = e.status();
    let start = raw
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(raw.len());
    let is_response = raw
        .get(start..start.saturating_add(4))
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"));
    if is_response {
        "a server drops it: a response that does not parse is never answered".to_owned()
    } else if error_response(raw, e, "x").is_some() {
        format!("a server answers {} {}", status, status.canonical_reason())
    } else {
        format!(
            "a server drops it: it would answer {} {}, but the request lacks the Via, From, To, \
             Call-ID or CSeq that a response must copy",
            status,
            status.canonical_reason()
        )
    }
}

/// Line number, column (both from 1) and printable text of the line that
/// holds byte `offset`.
fn line_at(raw: &[u8], offset: usize) -> Option<(usize, usize, String)> {
    let offset = offset.min(raw.len());
    let before = raw.get(..offset)?;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line_no = before.iter().filter(|b| **b == b'\n').count() + 1;
    let rest = raw.get(line_start..)?;
    let line_end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    let line = rest.get(..line_end)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return None;
    }
    const MAX: usize = 160;
    let text = String::from_utf8_lossy(line);
    let mut shown: String = printable(&text).chars().take(MAX).collect();
    if text.chars().count() > MAX {
        shown.push_str(" ...");
    }
    Some((line_no, offset.saturating_sub(line_start) + 1, shown))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    const GOOD: &[u8] = b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
        From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n\
        Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    fn run_stream(input: &[u8]) -> (ExitCode, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = stream(&Bytes::copy_from_slice(input), 65_535, &mut out, &mut err).unwrap();
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn stream_reports_offsets_of_each_message() {
        let input = [GOOD, b"\r\n\r\n", GOOD].concat();
        let (code, out, err) = run_stream(&input);
        assert_eq!(code, ExitCode::SUCCESS, "{err}");
        assert!(
            out.contains(&format!("message 1: bytes 0..{}", GOOD.len())),
            "{out}"
        );
        assert!(out.contains("keep-alive ping"), "{out}");
        assert!(
            out.contains(&format!(
                "message 2: bytes {}..{}",
                GOOD.len() + 4,
                input.len()
            )),
            "{out}"
        );
    }

    #[test]
    fn stream_reports_truncation_and_framing_errors() {
        let (code, _, err) = run_stream(&GOOD[..GOOD.len() - 10]);
        assert_eq!(code, ExitCode::from(EXIT_FAILURE));
        assert!(err.contains("ends inside a message"), "{err}");

        let (code, _, err) = run_stream(b"INVITE sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n");
        assert_eq!(code, ExitCode::from(EXIT_FAILURE));
        assert!(
            err.contains("invalid Content-Length") && err.contains("400 Bad Request"),
            "{err}"
        );

        let (code, _, err) = run_stream(b"");
        assert_eq!(code, ExitCode::from(EXIT_FAILURE));
        assert!(err.contains("no message"), "{err}");
    }

    #[test]
    fn datagram_notes_bytes_after_the_body() {
        assert_eq!(ignored_after_body(GOOD, 0), 0);
        let extra = [GOOD, b"junk"].concat();
        assert_eq!(ignored_after_body(&extra, 0), 4);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = datagram(&Bytes::from(extra), &mut out, &mut err).unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("  4 bytes after the Content-Length body are ignored")
        );
        assert_eq!(ignored_after_body(b"\r\nA\n\nbody", 4), 0);
    }

    #[test]
    fn error_line_and_column() {
        let raw = b"A\r\nbc\r\ndef";
        assert_eq!(line_at(raw, 8), Some((3, 2, "def".to_owned())));
        assert_eq!(line_at(raw, 0), Some((1, 1, "A".to_owned())));
        assert_eq!(line_at(raw, 100), Some((3, 4, "def".to_owned())));
    }

    #[test]
    fn responses_that_fail_are_dropped() {
        let raw = b"SIP/2.0 2000 OK\r\n\r\n";
        let e = Message::parse_datagram(Bytes::from_static(raw)).unwrap_err();
        assert!(server_reaction(raw, &e).contains("never answered"));
        let raw = b"INVITE sip:a SIP/7.0\r\n\r\n";
        let e = Message::parse_datagram(Bytes::from_static(raw)).unwrap_err();
        assert!(server_reaction(raw, &e).contains("lacks the Via"));
    }
}
