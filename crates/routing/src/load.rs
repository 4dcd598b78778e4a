//! `Plan::load`: the routing sections of each source parsed, merged and
//! checked; every error names the file, the line and the item.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use regex::Regex;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::clock::{DateRange, DaySet, TimeWindow};
use crate::costs::CostTable;
use crate::error::{LineIndex, enclosing_item};
use crate::matcher::{Matcher, Test};
use crate::network::Networks;
use crate::number::{NumberRange, host_part, is_number};
use crate::reader::{FileReader, NoFiles};
use crate::rewrite::Rewrite;
use crate::rule::{Action, Rule};
use crate::rule_index::RuleIndex;
use crate::schema::{
    RawFile, RawGroupLimit, RawRingGroup, RawRoute, RawRouting, RawSite, RawTest, RawTrunk,
};
use crate::sections::{RingGroup, Site, TrunkRouting};
use crate::target::{TargetSpec, is_sip_uri};
use crate::test_case::ExpectedOutcome;
use crate::{
    CallerIdMode, Credentials, GatewaySpec, Plan, PlanError, PlanSource, ProbeSpec,
    RegistrationSpec, RingStrategy, TestCase, TrunkSpec,
};

/// The reason phrase of a `require_group` refusal when the rule gives none.
const DEFAULT_DENY_REASON: &str = "Forbidden by dial plan";
/// The reason phrase of a `reject` when the rule gives none.
const DEFAULT_REJECT_REASON: &str = "Rejected by dial plan";
/// How long a target rings before `on_no_answer` when the rule does not say.
const DEFAULT_NO_ANSWER_SECS: u64 = 20;
/// Transports a `transport` matcher may name.
const TRANSPORTS: [&str; 6] = ["udp", "tcp", "tls", "sctp", "ws", "wss"];

/// A section item with where it is written.
#[derive(Debug)]
struct Located<'s, T> {
    path: &'s str,
    line: usize,
    value: T,
}

impl<T> Located<'_, T> {
    fn error(&self, what: &str, message: impl Into<String>) -> PlanError {
        PlanError::Invalid {
            path: self.path.to_owned(),
            line: self.line,
            what: what.to_owned(),
            message: message.into(),
        }
    }
}

/// Every source's sections, merged.
#[derive(Debug, Default)]
struct Sections<'s> {
    routing: Option<Located<'s, RawRouting>>,
    groups: Option<Located<'s, BTreeMap<String, Vec<String>>>>,
    /// `[group_limits.NAME]`, each with its line.
    group_limits: Vec<(String, Located<'s, RawGroupLimit>)>,
    sites: Vec<Located<'s, RawSite>>,
    ring_groups: Vec<Located<'s, RawRingGroup>>,
    trunks: Vec<Located<'s, RawTrunk>>,
    routes: Vec<Located<'s, RawRoute>>,
    tests: Vec<Located<'s, RawTest>>,
    /// Section name -> (path, line) of the first source that has it.
    seen: HashMap<&'static str, (&'s str, usize)>,
}

impl<'s> Sections<'s> {
    fn add(&mut self, source: &PlanSource<'s>) -> Result<(), PlanError> {
        let lines = LineIndex::new(source.text);
        let raw: RawFile = toml::from_str(source.text).map_err(|error| {
            let offset = error.span().map_or(0, |span| span.start);
            let (path, line) = (source.path.to_owned(), lines.line(offset));
            let message = error.message().trim().to_owned();
            match enclosing_item(source.text, offset) {
                Some(what) => PlanError::Invalid {
                    path,
                    line,
                    what,
                    message,
                },
                None => PlanError::Syntax {
                    path,
                    line,
                    message,
                },
            }
        })?;
        if let Some(error) = misspelt_section(source) {
            return Err(error);
        }
        let locate = |span: std::ops::Range<usize>| lines.line(span.start);
        if let Some(routing) = raw.routing {
            let line = self.note("[routing]", source.path, locate(routing.span()))?;
            self.routing = Some(Located {
                path: source.path,
                line,
                value: routing.into_inner(),
            });
        }
        if let Some(groups) = raw.groups {
            let line = self.note("[groups]", source.path, locate(groups.span()))?;
            self.groups = Some(Located {
                path: source.path,
                line,
                value: groups.into_inner(),
            });
        }
        if let Some(limits) = raw.group_limits {
            let limits = limits.into_inner();
            let first = limits
                .values()
                .map(|limit| locate(limit.span()))
                .min()
                .unwrap_or(1);
            self.note("[group_limits]", source.path, first)?;
            for (name, limit) in limits {
                let line = locate(limit.span());
                let value = limit.into_inner();
                let path = source.path;
                self.group_limits
                    .push((name, Located { path, line, value }));
            }
        }
        let sites = self.items("[[site]]", source.path, &lines, raw.site)?;
        self.sites.extend(sites);
        let ring_groups = self.items("[[ring_group]]", source.path, &lines, raw.ring_group)?;
        self.ring_groups.extend(ring_groups);
        let trunks = self.items("[[trunk]]", source.path, &lines, raw.trunk)?;
        self.trunks.extend(trunks);
        let routes = self.items("[[route]]", source.path, &lines, raw.route)?;
        self.routes.extend(routes);
        let tests = self.items("[[test]]", source.path, &lines, raw.test)?;
        self.tests.extend(tests);
        Ok(())
    }

