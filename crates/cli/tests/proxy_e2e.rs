//! End-to-end tests of `switchboard serve` as an authenticating proxy: the
//! real binary on loopback with SIPp and scripted UDP peers. Calls between
//! registered users, forking with CANCEL of the losing branch, 407
//! challenges, no open relay, 404/480, redirect mode.
//!
//! Every child is killed by PID when its test ends (a guard), every wait
//! is bounded, ports are random, data directories temporary.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;

/// The configuration of the tests: every client is 127.0.0.1 (no rate
/// limit). The digest `uri` check is on: SIPp's (the server's ip:port)
/// names this server.
const CONFIG: &str = "[protection]\nrate_limit = false\n";

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// SIPp's uac_call.xml through the proxy to uas_call.xml, the callees
/// registered with register.xml (as the benchmark does): every call is
/// challenged with 407, relayed with Record-Route, ACKed and hung up.
#[test]
fn sipp_calls_through_the_proxy() {
    const USERS: usize = 20;
    const CALLS: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &pairs(&bench_users(USERS)));
    let server = switchboard().serve(&data).config(CONFIG).start();
    let target = format!("127.0.0.1:{}", server.port);

    // The callee: one SIPp UAS that every user's contact points at. Its
    // own -timeout bounds it; the guard kills it by PID.
    let uas_port = free_port();
    let uas = Sipp::new("uas", dir.path())
        .args(&["-sf", scenario("uas_call.xml").to_str().unwrap()])
        .loopback_udp(uas_port)
        .args(&["-bind_local", "-timeout", "100s"])
        .spawn();
    uas.wait_listening(uas_port, false, s(10));

    // Register the callees (contact: the UAS).
    let run = sipp_register(dir.path(), &bench_users(USERS), uas_port, &target);
    assert_eq!(
        run.successful() as usize,
        USERS,
        "registration failed:\n{}",
        run.report()
    );

    // The calls: random pairs of users, each challenged.
    let calls_csv = dir.path().join("calls.csv");
    let mut f = std::fs::File::create(&calls_csv).unwrap();
    writeln!(f, "SEQUENTIAL").unwrap();
    for i in 0..USERS {
        let (a, b) = (i, (i * 7 + 3) % USERS);
        let b = if a == b { (b + 1) % USERS } else { b };
        writeln!(
            f,
            "user{a:04};pw-user{a:04};user{b:04};[authentication username=user{a:04} password=pw-user{a:04}]"
        )
        .unwrap();
    }
    drop(f);
    let run = Sipp::new("uac", dir.path())
        .args(&["-sf", scenario("uac_call.xml").to_str().unwrap()])
        .loopback_udp(free_port())
        .args(&["-inf", calls_csv.to_str().unwrap(), "-d", "200"])
        .args(&["-m", &CALLS.to_string(), "-r", "75"])
        .args(&["-recv_timeout", "10000", "-timeout", "80", "-timeout_error"])
        .args(&[&target])
        .run(s(90));
    let (ok, failed) = (run.successful(), run.failed());
    println!("SIPp calls through the proxy: {ok} successful, {failed} failed");
    assert_eq!((ok as usize, failed), (CALLS, 0), "{}", run.report());
    assert!(run.success(), "{}", run.report());
    drop(uas);
    drop(server);
}

/// A temporary directory whose data directory knows alice and bob.
fn alice_and_bob() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "alice-pw"), ("bob", "bob-pw")]);
    (dir, data)
}

