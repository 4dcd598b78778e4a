//! How the plan gets the text of files it names (`cost_file`) without
//! doing I/O itself.

/// Reads a file named by the plan: the caller (the binary) reads from
/// disk; tests hand texts from memory.
pub trait FileReader {
    /// The text of `path` (already joined to the directory of the plan
    /// file that named it), or `None` when it cannot be read.
    fn read(&self, path: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> FileReader for F {
    fn read(&self, path: &str) -> Option<String> {
        self(path)
    }
}

/// No files at all: what [`crate::Plan::load`] uses (a plan with a
/// `cost_file` then fails to load, naming it).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFiles;

impl FileReader for NoFiles {
    fn read(&self, _path: &str) -> Option<String> {
        None
    }
}
