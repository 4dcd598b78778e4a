//! End-to-end tests of `switchboard serve`, `user` and `registrations`: the
//! real binary on loopback, random free ports, temporary data directories.
//! Every server is killed by PID when its test ends (a guard), and every
//! wait is bounded.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use switchboard_proto::digest::{self, Algorithm, Qop};

fn run(args: &[&str]) -> Output {
    switchboard().run(args)
}

/// Starts `serve` on UDP and TCP 127.0.0.1:`port` with `data`, domain
/// 127.0.0.1, and waits (30 s at most) for its "ready" line.
fn start_server(data: &Path, port: u16) -> Server {
    start_server_with(data, port, &[])
}

/// [`start_server`] with more arguments (after the defaults). The
/// configuration is `switchboard.toml` beside `data` when a test wrote
/// one, else the per-source rate limit is off (every test client is
/// 127.0.0.1).
fn start_server_with(data: &Path, port: u16, extra: &[&str]) -> Server {
    let written = data.parent().map(|d| d.join("switchboard.toml"));
    let config = written
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_else(|| NO_RATE_LIMIT.to_owned());
    switchboard()
        .serve(data)
        .port(port)
        .config(&config)
        .args(extra)
        .start()
}

/// A minimal SIP client over UDP.
struct Client {
    socket: UdpSocket,
    server: SocketAddr,
    branch: u64,
}

impl Client {
    fn new(port: u16) -> Self {
        Self::to(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// A client on the loopback address of `server`'s family.
    fn to(server: SocketAddr) -> Self {
        let local = SocketAddr::new(server.ip(), 0);
        let socket = UdpSocket::bind(local).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        Self {
            socket,
            server,
            branch: 0,
        }
    }

    fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    /// Sends `request` (retransmitting up to 4 times) and returns the first
    /// final response.
    fn transact(&mut self, request: &str) -> String {
        self.try_transact(request, 5)
            .unwrap_or_else(|| panic!("no answer to\n{request}"))
    }

    /// Sends `request` up to `tries` times, 2 s apart; the first final
    /// response, or `None`.
    fn try_transact(&mut self, request: &str, tries: u32) -> Option<String> {
        let mut buf = [0u8; 65_535];
        for _ in 0..tries {
            self.socket
                .send_to(request.as_bytes(), self.server)
                .unwrap();
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until {
                match self.socket.recv_from(&mut buf) {
                    Ok((n, _)) => {
                        let r = text(&buf[..n]);
                        if !r.starts_with("SIP/2.0 1") {
                            return Some(r);
                        }
                    }
                    Err(_) => break,
                }
            }
        }
        None
    }

    fn next_branch(&mut self) -> String {
        self.branch += 1;
        format!("z9hG4bK-test-{}-{}", self.local().port(), self.branch)
    }

    fn options(&mut self) -> String {
        let branch = self.next_branch();
        let local = self.local();
        let req = format!(
            "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p1\r\nTo: <sip:127.0.0.1>\r\n\
             Call-ID: opt-{branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        self.transact(&req)
    }

    fn register(&mut self, user: &str, cseq: u32, auth: Option<&str>) -> String {
        self.register_for(user, cseq, auth, 3600)
    }

    fn register_for(&mut self, user: &str, cseq: u32, auth: Option<&str>, expires: u32) -> String {
        let req = self.register_request(user, cseq, auth, expires);
        self.transact(&req)
    }

    fn register_request(
        &mut self,
        user: &str,
        cseq: u32,
        auth: Option<&str>,
        expires: u32,
    ) -> String {
        let branch = self.next_branch();
        let local = self.local();
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag=r{user}\r\nTo: <sip:{user}@127.0.0.1>\r\n\
             Call-ID: reg-{user}-{}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{local}>\r\n\
             Expires: {expires}\r\n{auth}Content-Length: 0\r\n\r\n",
            local.port()
        )
    }

    /// Like [`register_with_password`](Self::register_with_password), but
    /// `None` when the server stops answering (it was killed).
    fn try_register(&mut self, user: &str, password: &str) -> Option<String> {
        let req = self.register_request(user, 1, None, 3600);
        let first = self.try_transact(&req, 1)?;
        let auth = authorization(&first, user, password);
        let req = self.register_request(user, 2, Some(&auth), 3600);
        self.try_transact(&req, 1)
    }

    /// REGISTER, 401, REGISTER with digest; the final response.
    fn register_with_password(&mut self, user: &str, password: &str) -> (String, String) {
        self.register_with_password_for(user, password, 3600)
    }

    fn register_with_password_for(
        &mut self,
        user: &str,
        password: &str,
        expires: u32,
    ) -> (String, String) {
        let first = self.register_for(user, 1, None, expires);
        assert!(first.starts_with("SIP/2.0 401"), "{first}");
        let auth = authorization(&first, user, password);
        let second = self.register_for(user, 2, Some(&auth), expires);
        (first, second)
    }
}

/// The Authorization value answering the 401 `challenge` (MD5, qop=auth).
fn authorization(challenge: &str, user: &str, password: &str) -> String {
    let nonce = param(challenge, "nonce").expect("a nonce");
    let realm = param(challenge, "realm").expect("a realm");
    let uri = "sip:127.0.0.1";
    let ha1 = digest::ha1(Algorithm::Md5, user, &realm, password);
    let ha2 = digest::ha2(Algorithm::Md5, "REGISTER", uri);
    let cnonce = "c0ffee";
    let response = digest::response(Algorithm::Md5, &ha1, &nonce, 1, cnonce, Qop::Auth, &ha2);
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"{cnonce}\""
    )
}

/// `name="value"` from the first WWW-Authenticate of a response.
fn param(response: &str, name: &str) -> Option<String> {
    let line = response
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))?;
    let at = line.find(&format!("{name}=\""))? + name.len() + 2;
    let rest = &line[at..];
    Some(rest[..rest.find('"')?].to_owned())
}