/// One caller, one callee with two devices: both ring, the first to answer
/// wins, the other gets a CANCEL (and answers 487, which the proxy ACKs).
/// Then ACK and BYE reach the device that answered along the Route set.
#[test]
fn call_forks_to_two_devices_first_answer_wins() {
    let (_dir, data) = alice_and_bob();
    let server = switchboard().serve(&data).config(CONFIG).start();
    let mut desk = UdpPeer::new(server.addr());
    let mut mobile = UdpPeer::new(server.addr());
    desk.register("bob", "bob-pw");
    mobile.register("bob", "bob-pw");
    let mut alice = UdpPeer::new(server.addr());

    let uri = "sip:bob@127.0.0.1";
    let invite = invite_with_credentials(&mut alice, uri, "fork-1", ("alice", "alice-pw"));
    // Both devices ring.
    let is_invite = |m: &str| m.starts_with("INVITE ");
    let (at_desk, _) = desk.recv_until(s(5), is_invite);
    let (at_mobile, _) = mobile.recv_until(s(5), is_invite);
    let at_desk = at_desk.expect("the desk phone rings");
    let at_mobile = at_mobile.expect("the mobile rings");
    assert!(
        header(&at_desk, "Record-Route").is_some(),
        "no Record-Route: {at_desk}"
    );
    desk.send(&response_to(&at_desk, 180, "Ringing", "desk", ""));
    mobile.send(&response_to(&at_mobile, 180, "Ringing", "mobile", ""));
    // The mobile answers first.
    let contact = format!("Contact: <sip:bob@{}>\r\n", mobile.local());
    let ok = response_to(&at_mobile, 200, "OK", "mobile", &contact);
    mobile.send(&ok);

    // The desk phone is cancelled.
    let (cancel, _) = desk.recv_until(s(5), |m| m.starts_with("CANCEL "));
    let cancel = cancel.expect("the desk phone gets a CANCEL");
    desk.send(&response_to(&cancel, 200, "OK", "desk", ""));
    desk.send(&response_to(
        &at_desk,
        487,
        "Request Terminated",
        "desk",
        "",
    ));
    let (ack, _) = desk.recv_until(s(5), |m| m.starts_with("ACK "));
    assert!(ack.is_some(), "the proxy ACKs the desk phone's 487");

    // Alice gets the mobile's 200 (no 487).
    let (answer, seen) = alice.recv_until(s(5), |m| status_code(m) >= 200);
    let answer = answer.expect("alice gets the 200");
    assert_eq!(status_code(&answer), 200, "{answer}\nbefore: {seen:?}");
    assert!(answer.contains(";tag=mobile"), "{answer}");
    let routes: Vec<String> = header_lines(&answer, "Record-Route")
        .iter()
        .map(|l| l.split_once(':').unwrap().1.trim().to_owned())
        .collect();
    assert!(!routes.is_empty(), "{answer}");

    // ACK and BYE along the route set reach the mobile.
    let remote = format!("sip:bob@{}", mobile.local());
    let in_dialog = |peer: &mut UdpPeer, method: &str, cseq: u32| {
        in_dialog_request(peer, method, cseq, &remote, &invite, &answer)
    };
    let ack = in_dialog(&mut alice, "ACK", 2);
    alice.send(&ack);
    let (got, _) = mobile.recv_until(s(5), |m| m.starts_with("ACK "));
    assert!(got.is_some(), "the ACK reaches the mobile");
    let bye = in_dialog(&mut alice, "BYE", 3);
    alice.send(&bye);
    let (got, _) = mobile.recv_until(s(5), |m| m.starts_with("BYE "));
    let got = got.expect("the BYE reaches the mobile");
    mobile.send(&response_to(&got, 200, "OK", "mobile", ""));
    let (bye_ok, _) = alice.recv_until(s(5), |m| status_code(m) >= 200);
    assert_eq!(status_code(&bye_ok.expect("a BYE answer")), 200);
    // Nothing more for the desk phone.
    let (late, _) = desk.recv_until(Duration::from_millis(500), |m| !m.starts_with("SIP/"));
    assert!(
        late.is_none_or(|m| m.starts_with("ACK ") || m.starts_with("CANCEL ")),
        "the desk phone got more"
    );
    drop(server);
}

