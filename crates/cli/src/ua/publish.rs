//! `switchboard publish`: publishes our presence (PUBLISH with PIDF),
//! keeps it refreshed until SIGINT/SIGTERM or `--duration`, then removes
//! it.

use std::io::Write;
use std::process::ExitCode;

use switchboard_ua::{Presence, PublicationEvent};

use super::PublishArgs;
use super::app::{Msg, Report};
use super::presence::describe_publication;
use super::setup::{Flow, Running, Stopping, drive, run_configured};
use crate::{EXIT_FAILURE, Error};

pub(crate) fn publish(
    args: PublishArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    run_configured(
        &args.ua,
        &args.aor,
        Some(&args.aor),
        err,
        async |running, _, err| run(&args, running, out, err).await,
    )
}

async fn run(
    args: &PublishArgs,
    running: Running,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let presence = Presence::from_status(&args.status).with_note(args.note.clone());
    writeln!(out, "publishing {} {presence}", args.aor)?;
    out.flush()?;
    running.sender.send(Msg::Publish {
        presence: Box::new(presence),
        expires: args.expires,
    });
    let stopping = Stopping::new(args.duration)?;
    let mut ever_published = false;
    let failed = drive(running, stopping, out, err, |report, _, _, out, _| {
        if let Report::Publication(event) = report {
            writeln!(out, "{}", describe_publication(&event))?;
            match event {
                PublicationEvent::Published { .. } => ever_published = true,
                PublicationEvent::Removed => return Ok(Flow::Done),
                _ => {}
            }
        }
        Ok(Flow::Go)
    })
    .await?;
    Ok(if failed || !ever_published {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}
