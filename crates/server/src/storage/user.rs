//! A user who may authenticate.

use super::Ha1Set;

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
}

impl User {
    /// A user with HA1 values computed from `password` with `domain` as the
    /// realm.
    #[must_use]
    pub fn with_password(name: &str, domain: &str, password: &str, created_unix: u64) -> Self {
        Self {
            name: name.to_owned(),
            domain: domain.to_owned(),
            ha1: Ha1Set::from_password(name, domain, password),
            created_unix,
        }
    }
}
