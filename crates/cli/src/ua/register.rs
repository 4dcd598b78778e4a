//! `switchboard register`: registers an AOR and keeps the binding
//! refreshed until SIGINT/SIGTERM, then removes it.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use switchboard_ua::RegistrationEvent;

use super::RegisterArgs;
use super::app::{Msg, Report};
use super::setup::{
    Launched, Signals, error_exit, far_future, launch, registration_failed, runtime,
};
use crate::{EXIT_FAILURE, Error};

const STOP_GRACE: Duration = Duration::from_secs(5);

pub(crate) fn register(
    args: RegisterArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    runtime()?.block_on(run(args, out, err))
}

async fn run(
    args: RegisterArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let Launched {
        mut running,
        config,
        ..
    } = match launch(&args.ua, &args.aor, Some(&args.aor)).await {
        Ok(l) => l,
        Err(e) => return error_exit(err, &e),
    };
    let contact = config.contact.clone();
    running.sender.send(Msg::Configure {
        config: Box::new(config),
        answer: None,
    });
    running.sender.send(Msg::Register {
        expires: args.expires,
    });
    let mut signals = Signals::new().map_err(Error::Runtime)?;
    let far_future = far_future();
    let mut give_up_at = far_future;
    let mut stopping = false;
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
                        if args.once && !stopping {
                            stopping = true;
                            running.sender.send(Msg::Stop);
                            give_up_at = tokio::time::Instant::now() + STOP_GRACE;
                        }
                    }
                    Report::Registration(RegistrationEvent::Failed { status, reason, retry_in }) => {
                        writeln!(out, "{}", registration_failed(status, &reason, retry_in))?;
                        if args.once && !stopping {
                            code = ExitCode::from(EXIT_FAILURE);
                            stopping = true;
                            running.sender.send(Msg::Stop);
                            give_up_at = tokio::time::Instant::now() + STOP_GRACE;
                        }
                    }
                    Report::Registration(RegistrationEvent::Unregistered) => {
                        if ever_registered {
                            writeln!(out, "unregistered")?;
                        }
                        break;
                    }
                    Report::Error(e) => {
                        writeln!(err, "error: {e}")?;
                        code = ExitCode::from(EXIT_FAILURE);
                        break;
                    }
                    _ => {}
                }
                out.flush()?;
            }
            () = signals.recv() => {
                if stopping { break; }
                stopping = true;
                running.sender.send(Msg::Stop);
                give_up_at = tokio::time::Instant::now() + STOP_GRACE;
            }
            () = tokio::time::sleep_until(give_up_at) => break,
        }
    }
    out.flush()?;
    running.handle.shutdown().await;
    Ok(code)
}
