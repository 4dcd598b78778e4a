//! The `switchboard` command line: argument parsing, logging set-up and the
//! commands. `main` only calls [`run`] and turns an [`Error`] into a message
//! and exit code 1.
//!
//! Commands that work today:
//!
//! * `switchboard parse FILE [--stream]`: parses SIP message bytes (one
//!   datagram, or a TCP/TLS byte stream) with `switchboard-proto` and prints
//!   what the parser found and what a server would answer. Exit code 0 when
//!   everything parsed, 1 when something did not.
//! * `switchboard serve`: not available yet (the registrar and proxy come with
//!   later work); it says so on stderr and exits with code 2.
//!
//! Logs go to stderr through `tracing`; `RUST_LOG` filters them
//! (`RUST_LOG=debug switchboard parse msg.sip`).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

mod parse;
mod render;
mod serve;

/// Exit code when a message does not parse (or cannot be read).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a command that this version does not provide yet (and of
/// command-line usage errors, as clap reports them).
pub const EXIT_UNAVAILABLE: u8 = 2;

/// Switchboard: a SIP registrar, proxy and user agent in one binary.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse SIP message bytes and show what a server sees in them.
    ///
    /// Prints the start line, the Request-URI, the hot headers (top Via,
    /// From/To tags, Call-ID, CSeq, Max-Forwards, Content-Length), every
    /// header line, the body and the answer a server would give. Exits with
    /// 1 and `error: ... at byte N` on stderr when the bytes do not parse.
    Parse {
        /// File holding the message bytes, or `-` for standard input.
        file: PathBuf,
        /// Treat the bytes as a TCP/TLS stream: cut them into messages by
        /// Content-Length (RFC 3261 §18.3) and parse each one. Without this
        /// flag the bytes are one UDP datagram.
        #[arg(long)]
        stream: bool,
        /// Largest message the stream framer accepts, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = 65_535)]
        max_size: usize,
    },
    /// Run the SIP server (not available in this version).
    Serve,
}

/// What can make a command fail before it has anything to report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file (`-` for standard input).
        path: String,
        /// Why.
        source: io::Error,
    },
    /// The output could not be written.
    #[error("cannot write output: {0}")]
    Write(#[from] io::Error),
}

impl Error {
    /// True when the reader of the output went away (`switchboard parse f |
    /// head`): not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Write(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Parses the command line, sets up logging and runs the command.
///
/// `--help`, `--version` and usage errors are handled by clap, which exits
/// by itself (0 for help and version, 2 for usage errors).
pub fn run() -> Result<ExitCode, Error> {
    let cli = Cli::parse();
    init_logging();
    let stdout = io::stdout();
    let stderr = io::stderr();
    execute(cli.command, &mut stdout.lock(), &mut stderr.lock())
}

/// Runs one command, writing its report to `out` and its diagnostics to
/// `err`.
pub fn execute(
    command: Command,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    match command {
        Command::Parse {
            file,
            stream,
            max_size,
        } => {
            let input = parse::read_input(&file)?;
            if stream {
                parse::stream(&input, max_size, out, err)
            } else {
                parse::datagram(&input, out, err)
            }
        }
        Command::Serve => serve::serve(err),
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second initialisation (tests calling `run` twice) is harmless.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
