//! The CPU of the store writer's path, without the disk's wait: one commit
//! of binding upserts on a SQLite file in tmpfs (`/dev/shm` when there is
//! one: an fsync there costs next to nothing, so what is left is the work
//! the writer does per commit and per change).
//!
//! `cargo bench -p switchboard-store --bench writer_path`
//!
//! * `apply_lone`: `GroupStore::apply_submissions` of one submission of
//!   one upsert (every commit at a low rate), on the calling thread.
//! * `apply_batch_32`: the same with 32 submissions of one upsert each
//!   (one commit under load).
//! * `committer_lone`: one upsert through a `GroupCommitter`, waited for:
//!   the commit and the two thread hand-offs (the submission reaching the
//!   writer, its result coming back).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use switchboard_core::{Source, Transport};
use switchboard_server::registrar::{Aor, Binding, BindingChange, BindingKey};
use switchboard_store::{CommitterConfig, GroupCommitter, GroupStore, SqliteStore, Submission};

/// A REGISTER's binding as SIPp's clients send it over UDP.
fn upsert(id: u64, round: u64) -> BindingChange {
    let user = id % 2_000;
    let contact = format!("sip:user{user}@192.0.2.{}:{}", id % 250, 10_000 + id);
    BindingChange::Upsert(Binding {
        aor: Aor::new(&format!("user{user}"), "example.com").unwrap(),
        key: BindingKey::Contact(contact.clone()),
        params: String::new(),
        contact,
        q: None,
        expires_at: 1_700_003_600 + round,
        call_id: format!("bench-{id}@client"),
        cseq: u32::try_from(round % 1_000_000 + 1).unwrap(),
        instance: None,
        reg_id: None,
        path: Vec::new(),
        source: Source {
            transport: Transport::Udp,
            remote: format!("192.0.2.{}:{}", id % 250, 10_000 + id)
                .parse()
                .unwrap(),
            local: "203.0.113.1:5060".parse().unwrap(),
            flow: None,
        },
        user_agent: Some("bench/1.0".into()),
        registered_at: 1_700_000_000,
        updated_at: 1_700_000_000 + round,
    })
}

fn data_dir(name: &str) -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let parent = if shm.is_dir() {
        shm
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR"))
    };
    tempfile::Builder::new()
        .prefix(name)
        .tempdir_in(parent)
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("writer_path");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));

    let dir = data_dir("writer-path");
    let store = SqliteStore::open(dir.path()).unwrap();
    let mut round = 0_u64;

    group.throughput(Throughput::Elements(1));
    group.bench_function("apply_lone", |b| {
        b.iter_batched(
            || {
                round += 1;
                Submission::Bindings(vec![upsert(round % 4_000, round)])
            },
            |submission| {
                let results = store.apply_submissions(&[&submission]).unwrap();
                assert!(results.iter().all(Result::is_ok));
            },
            BatchSize::SmallInput,
        );
    });

    group.throughput(Throughput::Elements(32));
    group.bench_function("apply_batch_32", |b| {
        b.iter_batched(
            || {
                round += 1;
                (0..32)
                    .map(|i| Submission::Bindings(vec![upsert((round * 32 + i) % 4_000, round)]))
                    .collect::<Vec<_>>()
            },
            |submissions| {
                let groups: Vec<&Submission> = submissions.iter().collect();
                let results = store.apply_submissions(&groups).unwrap();
                assert!(results.iter().all(Result::is_ok));
            },
            BatchSize::SmallInput,
        );
    });

    group.throughput(Throughput::Elements(1));
    let committer = GroupCommitter::start(
        SqliteStore::open(dir.path()).unwrap(),
        CommitterConfig::default(),
    )
    .unwrap();
    group.bench_function("committer_lone", |b| {
        b.iter_batched(
            || {
                round += 1;
                vec![upsert(round % 4_000, round)]
            },
            |changes| committer.submit(changes).unwrap().wait().unwrap(),
            BatchSize::SmallInput,
        );
    });
    group.finish();
    committer.shutdown().unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
