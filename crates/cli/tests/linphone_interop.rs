//! Calls through `switchboard serve` between two different real phones:
//! linphonec (liblinphone 5.1, Debian package `linphone-cli`) and baresip
//! 1.0 (Debian `baresip`), both registered over UDP with digest
//! authentication. linphonec calls baresip, baresip answers, linphonec
//! hangs up; then baresip calls linphonec, linphonec answers (`-a`),
//! baresip hangs up. Both see each call connect and end, and baresip
//! receives linphonec's RTP (its file-mode tone) in both calls.
//!
//! linphonec is set up as shared/interop/lib/common.sh does (a linphonerc
//! with the server as proxy and route, file audio, commands on stdin).
//! With its default codecs linphonec's INVITE, once the server adds a Via
//! and a Record-Route, is over 1300 bytes and goes on to baresip over TCP
//! (RFC 3261 §18.1.1); its ACK and BYE come over UDP without
//! Content-Length, which the server must add before passing them on over
//! TCP (without it baresip never saw the ACK).
//! Every child is killed by PID when the test ends, every wait is bounded,
//! ports are random, data directories temporary.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use common::*;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A linphonec driven through its stdin; its output goes to `out.log`.
struct Linphonec {
    guard: Guard,
    stdin: ChildStdin,
    dir: PathBuf,
}

