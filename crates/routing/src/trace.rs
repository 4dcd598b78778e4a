//! The decision trace, built only when someone reads it: a dry run wants
//! every line, the call path none (formatting a line per rule tried is
//! most of the cost of a decision in a big plan).

/// Trace lines, or nothing when off.
#[derive(Debug, Default)]
pub(crate) struct Trace(Option<Vec<String>>);

impl Trace {
    pub(crate) fn new(on: bool) -> Self {
        Self(on.then(Vec::new))
    }

    /// Adds the line `line` makes, when the trace is on.
    pub(crate) fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(lines) = &mut self.0 {
            lines.push(line());
        }
    }

    pub(crate) fn is_on(&self) -> bool {
        self.0.is_some()
    }

    pub(crate) fn into_lines(self) -> Vec<String> {
        self.0.unwrap_or_default()
    }
}
