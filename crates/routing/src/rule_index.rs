//! Which rules a dialled number can possibly match, by its first byte:
//! a rule with a `to`, `to_prefix` or `to_range` matcher can only match
//! numbers starting with one of the bytes its entries start with. The
//! untraced decision walks only those rules (plus the rules without such
//! a matcher), in plan order.

use std::collections::HashMap;

use crate::matcher::Test;
use crate::rule::Rule;

/// First byte -> rule indexes (ascending); rules that any number may match.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleIndex {
    by_first: HashMap<u8, Vec<usize>>,
    always: Vec<usize>,
}

impl RuleIndex {
    pub(crate) fn new(rules: &[Rule]) -> Self {
        let mut index = Self::default();
        for (position, rule) in rules.iter().enumerate() {
            match rule
                .matchers
                .iter()
                .find_map(|matcher| first_bytes(&matcher.test))
            {
                Some(bytes) => {
                    for byte in bytes {
                        let list = index.by_first.entry(byte).or_default();
                        if list.last() != Some(&position) {
                            list.push(position);
                        }
                    }
                }
                None => index.always.push(position),
            }
        }
        index
    }

    /// The rules `dialled` may match, in plan order.
    pub(crate) fn candidates(&self, dialled: &str) -> impl Iterator<Item = usize> + '_ {
        let keyed = dialled
            .bytes()
            .next()
            .and_then(|byte| self.by_first.get(&byte))
            .map_or(&[][..], Vec::as_slice);
        let mut keyed = keyed.iter().copied().peekable();
        let mut always = self.always.iter().copied().peekable();
        std::iter::from_fn(move || match (keyed.peek(), always.peek()) {
            (Some(k), Some(a)) if k < a => keyed.next(),
            (Some(_), Some(_)) | (None, Some(_)) => always.next(),
            (Some(_), None) => keyed.next(),
            (None, None) => None,
        })
    }
}

/// The first bytes a number must start with to pass `test`; `None` when
/// the test does not restrict them (or an entry is empty).
fn first_bytes(test: &Test) -> Option<Vec<u8>> {
    match test {
        Test::To(list) | Test::ToPrefix(list) => {
            list.iter().map(|entry| entry.bytes().next()).collect()
        }
        Test::ToRange(ranges) => Some(
            ranges
                .iter()
                .flat_map(|range| range.first_bytes())
                .collect(),
        ),
        _ => None,
    }
}
