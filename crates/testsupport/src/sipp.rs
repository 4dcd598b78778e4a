//! SIPp (Debian package `sip-tester`): a run to its end or in the
//! background, with its exit status, final screen and error log kept.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::ports::{free_port, free_udp_run, is_bound};
use crate::process::{Proc, Stream};
use crate::server::{DOMAIN, path_str, require};
use crate::wait::wait_for;

/// A SIPp command line before it runs. Every run logs the messages it did
/// not expect (`-trace_err`) and what its scenario's `<log>` actions say
/// (`-trace_logs`) to files of its own in `dir`; the run's
/// [`SippRun::report`] shows them with the screen and stderr.
#[derive(Debug)]
pub struct Sipp {
    name: String,
    dir: PathBuf,
    args: Vec<String>,
    errors: PathBuf,
    logs: PathBuf,
}

impl Sipp {
    /// `sipp` run as `name` in `dir` (its working directory and where its
    /// logs go), with `-nostdin`, `-trace_err` and `-trace_logs`.
    pub fn new(name: &str, dir: &Path) -> Self {
        require("sipp", "-v", "sip-tester");
        static RUNS: AtomicU32 = AtomicU32::new(0);
        let n = RUNS.fetch_add(1, Ordering::Relaxed);
        let file =
            |kind: &str| dir.join(format!("sipp-{name}-{}-{n}-{kind}.log", std::process::id()));
        let (errors, logs) = (file("errors"), file("logs"));
        let sipp = Self {
            name: name.to_owned(),
            dir: dir.to_owned(),
            args: Vec::new(),
            errors: errors.clone(),
            logs: logs.clone(),
        };
        sipp.args(&["-nostdin", "-trace_err", "-error_file", path_str(&errors)])
            .args(&["-trace_logs", "-log_file", path_str(&logs)])
    }

    /// More arguments.
    #[must_use]
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// The options the proxy tests share: local address, control and media
    /// ports picked free, UDP with one socket, `domain` = [`DOMAIN`], SIP
    /// port `port`.
    #[must_use]
    pub fn loopback_udp(self, port: u16) -> Self {
        self.loopback_udp_from("127.0.0.1", port)
    }

    /// [`Sipp::loopback_udp`] from another loopback address (`127.0.0.2`:
    /// a peer on a network of its own, as a carrier's gateway). Its ports
    /// are picked free on 127.0.0.1, which on Linux shares 127.0.0.0/8.
    #[must_use]
    pub fn loopback_udp_from(self, ip: &str, port: u16) -> Self {
        let (port, control, media) = (
            port.to_string(),
            free_port().to_string(),
            free_udp_run(4).to_string(),
        );
        self.args(&[
            "-i", ip, "-mi", ip, "-p", &port, "-cp", &control, "-mp", &media, "-t", "u1", "-key",
            "domain", DOMAIN,
        ])
    }

    fn command(&self) -> Command {
        let mut command = Command::new("sipp");
        command.args(&self.args).current_dir(&self.dir);
        command
    }

    /// Starts SIPp in the background (a UAS waiting for calls).
    pub fn spawn(self) -> SippProc {
        let proc = Proc::spawn(&self.name, self.command());
        SippProc { proc, sipp: self }
    }

    /// Runs SIPp to its end, at most `limit` (then it is killed by PID).
    pub fn run(self, limit: Duration) -> SippRun {
        self.spawn().wait(limit)
    }
}

/// SIPp running in the background, killed by PID when dropped.
#[derive(Debug)]
pub struct SippProc {
    proc: Proc,
    sipp: Sipp,
}

impl SippProc {
    /// Waits at most `limit` until SIPp has bound `port` (over TCP when
    /// `tcp`, else UDP): it listens. (Its screens are no sign: a pipe
    /// buffers them until it ends.)
    pub fn wait_listening(&self, port: u16, tcp: bool, limit: Duration) {
        assert!(
            wait_for(limit, || is_bound(port, tcp)),
            "sipp {} not listening on {port} in {limit:?}\n{}",
            self.sipp.name,
            self.proc.report()
        );
    }

    /// The lines its scenario's `<log>` actions wrote so far (SIPp writes
    /// them as they happen).
    pub fn logged(&self) -> Vec<String> {
        read_lines(&self.sipp.logs)
    }

    /// How many logged lines so far start with `prefix`.
    pub fn logged_count(&self, prefix: &str) -> usize {
        self.logged()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }

    /// Waits at most `limit` until more than `before` logged lines start
    /// with `prefix`.
    pub fn wait_logged(&self, prefix: &str, before: usize, limit: Duration) -> bool {
        wait_for(limit, || self.logged_count(prefix) > before)
    }

    /// Its `-trace_err` log so far: messages it did not expect, calls that
    /// failed.
    pub fn errors(&self) -> String {
        std::fs::read_to_string(&self.sipp.errors).unwrap_or_default()
    }

    /// Its error and `<log>` files, for a failure message while it runs.
    pub fn report(&self) -> String {
        format!(
            "--- sipp {}: sipp {}\n--- logged:\n{}\n--- errors (-trace_err):\n{}\n--- end of sipp {}",
            self.sipp.name,
            self.sipp.args.join(" "),
            self.logged().join("\n"),
            self.errors(),
            self.sipp.name
        )
    }

    /// Waits at most `limit` for SIPp to end by itself (its `-m` calls
    /// done), then kills it; what it did either way.
    pub fn wait(mut self, limit: Duration) -> SippRun {
        let status = self.proc.wait(limit);
        SippRun {
            name: self.sipp.name.clone(),
            status,
            screen: self.proc.lines(Stream::Stdout).join("\n"),
            stderr: self.proc.lines(Stream::Stderr).join("\n"),
            errors: self.errors(),
            logged: self.logged(),
            command: self.sipp.args.join(" "),
        }
    }
}

/// The lines of a file SIPp writes (none while it does not exist).
fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What a SIPp run did.
#[derive(Debug)]
pub struct SippRun {
    name: String,
    /// `None`: it did not end in time and was killed.
    pub status: Option<ExitStatus>,
    /// Its screens (stdout), the last one holding the final counts.
    pub screen: String,
    pub stderr: String,
    /// Its `-trace_err` log: every message it did not expect and why a
    /// call failed.
    pub errors: String,
    /// What its scenario's `<log>` actions wrote, line by line.
    pub logged: Vec<String>,
    command: String,
}

impl SippRun {
    /// Ended by itself with exit status 0 (every call successful).
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// The count in the last row `label` of the final screen
    /// (`Successful call`, `Failed call`).
    pub fn count(&self, label: &str) -> u32 {
        self.screen
            .lines()
            .rfind(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split('|').nth(2))
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn successful(&self) -> u32 {
        self.count("Successful call")
    }

    pub fn failed(&self) -> u32 {
        self.count("Failed call")
    }

    /// Everything for a failure message: the command, how it ended, the
    /// last screen, stderr and the error log.
    pub fn report(&self) -> String {
        let status = self
            .status
            .map_or_else(|| "killed: over its time".to_owned(), |s| s.to_string());
        let last_screen = self
            .screen
            .rfind("------------------------------ Scenario Screen")
            .and_then(|at| self.screen.get(at..))
            .unwrap_or(&self.screen);
        format!(
            "--- sipp {} ({status}): sipp {}\n{last_screen}\n--- stderr:\n{}\n--- logged:\n{}\n--- errors (-trace_err):\n{}\n--- end of sipp {}",
            self.name,
            self.command,
            self.stderr,
            self.logged.join("\n"),
            self.errors,
            self.name
        )
    }
}
