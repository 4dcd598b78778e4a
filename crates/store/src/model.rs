//! The records the store keeps: users with their HA1 values, and
//! registration bindings. Back-end neutral.

use std::fmt;

use switchboard_proto::digest::{self, Algorithm};

use crate::error::StoreError;

/// Longest text the store accepts in one field (a Contact header value with
/// many parameters still fits easily).
pub const MAX_FIELD_LEN: usize = 8 * 1024;

/// Most Path entries kept for one binding.
pub const MAX_PATH_ENTRIES: usize = 32;

/// The three stored HA1 values of a user, one per hash function (RFC 7616,
/// RFC 8760): `H(username:realm:password)` as lowercase hex. The `-sess`
/// algorithms use the value of their base ([`Ha1Set::for_algorithm`]).
///
/// The store never sees a password: the only ways to build an `Ha1Set` are
/// [`Ha1Set::from_password`], which hashes on the spot and keeps only the
/// hashes, and [`Ha1Set::new`], which accepts nothing but lowercase-hex
/// strings of the right length for each hash (32, 64, 64 characters).
///
/// `Debug` does not print the values: an HA1 is as good as the password for
/// digest authentication within its realm.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ha1Set {
    md5: String,
    sha256: String,
    sha512_256: String,
}

impl Ha1Set {
    /// Takes HA1 values computed elsewhere (for example with
    /// [`switchboard_proto::digest::ha1`]). Uppercase hex is accepted and
    /// lowered.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] unless each value is hex of the length
    /// of its hash function.
    pub fn new(md5: &str, sha256: &str, sha512_256: &str) -> Result<Self, StoreError> {
        Ok(Self {
            md5: checked_hex(Algorithm::Md5, md5)?,
            sha256: checked_hex(Algorithm::Sha256, sha256)?,
            sha512_256: checked_hex(Algorithm::Sha512_256, sha512_256)?,
        })
    }

    /// Computes all three HA1 values for `username`, `realm` (usually the
    /// domain) and `password` with [`switchboard_proto::digest::ha1`]. The
    /// password is not kept.
    #[must_use]
    pub fn from_password(username: &str, realm: &str, password: &str) -> Self {
        Self {
            md5: digest::ha1(Algorithm::Md5, username, realm, password),
            sha256: digest::ha1(Algorithm::Sha256, username, realm, password),
            sha512_256: digest::ha1(Algorithm::Sha512_256, username, realm, password),
        }
    }

    /// HA1 for `MD5` (and `MD5-sess`), lowercase hex.
    #[must_use]
    pub fn md5(&self) -> &str {
        &self.md5
    }

    /// HA1 for `SHA-256` (and `SHA-256-sess`), lowercase hex.
    #[must_use]
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// HA1 for `SHA-512-256` (and `SHA-512-256-sess`), lowercase hex.
    #[must_use]
    pub fn sha512_256(&self) -> &str {
        &self.sha512_256
    }

    /// The stored HA1 that `algorithm` uses (its [`Algorithm::base`]).
    #[must_use]
    pub fn for_algorithm(&self, algorithm: Algorithm) -> &str {
        match algorithm.base() {
            Algorithm::Sha256 | Algorithm::Sha256Sess => &self.sha256,
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => &self.sha512_256,
            Algorithm::Md5 | Algorithm::Md5Sess => &self.md5,
        }
    }
}

impl fmt::Debug for Ha1Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ha1Set { .. }")
    }
}

fn checked_hex(algorithm: Algorithm, value: &str) -> Result<String, StoreError> {
    let len = algorithm.hex_len();
    if value.len() != len || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        // Do not echo the value: it may be a password passed by mistake.
        return Err(StoreError::InvalidInput(format!(
            "{} HA1 must be {len} hex digits",
            algorithm.as_str()
        )));
    }
    Ok(value.to_ascii_lowercase())
}

/// A user who may authenticate: name and domain (the digest realm) with the
/// stored HA1 values.
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

    /// Checks what the store checks before writing.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty name or domain, control
    /// characters, overlong text, or a time past `i64::MAX`.
    pub fn validate(&self) -> Result<(), StoreError> {
        check_name("user name", &self.name)?;
        check_name("domain", &self.domain)?;
        check_u64("created_unix", self.created_unix)
    }
}

