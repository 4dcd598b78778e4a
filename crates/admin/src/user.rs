//! `/api/v1/users`: the users as an operator reads and writes them.
//! Password hashes never leave the server.

use serde::{Deserialize, Serialize};

use crate::UserFilter;

/// One user in one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEntry {
    /// The user name (`alice`).
    pub user: String,
    /// The domain (`example.com`).
    pub domain: String,
    /// Every group the user is in, as the dial plan decides calls with
    /// them: [`UserEntry::plan_groups`] and [`UserEntry::stored_groups`]
    /// together, sorted.
    pub groups: Vec<String>,
    /// The groups kept with the user in the store: those `POST` and
    /// `PATCH` set.
    #[serde(default)]
    pub stored_groups: Vec<String>,
    /// The groups the dial plan's `[groups]` gives the user (changed in
    /// the plan, not here).
    #[serde(default)]
    pub plan_groups: Vec<String>,
}

impl UserEntry {
    /// The entry of `name@domain` in `stored` groups and in `plan` groups.
    #[must_use]
    pub fn new(name: &str, domain: &str, stored: &[String], plan: &[Group]) -> Self {
        let plan_groups = groups_of(plan, name, domain);
        let mut groups: Vec<String> = plan_groups.iter().chain(stored).cloned().collect();
        groups.sort_unstable();
        groups.dedup();
        Self {
            user: name.to_owned(),
            domain: domain.to_owned(),
            groups,
            stored_groups: stored.to_vec(),
            plan_groups,
        }
    }
}

/// The body of `POST /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The user name.
    pub user: String,
    /// Its domain; none: every domain the server serves (as `switchboard
    /// user add` without `--domain`).
    #[serde(default)]
    pub domain: Option<String>,
    /// The password (only its HA1 values are stored).
    pub password: String,
    /// The groups kept with it in the store (on top of those the dial
    /// plan's `[groups]` gives): names of ASCII letters, digits, `-` and
    /// `_`; a group the plan does not name yet is kept all the same.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

/// The body of `PATCH /api/v1/users/{user}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// The new password.
    #[serde(default)]
    pub password: Option<String>,
    /// The stored groups, all of them (see [`NewUser::groups`]): they
    /// replace those kept; `[]` empties them.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

/// The answer of `DELETE /api/v1/users/{user}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersRemoved {
    /// The users removed (one per domain).
    pub removed: Vec<UserEntry>,
    /// Their bindings removed with them.
    pub bindings_removed: usize,
}

/// One group of the dial plan's `[groups]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// Its members as written: `alice` (every domain) or `bob@example.com`.
    pub members: Vec<String>,
}

/// The groups of `groups` that have `user@domain` as a member, by name.
#[must_use]
pub fn groups_of(groups: &[Group], user: &str, domain: &str) -> Vec<String> {
    groups
        .iter()
        .filter(|g| {
            g.members
                .iter()
                .any(|member| UserFilter::parse(member).is_some_and(|m| m.matches(user, domain)))
        })
        .map(|g| g.name.clone())
        .collect()
}

/// Longest user name accepted.
const MAX_USER_LEN: usize = 128;

/// Why a user name is refused; `None` when it is a valid SIP user part
/// made of unreserved characters (RFC 3261 §25.1: letters, digits and
/// `-_.!~*'()&=+$,/`).
#[must_use]
pub fn user_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the user name is empty".to_owned());
    }
    if name.len() > MAX_USER_LEN {
        return Some(format!("the user name is longer than {MAX_USER_LEN} bytes"));
    }
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,/".contains(*c)))
        .map(|c| {
            format!(
                "user name {name:?}: {c:?} is not allowed (letters, digits and -_.!~*'()&=+$,/)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_sip_user_parts() {
        for good in ["alice", "+4930123", "a.b-c_d"] {
            assert_eq!(user_name_problem(good), None, "{good}");
        }
        for bad in ["", "al ice", "alice@example.com", "sip:alice", "a;b", "é"] {
            assert!(user_name_problem(bad).is_some(), "{bad}");
        }
        assert!(user_name_problem(&"a".repeat(129)).is_some());
    }

    #[test]
    fn group_members_match_by_name_or_address() {
        let groups = [
            Group {
                name: "staff".into(),
                members: vec!["alice".into(), "bob@example.com".into()],
            },
            Group {
                name: "sales".into(),
                members: vec!["bob@other.org".into()],
            },
        ];
        assert_eq!(groups_of(&groups, "alice", "any.org"), ["staff"]);
        assert_eq!(groups_of(&groups, "bob", "example.com"), ["staff"]);
        assert_eq!(groups_of(&groups, "bob", "other.org"), ["sales"]);
        assert!(groups_of(&groups, "carol", "example.com").is_empty());
    }
}
