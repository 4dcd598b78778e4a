//! End-to-end tests of the dial plan and SIP trunks (issue 12): the real
//! `switchboard serve` on loopback, SIPp playing a carrier's gateways, its
//! registrar, a local user's phone and a carrier delivering calls. Trunk
//! failover (503, silence, probes), registration and INVITE challenges
//! answered with the trunk's credentials, the trunk's state as the
//! operator sees it (`switchboard trunks`), caller ID and Call-ID on the
//! carrier's leg, a group required for calls abroad, a carrier's network
//! spared the per-source rate limit, reloads (SIGHUP, `route reload`)
//! under load and with a broken plan, and the `route test` / `route
//! check` commands (golden files in `tests/data/route/`).
//!
//! Every child is killed by PID when its test ends (a guard), every wait
//! is bounded, ports are random, data directories temporary; SIPp loads
//! are bounded (`-m`, `-r`).

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;
use switchboard_proto::digest::{self, Algorithm, DigestCredentials};

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A number abroad as dialled (international prefix 00) and as the plan
/// sends it to the carrier (E.164).
const ABROAD: &str = "0044201234567";
const ABROAD_E164: &str = "+44201234567";

/// The trunk's account at the carrier.
const ACCOUNT: &str = "acct1";
const ACCOUNT_PASSWORD: &str = "s3cret-trunk";
const CARRIER_REALM: &str = "carrier.example";

/// The `[routing]` defaults of every plan here: German numbering.
const ROUTING: &str = "[routing]\ncountry_code = \"49\"\narea_code = \"30\"\n";

/// The same with the rest of the plan in `routes.toml` beside the
/// configuration file.
const ROUTING_IN_FILE: &str =
    "[routing]\nplan = \"routes.toml\"\ncountry_code = \"49\"\narea_code = \"30\"\n";

/// A local user's password.
fn password(user: &str) -> String {
    format!("{user}-pw")
}

/// A temporary directory whose store knows alice (in the group `staff`)
/// and bob (not).
fn alice_and_bob() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (alice, bob) = (password("alice"), password("bob"));
    switchboard().add_users(&data, &[("alice", &alice), ("bob", &bob)]);
    (dir, data)
}

