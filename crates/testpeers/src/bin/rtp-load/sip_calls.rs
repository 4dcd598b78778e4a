//! Switchboard's sessions, set up through SIP as two phones would: the
//! callee registers (digest), then for each stream the caller (a stranger
//! from another domain, let in without a challenge) sends an INVITE with
//! its offer, the callee answers the forwarded INVITE with 200 and its
//! SDP, the caller ACKs along the Record-Route; at the end the caller
//! hangs up with BYE. The relay's ports are read from the SDP each phone
//! receives. Raw SIP text over UDP: one request at a time, on loopback.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use switchboard_proto::digest::{self, DigestChallenge, RequestInfo};

use crate::error::{LoadError, read_timed_out};
use crate::sdp::{MediaTarget, media_target, phone_sdp};
use crate::stream::Stream;

/// How long one step waits for the server.
const STEP_LIMIT: Duration = Duration::from_secs(5);
const MAX_DATAGRAM: usize = 65_535;

/// An answered call, for its BYE.
#[derive(Debug)]
struct Dialog {
    call_id: String,
    from: String,
    to: String,
    /// The route set: the 200's Record-Route in reverse.
    route: Vec<String>,
    contact: String,
}

/// The two phones' SIP sockets and the calls they hold.
#[derive(Debug)]
pub(crate) struct SipCalls {
    server: SocketAddr,
    domain: String,
    user: String,
    caller: UdpSocket,
    callee: UdpSocket,
    dialogs: Vec<Dialog>,
    branch: u64,
}

impl SipCalls {
    /// Binds the phones' sockets and registers `user` (the callee).
    ///
    /// # Errors
    /// A socket error, the server's silence or its refusal.
    pub(crate) fn register(
        server: SocketAddr,
        domain: &str,
        user: &str,
        password: &str,
    ) -> Result<Self, LoadError> {
        let bind = || -> std::io::Result<UdpSocket> {
            let socket = UdpSocket::bind("127.0.0.1:0")?;
            socket.set_read_timeout(Some(Duration::from_millis(200)))?;
            Ok(socket)
        };
        let mut this = Self {
            server,
            domain: domain.to_owned(),
            user: user.to_owned(),
            caller: bind()?,
            callee: bind()?,
            dialogs: Vec::new(),
            branch: 0,
        };
        // Bindings of earlier runs first: the server would fork every
        // INVITE to them too (dead ports, or ports now another run's RTP).
        this.registration("*", 0, password)?;
        let contact = format!("<sip:{user}@{}>", this.callee.local_addr()?);
        this.registration(&contact, 3600, password)?;
        Ok(this)
    }

    /// One REGISTER of the callee (answering the digest challenge):
    /// `contact` bound for `expires` seconds (`*` and 0: every binding
    /// removed).
    fn registration(
        &mut self,
        contact: &str,
        expires: u32,
        password: &str,
    ) -> Result<(), LoadError> {
        let (user, domain) = (self.user.clone(), self.domain.clone());
        let call_id = format!("rtpload-reg-{}-{expires}", std::process::id());
        let uri = format!("sip:{domain}");
        let mut authorization = String::new();
        for cseq in 1..=2 {
            let request = format!(
                "REGISTER {uri} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n\
                 From: <sip:{user}@{domain}>;tag=reg\r\nTo: <sip:{user}@{domain}>\r\n\
                 Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: {contact}\r\n\
                 Expires: {expires}\r\n{authorization}Content-Length: 0\r\n\r\n",
                via = self.via(Side::Callee)?,
            );
            self.callee.send_to(request.as_bytes(), self.server)?;
            let (response, _) = self.wait(Side::Callee, "answer to REGISTER", |m| {
                is_final_response(m, &call_id, "REGISTER")
            })?;
            match status(&response) {
                Some(200) => return Ok(()),
                Some(401) if cseq == 1 => {
                    authorization = answer_challenge(&response, &user, password, &uri)?;
                }
                _ => {
                    return Err(LoadError::Refused {
                        step: "REGISTER",
                        status_line: first_line(&response).to_owned(),
                    });
                }
            }
        }
        Err(LoadError::Refused {
            step: "REGISTER",
            status_line: "401 after the answer to the challenge".to_owned(),
        })
    }

