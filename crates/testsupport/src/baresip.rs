//! baresip (Debian package `baresip`), headless, configured as
//! shared/interop/lib/common.sh does and driven through ctrl_tcp.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::ports::{free_port, free_port_pair};
use crate::process::Proc;
use crate::server::{DOMAIN, require};
use crate::wait::wait_for;
use crate::wav::{complete_wav_samples, tone_wav};

/// A baresip before it starts: an account `sip:user@127.0.0.1`, registered
/// at a server or taking calls directly, playing a tone or silence.
#[derive(Debug)]
pub struct BaresipBuilder {
    dir: PathBuf,
    user: String,
    password: String,
    registrar: Option<(u16, String)>,
    tone: Option<f64>,
    mediaenc: Option<String>,
    auto_answer: bool,
    dump_received: bool,
    /// Where it runs when not on the test's loopback.
    netns: Option<Netns>,
    /// The server's address (registrar and outbound proxy).
    server_ip: IpAddr,
}

/// A baresip in a network namespace of its own (see
/// [`BaresipBuilder::netns`]).
#[derive(Debug)]
struct Netns {
    name: String,
    ip: IpAddr,
    ctrl: SocketAddr,
}

impl BaresipBuilder {
    /// Registers at the server on `port` of 127.0.0.1 (or of
    /// [`Self::server_ip`]) over `transport` (`udp`, `tcp`, `tls`), its
    /// outbound proxy, with digest credentials of `password`.
    #[must_use]
    pub fn registrar(mut self, port: u16, transport: &str, password: &str) -> Self {
        self.registrar = Some((port, transport.to_owned()));
        password.clone_into(&mut self.password);
        self
    }

    /// Plays a `hz` tone in calls (else a silent aubridge source).
    #[must_use]
    pub fn tone(mut self, hz: f64) -> Self {
        self.tone = Some(hz);
        self
    }

    /// Media encryption (`srtp-mand`, ...).
    #[must_use]
    pub fn mediaenc(mut self, mediaenc: &str) -> Self {
        self.mediaenc = Some(mediaenc.to_owned());
        self
    }

    /// Answers calls by itself.
    #[must_use]
    pub fn auto_answer(mut self) -> Self {
        self.auto_answer = true;
        self
    }

    /// Runs in the network namespace `name` (`ip netns exec`), its SIP and
    /// RTP on `ip` there, its ctrl_tcp on every address there at port
    /// `ctrl.port()`, which the test reaches at `ctrl` (e.g. a port
    /// forwarded by the namespace's NAT).
    #[must_use]
    pub fn netns(mut self, name: &str, ip: IpAddr, ctrl: SocketAddr) -> Self {
        self.netns = Some(Netns {
            name: name.to_owned(),
            ip,
            ctrl,
        });
        self
    }

    /// The server's address, where [`Self::registrar`]'s port is (default
    /// 127.0.0.1).
    #[must_use]
    pub fn server_ip(mut self, ip: IpAddr) -> Self {
        self.server_ip = ip;
        self
    }

    /// Dumps the decoded audio it receives (sndfile module) to
    /// `dump-*-dec.wav` in its directory; see
    /// [`Baresip::wait_received_audio`].
    #[must_use]
    pub fn dump_received_audio(mut self) -> Self {
        self.dump_received = true;
        self
    }

