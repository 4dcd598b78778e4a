//! The user directory at 10k, 100k and 1M users (issue 15, growth): the
//! authentication's lookup of a user held and of one not held, a delta
//! of one changed user applied, and the build from every user (what start
//! costs, off the driver). A lookup must not grow with the number of users.
// Benchmarks: a directory that does not build is a broken benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use switchboard_server::service::{UserChange, UserDelta, UserDirectory};
use switchboard_server::storage::{Ha1Set, User};

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
const DOMAIN: &str = "example.com";

/// `count` users named `u0000000`… in one domain (the HA1 values are the
/// same for all: hashing a million passwords would only slow the set-up).
fn users(count: usize) -> Vec<User> {
    let ha1 = Ha1Set::from_password("u", DOMAIN, "pw");
    (0..count)
        .map(|i| User {
            name: name(i),
            domain: DOMAIN.to_owned(),
            ha1: ha1.clone(),
            created_unix: 1_700_000_000,
            groups: Vec::new(),
        })
        .collect()
}

fn name(i: usize) -> String {
    format!("u{i:07}")
}

fn lookups(c: &mut Criterion) {
    let mut group = c.benchmark_group("directory");
    group.measurement_time(Duration::from_secs(2));
    group.warm_up_time(Duration::from_millis(500));
    for size in SIZES {
        let mut directory = UserDirectory::from_users(1, users(size));
        // Names spread over the whole directory, looked up in turn.
        let names: Vec<String> = (0..1024).map(|i| name(i * 7919 % size)).collect();
        let mut at = 0;
        group.bench_with_input(BenchmarkId::new("lookup_hit", size), &size, |b, _| {
            b.iter(|| {
                at = (at + 1) % names.len();
                black_box(directory.ha1(black_box(&names[at]), DOMAIN)).is_some()
            });
        });
        group.bench_with_input(BenchmarkId::new("lookup_miss", size), &size, |b, _| {
            b.iter(|| black_box(directory.ha1(black_box("nobody"), DOMAIN)).is_none());
        });
        let mut version = 1;
        let changed = User::with_password(&name(size / 2), DOMAIN, "new", 1_700_000_000);
        group.bench_with_input(BenchmarkId::new("apply_one_change", size), &size, |b, _| {
            b.iter(|| {
                version += 1;
                let delta = UserDelta {
                    since: version - 1,
                    version,
                    changes: vec![UserChange::Stored(changed.clone())],
                };
                directory.apply(delta)
            });
        });
    }
    group.finish();
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("directory_build");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.warm_up_time(Duration::from_millis(100));
    for size in SIZES {
        group.bench_with_input(BenchmarkId::new("from_users", size), &size, |b, &n| {
            b.iter_batched(
                || users(n),
                |users| UserDirectory::from_users(1, users).len(),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, lookups, build);
criterion_main!(benches);
