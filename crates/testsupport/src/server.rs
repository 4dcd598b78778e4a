//! The `switchboard` binary under test: its commands, and `serve` started
//! on loopback and waited for.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::ports::free_port;
use crate::process::{Proc, Stream};
use crate::store::TestStore;
use crate::wait::wait_for;

/// The domain every test serves and registers in.
pub const DOMAIN: &str = "127.0.0.1";

/// The configuration of servers whose clients all come from 127.0.0.1:
/// no per-source rate limit.
pub const NO_RATE_LIMIT: &str = "[protection]\nrate_limit = false\n";

/// What `serve`'s ready line holds: its target and the word, since other
/// lines may hold "ready" too (PostgreSQL's "relation ... already exists"
/// notice did, and a test stopped a server still migrating).
const READY_LINE: &str = "serve: ready";
/// How long `serve` may take to say "ready".
const READY: Duration = Duration::from_secs(30);

/// The `switchboard` binary. Its path is given by the test
/// (`env!("CARGO_BIN_EXE_switchboard")` exists only in the cli's tests).
#[derive(Clone, Debug)]
pub struct Switchboard {
    bin: PathBuf,
}

impl Switchboard {
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Self { bin: bin.into() }
    }

    /// `switchboard args` without `RUST_LOG` (quiet), to be run; a store
    /// command gets the `--database` of the tests' store ([`TestStore`]).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            .args(TestStore::database_args(args))
            .env_remove("RUST_LOG");
        command
    }

    /// Runs `switchboard args` to its end (stdin closed).
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()))
    }

    /// Starts `switchboard args` in the background with `RUST_LOG=info`
    /// (its log on stderr), as `name`.
    pub fn spawn(&self, name: &str, args: &[&str]) -> Proc {
        let mut command = self.command(args);
        command.env("RUST_LOG", log_level());
        Proc::spawn(name, command)
    }

    /// Adds `(user, password)` pairs in [`DOMAIN`] to the store in `data`
    /// (`user import`).
    pub fn add_users(&self, data: &Path, users: &[(&str, &str)]) {
        static IMPORTS: AtomicU32 = AtomicU32::new(0);
        let n = IMPORTS.fetch_add(1, Ordering::Relaxed);
        let csv = data
            .parent()
            .unwrap_or(data)
            .join(format!("users-import-{}-{n}.csv", std::process::id()));
        let mut f = std::fs::File::create(&csv).unwrap();
        for (user, password) in users {
            writeln!(f, "{user},{password}").unwrap();
        }
        drop(f);
        let o = self.run(&[
            "user",
            "import",
            path_str(&csv),
            "--domain",
            DOMAIN,
            "--data",
            path_str(data),
        ]);
        assert!(o.status.success(), "user import: {}", text(&o.stderr));
    }

    /// The lines of `switchboard registrations` for the store in `data`.
    pub fn registrations(&self, data: &Path) -> Vec<String> {
        let o = self.run(&["registrations", "--data", path_str(data)]);
        assert!(o.status.success(), "registrations: {}", text(&o.stderr));
        text(&o.stdout).lines().map(str::to_owned).collect()
    }

    /// `serve` on the store in `data`, to be configured and started.
    pub fn serve(&self, data: &Path) -> Serve {
        Serve {
            switchboard: self.clone(),
            data: data.to_owned(),
            port: None,
            config: String::new(),
            args: Vec::new(),
            log: log_level(),
            defaults: false,
        }
    }
}

/// `switchboard serve` before it starts: UDP and TCP on one free port of
/// 127.0.0.1, domain [`DOMAIN`], a TOML configuration, more arguments.
#[derive(Debug)]
pub struct Serve {
    switchboard: Switchboard,
    data: PathBuf,
    port: Option<u16>,
    config: String,
    args: Vec<String>,
    log: String,
    /// No `--listen` and no `--domain`: the server's own defaults, on
    /// `port` (the file key).
    defaults: bool,
}

impl Serve {
    /// The default listeners and domains (every address of the host, IPv4
    /// and IPv6), on the free port (given as the file key `port`).
    #[must_use]
    pub fn default_listeners(mut self) -> Self {
        self.defaults = true;
        self
    }

    /// Its `RUST_LOG` (default: `SERVE_LOG`, else `info`): a test that
    /// waits for a debug line asks for it.
    #[must_use]
    pub fn log(mut self, filter: &str) -> Self {
        filter.clone_into(&mut self.log);
        self
    }

    /// The UDP and TCP port (a free one when not given): a restarted
    /// server keeps its port.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The TOML configuration (empty: the defaults).
    #[must_use]
    pub fn config(mut self, toml: &str) -> Self {
        toml.clone_into(&mut self.config);
        self
    }

    /// One more listener (`tls:127.0.0.1:PORT`, ...).
    #[must_use]
    pub fn listen(self, spec: &str) -> Self {
        self.args(&["--listen", spec])
    }

