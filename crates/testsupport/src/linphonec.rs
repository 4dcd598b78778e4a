//! linphonec (liblinphone, Debian package `linphone-cli`) set up as
//! shared/interop/lib/common.sh does and driven through its stdin.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::ports::free_port;
use crate::process::Proc;
use crate::server::{DOMAIN, require};
use crate::wait::wait_for;
use crate::wav::tone_wav;

/// A linphonec registered at a server over UDP (the server is its proxy
/// and route), auto-answering, playing a tone from a file; killed by PID
/// when dropped. Its output goes to `out.log`, its own log to
/// `linphone.log`.
#[derive(Debug)]
pub struct Linphonec {
    proc: Proc,
    dir: PathBuf,
}

impl Linphonec {
    /// Starts linphonec for `user`/`password` with the server at
    /// `127.0.0.1:proxy_port` (UDP), playing a `tone` Hz tone in calls.
    pub fn start(dir: &Path, user: &str, password: &str, proxy_port: u16, tone: f64) -> Self {
        Self::launch(dir, user, password, proxy_port, tone, false)
    }

    /// [`Linphonec::start`], listening on TCP too (the same port): a
    /// request over 1300 bytes reaches it only so (RFC 3261 §18.1.1), as
    /// linphonec's own INVITE with Replaces and Referred-By is.
    pub fn start_with_tcp(
        dir: &Path,
        user: &str,
        password: &str,
        proxy_port: u16,
        tone: f64,
    ) -> Self {
        Self::launch(dir, user, password, proxy_port, tone, true)
    }

    fn launch(
        dir: &Path,
        user: &str,
        password: &str,
        proxy_port: u16,
        tone: f64,
        tcp: bool,
    ) -> Self {
        require("linphonec", "--version", "linphone-cli");
        let dir = dir.join(format!("linphonec-{user}"));
        let home = dir.join("home");
        std::fs::create_dir_all(home.join(".local/share/linphone")).unwrap();
        std::fs::create_dir_all(home.join(".config/linphone")).unwrap();
        let sip_port = free_port();
        let tcp_port = if tcp { sip_port } else { 0 };
        let rtp = free_port();
        let wav = dir.join("tone.wav");
        tone_wav(&wav, tone, 60);
        let proxy = format!("sip:127.0.0.1:{proxy_port};transport=udp");
        std::fs::write(
            dir.join("linphonerc"),
            format!(
                "[sip]\nsip_port={sip_port}\nsip_tcp_port={tcp_port}\nsip_tls_port=0\n\
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
        let mut command = Command::new("linphonec");
        command
            .arg("-c")
            .arg(dir.join("linphonerc"))
            .args(["-a", "-d", "6", "-l"])
            .arg(dir.join("linphone.log"))
            .env("HOME", &home);
        let proc = Proc::spawn_logging_to(
            &format!("linphonec {user}"),
            command,
            &dir.join("out.log"),
            true,
        );
        let mut me = Self { proc, dir };
        me.command("soundcard use files");
        me.command(&format!("play {}", wav.display()));
        me
    }

    /// One command line (`call sip:...`, `terminate`, `answer`).
    pub fn command(&mut self, line: &str) {
        self.proc.write_stdin(&format!("{line}\n"));
    }

    /// Its output (`out.log`).
    pub fn out(&self) -> String {
        self.proc.output()
    }

    /// Output lines `Call N with ... <what>` (`connected`, `ended`).
    pub fn calls(&self, what: &str) -> usize {
        self.out()
            .lines()
            .filter(|l| l.contains("Call ") && l.contains(" with ") && l.contains(what))
            .count()
    }

    /// Its output and the last 150 lines of its log, for a failure message.
    pub fn report(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("linphone.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(150).collect();
        format!(
            "linphonec output:\n{}\n--- linphone.log (last 150 lines):\n{}",
            self.out(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }

    /// `quit`, 8 s at most; the guard kills it otherwise.
    pub fn quit(mut self) {
        self.command("quit");
        let _ = wait_for(Duration::from_secs(8), || self.proc.try_wait().is_some());
    }
}