impl Linphonec {
    /// Starts linphonec for `user`/`password` with the server at
    /// `127.0.0.1:proxy_port` (UDP) as its proxy, auto-answering, playing
    /// a `tone` Hz tone in calls.
    fn start(dir: &Path, user: &str, password: &str, proxy_port: u16, tone: f64) -> Self {
        let dir = dir.join(format!("linphonec-{user}"));
        let home = dir.join("home");
        std::fs::create_dir_all(home.join(".local/share/linphone")).unwrap();
        std::fs::create_dir_all(home.join(".config/linphone")).unwrap();
        let sip_port = free_port();
        let rtp = free_port();
        let wav = dir.join("tone.wav");
        tone_wav(&wav, tone, 60);
        let proxy = format!("sip:127.0.0.1:{proxy_port};transport=udp");
        std::fs::write(
            dir.join("linphonerc"),
            format!(
                "[sip]\nsip_port={sip_port}\nsip_tcp_port=0\nsip_tls_port=0\n\
                 default_proxy=0\nuse_ipv6=0\ninc_timeout=30\n\
                 [rtp]\naudio_rtp_port={rtp}-{}\nvideo_rtp_port={}-{}\n\
                 [video]\nenabled=0\ncapture=0\ndisplay=0\n\
                 automatically_initiate=0\nautomatically_accept=0\n\
                 [sound]\nechocancellation=0\n\
                 [misc]\nenable_vcard=0\n\
                 [proxy_0]\nreg_proxy=<{proxy}>\nreg_route=<{proxy};lr>\n\
                 reg_identity=\"{user}\" <sip:{user}@{DOMAIN}>\n\
                 reg_expires=600\nreg_sendregister=1\npublish=0\n\
                 [auth_info_0]\nusername={user}\nuserid={user}\n\
                 passwd={password}\ndomain={DOMAIN}\n",
                rtp.saturating_add(20),
                rtp.saturating_add(30),
                rtp.saturating_add(50)
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("out.log")).unwrap();
        let mut child = Command::new("linphonec")
            .arg("-c")
            .arg(dir.join("linphonerc"))
            .args(["-a", "-d", "6", "-l"])
            .arg(dir.join("linphone.log"))
            .env("HOME", &home)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start linphonec");
        let stdin = child.stdin.take().unwrap();
        let mut me = Self {
            guard: Guard(child),
            stdin,
            dir,
        };
        me.command("soundcard use files");
        me.command(&format!("play {}", wav.display()));
        me
    }

    fn command(&mut self, line: &str) {
        let _ = writeln!(self.stdin, "{line}");
        let _ = self.stdin.flush();
    }

    fn out(&self) -> String {
        std::fs::read_to_string(self.dir.join("out.log")).unwrap_or_default()
    }

    /// Output lines `Call N with ... <what>` (`connected`, `ended`).
    fn calls(&self, what: &str) -> usize {
        self.out()
            .lines()
            .filter(|l| l.contains("Call ") && l.contains(" with ") && l.contains(what))
            .count()
    }

    fn report(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("linphone.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(150).collect();
        format!(
            "linphonec output:\n{}\n--- linphone.log (last 150 lines):\n{}",
            self.out(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }

    /// `quit`, 8 s at most; the guard kills it otherwise.
    fn quit(mut self) {
        self.command("quit");
        let _ = wait_for(s(8), || matches!(self.guard.0.try_wait(), Ok(Some(_))));
    }
}

/// The last `packets: tx rx` line of baresip's RTP statistics: rx.
fn rx_packets(log: &str) -> u64 {
    log.lines()
        .filter_map(|l| l.trim().strip_prefix("packets:"))
        .filter_map(|rest| rest.split_whitespace().nth(1)?.parse().ok())
        .next_back()
        .unwrap_or(0)
}

#[test]
fn linphonec_and_baresip_call_each_other() {
    require("baresip", "-h", "baresip");
    require("linphonec", "--version", "linphone-cli");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_users(
        dir.path(),
        &data,
        &[
            ("alice".to_owned(), "alice-Secret-1".to_owned()),
            ("bob".to_owned(), "bob-Linphone-2".to_owned()),
        ],
    );
    let server = start_server(dir.path(), &data, "[protection]\nrate_limit = false\n", &[]);
    let mut alice = Baresip::start(
        dir.path(),
        "alice",
        "alice-Secret-1",
        server.port,
        "udp",
        440.0,
    );
    let mut bob = Linphonec::start(dir.path(), "bob", "bob-Linphone-2", server.port, 660.0);
    let registered = |user: &str| {
        let prefix = format!("sip:{user}@127.0.0.1 ");
        registrations(&data).iter().any(|l| l.starts_with(&prefix))
    };
    assert!(
        wait_for(s(15), || registered("alice") && registered("bob")),
        "not registered in 15 s: {:?}\n{}\n--- linphonec:\n{}\n--- server:\n{}",
        registrations(&data),
        alice.report(),
        bob.report(),
        server.log_text()
    );

    // A: linphonec calls baresip, which answers; linphonec hangs up.
    bob.command("call sip:alice@127.0.0.1");
    assert!(
        alice.wait_event_after("CALL_ESTABLISHED", 0, s(15)),
        "A: baresip did not get the call\n{}\n--- linphonec:\n{}\n--- server:\n{}",
        alice.report(),
        bob.report(),
        server.log_text()
    );
    assert!(
        wait_for(s(10), || bob.calls("connected") >= 1),
        "A: linphonec not connected\n{}",
        bob.report()
    );
    assert!(
        alice.wait_event_after("CALL_RTPESTAB", 0, s(8)),
        "A: baresip receives no RTP from linphonec\n{}\n--- linphonec:\n{}",
        alice.report(),
        bob.report()
    );
    std::thread::sleep(s(2));
    bob.command("terminate");
    assert!(
        alice.wait_event_after("CALL_CLOSED", 0, s(10)),
        "A: baresip did not see the BYE\n{}\n--- linphonec:\n{}\n--- server:\n{}",
        alice.report(),
        bob.report(),
        server.log_text()
    );
    assert!(
        wait_for(s(5), || bob.calls("ended") >= 1),
        "A: linphonec did not see the call end\n{}",
        bob.report()
    );
    let rx = rx_packets(&alice.log());
    assert!(
        rx >= 50,
        "A: baresip got {rx} RTP packets from linphonec\n{}",
        alice.log()
    );

    // B: baresip calls linphonec, which answers (-a); baresip hangs up.
    std::thread::sleep(s(1));
    let (established, rtp, closed) = (
        alice.event_count("CALL_ESTABLISHED"),
        alice.event_count("CALL_RTPESTAB"),
        alice.event_count("CALL_CLOSED"),
    );
    let (connected, ended) = (bob.calls("connected"), bob.calls("ended"));
    alice.command("dial", "sip:bob@127.0.0.1");
    assert!(
        wait_for(s(15), || bob.calls("connected") > connected),
        "B: linphonec did not answer\n{}\n--- baresip:\n{}\n--- server:\n{}",
        bob.report(),
        alice.report(),
        server.log_text()
    );
    assert!(
        alice.wait_event_after("CALL_ESTABLISHED", established, s(10)),
        "B: baresip's call not established\n{}\n--- linphonec:\n{}",
        alice.report(),
        bob.report()
    );
    assert!(
        alice.wait_event_after("CALL_RTPESTAB", rtp, s(8)),
        "B: baresip receives no RTP from linphonec\n{}\n--- linphonec:\n{}",
        alice.report(),
        bob.report()
    );
    std::thread::sleep(s(2));
    alice.command("hangup", "");
    assert!(
        alice.wait_event_after("CALL_CLOSED", closed, s(10)),
        "B: baresip's call not closed\n{}",
        alice.report()
    );
    assert!(
        wait_for(s(10), || bob.calls("ended") > ended),
        "B: linphonec did not see the BYE\n{}\n--- server:\n{}",
        bob.report(),
        server.log_text()
    );
    // The call went through the server: alice's INVITE was challenged.
    let log = alice.log();
    assert!(
        log.contains("SIP/2.0 407 "),
        "baresip's INVITE was not challenged\n{log}"
    );
    bob.quit();
    drop(alice);
    drop(server);
}
