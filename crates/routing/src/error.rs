//! Why a plan does not load.

/// Why a plan does not load: the operator's file is wrong. Every variant
/// names the file, the line and (when it is about one) the rule.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The TOML does not parse or a key is unknown.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A rule, trunk, group or site is wrong.
    #[error("{path}:{line}: {what}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The line (1-based) where the item starts.
        line: usize,
        /// The item (`route "international"`, `trunk "carrier1"`).
        what: String,
        /// What is wrong.
        message: String,
    },
}

/// The 1-based line holding byte `offset` of `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()
        .get(..end)
        .map_or(0, |head| head.iter().filter(|&&b| b == b'\n').count())
        + 1
}
