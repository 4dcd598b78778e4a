//! A real PostgreSQL server for the tests: `initdb` in a temporary
//! directory, `postgres` on a free loopback port, stopped by PID.
//!
//! `initdb` refuses to run as root, so as root the cluster belongs to the
//! `postgres` user (or `nobody`) and the server runs as that user. One
//! server per test binary ([`Postgres::shared`]) with a database per test
//! ([`Postgres::create_database`]) keeps the time bounded; a test that
//! stops and restarts the server starts its own ([`Postgres::start`]).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::{Proc, free_port, wait_for};

/// The role the tests connect as (trust authentication on loopback).
pub const PG_USER: &str = "switchboard";

/// A PostgreSQL server of the test; stopped (fast shutdown, then by PID)
/// and its directory removed when dropped.
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    root: PathBuf,
    port: u16,
    owner: Option<(u32, u32)>,
    server: Option<Proc>,
    databases: AtomicU32,
}

/// The directory of the newest installed PostgreSQL's binaries
/// (`SB_PG_BIN` overrides), if any.
fn find_binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SB_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The uid and gid of `name` from /etc/passwd.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name))
            .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
            .flatten()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

impl Postgres {
    /// Starts a new server, or `None` (with a message saying why the test
    /// is skipped) when PostgreSQL is not installed.
    pub fn start() -> Option<Self> {
        let Some(bin) = find_binaries() else {
            eprintln!(
                "SKIPPED: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; \
                 Debian: apt-get install postgresql; scripts/test.sh installs it)"
            );
            return None;
        };
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let root = std::env::temp_dir().join(format!(
            "sb-pg-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let owner = if is_root() {
            let ids = user_ids("postgres").or_else(|| user_ids("nobody"));
            let (uid, gid) = ids.expect("no postgres or nobody user to run PostgreSQL as");
            std::os::unix::fs::chown(&root, Some(uid), Some(gid)).unwrap();
            Some((uid, gid))
        } else {
            None
        };
        let mut pg = Self {
            bin,
            root,
            port: free_port(),
            owner,
            server: None,
            databases: AtomicU32::new(0),
        };
        let status = pg
            .command("initdb")
            .args(["-U", PG_USER, "-A", "trust", "-E", "UTF8", "--no-sync"])
            .arg("-D")
            .arg(pg.data())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        pg.run();
        Some(pg)
    }

    /// The server shared by the tests of this binary (started on first
    /// use, stopped by a watchdog when the binary exits), or `None` when
    /// PostgreSQL is not installed.
    pub fn shared() -> Option<&'static Self> {
        static SHARED: OnceLock<Option<Postgres>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let pg = Self::start()?;
                pg.stop_when_gone(std::process::id());
                Some(pg)
            })
            .as_ref()
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// `program` of the installation, as the cluster's owner.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        command.current_dir(&self.root);
        command
    }

    /// Starts `postgres` on the data directory and waits until it accepts
    /// connections.
    fn run(&mut self) {
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.root)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "shared_buffers=16MB",
                "-c",
                "max_connections=60",
            ]);
        self.server = Some(Proc::spawn("postgres", command).killing_descendants());
        let ready = wait_for(Duration::from_secs(30), || {
            Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success())
        });
        assert!(ready, "PostgreSQL did not start on port {}", self.port);
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{PG_USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// A new empty database (its own name per call), as its URL.
    pub fn create_database(&self) -> String {
        let name = format!("t{}", self.databases.fetch_add(1, Ordering::Relaxed));
        let port = self.port.to_string();
        self.client(
            "createdb",
            &["-h", "127.0.0.1", "-p", &port, "-U", PG_USER, &name],
        );
        self.url(&name)
    }

    /// Everything in the database at `url` as `pg_dump` writes it (plain
    /// SQL): what a test searches for bytes that must never be stored.
    pub fn dump(&self, url: &str) -> Vec<u8> {
        self.client("pg_dump", &["--data-only", "-d", url])
    }

    /// Runs the client `program` of the installation with `args`, which
    /// must succeed: its stdout.
    fn client(&self, program: &str, args: &[&str]) -> Vec<u8> {
        let out = Command::new(self.bin.join(program))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Stops the server (fast shutdown: sessions ended, data flushed) and
    /// waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            if server.try_wait().is_none() {
                server.signal("INT");
                server.wait(Duration::from_secs(30));
            }
        }
    }

    /// Starts the stopped server again, on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// A shell that stops the server by PID once process `pid` has exited
    /// (a static server is never dropped).
    fn stop_when_gone(&self, pid: u32) {
        let Some(server) = &self.server else { return };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; kill -INT {pg}; \
             while kill -0 {pg} 2>/dev/null; do sleep 1; done; rm -rf '{root}'",
            pg = server.id(),
            root = self.root.display()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// The server's log so far (what `postgres` printed).
    pub fn log(&self) -> String {
        self.server.as_ref().map(Proc::output).unwrap_or_default()
    }

    /// The root of the server's files.
    pub fn dir(&self) -> &Path {
        &self.root
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
