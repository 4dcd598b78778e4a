//! Reading the dial plan's files: the `--config` file and the file its
//! `[routing] plan` names. `serve` (at start and on SIGHUP) and the `route`
//! commands read them the same way, so a dry run decides as the running
//! server does.

use std::path::{Path, PathBuf};

use switchboard_config::{ConfigError, FileConfig};
use switchboard_routing::{Plan, PlanError, PlanSource};

/// Cost files (`cost_file`) are read from disk, by the path the plan
/// joined to its own directory.
fn read_named(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// Why the plan's files did not give a plan.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlanLoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The main file is not a valid configuration.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The plan is wrong (file, line and rule named).
    #[error("{0}")]
    Plan(#[from] PlanError),
}

fn read(path: &Path) -> Result<String, PlanLoadError> {
    std::fs::read_to_string(path).map_err(|source| PlanLoadError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Loads the plan of `config` (no file: the empty plan).
pub(crate) fn load_plan(config: Option<&Path>) -> Result<Plan, PlanLoadError> {
    let Some(config) = config else {
        return Ok(Plan::default());
    };
    let main = read(config)?;
    let file = FileConfig::parse(&main, config)?;
    let own = match file.plan_file(config) {
        Some(path) => Some((read(&path)?, path)),
        None => None,
    };
    let main_path = config.display().to_string();
    let own_path = own.as_ref().map(|(_, p)| p.display().to_string());
    let mut sources = vec![PlanSource {
        path: &main_path,
        text: &main,
    }];
    if let (Some((text, _)), Some(path)) = (&own, &own_path) {
        sources.push(PlanSource { path, text });
    }
    Ok(Plan::load_with(&sources, &read_named)?)
}
