//! `switchboard token create|list|remove`: the admin API's bearer
//! tokens in the data directory. A token is printed once, at creation;
//! the store keeps only its SHA-256.

use std::io::Write;
use std::process::ExitCode;

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_admin::Token;
use switchboard_store::{AdminToken, StoreError};

use crate::serve::unix_now;
use crate::store::open;
use crate::{EXIT_FAILURE, Error, StoreArgs};

/// `token create NAME`: prints the new token alone on stdout (for
/// `TOKEN=$(switchboard token create ci)`); a taken name exits 1.
pub(crate) fn create(
    data: &StoreArgs,
    name: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let store = open(data)?;
    let token = Token::generate(&mut StdRng::from_os_rng());
    let record = AdminToken {
        name: name.to_owned(),
        hash: token.hash(),
        created: unix_now(),
    };
    match store.add_admin_token(&record) {
        Ok(()) => {
            writeln!(out, "{}", token.as_str())?;
            writeln!(
                err,
                "token {name:?} created: it is shown this once (only its hash is kept); send it as `Authorization: Bearer <token>`"
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (StoreError::Conflict(_) | StoreError::InvalidInput(_))) => {
            writeln!(err, "error: {e}")?;
            Ok(ExitCode::from(EXIT_FAILURE))
        }
        Err(source) => Err(Error::Store {
            what: "cannot store the token".into(),
            source,
        }),
    }
}

/// `token list`: name and creation time, one per line.
pub(crate) fn list(data: &StoreArgs, out: &mut dyn Write) -> Result<ExitCode, Error> {
    let tokens = open(data)?.admin_tokens().map_err(|source| Error::Store {
        what: "cannot read the tokens".into(),
        source,
    })?;
    for token in tokens {
        writeln!(out, "{} created={}", token.name, token.created)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `token remove NAME`: an unknown name exits 1. A running server stops
/// taking the token within seconds.
pub(crate) fn remove(
    data: &StoreArgs,
    name: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    match open(data)?.remove_admin_token(name) {
        Ok(()) => {
            writeln!(out, "token {name:?} removed")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ StoreError::NotFound(_)) => {
            writeln!(err, "error: {e}")?;
            Ok(ExitCode::from(EXIT_FAILURE))
        }
        Err(source) => Err(Error::Store {
            what: "cannot remove the token".into(),
            source,
        }),
    }
}