fn status(response: &str) -> &str {
    response.lines().next().unwrap_or_default()
}

/// A CSV of `userNNNN,pw-userNNNN` for `0..n`.
fn users_csv(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("users.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    for i in 0..n {
        writeln!(f, "user{i:04},pw-user{i:04}").unwrap();
    }
    path
}

fn import(data: &Path, csv: &Path) -> String {
    let o = run(&[
        "user",
        "import",
        csv.to_str().unwrap(),
        "--domain",
        "127.0.0.1",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    text(&o.stdout)
}

fn registrations(data: &Path) -> Vec<String> {
    let o = run(&["registrations", "--data", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    text(&o.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn user_groups_are_given_at_add_replaced_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let d = d.to_str().unwrap();
    let add = |name: &str, groups: &[&str]| {
        let mut args = vec![
            "user",
            "add",
            name,
            "--password",
            "pw",
            "--domain",
            "example.com",
        ];
        for g in groups {
            args.extend(["--group", g]);
        }
        args.extend(["--data", d]);
        run(&args)
    };
    let o = add("alice", &["staff", "sales", "staff"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = add("bob", &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = add("carol", &["no,commas"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("no,commas"), "{}", text(&o.stderr));
    let list = || text(&run(&["user", "list", "--data", d]).stdout);
    assert_eq!(list(), "alice@example.com\tsales,staff\nbob@example.com\n");
    let o = run(&["user", "groups", "bob", "night-shift, staff", "--data", d]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "groups of bob@example.com: night-shift,staff\n"
    );
    let o = run(&["user", "groups", "alice", "", "--data", d]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        list(),
        "alice@example.com\nbob@example.com\tnight-shift,staff\n"
    );
    let o = run(&["user", "groups", "dave", "staff", "--data", d]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("no user dave"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn user_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let o = run(&[
        "user",
        "add",
        "alice",
        "--password",
        "s3cret",
        "--domain",
        "example.com",
        "--data",
        d,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "added alice@example.com\n");
    // Adding twice is refused.
    let o = run(&[
        "user",
        "add",
        "alice",
        "--password",
        "x",
        "--domain",
        "example.com",
        "--data",
        d,
    ]);
    assert!(!o.status.success());
    let o = run(&["user", "list", "--data", d]);
    assert_eq!(text(&o.stdout), "alice@example.com\n");
    let o = run(&[
        "user",
        "passwd",
        "alice",
        "--password",
        "other",
        "--data",
        d,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "password changed: alice@example.com\n");
    // The password is nowhere in the database file (or database).
    let db = TestStore::stored_bytes(&data);
    assert!(
        !db.windows(5).any(|w| w == b"other"),
        "password stored in clear"
    );
    let o = run(&["user", "remove", "alice", "--data", d]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = run(&["user", "remove", "alice", "--data", d]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("no user alice"));
    let o = run(&["user", "list", "--data", d]);
    assert_eq!(text(&o.stdout), "");

    // Without --domain: the default domains, localhost and 127.0.0.1 among them.
    let o = run(&["user", "add", "bob", "--password", "pw", "--data", d]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let listed = text(&run(&["user", "list", "--data", d]).stdout);
    assert!(
        listed.contains("bob@localhost\n") && listed.contains("bob@127.0.0.1\n"),
        "{listed}"
    );

    // 10,000 users from a CSV file.
    let csv = users_csv(dir.path(), 10_000);
    let out = import(&data, &csv);
    println!("user import of 10000 users: {out}");
    assert!(
        out.starts_with("imported 10000 users into 127.0.0.1"),
        "{out}"
    );
    assert!(out.trim_end().ends_with(" s"), "{out}");
    let o = run(&["user", "list", "--domain", "127.0.0.1", "--data", d]);
    let listed = text(&o.stdout);
    assert_eq!(listed.lines().count(), 10_001, "10000 imported + bob");
    assert!(listed.contains("user9999@127.0.0.1\n"));
    // Importing again updates.
    let out = import(&data, &csv);
    assert!(out.contains("0 added, 10000 updated"), "{out}");
}

#[test]
fn invalid_configuration_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cases: &[(&str, &str)] = &[
        ("[protection]\nrate = \"fast\"\n", "protection.rate"),
        ("listn = [\"udp:127.0.0.1:5060\"]\n", "listn"),
        ("listen = [\"sctp:127.0.0.1:5060\"]\n", "listen"),
        ("listen = [\"tls:127.0.0.1:5061\"]\n", "tls_cert"),
        (
            "[registrar]\nmin_expires = 600\nmax_expires = 60\n",
            "registrar.max_expires",
        ),
    ];
    for (i, (toml, key)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, toml).unwrap();
        let o = run(&[
            "serve",
            "--config",
            path.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{toml}: {err}");
        assert!(err.contains(&format!("`{key}`")), "{toml}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    let o = run(&[
        "serve",
        "--listen",
        "udp:nowhere",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("`--listen`"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn serve_answers_options() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(&dir.path().join("data"), free_port());
    let mut client = Client::new(server.port);
    let r = client.options();
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    assert!(
        r.contains("Allow: ") && r.contains("REGISTER") && r.contains("INVITE"),
        "{r}"
    );
    assert!(r.contains("Accept: application/sdp"), "{r}");
    assert!(r.contains("Supported: "), "{r}");
    // Other methods are proxied: a local caller is challenged first.
    let branch = client.next_branch();
    let local = client.local();
    let r = client.transact(&format!(
        "MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=m1\r\nTo: <sip:bob@127.0.0.1>\r\n\
         Call-ID: msg-{branch}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(r.starts_with("SIP/2.0 407"), "{r}");
    // SIGTERM: a clean stop, exit code 0, within 10 s.
    let mut server = server;
    server.process().signal("TERM");
    let status = server.process().wait(Duration::from_secs(10));
    let status = status.unwrap_or_else(|| panic!("no exit 10 s after SIGTERM"));
    assert!(status.success(), "{status}");
}

/// With no `listen` the server takes UDP and TCP on every IPv4 address and,
/// where the host has IPv6, on every IPv6 address too: OPTIONS over UDP
/// to 127.0.0.1 and to [::1] are both answered.
#[test]
fn default_listeners_take_ipv4_and_ipv6() {
    let dir = tempfile::tempdir().unwrap();
    let has_ipv6 = UdpSocket::bind("[::1]:0").is_ok();
    // Free on both families, UDP and TCP.
    let port = loop {
        let port = free_port();
        if !has_ipv6
            || (UdpSocket::bind(("::", port)).is_ok() && TcpListener::bind(("::", port)).is_ok())
        {
            break port;
        }
    };
    let server = switchboard()
        .serve(&dir.path().join("data"))
        .port(port)
        .config(NO_RATE_LIMIT)
        .default_listeners()
        .start();
    let mut addrs = vec![SocketAddr::from(([127, 0, 0, 1], port))];
    if has_ipv6 {
        addrs.push(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)));
    }
    for addr in addrs {
        let r = Client::to(addr).options();
        assert!(r.starts_with("SIP/2.0 200"), "over {addr}: {r}");
    }
    drop(server);
}

/// Headers of a 401 without what differs between any two answers (tags,
/// nonces, the request's own Via, Call-ID, From, To).
fn shape(response: &str) -> Vec<String> {
    response
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            !(l.starts_with("via:")
                || l.starts_with("call-id:")
                || l.starts_with("from:")
                || l.starts_with("to:"))
        })
        .map(|l| match l.find("nonce=\"") {
            Some(at) => {
                let end = l[at + 7..].find('"').unwrap() + at + 7;
                format!("{}NONCE{}", &l[..at + 7], &l[end..])
            }
            None => l.to_owned(),
        })
        .collect()
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_401() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let o = run(&[
        "user",
        "add",
        "alice",
        "--password",
        "right",
        "--domain",
        "127.0.0.1",
        "--data",
        d,
    ]);
    assert!(o.status.success());
    let server = start_server(&data, free_port());
    let mut client = Client::new(server.port);
    // No credentials: a challenge, never a binding.
    let r = client.register("alice", 1, None);
    assert!(r.starts_with("SIP/2.0 401"), "{r}");
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..3 {
        let (_, r) = client.register_with_password("alice", "wrong");
        assert!(
            r.starts_with("SIP/2.0 401"),
            "wrong password got {}",
            status(&r)
        );
        wrong.push(r);
        let (_, r) = client.register_with_password("mallory", "anything");
        assert!(
            r.starts_with("SIP/2.0 401"),
            "unknown user got {}",
            status(&r)
        );
        unknown.push(r);
    }
    for (w, u) in wrong.iter().zip(&unknown) {
        assert_eq!(shape(w), shape(u), "distinguishable:\n{w}\n---\n{u}");
    }
    // The right password still works (the device is not locked out by 3 failures).
    let (_, r) = client.register_with_password("alice", "right");
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    assert!(
        registrations(&data)
            .iter()
            .any(|l| l.starts_with("sip:alice@127.0.0.1 "))
    );
    drop(server);
}

#[test]
fn bindings_survive_kill_9() {
    const N: usize = 400;
    const THREADS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    import(&data, &users_csv(dir.path(), N));
    let port = free_port();
    let server = start_server(&data, port);
    // Four clients register at once (so that commits are grouped) while
    // the server is killed in the middle: every REGISTER that got its
    // 200 OK must be stored, whatever was in flight.
    let (acks_tx, acks_rx) = mpsc::channel::<String>();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let acks = acks_tx.clone();
            std::thread::spawn(move || {
                let mut client = Client::new(port);
                for i in (t..N).step_by(THREADS) {
                    let user = format!("user{i:04}");
                    match client.try_register(&user, &format!("pw-{user}")) {
                        Some(r) if r.starts_with("SIP/2.0 200") => {
                            assert!(r.contains("expires="), "{r}");
                            let _ = acks.send(user);
                        }
                        Some(r) => panic!("{user}: {r}"),
                        None => return,
                    }
                }
            })
        })
        .collect();
    drop(acks_tx);
    let mut acknowledged = Vec::new();
    while acknowledged.len() < N / 2 {
        acknowledged.push(
            acks_rx
                .recv_timeout(Duration::from_secs(30))
                .expect("registrations stalled"),
        );
    }
    // SIGKILL: no shutdown, no flush.
    drop(server);
    for w in workers {
        w.join().unwrap();
    }
    acknowledged.extend(acks_rx.try_iter());
    println!(
        "{} registrations acknowledged before kill -9",
        acknowledged.len()
    );
    let listed = registrations(&data);
    for user in &acknowledged {
        let line = listed
            .iter()
            .find(|l| l.starts_with(&format!("sip:{user}@127.0.0.1 ")))
            .unwrap_or_else(|| panic!("{user} lost:\n{}", listed.join("\n")));
        let expires: u64 = line
            .split(' ')
            .find_map(|w| w.strip_prefix("expires="))
            .unwrap()
            .parse()
            .unwrap();
        assert!((3000..=3600).contains(&expires), "{line}");
    }
    // Restarted on the same data, the server has them all (and perhaps a
    // few more that were stored but not yet acknowledged).
    let server = start_server(&data, port);
    let loaded = server
        .log_lines()
        .into_iter()
        .find(|l| l.contains("bindings:"))
        .unwrap_or_default();
    let live: usize = loaded
        .split("bindings: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{loaded}"));
    assert!(
        live >= acknowledged.len() && live == listed.len(),
        "{loaded}"
    );
    let mut client = Client::new(port);
    let r = client.options();
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    drop(server);
}

#[test]
fn sipp_registers_5000_users_over_udp() {
    sipp_registers("u1", 5000, 1000);
}

#[test]
fn sipp_registers_2000_users_over_tcp() {
    sipp_registers("t1", 2000, 500);
}

/// SIPp registers `users` users (REGISTER, 401, REGISTER with digest, 200)
/// at `rate` per second over SIPp transport `mode` (`u1` UDP, `t1` one
/// TCP connection); every one succeeds and is stored.
fn sipp_registers(mode: &str, users: usize, rate: u32) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    import(&data, &users_csv(dir.path(), users));
    let server = start_server(&data, free_port());
    // SIPp's injection file: user;password;[authentication ...].
    let inf = dir.path().join("sipp-users.csv");
    let mut f = std::fs::File::create(&inf).unwrap();
    writeln!(f, "SEQUENTIAL").unwrap();
    for i in 0..users {
        writeln!(
            f,
            "user{i:04};pw-user{i:04};[authentication username=user{i:04} password=pw-user{i:04}]"
        )
        .unwrap();
    }
    drop(f);
    let scenario = scenario("register.xml");
    let local = free_port();
    let run = Sipp::new("register", dir.path())
        .args(&["-sf", scenario.to_str().unwrap()])
        .args(&["-inf", inf.to_str().unwrap()])
        .args(&["-i", "127.0.0.1", "-p", &local.to_string(), "-t", mode])
        .args(&[
            "-key",
            "domain",
            "127.0.0.1",
            "-key",
            "contact_host",
            "127.0.0.1",
        ])
        .args(&["-key", "contact_port", "6999", "-key", "expires", "3600"])
        // SIPp's digest uri is the server's ip:port, not the Request-URI
        // (sip:127.0.0.1): accepted on the defaults, since it names this
        // server.
        .args(&[
            "-m",
            &users.to_string(),
            "-r",
            &rate.to_string(),
            "-recv_timeout",
            "10000",
        ])
        .args(&["-timeout", "100", "-timeout_error"])
        .args(&[&format!("127.0.0.1:{}", server.port)])
        .run(Duration::from_secs(120));
    let (ok, failed) = (run.successful(), run.failed());
    let transport = if mode.starts_with('t') { "tcp" } else { "udp" };
    assert_eq!((ok as usize, failed), (users, 0), "{}", run.report());
    assert!(run.success(), "{}", run.report());
    let listed = registrations(&data);
    assert_eq!(listed.len(), users, "{}", listed.join("\n"));
    assert!(
        listed.iter().all(|l| l.contains("<sip:user")
            && l.contains("@127.0.0.1:6999>")
            && l.contains(&format!(" q=1 source={transport}:127.0.0.1:"))),
        "{}",
        listed[0]
    );
    drop(server);
}

#[test]
fn options_over_tcp() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(&dir.path().join("data"), free_port());
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let local = stream.local_addr().unwrap();
    write!(
        stream,
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK-tcp-1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=t1\r\nTo: <sip:127.0.0.1>\r\n\
         Call-ID: tcp-opt-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !text(&got).contains("\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed: {}", text(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(text(&got).starts_with("SIP/2.0 200"), "{}", text(&got));
    drop(server);
}

#[test]
fn tls_and_wss_listeners_start_with_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let (tls, wss) = (free_port(), free_port());
    let tls_listen = format!("tls:127.0.0.1:{tls}");
    let wss_listen = format!("wss:127.0.0.1:{wss}");
    let server = start_server_with(
        &dir.path().join("data"),
        free_port(),
        &[
            "--listen",
            &tls_listen,
            "--listen",
            &wss_listen,
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
    );
    let log: Vec<String> = server.log_lines();
    let log = log.join("\n");
    for want in [
        format!("listening: tls 127.0.0.1:{tls}"),
        format!("listening: wss 127.0.0.1:{wss}"),
        format!("listening: udp 127.0.0.1:{}", server.port),
    ] {
        assert!(log.contains(&want), "missing {want:?} in\n{log}");
    }
    assert!(
        TcpListener::bind(("127.0.0.1", tls)).is_err(),
        "TLS port not bound"
    );
    drop(server);
}

#[test]
fn expired_bindings_are_removed_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    import(&data, &users_csv(dir.path(), 2));
    std::fs::write(
        dir.path().join("switchboard.toml"),
        "[protection]\nrate_limit = false\n[registrar]\nmin_expires = 1\n",
    )
    .unwrap();
    let port = free_port();
    // At debug level it says when the expiry loop removed bindings.
    let server = switchboard()
        .serve(&data)
        .port(port)
        .config(&std::fs::read_to_string(dir.path().join("switchboard.toml")).unwrap())
        .log("info,switchboard=debug")
        .start();
    let mut client = Client::new(port);
    let (_, r) = client.register_with_password_for("user0000", "pw-user0000", 2);
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    let (_, r) = client.register_with_password("user0001", "pw-user0001");
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    assert_eq!(registrations(&data).len(), 2);
    // The expiry loop removes the short one from the store (not just from
    // the listing): after a kill -9 and a restart, nothing expired is found.
    wait_for(Duration::from_secs(10), || {
        server
            .log_text()
            .contains("expired bindings removed from the store")
    });
    let listed = registrations(&data);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0].starts_with("sip:user0001@127.0.0.1 "),
        "{listed:?}"
    );
    drop(server);
    let server = start_server(&data, port);
    let loaded = server
        .log_lines()
        .into_iter()
        .find(|l| l.contains("bindings:"))
        .unwrap_or_default();
    assert!(
        loaded.contains("1 live loaded from the store (0 expired while stopped"),
        "{loaded}"
    );
    drop(server);
}

#[test]
fn repeated_failures_lock_the_user_out() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let o = run(&[
        "user",
        "add",
        "carol",
        "--password",
        "right",
        "--domain",
        "127.0.0.1",
        "--data",
        d,
    ]);
    assert!(o.status.success());
    std::fs::write(
        dir.path().join("switchboard.toml"),
        "[protection]\nrate_limit = false\nuser_failures = 3\n",
    )
    .unwrap();
    let server = start_server(&data, free_port());
    let mut client = Client::new(server.port);
    for _ in 0..3 {
        let (_, r) = client.register_with_password("carol", "guess");
        assert!(r.starts_with("SIP/2.0 401"), "{r}");
    }
    // Locked: even the right password gets the same 401 as a wrong one.
    let (_, r) = client.register_with_password("carol", "right");
    assert!(r.starts_with("SIP/2.0 401"), "{r}");
    assert!(registrations(&data).is_empty());
    drop(server);
}
