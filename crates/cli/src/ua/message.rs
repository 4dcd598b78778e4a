//! `switchboard message`: sends one MESSAGE (RFC 3428) and prints the
//! answer.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use super::MessageArgs;
use super::app::{Msg, Report};
use super::setup::{Running, run_configured};
use crate::{EXIT_FAILURE, Error};

/// Longer than Timer F (32 s), so the transaction decides first.
const GIVE_UP: Duration = Duration::from_secs(40);

pub(crate) fn message(
    args: MessageArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    run_configured(
        &args.ua,
        &args.target,
        args.identity.as_deref(),
        err,
        async |running, _, err| run(&args, running, out, err).await,
    )
}

async fn run(
    args: &MessageArgs,
    mut running: Running,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    running.sender.send(Msg::SendMessage {
        target: args.target.clone(),
        text: args.text.clone(),
    });
    let code = loop {
        tokio::select! {
            report = running.reports.recv() => match report {
                Some(Report::Delivered(d)) => {
                    if d.status.is_success() {
                        writeln!(out, "delivered: {} {}", d.status.as_u16(), d.reason)?;
                        break ExitCode::SUCCESS;
                    }
                    writeln!(out, "failed: {} {}", d.status.as_u16(), d.reason)?;
                    break ExitCode::from(EXIT_FAILURE);
                }
                Some(Report::Error(e)) => {
                    writeln!(err, "error: {e}")?;
                    break ExitCode::from(EXIT_FAILURE);
                }
                Some(_) => {}
                None => break ExitCode::from(EXIT_FAILURE),
            },
            () = tokio::time::sleep(GIVE_UP) => {
                writeln!(out, "failed: no answer")?;
                break ExitCode::from(EXIT_FAILURE);
            }
        }
    };
    out.flush()?;
    running.handle.shutdown().await;
    Ok(code)
}
