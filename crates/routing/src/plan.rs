//! The plan: loaded and checked once (`load.rs`), then only read
//! (`decide.rs`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use jiff::tz::TimeZone;

use crate::groups::Groups;
use crate::network::Networks;
use crate::number::Numbering;
use crate::rule::Rule;
use crate::rule_index::RuleIndex;
use crate::sections::{RingGroup, Site, TrunkRouting};
use crate::{TestCase, TrunkSpec};

/// One file's text and the name errors call it by.
#[derive(Debug, Clone, Copy)]
pub struct PlanSource<'a> {
    /// The path, as errors print it.
    pub path: &'a str,
    /// The TOML text.
    pub text: &'a str,
}

/// A checked dial plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub(crate) version: String,
    pub(crate) zone: TimeZone,
    pub(crate) numbering: Numbering,
    pub(crate) emergency: Vec<String>,
    pub(crate) prefer_caller_site: bool,
    pub(crate) trusted: Networks,
    pub(crate) groups: Groups,
    /// `[group_limits] max_call`: group -> longest call of its members.
    pub(crate) max_call: Vec<(String, Duration)>,
    pub(crate) sites: Vec<Site>,
    pub(crate) ring_groups: Vec<RingGroup>,
    pub(crate) trunks: Vec<TrunkSpec>,
    /// Beside `trunks`, same order.
    pub(crate) trunk_routing: Vec<TrunkRouting>,
    pub(crate) trunk_index: HashMap<String, usize>,
    pub(crate) rules: Vec<Rule>,
    /// Over `rules`, for the untraced decision.
    pub(crate) index: RuleIndex,
    pub(crate) tests: Vec<TestCase>,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            version: String::new(),
            zone: TimeZone::UTC,
            numbering: Numbering::default(),
            emergency: vec!["112".to_owned(), "911".to_owned()],
            prefer_caller_site: false,
            trusted: Networks::default(),
            groups: Groups::default(),
            max_call: Vec::new(),
            sites: Vec::new(),
            ring_groups: Vec::new(),
            trunks: Vec::new(),
            trunk_routing: Vec::new(),
            trunk_index: HashMap::new(),
            rules: Vec::new(),
            index: RuleIndex::default(),
            tests: Vec::new(),
        }
    }
}

impl Plan {
    /// A short fingerprint of the plan's text (and its cost files), logged
    /// at every load: the first 12 hex digits of their SHA-256.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether the plan has any rule, DID or trunk at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.trunks.is_empty()
    }

    /// The trunks.
    pub fn trunks(&self) -> &[TrunkSpec] {
        &self.trunks
    }

    /// The `[[test]]` cases written in the plan.
    pub fn tests(&self) -> &[TestCase] {
        &self.tests
    }

    /// The trunk whose inbound networks hold `source`.
    pub fn inbound_trunk(&self, source: IpAddr) -> Option<&TrunkSpec> {
        self.trunk_routing
            .iter()
            .position(|routing| routing.inbound.contains(source))
            .and_then(|index| self.trunks.get(index))
    }

    /// The trunk whose calls come from local user `name` once
    /// authenticated (its `inbound_users`).
    pub fn trunk_of_user(&self, name: &str) -> Option<&TrunkSpec> {
        self.trunks
            .iter()
            .find(|t| t.inbound_users.iter().any(|u| u == name))
    }

    /// The longest answered call local user `name` at `domain` may make
    /// (`[group_limits.NAME] max_call`): the shortest of their groups'
    /// (the plan's `[groups]` and `stored_groups`, those kept with the
    /// user); `None` when no group of theirs has one.
    pub fn max_call(&self, name: &str, domain: &str, stored_groups: &[String]) -> Option<Duration> {
        self.max_call
            .iter()
            .filter(|(group, _)| {
                stored_groups.contains(group) || self.groups.has(group, name, domain)
            })
            .map(|(_, limit)| *limit)
            .min()
    }

    /// Whether `source` is trusted (a trunk's inbound network or a
    /// declared trusted network): not subject to the per-source rate
    /// limits meant for phones.
    pub fn is_trusted(&self, source: IpAddr) -> bool {
        self.trusted.contains(source) || self.inbound_trunk(source).is_some()
    }

    /// The site whose networks hold `source` (the first declared, when
    /// several do).
    pub fn site_of(&self, source: IpAddr) -> Option<&str> {
        self.sites
            .iter()
            .find(|site| site.networks.contains(source))
            .map(|site| site.name.as_str())
    }

    /// Whether `number` (as dialled) is an emergency number.
    pub fn is_emergency(&self, number: &str) -> bool {
        self.emergency.iter().any(|e| e == number)
    }

    pub(crate) fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The `[groups]` section: each group's name and members as written
    /// (`alice`: in every served domain; `bob@example.com`), by name.
    #[must_use]
    pub fn group_members(&self) -> Vec<(String, Vec<String>)> {
        self.groups.listed()
    }

    pub(crate) fn groups(&self) -> &Groups {
        &self.groups
    }

    pub(crate) fn trunk_named(&self, name: &str) -> Option<usize> {
        self.trunk_index.get(name).copied()
    }

    pub(crate) fn ring_group_named(&self, name: &str) -> Option<&RingGroup> {
        self.ring_groups.iter().find(|group| group.name == name)
    }
}
