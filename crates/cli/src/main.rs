//! The `switchboard` binary: everything is in the library's [`switchboard::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    match switchboard::run() {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
