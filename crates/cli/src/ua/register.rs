//! `switchboard register`: registers an AOR and keeps the binding
//! refreshed until SIGINT/SIGTERM, then removes it.

use std::io::Write;
use std::process::ExitCode;

use switchboard_ua::RegistrationEvent;

use super::RegisterArgs;
use super::app::{Msg, Report};
use super::presence::{PresencePublisher, describe_publication};
use super::setup::{Running, Stopping, registration_failed, run_configured};
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
    mut running: Running,
    contact: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    running.sender.send(Msg::Register {
        expires: args.expires,
    });
    let mut publisher = PresencePublisher::new(&args.presence);
    let mut stopping = Stopping::new(None)?;
    let mut ever_registered = false;
    let mut code = ExitCode::SUCCESS;
    loop {
        tokio::select! {
            report = running.reports.recv() => {
                let Some(report) = report else { break };
                match report {
                    Report::Registration(RegistrationEvent::Registered { expires }) => {
                        ever_registered = true;
                        writeln!(out, "registered {} at {contact} (expires {expires} s)", args.aor)?;
                        publisher.registered(&running.sender);
                        if args.once {
                            stopping.request(&running.sender);
                        }
                    }
                    Report::Registration(RegistrationEvent::Failed { status, reason, retry_in }) => {
                        writeln!(out, "{}", registration_failed(status, &reason, retry_in))?;
                        if args.once && stopping.request(&running.sender) {
                            code = ExitCode::from(EXIT_FAILURE);
                        }
                    }
                    Report::Registration(RegistrationEvent::Unregistered) => {
                        if ever_registered {
                            writeln!(out, "unregistered")?;
                        }
                        break;
                    }
                    Report::Publication(event) => writeln!(out, "{}", describe_publication(&event))?,
                    Report::Error(e) => {
                        writeln!(err, "error: {e}")?;
                        code = ExitCode::from(EXIT_FAILURE);
                        break;
                    }
                    _ => {}
                }
                out.flush()?;
            }
            stop = stopping.until_stop(&running.sender) => if stop { break },
        }
    }
    out.flush()?;
    running.handle.shutdown().await;
    Ok(code)
}
