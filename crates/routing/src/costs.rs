//! A trunk's per-prefix costs, longest prefix first.
//!
//! Big tables (100,000 prefixes) are looked up once per call: a map per
//! prefix length, tried from the longest length down, costs at most one
//! hash lookup per distinct length instead of a scan of every prefix.

use std::collections::HashMap;

/// Prefix -> cost.
#[derive(Debug, Clone, Default)]
pub(crate) struct CostTable {
    costs: HashMap<String, f64>,
    /// The distinct prefix lengths, longest first.
    lengths: Vec<usize>,
}

impl CostTable {
    /// Adds (or replaces) a prefix's cost; `Err` when the cost is not a
    /// non-negative number.
    pub(crate) fn insert(&mut self, prefix: &str, cost: f64) -> Result<(), String> {
        if !cost.is_finite() || cost < 0.0 {
            return Err(format!(
                "cost {cost} for {prefix:?} must be a non-negative number"
            ));
        }
        if prefix.is_empty() {
            return Err("an empty cost prefix".to_owned());
        }
        if !self.lengths.contains(&prefix.len()) {
            self.lengths.push(prefix.len());
            self.lengths.sort_unstable_by(|a, b| b.cmp(a));
        }
        self.costs.insert(prefix.to_owned(), cost);
        Ok(())
    }

    /// Reads `prefix,cost` lines (`#` comments and blank lines skipped);
    /// the error carries the 1-based line.
    pub(crate) fn read_csv(&mut self, text: &str) -> Result<(), (usize, String)> {
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || (index + 1, format!("{line:?} is not \"prefix,cost\""));
            let (prefix, cost) = line.split_once(',').ok_or_else(bad)?;
            let cost: f64 = cost.trim().parse().map_err(|_| bad())?;
            self.insert(prefix.trim(), cost)
                .map_err(|message| (index + 1, message))?;
        }
        Ok(())
    }

    /// The cost of the longest prefix of `number`.
    pub(crate) fn cost(&self, number: &str) -> Option<f64> {
        self.lengths
            .iter()
            .filter_map(|&len| number.get(..len))
            .find_map(|prefix| self.costs.get(prefix).copied())
    }
}

#[cfg(test)]
mod tests {
    // Tests: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_longest_prefix_wins_whatever_the_insertion_order() {
        let mut table = CostTable::default();
        table
            .read_csv("+4930,0.005\n+49,0.01\n+493012,0.001\n")
            .unwrap();
        assert_eq!(table.cost("+49301234"), Some(0.001));
        assert_eq!(table.cost("+49309"), Some(0.005));
        assert_eq!(table.cost("+4940"), Some(0.01));
        assert_eq!(table.cost("+44"), None);
        assert_eq!(table.cost("+4"), None);
    }
}