/// INVITE `uri` from alice as `call_id`: 407, ACK, INVITE with
/// credentials of `(user, password)`. The second INVITE, sent.
fn invite_with_credentials(
    alice: &mut UdpPeer,
    uri: &str,
    call_id: &str,
    (user, password): (&str, &str),
) -> String {
    let from = "sip:alice@127.0.0.1";
    let invite = alice.request("INVITE", uri, from, uri, call_id, 1, "");
    let challenge = alice.transact(&invite).expect("an answer to INVITE");
    assert_eq!(status_code(&challenge), 407, "{challenge}");
    assert!(header(&challenge, "Proxy-Authenticate").is_some());
    let to = header(&challenge, "To").unwrap();
    let via = header(&invite, "Via").unwrap();
    alice.send(&format!(
        "ACK {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {to}\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        header(&invite, "From").unwrap()
    ));
    let auth = credentials(&challenge, "INVITE", uri, user, password);
    let invite = alice.request(
        "INVITE",
        uri,
        from,
        uri,
        call_id,
        2,
        &format!("Proxy-Authorization: {auth}\r\n"),
    );
    alice.send(&invite);
    invite
}

/// An in-dialog request of the caller (`invite` sent, `answer` its 2xx) to
/// `remote`, along the route set (the 2xx's Record-Route).
fn in_dialog_request(
    peer: &mut UdpPeer,
    method: &str,
    cseq: u32,
    remote: &str,
    invite: &str,
    answer: &str,
) -> String {
    let route_lines: String = header_lines(answer, "Record-Route")
        .iter()
        .map(|l| format!("Route: {}\r\n", l.split_once(':').unwrap().1.trim()))
        .collect();
    let branch = peer.branch();
    format!(
        "{method} {remote} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={branch};rport\r\n\
         {route_lines}Max-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\n\
         CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
        peer.local(),
        header(invite, "From").unwrap(),
        header(answer, "To").unwrap(),
        header(invite, "Call-ID").unwrap(),
    )
}

/// A browser registers over WebSocket with a `*.invalid` contact (no DNS
/// knows it, and it accepts no connection): a call from a UDP phone goes
/// down the browser's WebSocket, and so do the ACK and the BYE; the
/// Record-Route has two entries (UDP in, WS out).
#[test]
fn call_reaches_a_browser_down_its_websocket() {
    let (_dir, data) = alice_and_bob();
    let ws_port = free_port();
    let server = switchboard()
        .serve(&data)
        .config(CONFIG)
        .listen(&format!("ws:127.0.0.1:{ws_port}"))
        .start();
    let mut browser = WsPeer::connect(ws_port, "r4nd0m7h0st.invalid");
    let contact = browser.register("bob", "bob-pw");
    let mut alice = UdpPeer::new(server.addr());
    let invite = invite_with_credentials(
        &mut alice,
        "sip:bob@127.0.0.1",
        "ws-1",
        ("alice", "alice-pw"),
    );
    let at_browser = browser
        .recv_until(s(5), |m| m.starts_with("INVITE "))
        .expect("the browser gets the INVITE on its WebSocket");
    assert!(
        at_browser.starts_with(&format!("INVITE {contact} ")),
        "{at_browser}"
    );
    assert_eq!(
        header_lines(&at_browser, "Record-Route").len(),
        2,
        "{at_browser}"
    );
    let contact_line = format!("Contact: <{contact}>\r\n");
    browser.send(&response_to(&at_browser, 200, "OK", "brw", &contact_line));
    let (answer, _) = alice.recv_until(s(5), |m| status_code(m) >= 200);
    let answer = answer.expect("alice gets the 200");
    assert_eq!(status_code(&answer), 200, "{answer}");
    let ack = in_dialog_request(&mut alice, "ACK", 2, &contact, &invite, &answer);
    alice.send(&ack);
    assert!(
        browser
            .recv_until(s(5), |m| m.starts_with("ACK "))
            .is_some(),
        "the ACK goes down the WebSocket"
    );
    let bye = in_dialog_request(&mut alice, "BYE", 3, &contact, &invite, &answer);
    alice.send(&bye);
    let got = browser
        .recv_until(s(5), |m| m.starts_with("BYE "))
        .expect("the BYE goes down the WebSocket");
    browser.send(&response_to(&got, 200, "OK", "brw", ""));
    let (bye_ok, _) = alice.recv_until(s(5), |m| status_code(m) >= 200);
    assert_eq!(status_code(&bye_ok.expect("a BYE answer")), 200);
    drop(server);
}

