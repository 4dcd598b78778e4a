//! The checked sections a plan keeps beside its rules and trunks.

use std::collections::HashMap;
use std::time::Duration;

use crate::costs::CostTable;
use crate::network::Networks;
use crate::target::TargetSpec;
use crate::{RingStrategy, RouteTarget};

/// A `[[site]]`.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub(crate) name: String,
    pub(crate) networks: Networks,
    /// Indexes into the plan's trunks.
    pub(crate) emergency_trunks: Vec<usize>,
}

/// A `[[ring_group]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RingGroup {
    pub(crate) name: String,
    /// (user, domain when written as `user@domain`).
    pub(crate) members: Vec<(String, Option<String>)>,
    pub(crate) strategy: RingStrategy,
    pub(crate) ring_timeout: Duration,
}

impl RingGroup {
    /// The group as a target; members without a domain get `domain`
    /// (the request's).
    pub(crate) fn target(&self, domain: &str) -> RouteTarget {
        let members = self
            .members
            .iter()
            .map(|(user, own)| {
                (
                    user.clone(),
                    own.clone().unwrap_or_else(|| domain.to_owned()),
                )
            })
            .collect();
        RouteTarget::RingGroup {
            name: self.name.clone(),
            members,
            strategy: self.strategy,
            ring_timeout: self.ring_timeout,
        }
    }
}

/// What the plan keeps of a trunk for routing (the `TrunkSpec` is the
/// server's part).
#[derive(Debug, Clone, Default)]
pub(crate) struct TrunkRouting {
    pub(crate) inbound: Networks,
    pub(crate) costs: CostTable,
    pub(crate) dids: HashMap<String, TargetSpec>,
}