    /// Calls the callee for stream `index` and returns where the caller
    /// and the callee send (the relay's ports in the answer and in the
    /// forwarded offer).
    ///
    /// # Errors
    /// A socket error, the server's silence or its refusal.
    pub(crate) fn open(
        &mut self,
        index: u64,
        stream: &Stream,
    ) -> Result<(MediaTarget, MediaTarget), LoadError> {
        let (user, domain) = (self.user.clone(), self.domain.clone());
        let call_id = format!("rtpload-{}-{index}", std::process::id());
        let offer = phone_sdp(index, stream.caller.port()?, stream.caller_key.as_ref());
        let from = format!("<sip:load@load.example>;tag=a{index}");
        let invite = format!(
            "INVITE sip:{user}@{domain} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\n\
             To: <sip:{user}@{domain}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:load@{contact}>\r\nContent-Type: application/sdp\r\n\
             Content-Length: {length}\r\n\r\n{offer}",
            via = self.via(Side::Caller)?,
            contact = self.caller.local_addr()?,
            length = offer.len(),
        );
        self.caller.send_to(invite.as_bytes(), self.server)?;

        // The callee gets the offer with the relay's address and answers.
        let (forwarded, from_server) = self.wait(Side::Callee, "forwarded INVITE", |m| {
            m.starts_with("INVITE ") && header(m, "Call-ID", "i") == Some(call_id.as_str())
        })?;
        let callee_side = media_target("forwarded INVITE", body(&forwarded))?;
        let answer = phone_sdp(index, stream.callee.port()?, None);
        let ok = format!(
            "SIP/2.0 200 OK\r\n{copied}To: {to};tag=b{index}\r\nContact: <sip:{user}@{contact}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {length}\r\n\r\n{answer}",
            copied = copied_headers(&forwarded, true),
            to = header(&forwarded, "To", "t").unwrap_or_default(),
            contact = self.callee.local_addr()?,
            length = answer.len(),
        );
        self.callee.send_to(ok.as_bytes(), from_server)?;

        // The caller gets the answer with the relay's address and ACKs.
        let (answered, _) = self.wait(Side::Caller, "200 to the INVITE", |m| {
            is_final_response(m, &call_id, "INVITE")
        })?;
        if status(&answered) != Some(200) {
            return Err(LoadError::Refused {
                step: "INVITE",
                status_line: first_line(&answered).to_owned(),
            });
        }
        let caller_side = media_target("200 to the INVITE", body(&answered))?;
        let mut route = header_list(&answered, "Record-Route");
        route.reverse();
        let dialog = Dialog {
            call_id,
            from,
            to: header(&answered, "To", "t")
                .ok_or(LoadError::Missing {
                    step: "200 to the INVITE",
                    what: "To",
                })?
                .to_owned(),
            route,
            contact: header(&answered, "Contact", "m")
                .and_then(uri_of)
                .ok_or(LoadError::Missing {
                    step: "200 to the INVITE",
                    what: "Contact",
                })?
                .to_owned(),
        };
        self.send_in_dialog(&dialog, "ACK", 1)?;
        self.dialogs.push(dialog);
        Ok((caller_side, callee_side))
    }

    /// Hangs every call up (BYE from the caller, 200 from the callee).
    ///
    /// # Errors
    /// A socket error or the server's silence.
    pub(crate) fn close_all(&mut self) -> Result<(), LoadError> {
        for dialog in std::mem::take(&mut self.dialogs) {
            self.send_in_dialog(&dialog, "BYE", 2)?;
            // `wait` answers the BYE with 200 as it comes to the callee.
            self.wait(Side::Callee, "forwarded BYE", |m| {
                m.starts_with("BYE ") && header(m, "Call-ID", "i") == Some(dialog.call_id.as_str())
            })?;
            self.wait(Side::Caller, "200 to the BYE", |m| {
                is_final_response(m, &dialog.call_id, "BYE")
            })?;
        }
        Ok(())
    }