/// No open relay: a request for another domain (here a UDP socket on
/// another port of 127.0.0.1, which is not this server) from someone who
/// is not a local user gets 403; from a local user without credentials
/// 407; either way nothing reaches the target. Unknown local users get
/// 404, users without a binding 480, a user authenticating for someone
/// else's From 403.
#[test]
fn no_open_relay_and_lookup_answers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "alice-pw"), ("carol", "carol-pw")]);
    let server = switchboard().serve(&data).config(CONFIG).start();
    let victim = UdpPeer::new(server.addr());
    let foreign = format!("sip:victim@{}", victim.local());
    let mut caller = UdpPeer::new(server.addr());

    let invite = caller.request(
        "INVITE",
        &foreign,
        "sip:spammer@evil.example",
        &foreign,
        "relay-1",
        1,
        "",
    );
    let r = caller.transact(&invite).expect("an answer");
    assert_eq!(status_code(&r), 403, "{r}");
    let message = caller.request(
        "MESSAGE",
        &foreign,
        "sip:spammer@evil.example",
        &foreign,
        "relay-2",
        1,
        "",
    );
    let r = caller.transact(&message).expect("an answer");
    assert_eq!(status_code(&r), 403, "{r}");
    // An in-dialog-looking request (a To tag) is no way around it.
    let tagged = caller
        .request(
            "INVITE",
            &foreign,
            "sip:spammer@evil.example",
            &foreign,
            "relay-3",
            1,
            "",
        )
        .replace(
            &format!("To: <{foreign}>"),
            &format!("To: <{foreign}>;tag=x"),
        );
    let r = caller.transact(&tagged).expect("an answer");
    assert_eq!(status_code(&r), 403, "{r}");
    // Nor is a Route to this server with it: no dialog of ours.
    let routed = tagged.replace(
        "Max-Forwards: 70\r\n",
        &format!(
            "Route: <sip:127.0.0.1:{};lr>\r\nMax-Forwards: 70\r\n",
            server.port
        ),
    );
    let r = caller.transact(&routed).expect("an answer");
    assert_eq!(status_code(&r), 403, "{r}");
    // Pretending to be a local user: challenged.
    let invite = caller.request(
        "INVITE",
        &foreign,
        "sip:alice@127.0.0.1",
        &foreign,
        "relay-4",
        1,
        "",
    );
    let r = caller.transact(&invite).expect("an answer");
    assert_eq!(status_code(&r), 407, "{r}");
    assert!(
        victim.recv(Duration::from_millis(500)).is_none(),
        "a request was relayed to the foreign target"
    );

    // Lookups.
    let mut alice = UdpPeer::new(server.addr());
    let call = |peer: &mut UdpPeer, to: &str, call_id: &str, as_user: (&str, &str)| {
        let from = "sip:alice@127.0.0.1";
        let first = peer.request("INVITE", to, from, to, call_id, 1, "");
        let challenge = peer.transact(&first).expect("an answer");
        assert_eq!(status_code(&challenge), 407, "{challenge}");
        let auth = credentials(&challenge, "INVITE", to, as_user.0, as_user.1);
        let second = peer.request(
            "INVITE",
            to,
            from,
            to,
            call_id,
            2,
            &format!("Proxy-Authorization: {auth}\r\n"),
        );
        status_code(&peer.transact(&second).expect("an answer"))
    };
    assert_eq!(
        call(
            &mut alice,
            "sip:nobody@127.0.0.1",
            "look-1",
            ("alice", "alice-pw")
        ),
        404
    );
    assert_eq!(
        call(
            &mut alice,
            "sip:carol@127.0.0.1",
            "look-2",
            ("alice", "alice-pw")
        ),
        480
    );
    // carol's credentials on alice's From.
    assert_eq!(
        call(
            &mut alice,
            "sip:carol@127.0.0.1",
            "look-3",
            ("carol", "carol-pw")
        ),
        403
    );
    // A wrong password is challenged again.
    assert_eq!(
        call(
            &mut alice,
            "sip:carol@127.0.0.1",
            "look-4",
            ("alice", "wrong")
        ),
        407
    );
    // A foreign caller reaches a local user without a challenge (480:
    // carol is not registered).
    let mut outsider = UdpPeer::new(server.addr());
    let to = "sip:carol@127.0.0.1";
    let invite = outsider.request("INVITE", to, "sip:dave@other.example", to, "look-5", 1, "");
    let r = outsider.transact(&invite).expect("an answer");
    assert_eq!(status_code(&r), 480, "{r}");
    // OPTIONS to the server itself.
    let options = outsider.request(
        "OPTIONS",
        &format!("sip:127.0.0.1:{}", server.port),
        "sip:dave@other.example",
        "sip:127.0.0.1",
        "opt-1",
        1,
        "",
    );
    let r = outsider.transact(&options).expect("an answer");
    assert_eq!(status_code(&r), 200, "{r}");
    assert!(header(&r, "Allow").is_some_and(|a| a.contains("INVITE")));
    drop(server);
}

