//! A browser phone talks to desk phones through the media relay (issue
//! 16): JsSIP 3.13 in headless Chromium (`tests/browser/browser_media.mjs`)
//! registers over WSS with `switchboard serve` and calls a baresip phone
//! doing plain RTP/AVP (`[media] relay = "auto"`, the legs needing
//! different profiles, and `"always"`) or one requiring SDES-SRTP
//! (`mediaenc srtp-mand`; the server told `[media] webrtc_phone =
//! "sdes"`); each kind of phone calls the browser too; the browser holds
//! and resumes a call. The relay bridges the browser's WebRTC leg (ICE,
//! DTLS-SRTP) and the phone's. Chromium's fake capture plays a 1000 Hz WAV
//! as the browser's microphone, the phone a 440 Hz tone: the browser must
//! hear the phone's tone (WebAudio on the remote track, packets in
//! getStats) and the phone the browser's (the dominant frequency of its
//! received-audio dump); the SDP the phone got points at the relay in its
//! own profile, and the browser's ICE pair ends on a relay port with DTLS
//! connected.
//!
//! A first case needs no relay: two JsSIP pages call each other directly
//! (`relay = "never"`), each hearing the other's tone: the measurement
//! itself works.
//!
//! Needs node, npm, Chromium and baresip as `browser_interop.rs` and
//! `media_relay_e2e.rs` do. The browser runs are serialised (one Chromium
//! at a time on a busy machine); every child is killed by PID when its
//! test ends; every wait is bounded.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use common::browser::{CHROMIUM, browser_dir, checks_output};
use common::*;
use serde_json::Value;

/// The browser script's own hard limit, in seconds.
const RUN_TIMEOUT_S: u64 = 150;
/// The tone the browser sends (its fake microphone).
const BROWSER_HZ: f32 = 1000.0;
/// How far a tone the browser heard may be from the one sent (as far
/// as [`assert_heard`] allows a phone).
const HZ_TOLERANCE: f64 = 20.0;
/// Ports the relay binds.
const RELAY_PORTS: u16 = 20;

/// One Chromium at a time.
static CHROMIUM_RUN: Mutex<()> = Mutex::new(());

/// `serve` with a WSS listener (a self-signed certificate), the admin
/// API, and the `[media]` section `media` on a free block of ports.
struct Relaying {
    server: Server,
    /// Its `wss://` URL.
    wss: String,
    /// The relay's ports.
    ports: RangeInclusive<u16>,
    /// The admin API (for `/metrics`).
    admin: SocketAddr,
}

impl Relaying {
    fn start(dir: &Path, data: &Path, media: &str) -> Self {
        let (cert, key) = self_signed(dir);
        let wss = free_port();
        let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let first = free_udp_run(RELAY_PORTS);
        let ports = first..=first + RELAY_PORTS - 1;
        let config = format!(
            "{NO_RATE_LIMIT}[media]\n{media}ports = \"{first}-{}\"\n",
            ports.end()
        );
        let server = switchboard()
            .serve(data)
            .config(&config)
            .listen(&format!("wss:127.0.0.1:{wss}"))
            .certificate(&cert, &key)
            .args(&["--admin", &admin.to_string()])
            .start();
        Self {
            server,
            wss: format!("wss://127.0.0.1:{wss}"),
            ports,
            admin,
        }
    }

    /// Asserts that the relay holds no session (5 s at most): the
    /// hang-up released the call's, WebRTC leg and all.
    fn assert_released(&self) {
        assert!(
            wait_for(Duration::from_secs(5), || metric(
                self.admin,
                "switchboard_relay_sessions"
            ) == 0),
            "the relay session outlived the call\n{}",
            metrics(self.admin)
        );
    }
}

/// What one run of the browser script reported.
struct BrowserRun {
    /// Its `{"kind":"media",...}` lines: one per measured call and page.
    media: Vec<Value>,
}

impl BrowserRun {
    /// The measurement of `page`'s call with the user `peer` (the peer
    /// is a user name or, for a call the page answered, a URI).
    fn call(&self, page: &str, peer: &str) -> &Value {
        self.phase(page, peer, "call")
    }

    /// [`BrowserRun::call`] in `phase`: `call` (once answered), `held`
    /// or `resumed`.
    fn phase(&self, page: &str, peer: &str, phase: &str) -> &Value {
        let uri = format!(":{peer}@");
        self.media
            .iter()
            .find(|m| {
                m["page"] == page
                    && m["phase"] == phase
                    && m["peer"]
                        .as_str()
                        .is_some_and(|p| p == peer || p.contains(&uri))
            })
            .unwrap_or_else(|| {
                panic!(
                    "no measurement of {page} with {peer} ({phase}): {:?}",
                    self.media
                )
            })
    }
}

