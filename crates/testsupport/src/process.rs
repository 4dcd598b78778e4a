//! [`Proc`]: a child process that is killed by PID when the test ends, with
//! its output kept for the test's assertions and printed when the test fails.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::wait::wait_for;

/// One of a child's output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The lines a child wrote so far, in the order they arrived.
#[derive(Debug, Default)]
struct Captured {
    lines: Mutex<Vec<(Stream, String)>>,
    grown: Condvar,
}

/// Where a child's output goes.
#[derive(Debug)]
enum Output {
    /// Read line by line from pipes into memory.
    Pipes {
        captured: Arc<Captured>,
        readers: Vec<JoinHandle<()>>,
    },
    /// Both streams into one file (peers whose log is read as a whole,
    /// stdout and stderr interleaved as written).
    File(PathBuf),
}

/// A child process, killed by PID (and, when asked, every process it
/// started) when dropped. Its output is kept: the test reads it, and when
/// the test fails (the guard drops while panicking) it is printed with the
/// child's name. `SB_TEST_ECHO=1` also echoes pipe output as it comes.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Option<Child>,
    status: Option<ExitStatus>,
    stdin: Option<ChildStdin>,
    output: Output,
    kill_tree: bool,
}

impl Proc {
    /// Starts `command` (stdin closed, stdout and stderr kept in memory).
    pub fn spawn(name: &str, command: Command) -> Self {
        Self::start(name, command, false, None)
    }

    /// Like [`Proc::spawn`] with stdin open for [`Proc::write_stdin`].
    pub fn spawn_with_stdin(name: &str, command: Command) -> Self {
        Self::start(name, command, true, None)
    }

    /// Starts `command` with stdout and stderr both written to `log`
    /// (created); [`Proc::output`] reads that file.
    pub fn spawn_logging_to(name: &str, command: Command, log: &Path, stdin: bool) -> Self {
        Self::start(name, command, stdin, Some(log))
    }

