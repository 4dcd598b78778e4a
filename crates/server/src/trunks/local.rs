//! Who the server is in the requests it sends to trunks on its own: the
//! From of its probes and the Contact it registers.

use switchboard_core::Transport;

use crate::proxy::{Listener, ProxyConfig};

/// The server's own addresses, as requests to providers name them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Local {
    listeners: Vec<Listener>,
    /// The host of the server's From: its first domain, else the first
    /// listener's host.
    host: String,
}

impl Local {
    /// From the proxy's listeners and domains.
    pub(crate) fn new(config: &ProxyConfig) -> Self {
        let host = config
            .domains
            .first()
            .cloned()
            .or_else(|| config.listeners.first().map(Listener::host_text))
            .unwrap_or_else(|| "localhost".to_owned());
        Self {
            listeners: config.listeners.clone(),
            host,
        }
    }

    /// The server's From address (`<sip:switchboard@HOST>`).
    pub(crate) fn from(&self) -> String {
        format!("<sip:switchboard@{}>", self.host)
    }

    /// The Contact for `user` at the listener of `transport` (the first
    /// listener when none has it); `None` without any listener.
    pub(crate) fn contact(&self, user: &str, transport: Transport) -> Option<String> {
        let listener = self
            .listeners
            .iter()
            .find(|l| l.transport == transport)
            .or_else(|| self.listeners.first())?;
        let param = match listener.transport {
            Transport::Udp => String::new(),
            other => format!(";transport={}", other.as_lowercase_token()),
        };
        Some(format!(
            "<sip:{user}@{}:{}{param}>",
            listener.host_text(),
            listener.addr.port()
        ))
    }
}
