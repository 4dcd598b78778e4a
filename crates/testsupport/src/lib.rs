//! Support shared by the end-to-end tests (a dev-dependency only): each
//! helper once.
//!
//! - [`Proc`]: a child process killed by PID when the test ends, its
//!   output kept for assertions and printed when the test fails;
//! - [`free_port`]: a loopback port free for UDP and TCP;
//! - [`wait_for`]: poll a condition until it holds or a deadline passes,
//!   instead of sleeping a fixed time;
//! - [`Switchboard`]: the binary under test (its path passed in, as
//!   `CARGO_BIN_EXE_switchboard` exists only in the cli's tests), users
//!   added, `serve` started on loopback and waited for ([`Server`]: its
//!   log, SIGHUP to reload);
//! - the peers: [`Sipp`] (exit status, final counts, `-trace_err` log, the
//!   scenario's `<log>` lines while it runs, a source loopback address),
//!   [`Baresip`] (ctrl_tcp events, received-audio dumps), [`Linphonec`];
//! - [`Postgres`]: a real PostgreSQL server in a temporary directory on a
//!   loopback port, a database per test; [`TestStore`]: the suites on
//!   SQLite or, with `SWITCHBOARD_TEST_STORE=postgres`, on PostgreSQL.
//!
//! Everything stays on loopback (127.0.0.1; a peer of another network on
//! 127.0.0.2); every wait is bounded.

// Test support: a failed unwrap or assertion fails the test that called
// it, which is what it is for.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod baresip;
mod linphonec;
mod ports;
mod postgres;
mod process;
mod server;
mod sipp;
mod store;
mod wait;
mod wav;

pub use baresip::{Baresip, BaresipBuilder};
pub use linphonec::Linphonec;
pub use ports::{free_port, free_port_pair, free_udp_run, is_bound};
pub use postgres::{PG_USER, Postgres};
pub use process::{Proc, Stream};
pub use server::{DOMAIN, NO_RATE_LIMIT, Serve, Server, Switchboard, path_str, require, text};
pub use sipp::{Sipp, SippProc, SippRun};
pub use store::{STORE_ENV, TestStore};
pub use wait::wait_for;
pub use wav::{complete_wav_samples, tone_wav};