/// The plan's sections but `[routing]`: alice is staff; numbers abroad
/// (00...) need staff and go, as E.164, to the trunk `carrier` whose
/// gateways are the SIPps on `gateways` (tried in order), with more keys of
/// the trunk in `trunk_keys`.
fn trunk_plan(gateways: &[u16], trunk_keys: &str) -> String {
    let gateways = gateways
        .iter()
        .map(|port| format!("\"sip:127.0.0.1:{port}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"
[groups]
staff = ["alice"]

[[trunk]]
name = "carrier"
gateways = [{gateways}]
{trunk_keys}

[[route]]
name = "international"
to_prefix = ["00"]
require_group = "staff"
deny_reason = "International calls need the staff group"
normalize = "e164"
trunks = ["carrier"]
"#
    )
}

/// `serve` on `data` with the whole plan in its configuration file.
fn serve_with_plan(data: &Path, plan: &str) -> Server {
    plan_server(data, plan).start()
}

/// [`serve_with_plan`] before it starts (more arguments to come).
fn plan_server(data: &Path, plan: &str) -> Serve {
    let config = format!("{NO_RATE_LIMIT}{ROUTING}{plan}");
    switchboard().serve(data).config(&config)
}

/// An admin API token for the server on `data` (`switchboard token
/// create`).
fn admin_token(data: &Path) -> String {
    let o = switchboard().run(&["token", "create", "e2e", "--data", path_str(data)]);
    assert!(o.status.success(), "{}", outputs(&o));
    text(&o.stdout).trim().to_owned()
}

/// The trunks' state as `switchboard trunks` shows it through the admin
/// API on 127.0.0.1:`admin`.
fn trunks_shown(admin: u16, token: &str) -> String {
    let url = format!("http://127.0.0.1:{admin}");
    let o = switchboard().run(&["trunks", "--admin", &url, "--token", token]);
    assert!(o.status.success(), "{}", outputs(&o));
    text(&o.stdout)
}

/// Writes the plan file `routes.toml` beside the configuration file of
/// the servers on `data` (written whole, then renamed: a reload never reads
/// half a file).
fn write_plan(data: &Path, plan: &str) -> PathBuf {
    let dir = data.parent().unwrap();
    let path = dir.join("routes.toml");
    let partial = dir.join("routes.toml.partial");
    std::fs::write(&partial, plan).unwrap();
    std::fs::rename(&partial, &path).unwrap();
    path
}

/// A carrier gateway: SIPp playing `file` (tests/sipp/) on a free port of
/// 127.0.0.1 with `extra` arguments, listening. It runs until the test
/// drops it (at most 120 s); it answers probes, so its calls are no count
/// of INVITEs: its `<log>` lines are.
fn gateway(dir: &Path, name: &str, file: &str, extra: &[&str]) -> (SippProc, u16) {
    let port = free_port();
    let gateway = Sipp::new(name, dir)
        .args(&["-sf", path_str(&scenario(file))])
        .loopback_udp(port)
        .args(&["-bind_local", "-timeout", "120s"])
        .args(extra)
        .spawn();
    gateway.wait_listening(port, false, s(10));
    (gateway, port)
}

/// A trunk's two gateways: the first plays `first` (with `extra`
/// arguments), the second answers (gw_answer.xml).
fn two_gateways(dir: &Path, first: &str, extra: &[&str]) -> [(SippProc, u16); 2] {
    [
        gateway(dir, &format!("gw1 {first}"), first, extra),
        gateway(dir, "gw2 gw_answer.xml", "gw_answer.xml", &[]),
    ]
}

/// The Request-URI line a gateway on `port` logs for a call to `number`.
fn invite_at(port: u16, number: &str) -> String {
    format!("INVITE sip:{number}@127.0.0.1:{port}")
}

/// Asserts that the gateway `gw` on `port` got `n` INVITEs for the number
/// abroad (as E.164).
fn assert_invites(gw: &SippProc, port: u16, n: usize) {
    let invite = invite_at(port, ABROAD_E164);
    assert_eq!(
        gw.logged_count(&invite),
        n,
        "{invite} expected {n} times\n{}",
        gw.report()
    );
}

/// `user` (a local user, password [`password`]) calls `number` through
/// `server` with the SIPp `file` (uac_number.xml: answered; or
/// uac_number_refused.xml: 403): `calls` calls at `rate` per second, each
/// held `hold_ms`, answering the server's 407. Started, not waited for.
fn dial(
    dir: &Path,
    server: &Server,
    file: &str,
    user: &str,
    number: &str,
    (calls, rate, hold_ms): (u32, u32, u32),
) -> SippProc {
    Sipp::new(&format!("{user} dials"), dir)
        .args(&["-sf", path_str(&scenario(file))])
        .loopback_udp(free_port())
        .args(&["-s", number, "-key", "caller", user])
        .args(&["-au", user, "-ap", &password(user)])
        .args(&["-m", &calls.to_string(), "-r", &rate.to_string()])
        .args(&["-d", &hold_ms.to_string()])
        .args(&["-recv_timeout", "20000", "-timeout", "90", "-timeout_error"])
        .args(&[&server.addr().to_string()])
        .spawn()
}

/// One call of `user` to `number` through `server`, answered and hung up;
/// fails the test otherwise.
fn call_answered(dir: &Path, server: &Server, user: &str, number: &str) -> SippRun {
    let run = dial(dir, server, "uac_number.xml", user, number, (1, 1, 200)).wait(s(60));
    assert!(
        run.success() && run.successful() == 1,
        "{user}'s call to {number} failed:\n{}\n{}",
        run.report(),
        server.log_text()
    );
    run
}

/// The first gateway answers 503: the second gets the call, and the
/// caller never sees the 503.
#[test]
fn first_gateway_503_the_second_gets_the_call() {
    let (dir, data) = alice_and_bob();
    let [(gw1, port1), (gw2, port2)] = two_gateways(dir.path(), "gw_503.xml", &[]);
    let server = serve_with_plan(&data, &trunk_plan(&[port1, port2], ""));

    call_answered(dir.path(), &server, "alice", ABROAD);

    assert_invites(&gw1, port1, 1);
    assert_invites(&gw2, port2, 1);
    assert!(gw1.errors().is_empty(), "{}", gw1.report());
}

/// The first gateway takes the INVITE and says nothing: after the trunk's
/// `failover_after` (2 s) without a provisional answer, the second gets the
/// call, long before the first INVITE's Timer B (32 s).
#[test]
fn silent_first_gateway_the_second_after_failover_after() {
    let (dir, data) = alice_and_bob();
    // Silent for longer than the test: its call absorbs the retransmissions.
    let [(gw1, port1), (gw2, port2)] = two_gateways(dir.path(), "gw_silent.xml", &["-d", "100000"]);
    let plan = trunk_plan(&[port1, port2], "failover_after = 2");
    let server = serve_with_plan(&data, &plan);

    let started = Instant::now();
    call_answered(dir.path(), &server, "alice", ABROAD);
    let took = started.elapsed();

    assert_invites(&gw1, port1, 1);
    assert_invites(&gw2, port2, 1);
    assert!(
        took >= s(2) && took < s(20),
        "the call took {took:?}: failover after 2 s expected\n{}",
        server.log_text()
    );
}

/// Probes (OPTIONS every second) answered 503 mark the first gateway down:
/// the next calls go straight to the second, the first never sees an
/// INVITE.
#[test]
fn probes_mark_the_first_gateway_down_and_calls_skip_it() {
    let (dir, data) = alice_and_bob();
    let [(gw1, port1), (gw2, port2)] = two_gateways(dir.path(), "options_503.xml", &[]);
    let probes = "probe = true\nprobe_interval = 1\nprobe_up = 1\nprobe_down = 2";
    let admin = free_port();
    let server = plan_server(&data, &trunk_plan(&[port1, port2], probes))
        .args(&["--admin", &format!("127.0.0.1:{admin}")])
        .start();

    assert!(
        gw1.wait_logged("OPTIONS", 1, s(15)),
        "no probes came: {}\n{}",
        gw1.report(),
        server.log_text()
    );
    server.wait_log_count("gateway down", 0, s(15));
    // The operator sees it: the first down, the second up.
    let token = admin_token(&data);
    let shown = trunks_shown(admin, &token);
    let line_of = |port: u16| {
        shown
            .lines()
            .find(|l| {
                l.trim_start()
                    .starts_with(&format!("sip:127.0.0.1:{port} "))
            })
            .unwrap_or_else(|| panic!("no line of gateway {port}:\n{shown}"))
    };
    assert!(line_of(port1).contains(" down (probed"), "{shown}");
    assert!(line_of(port2).contains(" up (probed"), "{shown}");
    let run = dial(
        dir.path(),
        &server,
        "uac_number.xml",
        "alice",
        ABROAD,
        (3, 5, 200),
    )
    .wait(s(60));
    assert_eq!(
        (run.successful(), run.failed()),
        (3, 0),
        "{}\n{}",
        run.report(),
        gw2.report()
    );

    assert_invites(&gw2, port2, 3);
    assert!(
        !gw1.errors().contains("INVITE"),
        "a gateway marked down got an INVITE:\n{}",
        gw1.report()
    );
}

/// `register = true`: the server registers the trunk's account at the
/// provider's registrar (SIPp), answers its 401 with a digest the
/// registrar verifies, and refreshes before the 4 s the registrar grants.
#[test]
fn the_server_registers_to_the_provider_with_digest() {
    let (dir, data) = alice_and_bob();
    let registrar_port = free_port();
    let registrar = Sipp::new("registrar", dir.path())
        .args(&["-sf", path_str(&scenario("registrar.xml"))])
        .loopback_udp(registrar_port)
        .args(&["-bind_local", "-m", "1", "-timeout", "60s"])
        .args(&["-key", "realm", CARRIER_REALM, "-key", "user", ACCOUNT])
        .args(&["-key", "password", ACCOUNT_PASSWORD])
        .args(&["-key", "expires", "4", "-key", "refreshes", "1"])
        .spawn();
    registrar.wait_listening(registrar_port, false, s(10));
    let keys = format!(
        "username = \"{ACCOUNT}\"\npassword = \"{ACCOUNT_PASSWORD}\"\n\
         realm = \"{CARRIER_REALM}\"\nregister = true\nregister_expires = 600"
    );
    let admin = free_port();
    let server = plan_server(&data, &trunk_plan(&[registrar_port], &keys))
        .args(&["--admin", &format!("127.0.0.1:{admin}")])
        .start();

    // The operator sees the registration (before the registrar stops
    // answering refreshes).
    assert!(
        registrar.wait_logged("REGISTERED", 0, s(15)),
        "{}\n{}",
        registrar.report(),
        server.log_text()
    );
    let token = admin_token(&data);
    let mut shown = String::new();
    assert!(
        wait_for(s(5), || {
            shown = trunks_shown(admin, &token);
            shown.starts_with("carrier: registered, ")
        }),
        "{shown}"
    );

    // One registration and its refresh, in one Call-ID: the SIPp call ends.
    let run = registrar.wait(s(40));
    assert!(run.success(), "{}\n{}", run.report(), server.log_text());
    assert_eq!(
        run.logged,
        ["REGISTERED 1.000000", "REGISTERED 2.000000"],
        "{}",
        run.report()
    );
}

/// The carrier challenges every INVITE with 407: the server answers it
/// with the trunk's credentials (a digest the test verifies), the caller
/// never sees the challenge, and the call is answered, ACKed and hung up
/// through the carrier's CSeq.
#[test]
fn a_trunk_challenging_invite_with_407_gets_the_call() {
    let (dir, data) = alice_and_bob();
    let realm = ["-key", "realm", CARRIER_REALM];
    let (gw, port) = gateway(dir.path(), "gw 407", "gw_auth.xml", &realm);
    let keys = format!("username = \"{ACCOUNT}\"\npassword = \"{ACCOUNT_PASSWORD}\"");
    let server = serve_with_plan(&data, &trunk_plan(&[port], &keys));

    call_answered(dir.path(), &server, "alice", ABROAD);

    let logged = gw.logged();
    assert_eq!(
        logged.first(),
        Some(&invite_at(port, ABROAD_E164)),
        "{}",
        gw.report()
    );
    let credentials = logged
        .iter()
        .find_map(|l| l.strip_prefix("PROXY-AUTHORIZATION "))
        .unwrap_or_else(|| panic!("no Proxy-Authorization came\n{}", gw.report()));
    let credentials = DigestCredentials::parse(credentials).unwrap();
    assert!(credentials.matches_username(ACCOUNT), "{credentials:?}");
    let ha1 = digest::ha1(Algorithm::Md5, ACCOUNT, CARRIER_REALM, ACCOUNT_PASSWORD);
    assert_eq!(
        credentials.verify("INVITE", b"", &ha1),
        Ok(true),
        "a wrong digest: {credentials:?}"
    );
}

/// `require_group = "staff"`: bob (not staff) gets 403 with the rule's
/// reason for a number abroad and the carrier sees nothing; alice (staff)
/// gets through to the trunk.
#[test]
fn a_user_outside_staff_gets_403_and_a_staff_user_reaches_the_trunk() {
    let (dir, data) = alice_and_bob();
    let (gw, port) = gateway(dir.path(), "gw answers", "gw_answer.xml", &[]);
    let server = serve_with_plan(&data, &trunk_plan(&[port], ""));

    let refused = dial(
        dir.path(),
        &server,
        "uac_number_refused.xml",
        "bob",
        ABROAD,
        (1, 1, 0),
    )
    .wait(s(60));
    assert!(
        refused.success(),
        "{}\n{}",
        refused.report(),
        server.log_text()
    );
    assert_eq!(
        refused.logged,
        ["SIP/2.0 403 International calls need the staff group"],
        "{}",
        refused.report()
    );
    assert_eq!(gw.logged_count("INVITE"), 0, "{}", gw.report());

    call_answered(dir.path(), &server, "alice", ABROAD);
    assert_invites(&gw, port, 1);
}

/// A trunk's caller ID (`caller_id_mode = "replace"`) is the From user the
/// carrier sees, and the carrier's leg has a Call-ID of its own
/// (`fresh_call_id`, the default), while the caller keeps its own.
#[test]
fn a_trunk_call_presents_the_trunks_caller_id_under_a_fresh_call_id() {
    let (dir, data) = alice_and_bob();
    let (gw, port) = gateway(dir.path(), "gw answers", "gw_answer.xml", &[]);
    let keys = "caller_id = \"+493012345600\"\ncaller_id_mode = \"replace\"";
    let server = serve_with_plan(&data, &trunk_plan(&[port], keys));

    let run = call_answered(dir.path(), &server, "alice", ABROAD);

    assert_invites(&gw, port, 1);
    let logged = gw.logged();
    let seen = |prefix: &str| {
        logged
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix}line\n{}", gw.report()))
            .to_owned()
    };
    assert!(
        seen("FROM ").starts_with("sip:+493012345600@"),
        "{}",
        gw.report()
    );
    let caller_call_id = run
        .logged
        .iter()
        .find_map(|l| l.strip_prefix("CALL-ID "))
        .unwrap();
    assert_ne!(seen("CALL-ID "), caller_call_id, "{}", gw.report());
}

