//! What the headless-Chromium tests share: Chromium, node and the
//! scripts' folder (`tests/browser`, its `node_modules` installed when
//! missing), and the reading of a check script's result (one `ok` or
//! `FAIL` line per check, `N passed, M failed` last).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use switchboard_testsupport::{Proc, require};

/// Debian's `chromium`.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// `tests/browser`, ready to run its scripts: node and Chromium present,
/// `npm ci` done when its `node_modules` is missing (5 minutes at most).
pub fn browser_dir() -> PathBuf {
    require("node", "--version", "nodejs");
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is not installed (Debian: apt-get install -y chromium); scripts/test.sh installs it"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if dir.join("node_modules/playwright-core").is_dir() {
        return dir;
    }
    require("npm", "--version", "nodejs npm");
    let mut command = Command::new("npm");
    command
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
    let mut npm = Proc::spawn("npm ci", command).killing_descendants();
    let status = npm.expect_exit(Duration::from_secs(300));
    assert!(
        status.success(),
        "npm ci failed in {}\n{}",
        dir.display(),
        npm.report()
    );
    dir
}

/// Waits (at most `limit`) for the check script `node` to end, then
/// kills what it left; fails the test (with the failed checks and
/// `context()`) unless it exited 0 with `N passed, 0 failed` last.
/// Returns N.
pub fn checks_passed(node: Proc, limit: Duration, context: &dyn Fn() -> String) -> u32 {
    checks_output(node, limit, context).0
}

/// [`checks_passed`], and every line the script printed (its JSON
/// reports among them).
pub fn checks_output(
    mut node: Proc,
    limit: Duration,
    context: &dyn Fn() -> String,
) -> (u32, Vec<String>) {
    let status = node.wait(limit);
    let lines: Vec<String> = node.output().lines().map(str::to_owned).collect();
    let output = node.report();
    drop(node);
    let failed: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("FAIL"))
        .map(String::as_str)
        .collect();
    let report = || {
        format!(
            "failed checks:\n{}\n--- {output}\n{}",
            failed.join("\n"),
            context()
        )
    };
    let status = status.unwrap_or_else(|| panic!("node did not end in time\n{}", report()));
    let last = lines
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .cloned()
        .unwrap_or_default();
    assert!(
        status.success(),
        "{status}; last line {last:?}\n{}",
        report()
    );
    let passed = last
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("last line {last:?}\n{}", report()));
    (passed, lines)
}
