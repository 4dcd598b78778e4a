//! The one place the binary opens "the store": SQLite in the data
//! directory, or PostgreSQL when `--database` (or `[store] url` for
//! `serve`) names one. Every command gets the same
//! [`AnyStore`], so none of them forks per back end.

use std::path::{Path, PathBuf};

use switchboard_store::{AnyStore, StoreError, StoreLocation};

use crate::Error;

/// Where a data command finds the store.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR", default_value = switchboard_config::DEFAULT_DATA)]
    pub data: PathBuf,
    /// The store in PostgreSQL: `postgres://USER:PASSWORD@HOST:PORT/NAME`
    /// (default: SQLite in the data directory).
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
}

/// The location `data` and `database` name.
///
/// # Errors
/// [`StoreError::InvalidInput`] for a URL that is not `postgres://`.
pub(crate) fn location(data: &Path, database: Option<&str>) -> Result<StoreLocation, StoreError> {
    StoreLocation::new(data, database)
}

/// Opens the store for a data command.
pub(crate) fn open(args: &StoreArgs) -> Result<AnyStore, Error> {
    let at = location(&args.data, args.database.as_deref()).map_err(|source| Error::Store {
        what: "cannot use the database URL".into(),
        source,
    })?;
    at.open().map_err(|source| Error::Store {
        what: format!("cannot open the store ({})", at.describe()),
        source,
    })
}

/// Runs `work` on a thread of its own and waits for it. `serve` opens and
/// first reads the store this way: the PostgreSQL client blocks on a
/// runtime of its own, which tokio refuses on one of its threads.
pub(crate) fn blocking<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| scope.spawn(work).join())
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