/// The browser script (its files under `webrtc-relay/name` in the
/// target's temporary folder) as `user` (password `pass`) at `relaying`'s
/// WSS URL, with `args` (`--call`, `--answer`, `--peer` ...) and
/// Chromium's microphone playing a [`BROWSER_HZ`] tone; `while_running`
/// is called once node is started (to dial the browser). Fails the test
/// unless every check of the script passed.
fn run_browser(
    name: &str,
    dir: &Path,
    relaying: &Relaying,
    (user, pass): (&str, &str),
    args: &[&str],
    while_running: impl FnOnce(),
) -> BrowserRun {
    let browser = browser_dir();
    let wav = dir.join("browser-tone.wav");
    tone_wav(&wav, f64::from(BROWSER_HZ), 30);
    // Traces, console logs and screenshots: kept under target/ for a
    // look after a failure, one folder per test.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("webrtc-relay")
        .join(name);
    let _ = std::fs::remove_dir_all(&out);
    let mut command = Command::new("node");
    command
        .arg("browser_media.mjs")
        .args(["--ws-url", &relaying.wss, "--domain", DOMAIN])
        .args(["--user", user, "--pass", pass])
        .args(["--tone-wav", path_str(&wav)])
        .args(["--timeout", &RUN_TIMEOUT_S.to_string()])
        .args(["--http-port", &free_port().to_string()])
        .args(["--out", path_str(&out)])
        .args(["--chromium", CHROMIUM])
        .args(args)
        .current_dir(&browser);
    // playwright starts Chromium in a process group of its own: the guard
    // kills node and everything it started.
    let node = Proc::spawn("browser", command).killing_descendants();
    while_running();
    let context = || {
        format!(
            "--- traces in {}\n--- server:\n{}",
            out.display(),
            relaying.server.log_text()
        )
    };
    let (_, lines) = checks_output(node, Duration::from_secs(RUN_TIMEOUT_S + 45), &context);
    let media = lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["kind"] == "media")
        .collect::<Vec<_>>();
    for m in &media {
        let stats = &m["stats"];
        eprintln!(
            "{} with {} ({}): {}; in {}; pair {}; {}",
            m["page"],
            m["peer"],
            m["phase"],
            m["audio"],
            stats["inbound"],
            stats["selectedPair"],
            stats["transport"]
        );
    }
    BrowserRun { media }
}

/// Asserts that `what` (a `{"hz","dbfs"}` measurement) is a `hz` tone
/// clearly above silence.
fn assert_tone(what: &Value, hz: f32, context: &str) {
    let heard = what["hz"].as_f64().unwrap_or(0.0);
    let level = what["dbfs"].as_f64().unwrap_or(-200.0);
    assert!(
        (heard - f64::from(hz)).abs() <= HZ_TOLERANCE && level > -30.0,
        "{context}: heard {heard} Hz at {level} dBFS, wanted {hz} Hz"
    );
}

/// Asserts that the browser's page `page` heard `hz` from `peer` and sent
/// its own tone, with packets both ways.
fn assert_browser_heard(run: &BrowserRun, page: &str, peer: &str, sent_hz: f32, hz: f32) {
    assert_heard_in(run.call(page, peer), page, peer, sent_hz, hz);
}

/// [`assert_browser_heard`] on one measurement `call`.
fn assert_heard_in(call: &Value, page: &str, peer: &str, sent_hz: f32, hz: f32) {
    let context = format!("{page} in the call with {peer}: {call}");
    assert_tone(&call["audio"]["local"], sent_hz, &context);
    assert_tone(&call["audio"]["remote"], hz, &context);
    let received = call["stats"]["inbound"]["packetsReceived"].as_u64();
    assert!(received.unwrap_or(0) > 50, "{context}");
}

/// A baresip for `user` registered at `server`, answering by itself,
/// playing a `hz` tone and dumping what it hears; with `mediaenc`, its
/// media encryption.
fn phone(dir: &Path, user: &str, hz: f64, server: &Server, mediaenc: Option<&str>) -> Baresip {
    let mut builder = Baresip::builder(dir, user)
        .registrar(server.port, "udp", "secret")
        .tone(hz)
        .auto_answer()
        .dump_received_audio();
    if let Some(mediaenc) = mediaenc {
        builder = builder.mediaenc(mediaenc);
    }
    let phone = builder.start();
    server.wait_registered(&format!("sip:{user}@{DOMAIN}"), Duration::from_secs(15));
    phone
}