/// What [`UserStore::import_users`](crate::UserStore::import_users) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    /// Users that did not exist before.
    pub added: u64,
    /// Users that existed and whose HA1 values were replaced (their
    /// `created_unix` is kept). A name repeated in the input counts here
    /// from its second occurrence on; the last occurrence wins.
    pub updated: u64,
}

impl ImportSummary {
    /// `added + updated`: the number of users written.
    #[must_use]
    pub const fn total(&self) -> u64 {
        self.added + self.updated
    }
}

/// Where a registration came from: the flow it arrived on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BindingSource {
    /// Transport token, lowercase: `udp`, `tcp`, `tls`, `ws`, `wss`, ...
    pub transport: String,
    /// The peer's address as seen by the server, e.g. `192.0.2.7:5060`.
    pub remote_addr: String,
    /// The server's local address the request arrived on.
    pub local_addr: String,
    /// An opaque token naming the connection (RFC 5626 flow), if any.
    pub flow_token: Option<String>,
}

/// One registration binding: an address of record bound to a contact
/// (RFC 3261 §10, with the RFC 5626 and RFC 3327 extras). The key is
/// `(aor, contact)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Binding {
    /// Canonical address of record, `sip:user@domain`.
    pub aor: String,
    /// The Contact URI as registered (the text between `<` and `>`, or the
    /// bare URI). With `aor`, the binding's key: the registrar passes the
    /// form it matches on.
    pub contact: String,
    /// The whole Contact header value as received (display name, URI and
    /// parameters), so that the binding can be returned as it came.
    pub contact_header: String,
    /// Preference in thousandths, `0..=1000` (`q=0.5` is 500).
    pub q: u16,
    /// Absolute expiry, seconds since the Unix epoch.
    pub expires_at_unix: u64,
    /// Call-ID of the REGISTER that last refreshed the binding.
    pub call_id: String,
    /// CSeq number of that REGISTER.
    pub cseq: u32,
    /// `+sip.instance` (RFC 5626), as given (usually `<urn:uuid:...>`).
    pub instance_id: Option<String>,
    /// `reg-id` (RFC 5626).
    pub reg_id: Option<u32>,
    /// The Path header values of the REGISTER, in order (RFC 3327).
    pub path: Vec<String>,
    /// The flow the REGISTER arrived on.
    pub source: BindingSource,
    /// The User-Agent header of the REGISTER.
    pub user_agent: Option<String>,
    /// When the binding was last written, seconds since the Unix epoch.
    pub updated_unix: u64,
}

impl Binding {
    /// Seconds left at `now_unix` (0 once expired).
    #[must_use]
    pub const fn remaining_secs(&self, now_unix: u64) -> u64 {
        self.expires_at_unix.saturating_sub(now_unix)
    }

    /// True when the binding has expired at `now_unix`.
    #[must_use]
    pub const fn is_expired(&self, now_unix: u64) -> bool {
        self.expires_at_unix <= now_unix
    }

    /// Checks what the store checks before writing.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty AOR or contact, control
    /// characters (a Path entry may not contain a line break), overlong
    /// text, q above 1000, or times past `i64::MAX`.
    pub fn validate(&self) -> Result<(), StoreError> {
        check_text("aor", &self.aor, false)?;
        check_text("contact", &self.contact, false)?;
        check_text("contact header", &self.contact_header, true)?;
        if self.q > 1000 {
            return Err(StoreError::InvalidInput(format!(
                "q {} is above 1000",
                self.q
            )));
        }
        check_u64("expires_at_unix", self.expires_at_unix)?;
        check_u64("updated_unix", self.updated_unix)?;
        check_text("call-id", &self.call_id, true)?;
        if let Some(instance) = &self.instance_id {
            check_text("instance-id", instance, true)?;
        }
        if self.path.len() > MAX_PATH_ENTRIES {
            return Err(StoreError::InvalidInput(format!(
                "{} Path entries, at most {MAX_PATH_ENTRIES}",
                self.path.len()
            )));
        }
        for entry in &self.path {
            check_text("path entry", entry, false)?;
        }
        check_text("transport", &self.source.transport, true)?;
        check_text("remote address", &self.source.remote_addr, true)?;
        check_text("local address", &self.source.local_addr, true)?;
        if let Some(token) = &self.source.flow_token {
            check_text("flow token", token, true)?;
        }
        if let Some(agent) = &self.user_agent {
            check_text("user-agent", agent, true)?;
        }
        Ok(())
    }
}

