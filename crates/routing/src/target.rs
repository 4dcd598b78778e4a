//! A target as written in the plan (fallthrough and DIDs): `user:NAME`,
//! `group:NAME`, `sip:URI`, `trunk:NAME`.

use std::fmt;

use crate::sections::RingGroup;

/// A target checked at load (groups and trunks by index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetSpec {
    /// A local user (`$number`: the user named by the number).
    User(String),
    /// A ring group.
    Group(RingGroup),
    /// A SIP URI (`$number` allowed).
    Uri(String),
    /// A trunk (index into the plan's trunks).
    Trunk { index: usize, name: String },
}

impl TargetSpec {
    /// Parses `text`; `group` and `trunk` look names up.
    pub(crate) fn parse(
        text: &str,
        group: impl Fn(&str) -> Option<RingGroup>,
        trunk: impl Fn(&str) -> Option<usize>,
    ) -> Result<Self, String> {
        if let Some(name) = text.strip_prefix("user:") {
            if name.is_empty() || name.contains(['@', ':', ' ']) {
                return Err(format!("target {text:?}: not a user name"));
            }
            return Ok(Self::User(name.to_owned()));
        }
        if let Some(name) = text.strip_prefix("group:") {
            let group =
                group(name).ok_or_else(|| format!("target {text:?}: no ring group {name:?}"))?;
            return Ok(Self::Group(group));
        }
        if let Some(name) = text.strip_prefix("trunk:") {
            let index = trunk(name).ok_or_else(|| format!("target {text:?}: no trunk {name:?}"))?;
            return Ok(Self::Trunk {
                index,
                name: name.to_owned(),
            });
        }
        if is_sip_uri(text) {
            return Ok(Self::Uri(text.to_owned()));
        }
        Err(format!(
            "target {text:?}: expected \"user:NAME\", \"group:NAME\", \"trunk:NAME\" or a sip: URI"
        ))
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(name) => write!(f, "user:{name}"),
            Self::Group(group) => write!(f, "group:{}", group.name),
            Self::Uri(uri) => f.write_str(uri),
            Self::Trunk { name, .. } => write!(f, "trunk:{name}"),
        }
    }
}

/// `sip:` or `sips:` with a host after any user part.
pub(crate) fn is_sip_uri(text: &str) -> bool {
    let rest = text
        .strip_prefix("sip:")
        .or_else(|| text.strip_prefix("sips:"));
    rest.is_some_and(|rest| {
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        !host.is_empty()
            && !host.starts_with([';', ':', '?'])
            && !rest.contains(char::is_whitespace)
    })
}