/// A carrier's calls from its trunk's network (127.0.0.2: trusted) are
/// not held to the per-source rate meant for phones (30 requests per
/// second, burst 100): 300 calls at 100 per second all go through to the
/// DID's PBX. A stranger sending the same from 127.0.0.3 is throttled, and
/// the server says so once, with the limit.
#[test]
fn a_carrier_is_not_rate_limited_and_a_flooding_stranger_is_logged_once() {
    const CALLS: u32 = 300;
    let (dir, data) = alice_and_bob();
    let (pbx, pbx_port) = gateway(dir.path(), "pbx answers", "gw_answer.xml", &[]);
    let plan = format!(
        r#"
[[trunk]]
name = "carrier"
gateways = ["sip:127.0.0.2:{}"]
inbound_networks = ["127.0.0.2/32"]
[trunk.dids]
"+493012345601" = "sip:+493012345601@127.0.0.1:{pbx_port}"
"#,
        free_port()
    );
    // The default protection: the per-source rate limit on.
    let server = switchboard()
        .serve(&data)
        .config(&format!("{ROUTING}{plan}"))
        .start();
    let carrier = |ip: &str, recv_timeout: &str| {
        Sipp::new(&format!("carrier from {ip}"), dir.path())
            .args(&["-sf", path_str(&scenario("uac_carrier.xml"))])
            .loopback_udp_from(ip, free_port())
            .args(&["-s", "+493012345601", "-key", "caller", "+4940111222"])
            .args(&["-m", &CALLS.to_string(), "-r", "100", "-d", "0"])
            .args(&["-recv_timeout", recv_timeout, "-timeout", "60"])
            .args(&[&server.addr().to_string()])
            .run(s(90))
    };

    let run = carrier("127.0.0.2", "10000");
    assert_eq!(
        (run.successful(), run.failed()),
        (CALLS, 0),
        "{}\n{}",
        run.report(),
        server.log_text()
    );
    assert!(
        pbx.wait_logged("INVITE", CALLS as usize - 1, s(5)),
        "{}",
        pbx.report()
    );

    let stranger = carrier("127.0.0.3", "3000");
    assert_eq!(stranger.successful(), 0, "{}", stranger.report());
    let throttled: Vec<String> = server
        .log_lines()
        .into_iter()
        .filter(|l| l.contains("throttled"))
        .collect();
    assert_eq!(
        throttled.len(),
        1,
        "throttling logged {} times, the first: {:#?}",
        throttled.len(),
        throttled.iter().take(3).collect::<Vec<_>>()
    );
    assert!(
        throttled[0].contains("127.0.0.3") && throttled[0].contains("rate=30"),
        "{throttled:#?}"
    );
}

