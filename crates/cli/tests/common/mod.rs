//! Helpers of the end-to-end tests of the binary: the binary itself
//! (`switchboard()`), SIP text, scripted UDP and WebSocket peers; the
//! processes, ports and peers come from `switchboard-testsupport`.
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use switchboard_media::audio::{dominant_frequency, read_wav_file_8k, rms_dbfs};
use switchboard_proto::digest::{self, Algorithm, Qop};
pub use switchboard_testsupport::*;

pub mod browser;
pub mod media;
pub mod nat;

/// The binary under test.
pub fn switchboard() -> Switchboard {
    Switchboard::new(env!("CARGO_BIN_EXE_switchboard"))
}

/// `switchboard args` as a user agent at `server` with password
/// `secret` and SRTP off (`args[0]` names the process in reports).
pub fn agent_at(server: &Server, args: &[&str]) -> Proc {
    let addr = server.addr().to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--password", "secret", "--server", &addr, "--srtp", "off"]);
    switchboard().spawn(args[0], &all)
}

/// `switchboard user add NAME --password secret --domain DOMAIN` for each
/// of `names`, in the store at `url`.
pub fn add_users_on(url: &str, names: &[&str]) {
    for name in names {
        run_on(
            url,
            &[
                "user",
                "add",
                name,
                "--password",
                "secret",
                "--domain",
                DOMAIN,
            ],
        );
    }
}

