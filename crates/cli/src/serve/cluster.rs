//! `[cluster]` at start: this node's name and advertised SIP URI (their
//! defaults need the host name and the listeners), and the change feed
//! started on the driver's channel. Only with a PostgreSQL store.

use std::net::IpAddr;

use switchboard_config::Settings;
use switchboard_core::Transport;
use switchboard_net::AppSender;
use switchboard_store::{
    ClusterFeed, ClusterFeedConfig, ClusterFeedHandle, NodeSession, StoreError, StoreLocation,
};

use super::server::Done;

/// The feed's settings for a PostgreSQL store; `None` for SQLite (the
/// node is alone).
pub(super) fn settings_for(
    settings: &Settings,
    location: &StoreLocation,
) -> Result<Option<ClusterFeedConfig>, StoreError> {
    let StoreLocation::Postgres(url) = location else {
        return Ok(None);
    };
    let cluster = &settings.cluster;
    let first_udp = settings
        .listen
        .iter()
        .find(|(t, _)| *t == Transport::Udp)
        .or_else(|| settings.listen.first())
        .map(|(_, addr)| *addr);
    let port = first_udp.map_or(5060, |a| a.port());
    let name = match &cluster.node {
        Some(name) => name.clone(),
        None => format!("{}-{port}", host_name()),
    };
    let sip_uri = match &cluster.advertise {
        Some(uri) => uri.clone(),
        None => {
            let ip = first_udp
                .map(|a| a.ip())
                .filter(|ip| !ip.is_unspecified())
                .or_else(|| super::probe_host().primary_ip)
                .unwrap_or(IpAddr::from([127, 0, 0, 1]));
            match ip {
                IpAddr::V4(v4) => format!("sip:{v4}:{port}"),
                IpAddr::V6(v6) => format!("sip:[{v6}]:{port}"),
            }
        }
    };
    Ok(Some(ClusterFeedConfig {
        url: url.clone(),
        session: NodeSession::new(&name, cluster.notify)?,
        sip_uri,
        admin_url: settings.admin.map(|a| format!("http://{a}")),
        notify: cluster.notify,
        poll_interval: cluster.poll_interval,
        heartbeat: cluster.heartbeat,
    }))
}

/// The host's name, with what a node name may not hold replaced.
fn host_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let name: String = raw
        .trim()
        .chars()
        .take(50)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() {
        "switchboard".into()
    } else {
        name
    }
}

/// Runs the feed; what it reads goes to the driver.
pub(super) fn start(feed: ClusterFeed, done: &AppSender<Done>) -> Option<ClusterFeedHandle> {
    let done = done.clone();
    match feed.start(move |change| {
        done.send(Done::Cluster(change));
    }) {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::error!(error = %e, "cluster: the change feed did not start: this node sees no other node's changes");
            None
        }
    }
}
