//! The stream framer fed in fuzzer-chosen pieces.
//!
//! Input layout: byte 0 = `n | small << 5`: the next `n` (0..=31) bytes are
//! piece lengths (0 meaning 256), used in turn, cyclically, to cut the rest
//! of the input (the stream) into pushes; `n == 0` pushes the stream whole.
//! `small` sets a 512-octet message limit instead of 64 KiB. Every frame is
//! parsed; the framer must never panic nor yield bytes it was not given.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(head & 0x1f);
    let max = if head & 0x20 != 0 {
        512
    } else {
        switchboard_fuzz::MAX_MESSAGE
    };
    let (lens, mut stream) = rest.split_at(n.min(rest.len()));
    let mut pieces: Vec<&[u8]> = Vec::new();
    if lens.is_empty() {
        pieces.push(stream);
    } else {
        for &l in lens.iter().cycle() {
            if stream.is_empty() {
                break;
            }
            let l = if l == 0 { 256 } else { usize::from(l) };
            let (piece, tail) = stream.split_at(l.min(stream.len()));
            pieces.push(piece);
            stream = tail;
        }
    }
    let _ = switchboard_fuzz::check_framer(&pieces, max);
});