/// `switchboard args --database url`, run to its end; its stdout.
pub fn run_on(url: &str, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--database", url]);
    let out = switchboard().run(&all);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// SIPp's register.xml for `users` (`(name, password)`), each with the
/// contact `127.0.0.1:contact_port` for an hour, sent to `target`
/// (`IP:PORT`) from a free port: the run, ended.
pub fn sipp_register(
    dir: &Path,
    users: &[(String, String)],
    contact_port: u16,
    target: &str,
) -> SippRun {
    let users_csv = dir.join("users.csv");
    let mut lines = vec!["SEQUENTIAL\n".to_owned()];
    for (u, p) in users {
        lines.push(format!(
            "{u};{p};[authentication username={u} password={p}]\n"
        ));
    }
    std::fs::write(&users_csv, lines.concat()).unwrap();
    Sipp::new("register", dir)
        .args(&["-sf", scenario("register.xml").to_str().unwrap()])
        .loopback_udp(free_port())
        .args(&["-inf", users_csv.to_str().unwrap()])
        .args(&["-key", "contact_host", "127.0.0.1"])
        .args(&["-key", "contact_port", &contact_port.to_string()])
        .args(&["-key", "expires", "3600"])
        .args(&["-m", &users.len().to_string(), "-r", "100"])
        .args(&["-recv_timeout", "5000", "-timeout", "50", "-timeout_error"])
        .args(&[target])
        .run(Duration::from_secs(60))
}

/// `serve` on `data` with the admin API on a free loopback port (checked
/// in its log): the server and the API's address.
pub fn serve_with_admin(data: &Path) -> (Server, SocketAddr) {
    serve_with_admin_config(data, "")
}

/// [`serve_with_admin`] with more of the configuration file.
pub fn serve_with_admin_config(data: &Path, config: &str) -> (Server, SocketAddr) {
    serve_with_admin_from(switchboard().serve(data), config)
}

/// `serve` as configured so far (more listeners, ...), with the
/// configuration of [`serve_with_admin_config`].
pub fn serve_with_admin_from(serve: Serve, config: &str) -> (Server, SocketAddr) {
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = serve
        .config(&format!("{NO_RATE_LIMIT}{config}"))
        .args(&["--admin", &admin.to_string()])
        .start();
    assert!(
        server
            .log_text()
            .contains(&format!("admin: API on http://{admin}/api/v1")),
        "{}",
        server.log_text()
    );
    (server, admin)
}

/// The body of `GET /metrics` on the admin listener at `admin`.
pub fn metrics(admin: SocketAddr) -> String {
    let mut stream = TcpStream::connect(admin).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {admin}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Frequency and level of the loudest second of a recording (an 8 kHz WAV).
pub fn loudest_second(path: &Path) -> (f32, f32) {
    let samples = read_wav_file_8k(path).unwrap();
    let best = samples
        .chunks(8_000)
        .filter(|c| c.len() == 8_000)
        .max_by(|a, b| rms_dbfs(a).total_cmp(&rms_dbfs(b)))
        .unwrap_or_else(|| panic!("{} holds under a second", path.display()));
    (dominant_frequency(best, 8_000), rms_dbfs(best))
}

/// Asserts that the newest received-audio dump of `phone` (waited for
/// 10 s at most) is a `hz` tone (20 Hz apart at most) above -30 dBFS.
pub fn assert_heard(phone: &Baresip, hz: f32) {
    let (freq, level) = loudest_second(&phone.wait_received_audio(Duration::from_secs(10)));
    assert!(
        (freq - hz).abs() <= 20.0 && level > -30.0,
        "heard {freq} Hz at {level} dBFS, wanted {hz} Hz\n{}",
        phone.report()
    );
}

/// The value of the metric line starting with `name ` (no labels).
pub fn metric(admin: SocketAddr, name: &str) -> u64 {
    let text = metrics(admin);
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// `switchboard token create NAME` on `data`: the token printed.
pub fn create_token(data: &Path, name: &str) -> String {
    let o = switchboard().run(&["token", "create", name, "--data", path_str(data)]);
    assert!(o.status.success(), "token create: {}", text(&o.stderr));
    let token = text(&o.stdout).trim().to_owned();
    assert_eq!(token.len(), 43, "32 bytes base64url: {token:?}");
    token
}

/// `switchboard cdr --format json` on `data`: one JSON object per line.
pub fn call_records(data: &Path) -> Vec<serde_json::Value> {
    let out = switchboard().run(&["cdr", "--data", path_str(data), "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Waits (15 s at most) until `data` holds `count` ended call records;
/// returns them.
pub fn ended_records(data: &Path, count: usize) -> Vec<serde_json::Value> {
    let mut last = Vec::new();
    let done = wait_for(Duration::from_secs(15), || {
        last = call_records(data);
        last.len() == count && last.iter().all(|r| r["end_ms"].is_u64())
    });
    assert!(done, "{count} ended records wanted: {last:#?}");
    last
}

/// The bench's users: `user0000..` with password `pw-<user>`.
pub fn bench_users(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("user{i:04}"), format!("pw-user{i:04}")))
        .collect()
}

/// `(user, password)` pairs as the string slices the helpers take.
pub fn pairs(users: &[(String, String)]) -> Vec<(&str, &str)> {
    users
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect()
}

/// A self-signed certificate for `localhost` and 127.0.0.1, as PEM files
/// in `dir`: (certificate, key).
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    (cert_path, key_path)
}

// --- SIP text -----------------------------------------------------------------

/// The value of the first header `name` (case-insensitive) of `message`.
pub fn header(message: &str, name: &str) -> Option<String> {
    let want = format!("{}:", name.to_ascii_lowercase());
    message
        .split("\r\n")
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_ascii_lowercase().starts_with(&want))
        .map(|l| l[want.len()..].trim().to_owned())
}

/// Every line of header `name`, as written.
pub fn header_lines(message: &str, name: &str) -> Vec<String> {
    let want = format!("{}:", name.to_ascii_lowercase());
    message
        .split("\r\n")
        .take_while(|l| !l.is_empty())
        .filter(|l| l.to_ascii_lowercase().starts_with(&want))
        .map(str::to_owned)
        .collect()
}

/// The status line's code, 0 for a request.
pub fn status_code(message: &str) -> u16 {
    message
        .strip_prefix("SIP/2.0 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The method of a request (the first word), or of a response's CSeq.
pub fn method(message: &str) -> String {
    if message.starts_with("SIP/2.0") {
        header(message, "CSeq")
            .and_then(|c| c.split_whitespace().nth(1).map(str::to_owned))
            .unwrap_or_default()
    } else {
        message.split(' ').next().unwrap_or_default().to_owned()
    }
}

/// `name="value"` (or unquoted) from a challenge header value.
pub fn param(value: &str, name: &str) -> Option<String> {
    let at = value.find(&format!("{name}="))? + name.len() + 1;
    let rest = &value[at..];
    if let Some(rest) = rest.strip_prefix('"') {
        Some(rest[..rest.find('"')?].to_owned())
    } else {
        Some(rest.split([',', ' ']).next().unwrap_or_default().to_owned())
    }
}

/// The credentials answering the first MD5 challenge of `response` (401 or
/// 407) for `method` on `uri`.
pub fn credentials(response: &str, method: &str, uri: &str, user: &str, password: &str) -> String {
    let challenge = header(response, "Proxy-Authenticate")
        .or_else(|| header(response, "WWW-Authenticate"))
        .expect("a challenge");
    let nonce = param(&challenge, "nonce").expect("a nonce");
    let realm = param(&challenge, "realm").expect("a realm");
    let ha1 = digest::ha1(Algorithm::Md5, user, &realm, password);
    let ha2 = digest::ha2(Algorithm::Md5, method, uri);
    let cnonce = "c0ffee";
    let response = digest::response(Algorithm::Md5, &ha1, &nonce, 1, cnonce, Qop::Auth, &ha2);
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"{cnonce}\""
    )
}

/// A response to `request` built from its Via, From, To, Call-ID, CSeq
/// (and Record-Route) lines, with `to_tag` added to To when it has none.
pub fn response_to(request: &str, code: u16, reason: &str, to_tag: &str, extra: &str) -> String {
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    for l in header_lines(request, "Via") {
        out.push_str(&l);
        out.push_str("\r\n");
    }
    if (200..300).contains(&code) || (101..200).contains(&code) {
        for l in header_lines(request, "Record-Route") {
            out.push_str(&l);
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("From: {}\r\n", header(request, "From").unwrap()));
    let to = header(request, "To").unwrap();
    if to.contains(";tag=") || code == 100 {
        out.push_str(&format!("To: {to}\r\n"));
    } else {
        out.push_str(&format!("To: {to};tag={to_tag}\r\n"));
    }
    out.push_str(&format!(
        "Call-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: 0\r\n\r\n",
        header(request, "Call-ID").unwrap(),
        header(request, "CSeq").unwrap()
    ));
    out
}

/// A scripted SIP peer on a UDP socket of 127.0.0.1.
pub struct UdpPeer {
    pub socket: UdpSocket,
    pub server: SocketAddr,
    branch: u64,
}

impl UdpPeer {
    pub fn new(server: SocketAddr) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        Self {
            socket,
            server,
            branch: 0,
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    pub fn branch(&mut self) -> String {
        self.branch += 1;
        format!("z9hG4bK-e2e-{}-{}", self.local().port(), self.branch)
    }

    pub fn send(&self, message: &str) {
        self.socket
            .send_to(message.as_bytes(), self.server)
            .unwrap();
    }

    /// The next message within `limit` (retransmissions included).
    pub fn recv(&self, limit: Duration) -> Option<String> {
        let mut buf = [0u8; 65_535];
        self.socket.set_read_timeout(Some(limit)).unwrap();
        match self.socket.recv_from(&mut buf) {
            Ok((n, _)) => Some(text(&buf[..n])),
            Err(_) => None,
        }
    }

    /// Messages until one satisfies `want` (within `limit`); the others
    /// seen are given back too.
    pub fn recv_until(
        &self,
        limit: Duration,
        mut want: impl FnMut(&str) -> bool,
    ) -> (Option<String>, Vec<String>) {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        while let Some(left) = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        {
            let Some(m) = self.recv(left) else { break };
            if want(&m) {
                return (Some(m), seen);
            }
            seen.push(m);
        }
        (None, seen)
    }

    /// Sends `request` (again every 500 ms, 8 times at most) until a final
    /// response comes.
    pub fn transact(&self, request: &str) -> Option<String> {
        for _ in 0..8 {
            self.send(request);
            let (r, _) = self.recv_until(Duration::from_millis(500), |m| status_code(m) >= 200);
            if r.is_some() {
                return r;
            }
        }
        None
    }

    /// An out-of-dialog request from `from_user`@127.0.0.1 to `uri`.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &mut self,
        method: &str,
        uri: &str,
        from: &str,
        to: &str,
        call_id: &str,
        cseq: u32,
        extra: &str,
    ) -> String {
        let branch = self.branch();
        let local = self.local();
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: <{from}>;tag=f{}\r\nTo: <{to}>\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\
             Contact: <sip:{}@{local}>\r\n{extra}Content-Length: 0\r\n\r\n",
            local.port(),
            from.trim_start_matches("sip:")
                .split('@')
                .next()
                .unwrap_or("x"),
        )
    }

    /// REGISTER `user` with this socket as contact (401, then digest).
    pub fn register(&mut self, user: &str, password: &str) {
        self.register_contact(user, password, None);
    }

    /// REGISTER `user` with `contact` (this socket when `None`) as its
    /// contact: a phone behind NAT names its private address.
    pub fn register_contact(&mut self, user: &str, password: &str, contact: Option<&str>) {
        let uri = format!("sip:{DOMAIN}");
        let aor = format!("sip:{user}@{DOMAIN}");
        let call_id = format!("reg-{user}-{}", self.local().port());
        let local_contact = format!("Contact: <sip:{user}@{}>\r\n", self.local());
        let contact = |m: String| match contact {
            Some(c) => m.replace(&local_contact, &format!("Contact: <{c}>\r\n")),
            None => m,
        };
        let first = contact(self.request(
            "REGISTER",
            &uri,
            &aor,
            &aor,
            &call_id,
            1,
            "Expires: 600\r\n",
        ));
        let challenge = self.transact(&first).expect("an answer to REGISTER");
        assert_eq!(status_code(&challenge), 401, "{challenge}");
        let auth = credentials(&challenge, "REGISTER", &uri, user, password);
        let second = contact(self.request(
            "REGISTER",
            &uri,
            &aor,
            &aor,
            &call_id,
            2,
            &format!("Expires: 600\r\nAuthorization: {auth}\r\n"),
        ));
        let ok = self.transact(&second).expect("an answer to REGISTER");
        assert_eq!(status_code(&ok), 200, "{ok}");
    }
}

// --- SIPp -----------------------------------------------------------------------

/// The scenario file `name` of `tests/sipp`.
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// Connects to `addr` over TCP within `limit`.
pub fn connect(addr: SocketAddr, limit: Duration) -> Option<TcpStream> {
    let mut stream = None;
    wait_for(limit, || {
        stream = TcpStream::connect(addr).ok();
        stream.is_some()
    });
    stream
}

// --- WebSocket (RFC 7118) ---------------------------------------------------------

/// A SIP-over-WebSocket client as a browser is: a connection that accepts
/// nothing else, a `*.invalid` contact.
pub struct WsPeer {
    stream: TcpStream,
    /// The client's made-up host (`xxxx.invalid`).
    pub host: String,
    branch: u64,
}

impl WsPeer {
    /// Opens `ws://127.0.0.1:port` with the `sip` subprotocol.
    pub fn connect(port: u16, host: &str) -> Self {
        let mut stream = connect(
            SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(5),
        )
        .expect("WebSocket listener");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write!(
            stream,
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = text(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        Self {
            stream,
            host: host.to_owned(),
            branch: 0,
        }
    }

    pub fn branch(&mut self) -> String {
        self.branch += 1;
        format!("z9hG4bK-ws-{}-{}", self.host, self.branch)
    }

    /// The contact: `sip:user@host.invalid;transport=ws`.
    pub fn contact(&self, user: &str) -> String {
        format!("sip:{user}@{};transport=ws", self.host)
    }

    /// Sends one SIP message as a (masked) text frame.
    pub fn send(&mut self, message: &str) {
        let payload = message.as_bytes();
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).unwrap();
    }

    /// The next SIP message (text or binary frame) within `limit`.
    pub fn recv(&mut self, limit: Duration) -> Option<String> {
        self.stream.set_read_timeout(Some(limit)).unwrap();
        loop {
            let mut head = [0u8; 2];
            self.stream.read_exact(&mut head).ok()?;
            let opcode = head[0] & 0x0f;
            let len = match head[1] & 0x7f {
                126 => {
                    let mut l = [0u8; 2];
                    self.stream.read_exact(&mut l).ok()?;
                    usize::from(u16::from_be_bytes(l))
                }
                127 => {
                    let mut l = [0u8; 8];
                    self.stream.read_exact(&mut l).ok()?;
                    usize::try_from(u64::from_be_bytes(l)).ok()?
                }
                n => usize::from(n),
            };
            let mut payload = vec![0u8; len];
            self.stream.read_exact(&mut payload).ok()?;
            if opcode == 1 || opcode == 2 {
                return Some(text(&payload));
            }
        }
    }

    /// Messages until one satisfies `want` (within `limit`).
    pub fn recv_until(
        &mut self,
        limit: Duration,
        mut want: impl FnMut(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        {
            let m = self.recv(left)?;
            if want(&m) {
                return Some(m);
            }
        }
        None
    }

    /// A REGISTER of `user` with the `*.invalid` contact, as JsSIP sends it.
    fn register_request(&mut self, user: &str, cseq: u32, auth: &str) -> String {
        let branch = self.branch();
        let host = self.host.clone();
        let contact = self.contact(&format!("{user}x"));
        format!(
            "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/WSS {host};branch={branch}\r\n\
             Max-Forwards: 69\r\nFrom: <sip:{user}@{DOMAIN}>;tag=ws{user}\r\n\
             To: <sip:{user}@{DOMAIN}>\r\nCall-ID: ws-reg-{host}\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <{contact}>;expires=600\r\nExpires: 600\r\n{auth}Content-Length: 0\r\n\r\n"
        )
    }

    /// REGISTER `user` (401, then digest); the contact registered.
    pub fn register(&mut self, user: &str, password: &str) -> String {
        let first = self.register_request(user, 1, "");
        self.send(&first);
        let challenge = self
            .recv_until(Duration::from_secs(5), |m| status_code(m) >= 200)
            .expect("an answer to REGISTER");
        assert_eq!(status_code(&challenge), 401, "{challenge}");
        let auth = credentials(
            &challenge,
            "REGISTER",
            &format!("sip:{DOMAIN}"),
            user,
            password,
        );
        let second = self.register_request(user, 2, &format!("Authorization: {auth}\r\n"));
        self.send(&second);
        let ok = self
            .recv_until(Duration::from_secs(5), |m| status_code(m) >= 200)
            .expect("an answer to REGISTER");
        assert_eq!(status_code(&ok), 200, "{ok}");
        self.contact(&format!("{user}x"))
    }
}
