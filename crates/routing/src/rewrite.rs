//! Number handling of a rule: strip, replace, prepend, normalize, in
//! that order.

use regex::Regex;

use crate::number::Numbering;

/// One rewrite step.
#[derive(Debug, Clone)]
pub(crate) enum Rewrite {
    /// Drop N leading characters.
    Strip(usize),
    /// Replace the first match (`$1` groups allowed).
    Replace { regex: Regex, with: String },
    /// Put this in front.
    Prepend(String),
    /// Complete to `+CC...` with `[routing]`'s codes.
    NormalizeE164,
}

impl Rewrite {
    pub(crate) fn apply(&self, number: &str, numbering: &Numbering) -> String {
        match self {
            Self::Strip(count) => number.chars().skip(*count).collect(),
            Self::Replace { regex, with } => regex.replace(number, with.as_str()).into_owned(),
            Self::Prepend(prefix) => format!("{prefix}{number}"),
            Self::NormalizeE164 => numbering.e164(number),
        }
    }

    /// How the trace names the step.
    pub(crate) fn label(&self) -> String {
        match self {
            Self::Strip(count) => format!("strip {count}"),
            Self::Replace { regex, with } => format!("replace {:?} with {with:?}", regex.as_str()),
            Self::Prepend(prefix) => format!("prepend {prefix:?}"),
            Self::NormalizeE164 => "normalize e164".to_owned(),
        }
    }
}
