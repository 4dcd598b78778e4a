//! The plan's TOML as written: the routing sections only, every key
//! optional here so that the checks in `load` can name what is missing
//! with the item's line. Unknown keys inside a section are refused by
//! serde; other top-level keys (the config crate's) are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// One source's routing sections.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawFile {
    pub(crate) routing: Option<Spanned<RawRouting>>,
    pub(crate) groups: Option<Spanned<BTreeMap<String, Vec<String>>>>,
    pub(crate) group_limits: Option<Spanned<BTreeMap<String, Spanned<RawGroupLimit>>>>,
    pub(crate) site: Option<Spanned<Vec<Spanned<RawSite>>>>,
    pub(crate) ring_group: Option<Spanned<Vec<Spanned<RawRingGroup>>>>,
    pub(crate) trunk: Option<Spanned<Vec<Spanned<RawTrunk>>>>,
    pub(crate) route: Option<Spanned<Vec<Spanned<RawRoute>>>>,
    pub(crate) test: Option<Spanned<Vec<Spanned<RawTest>>>>,
}

/// `[routing]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRouting {
    /// Read by the binary (the plan's own file); nothing to do here.
    #[allow(dead_code)]
    pub(crate) plan: Option<String>,
    pub(crate) timezone: Option<String>,
    pub(crate) country_code: Option<String>,
    pub(crate) area_code: Option<String>,
    pub(crate) national_prefix: Option<String>,
    pub(crate) international_prefix: Option<String>,
    pub(crate) emergency: Option<Vec<String>>,
    pub(crate) prefer_caller_site: Option<bool>,
    pub(crate) trusted_networks: Option<Vec<String>>,
}

/// `[group_limits.NAME]`: what the members of group NAME may do.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGroupLimit {
    /// Seconds an answered call of a member (as the caller) may last.
    pub(crate) max_call: Option<i64>,
}

/// `[[site]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSite {
    pub(crate) name: Option<String>,
    pub(crate) networks: Option<Vec<String>>,
    pub(crate) emergency_trunks: Option<Vec<String>>,
}

/// `[[ring_group]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRingGroup {
    pub(crate) name: Option<String>,
    pub(crate) members: Option<Vec<String>>,
    pub(crate) strategy: Option<String>,
    pub(crate) ring_timeout: Option<i64>,
}

/// `[[trunk]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrunk {
    pub(crate) name: Option<String>,
    pub(crate) gateways: Option<Vec<String>>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) realm: Option<String>,
    pub(crate) register: Option<bool>,
    pub(crate) register_aor: Option<String>,
    pub(crate) registrar: Option<String>,
    pub(crate) register_expires: Option<i64>,
    pub(crate) probe: Option<bool>,
    pub(crate) probe_interval: Option<i64>,
    pub(crate) probe_up: Option<i64>,
    pub(crate) probe_down: Option<i64>,
    pub(crate) failover_after: Option<i64>,
    pub(crate) caller_id: Option<String>,
    pub(crate) caller_id_mode: Option<String>,
    pub(crate) fresh_call_id: Option<bool>,
    pub(crate) inbound_networks: Option<Vec<String>>,
    pub(crate) inbound_users: Option<Vec<String>>,
    pub(crate) costs: Option<BTreeMap<String, f64>>,
    pub(crate) cost_file: Option<String>,
    pub(crate) dids: Option<BTreeMap<String, String>>,
}

/// `replace = { pattern, with }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReplace {
    pub(crate) pattern: String,
    pub(crate) with: String,
}

/// `[[route]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub(crate) name: Option<String>,
    pub(crate) to: Option<Vec<String>>,
    pub(crate) to_prefix: Option<Vec<String>>,
    pub(crate) to_range: Option<Vec<String>>,
    pub(crate) to_pattern: Option<String>,
    pub(crate) from: Option<Vec<String>>,
    pub(crate) from_prefix: Option<Vec<String>>,
    pub(crate) from_pattern: Option<String>,
    pub(crate) anonymous: Option<bool>,
    pub(crate) from_group: Option<Vec<String>>,
    pub(crate) from_trunk: Option<Vec<String>>,
    pub(crate) from_user: Option<bool>,
    pub(crate) site: Option<Vec<String>>,
    pub(crate) source: Option<Vec<String>>,
    pub(crate) transport: Option<Vec<String>>,
    pub(crate) domain: Option<Vec<String>>,
    pub(crate) time: Option<Vec<String>>,
    pub(crate) days: Option<Vec<String>>,
    pub(crate) dates: Option<Vec<String>>,
    pub(crate) require_group: Option<String>,
    pub(crate) deny_reason: Option<String>,
    pub(crate) strip: Option<i64>,
    pub(crate) replace: Option<RawReplace>,
    pub(crate) prepend: Option<String>,
    pub(crate) normalize: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) ring_group: Option<String>,
    pub(crate) forward: Option<String>,
    pub(crate) redirect: Option<String>,
    pub(crate) redirect_status: Option<i64>,
    pub(crate) reject: Option<i64>,
    pub(crate) reason: Option<String>,
    pub(crate) trunks: Option<Vec<String>>,
    pub(crate) lcr: Option<bool>,
    pub(crate) on_busy: Option<String>,
    pub(crate) on_no_answer: Option<String>,
    pub(crate) no_answer_after: Option<i64>,
    pub(crate) on_unavailable: Option<String>,
    pub(crate) prefer_caller_site: Option<bool>,
}

/// `[[test]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTest {
    pub(crate) name: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) source: Option<String>,
    pub(crate) transport: Option<String>,
    pub(crate) at: Option<String>,
    pub(crate) trunk: Option<String>,
    pub(crate) expect_rule: Option<String>,
    pub(crate) expect: Option<String>,
    pub(crate) expect_status: Option<i64>,
    pub(crate) expect_target: Option<String>,
    pub(crate) expect_number: Option<String>,
}
