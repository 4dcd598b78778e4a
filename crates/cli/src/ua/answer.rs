//! `switchboard answer`: registers (with `--password`), answers incoming
//! calls after a little ringing, plays and records their audio, until
//! SIGINT/SIGTERM (or the first call's end with `--once`); then
//! unregisters.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use switchboard_ua::{CallEvent, RegistrationEvent};

use super::AnswerArgs;
use super::app::{AnswerMode, Msg, Report};
use super::call::describe;
use super::media::{ActiveMedia, MediaOptions, RtpSockets, load_play};
use super::presence::{PresencePublisher, describe_publication};
use super::setup::{
    Launched, Stopping, error_exit, far_future, media_policy, registration_failed, run_launched,
};
use crate::{EXIT_FAILURE, Error};

pub(crate) fn answer(
    args: AnswerArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    let play = match load_play(args.media.play.as_deref()) {
        Ok(p) => p,
        Err(e) => return error_exit(err, &e),
    };
    run_launched(
        &args.ua,
        &args.identity,
        Some(&args.identity),
        err,
        async |launched, err| run(&args, launched, play, out, err).await,
    )
}

async fn run(
    args: &AnswerArgs,
    Launched {
        setup,
        mut running,
        config,
    }: Launched,
    play: Option<Vec<i16>>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    writeln!(out, "listening on {} ({})", running.bound, config.contact)?;
    out.flush()?;
    let register = args.ua.password.is_some() && !args.no_register;
    running.configure(
        config,
        Some(AnswerMode {
            policy: media_policy(args.media.srtp),
            delay: Duration::from_millis(args.answer_after),
            local_ip: setup.local_ip,
        }),
    );
    if register {
        running.sender.send(Msg::Register { expires: 3600 });
    }
    let mut publisher = PresencePublisher::new(&args.presence);
    let mut pending: HashMap<String, RtpSockets> = HashMap::new();
    let mut active: Option<ActiveMedia> = None;
    let far_future = far_future();
    let mut hangup_at = far_future;
    let mut stopping = Stopping::new(None)?;
    let mut code = ExitCode::SUCCESS;
    loop {
        tokio::select! {
            report = running.reports.recv() => {
                let Some(report) = report else { break };
                match report {
                    Report::Registration(RegistrationEvent::Registered { expires }) => {
                        writeln!(out, "registered (expires {expires} s)")?;
                        publisher.registered(&running.sender);
                    }
                    Report::Registration(RegistrationEvent::Failed { status, reason, retry_in }) => {
                        writeln!(out, "{}", registration_failed(status, &reason, retry_in))?;
                    }
                    Report::Registration(RegistrationEvent::Unregistered) => {
                        if stopping.requested {
                            writeln!(out, "unregistered")?;
                            break;
                        }
                    }
                    Report::Incoming { call_id, from, sockets } => {
                        writeln!(out, "incoming call from {from}")?;
                        pending.insert(call_id, sockets);
                    }
                    Report::Call { call_id, event } => match event {
                        CallEvent::Ringing => writeln!(out, "ringing")?,
                        CallEvent::Answered(n) => {
                            writeln!(out, "answered: {}", describe(&n))?;
                            if let Some(s) = pending.remove(&call_id) {
                                let options = MediaOptions { play: play.clone(), dtmf: None, capture: args.media.capture.is_some() };
                                active = Some(ActiveMedia::start(s, n, options));
                            }
                            if let Some(secs) = args.duration {
                                hangup_at = tokio::time::Instant::now() + Duration::from_secs_f64(secs.max(0.0));
                            }
                        }
                        CallEvent::MediaUpdated(n) => {
                            writeln!(out, "media: {}", describe(&n))?;
                            if let Some(a) = &active { a.update(n); }
                        }
                        CallEvent::Ended(reason) => {
                            pending.remove(&call_id);
                            hangup_at = far_future;
                            if let Some(a) = active.take() {
                                if let Some(s) = a.finish(args.media.record.as_deref(), args.media.capture.as_deref()).await {
                                    writeln!(out, "media: sent {} packets, received {}, rejected {}", s.sent, s.received, s.rejected)?;
                                }
                            }
                            writeln!(out, "ended: {reason}")?;
                            if args.once {
                                stopping.request(&running.sender);
                            }
                        }
                        _ => {}
                    },
                    Report::Message { from, text } => writeln!(out, "message from {from}: {text}")?,
                    Report::Error(e) => {
                        writeln!(err, "error: {e}")?;
                        code = ExitCode::from(EXIT_FAILURE);
                        break;
                    }
                    Report::Publication(event) => writeln!(out, "{}", describe_publication(&event))?,
                    Report::Registration(_) | Report::Delivered(_) | Report::Subscription(_) => {}
                }
                out.flush()?;
            }
            () = tokio::time::sleep_until(hangup_at) => {
                hangup_at = far_future;
                running.sender.send(Msg::Hangup);
            }
            stop = stopping.until_stop(&running.sender) => if stop { break },
        }
    }
    if let Some(a) = active.take() {
        a.finish(args.media.record.as_deref(), args.media.capture.as_deref())
            .await;
    }
    out.flush()?;
    running.handle.shutdown().await;
    Ok(code)
}