/// A phone behind NAT registers its private address as contact: the call
/// goes to the address and port its REGISTER came from, and so do the
/// ACK and the BYE of the call.
#[test]
fn call_reaches_a_phone_behind_nat_at_its_source_address() {
    let (_dir, data) = alice_and_bob();
    let server = switchboard().serve(&data).config(CONFIG).start();
    let mut phone = UdpPeer::new(server.addr());
    let private = "sip:bob@192.168.77.7:5060";
    phone.register_contact("bob", "bob-pw", Some(private));
    let listed = switchboard().registrations(&data).join("\n");
    assert!(listed.contains(private), "{listed}");
    let mut alice = UdpPeer::new(server.addr());
    let invite = invite_with_credentials(
        &mut alice,
        "sip:bob@127.0.0.1",
        "nat-1",
        ("alice", "alice-pw"),
    );
    let (got, _) = phone.recv_until(s(5), |m| m.starts_with("INVITE "));
    let got = got.expect("the INVITE reaches the phone at its source address");
    assert!(got.starts_with(&format!("INVITE {private} ")), "{got}");
    let contact = format!("Contact: <{private}>\r\n");
    phone.send(&response_to(&got, 200, "OK", "nat", &contact));
    let (answer, _) = alice.recv_until(s(5), |m| status_code(m) >= 200);
    let answer = answer.expect("alice gets the 200");
    assert_eq!(status_code(&answer), 200, "{answer}");
    let ack = in_dialog_request(&mut alice, "ACK", 2, private, &invite, &answer);
    alice.send(&ack);
    assert!(
        phone
            .recv_until(s(5), |m| m.starts_with("ACK "))
            .0
            .is_some(),
        "the ACK reaches the phone"
    );
    let bye = in_dialog_request(&mut alice, "BYE", 3, private, &invite, &answer);
    alice.send(&bye);
    let (got, _) = phone.recv_until(s(5), |m| m.starts_with("BYE "));
    let got = got.expect("the BYE reaches the phone");
    phone.send(&response_to(&got, 200, "OK", "nat", ""));
    let (bye_ok, _) = alice.recv_until(s(5), |m| status_code(m) >= 200);
    assert_eq!(status_code(&bye_ok.expect("a BYE answer")), 200);
    drop(server);
}

