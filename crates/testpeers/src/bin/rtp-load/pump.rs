//! The media load: each thread owns a share of the streams and, every
//! 20 ms, sends one frame each way per stream and reads what arrived. The
//! 20 ms are cut in 1 ms slots with a twentieth of the streams each, so
//! the packets come spread over the frame instead of in one burst.

use std::time::{Duration, Instant};

use crate::stream::Stream;

/// One frame of PCMU at 20 ms ptime.
const FRAME: Duration = Duration::from_millis(20);
/// Slots per frame.
const SLOTS: usize = 20;
/// After the last frame, the packets still coming are read until none
/// came for `QUIET`, at most for `TAIL` (a relay held up by a busy host
/// delivers late: late is not lost).
const QUIET: Duration = Duration::from_millis(300);
const TAIL: Duration = Duration::from_secs(3);

/// Runs the load for `frames` frames over `threads` threads and gives the
/// streams back with their counts.
pub(crate) fn run(streams: Vec<Stream>, threads: usize, frames: u64) -> Vec<Stream> {
    let threads = threads.max(1);
    let mut shares: Vec<Vec<Stream>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, stream) in streams.into_iter().enumerate() {
        if let Some(share) = shares.get_mut(i % threads) {
            share.push(stream);
        }
    }
    let start = Instant::now() + Duration::from_millis(5);
    let workers: Vec<_> = shares
        .into_iter()
        .map(|mut share| {
            std::thread::spawn(move || {
                pump(&mut share, start, frames);
                share
            })
        })
        .collect();
    workers
        .into_iter()
        .flat_map(|w| w.join().unwrap_or_default())
        .collect()
}

/// One thread's share: sends on schedule (late slots are caught up at
/// once, never skipped), then reads what is still coming.
fn pump(share: &mut [Stream], start: Instant, frames: u64) {
    let slot = FRAME / SLOTS as u32;
    let steps = frames.saturating_mul(SLOTS as u64);
    for step in 0..steps {
        let at = start + slot * u32::try_from(step).unwrap_or(u32::MAX);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        let first = usize::try_from(step % SLOTS as u64).unwrap_or(0);
        for stream in share.iter_mut().skip(first).step_by(SLOTS) {
            stream.caller.send_frame();
            stream.callee.send_frame();
            stream.caller.drain();
            stream.callee.drain();
        }
    }
    let end = Instant::now() + TAIL;
    let mut last_packet = Instant::now();
    while Instant::now() < end && last_packet.elapsed() < QUIET {
        std::thread::sleep(slot);
        let mut got = 0;
        for stream in share.iter_mut() {
            got += stream.caller.drain() + stream.callee.drain();
        }
        if got > 0 {
            last_packet = Instant::now();
        }
    }
}