/// The `m=audio` lines of the SDP a phone received (its SIP trace holds
/// what it sent too: those name its own port, outside the relay's).
fn relayed_audio_lines(phone: &Baresip, ports: &RangeInclusive<u16>) -> Vec<String> {
    phone
        .log()
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("m=audio "))
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse().ok())
                .is_some_and(|p| ports.contains(&p))
        })
        .map(str::to_owned)
        .collect()
}

/// Asserts that `phone` was offered or answered media on the relay's
/// ports in `profile` (`RTP/AVP`, `RTP/SAVP`), never the browser's.
fn assert_phone_sdp(phone: &Baresip, ports: &RangeInclusive<u16>, profile: &str) {
    let lines = relayed_audio_lines(phone, ports);
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.contains(&format!(" {profile} "))),
        "m=audio lines on the relay's ports {ports:?} in {profile} expected: {lines:?}\n{}",
        phone.report()
    );
    let log = phone.log();
    assert!(
        !log.contains("UDP/TLS/RTP/SAVPF") && !log.contains("a=fingerprint"),
        "the browser's WebRTC SDP reached the phone\n{log}"
    );
}

/// Asserts that the SDP the browser got for its call with `peer` names
/// the relay (a port of the relay's) in WebRTC's profile, and that its
/// media went there: the ICE pair in use ends on a relay port, DTLS done.
fn assert_browser_via_relay(run: &BrowserRun, page: &str, peer: &str, ports: &RangeInclusive<u16>) {
    let call = run.call(page, peer);
    let stats = &call["stats"];
    // "127.0.0.1:PORT/udp/host -> 127.0.0.1:PORT/udp/host"
    let pair = stats["selectedPair"].as_str().unwrap_or_default();
    let remote_port: u16 = pair
        .split("-> ")
        .nth(1)
        .and_then(|r| r.split(['/', ':']).nth(1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    assert!(
        ports.contains(&remote_port) && stats["transport"]["dtlsState"] == "connected",
        "{page}'s media with {peer} not through the relay {ports:?}: pair {pair}, transport {}",
        stats["transport"]
    );
    let remote = call["stats"]["remoteSdp"].as_str().unwrap_or_default();
    let audio = remote
        .lines()
        .find(|l| l.starts_with("m=audio "))
        .unwrap_or_default();
    let port: u16 = audio
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    assert!(
        ports.contains(&port) && audio.contains("UDP/TLS/RTP/SAVPF"),
        "the browser's remote SDP does not point at the relay {ports:?}:\n{remote}"
    );
}

#[test]
fn two_jssip_pages_hear_each_other_directly() {
    let _one = CHROMIUM_RUN.lock().unwrap_or_else(PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "alice-pw"), ("bob", "bob-pw")]);
    let relaying = Relaying::start(dir.path(), &data, "relay = \"never\"\n");
    let run = run_browser(
        "browser-to-browser",
        dir.path(),
        &relaying,
        ("alice", "alice-pw"),
        &["--peer", "bob", "--peer-pass", "bob-pw", "--peer-hz", "440"],
        || {},
    );
    assert_browser_heard(&run, "alice", "bob", BROWSER_HZ, 440.0);
    assert_browser_heard(&run, "bob", "alice", 440.0, BROWSER_HZ);
}

#[test]
fn jssip_calls_an_rtp_phone_through_the_relay_when_auto() {
    browser_calls_phone("auto", Phone::Rtp);
}

#[test]
fn jssip_calls_an_rtp_phone_through_the_relay_when_always() {
    browser_calls_phone("always", Phone::Rtp);
}

#[test]
fn jssip_calls_an_sdes_srtp_phone_through_the_relay() {
    browser_calls_phone("auto", Phone::Sdes);
}

/// What a desk phone does for media.
#[derive(Clone, Copy)]
enum Phone {
    /// Plain RTP/AVP.
    Rtp,
    /// Mandatory SDES-SRTP (RTP/SAVP).
    Sdes,
}

impl Phone {
    /// Its baresip `mediaenc`.
    fn mediaenc(self) -> Option<&'static str> {
        match self {
            Self::Rtp => None,
            Self::Sdes => Some("srtp-mand"),
        }
    }

    /// The SDP profile of its media.
    fn profile(self) -> &'static str {
        match self {
            Self::Rtp => "RTP/AVP",
            Self::Sdes => "RTP/SAVP",
        }
    }

    /// What the relay is told to offer it when a browser calls
    /// (`[media] webrtc_phone`).
    fn webrtc_phone(self) -> &'static str {
        match self {
            Self::Rtp => "rtp",
            Self::Sdes => "sdes",
        }
    }

    /// Its name in folder names.
    fn name(self) -> &'static str {
        match self {
            Self::Rtp => "rtp",
            Self::Sdes => "sdes",
        }
    }
}

