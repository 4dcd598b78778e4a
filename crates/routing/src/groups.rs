//! `[groups]`: caller groups of local users.

use std::collections::HashMap;

/// One member: `alice` (any served domain) or `alice@example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    name: String,
    domain: Option<String>,
}

/// Group name -> members.
#[derive(Debug, Clone, Default)]
pub(crate) struct Groups(HashMap<String, Vec<Member>>);

impl Groups {
    /// Adds a group; the error says which member is malformed.
    pub(crate) fn insert(&mut self, group: &str, members: &[String]) -> Result<(), String> {
        let mut parsed = Vec::with_capacity(members.len());
        for member in members {
            let (name, domain) = match member.split_once('@') {
                Some((name, domain)) => (name, Some(domain.to_ascii_lowercase())),
                None => (member.as_str(), None),
            };
            if name.is_empty() || domain.as_deref().is_some_and(str::is_empty) || name.contains(':')
            {
                return Err(format!(
                    "member {member:?} is not a user name or user@domain"
                ));
            }
            parsed.push(Member {
                name: name.to_owned(),
                domain,
            });
        }
        self.0.insert(group.to_owned(), parsed);
        Ok(())
    }

    /// Every group with its members as written (`alice`,
    /// `bob@example.com`), by group name.
    pub(crate) fn listed(&self) -> Vec<(String, Vec<String>)> {
        let mut list: Vec<(String, Vec<String>)> = self
            .0
            .iter()
            .map(|(group, members)| {
                let members = members
                    .iter()
                    .map(|m| match &m.domain {
                        Some(domain) => format!("{}@{domain}", m.name),
                        None => m.name.clone(),
                    })
                    .collect();
                (group.clone(), members)
            })
            .collect();
        list.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        list
    }

    pub(crate) fn exists(&self, group: &str) -> bool {
        self.0.contains_key(group)
    }

    /// Whether user `name` at `domain` is in `group`.
    pub(crate) fn has(&self, group: &str, name: &str, domain: &str) -> bool {
        self.0.get(group).is_some_and(|members| {
            members.iter().any(|member| {
                member.name == name
                    && member
                        .domain
                        .as_deref()
                        .is_none_or(|d| d.eq_ignore_ascii_case(domain))
            })
        })
    }
}