/// How many plans the server put in force so far, at its start and on
/// reloads (each logged with its version).
fn plan_loads(server: &Server) -> usize {
    server.log_count("dial plan in force")
}

/// Waits at most 15 s until the server logged more than `before` plan
/// loads.
fn wait_plan_loads(server: &Server, before: usize) {
    assert!(
        wait_for(s(15), || plan_loads(server) > before),
        "no new plan load logged ({before} before)\n{}",
        server.log_text()
    );
}

/// Three SIGHUP reloads during 200 calls (20 per second for 10 s, each
/// held half a second) to the trunk: every call succeeds, and each reload
/// is logged.
#[test]
fn sighup_reloads_during_call_load_lose_no_call() {
    const CALLS: u32 = 200;
    let (dir, data) = alice_and_bob();
    let (gw, port) = gateway(dir.path(), "gw answers", "gw_answer.xml", &[]);
    let plan = trunk_plan(&[port], "");
    write_plan(&data, &plan);
    let config = format!("{NO_RATE_LIMIT}{ROUTING_IN_FILE}");
    let server = switchboard().serve(&data).config(&config).start();
    let loads = plan_loads(&server);
    assert!(
        loads >= 1,
        "no plan in force logged at start\n{}",
        server.log_text()
    );

    let load = dial(
        dir.path(),
        &server,
        "uac_number.xml",
        "alice",
        ABROAD,
        (CALLS, 20, 500),
    );
    for (n, after) in [40, 100, 160].into_iter().enumerate() {
        assert!(
            gw.wait_logged("INVITE", after, s(30)),
            "{}\n{}",
            gw.report(),
            server.log_text()
        );
        // A new version (the text changed), the same routing.
        write_plan(&data, &format!("# reload {n}\n{plan}"));
        let before = plan_loads(&server);
        server.reload();
        wait_plan_loads(&server, before);
    }
    let run = load.wait(s(90));
    assert_eq!(
        (run.successful(), run.failed()),
        (CALLS, 0),
        "{}\n{}",
        run.report(),
        server.log_text()
    );
    assert_eq!(plan_loads(&server), loads + 3, "{}", server.log_text());
    assert_invites(&gw, port, CALLS as usize);
}

