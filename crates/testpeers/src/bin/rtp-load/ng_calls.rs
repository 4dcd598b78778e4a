//! rtpengine's sessions, set up over its ng control protocol (bencoded
//! dictionaries over UDP, each after a cookie): `offer` with the caller's
//! SDP (for an SDES caller with `transport-protocol: RTP/AVP`, so the
//! callee is offered plain RTP and rtpengine decrypts), `answer` with the
//! callee's, `delete` at the end.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::error::{LoadError, read_timed_out};
use crate::sdp::{MediaTarget, media_target, phone_sdp};
use crate::stream::Stream;

const MAX_DATAGRAM: usize = 65_535;
/// How long a command waits for its answer.
const REPLY_LIMIT: Duration = Duration::from_secs(5);

/// A value of an ng dictionary this tool sends.
enum Value<'a> {
    Text(&'a str),
    List(&'a [&'a str]),
}

/// The control socket and the calls set up.
#[derive(Debug)]
pub(crate) struct NgCalls {
    control: UdpSocket,
    server: SocketAddr,
    cookie: u64,
    calls: Vec<String>,
}

impl NgCalls {
    /// A control socket for rtpengine's ng port, checked with `ping`.
    ///
    /// # Errors
    /// A socket error or no answer.
    pub(crate) fn connect(server: SocketAddr) -> Result<Self, LoadError> {
        let control = UdpSocket::bind("127.0.0.1:0")?;
        control.set_read_timeout(Some(REPLY_LIMIT))?;
        let mut this = Self {
            control,
            server,
            cookie: 0,
            calls: Vec::new(),
        };
        this.command("ping", &[])?;
        Ok(this)
    }

    /// Offers and answers stream `index`; returns where the caller and the
    /// callee send.
    ///
    /// # Errors
    /// A socket error, no answer, or rtpengine's refusal.
    pub(crate) fn open(
        &mut self,
        index: u64,
        stream: &Stream,
    ) -> Result<(MediaTarget, MediaTarget), LoadError> {
        let call_id = format!("rtpload-{}-{index}", std::process::id());
        let (from_tag, to_tag) = (format!("a{index}"), format!("b{index}"));
        let offer = phone_sdp(index, stream.caller.port()?, stream.caller_key.as_ref());
        let mut fields = vec![
            ("call-id", Value::Text(&call_id)),
            ("from-tag", Value::Text(&from_tag)),
            ("sdp", Value::Text(&offer)),
            ("ICE", Value::Text("remove")),
            ("replace", Value::List(&["origin", "session-connection"])),
        ];
        if stream.caller_key.is_some() {
            // The callee gets plain RTP; rtpengine ends SRTP.
            fields.push(("transport-protocol", Value::Text("RTP/AVP")));
        }
        let offered = self.command("offer", &fields)?;
        let callee_side = media_target("rtpengine offer", &offered)?;
        self.calls.push(call_id.clone());

        let answer = phone_sdp(index, stream.callee.port()?, None);
        let answered = self.command(
            "answer",
            &[
                ("call-id", Value::Text(&call_id)),
                ("from-tag", Value::Text(&from_tag)),
                ("to-tag", Value::Text(&to_tag)),
                ("sdp", Value::Text(&answer)),
                ("ICE", Value::Text("remove")),
                ("replace", Value::List(&["origin", "session-connection"])),
            ],
        )?;
        let caller_side = media_target("rtpengine answer", &answered)?;
        Ok((caller_side, callee_side))
    }

    /// Deletes every call.
    ///
    /// # Errors
    /// A socket error, no answer, or rtpengine's refusal.
    pub(crate) fn close_all(&mut self) -> Result<(), LoadError> {
        for call_id in std::mem::take(&mut self.calls) {
            self.command("delete", &[("call-id", Value::Text(&call_id))])?;
        }
        Ok(())
    }