    fn start(name: &str, mut command: Command, stdin: bool, log: Option<&Path>) -> Self {
        command.stdin(if stdin { Stdio::piped() } else { Stdio::null() });
        if let Some(log) = log {
            let file = std::fs::File::create(log)
                .unwrap_or_else(|e| panic!("{name}: cannot create {}: {e}", log.display()));
            command.stdout(file.try_clone().unwrap()).stderr(file);
        } else {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        let output = match log {
            Some(log) => Output::File(log.to_owned()),
            None => {
                let captured = Arc::new(Captured::default());
                let out = child
                    .stdout
                    .take()
                    .map(|r| (Stream::Stdout, Box::new(r) as _));
                let err = child
                    .stderr
                    .take()
                    .map(|r| (Stream::Stderr, Box::new(r) as _));
                let readers = [out, err]
                    .into_iter()
                    .flatten()
                    .map(|(stream, reader)| collect(name, stream, reader, &captured))
                    .collect();
                Output::Pipes { captured, readers }
            }
        };
        Self {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child: Some(child),
            status: None,
            output,
            kill_tree: false,
        }
    }

    /// On drop, kill every descendant too (found in /proc), for children
    /// that start process groups of their own (node starting Chromium).
    #[must_use]
    pub fn killing_descendants(mut self) -> Self {
        self.kill_tree = true;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's PID.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends `signal` (`TERM`, `KILL`, ...) to the child by PID.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), self.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "{}: kill -{signal} failed", self.name);
    }

    /// The exit status, when the child has ended.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
        }
        self.status
    }

    /// Waits at most `limit` for the child to end; then its output is
    /// complete. `None`: still running.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_for(limit, || self.try_wait().is_some());
        let status = self.try_wait()?;
        self.join_readers(Duration::from_secs(2));
        Some(status)
    }

    /// Waits at most `limit` for the exit; fails the test if it does not come.
    pub fn expect_exit(&mut self, limit: Duration) -> ExitStatus {
        self.wait(limit)
            .unwrap_or_else(|| panic!("{} did not exit in {limit:?}\n{}", self.name, self.report()))
    }

    /// Writes `text` to the child's stdin (a closed stdin is ignored: the
    /// child's output tells what happened).
    pub fn write_stdin(&mut self, text: &str) {
        if let Some(stdin) = &mut self.stdin {
            let _ = stdin.write_all(text.as_bytes());
            let _ = stdin.flush();
        }
    }

    /// Every line of `stream` so far (for a file-logged child: the file).
    pub fn lines(&self, stream: Stream) -> Vec<String> {
        self.lines_of(|s| s == stream)
    }

    /// Everything the child wrote so far, stdout and stderr in the order
    /// they came (a file-logged child: the file, CRs turned into LFs).
    pub fn output(&self) -> String {
        match &self.output {
            Output::Pipes { .. } => self.lines_of(|_| true).join("\n"),
            Output::File(path) => std::fs::read_to_string(path)
                .unwrap_or_default()
                .replace('\r', "\n"),
        }
    }

    /// The lines so far of the streams `keep` takes.
    fn lines_of(&self, keep: impl Fn(Stream) -> bool) -> Vec<String> {
        match &self.output {
            Output::Pipes { captured, .. } => captured
                .lines
                .lock()
                .unwrap()
                .iter()
                .filter(|(s, _)| keep(*s))
                .map(|(_, l)| l.clone())
                .collect(),
            Output::File(_) => self.output().lines().map(str::to_owned).collect(),
        }
    }

    /// The first line of `stream` containing `needle`, if any came yet.
    pub fn find_line(&self, stream: Stream, needle: &str) -> Option<String> {
        self.lines(stream).into_iter().find(|l| l.contains(needle))
    }

    /// Waits at most `limit` for a line of `stream` containing `needle`
    /// (one that came earlier counts); fails the test with the child's
    /// output when none comes.
    pub fn expect_line(&self, stream: Stream, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        if let Output::Pipes { captured, .. } = &self.output {
            let mut lines = captured.lines.lock().unwrap();
            loop {
                if let Some((_, l)) = lines
                    .iter()
                    .find(|(s, l)| *s == stream && l.contains(needle))
                {
                    return l.clone();
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                lines = captured.grown.wait_timeout(lines, left).unwrap().0;
            }
        } else if wait_for(limit, || self.find_line(stream, needle).is_some()) {
            return self.find_line(stream, needle).unwrap_or_default();
        }
        panic!(
            "{}: no {stream:?} line with {needle:?} in {limit:?}\n{}",
            self.name,
            self.report()
        )
    }

    /// The child's name, exit status and output, for a failure message.
    pub fn report(&self) -> String {
        let status = self
            .status
            .map_or_else(|| "running".to_owned(), |s| s.to_string());
        format!(
            "--- {} ({status}) said:\n{}\n--- end of {}",
            self.name,
            self.output(),
            self.name
        )
    }

    /// Lets the pipe readers finish (bounded: a grandchild may hold a pipe).
    fn join_readers(&mut self, limit: Duration) {
        if let Output::Pipes { readers, .. } = &mut self.output {
            wait_for(limit, || readers.iter().all(JoinHandle::is_finished));
            for r in std::mem::take(readers)
                .into_iter()
                .filter(JoinHandle::is_finished)
            {
                let _ = r.join();
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let tree = if self.kill_tree {
                descendants(child.id())
            } else {
                Vec::new()
            };
            let _ = child.kill();
            let _ = child.wait();
            for pid in tree {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        if std::thread::panicking() {
            self.join_readers(Duration::from_secs(1));
            eprintln!("{}", self.report());
        }
    }
}

/// Reads `reader` line by line into `captured` (and echoes with
/// `SB_TEST_ECHO`) until the stream closes.
fn collect(
    name: &str,
    stream: Stream,
    reader: Box<dyn Read + Send>,
    captured: &Arc<Captured>,
) -> JoinHandle<()> {
    let captured = Arc::clone(captured);
    let tag = match stream {
        Stream::Stdout => name.to_owned(),
        Stream::Stderr => format!("{name} stderr"),
    };
    let echo = std::env::var_os("SB_TEST_ECHO").is_some();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        // Lines by bytes: a peer's output need not be UTF-8.
        while reader.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
            let line = String::from_utf8_lossy(&buf)
                .trim_end_matches(['\n', '\r'])
                .to_owned();
            buf.clear();
            if echo {
                eprintln!("[{tag}] {line}");
            }
            captured.lines.lock().unwrap().push((stream, line));
            captured.grown.notify_all();
        }
    })
}

/// The PIDs of every descendant of `root`, from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces.
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat.get(i + 1..))
            .and_then(|after| after.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while let Some(&p) = tree.get(i) {
        tree.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree.split_off(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a child writes is there to wait for, on either stream; when
    /// the guard drops, the child is gone, however long it meant to run.
    #[test]
    fn a_child_is_read_while_it_runs_and_killed_on_drop() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo ready; echo oops >&2; exec sleep 30"]);
        let mut child = Proc::spawn("sh", command);
        let line = child.expect_line(Stream::Stdout, "ready", Duration::from_secs(10));
        assert_eq!(line, "ready");
        child.expect_line(Stream::Stderr, "oops", Duration::from_secs(10));
        assert_eq!(child.lines(Stream::Stdout), ["ready"]);
        assert!(child.try_wait().is_none(), "still running");
        let pid = child.id();
        drop(child);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "child {pid} outlived its guard"
        );
    }

    /// A child that ends by itself gives its status and all its output.
    #[test]
    fn an_ended_child_gives_its_status_and_whole_output() {
        let mut command = Command::new("sh");
        command.args(["-c", "for i in 1 2 3; do echo line $i; done; exit 3"]);
        let mut child = Proc::spawn("sh", command);
        let status = child.expect_exit(Duration::from_secs(10));
        assert_eq!(status.code(), Some(3));
        assert_eq!(child.output(), "line 1\nline 2\nline 3");
    }
}