/// A broken plan written and signalled (SIGHUP) is refused with its file
/// and line, and the old plan keeps routing; `route reload` refuses it
/// too without signalling; a good plan then goes live with `route
/// reload` (the server found by the PID file in its data directory).
#[test]
fn a_broken_plan_is_refused_and_the_old_one_keeps_routing() {
    let (dir, data) = alice_and_bob();
    let [(gw1, port1), (gw2, port2)] = two_gateways(dir.path(), "gw_answer.xml", &[]);
    write_plan(&data, &trunk_plan(&[port1], ""));
    // `data` in the file too: `route reload --config` finds the server's
    // PID file there.
    let config = format!(
        "data = \"{}\"\n{NO_RATE_LIMIT}{ROUTING_IN_FILE}",
        path_str(&data)
    );
    let server = switchboard().serve(&data).config(&config).start();
    let config_file = path_str(&server.config).to_owned();

    // A route naming a trunk that does not exist.
    let broken = trunk_plan(&[port1], "").replace(
        "trunks = [\"carrier\"]",
        "trunks = [\"carrier\", \"nosuch\"]",
    );
    write_plan(&data, &broken);
    let errors = server.log_count("routes.toml:");
    server.reload();
    server.wait_log_count("routes.toml:", errors, s(15));
    let refusal = server
        .log_lines()
        .into_iter()
        .rfind(|l| l.contains("routes.toml:"))
        .unwrap();
    assert!(
        refusal.contains("route \"international\"") && refusal.contains("nosuch"),
        "{refusal}"
    );
    call_answered(dir.path(), &server, "alice", ABROAD);
    assert_invites(&gw1, port1, 1);

    let loads = plan_loads(&server);
    let o = switchboard().run(&["route", "reload", "--config", &config_file]);
    assert_eq!(o.status.code(), Some(2), "{}", outputs(&o));
    assert!(text(&o.stderr).contains("routes.toml:"), "{}", outputs(&o));

    write_plan(&data, &trunk_plan(&[port2], ""));
    let o = switchboard().run(&["route", "reload", "--config", &config_file]);
    assert!(o.status.success(), "{}", outputs(&o));
    wait_plan_loads(&server, loads);
    call_answered(dir.path(), &server, "alice", ABROAD);
    assert_invites(&gw2, port2, 1);
    assert_eq!(gw1.logged_count("INVITE"), 1, "{}", gw1.report());
}

