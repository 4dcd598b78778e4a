//! Durable binding writes per second on this machine's disk: group commit
//! against one transaction per binding, both with `synchronous=FULL` (every
//! acknowledged write is on disk), from 8 submitting threads.
//!
//! `cargo bench -p switchboard-store --bench commit`
//!
//! * `group_commit_waiting`: 8 threads, each submits one upsert and waits
//!   for its ticket before the next (a blocking registrar worker): at most 8
//!   per commit.
//! * `group_commit_pipelined`: 8 threads submit with `submit_with` and do
//!   not wait in between (the async server with many REGISTERs in flight):
//!   the writer takes everything queued into one commit.
//! * `txn_per_binding`: 8 threads share one `SqliteStore` and call
//!   `apply` per upsert: one transaction and one fsync each.
//!
//! The database lives in the target directory (the machine's disk, not
//! tmpfs). Throughput is reported in bindings per second.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use switchboard_core::{FlowId, Source, Transport};
use switchboard_server::registrar::{Aor, Binding, BindingChange, BindingKey};
use switchboard_store::{BindingStore, CommitterConfig, GroupCommitter, SqliteStore};

const THREADS: u64 = 8;
/// Upserts per iteration with group commit.
const GROUP_N: u64 = 10_000;
/// Upserts per iteration with a transaction each (an fsync each: fewer, or
/// one iteration takes minutes).
const SINGLE_N: u64 = 1_000;

fn upsert(id: u64, round: u64) -> BindingChange {
    let user = id % 2_000;
    let contact = format!(
        "sip:user{user}@192.0.2.{}:{};transport=tcp",
        id % 250,
        10_000 + id
    );
    let instance = format!("urn:uuid:{id:036}");
    BindingChange::Upsert(Binding {
        aor: Aor::new(&format!("user{user}"), "example.com").unwrap(),
        key: BindingKey::Flow {
            instance: instance.clone(),
            reg_id: 1,
        },
        params: format!(";+sip.instance=\"<{instance}>\";reg-id=1"),
        contact,
        q: None,
        expires_at: 1_700_003_600 + round,
        call_id: format!("bench-{id}@client"),
        cseq: u32::try_from(round + 1).unwrap(),
        instance: Some(instance),
        reg_id: Some(1),
        path: Vec::new(),
        source: Source {
            transport: Transport::Tcp,
            remote: format!("192.0.2.{}:{}", id % 250, 10_000 + id)
                .parse()
                .unwrap(),
            local: "203.0.113.1:5060".parse().unwrap(),
            flow: Some(FlowId(id)),
        },
        user_agent: Some("bench/1.0".into()),
        registered_at: 1_700_000_000,
        updated_at: 1_700_000_000 + round,
    })
}

/// Runs `per_thread(thread, round)` on `THREADS` threads started together
/// and returns the wall time.
fn run_threads<F>(round: u64, per_thread: F) -> Duration
where
    F: Fn(u64, u64) + Send + Sync + Clone + 'static,
{
    let barrier = Arc::new(Barrier::new(THREADS as usize + 1));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let barrier = Arc::clone(&barrier);
            let per_thread = per_thread.clone();
            thread::spawn(move || {
                barrier.wait();
                per_thread(t, round);
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    for handle in handles {
        handle.join().unwrap();
    }
    started.elapsed()
}

fn data_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(name)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn report(name: &str, committer: &GroupCommitter) {
    let stats = committer.stats();
    eprintln!(
        "{name}: {} commits for {} submissions: {:.1} per commit on average, {} at most",
        stats.commits,
        stats.groups,
        stats.groups as f64 / stats.commits.max(1) as f64,
        stats.max_groups_in_commit
    );
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("durable_upserts_8_threads");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(15));

    group.throughput(Throughput::Elements(GROUP_N));
    {
        let dir = data_dir("group-waiting");
        let committer = Arc::new(
            GroupCommitter::start(
                SqliteStore::open(dir.path()).unwrap(),
                CommitterConfig::default(),
            )
            .unwrap(),
        );
        let mut round = 0;
        group.bench_function("group_commit_waiting", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    let committer = Arc::clone(&committer);
                    total += run_threads(round, move |t, round| {
                        for id in (t..GROUP_N).step_by(THREADS as usize) {
                            committer
                                .submit(vec![upsert(id, round)])
                                .unwrap()
                                .wait()
                                .unwrap();
                        }
                    });
                }
                total
            });
        });
        report("group_commit_waiting", &committer);
    }
    {
        let dir = data_dir("group-pipelined");
        let committer = Arc::new(
            GroupCommitter::start(
                SqliteStore::open(dir.path()).unwrap(),
                CommitterConfig::default(),
            )
            .unwrap(),
        );
        let mut round = 0;
        group.bench_function("group_commit_pipelined", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    let committer = Arc::clone(&committer);
                    total += run_threads(round, move |t, round| {
                        let (tx, rx) = mpsc::channel();
                        let mut in_flight = 0;
                        for id in (t..GROUP_N).step_by(THREADS as usize) {
                            let tx = tx.clone();
                            committer
                                .submit_with(vec![upsert(id, round)], move |r| tx.send(r).unwrap())
                                .unwrap();
                            in_flight += 1;
                        }
                        for _ in 0..in_flight {
                            rx.recv().unwrap().unwrap();
                        }
                    });
                }
                total
            });
        });
        report("group_commit_pipelined", &committer);
    }

    group.throughput(Throughput::Elements(SINGLE_N));
    {
        let dir = data_dir("per-binding");
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let mut round = 0;
        group.bench_function("txn_per_binding", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    let store = Arc::clone(&store);
                    total += run_threads(round, move |t, round| {
                        for id in (t..SINGLE_N).step_by(THREADS as usize) {
                            store.apply(&[upsert(id, round)]).unwrap();
                        }
                    });
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
