//! A user who may authenticate.

use super::Ha1Set;

/// Longest group name, in bytes.
pub const MAX_GROUP_NAME: usize = 64;

/// A group name that a user's stored groups may not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("group name {0:?} is not 1 to {MAX_GROUP_NAME} ASCII letters, digits, '-' or '_'")]
pub struct InvalidGroupName(pub String);

/// A user: name and domain (the digest realm) with the stored HA1 values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user part, as it appears in the digest `username` (case
    /// matters).
    pub name: String,
    /// The domain the user belongs to; also the realm the HA1 values were
    /// computed with. Compared exactly: canonicalize before storing.
    pub domain: String,
    /// The stored HA1 values.
    pub ha1: Ha1Set,
    /// When the user was created, seconds since the Unix epoch.
    pub created_unix: u64,
    /// The caller groups kept with the user (on top of the dial plan's
    /// `[groups]` membership), sorted and without repeats: see
    /// [`User::sorted_groups`].
    pub groups: Vec<String>,
}

impl User {
    /// A user with HA1 values computed from `password` with `domain` as the
    /// realm, in no stored group.
    #[must_use]
    pub fn with_password(name: &str, domain: &str, password: &str, created_unix: u64) -> Self {
        Self {
            name: name.to_owned(),
            domain: domain.to_owned(),
            ha1: Ha1Set::from_password(name, domain, password),
            created_unix,
            groups: Vec::new(),
        }
    }

    /// Whether `name` may name a group: 1 to [`MAX_GROUP_NAME`] ASCII
    /// letters, digits, `-` or `_` (a TOML bare key, as the plan's
    /// `[groups]` names are written, and never the `,` the stores use
    /// between names).
    #[must_use]
    pub fn is_group_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= MAX_GROUP_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    /// `groups` sorted and without repeats, as [`User::groups`] holds them.
    ///
    /// # Errors
    /// [`InvalidGroupName`] for the first name that is not one.
    pub fn sorted_groups<S: AsRef<str>>(
        groups: impl IntoIterator<Item = S>,
    ) -> Result<Vec<String>, InvalidGroupName> {
        let mut sorted = Vec::new();
        for group in groups {
            let group = group.as_ref();
            if !Self::is_group_name(group) {
                return Err(InvalidGroupName(group.to_owned()));
            }
            sorted.push(group.to_owned());
        }
        sorted.sort_unstable();
        sorted.dedup();
        Ok(sorted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_sorted_deduplicated_and_checked() {
        assert_eq!(
            User::sorted_groups(["staff", "admins", "staff"]),
            Ok(vec!["admins".to_owned(), "staff".to_owned()])
        );
        for bad in ["", "a,b", "with space", "ümlaut", &"x".repeat(65)] {
            assert_eq!(
                User::sorted_groups([bad]),
                Err(InvalidGroupName(bad.to_owned()))
            );
        }
    }
}
