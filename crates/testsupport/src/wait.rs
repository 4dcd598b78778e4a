//! Waiting for a condition instead of sleeping a fixed time.

use std::time::{Duration, Instant};

/// How often [`wait_for`] looks again.
const POLL: Duration = Duration::from_millis(50);

/// Polls `cond` until it holds (`true`) or `limit` has passed (`false`).
/// A test waits for what it needs (a line logged, a binding stored, a file
/// complete) rather than for a time that is enough on an idle machine.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}
