//! Which store the end-to-end tests run on: SQLite in each data directory
//! (the default), or with `SWITCHBOARD_TEST_STORE=postgres` one database
//! per data directory on the test binary's shared PostgreSQL
//! ([`Postgres::shared`]). [`Switchboard`](crate::Switchboard) adds
//! `--database URL` to every store command it runs (`serve`, `user`,
//! `registrations`, `cdr`, `token`), so a suite written for SQLite runs
//! unchanged on PostgreSQL.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use crate::Postgres;

/// The variable that chooses the store: `sqlite` (or unset) or `postgres`.
pub const STORE_ENV: &str = "SWITCHBOARD_TEST_STORE";

/// The commands of the binary that open the store (and take `--database`).
const STORE_COMMANDS: [&str; 5] = ["serve", "user", "registrations", "cdr", "token"];

/// The back end the tests of this process run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestStore {
    /// SQLite in the data directory (`--data` alone).
    Sqlite,
    /// A database of the shared test PostgreSQL per data directory.
    Postgres,
}

impl TestStore {
    /// The store [`STORE_ENV`] names; a value it does not know fails the
    /// test (a typo must not silently test SQLite again).
    pub fn from_env() -> Self {
        match std::env::var(STORE_ENV).as_deref() {
            Err(_) | Ok("" | "sqlite") => Self::Sqlite,
            Ok("postgres") => Self::Postgres,
            Ok(other) => panic!("{STORE_ENV}={other}: expected sqlite or postgres"),
        }
    }

    /// True when the tests run on PostgreSQL: a test that looks at the
    /// SQLite file itself skips that part.
    pub fn is_postgres() -> bool {
        Self::from_env() == Self::Postgres
    }

    /// The `--database` URL of the store in `data` (created on first use),
    /// or `None` on SQLite. PostgreSQL must be installed when asked for.
    pub fn database_for(data: &Path) -> Option<String> {
        if Self::from_env() == Self::Sqlite {
            return None;
        }
        static DATABASES: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
        let pg = Postgres::shared().unwrap_or_else(|| {
            panic!(
                "{STORE_ENV}=postgres but PostgreSQL is not installed (apt-get install postgresql)"
            )
        });
        let key = data.to_string_lossy().trim_end_matches('/').to_owned();
        let mut databases = DATABASES
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(
            databases
                .entry(key)
                .or_insert_with(|| pg.create_database())
                .clone(),
        )
    }

    /// Every byte the store of `data` holds: the SQLite file, or the
    /// database's `pg_dump` on PostgreSQL (a test checks that a password
    /// is nowhere in it).
    pub fn stored_bytes(data: &Path) -> Vec<u8> {
        match Self::database_for(data) {
            Some(url) => Postgres::shared()
                .map(|pg| pg.dump(&url))
                .unwrap_or_default(),
            None => std::fs::read(data.join("switchboard.db")).unwrap(),
        }
    }

    /// `--database URL` for the command line `args` of the binary: a
    /// store command with `--data DIR` and no `--database` of its own, on
    /// PostgreSQL; nothing otherwise.
    pub fn database_args(args: &[&str]) -> Vec<String> {
        let store_command = args.first().is_some_and(|a| STORE_COMMANDS.contains(a));
        if !store_command || args.contains(&"--database") {
            return Vec::new();
        }
        let data = args
            .iter()
            .position(|a| *a == "--data")
            .and_then(|at| args.get(at + 1));
        match data.and_then(|data| Self::database_for(Path::new(data))) {
            Some(url) => vec!["--database".to_owned(), url],
            None => Vec::new(),
        }
    }
}