/// The browser calls a phone of `kind` playing 440 Hz, with `[media]
/// relay = relay`.
fn browser_calls_phone(relay: &str, kind: Phone) {
    let _one = CHROMIUM_RUN.lock().unwrap_or_else(PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    switchboard().add_users(&data, &[("alice", "alice-pw"), ("phone", "secret")]);
    let media = format!(
        "relay = \"{relay}\"\nwebrtc_phone = \"{}\"\n",
        kind.webrtc_phone()
    );
    let relaying = Relaying::start(d, &data, &media);
    let callee = phone(d, "phone", 440.0, &relaying.server, kind.mediaenc());
    let run = run_browser(
        &format!("browser-calls-{}-phone-{relay}", kind.name()),
        d,
        &relaying,
        ("alice", "alice-pw"),
        &["--call", "phone"],
        || {},
    );
    assert_browser_heard(&run, "alice", "phone", BROWSER_HZ, 440.0);
    assert_browser_via_relay(&run, "alice", "phone", &relaying.ports);
    assert_phone_sdp(&callee, &relaying.ports, kind.profile());
    assert_heard(&callee, BROWSER_HZ);
    relaying.assert_released();
}

#[test]
fn jssip_holds_and_resumes_a_call_with_an_rtp_phone_through_the_relay() {
    let _one = CHROMIUM_RUN.lock().unwrap_or_else(PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    switchboard().add_users(&data, &[("alice", "alice-pw"), ("phone", "secret")]);
    let relaying = Relaying::start(d, &data, "relay = \"always\"\n");
    let callee = phone(d, "phone", 440.0, &relaying.server, None);
    let run = run_browser(
        "browser-holds-rtp-phone",
        d,
        &relaying,
        ("alice", "alice-pw"),
        &["--call", "phone", "--hold"],
        || {},
    );
    assert_browser_heard(&run, "alice", "phone", BROWSER_HZ, 440.0);
    // On hold the phone, told recvonly, sends nothing the browser hears.
    let held = run.phase("alice", "phone", "held");
    let level = held["audio"]["remote"]["dbfs"].as_f64().unwrap_or(0.0);
    assert!(
        level < -50.0,
        "the browser heard {level} dBFS on hold: {held}"
    );
    // Resumed: the tones again both ways, on the same relay ports.
    let resumed = run.phase("alice", "phone", "resumed");
    assert_heard_in(resumed, "alice", "phone", BROWSER_HZ, 440.0);
    assert_browser_via_relay(&run, "alice", "phone", &relaying.ports);
    assert_phone_sdp(&callee, &relaying.ports, "RTP/AVP");
    assert_heard(&callee, BROWSER_HZ);
    relaying.assert_released();
}

#[test]
fn an_rtp_phone_calls_jssip_through_the_relay() {
    phone_calls_browser(Phone::Rtp);
}

#[test]
fn an_sdes_srtp_phone_calls_jssip_through_the_relay() {
    phone_calls_browser(Phone::Sdes);
}

/// A phone of `kind` playing 440 Hz calls the browser, which answers by
/// itself, with `[media] relay = "auto"`.
fn phone_calls_browser(kind: Phone) {
    let _one = CHROMIUM_RUN.lock().unwrap_or_else(PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    switchboard().add_users(&data, &[("alice", "alice-pw"), ("phone", "secret")]);
    let relaying = Relaying::start(d, &data, "relay = \"auto\"\n");
    let mut caller = phone(d, "phone", 440.0, &relaying.server, kind.mediaenc());
    let run = run_browser(
        &format!("{}-phone-calls-browser", kind.name()),
        d,
        &relaying,
        ("alice", "alice-pw"),
        &["--answer", "1"],
        || {
            relaying
                .server
                .wait_registered(&format!("sip:alice@{DOMAIN}"), Duration::from_secs(60));
            caller.command("dial", &format!("sip:alice@{DOMAIN}"));
        },
    );
    assert_browser_heard(&run, "alice", "phone", BROWSER_HZ, 440.0);
    assert_browser_via_relay(&run, "alice", "phone", &relaying.ports);
    assert_phone_sdp(&caller, &relaying.ports, kind.profile());
    assert_heard(&caller, BROWSER_HZ);
    relaying.assert_released();
}
