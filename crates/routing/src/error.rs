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

/// Where the lines of a text start, to turn byte offsets into lines
/// without counting from the start each time (10,000 routes in one file).
#[derive(Debug, Clone)]
pub(crate) struct LineIndex(Vec<usize>);

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        Self(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(at, _)| at).collect())
    }

    /// The 1-based line holding byte `offset`.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&newline| newline < offset) + 1
    }
}