    /// ACK or BYE of the caller along the route set.
    fn send_in_dialog(
        &mut self,
        dialog: &Dialog,
        method: &str,
        cseq: u32,
    ) -> Result<(), LoadError> {
        let routes: String = dialog
            .route
            .iter()
            .map(|r| format!("Route: {r}\r\n"))
            .collect();
        let request = format!(
            "{method} {contact} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n{routes}From: {from}\r\n\
             To: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
            contact = dialog.contact,
            via = self.via(Side::Caller)?,
            from = dialog.from,
            to = dialog.to,
            call_id = dialog.call_id,
        );
        self.caller.send_to(request.as_bytes(), self.server)?;
        Ok(())
    }

    /// A Via header of a new branch from `side`'s socket.
    fn via(&mut self, side: Side) -> std::io::Result<String> {
        self.branch += 1;
        Ok(format!(
            "Via: SIP/2.0/UDP {};rport;branch=z9hG4bK-rtpload-{}-{}",
            self.socket(side).local_addr()?,
            std::process::id(),
            self.branch
        ))
    }

    fn socket(&self, side: Side) -> &UdpSocket {
        match side {
            Side::Caller => &self.caller,
            Side::Callee => &self.callee,
        }
    }

    /// Reads `side`'s socket until a message `wanted` accepts (the callee
    /// answers any BYE with 200 on the way); other messages (ACKs,
    /// provisional responses) are skipped.
    fn wait(
        &self,
        side: Side,
        waiting_for: &'static str,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<(String, SocketAddr), LoadError> {
        let deadline = Instant::now() + STEP_LIMIT;
        let mut buffer = vec![0_u8; MAX_DATAGRAM];
        let socket = self.socket(side);
        while Instant::now() < deadline {
            let (length, source) = match socket.recv_from(&mut buffer) {
                Ok(read) => read,
                Err(e) if read_timed_out(&e) => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let text =
                String::from_utf8_lossy(buffer.get(..length).unwrap_or_default()).into_owned();
            if side == Side::Callee && text.starts_with("BYE ") {
                let ok = format!(
                    "SIP/2.0 200 OK\r\n{}Content-Length: 0\r\n\r\n",
                    copied_headers(&text, false)
                );
                socket.send_to(ok.as_bytes(), source)?;
            }
            if wanted(&text) {
                return Ok((text, source));
            }
        }
        Err(LoadError::Timeout {
            waiting_for,
            server: self.server,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Caller,
    Callee,
}

/// The Authorization header answering a 401's digest challenge.
fn answer_challenge(
    response: &str,
    user: &str,
    password: &str,
    uri: &str,
) -> Result<String, LoadError> {
    let missing = LoadError::Missing {
        step: "401 to the REGISTER",
        what: "digest challenge",
    };
    let challenge = header_lines(response, "WWW-Authenticate", "")
        .into_iter()
        .find_map(|value| DigestChallenge::parse(value).ok())
        .ok_or(missing)?;
    let ha1 = digest::ha1(
        challenge.algorithm_or_default(),
        user,
        &challenge.realm,
        password,
    );
    let credentials = challenge
        .respond(
            user,
            &ha1,
            &RequestInfo::new("REGISTER", uri),
            "7f3a9c2e",
            1,
        )
        .map_err(|_| LoadError::Missing {
            step: "401 to the REGISTER",
            what: "challenge this tool can answer",
        })?;
    Ok(format!("Authorization: {credentials}\r\n"))
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}

/// The status code of a response.
fn status(message: &str) -> Option<u16> {
    let line = first_line(message);
    line.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// A final response to the request `method` of the call `call_id`.
fn is_final_response(message: &str, call_id: &str, method: &str) -> bool {
    status(message).is_some_and(|s| s >= 200)
        && header(message, "Call-ID", "i") == Some(call_id)
        && header(message, "CSeq", "").and_then(|c| c.split_whitespace().nth(1)) == Some(method)
}

/// The body of a message (after the blank line).
fn body(message: &str) -> &str {
    message.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// Every value of a header (full name or compact form), one per line.
fn header_lines<'a>(message: &'a str, name: &str, compact: &str) -> Vec<&'a str> {
    let head = message.split_once("\r\n\r\n").map_or(message, |(h, _)| h);
    head.lines()
        .skip(1)
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            let key = key.trim();
            (key.eq_ignore_ascii_case(name)
                || (!compact.is_empty() && key.eq_ignore_ascii_case(compact)))
            .then_some(value.trim())
        })
        .collect()
}

/// The first value of a header.
fn header<'a>(message: &'a str, name: &str, compact: &str) -> Option<&'a str> {
    header_lines(message, name, compact).into_iter().next()
}

