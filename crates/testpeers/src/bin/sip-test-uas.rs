//! A test UAS: answers every INVITE with 180 and 200 (with SDP), retransmits
//! the 2xx until the ACK (RFC 3261 §13.3.1.4), answers BYE and other
//! requests with 200, CANCELled INVITEs with 487.
//!
//! `sip-test-uas --listen udp:127.0.0.1:5090 [--listen tcp:...] [--seconds N]
//!  [--tls-cert CERT.pem --tls-key KEY.pem]` (TLS and WSS listeners need them)

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_net::{Config, Handle, Incoming};
use switchboard_proto::{HeaderName, Method, Request, ResponseBuilder, StatusCode};
use switchboard_testpeers::{arg, args_all, init_logging, next_interval, parse_listen};

const SDP: &str = "v=0\r\no=uas 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn main() -> ExitCode {
    init_logging();
    let args: Vec<String> = std::env::args().collect();
    let listen: Result<Vec<_>, _> = args_all(&args, "--listen")
        .into_iter()
        .map(parse_listen)
        .collect();
    let listen = match listen {
        Ok(l) if !l.is_empty() => l,
        Ok(_) => {
            eprintln!(
                "usage: sip-test-uas --listen udp:IP:PORT [--listen tcp:IP:PORT] [--seconds N]"
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let seconds: u64 = arg(&args, "--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
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
    let tls_server = match (arg(&args, "--tls-cert"), arg(&args, "--tls-key")) {
        (Some(cert), Some(key)) => match switchboard_net::TlsServer::from_pem_files(cert, key) {
            Ok(tls) => Some(tls),
            Err(e) => {
                eprintln!("error: TLS: {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    rt.block_on(async move {
        let config = Config {
            listen,
            tls_server,
            ..Config::default()
        };
        let (handle, mut incoming) = match switchboard_net::start(config).await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        for (t, a) in handle.local_addrs() {
            println!("listening {t} {a}");
        }
        let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
        let deadline = tokio::time::sleep(Duration::from_secs(seconds));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                event = incoming.recv() => match event {
                    Some(event) => handle_event(&handle, &acked, event).await,
                    None => break,
                },
            }
        }
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
}

async fn handle_event(handle: &Handle, acked: &Arc<Mutex<HashSet<String>>>, event: Incoming) {
    match event {
        Incoming::Request { tx, request, .. } => {
            let tag = handle.new_tag().await.unwrap_or_default();
            match request.method() {
                Method::Invite => answer_invite(handle, acked, tx, request, tag).await,
                _ => {
                    if let Ok(ok) = ResponseBuilder::from_request(&request, StatusCode::OK)
                        .to_tag(&tag)
                        .build()
                    {
                        let _ = handle.respond(tx, ok).await;
                    }
                }
            }
        }
        Incoming::Ack { request, .. } => {
            if let (Some(call), Ok(mut set)) = (request.headers().call_id(), acked.lock()) {
                set.insert(call.to_owned());
            }
        }
        Incoming::Cancelled {
            invite,
            invite_request,
            ..
        } => {
            let tag = handle.new_tag().await.unwrap_or_default();
            if let Ok(resp) =
                ResponseBuilder::from_request(&invite_request, StatusCode::REQUEST_TERMINATED)
                    .to_tag(&tag)
                    .build()
            {
                let _ = handle.respond(invite, resp).await;
            }
        }
        _ => {}
    }
}

async fn answer_invite(
    handle: &Handle,
    acked: &Arc<Mutex<HashSet<String>>>,
    tx: switchboard_core::TransactionId,
    request: Request,
    tag: String,
) {
    let contact = handle
        .local_addrs()
        .first()
        .map(|(_, a)| format!("<sip:uas@{a}>"))
        .unwrap_or_else(|| "<sip:uas@127.0.0.1>".to_owned());
    if let Ok(ringing) = ResponseBuilder::from_request(&request, StatusCode::RINGING)
        .to_tag(&tag)
        .header(HeaderName::Contact, contact.clone())
        .build()
    {
        let _ = handle.respond(tx, ringing).await;
    }
    let Ok(ok) = ResponseBuilder::from_request(&request, StatusCode::OK)
        .to_tag(&tag)
        .header(HeaderName::Contact, contact)
        .body("application/sdp", SDP.as_bytes().to_vec())
        .build()
    else {
        return;
    };
    if handle.respond(tx, ok.clone()).await.is_err() {
        return;
    }
    // The TU retransmits its 2xx until the ACK comes, T1 doubling to T2,
    // for 64*T1 (§13.3.1.4).
    let call = request.headers().call_id().unwrap_or_default().to_owned();
    let handle = handle.clone();
    let acked = acked.clone();
    tokio::spawn(async move {
        let mut interval = Duration::from_millis(500);
        let mut waited = Duration::ZERO;
        while waited < Duration::from_secs(32) {
            tokio::time::sleep(interval).await;
            waited += interval;
            if acked.lock().map(|mut s| s.remove(&call)).unwrap_or(true) {
                return;
            }
            if handle.respond(tx, ok.clone()).await.is_err() {
                return;
            }
            interval = next_interval(interval);
        }
    });
}