    /// Starts baresip and connects to its ctrl_tcp (10 s at most).
    pub fn start(self) -> Baresip {
        require("baresip", "-h", "baresip");
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = self.dir.join(format!("baresip-{}-{n}", self.user));
        std::fs::create_dir_all(&dir).unwrap();
        let (sip_port, rtp) = (free_port_pair(), free_port());
        // In a namespace of its own any port is free there.
        let (ip, ctrl_listen, ctrl) = match &self.netns {
            Some(ns) => (
                ns.ip,
                SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), ns.ctrl.port()),
                ns.ctrl,
            ),
            None => {
                let ctrl = SocketAddr::from(([127, 0, 0, 1], free_port()));
                (ctrl.ip(), ctrl, ctrl)
            }
        };
        let user = &self.user;
        let source = match self.tone {
            Some(hz) => {
                let wav = dir.join("tone.wav");
                tone_wav(&wav, hz, 60);
                format!("aufile,{}", wav.display())
            }
            None => format!("aubridge,src-{user}"),
        };
        let mut modules = vec!["g711", "aubridge", "aufile"];
        if self.mediaenc.is_some() {
            modules.push("srtp");
        }
        if self.dump_received {
            modules.push("sndfile");
        }
        let mut config = format!(
            "poll_method\tepoll\n\
             sip_listen\t{ip}:{sip_port}\n\
             net_interface\t{ip}\n\
             call_local_timeout\t30\n\
             audio_player\taubridge,sink-{user}\n\
             audio_source\t{source}\n\
             audio_alert\taubridge,alert-{user}\n\
             audio_level\tno\n\
             rtp_ports\t{rtp}-{}\n\
             rtp_stats\tyes\n\
             rtcp_mux\tno\n\
             module_path\t/usr/lib/baresip/modules\n",
            rtp.saturating_add(20)
        );
        for m in modules {
            config.push_str(&format!("module\t{m}.so\n"));
        }
        if self.dump_received {
            config.push_str(&format!("snd_path\t{}\n", dir.display()));
        }
        config.push_str(&format!(
            "module_tmp\taccount.so\n\
             module_app\tmenu.so\n\
             module_app\tctrl_tcp.so\n\
             ctrl_tcp_listen\t{ctrl_listen}\n"
        ));
        std::fs::write(dir.join("config"), config).unwrap();
        let server = self.server_ip;
        let mut account = match &self.registrar {
            Some((port, transport)) => {
                let (aor, proxy) = match transport.as_str() {
                    "udp" => (
                        format!("sip:{user}@{DOMAIN}"),
                        format!("sip:{server}:{port};transport=udp"),
                    ),
                    t => (
                        format!("sip:{user}@{DOMAIN};transport={t}"),
                        format!("sip:{server}:{port};transport={t}"),
                    ),
                };
                format!(
                    "<{aor}>;auth_user={user};auth_pass={};outbound=\"{proxy}\";regint=600",
                    self.password
                )
            }
            None => format!("<sip:{user}@{DOMAIN}>;regint=0"),
        };
        if self.auto_answer {
            account.push_str(";answermode=auto");
        }
        account.push_str(";ptime=20;audio_codecs=PCMU,PCMA");
        if let Some(mediaenc) = &self.mediaenc {
            account.push_str(&format!(";mediaenc={mediaenc}"));
        }
        std::fs::write(dir.join("accounts"), account + "\n").unwrap();
        std::fs::write(dir.join("contacts"), "").unwrap();
        let mut command = match &self.netns {
            Some(ns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", &ns.name, "baresip"]);
                command
            }
            None => Command::new("baresip"),
        };
        command.arg("-f").arg(&dir).args(["-v", "-s"]);
        let proc = Proc::spawn_logging_to(
            &format!("baresip {user}"),
            command,
            &dir.join("out.log"),
            false,
        );
        let mut stream = None;
        wait_for(Duration::from_secs(10), || {
            stream = TcpStream::connect_timeout(&ctrl, Duration::from_secs(1)).ok();
            stream.is_some()
        });
        let stream = stream.unwrap_or_else(|| {
            panic!(
                "baresip ctrl_tcp not listening after 10 s\n{}",
                proc.report()
            )
        });
        let ctrl = stream.try_clone().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        std::thread::spawn(move || read_netstrings(stream, &sink));
        Baresip {
            proc,
            sip_port,
            events,
            ctrl,
            dir,
            token: 0,
        }
    }
}

/// A running baresip, killed by PID when dropped (its log and ctrl_tcp
/// events are printed when the test fails).
#[derive(Debug)]
pub struct Baresip {
    proc: Proc,
    /// Its SIP port (UDP and TCP; TLS on the next one).
    pub sip_port: u16,
    events: Arc<Mutex<Vec<String>>>,
    ctrl: TcpStream,
    /// Its configuration directory (its log `out.log`, audio dumps).
    pub dir: PathBuf,
    token: u32,
}

impl Baresip {
    /// A baresip for `user` with its files under `dir`: configure, then
    /// [`BaresipBuilder::start`].
    pub fn builder(dir: &Path, user: &str) -> BaresipBuilder {
        BaresipBuilder {
            dir: dir.to_owned(),
            user: user.to_owned(),
            password: String::new(),
            registrar: None,
            tone: None,
            mediaenc: None,
            auto_answer: false,
            dump_received: false,
            netns: None,
            server_ip: Ipv4Addr::LOCALHOST.into(),
        }
    }