/// Every element of a comma-separated header such as Record-Route
/// (commas inside `<...>` kept).
fn header_list(message: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for value in header_lines(message, name, "") {
        let (mut depth, mut start) = (0_i32, 0);
        for (i, c) in value.char_indices() {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(value.get(start..i).unwrap_or_default().trim().to_owned());
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(value.get(start..).unwrap_or_default().trim().to_owned());
    }
    out
}

/// The URI inside `<...>` of a name-addr (or the value itself).
fn uri_of(value: &str) -> Option<&str> {
    match value.split_once('<') {
        Some((_, rest)) => rest.split_once('>').map(|(uri, _)| uri),
        None => value.split(';').next(),
    }
}

/// The header lines a response copies from its request (RFC 3261 §8.2.6):
/// Via, From, Call-ID, CSeq, and To (unless `skip_to`: the caller adds a
/// tag); Record-Route too (§12.1.1).
fn copied_headers(request: &str, skip_to: bool) -> String {
    let head = request.split_once("\r\n\r\n").map_or(request, |(h, _)| h);
    let mut out = String::new();
    for line in head.lines().skip(1) {
        let key = line.split_once(':').map_or("", |(k, _)| k.trim());
        let copied = [
            "Via",
            "v",
            "From",
            "f",
            "Call-ID",
            "i",
            "CSeq",
            "Record-Route",
        ]
        .iter()
        .any(|n| key.eq_ignore_ascii_case(n))
            || (!skip_to && (key.eq_ignore_ascii_case("To") || key.eq_ignore_ascii_case("t")));
        if copied {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:u@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=1\r\nv: SIP/2.0/UDP b;branch=2\r\n\
        Record-Route: <sip:p1;lr>, <sip:p2;lr;x=\"a,b\">\r\nRecord-Route: <sip:p3;lr>\r\nFrom: <sip:a@h>;tag=1\r\n\
        To: <sip:u@h>\r\ni: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 3\r\n\r\nv=0";

    #[test]
    fn record_route_elements_are_split_on_commas_outside_brackets() {
        assert_eq!(
            header_list(INVITE, "Record-Route"),
            ["<sip:p1;lr>", "<sip:p2;lr;x=\"a,b\">", "<sip:p3;lr>"]
        );
    }

    #[test]
    fn a_response_copies_vias_in_order_and_compact_headers() {
        let copied = copied_headers(INVITE, true);
        assert!(copied.starts_with("Via: SIP/2.0/UDP a;branch=1\r\nv: SIP/2.0/UDP b;branch=2\r\n"));
        assert!(copied.contains("i: c1\r\n") && copied.contains("CSeq: 1 INVITE\r\n"));
        assert!(!copied.contains("To:"));
        assert_eq!(header(INVITE, "Call-ID", "i"), Some("c1"));
        assert_eq!(body(INVITE), "v=0");
    }
}
