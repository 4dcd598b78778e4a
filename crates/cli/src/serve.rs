//! `switchboard serve`: not built yet. It says so instead of pretending.

use std::io::Write;
use std::process::ExitCode;

use crate::{EXIT_UNAVAILABLE, Error};

/// Says on `err` that the server is not available and exits with code 2.
pub(crate) fn serve(err: &mut dyn Write) -> Result<ExitCode, Error> {
    writeln!(
        err,
        "switchboard serve: the SIP server is not available in this version \
         (the registrar and proxy are not built yet); what works today is \
         `switchboard parse FILE [--stream]`"
    )?;
    Ok(ExitCode::from(EXIT_UNAVAILABLE))
}
