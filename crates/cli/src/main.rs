//! The `switchboard` binary: everything is in the library's [`switchboard::run`].

use std::process::ExitCode;

/// jemalloc keeps small objects of one size together, apart from the
/// large buffers of a burst of transactions, and gives freed pages back by
/// itself: with glibc's malloc the bindings that stay after a burst pinned
/// most of the heap it touched (memory per 10,000 bindings, issue 15).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    match switchboard::run() {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