    /// The certificate and key (PEM files) of its TLS and WSS listeners.
    #[must_use]
    pub fn certificate(self, cert: &Path, key: &Path) -> Self {
        self.args(&["--tls-cert", path_str(cert), "--tls-key", path_str(key)])
    }

    /// More command-line arguments.
    #[must_use]
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Starts the server and waits (30 s at most) for its "ready" line.
    pub fn start(self) -> Server {
        let port = self.port.unwrap_or_else(free_port);
        let dir = self.data.parent().unwrap_or(&self.data).to_owned();
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join(format!("switchboard-{port}.toml"));
        let text = if self.defaults {
            format!("port = {port}\n{}", self.config)
        } else {
            self.config.clone()
        };
        std::fs::write(&config, text).unwrap();
        let (udp, tcp) = (
            format!("udp:127.0.0.1:{port}"),
            format!("tcp:127.0.0.1:{port}"),
        );
        let mut args = vec!["serve"];
        if !self.defaults {
            args.extend(["--listen", &udp, "--listen", &tcp, "--domain", DOMAIN]);
        }
        args.extend([
            "--data",
            path_str(&self.data),
            "--config",
            path_str(&config),
        ]);
        args.extend(self.args.iter().map(String::as_str));
        // Many servers run at once: the admin API only where a test asks.
        if !self.args.iter().any(|a| a == "--admin") {
            args.extend(["--admin", "off"]);
        }
        let mut command = self.switchboard.command(&args);
        command.env("RUST_LOG", &self.log);
        let mut proc = Proc::spawn("serve", command);
        // A server that refuses its configuration exits at once: no need
        // to wait the whole READY for its "ready".
        wait_for(READY, || {
            proc.find_line(Stream::Stderr, READY_LINE).is_some() || proc.try_wait().is_some()
        });
        if proc.wait(Duration::ZERO).is_some() {
            panic!("serve exited before it was ready\n{}", proc.report());
        }
        proc.expect_line(Stream::Stderr, READY_LINE, Duration::ZERO);
        Server {
            proc,
            port,
            data: self.data,
            config,
            switchboard: self.switchboard,
        }
    }
}

/// A running `switchboard serve`, killed by PID when dropped; its log is
/// kept (and printed when the test fails).
#[derive(Debug)]
pub struct Server {
    proc: Proc,
    /// The UDP and TCP port.
    pub port: u16,
    /// The store.
    pub data: PathBuf,
    /// Its configuration file (`--config`), beside the store's directory:
    /// files it names by relative paths (`[routing] plan`) go there too.
    pub config: PathBuf,
    switchboard: Switchboard,
}

impl Server {
    /// 127.0.0.1 and the UDP/TCP port.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// What it logged so far, line by line.
    pub fn log_lines(&self) -> Vec<String> {
        self.proc.lines(Stream::Stderr)
    }

    /// What it logged so far.
    pub fn log_text(&self) -> String {
        self.log_lines().join("\n")
    }

    /// The process, to signal or wait for.
    pub fn process(&mut self) -> &mut Proc {
        &mut self.proc
    }

    /// Asks it to reload (SIGHUP to its PID), as an operator does.
    pub fn reload(&self) {
        self.proc.signal("HUP");
    }

    /// How many lines it logged so far contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log_lines()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits at most `limit` until more than `before` of its log lines
    /// contain `needle`; fails the test with its log otherwise.
    pub fn wait_log_count(&self, needle: &str, before: usize, limit: Duration) {
        assert!(
            wait_for(limit, || self.log_count(needle) > before),
            "serve logged no new line with {needle:?} in {limit:?} ({before} before)\n{}",
            self.log_text()
        );
    }

    /// The bindings in its store (`switchboard registrations`).
    pub fn registrations(&self) -> Vec<String> {
        self.switchboard.registrations(&self.data)
    }

    /// Whether `aor` (`sip:alice@127.0.0.1`) has a binding in the store.
    pub fn is_registered(&self, aor: &str) -> bool {
        let prefix = format!("{aor} ");
        self.registrations().iter().any(|l| l.starts_with(&prefix))
    }

    /// Waits at most `limit` until `aor` has a binding; fails the test
    /// otherwise.
    pub fn wait_registered(&self, aor: &str, limit: Duration) {
        assert!(
            wait_for(limit, || self.is_registered(aor)),
            "{aor} not registered in {limit:?}: {:?}",
            self.registrations()
        );
    }
}

/// `RUST_LOG` of the children: `SERVE_LOG` when set, else `info`.
fn log_level() -> String {
    std::env::var("SERVE_LOG").unwrap_or_else(|_| "info".to_owned())
}

/// Bytes as text (lossy).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A path as an argument (the tests' paths are UTF-8).
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Fails the test with how to install `program` when it cannot be started
/// (`program arg`, e.g. `sipp -v`).
pub fn require(program: &str, arg: &str, package: &str) {
    let found = Command::new(program)
        .arg(arg)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "{program} is not installed (Debian: apt-get install -y {package}); scripts/test.sh installs it"
    );
}
