//! `switchboard call`: places one call, plays and records its audio, hangs
//! up after `--duration` or on SIGINT/SIGTERM, and prints its progress.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_ua::{CallEvent, EndReason, MediaSession, Negotiated};

use super::CallArgs;
use super::app::{Msg, Report};
use super::media::{ActiveMedia, MediaOptions, bind_pair, load_play};
use super::setup::{Launched, Signals, error_exit, far_future, media_policy, run_launched};
use crate::{EXIT_FAILURE, Error};

/// How long to wait for the end of a call after hanging up.
const HANGUP_GRACE: Duration = Duration::from_secs(5);

/// One line describing negotiated media.
pub(super) fn describe(n: &Negotiated) -> String {
    let codec = match n.codec {
        switchboard_media::g711::G711::Ulaw => "PCMU",
        switchboard_media::g711::G711::Alaw => "PCMA",
    };
    let security = n
        .srtp
        .as_ref()
        .map_or_else(|| "RTP".to_owned(), |k| format!("SRTP {}", k.suite.name()));
    format!(
        "{codec}, {security}, {}, remote {}",
        n.direction.as_str(),
        n.remote_rtp
    )
}

pub(crate) fn call(
    args: CallArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let play = match load_play(args.media.play.as_deref()) {
        Ok(p) => p,
        Err(e) => return error_exit(err, &e),
    };
    run_launched(
        &args.ua,
        &args.target,
        args.identity.as_deref(),
        err,
        async |launched, err| run(&args, launched, play, out, err).await,
    )
}

async fn run(
    args: &CallArgs,
    Launched {
        setup,
        mut running,
        config,
    }: Launched,
    play: Option<Vec<i16>>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let sockets = match bind_pair(setup.local_ip) {
        Ok(s) => s,
        Err(e) => return error_exit(err, &e),
    };
    let media = MediaSession::new(
        media_policy(args.media.srtp),
        sockets.rtp_addr(),
        &mut StdRng::from_os_rng(),
    );
    writeln!(out, "calling {} as {}", args.target, config.aor)?;
    out.flush()?;
    running.configure(config, None);
    running.sender.send(Msg::Dial {
        target: args.target.clone(),
        media: Box::new(media),
    });
    let mut signals = Signals::new().map_err(Error::Runtime)?;
    let mut sockets = Some(sockets);
    let mut active: Option<ActiveMedia> = None;
    let far_future = far_future();
    let mut hangup_at = far_future;
    let (mut hold_at, mut resume_at) = (far_future, far_future);
    let mut give_up_at = far_future;
    let mut hung_up = false;
    let code = loop {
        tokio::select! {
            report = running.reports.recv() => {
                let Some(report) = report else { break ExitCode::from(EXIT_FAILURE) };
                match report {
                    Report::Call { event, .. } => match event {
                        CallEvent::Trying => writeln!(out, "trying")?,
                        CallEvent::Ringing => writeln!(out, "ringing")?,
                        CallEvent::Answered(n) => {
                            writeln!(out, "answered: {}", describe(&n))?;
                            if let Some(s) = sockets.take() {
                                let options = MediaOptions { play: play.clone(), dtmf: args.dtmf.clone(), capture: args.media.capture.is_some() };
                                active = Some(ActiveMedia::start(s, n, options));
                            }
                            let after = |secs: f64| tokio::time::Instant::now() + Duration::from_secs_f64(secs.max(0.0));
                            if let Some(secs) = args.duration {
                                hangup_at = after(secs);
                            }
                            if let Some(secs) = args.hold_at {
                                hold_at = after(secs);
                            }
                            if let Some(secs) = args.resume_at {
                                resume_at = after(secs);
                            }
                        }
                        CallEvent::MediaUpdated(n) => {
                            writeln!(out, "media: {}", describe(&n))?;
                            if let Some(a) = &active { a.update(n); }
                        }
                        CallEvent::UpdateFailed { status } => writeln!(out, "re-INVITE failed: {}", status.as_u16())?,
                        CallEvent::Ended(reason) => {
                            if let Some(a) = active.take() {
                                if let Some(s) = a.finish(args.media.record.as_deref(), args.media.capture.as_deref()).await {
                                    writeln!(out, "media: sent {} packets, received {}, rejected {}", s.sent, s.received, s.rejected)?;
                                }
                            }
                            break match reason {
                                EndReason::Failed { status, reason } => {
                                    writeln!(out, "failed: {} {reason}", status.as_u16())?;
                                    ExitCode::from(EXIT_FAILURE)
                                }
                                EndReason::NotAcceptable(why) => {
                                    writeln!(out, "failed: 488 Not Acceptable Here ({why})")?;
                                    ExitCode::from(EXIT_FAILURE)
                                }
                                other => {
                                    writeln!(out, "ended: {other}")?;
                                    ExitCode::SUCCESS
                                }
                            };
                        }
                        _ => {}
                    },
                    Report::Error(e) => {
                        writeln!(err, "error: {e}")?;
                        break ExitCode::from(EXIT_FAILURE);
                    }
                    Report::Message { from, text } => writeln!(out, "message from {from}: {text}")?,
                    _ => {}
                }
                out.flush()?;
            }
            () = signals.recv() => {
                if hung_up { break ExitCode::from(EXIT_FAILURE); }
                hung_up = true;
                running.sender.send(Msg::Hangup);
                give_up_at = tokio::time::Instant::now() + HANGUP_GRACE;
            }
            () = tokio::time::sleep_until(hold_at) => {
                hold_at = far_future;
                writeln!(out, "holding")?;
                running.sender.send(Msg::Hold(true));
            }
            () = tokio::time::sleep_until(resume_at) => {
                resume_at = far_future;
                writeln!(out, "resuming")?;
                running.sender.send(Msg::Hold(false));
            }
            () = tokio::time::sleep_until(hangup_at) => {
                hangup_at = far_future;
                hung_up = true;
                running.sender.send(Msg::Hangup);
                give_up_at = tokio::time::Instant::now() + HANGUP_GRACE;
            }
            () = tokio::time::sleep_until(give_up_at) => {
                writeln!(out, "ended: no answer to the hangup")?;
                break ExitCode::SUCCESS;
            }
        }
    };
    out.flush()?;
    running.handle.shutdown().await;
    Ok(code)
}
