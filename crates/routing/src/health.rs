//! The gateways' health, as the server's probes know it.

/// What the plan asks about a gateway while it orders trunk attempts.
pub trait GatewayHealth {
    /// Whether the gateway (`trunk`'s gateway `uri`, as written in the
    /// plan) is up; `None` when it is not probed or not known yet (taken
    /// as up).
    fn is_up(&self, trunk: &str, gateway: &str) -> Option<bool>;
}

/// Every gateway taken as up (dry runs without a running server).
#[derive(Debug, Clone, Copy, Default)]
pub struct AssumeUp;

impl GatewayHealth for AssumeUp {
    fn is_up(&self, _trunk: &str, _gateway: &str) -> Option<bool> {
        None
    }
}