    /// Sends `signal` (`KILL`, ...) to the process by PID: a phone that
    /// dies without a word.
    pub fn signal(&self, signal: &str) {
        self.proc.signal(signal);
    }

    /// Sends a ctrl_tcp command (`dial`, `hangup`, ...).
    pub fn command(&mut self, command: &str, params: &str) {
        self.token += 1;
        let json = format!(
            "{{\"command\":\"{command}\",\"params\":\"{params}\",\"token\":\"{}\"}}",
            self.token
        );
        let frame = format!("{}:{json},", json.len());
        self.ctrl.write_all(frame.as_bytes()).unwrap();
    }

    /// How many events of `kind` (`CALL_ESTABLISHED`, ...) came so far.
    pub fn event_count(&self, kind: &str) -> usize {
        let needle = format!("\"type\":\"{kind}\"");
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.replace(' ', "").contains(&needle))
            .count()
    }

    pub fn has_event(&self, kind: &str) -> bool {
        self.event_count(kind) > 0
    }

    /// Waits at most `limit` for an event of `kind`.
    pub fn wait_event(&self, kind: &str, limit: Duration) -> bool {
        self.wait_event_after(kind, 0, limit)
    }

    /// Waits at most `limit` for more than `before` events of `kind`.
    pub fn wait_event_after(&self, kind: &str, before: usize, limit: Duration) -> bool {
        wait_for(limit, || self.event_count(kind) > before)
    }

    /// Its log (stdout and stderr; with `-s` the SIP trace), CRs as LFs.
    pub fn log(&self) -> String {
        self.proc.output()
    }

    /// Its ctrl_tcp events and its log, for a failure message.
    pub fn report(&self) -> String {
        format!(
            "ctrl_tcp events:\n{}\n--- baresip log:\n{}",
            self.events.lock().unwrap().join("\n"),
            self.log()
        )
    }

    /// The newest complete dump of the decoded audio it received, once it
    /// is complete: sndfile writes the WAV header's sizes only when the
    /// call's audio stops, so a dump read earlier holds 0 samples. Waits
    /// at most `limit` for a dump with a final header and samples in it.
    pub fn wait_received_audio(&self, limit: Duration) -> PathBuf {
        if let Some(path) = self.received_audio(limit) {
            return path;
        }
        match self.newest_dump() {
            Some(path) => panic!(
                "baresip's dump {} not complete in {limit:?}\n{}",
                path.display(),
                self.report()
            ),
            None => panic!("baresip dumped no received audio\n{}", self.report()),
        }
    }

    /// [`Self::wait_received_audio`] for a phone that may have heard
    /// nothing: `None` when no complete dump with samples came in `limit`.
    pub fn received_audio(&self, limit: Duration) -> Option<PathBuf> {
        let mut found = None;
        wait_for(limit, || {
            found = self
                .newest_dump()
                .filter(|p| complete_wav_samples(p).is_some_and(|n| n > 0));
            found.is_some()
        });
        found
    }

    /// The newest `dump-*-dec.wav`.
    fn newest_dump(&self) -> Option<PathBuf> {
        std::fs::read_dir(&self.dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("dump-") && n.ends_with("-dec.wav"))
            })
            .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- {} ctrl_tcp events:\n{}",
                self.proc.name(),
                self.events.lock().map(|e| e.join("\n")).unwrap_or_default()
            );
        }
    }
}

/// ctrl_tcp frames: `LEN:JSON,`.
fn read_netstrings(mut stream: TcpStream, events: &Mutex<Vec<String>>) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(colon) = pending.iter().position(|b| *b == b':') {
            let Ok(len) = String::from_utf8_lossy(&pending[..colon])
                .trim()
                .parse::<usize>()
            else {
                pending.clear();
                break;
            };
            if pending.len() < colon + 1 + len + 1 {
                break;
            }
            let payload =
                String::from_utf8_lossy(&pending[colon + 1..colon + 1 + len]).into_owned();
            pending.drain(..colon + 1 + len + 1);
            events.lock().unwrap().push(payload);
        }
    }
}