// --- route test and route check ---------------------------------------------

/// The configuration of the dry runs, written in `dir`: the domain
/// 127.0.0.1 (served by default too, so the file read as a plan alone
/// decides alike), a store with alice and bob, and the plan of
/// tests/data/route/plan.toml (sites, emergency, night hours, least cost
/// abroad for staff, national and local numbers, a ring group, DIDs, a
/// route for TLS callers, `[[test]]` cases) in the same file.
fn dry_run_config(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let (alice, bob) = (password("alice"), password("bob"));
    switchboard().add_users(&data, &[("alice", &alice), ("bob", &bob)]);
    let plan = std::fs::read_to_string(route_data("plan.toml")).unwrap();
    let config = dir.join("switchboard.toml");
    let keys = format!(
        "domains = [\"127.0.0.1\"]\ndata = \"{}\"\n",
        path_str(&data)
    );
    std::fs::write(&config, keys + &plan).unwrap();
    config
}

/// A file of tests/data/route/.
fn route_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/route")
        .join(name)
}

/// A command's exit status, stdout and stderr, for a failure message.
fn outputs(o: &Output) -> String {
    format!(
        "status {}\n--- stdout:\n{}\n--- stderr:\n{}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    )
}

/// `text` with the plan's version (`plan 3f2a...`: a fingerprint of the
/// files' text, no part of a decision) as `plan VERSION`.
fn without_version(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("plan ") {
            Some(version) if version.chars().all(|c| c.is_ascii_hexdigit()) => "plan VERSION",
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `route test` prints the decision trace of each case exactly as in its
/// golden file (tests/data/route/NAME.txt; `SB_BLESS=1` writes them from
/// this run, to be reviewed by eye) and exits 0 when the call is routed,
/// 1 when it is refused.
#[test]
fn route_test_prints_the_golden_traces() {
    // (golden file, arguments after --config, exit status)
    let cases: &[(&str, &[&str], i32)] = &[
        (
            "international_staff",
            &["--from", "sip:alice@127.0.0.1", "--to", ABROAD],
            0,
        ),
        (
            "international_refused",
            &["--from", "sip:bob@127.0.0.1", "--to", ABROAD],
            1,
        ),
        (
            "night",
            &[
                "--from",
                "sip:alice@127.0.0.1",
                "--to",
                ABROAD,
                "--at",
                "2026-12-07T23:30:00",
            ],
            1,
        ),
        (
            "national",
            &["--from", "sip:bob@127.0.0.1", "--to", "040123456"],
            0,
        ),
        (
            "local_number",
            &["--from", "sip:bob@127.0.0.1", "--to", "123456"],
            0,
        ),
        (
            "emergency_from_site",
            &[
                "--from",
                "sip:bob@127.0.0.1",
                "--to",
                "112",
                "--source",
                "10.1.2.3",
            ],
            0,
        ),
        (
            "ring_group",
            &["--from", "sip:bob@127.0.0.1", "--to", "200"],
            0,
        ),
        (
            "did_from_trunk",
            &[
                "--from",
                "sip:+4940111222@192.0.2.5",
                "--to",
                "+493012345601",
                "--source",
                "192.0.2.5",
                "--trunk",
                "carrier1",
            ],
            0,
        ),
        (
            "tls_only",
            &[
                "--from",
                "sip:bob@127.0.0.1",
                "--to",
                "300",
                "--transport",
                "tls",
            ],
            0,
        ),
        (
            "udp_not_tls",
            &["--from", "sip:bob@127.0.0.1", "--to", "300"],
            0,
        ),
        (
            "no_route",
            &["--from", "sip:bob@127.0.0.1", "--to", "carol"],
            0,
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let config = dry_run_config(dir.path());
    let bless = std::env::var_os("SB_BLESS").is_some();
    let mut mismatches = Vec::new();
    for (name, args, status) in cases {
        let mut argv = vec!["route", "test", "--config", path_str(&config)];
        argv.extend_from_slice(args);
        if !args.contains(&"--at") {
            // A Monday, 10:00 in Berlin: office hours.
            argv.extend(["--at", "2026-12-07T10:00:00"]);
        }
        let o = switchboard().run(&argv);
        assert_eq!(
            o.status.code(),
            Some(*status),
            "route test {name}: {}",
            outputs(&o)
        );
        let printed = without_version(&text(&o.stdout).replace(path_str(dir.path()), "$DIR"));
        let golden = route_data(&format!("{name}.txt"));
        if bless {
            std::fs::write(&golden, &printed).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
            panic!(
                "no {} (SB_BLESS=1 writes it); route test printed:\n{printed}",
                golden.display()
            )
        });
        if printed != expected {
            mismatches.push(format!(
                "--- {name}: expected\n{expected}--- printed\n{printed}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// `route test` exits 2 when the configuration or the plan does not load,
/// naming the file and line.
#[test]
fn route_test_exits_2_on_a_plan_that_does_not_load() {
    let dir = tempfile::tempdir().unwrap();
    let config = dry_run_config(dir.path());
    // Two actions in one route.
    let bad = "\n[[route]]\nname = \"bad\"\nto_prefix = [\"9\"]\nreject = 486\nuser = \"alice\"\n";
    let whole = std::fs::read_to_string(&config).unwrap() + bad;
    std::fs::write(&config, whole).unwrap();
    let o = switchboard().run(&[
        "route",
        "test",
        "--config",
        path_str(&config),
        "--from",
        "sip:alice@127.0.0.1",
        "--to",
        "0049301234",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", outputs(&o));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("switchboard.toml:") && stderr.contains("route \"bad\""),
        "{}",
        outputs(&o)
    );
}

/// Whether `line` is `route check`'s `ok` line of `case` (`ok`, spaces,
/// the name: the spaces align names under `FAIL`).
fn is_ok_line(line: &str, case: &str) -> bool {
    line.strip_prefix("ok ")
        .is_some_and(|name| name.trim_start() == case)
}

/// `route check` runs the plan's `[[test]]` cases: one `ok  name` line
/// each and exit 0 when all pass (by `--config` or by the file holding
/// the plan); a wrong expectation prints `FAIL name: ...` and exits 1.
#[test]
fn route_check_runs_the_plans_cases() {
    let dir = tempfile::tempdir().unwrap();
    let config = dry_run_config(dir.path());
    let cases = [
        "staff may call abroad",
        "bob may not call abroad",
        "night",
        "did to alice",
    ];

    for args in [
        vec!["route", "check", "--config", path_str(&config)],
        vec!["route", "check", path_str(&config)],
    ] {
        let o = switchboard().run(&args);
        assert!(o.status.success(), "{args:?}: {}", outputs(&o));
        let stdout = text(&o.stdout);
        for case in cases {
            assert!(
                stdout.lines().any(|l| is_ok_line(l, case)),
                "{args:?}: no ok line for {case:?}\n{}",
                outputs(&o)
            );
        }
    }

    let wrong = std::fs::read_to_string(&config)
        .unwrap()
        .replace("expect_status = 403", "expect_status = 404");
    std::fs::write(&config, wrong).unwrap();
    let o = switchboard().run(&["route", "check", "--config", path_str(&config)]);
    assert_eq!(o.status.code(), Some(1), "{}", outputs(&o));
    let stdout = text(&o.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("FAIL bob may not call abroad:")),
        "{}",
        outputs(&o)
    );
    assert!(
        stdout
            .lines()
            .any(|l| is_ok_line(l, "staff may call abroad")),
        "{}",
        outputs(&o)
    );
}
