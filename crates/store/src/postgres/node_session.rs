//! How a node of a cluster names itself in its PostgreSQL sessions.

use postgres::Config;

use crate::error::StoreError;

/// How a node names itself in its store sessions: the triggers record it
/// with each change (and as the home of the bindings it writes), and
/// whether they NOTIFY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSession {
    name: String,
    notify: bool,
}

impl NodeSession {
    /// `name`: letters, digits, `.`, `-`, `_` and `:` only (it goes into
    /// the connection's options), at most 63 bytes.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for another name.
    pub fn new(name: &str, notify: bool) -> Result<Self, StoreError> {
        if !switchboard_server::cluster::is_valid_node_name(name) {
            return Err(StoreError::InvalidInput(format!(
                "cluster node name {name:?}: letters, digits, '.', '-', '_' and ':' only, at most 63"
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            notify,
        })
    }

    /// The node's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the session variables the triggers read on every connection
    /// `config` opens.
    pub(super) fn apply(&self, config: &mut Config) {
        let notify = if self.notify { "on" } else { "off" };
        let ours = format!(
            "-c switchboard.node={} -c switchboard.notify={notify}",
            self.name
        );
        let options = match config.get_options() {
            Some(theirs) if !theirs.is_empty() => format!("{theirs} {ours}"),
            _ => ours,
        };
        config.options(&options);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;

    #[test]
    fn node_names_fit_the_connection_options() {
        assert!(NodeSession::new("node-a:5060", true).is_ok());
        assert!(NodeSession::new("a b", true).is_err());
        assert!(NodeSession::new("", true).is_err());
        assert!(NodeSession::new("x'; DROP", true).is_err());
    }
}
