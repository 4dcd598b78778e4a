//! Registrar settings.

/// What to do when a REGISTER would give an AOR more bindings than
/// [`RegistrarConfig::max_contacts_per_aor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContactLimitPolicy {
    /// Remove the AOR's least recently refreshed bindings (not those of
    /// this REGISTER) to make room. A phone that moved network without an
    /// instance-id leaves a stale binding behind; refusing would lock the
    /// user out until it expires, so this is the default (Asterisk's
    /// `remove_existing`).
    #[default]
    ReplaceOldest,
    /// Refuse the REGISTER with 403 (Kamailio's `max_contacts` without
    /// replacement).
    Reject,
}

/// Registrar settings. [`Default`] gives safe values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// The domains this registrar serves (compared ignoring case). A
    /// REGISTER for any other domain gets 404. The realm of digest
    /// authentication is the domain.
    pub domains: Vec<String>,
    /// Shortest registration accepted (seconds): a shorter one, if also
    /// under one hour, gets 423 Interval Too Brief with `Min-Expires`.
    pub min_expires: u32,
    /// Longest registration granted: longer requests are shortened.
    pub max_expires: u32,
    /// Registration length when the REGISTER names none.
    pub default_expires: u32,
    /// Most bindings one AOR may have.
    pub max_contacts_per_aor: usize,
    /// What happens at that limit.
    pub on_contact_limit: ContactLimitPolicy,
    /// Allow third-party registration (From differs from To). The
    /// authenticated user must still own the To AOR.
    pub allow_third_party: bool,
    /// Refuse (403) a REGISTER that the application passes without an
    /// authenticated identity. Leave on unless authentication is done
    /// elsewhere (a trusted edge proxy, a closed test network).
    pub require_authentication: bool,
    /// A Contact with `+sip.instance` but no outbound `reg-id` replaces the
    /// device's earlier binding even when its contact URI changed.
    pub instance_replaces: bool,
    /// Most bindings in all: beyond it new bindings get 503, so memory stays
    /// bounded.
    pub max_bindings: usize,
    /// `Retry-After` seconds on 500 (store failure) and 503 (full).
    pub retry_after: u32,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        Self {
            domains: Vec::new(),
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
            max_contacts_per_aor: 10,
            on_contact_limit: ContactLimitPolicy::default(),
            allow_third_party: false,
            require_authentication: true,
            instance_replaces: true,
            max_bindings: 1_000_000,
            retry_after: 5,
        }
    }
}

impl RegistrarConfig {
    /// Settings for one domain, defaults otherwise.
    #[must_use]
    pub fn for_domain(domain: impl Into<String>) -> Self {
        Self {
            domains: vec![domain.into()],
            ..Self::default()
        }
    }

    /// Whether `host` is one of [`domains`](Self::domains).
    #[must_use]
    pub fn serves(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        self.domains
            .iter()
            .any(|d| d.strip_suffix('.').unwrap_or(d).eq_ignore_ascii_case(host))
    }
}