    /// Sends one command and returns the `sdp` of its answer (empty when
    /// it has none).
    fn command(
        &mut self,
        command: &'static str,
        fields: &[(&str, Value<'_>)],
    ) -> Result<String, LoadError> {
        self.cookie += 1;
        let cookie = format!("{}_{}", std::process::id(), self.cookie);
        let mut message = format!("{cookie} d").into_bytes();
        let mut all: Vec<(&str, &Value<'_>)> = fields.iter().map(|(k, v)| (*k, v)).collect();
        let command_value = Value::Text(command);
        all.push(("command", &command_value));
        all.sort_by(|a, b| a.0.cmp(b.0)); // bencode keys in order
        for (key, value) in all {
            put_string(&mut message, key);
            match value {
                Value::Text(text) => put_string(&mut message, text),
                Value::List(items) => {
                    message.push(b'l');
                    for item in *items {
                        put_string(&mut message, item);
                    }
                    message.push(b'e');
                }
            }
        }
        message.push(b'e');
        self.control.send_to(&message, self.server)?;
        let mut buffer = vec![0_u8; MAX_DATAGRAM];
        let deadline = Instant::now() + REPLY_LIMIT;
        loop {
            if Instant::now() >= deadline {
                return Err(LoadError::Timeout {
                    waiting_for: command,
                    server: self.server,
                });
            }
            let length = match self.control.recv(&mut buffer) {
                Ok(length) => length,
                Err(e) if read_timed_out(&e) => {
                    return Err(LoadError::Timeout {
                        waiting_for: command,
                        server: self.server,
                    });
                }
                Err(e) => return Err(e.into()),
            };
            let reply = buffer.get(..length).unwrap_or_default();
            // An answer to an earlier command that came late: skipped.
            let Some(dictionary) = reply
                .strip_prefix(cookie.as_bytes())
                .and_then(|r| r.strip_prefix(b" "))
            else {
                continue;
            };
            let result = dictionary_string(dictionary, "result").unwrap_or_default();
            if result != "ok" && result != "pong" {
                return Err(LoadError::Ng {
                    command,
                    reason: dictionary_string(dictionary, "error-reason").unwrap_or(result),
                });
            }
            return Ok(dictionary_string(dictionary, "sdp").unwrap_or_default());
        }
    }
}

/// A bencoded string: `length:bytes`.
fn put_string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(format!("{}:", text.len()).as_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// The string value of `key` in a bencoded top-level dictionary.
fn dictionary_string(encoded: &[u8], key: &str) -> Option<String> {
    let mut at = 1; // after the `d`
    if encoded.first() != Some(&b'd') {
        return None;
    }
    while encoded.get(at) != Some(&b'e') {
        let (name, next) = read_string(encoded, at)?;
        let value_end = skip_value(encoded, next)?;
        if name == key.as_bytes() {
            let (value, _) = read_string(encoded, next)?;
            return Some(String::from_utf8_lossy(value).into_owned());
        }
        at = value_end;
    }
    None
}

/// A bencoded string at `at`: its bytes and where the next value starts.
fn read_string(encoded: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = encoded.get(at..)?;
    let colon = rest.iter().position(|&b| b == b':')?;
    let length: usize = std::str::from_utf8(rest.get(..colon)?).ok()?.parse().ok()?;
    let start = at + colon + 1;
    Some((encoded.get(start..start + length)?, start + length))
}

/// Where the bencoded value at `at` ends.
fn skip_value(encoded: &[u8], at: usize) -> Option<usize> {
    match encoded.get(at)? {
        b'i' => Some(at + encoded.get(at..)?.iter().position(|&b| b == b'e')? + 1),
        b'l' | b'd' => {
            let mut next = at + 1;
            while encoded.get(next)? != &b'e' {
                next = skip_value(encoded, next)?;
            }
            Some(next + 1)
        }
        _ => read_string(encoded, at).map(|(_, next)| next),
    }
}

#[cfg(test)]
// Test code: a failed unwrap is a failed test.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_sdp_of_an_answer_is_found_past_lists_and_integers() {
        let reply = b"d8:warningsl3:onee5:counti42e6:result2:ok3:sdp5:v=0\r\ne";
        assert_eq!(dictionary_string(reply, "result").unwrap(), "ok");
        assert_eq!(dictionary_string(reply, "sdp").unwrap(), "v=0\r\n");
        assert_eq!(dictionary_string(reply, "error-reason"), None);
    }

    #[test]
    fn a_truncated_answer_yields_nothing_rather_than_a_panic() {
        assert_eq!(dictionary_string(b"d6:result2:o", "result"), None);
        assert_eq!(dictionary_string(b"d3:sdp99:v=0e", "sdp"), None);
    }
}
