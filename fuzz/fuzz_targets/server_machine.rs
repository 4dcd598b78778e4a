//! The whole server (`Endpoint` + `Service`, serving example.com on
//! 127.0.0.1:5060) driven by the fuzz input on a virtual clock, through the
//! server's test harness (`crates/server/tests/service_harness`): datagrams
//! from two phones, bytes on TCP flows that open and close, time jumps, and
//! the runtime's answers to the service's effects (held, failed, late).
//! Nothing may panic, and afterwards a valid OPTIONS from a new phone must
//! still be answered 200.
//!
//! Input: the bytes up to the first `00 ff` are one datagram (so a plain
//! SIP message is a valid input: the RFC 4475 seeds); then each `00 ff <op>`
//! starts a step whose payload runs to the next `00 ff`:
//!
//! | op % 8 | step |
//! | --- | --- |
//! | 0, 1 | the payload as a datagram from phone 0 or 1 |
//! | 2 | a phone opens a TCP flow (up to 4 open) and sends the payload |
//! | 3 | the payload after its first byte on the open flow that byte picks |
//! | 4 | the open flow payload[0] picks closes |
//! | 5 | the clock jumps by the payload's first 4 bytes (LE) in ms |
//! | 6 | payload[0] and [1] set how the store and the user lookups answer from now on (now, fail, hold); the held effects are answered, bit i of the rest failing the ith |
//! | 7 | the clock goes to the next deadline |
#![no_main]

#[path = "../../crates/server/tests/service_harness/mod.rs"]
mod service_harness;

use std::hash::{DefaultHasher, Hasher};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use service_harness::{Phone, Reply, Server};
use switchboard_core::Input;
use switchboard_proto::{Method, StatusCode};

const SEPARATOR: &[u8] = b"\x00\xff";
const MAX_FLOWS: usize = 4;

fn reply(b: Option<&u8>) -> Reply {
    match b.map_or(0, |b| b % 3) {
        0 => Reply::Now,
        1 => Reply::Fail,
        _ => Reply::Hold,
    }
}

/// The fuzz input's steps, played on the harness.
struct Run {
    h: Server,
    phones: [Phone; 2],
    flows: Vec<Phone>,
    connections: u16,
}

impl Run {
    fn step(&mut self, op: u8, payload: &[u8]) {
        let h = &mut self.h;
        let pick = |n: usize| usize::from(payload.first().copied().unwrap_or(0)) % n.max(1);
        match op % 8 {
            0 | 1 => h.send_bytes(&self.phones[usize::from(op % 2)], payload.to_vec()),
            2 if self.flows.len() < MAX_FLOWS => {
                self.connections = self.connections.wrapping_add(1);
                let at = format!("198.51.100.20:{}", 40000u16.wrapping_add(self.connections));
                let mut phone = Phone::new("bob", &at);
                h.connect_tcp(&mut phone);
                h.send_bytes(&phone, payload.to_vec());
                self.flows.push(phone);
            }
            3 if !self.flows.is_empty() => {
                let phone = &self.flows[pick(self.flows.len())];
                h.send_bytes(phone, payload.get(1..).unwrap_or_default().to_vec());
            }
            4 if !self.flows.is_empty() => {
                let phone = self.flows.remove(pick(self.flows.len()));
                if let Some(flow) = phone.flow {
                    h.input(Input::FlowClosed { flow });
                }
            }
            5 => {
                let mut ms = [0u8; 4];
                ms.iter_mut().zip(payload).for_each(|(d, s)| *d = *s);
                h.jump(Duration::from_millis(u64::from(u32::from_le_bytes(ms))));
            }
            6 => {
                h.store_reply = reply(payload.first());
                h.users_reply = reply(payload.get(1));
                let bits = payload.get(2..).unwrap_or_default();
                h.release_with(|i| bits.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0));
            }
            7 => h.step(),
            _ => {}
        }
    }
}

/// Splits at each `00 ff`: the first chunk, then (op, payload) pairs.
fn steps(data: &[u8]) -> (&[u8], Vec<(u8, &[u8])>) {
    let mut chunks: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while let Some(i) = rest.windows(2).position(|w| w == SEPARATOR) {
        chunks.push(&rest[..i]);
        rest = &rest[i + 2..];
    }
    chunks.push(rest);
    let first = chunks.remove(0);
    let ops = chunks
        .into_iter()
        .filter_map(|c| c.split_first().map(|(op, payload)| (*op, payload)))
        .collect();
    (first, ops)
}

fuzz_target!(|data: &[u8]| {
    let mut run = Run {
        h: Server::new(),
        phones: [
            Phone::new("alice", "198.51.100.10:5060"),
            Phone::behind_nat("bob", "203.0.113.9:40000", "192.168.1.5:5060"),
        ],
        flows: Vec::new(),
        connections: 0,
    };
    let (first, ops) = steps(data);
    if !first.is_empty() {
        run.step(0, first);
    }
    for (op, payload) in ops {
        run.step(op, payload);
    }
    // The runtime catches up; then the server must still serve.
    let h = &mut run.h;
    h.store_reply = Reply::Now;
    h.users_reply = Reply::Now;
    h.release();
    let mut checker = Phone::new("checker", "192.0.2.200:5060");
    // A Call-ID (and so a branch) the input cannot have guessed: a hash of
    // the input, so the check is never a retransmission of its requests.
    let mut hasher = DefaultHasher::new();
    hasher.write(data);
    checker.call_id = format!("check-{:016x}", hasher.finish());
    checker.user = format!("c{:016x}", hasher.finish());
    let options = checker
        .call(Method::Options, "sip:127.0.0.1:5060")
        .build()
        .expect("a valid OPTIONS");
    h.send(&checker, options);
    let answers = h.responses(&checker);
    assert!(
        answers.iter().any(|r| r.status() == StatusCode::OK),
        "OPTIONS not answered 200: {answers:?}"
    );
});