/// A local user's request for another domain whose host is a name: the
/// server resolves it (RFC 3263, here through the hosts file) and forwards
/// it there; the answer comes back.
#[test]
fn requests_for_other_domains_are_resolved_and_forwarded() {
    let (_dir, data) = alice_and_bob();
    let server = switchboard().serve(&data).config(CONFIG).start();
    let mut far = UdpPeer::new(server.addr());
    let mut alice = UdpPeer::new(server.addr());
    let uri = format!("sip:carol@localhost:{}", far.local().port());
    invite_with_credentials(&mut alice, &uri, "dns-1", ("alice", "alice-pw"));
    let (got, _) = far.recv_until(s(5), |m| m.starts_with("INVITE "));
    let got = got.expect("the INVITE reaches the resolved address");
    assert!(got.starts_with(&format!("INVITE {uri} ")), "{got}");
    far.server = server.addr();
    far.send(&response_to(&got, 603, "Decline", "far", ""));
    let (answer, _) = alice.recv_until(s(5), |m| status_code(m) >= 200);
    assert_eq!(status_code(&answer.expect("an answer")), 603);
    drop(server);
}

/// The contact `UdpPeer::register` registers.
fn bob_contact(bob: &UdpPeer) -> String {
    format!("sip:bob@{}", bob.local())
}

/// The caller cancels a ringing call: the callee gets the CANCEL, answers
/// 487, and the caller gets the 487. Then a MESSAGE (challenged like the
/// INVITE) reaches the callee and its 200 comes back.
#[test]
fn cancel_and_message_between_registered_users() {
    let (_dir, data) = alice_and_bob();
    let server = switchboard().serve(&data).config(CONFIG).start();
    let mut bob = UdpPeer::new(server.addr());
    bob.register("bob", "bob-pw");
    let mut alice = UdpPeer::new(server.addr());
    let uri = "sip:bob@127.0.0.1";
    let invite = invite_with_credentials(&mut alice, uri, "cancel-1", ("alice", "alice-pw"));
    let (ringing, _) = bob.recv_until(s(5), |m| m.starts_with("INVITE "));
    let ringing = ringing.expect("bob's phone rings");
    bob.send(&response_to(&ringing, 180, "Ringing", "bob", ""));
    let (got, _) = alice.recv_until(s(5), |m| status_code(m) == 180);
    assert!(got.is_some(), "alice hears the ringing");
    // CANCEL: the INVITE's Request-URI, Via (branch), From, To, Call-ID.
    let cancel = format!(
        "CANCEL {uri} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\n\
         Call-ID: cancel-1\r\nCSeq: 2 CANCEL\r\nContent-Length: 0\r\n\r\n",
        header(&invite, "Via").unwrap(),
        header(&invite, "From").unwrap(),
        header(&invite, "To").unwrap(),
    );
    alice.send(&cancel);
    let (cancelled, _) = bob.recv_until(s(5), |m| m.starts_with("CANCEL "));
    let cancelled = cancelled.expect("bob gets the CANCEL");
    bob.send(&response_to(&cancelled, 200, "OK", "bob", ""));
    bob.send(&response_to(&ringing, 487, "Request Terminated", "bob", ""));
    let (ack, _) = bob.recv_until(s(5), |m| m.starts_with("ACK "));
    assert!(ack.is_some(), "the proxy ACKs bob's 487");
    let (finals, _) = alice.recv_until(s(5), |m| status_code(m) == 487 && method(m) == "INVITE");
    assert!(finals.is_some(), "alice gets the 487");

    // MESSAGE: 407, then with credentials, relayed to bob.
    let from = "sip:alice@127.0.0.1";
    let message = alice.request("MESSAGE", uri, from, uri, "msg-1", 1, "");
    let challenge = alice.transact(&message).expect("an answer to MESSAGE");
    assert_eq!(status_code(&challenge), 407, "{challenge}");
    let auth = credentials(&challenge, "MESSAGE", uri, "alice", "alice-pw");
    let message = alice.request(
        "MESSAGE",
        uri,
        from,
        uri,
        "msg-1",
        2,
        &format!("Proxy-Authorization: {auth}\r\n"),
    );
    alice.send(&message);
    let (got, _) = bob.recv_until(s(5), |m| m.starts_with("MESSAGE "));
    let got = got.expect("bob gets the MESSAGE");
    assert!(
        got.starts_with(&format!("MESSAGE {} ", bob_contact(&bob))),
        "{got}"
    );
    bob.send(&response_to(&got, 200, "OK", "bob", ""));
    let (ok, _) = alice.recv_until(s(5), |m| status_code(m) >= 200);
    assert_eq!(status_code(&ok.expect("an answer")), 200);
    drop(server);
}

