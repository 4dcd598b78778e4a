//! `switchboard route test | check | reload`: the dial plan before it is
//! live. They read the same `--config` file as `serve` (domains, plan), so a
//! dry run decides exactly as the running server would.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use std::process::ExitCode;

use switchboard_config::{Flags, Settings};
use switchboard_routing::{AssumeUp, DryCall, Plan};

use crate::plan::load_plan;
use crate::serve::{PID_FILE, probe_host, read_settings, unix_now};
use crate::{EXIT_FAILURE, EXIT_UNAVAILABLE, Error};

/// What `route test` is asked about.
#[derive(Debug, Clone)]
pub(crate) struct TestCall {
    /// The caller's URI.
    pub(crate) from: String,
    /// The dialled number or user.
    pub(crate) to: String,
    /// Where the call comes from.
    pub(crate) source: IpAddr,
    /// Its transport.
    pub(crate) transport: String,
    /// When, as written (`2026-12-07T10:00:00`, local to the plan's
    /// zone, or with an offset); `None`: now.
    pub(crate) at: Option<String>,
    /// The call comes from this trunk.
    pub(crate) trunk: Option<String>,
}

/// The served domains of `config` and the plan of `plan_file` (default
/// `config`), or the exit code after the error was written.
fn load(
    config: Option<&Path>,
    plan_file: Option<&Path>,
    err: &mut dyn Write,
) -> Result<Result<(Plan, Settings), ExitCode>, Error> {
    load_with(config, plan_file, None, err)
}

/// [`load`] with `--data` given (the settings' data directory).
fn load_with(
    config: Option<&Path>,
    plan_file: Option<&Path>,
    data: Option<PathBuf>,
    err: &mut dyn Write,
) -> Result<Result<(Plan, Settings), ExitCode>, Error> {
    let flags = Flags {
        config: config.map(Path::to_path_buf),
        data,
        ..Flags::default()
    };
    let settings = match read_settings(&flags, &probe_host()) {
        Ok(s) => s,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Err(ExitCode::from(EXIT_UNAVAILABLE)));
        }
    };
    match load_plan(plan_file.or(config)) {
        Ok(plan) => Ok(Ok((plan, settings))),
        Err(e) => {
            writeln!(err, "error: the dial plan does not load: {e}")?;
            Ok(Err(ExitCode::from(EXIT_UNAVAILABLE)))
        }
    }
}

/// `route test`: prints the decision trace; exit 1 when the call would be
/// refused, 2 when the plan does not load.
pub(crate) fn test(
    config: Option<&Path>,
    call: &TestCall,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let (plan, domains) = match load(config, None, err)?.map(|(p, s)| (p, s.domains)) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let at_unix = match call.at.as_deref() {
        None => i64::try_from(unix_now()).unwrap_or(i64::MAX),
        Some(text) => match plan.parse_at(text) {
            Some(at) => at,
            None => {
                writeln!(
                    err,
                    "error: --at {text:?} is not a time like 2026-12-07T10:00:00 (local to the plan's zone) or with an offset"
                )?;
                return Ok(ExitCode::from(EXIT_UNAVAILABLE));
            }
        },
    };
    let dry = DryCall {
        from: &call.from,
        to: &call.to,
        source: call.source,
        transport: &call.transport,
        at_unix,
        trunk: call.trunk.as_deref(),
        // Offline: the plan's `[groups]` only (the admin API's test adds
        // the store's).
        groups: &[],
    };
    let decision = plan.dry_run(&dry, &domains, &AssumeUp);
    writeln!(out, "plan {}", plan.version())?;
    write!(out, "{}", decision.render())?;
    Ok(if decision.refuses() {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

/// `route check`: loads the plan and runs its `[[test]]` cases, one line
/// each; exit 1 when one fails, 2 when the plan does not load.
pub(crate) fn check(
    config: Option<&Path>,
    plan_file: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let (plan, domains) = match load(config, plan_file, err)?.map(|(p, s)| (p, s.domains)) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
    let outcomes = plan.run_tests_at(&domains, &AssumeUp, now);
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    writeln!(out, "plan {}", plan.version())?;
    for outcome in &outcomes {
        if outcome.passed {
            writeln!(out, "ok   {}", outcome.name)?;
        } else {
            writeln!(
                out,
                "FAIL {}: {}",
                outcome.name,
                outcome.differences.join("; ")
            )?;
        }
    }
    writeln!(out, "{} passed, {failed} failed", outcomes.len() - failed)?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}

/// `route reload`: checks the plan, then signals the running server (its
/// pid file in the data directory) to load it.
pub(crate) fn reload(
    config: Option<&Path>,
    data: Option<PathBuf>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let (plan, data) = match load_with(config, None, data, err)? {
        Ok((plan, settings)) => (plan, settings.data),
        Err(code) => return Ok(code),
    };
    let pid_path = data.join(PID_FILE);
    let pid = std::fs::read_to_string(&pid_path)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok());
    let Some(pid) = pid else {
        writeln!(
            err,
            "error: no running server: {} is missing or unreadable",
            pid_path.display()
        )?;
        return Ok(ExitCode::from(EXIT_FAILURE));
    };
    let hup = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    );
    if let Err(e) = hup {
        writeln!(err, "error: cannot signal the server (pid {pid}): {e}")?;
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    writeln!(
        out,
        "plan {} checked; server {pid} told to reload",
        plan.version()
    )?;
    Ok(ExitCode::SUCCESS)
}
