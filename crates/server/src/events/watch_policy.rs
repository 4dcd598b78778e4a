//! Who may watch whom: per watched user, lists of watchers allowed and
//! refused; everyone else by the default (same domain). A refused watcher
//! gets 403, never a subscription left pending forever.

use std::collections::HashMap;

/// The watchers one user allows and refuses. An entry is an AOR
/// (`sip:bob@example.com`), a domain (`@example.com`) or `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchRule {
    /// Watchers allowed even when the default refuses them.
    pub allow: Vec<String>,
    /// Watchers refused whatever else says (wins over `allow`).
    pub deny: Vec<String>,
}

/// The policy: a rule per watched AOR and the default for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchPolicy {
    /// Users of the watched user's own domain may watch without a rule.
    pub same_domain: bool,
    /// Rules by watched AOR (`sip:alice@example.com`, lower case).
    pub rules: HashMap<String, WatchRule>,
}

impl Default for WatchPolicy {
    fn default() -> Self {
        Self {
            same_domain: true,
            rules: HashMap::new(),
        }
    }
}

/// The domain of an AOR text (`sip:bob@example.com` → `example.com`).
fn domain_of(aor: &str) -> &str {
    aor.rsplit_once('@').map_or("", |(_, d)| d)
}

/// Whether `entry` names `watcher`.
fn names(entry: &str, watcher: &str) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some(domain) = entry.strip_prefix('@') {
        return domain.eq_ignore_ascii_case(domain_of(watcher));
    }
    entry.eq_ignore_ascii_case(watcher)
}

impl WatchPolicy {
    /// Whether `watcher` (an AOR) may watch `watched` (an AOR). A user may
    /// always watch themselves.
    #[must_use]
    pub fn allows(&self, watcher: &str, watched: &str) -> bool {
        if watcher.eq_ignore_ascii_case(watched) {
            return true;
        }
        let rule = self.rules.get(&watched.to_ascii_lowercase());
        if let Some(rule) = rule {
            if rule.deny.iter().any(|e| names(e, watcher)) {
                return false;
            }
            if rule.allow.iter().any(|e| names(e, watcher)) {
                return true;
            }
        }
        self.same_domain && domain_of(watcher).eq_ignore_ascii_case(domain_of(watched))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_domain_by_default_rules_override() {
        let mut policy = WatchPolicy::default();
        let alice = "sip:alice@example.com";
        assert!(policy.allows("sip:bob@example.com", alice));
        assert!(!policy.allows("sip:eve@other.org", alice));
        policy.rules.insert(
            alice.to_owned(),
            WatchRule {
                allow: vec!["@other.org".to_owned()],
                deny: vec![
                    "sip:bob@example.com".to_owned(),
                    "sip:eve@other.org".to_owned(),
                ],
            },
        );
        assert!(!policy.allows("sip:bob@example.com", alice));
        assert!(!policy.allows("sip:eve@other.org", alice));
        assert!(policy.allows("sip:dave@other.org", alice));
        assert!(policy.allows(alice, alice));
    }
}
