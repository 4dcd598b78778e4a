//! What the media relay's end-to-end tests share: a block of relay ports,
//! the relay's metrics, the SDP a phone saw, and the tone it heard.

use std::net::{IpAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use switchboard_media::audio::{dominant_frequency, read_wav_file_8k, rms_dbfs};

use super::Baresip;

/// One second of audio at 8 kHz.
const SECOND: usize = 8_000;

/// A block of `size` (at most [`SLOT`]) UDP ports free on `ip`, from
/// 22000 to 29999: below the relay's default range (30000 up, which other
/// servers may hold) and the ephemeral range the phones' own ports come
/// from. Each call of this process starts looking at a slot of its own
/// (the ports are free only until its server binds them).
pub fn free_port_block(ip: IpAddr, size: u16) -> RangeInclusive<u16> {
    const AREA: std::ops::Range<u16> = 22_000..30_000;
    static TAKEN: AtomicU16 = AtomicU16::new(0);
    assert!(size <= SLOT);
    let slots = (AREA.end - AREA.start) / SLOT;
    let own = TAKEN.fetch_add(1, Ordering::Relaxed);
    let start = (std::process::id() % 50) as u16 * 4 + own;
    for i in 0..slots {
        // An even first port: RTP takes it, RTCP the odd one above.
        let first = AREA.start + (start + i) % slots * SLOT;
        let block = first..=first + size - 1;
        if block
            .clone()
            .all(|port| UdpSocket::bind((ip, port)).is_ok())
        {
            return block;
        }
    }
    panic!("no free block of {size} relay ports in {AREA:?}");
}

/// The most ports [`free_port_block`] gives.
pub const SLOT: u16 = 40;

/// The audio ports of the `m=audio` lines in a phone's SIP trace.
pub fn audio_ports(log: &str) -> Vec<u16> {
    log.lines()
        .filter_map(|line| line.trim().strip_prefix("m=audio "))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The addresses of the `c=IN IP4` lines in a phone's SIP trace.
pub fn connection_addresses(log: &str) -> Vec<IpAddr> {
    log.lines()
        .filter_map(|line| line.trim().strip_prefix("c=IN IP4 "))
        .filter_map(|rest| rest.trim().parse().ok())
        .collect()
}

/// Frequency and level of each whole second of a recording.
pub fn seconds(path: &Path) -> Vec<(f32, f32)> {
    let samples = read_wav_file_8k(path).unwrap();
    samples
        .chunks_exact(SECOND)
        .map(|c| (dominant_frequency(c, 8_000), rms_dbfs(c)))
        .collect()
}

/// Whether a second of audio is the `hz` tone, loud enough.
pub fn is_tone((freq, level): (f32, f32), hz: f32) -> bool {
    (freq - hz).abs() <= 20.0 && level > -30.0
}

/// The phone's whole call (its dump complete: the call is over) held at
/// least one second of the `hz` tone.
pub fn assert_heard_any_second(phone: &Baresip, hz: f32) {
    let heard = seconds(&phone.wait_received_audio(Duration::from_secs(10)));
    assert!(
        heard.iter().any(|s| is_tone(*s, hz)),
        "{hz} Hz not heard, seconds (Hz, dBFS): {heard:?}\n{}",
        phone.report()
    );
}
