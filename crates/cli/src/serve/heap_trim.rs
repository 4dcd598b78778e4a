//! Gives memory freed after a burst back to the system. Transactions live
//! 32 s after their answer, so a burst of registrations or calls leaves
//! megabytes of freed heap between the bindings and dialogs that stay;
//! glibc's malloc only returns the top of its heaps by itself, and keeps
//! the rest resident (10,000 registrations: 33 MB of PSS, 23 MB after a
//! `malloc_trim`). A thread looks every few seconds at how much lies free
//! and trims when that grew by a few megabytes since the last trim; the
//! trim takes each arena's lock for a moment, and never runs on the driver.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the free memory is looked at.
const EVERY: Duration = Duration::from_secs(5);
/// Free bytes gained since the last trim that are worth one.
const WORTH_TRIMMING: usize = 4 << 20;

/// The trimming thread; stopped when dropped.
#[derive(Debug)]
pub(crate) struct HeapTrim {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl HeapTrim {
    /// Starts the thread (`None` where malloc cannot trim, or the thread
    /// could not start: memory then stays as it is).
    pub(crate) fn start() -> Option<Self> {
        if !malloc::CAN_TRIM {
            return None;
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("heap-trim".to_owned())
            .spawn(move || {
                // Free bytes already given back (or too few to matter):
                // memory reused since and freed again is resident again,
                // so the mark follows the free bytes down.
                let mut mark = malloc::free_bytes();
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    let free = malloc::free_bytes();
                    if free > mark.saturating_add(WORTH_TRIMMING) {
                        malloc::trim();
                        tracing::debug!(free, "heap trimmed");
                        mark = free;
                    } else {
                        mark = mark.min(free);
                    }
                }
            });
        match thread {
            Ok(thread) => Some(Self {
                stop: Some(stop),
                thread: Some(thread),
            }),
            Err(error) => {
                tracing::debug!(%error, "no heap-trim thread");
                None
            }
        }
    }
}

impl Drop for HeapTrim {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod malloc {
    pub(super) const CAN_TRIM: bool = true;

    /// Bytes free in malloc's arenas (not yet given back).
    pub(super) fn free_bytes() -> usize {
        // SAFETY: mallinfo2 takes no argument and returns a plain struct.
        unsafe { nix::libc::mallinfo2() }.fordblks
    }

    /// Gives every free page of every arena back to the system.
    pub(super) fn trim() {
        // SAFETY: malloc_trim takes a plain integer (the padding to keep at
        // the top) and only works on malloc's own state.
        unsafe { nix::libc::malloc_trim(0) };
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod malloc {
    pub(super) const CAN_TRIM: bool = false;

    pub(super) fn free_bytes() -> usize {
        0
    }

    pub(super) fn trim() {}
}