/// `[proxy] outbound_proxy`: a local user's request for another domain
/// goes through it, with its Route; its answer comes back.
#[test]
fn outbound_proxy_carries_requests_for_other_domains() {
    let (_dir, data) = alice_and_bob();
    let mut outbound = UdpPeer::new("127.0.0.1:9".parse().unwrap());
    let config = format!(
        "{CONFIG}[proxy]\noutbound_proxy = \"sip:{}\"\n",
        outbound.local()
    );
    let server = switchboard().serve(&data).config(&config).start();
    assert!(
        server
            .log_text()
            .contains("other domains reached through sip:127.0.0.1:"),
        "{}",
        server.log_text()
    );
    let mut alice = UdpPeer::new(server.addr());
    let uri = "sip:carol@example.org";
    invite_with_credentials(&mut alice, uri, "ob-1", ("alice", "alice-pw"));
    let (got, _) = outbound.recv_until(s(5), |m| m.starts_with("INVITE "));
    let got = got.expect("the INVITE reaches the outbound proxy");
    assert!(got.starts_with(&format!("INVITE {uri} ")), "{got}");
    assert_eq!(
        header(&got, "Route"),
        Some(format!("<sip:{};lr>", outbound.local())),
        "{got}"
    );
    outbound.server = server.addr();
    outbound.send(&response_to(&got, 486, "Busy Here", "ob", ""));
    let (answer, _) = alice.recv_until(s(5), |m| status_code(m) >= 200);
    assert_eq!(status_code(&answer.expect("an answer")), 486);
    drop(server);
}

/// Redirect mode: an INVITE for a registered user gets 302 with the
/// contact.
#[test]
fn redirect_mode_answers_302_with_the_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("bob", "bob-pw")]);
    let config = format!("{CONFIG}[proxy]\nmode = \"redirect\"\n");
    let server = switchboard().serve(&data).config(&config).start();
    assert!(
        server.log_text().contains("redirected"),
        "{}",
        server.log_text()
    );
    let mut phone = UdpPeer::new(server.addr());
    phone.register("bob", "bob-pw");
    let mut outsider = UdpPeer::new(server.addr());
    let to = "sip:bob@127.0.0.1";
    let invite = outsider.request("INVITE", to, "sip:dave@other.example", to, "redir-1", 1, "");
    let r = outsider.transact(&invite).expect("an answer");
    assert_eq!(status_code(&r), 302, "{r}");
    let contact = header(&r, "Contact").unwrap();
    assert!(contact.contains(&phone.local().to_string()), "{contact}");
    drop(server);
}

/// Invalid `[proxy]` values exit 2 naming the key.
#[test]
fn invalid_proxy_configuration_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, key) in [
        ("[proxy]\nmode = \"stateless\"\n", "proxy.mode"),
        ("[proxy]\ntimer_c = 0\n", "proxy.timer_c"),
        ("[proxy]\ngroup_timeout = 0\n", "proxy.group_timeout"),
        ("[proxy]\nrecord_route = \"yes\"\n", "proxy.record_route"),
        ("[proxy]\nforking = true\n", "proxy"),
        (
            "[proxy]\noutbound_proxy = \"tel:+123\"\n",
            "proxy.outbound_proxy",
        ),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, toml).unwrap();
        let port = free_port();
        let out = switchboard().run(&[
            "serve",
            "--listen",
            &format!("udp:127.0.0.1:{port}"),
            "--data",
            dir.path().join("data").to_str().unwrap(),
            "--config",
            path.to_str().unwrap(),
        ]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {err}");
        assert!(err.contains(key), "{toml}: {err}");
    }
}
