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
        Self(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(at, _)| at)
                .collect(),
        )
    }

    /// The 1-based line holding byte `offset`.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&newline| newline < offset) + 1
    }
}

/// The plan's sections written as arrays of tables.
const ITEM_SECTIONS: [&str; 5] = ["route", "trunk", "site", "ring_group", "test"];

/// The routing item holding byte `offset` of `text` (`route "a"`,
/// `[routing]`), for a TOML error inside it; `None` outside the plan's
/// sections. Text scanning, on the error path only.
pub(crate) fn enclosing_item(text: &str, offset: usize) -> Option<String> {
    let mut lines = Vec::new();
    let mut start = 0;
    for line in text.split('\n') {
        lines.push((start, line.trim()));
        start += line.len() + 1;
    }
    let current = lines.iter().rposition(|(start, _)| *start <= offset)?;
    for at in (0..=current).rev() {
        let (_, line) = lines.get(at)?;
        if let Some(kind) = line
            .strip_prefix("[[")
            .and_then(|rest| rest.split("]]").next())
        {
            let kind = kind.trim();
            if !ITEM_SECTIONS.contains(&kind) {
                return None;
            }
            let name = lines
                .iter()
                .skip(at + 1)
                .take_while(|(_, line)| {
                    !line.starts_with('[') || line.starts_with(&format!("[{kind}."))
                })
                .find_map(|(_, line)| {
                    let value = line.strip_prefix("name")?.trim_start().strip_prefix('=')?;
                    Some(value.trim().trim_matches(['"', '\'']).to_owned())
                });
            return Some(match name {
                Some(name) => format!("{kind} {name:?}"),
                None => kind.to_owned(),
            });
        }
        if let Some(table) = line
            .strip_prefix('[')
            .and_then(|rest| rest.split(']').next())
        {
            let table = table.trim();
            if table == "routing" || table == "groups" {
                return Some(format!("[{table}]"));
            }
            // `[trunk.dids]` belongs to the `[[trunk]]` above it.
            if !ITEM_SECTIONS
                .iter()
                .any(|kind| table.starts_with(&format!("{kind}.")))
            {
                return None;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines() {
        let lines = LineIndex::new("a\nbb\n\nc");
        assert_eq!(
            [0, 1, 2, 4, 5, 6, 7].map(|at| lines.line(at)),
            [1, 1, 2, 2, 3, 4, 4]
        );
    }

    #[test]
    fn the_enclosing_item_is_the_table_above() {
        let text = "[server]\nx = 1\n[[route]]\nname = 'r1'\nbad\n[[trunk]]\n[trunk.dids]\nbad\n";
        assert_eq!(enclosing_item(text, 1), None);
        assert_eq!(
            enclosing_item(text, text.find("bad").unwrap()).as_deref(),
            Some("route \"r1\"")
        );
        assert_eq!(
            enclosing_item(text, text.rfind("bad").unwrap()).as_deref(),
            Some("trunk")
        );
    }
}
