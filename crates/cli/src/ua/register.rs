//! `switchboard register`: registers an AOR and keeps the binding
//! refreshed until SIGINT/SIGTERM, then removes it.

use std::io::Write;
use std::process::ExitCode;

use switchboard_ua::RegistrationEvent;

use super::RegisterArgs;
use super::app::{Msg, Report};
use super::presence::{PresencePublisher, describe_publication};
use super::setup::{Flow, Running, Stopping, drive, registration_failed, run_configured};
use crate::{EXIT_FAILURE, Error};

pub(crate) fn register(
    args: RegisterArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    run_configured(
        &args.ua,
        &args.aor,
        Some(&args.aor),
        err,
        async |running, contact, err| run(&args, running, contact, out, err).await,
    )
}

async fn run(
    args: &RegisterArgs,
    running: Running,
    contact: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    running.sender.send(Msg::Register {
        expires: args.expires,
    });
    let mut publisher = PresencePublisher::new(&args.presence);
    let stopping = Stopping::new(None)?;
    let mut ever_registered = false;
    let mut gave_up = false;
    let failed = drive(
        running,
        stopping,
        out,
        err,
        |report, stopping, sender, out, _| {
            match report {
                Report::Registration(RegistrationEvent::Registered { expires }) => {
                    ever_registered = true;
                    writeln!(
                        out,
                        "registered {} at {contact} (expires {expires} s)",
                        args.aor
                    )?;
                    publisher.registered(sender);
                    if args.once {
                        stopping.request(sender);
                    }
                }
                Report::Registration(RegistrationEvent::Failed {
                    status,
                    reason,
                    retry_in,
                }) => {
                    writeln!(out, "{}", registration_failed(status, &reason, retry_in))?;
                    if args.once && stopping.request(sender) {
                        gave_up = true;
                    }
                }
                Report::Registration(RegistrationEvent::Unregistered) => {
                    if ever_registered {
                        writeln!(out, "unregistered")?;
                    }
                    return Ok(Flow::Done);
                }
                Report::Publication(event) => writeln!(out, "{}", describe_publication(&event))?,
                _ => {}
            }
            Ok(Flow::Go)
        },
    )
    .await?;
    Ok(if failed || gave_up {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}
