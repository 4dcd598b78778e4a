//! SIPp (Debian package `sip-tester`): a run to its end or in the
//! background, with its exit status, final screen and error log kept.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::ports::{free_port, is_bound};
use crate::process::{Proc, Stream};
use crate::server::{DOMAIN, path_str, require};
use crate::wait::wait_for;

/// A SIPp command line before it runs. Every run logs the messages it did
/// not expect (`-trace_err`) to a file of its own in `dir`; the run's
/// [`SippRun::report`] shows it with the screen and stderr.
#[derive(Debug)]
pub struct Sipp {
    name: String,
    dir: PathBuf,
    args: Vec<String>,
    errors: PathBuf,
}

impl Sipp {
    /// `sipp` run as `name` in `dir` (its working directory and where its
    /// logs go), with `-nostdin` and `-trace_err`.
    pub fn new(name: &str, dir: &Path) -> Self {
        require("sipp", "-v", "sip-tester");
        static RUNS: AtomicU32 = AtomicU32::new(0);
        let n = RUNS.fetch_add(1, Ordering::Relaxed);
        let errors = dir.join(format!("sipp-{name}-{}-{n}-errors.log", std::process::id()));
        let sipp = Self {
            name: name.to_owned(),
            dir: dir.to_owned(),
            args: Vec::new(),
            errors: errors.clone(),
        };
        sipp.args(&["-nostdin", "-trace_err", "-error_file", path_str(&errors)])
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
        let (port, control, media) = (
            port.to_string(),
            free_port().to_string(),
            free_port().to_string(),
        );
        self.args(&[
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-p",
            &port,
            "-cp",
            &control,
            "-mp",
            &media,
            "-t",
            "u1",
            "-key",
            "domain",
            DOMAIN,
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

    /// Waits at most `limit` for SIPp to end by itself (its `-m` calls
    /// done), then kills it; what it did either way.
    pub fn wait(mut self, limit: Duration) -> SippRun {
        let status = self.proc.wait(limit);
        SippRun {
            name: self.sipp.name.clone(),
            status,
            screen: self.proc.lines(Stream::Stdout).join("\n"),
            stderr: self.proc.lines(Stream::Stderr).join("\n"),
            errors: std::fs::read_to_string(&self.sipp.errors).unwrap_or_default(),
            command: self.sipp.args.join(" "),
        }
    }
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
            "--- sipp {} ({status}): sipp {}\n{last_screen}\n--- stderr:\n{}\n--- errors (-trace_err):\n{}\n--- end of sipp {}",
            self.name, self.command, self.stderr, self.errors, self.name
        )
    }
}