    /// Records that `path` has `section`; a section in two files is an error.
    fn note(
        &mut self,
        section: &'static str,
        path: &'s str,
        line: usize,
    ) -> Result<usize, PlanError> {
        if let Some((first_path, first_line)) = self.seen.get(section) {
            return Err(PlanError::Invalid {
                path: path.to_owned(),
                line,
                what: section.to_owned(),
                message: format!("also given in {first_path}:{first_line}; keep it in one file"),
            });
        }
        self.seen.insert(section, (path, line));
        Ok(line)
    }

    fn items<T>(
        &mut self,
        section: &'static str,
        path: &'s str,
        lines: &LineIndex,
        items: Option<Spanned<Vec<Spanned<T>>>>,
    ) -> Result<Vec<Located<'s, T>>, PlanError> {
        let Some(items) = items else {
            return Ok(Vec::new());
        };
        let items = items.into_inner();
        let first = items
            .first()
            .map_or(1, |item| lines.line(item.span().start));
        self.note(section, path, first)?;
        Ok(items
            .into_iter()
            .map(|item| Located {
                path,
                line: lines.line(item.span().start),
                value: item.into_inner(),
            })
            .collect())
    }
}

impl Plan {
    /// Loads and checks a plan from its sources (the main configuration
    /// file and the plan's own file, when it has one). A plan whose
    /// trunks name a `cost_file` needs [`Plan::load_with`].
    pub fn load(sources: &[PlanSource<'_>]) -> Result<Self, PlanError> {
        Self::load_with(sources, &NoFiles)
    }

    /// Loads a plan whose trunks may name `cost_file`s: `files` reads them
    /// (paths are joined to the directory of the source naming them).
    pub fn load_with(
        sources: &[PlanSource<'_>],
        files: &dyn FileReader,
    ) -> Result<Self, PlanError> {
        let mut sections = Sections::default();
        let mut hasher = Sha256::new();
        for source in sources {
            sections.add(source)?;
            hasher.update(source.text.as_bytes());
            hasher.update([0]);
        }
        let mut plan = Self::default();
        if let Some(routing) = &sections.routing {
            plan.load_routing(routing)?;
        }
        if let Some(groups) = &sections.groups {
            for (name, members) in &groups.value {
                plan.groups
                    .insert(name, members)
                    .map_err(|message| groups.error(&format!("group {name:?}"), message))?;
            }
        }
        for (name, limit) in &sections.group_limits {
            plan.load_group_limit(name, limit)?;
        }
        for group in &sections.ring_groups {
            plan.load_ring_group(group)?;
        }
        for trunk in &sections.trunks {
            plan.load_trunk(trunk, files, &mut hasher)?;
        }
        for site in &sections.sites {
            plan.load_site(site)?;
        }
        let mut names = HashSet::new();
        for (index, route) in sections.routes.iter().enumerate() {
            let rule = plan.load_rule(route, index)?;
            if !names.insert(rule.name.clone()) {
                return Err(route.error(
                    &format!("route {:?}", rule.name),
                    "a route of this name comes earlier",
                ));
            }
            plan.rules.push(rule);
        }
        plan.index = RuleIndex::new(&plan.rules);
        for (index, test) in sections.tests.iter().enumerate() {
            let case = plan.load_test(test, index)?;
            plan.tests.push(case);
        }
        let digest = hasher.finalize();
        plan.version = digest
            .iter()
            .take(6)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Ok(plan)
    }

    fn load_routing(&mut self, routing: &Located<'_, RawRouting>) -> Result<(), PlanError> {
        let raw = &routing.value;
        let fail = |message: String| routing.error("[routing]", message);
        if let Some(name) = &raw.timezone {
            self.zone =
                TimeZone::get(name).map_err(|_| fail(format!("unknown time zone {name:?}")))?;
        }
        let digits = |key: &str, value: &Option<String>, empty_ok: bool| -> Result<(), PlanError> {
            match value {
                Some(v)
                    if !(v.bytes().all(|b| b.is_ascii_digit()) && (empty_ok || !v.is_empty())) =>
                {
                    Err(fail(format!("{key} {v:?} must be digits")))
                }
                _ => Ok(()),
            }
        };
        digits("country_code", &raw.country_code, false)?;
        digits("area_code", &raw.area_code, false)?;
        digits("national_prefix", &raw.national_prefix, true)?;
        digits("international_prefix", &raw.international_prefix, true)?;
        self.numbering.country_code.clone_from(&raw.country_code);
        self.numbering.area_code.clone_from(&raw.area_code);
        if let Some(prefix) = &raw.national_prefix {
            self.numbering.national_prefix.clone_from(prefix);
        }
        if let Some(prefix) = &raw.international_prefix {
            self.numbering.international_prefix.clone_from(prefix);
        }
        if let Some(emergency) = &raw.emergency {
            if let Some(bad) = emergency.iter().find(|number| !is_number(number)) {
                return Err(fail(format!("emergency number {bad:?} is not a number")));
            }
            self.emergency.clone_from(emergency);
        }
        self.prefer_caller_site = raw.prefer_caller_site.unwrap_or(false);
        if let Some(networks) = &raw.trusted_networks {
            self.trusted =
                Networks::parse(networks).map_err(|m| fail(format!("trusted_networks: {m}")))?;
        }
        Ok(())
    }

    /// `[group_limits.NAME]`: a group of `[groups]`, a positive
    /// `max_call` in seconds.
    fn load_group_limit(
        &mut self,
        name: &str,
        limit: &Located<'_, RawGroupLimit>,
    ) -> Result<(), PlanError> {
        let what = format!("[group_limits.{name}]");
        if !self.groups.exists(name) {
            return Err(limit.error(&what, format!("no group {name:?} in [groups]")));
        }
        if let Some(secs) = limit.value.max_call {
            let max_call = seconds(Some(secs), 0, "max_call")
                .map_err(|message| limit.error(&what, message))?;
            self.max_call.push((name.to_owned(), max_call));
        }
        Ok(())
    }

    fn load_ring_group(&mut self, group: &Located<'_, RawRingGroup>) -> Result<(), PlanError> {
        let raw = &group.value;
        let name = required_name(
            group,
            "ring_group",
            raw.name.as_deref(),
            self.ring_groups.len(),
        )?;
        let what = format!("ring_group {name:?}");
        if self.ring_group_named(&name).is_some() {
            return Err(group.error(&what, "a ring group of this name comes earlier"));
        }
        let members = raw.members.as_deref().unwrap_or_default();
        if members.is_empty() {
            return Err(group.error(&what, "members is missing or empty"));
        }
        let mut parsed = Vec::with_capacity(members.len());
        for member in members {
            let (user, domain) = match member.split_once('@') {
                Some((user, domain)) => (user, Some(domain.to_owned())),
                None => (member.as_str(), None),
            };
            if user.is_empty() || user.contains(':') || domain.as_deref().is_some_and(str::is_empty)
            {
                return Err(group.error(
                    &what,
                    format!("member {member:?} is not a user name or user@domain"),
                ));
            }
            parsed.push((user.to_owned(), domain));
        }
        let strategy = match raw.strategy.as_deref() {
            None | Some("parallel") => RingStrategy::Parallel,
            Some("sequential") => RingStrategy::Sequential,
            Some(other) => {
                return Err(group.error(
                    &what,
                    format!("strategy {other:?}: expected \"parallel\" or \"sequential\""),
                ));
            }
        };
        let ring_timeout =
            seconds(raw.ring_timeout, 20, "ring_timeout").map_err(|m| group.error(&what, m))?;
        self.ring_groups.push(RingGroup {
            name,
            members: parsed,
            strategy,
            ring_timeout,
        });
        Ok(())
    }

    fn load_trunk(
        &mut self,
        trunk: &Located<'_, RawTrunk>,
        files: &dyn FileReader,
        hasher: &mut Sha256,
    ) -> Result<(), PlanError> {
        let raw = &trunk.value;
        let name = required_name(trunk, "trunk", raw.name.as_deref(), self.trunks.len())?;
        let what = format!("trunk {name:?}");
        let fail = |message: String| trunk.error(&what, message);
        if self.trunk_index.contains_key(&name) {
            return Err(fail("a trunk of this name comes earlier".to_owned()));
        }
        let gateways = raw.gateways.as_deref().unwrap_or_default();
        if gateways.is_empty() {
            return Err(fail("gateways is missing or empty".to_owned()));
        }
        if let Some(bad) = gateways.iter().find(|uri| !is_sip_uri(uri)) {
            return Err(fail(format!("gateway {bad:?} is not a sip: or sips: URI")));
        }
        let credentials = match (&raw.username, &raw.password) {
            (Some(username), Some(password)) => Some(Credentials {
                username: username.clone(),
                password: password.clone(),
                realm: raw.realm.clone(),
            }),
            (None, None) if raw.realm.is_some() => {
                return Err(fail("realm needs username and password".to_owned()));
            }
            (None, None) => None,
            _ => return Err(fail("username and password go together".to_owned())),
        };
        let first_gateway = gateways.first().map_or("", String::as_str);
        let register = match (raw.register.unwrap_or(false), &credentials) {
            (false, _) => None,
            (true, None) => {
                return Err(fail(
                    "register = true needs username and password".to_owned(),
                ));
            }
            (true, Some(credentials)) => Some(RegistrationSpec {
                aor: match &raw.register_aor {
                    Some(aor) if is_sip_uri(aor) => aor.clone(),
                    Some(aor) => {
                        return Err(fail(format!("register_aor {aor:?} is not a sip: URI")));
                    }
                    None => format!("sip:{}@{}", credentials.username, host_part(first_gateway)),
                },
                registrar: match &raw.registrar {
                    Some(registrar) if is_sip_uri(registrar) => registrar.clone(),
                    Some(registrar) => {
                        return Err(fail(format!("registrar {registrar:?} is not a sip: URI")));
                    }
                    None => first_gateway.to_owned(),
                },
                expires: seconds(raw.register_expires, 600, "register_expires").map_err(fail)?,
            }),
        };
        let probe = if raw.probe.unwrap_or(false) {
            Some(ProbeSpec {
                interval: seconds(raw.probe_interval, 30, "probe_interval").map_err(fail)?,
                up_after: count(raw.probe_up, 2, "probe_up").map_err(fail)?,
                down_after: count(raw.probe_down, 3, "probe_down").map_err(fail)?,
            })
        } else {
            None
        };
        let caller_id = match (raw.caller_id_mode.as_deref(), &raw.caller_id) {
            (None | Some("keep"), None) => CallerIdMode::Keep,
            (None | Some("keep"), Some(_)) => {
                return Err(fail(
                    "caller_id needs caller_id_mode = \"replace\" or \"assert\"".to_owned(),
                ));
            }
            (Some("replace"), Some(number)) => CallerIdMode::Replace(number.clone()),
            (Some("assert"), Some(number)) => CallerIdMode::Assert(number.clone()),
            (Some(mode @ ("replace" | "assert")), None) => {
                return Err(fail(format!("caller_id_mode = {mode:?} needs caller_id")));
            }
            (Some(other), _) => {
                return Err(fail(format!(
                    "caller_id_mode {other:?}: expected \"keep\", \"replace\" or \"assert\""
                )));
            }
        };
        let inbound = Networks::parse(raw.inbound_networks.as_deref().unwrap_or_default())
            .map_err(|m| fail(format!("inbound_networks: {m}")))?;
        let mut costs = CostTable::default();
        for (prefix, cost) in raw.costs.iter().flatten() {
            costs
                .insert(prefix, *cost)
                .map_err(|m| fail(format!("costs: {m}")))?;
        }
        if let Some(file) = &raw.cost_file {
            let path = relative_to(trunk.path, file);
            let text = files
                .read(&path)
                .ok_or_else(|| fail(format!("cost_file {path:?} cannot be read")))?;
            hasher.update(text.as_bytes());
            hasher.update([0]);
            costs
                .read_csv(&text)
                .map_err(|(line, message)| PlanError::Invalid {
                    path: path.clone(),
                    line,
                    what: what.clone(),
                    message,
                })?;
        }
        let mut dids = HashMap::new();
        for (number, target) in raw.dids.iter().flatten() {
            if number.is_empty() {
                return Err(fail("dids: an empty number".to_owned()));
            }
            let spec = TargetSpec::parse(target, |g| self.ring_group_named(g).cloned(), |_| None)
                .map_err(|m| fail(format!("dids: {number:?}: {m}")))?;
            dids.insert(number.clone(), spec);
        }
        self.trunk_index.insert(name.clone(), self.trunks.len());
        self.trunks.push(TrunkSpec {
            name,
            gateways: gateways
                .iter()
                .map(|uri| GatewaySpec { uri: uri.clone() })
                .collect(),
            credentials,
            register,
            probe,
            failover_after: seconds(raw.failover_after, 5, "failover_after").map_err(fail)?,
            caller_id,
            fresh_call_id: raw.fresh_call_id.unwrap_or(true),
            inbound_networks: inbound.pairs(),
            inbound_users: raw.inbound_users.clone().unwrap_or_default(),
        });
        self.trunk_routing.push(TrunkRouting {
            inbound,
            costs,
            dids,
        });
        Ok(())
    }

    fn load_site(&mut self, site: &Located<'_, RawSite>) -> Result<(), PlanError> {
        let raw = &site.value;
        let name = required_name(site, "site", raw.name.as_deref(), self.sites.len())?;
        let what = format!("site {name:?}");
        if self.sites.iter().any(|other| other.name == name) {
            return Err(site.error(&what, "a site of this name comes earlier"));
        }
        let networks = raw.networks.as_deref().unwrap_or_default();
        if networks.is_empty() {
            return Err(site.error(&what, "networks is missing or empty"));
        }
        let networks =
            Networks::parse(networks).map_err(|m| site.error(&what, format!("networks: {m}")))?;
        let emergency_trunks = self
            .trunk_indexes(raw.emergency_trunks.as_deref().unwrap_or_default())
            .map_err(|m| site.error(&what, format!("emergency_trunks: {m}")))?;
        self.sites.push(Site {
            name,
            networks,
            emergency_trunks,
        });
        Ok(())
    }

    fn trunk_indexes(&self, names: &[String]) -> Result<Vec<usize>, String> {
        names
            .iter()
            .map(|name| {
                self.trunk_named(name)
                    .ok_or_else(|| format!("no trunk {name:?}"))
            })
            .collect()
    }

    fn load_rule(&self, route: &Located<'_, RawRoute>, index: usize) -> Result<Rule, PlanError> {
        let raw = &route.value;
        let name = required_name(route, "route", raw.name.as_deref(), index)?;
        let what = format!("route {name:?}");
        let fail = |message: String| route.error(&what, message);
        let matchers = self.matchers(&name, raw).map_err(fail)?;
        if let Some(group) = &raw.require_group {
            if !self.groups.exists(group) {
                return Err(fail(format!(
                    "require_group: no group {group:?} in [groups]"
                )));
            }
        } else if raw.deny_reason.is_some() {
            return Err(fail("deny_reason without require_group".to_owned()));
        }
        let rewrites = self.rewrites(raw).map_err(fail)?;
        let action = self.action(raw).map_err(fail)?;
        let rings = !matches!(action, Action::Reject { .. } | Action::Redirect { .. });
        let target = |key: &str, value: &Option<String>| -> Result<Option<TargetSpec>, PlanError> {
            let Some(text) = value else {
                return Ok(None);
            };
            if !rings {
                return Err(fail(format!(
                    "{key} needs an action that rings (user, ring_group, forward, trunks)"
                )));
            }
            TargetSpec::parse(
                text,
                |g| self.ring_group_named(g).cloned(),
                |t| self.trunk_named(t),
            )
            .map(Some)
            .map_err(|m| fail(format!("{key}: {m}")))
        };
        let on_busy = target("on_busy", &raw.on_busy)?;
        let on_no_answer = target("on_no_answer", &raw.on_no_answer)?;
        let on_unavailable = target("on_unavailable", &raw.on_unavailable)?;
        let no_answer_after = match raw.no_answer_after {
            None => None,
            Some(_) if on_no_answer.is_none() => {
                return Err(fail("no_answer_after without on_no_answer".to_owned()));
            }
            Some(secs) => Some(seconds(Some(secs), 0, "no_answer_after").map_err(fail)?),
        };
        // Without it the proxy's own limit (minutes) would apply: useless
        // for voicemail, so the ring groups' default.
        let no_answer_after = no_answer_after.or_else(|| {
            on_no_answer
                .is_some()
                .then_some(Duration::from_secs(DEFAULT_NO_ANSWER_SECS))
        });
        Ok(Rule {
            name,
            matchers,
            require_group: raw.require_group.clone(),
            deny_reason: raw
                .deny_reason
                .clone()
                .unwrap_or_else(|| DEFAULT_DENY_REASON.to_owned()),
            rewrites,
            action,
            on_busy,
            on_no_answer,
            no_answer_after,
            on_unavailable,
            prefer_caller_site: raw.prefer_caller_site.unwrap_or(self.prefer_caller_site),
        })
    }

    /// The rule's matchers, in the order of the schema.
    fn matchers(&self, rule: &str, raw: &RawRoute) -> Result<Vec<Matcher>, String> {
        let mut out = Vec::new();
        let mut list = |key: &str,
                        value: &Option<Vec<String>>,
                        make: &dyn Fn(&[String]) -> Result<Test, String>| {
            let Some(values) = value else {
                return Ok(());
            };
            if values.is_empty() {
                return Err(format!("{key} is empty (leave it out to match any)"));
            }
            let test = make(values).map_err(|m| format!("{key}: {m}"))?;
            out.push(Matcher::new(rule, &format!("{key} {values:?}"), test));
            Ok(())
        };
        let plain = |v: &[String]| v.to_vec();
        list("to", &raw.to, &|v| Ok(Test::To(plain(v))))?;
        list("to_prefix", &raw.to_prefix, &|v| {
            Ok(Test::ToPrefix(plain(v)))
        })?;
        list("to_range", &raw.to_range, &|v| {
            parse_each(v, NumberRange::parse).map(Test::ToRange)
        })?;
        list("from", &raw.from, &|v| Ok(Test::From(plain(v))))?;
        list("from_prefix", &raw.from_prefix, &|v| {
            Ok(Test::FromPrefix(plain(v)))
        })?;
        list(
            "from_group",
            &raw.from_group,
            &|v| match v.iter().find(|g| !self.groups.exists(g)) {
                Some(g) => Err(format!("no group {g:?} in [groups]")),
                None => Ok(Test::FromGroup(plain(v))),
            },
        )?;
        list("from_trunk", &raw.from_trunk, &|v| {
            self.trunk_indexes(v).map(|_| Test::FromTrunk(plain(v)))
        })?;
        list("site", &raw.site, &|v| match v
            .iter()
            .find(|s| !self.sites.iter().any(|site| site.name == **s))
        {
            Some(s) => Err(format!("no site {s:?}")),
            None => Ok(Test::Site(plain(v))),
        })?;
        list("source", &raw.source, &|v| {
            Networks::parse(v).map(Test::Source)
        })?;
        list("transport", &raw.transport, &|v| match v
            .iter()
            .find(|t| !TRANSPORTS.contains(&t.to_ascii_lowercase().as_str()))
        {
            Some(t) => Err(format!("{t:?} is not one of {TRANSPORTS:?}")),
            None => Ok(Test::Transport(plain(v))),
        })?;
        list("domain", &raw.domain, &|v| Ok(Test::Domain(plain(v))))?;
        list("time", &raw.time, &|v| {
            parse_each(v, TimeWindow::parse).map(Test::Time)
        })?;
        list("days", &raw.days, &|v| DaySet::parse(v).map(Test::Days))?;
        list("dates", &raw.dates, &|v| {
            parse_each(v, DateRange::parse).map(Test::Dates)
        })?;
        for (key, pattern, make) in [
            (
                "to_pattern",
                &raw.to_pattern,
                Test::ToPattern as fn(Regex) -> Test,
            ),
            ("from_pattern", &raw.from_pattern, Test::FromPattern),
        ] {
            if let Some(pattern) = pattern {
                let regex = compile(key, pattern)?;
                out.push(Matcher::new(
                    rule,
                    &format!("{key} {pattern:?}"),
                    make(regex),
                ));
            }
        }
        for (key, value, make) in [
            (
                "anonymous",
                raw.anonymous,
                Test::Anonymous as fn(bool) -> Test,
            ),
            ("from_user", raw.from_user, Test::FromUser),
        ] {
            if let Some(value) = value {
                out.push(Matcher::new(rule, &format!("{key} {value}"), make(value)));
            }
        }
        Ok(out)
    }

    fn rewrites(&self, raw: &RawRoute) -> Result<Vec<Rewrite>, String> {
        let mut out = Vec::new();
        if let Some(count) = raw.strip {
            let count =
                usize::try_from(count).map_err(|_| format!("strip {count} must be 0 or more"))?;
            out.push(Rewrite::Strip(count));
        }
        if let Some(replace) = &raw.replace {
            let regex = compile("replace", &replace.pattern)?;
            out.push(Rewrite::Replace {
                regex,
                with: replace.with.clone(),
            });
        }
        if let Some(prefix) = &raw.prepend {
            out.push(Rewrite::Prepend(prefix.clone()));
        }
        match raw.normalize.as_deref() {
            None => {}
            Some("e164") if self.numbering.country_code.is_some() => {
                out.push(Rewrite::NormalizeE164)
            }
            Some("e164") => {
                return Err("normalize = \"e164\" needs [routing] country_code".to_owned());
            }
            Some(other) => return Err(format!("normalize {other:?}: expected \"e164\"")),
        }
        Ok(out)
    }

    fn action(&self, raw: &RawRoute) -> Result<Action, String> {
        let given: Vec<&str> = [
            ("user", raw.user.is_some()),
            ("ring_group", raw.ring_group.is_some()),
            ("forward", raw.forward.is_some()),
            ("redirect", raw.redirect.is_some()),
            ("reject", raw.reject.is_some()),
            ("trunks", raw.trunks.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, present)| present.then_some(key))
        .collect();
        if given.len() != 1 {
            return Err(format!(
                "needs exactly one action (user, ring_group, forward, redirect, reject, trunks), has {}",
                if given.is_empty() {
                    "none".to_owned()
                } else {
                    given.join(", ")
                }
            ));
        }
        let only = |key: &str, present: bool, with: &str| {
            if present && !given.contains(&with) {
                Err(format!("{key} goes with {with}"))
            } else {
                Ok(())
            }
        };
        only("redirect_status", raw.redirect_status.is_some(), "redirect")?;
        only("reason", raw.reason.is_some(), "reject")?;
        only("lcr", raw.lcr.is_some(), "trunks")?;
        if let Some(user) = &raw.user {
            if user.is_empty() || user.contains(['@', ':', ' ']) {
                return Err(format!("user {user:?} is not a user name (or \"$number\")"));
            }
            return Ok(Action::User(user.clone()));
        }
        if let Some(group) = &raw.ring_group {
            return self
                .ring_group_named(group)
                .cloned()
                .map(Action::RingGroup)
                .ok_or_else(|| format!("no ring_group {group:?}"));
        }
        let uri = |key: &str, uri: &str| {
            if is_sip_uri(&uri.replace("$number", "0")) {
                Ok(uri.to_owned())
            } else {
                Err(format!("{key} {uri:?} is not a sip: URI"))
            }
        };
        if let Some(forward) = &raw.forward {
            return uri("forward", forward).map(Action::Forward);
        }
        if let Some(redirect) = &raw.redirect {
            let status = raw.redirect_status.unwrap_or(302);
            let status = u16::try_from(status)
                .ok()
                .filter(|s| (300..=399).contains(s));
            let status = status.ok_or_else(|| "redirect_status must be 300..399".to_owned())?;
            return Ok(Action::Redirect {
                status,
                uri: uri("redirect", redirect)?,
            });
        }
        if let Some(status) = raw.reject {
            let status = u16::try_from(status)
                .ok()
                .filter(|s| (400..=699).contains(s));
            let status = status.ok_or_else(|| "reject must be a status in 400..699".to_owned())?;
            let reason = raw
                .reason
                .clone()
                .unwrap_or_else(|| DEFAULT_REJECT_REASON.to_owned());
            return Ok(Action::Reject { status, reason });
        }
        let names = raw.trunks.as_deref().unwrap_or_default();
        if names.is_empty() {
            return Err("trunks is empty".to_owned());
        }
        let trunks = self
            .trunk_indexes(names)
            .map_err(|m| format!("trunks: {m}"))?;
        Ok(Action::Trunks {
            trunks,
            lcr: raw.lcr.unwrap_or(false),
        })
    }

    fn load_test(&self, test: &Located<'_, RawTest>, index: usize) -> Result<TestCase, PlanError> {
        let raw = &test.value;
        let name = required_name(test, "test", raw.name.as_deref(), index)?;
        let what = format!("test {name:?}");
        let fail = |message: String| test.error(&what, message);
        let from = raw
            .from
            .clone()
            .ok_or_else(|| fail("from is missing".to_owned()))?;
        if !is_sip_uri(&from) {
            return Err(fail(format!("from {from:?} is not a sip: URI")));
        }
        let to = raw
            .to
            .clone()
            .filter(|to| !to.is_empty())
            .ok_or_else(|| fail("to is missing".to_owned()))?;
        let source = match &raw.source {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(text) => text
                .parse()
                .map_err(|_| fail(format!("source {text:?} is not an IP address")))?,
        };
        let transport = raw
            .transport
            .clone()
            .unwrap_or_else(|| "udp".to_owned())
            .to_ascii_lowercase();
        if !TRANSPORTS.contains(&transport.as_str()) {
            return Err(fail(format!(
                "transport {transport:?} is not one of {TRANSPORTS:?}"
            )));
        }
        let at_unix = raw
            .at
            .as_deref()
            .map(|at| {
                self.parse_at(at).ok_or_else(|| {
                    fail(format!(
                        "at {at:?} is not a time like \"2026-12-07T10:00:00\""
                    ))
                })
            })
            .transpose()?;
        if let Some(trunk) = &raw.trunk
            && self.trunk_named(trunk).is_none()
        {
            return Err(fail(format!("no trunk {trunk:?}")));
        }
        let expect = match raw.expect.as_deref() {
            None => None,
            Some(text) => Some(ExpectedOutcome::parse(text).ok_or_else(|| {
                fail(format!(
                    "expect {text:?}: expected \"route\", \"reject\", \"redirect\" or \"none\""
                ))
            })?),
        };
        let expect_status = match raw.expect_status {
            None => None,
            Some(status) => Some(
                u16::try_from(status)
                    .ok()
                    .filter(|s| (100..=699).contains(s))
                    .ok_or_else(|| fail(format!("expect_status {status} is not a SIP status")))?,
            ),
        };
        if let Some(rule) = &raw.expect_rule
            && rule != "none"
            && !self.rules.iter().any(|r| &r.name == rule)
        {
            return Err(fail(format!("expect_rule: no route {rule:?}")));
        }
        Ok(TestCase {
            name,
            location: format!("{}:{}", test.path, test.line),
            from,
            to,
            source,
            transport,
            at_unix,
            trunk: raw.trunk.clone(),
            expect_rule: raw.expect_rule.clone(),
            expect,
            expect_status,
            expect_target: raw.expect_target.clone(),
            expect_number: raw.expect_number.clone(),
        })
    }

    /// A time as `[[test]] at` and `route test --at` take it: a local
    /// time in the plan's zone (`2026-12-07T10:00:00`; in a repeated hour
    /// the earlier one), or an instant with an offset or `Z`; `None` when
    /// it is neither.
    pub fn parse_at(&self, text: &str) -> Option<i64> {
        if let Ok(stamp) = text.parse::<Timestamp>() {
            return Some(stamp.as_second());
        }
        let local: DateTime = text.parse().ok()?;
        self.zone.to_timestamp(local).ok().map(Timestamp::as_second)
    }
}

/// Other top-level keys belong to the configuration and are ignored, so a
/// plan section written with a plural/singular slip (`[[routes]]`) would
/// silently route nothing: those names are refused.
fn misspelt_section(source: &PlanSource<'_>) -> Option<PlanError> {
    const SLIPS: [(&str, &str); 7] = [
        ("routes", "[[route]]"),
        ("trunks", "[[trunk]]"),
        ("sites", "[[site]]"),
        ("ring_groups", "[[ring_group]]"),
        ("tests", "[[test]]"),
        ("group", "[groups]"),
        ("route_test", "[[test]]"),
    ];
    source.text.lines().enumerate().find_map(|(index, line)| {
        let header = line.trim_start().strip_prefix('[')?;
        let name = header
            .trim_start_matches('[')
            .split([']', '.'])
            .next()?
            .trim();
        let (_, meant) = SLIPS.iter().find(|(slip, _)| *slip == name)?;
        Some(PlanError::Invalid {
            path: source.path.to_owned(),
            line: index + 1,
            what: line.trim().to_owned(),
            message: format!("not a routing section; did you mean {meant}?"),
        })
    })
}

/// An item's `name`: present, not empty.
fn required_name<T>(
    item: &Located<'_, T>,
    kind: &str,
    name: Option<&str>,
    index: usize,
) -> Result<String, PlanError> {
    match name {
        Some(name) if !name.trim().is_empty() => Ok(name.to_owned()),
        _ => Err(item.error(&format!("{kind} #{}", index + 1), "name is missing")),
    }
}

/// Every entry parsed; the first error.
fn parse_each<T>(
    values: &[String],
    parse: fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    values.iter().map(|value| parse(value)).collect()
}

/// A positive number of seconds, or `default` when absent.
fn seconds(value: Option<i64>, default: u64, key: &str) -> Result<Duration, String> {
    match value {
        None => Ok(Duration::from_secs(default)),
        Some(secs) => u64::try_from(secs)
            .ok()
            .filter(|&secs| secs > 0)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{key} must be a positive number of seconds")),
    }
}

/// A positive count, or `default` when absent.
fn count(value: Option<i64>, default: u32, key: &str) -> Result<u32, String> {
    match value {
        None => Ok(default),
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("{key} must be 1 or more")),
    }
}

fn compile(key: &str, pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|error| {
        let text = error.to_string();
        let last = text
            .lines()
            .rfind(|line| !line.trim().is_empty())
            .unwrap_or("invalid");
        format!("{key} {pattern:?} does not compile: {}", last.trim())
    })
}

/// `file` relative to the directory of `base` (unless absolute).
fn relative_to(base: &str, file: &str) -> String {
    if file.starts_with('/') {
        return file.to_owned();
    }
    match base.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{file}"),
        None => file.to_owned(),
    }
}
