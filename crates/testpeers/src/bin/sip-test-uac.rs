//! A test UAC: places calls (INVITE, ACK for the 2xx, BYE) to a target at a
//! given rate and reports how many completed.
//!
//! `sip-test-uac --target udp:127.0.0.1:5091 [--listen udp:127.0.0.1:0]
//!  [--calls 1000] [--rate 100] [--concurrency 200]`
//!
//! Ends with the line `N passed, M failed`; exits 1 when a call failed.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use switchboard_core::{Destination, Transport};
use switchboard_net::{Config, Handle, Incoming, Outcome};
use switchboard_proto::{HeaderName, Message, Method, RequestBuilder, Response};
use switchboard_testpeers::{arg, init_logging, parse_listen};
use tokio::sync::Semaphore;

const SDP: &str = "v=0\r\no=uac 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn main() -> ExitCode {
    init_logging();
    let args: Vec<String> = std::env::args().collect();
    let Some(target) = arg(&args, "--target").map(parse_listen) else {
        eprintln!(
            "usage: sip-test-uac --target udp:IP:PORT [--listen udp:IP:PORT] [--calls N] [--rate R] [--concurrency C]"
        );
        return ExitCode::from(2);
    };
    let target = match target {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let default_listen = format!(
        "{}:127.0.0.1:0",
        target.transport.as_via_token().to_lowercase()
    );
    let listen = match parse_listen(arg(&args, "--listen").unwrap_or(&default_listen)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let number = |name: &str, default: u64| {
        arg(&args, name)
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let (calls, rate, concurrency) = (
        number("--calls", 1000),
        number("--rate", 100).max(1),
        number("--concurrency", 200).max(1),
    );
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let config = Config {
            listen: vec![listen],
            ..Config::default()
        };
        let (handle, mut incoming) = match switchboard_net::start(config).await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        // Requests to the UAC (none expected) get 200; stray 2xx are ignored.
        let responder = handle.clone();
        tokio::spawn(async move {
            while let Some(event) = incoming.recv().await {
                if let Incoming::Request { tx, request, .. } = event {
                    let tag = responder.new_tag().await.unwrap_or_default();
                    if let Ok(ok) = switchboard_proto::ResponseBuilder::from_request(
                        &request,
                        switchboard_proto::StatusCode::OK,
                    )
                    .to_tag(&tag)
                    .build()
                    {
                        let _ = responder.respond(tx, ok).await;
                    }
                }
            }
        });
        let passed = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let permits = Arc::new(Semaphore::new(concurrency as usize));
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
        let mut tasks = Vec::new();
        for n in 0..calls {
            tick.tick().await;
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let (handle, passed, failed) = (handle.clone(), passed.clone(), failed.clone());
            tasks.push(tokio::spawn(async move {
                let result = tokio::time::timeout(
                    Duration::from_secs(40),
                    call(&handle, target.transport, target.addr, n),
                )
                .await;
                match result {
                    Ok(Ok(())) => passed.fetch_add(1, Ordering::Relaxed),
                    Ok(Err(e)) => {
                        eprintln!("call {n}: {e}");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(_) => {
                        eprintln!("call {n}: timed out");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
                drop(permit);
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        handle.shutdown().await;
        let (p, f) = (
            passed.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed),
        );
        println!("{p} passed, {f} failed");
        if f == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    })
}

/// One call: INVITE, the 2xx, ACK, BYE, its 200.
async fn call(
    handle: &Handle,
    transport: Transport,
    target: SocketAddr,
    n: u64,
) -> Result<(), String> {
    let local = handle.local_addr(transport).ok_or("no local address")?;
    let from_tag = handle.new_tag().await.map_err(|e| e.to_string())?;
    let call_id = format!(
        "{}-{n}",
        handle.new_call_id().await.map_err(|e| e.to_string())?
    );
    let ruri = format!("sip:service@{target}");
    let to = format!("<sip:service@{target}>");
    let from = format!("<sip:uac@{local}>");
    let invite = RequestBuilder::new(Method::Invite, ruri.clone())
        .from(&from, &from_tag)
        .to(&to, None)
        .call_id(&call_id)
        .cseq(1)
        .contact(&format!("<sip:uac@{local}>"))
        .body("application/sdp", SDP.as_bytes().to_vec())
        .build()
        .map_err(|e| e.to_string())?;
    let destination = Destination::Address {
        transport,
        remote: target,
    };
    let mut tx = handle
        .send_request(invite, destination)
        .await
        .map_err(|e| e.to_string())?;
    let ok = match tx.final_outcome().await {
        Some(Outcome::Final { response, .. }) if response.status().is_success() => response,
        Some(Outcome::Final { response, .. }) => {
            return Err(format!("INVITE got {}", response.status()));
        }
        other => return Err(format!("INVITE: {other:?}")),
    };
    let to_with_tag = ok
        .headers()
        .get(HeaderName::To)
        .ok_or("2xx without To")?
        .to_owned();
    let target_uri = contact_uri(&ok).unwrap_or(ruri);
    // The ACK for a 2xx is a new transaction-less request (§13.2.2.4).
    let branch = handle.new_branch().await.map_err(|e| e.to_string())?;
    let ack = RequestBuilder::new(Method::Ack, target_uri.clone())
        .via(transport.as_via_token(), &local.to_string(), &branch)
        .from(&from, &from_tag)
        .to(&to_with_tag, None)
        .call_id(&call_id)
        .cseq(1)
        .build()
        .map_err(|e| e.to_string())?;
    handle
        .send_stateless(Message::Request(ack), destination)
        .await
        .map_err(|e| e.to_string())?;
    let bye = RequestBuilder::new(Method::Bye, target_uri)
        .from(&from, &from_tag)
        .to(&to_with_tag, None)
        .call_id(&call_id)
        .cseq(2)
        .build()
        .map_err(|e| e.to_string())?;
    let mut tx = handle
        .send_request(bye, destination)
        .await
        .map_err(|e| e.to_string())?;
    match tx.final_outcome().await {
        Some(Outcome::Final { response, .. }) if response.status().is_success() => Ok(()),
        other => Err(format!(
            "BYE: {:?}",
            other
                .as_ref()
                .and_then(Outcome::response)
                .map(Response::status)
        )),
    }
}

fn contact_uri(resp: &Response) -> Option<String> {
    let contact = resp
        .headers()
        .typed::<switchboard_proto::header::Contact<'_>>()?
        .ok()?;
    contact.address().map(|a| a.uri.as_str().to_owned())
}