/// One change to the registration bindings.
// Nearly every change is an upsert: boxing it would add an allocation to
// the common case to save space in the rare one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingChange {
    /// Insert the binding, or replace the one with the same
    /// `(aor, contact)`.
    Upsert(Binding),
    /// Remove one binding; nothing happens if there is none.
    Remove {
        /// The address of record.
        aor: String,
        /// The contact, as in [`Binding::contact`].
        contact: String,
    },
    /// Remove every binding of an AOR (`Contact: *`); nothing happens if
    /// there are none.
    RemoveAor {
        /// The address of record.
        aor: String,
    },
}

impl BindingChange {
    /// The AOR the change concerns.
    #[must_use]
    pub fn aor(&self) -> &str {
        match self {
            Self::Upsert(binding) => &binding.aor,
            Self::Remove { aor, .. } | Self::RemoveAor { aor } => aor,
        }
    }

    /// Checks what the store checks before writing.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`], see [`Binding::validate`].
    pub fn validate(&self) -> Result<(), StoreError> {
        match self {
            Self::Upsert(binding) => binding.validate(),
            Self::Remove { aor, contact } => {
                check_text("aor", aor, false)?;
                check_text("contact", contact, false)
            }
            Self::RemoveAor { aor } => check_text("aor", aor, false),
        }
    }
}

/// A name or domain: non-empty, no control characters, no `:` (it is
/// hashed as `name:realm:password`), bounded length.
fn check_name(what: &str, value: &str) -> Result<(), StoreError> {
    check_text(what, value, false)?;
    if value.contains(':') && what == "user name" {
        return Err(StoreError::InvalidInput(format!(
            "{what} may not contain ':'"
        )));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(StoreError::InvalidInput(format!(
            "{what} may not contain whitespace"
        )));
    }
    Ok(())
}

fn check_text(what: &str, value: &str, may_be_empty: bool) -> Result<(), StoreError> {
    if value.is_empty() && !may_be_empty {
        return Err(StoreError::InvalidInput(format!("{what} is empty")));
    }
    if value.len() > MAX_FIELD_LEN {
        return Err(StoreError::InvalidInput(format!(
            "{what} is {} bytes long, at most {MAX_FIELD_LEN}",
            value.len()
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(StoreError::InvalidInput(format!(
            "{what} contains a control character"
        )));
    }
    Ok(())
}

fn check_u64(what: &str, value: u64) -> Result<(), StoreError> {
    if i64::try_from(value).is_err() {
        return Err(StoreError::InvalidInput(format!(
            "{what} {value} is too large"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ha1_set_refuses_anything_but_hex_of_the_right_length() {
        let good = Ha1Set::from_password("alice", "example.com", "secret");
        let again =
            Ha1Set::new(&good.md5().to_uppercase(), good.sha256(), good.sha512_256()).unwrap();
        assert_eq!(again, good);
        assert!(Ha1Set::new("secret", good.sha256(), good.sha512_256()).is_err());
        assert!(Ha1Set::new(good.sha256(), good.md5(), good.sha512_256()).is_err());
        let not_hex = "z".repeat(32);
        assert!(Ha1Set::new(&not_hex, good.sha256(), good.sha512_256()).is_err());
        let err = Ha1Set::new("hunter2", good.sha256(), good.sha512_256()).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn ha1_set_matches_proto_and_hides_in_debug() {
        let set = Ha1Set::from_password("alice", "example.com", "secret");
        assert_eq!(
            set.for_algorithm(Algorithm::Sha256Sess),
            digest::ha1(Algorithm::Sha256, "alice", "example.com", "secret")
        );
        assert_eq!(set.for_algorithm(Algorithm::Md5), set.md5());
        assert_eq!(set.for_algorithm(Algorithm::Sha512_256), set.sha512_256());
        assert_eq!(set.md5().len(), 32);
        assert_ne!(set.md5(), "secret");
        assert!(!format!("{set:?}").contains(set.md5()));
    }

    #[test]
    fn validation() {
        let user = User::with_password("alice", "example.com", "pw", 1);
        assert!(user.validate().is_ok());
        for (name, domain) in [
            ("", "d"),
            ("a", ""),
            ("a:b", "d"),
            ("a b", "d"),
            ("a\n", "d"),
        ] {
            let bad = User::with_password(name, domain, "pw", 1);
            assert!(bad.validate().is_err(), "{name:?} {domain:?}");
        }
        let change = BindingChange::RemoveAor { aor: String::new() };
        assert!(change.validate().is_err());
    }
}
