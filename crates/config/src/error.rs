//! The one error of this crate: the operator's setting is wrong.

use std::path::Path;

/// An invalid setting: the key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: `{key}`: {message}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The key (`listen`, `registrar.min_expires`, `--domain`, ...).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The file named by `--config` could not be read (the binary reads
    /// it; the message is the same as for any other invalid setting).
    #[must_use]
    pub fn unreadable_file(path: &Path, error: &std::io::Error) -> Self {
        Self::new(
            "--config",
            format!("cannot read {}: {error}", path.display()),
        )
    }
}
