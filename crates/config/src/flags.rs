//! The command line's share of the settings.

use std::path::PathBuf;

/// What the command line says (each overrides the file).
#[derive(Debug, Default, Clone)]
pub struct Flags {
    /// `--config`: the TOML file (read by the binary).
    pub config: Option<PathBuf>,
    /// `--listen`, repeated.
    pub listen: Vec<String>,
    /// `--domain`, repeated.
    pub domains: Vec<String>,
    /// `--data`.
    pub data: Option<PathBuf>,
    /// `--database`: a `postgres://` URL (SQLite under `--data` when absent).
    pub database: Option<String>,
    /// `--tls-cert`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key`.
    pub tls_key: Option<PathBuf>,
    /// `--admin`: `IP:PORT` of the admin API, or `off`.
    pub admin: Option<String>,
}
