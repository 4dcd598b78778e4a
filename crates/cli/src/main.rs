//! The `switchboard` binary: everything is in the library's [`switchboard::run`].

use std::process::ExitCode;

/// jemalloc keeps small objects of one size together, apart from the
/// large buffers of a burst of transactions, and gives freed pages back by
/// itself: with glibc's malloc the bindings that stay after a burst pinned
/// most of the heap it touched (memory per 10,000 bindings, issue 15).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings: its own thread gives freed pages back on time, not
/// only when the server next allocates (an idle server kept them).
#[cfg(not(target_env = "msvc"))]
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8] = b"background_thread:true,max_background_threads:1\0";

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
