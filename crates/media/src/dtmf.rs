//! DTMF as RFC 4733 telephone-events: the event payload, a sender that turns
//! digits into event packets tick by tick, and a receiver that turns event
//! packets back into digits once each.

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

use crate::wire::{u8_at, u16_at};

/// Why a telephone-event payload is invalid (the peer's fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DtmfError {
    /// Shorter than the 4-byte event payload.
    #[error("telephone-event payload shorter than 4 bytes")]
    TooShort,
}

/// A character that is not a DTMF digit (the caller's fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{0:?} is not a DTMF digit (0-9, *, #, A-D)")]
pub struct NotADigit(pub char);

/// The event code of a DTMF digit (RFC 4733 §3.2).
pub fn digit_to_event(digit: char) -> Result<u8, NotADigit> {
    match digit.to_ascii_uppercase() {
        d @ '0'..='9' => Ok(d as u8 - b'0'),
        '*' => Ok(10),
        '#' => Ok(11),
        d @ 'A'..='D' => Ok(d as u8 - b'A' + 12),
        _ => Err(NotADigit(digit)),
    }
}

/// The DTMF digit of an event code, if it is one (0-15).
pub fn event_to_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// One telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// The event code.
    pub event: u8,
    /// The E bit: this is an end packet.
    pub end: bool,
    /// Power level in -dBm0 (0-63).
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses a payload (extra bytes, such as padding to 4, are ignored).
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        let (Some(event), Some(flags), Some(duration)) =
            (u8_at(payload, 0), u8_at(payload, 1), u16_at(payload, 2))
        else {
            return Err(DtmfError::TooShort);
        };
        Ok(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration,
        })
    }

    /// The 4-byte payload.
    pub fn to_bytes(self) -> Bytes {
        let mut out = BytesMut::with_capacity(4);
        out.put_u8(self.event);
        out.put_u8(u8::from(self.end) << 7 | (self.volume & 0x3F));
        out.put_u16(self.duration);
        out.freeze()
    }
}

/// One event packet the sender wants sent at this tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPacket {
    /// Set on the first packet of an event.
    pub marker: bool,
    /// The event's start timestamp (the same for all its packets).
    pub timestamp: u32,
    /// The payload.
    pub event: TelephoneEvent,
}

/// Timing of sent digits, in timestamp units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfTiming {
    /// Samples per packet (160 for 20 ms at 8 kHz).
    pub packet: u16,
    /// Tone length of each digit (800 = 100 ms).
    pub tone: u16,
    /// Pause between digits (800 = 100 ms).
    pub gap: u16,
    /// Power level in -dBm0.
    pub volume: u8,
}

impl Default for DtmfTiming {
    fn default() -> Self {
        Self {
            packet: 160,
            tone: 800,
            gap: 800,
            volume: 10,
        }
    }
}

/// How many times the end packet is sent (RFC 4733 §2.5.1.4).
const END_REPEATS: u8 = 3;

#[derive(Debug, Clone, Copy)]
struct Active {
    event: u8,
    timestamp: u32,
    duration: u16,
    ends_sent: u8,
}

/// Sends queued digits as telephone-events. Call [`tick`](Self::tick) once
/// per packet time with the timestamp of that tick; while it returns a
/// packet, that packet replaces the audio frame (RFC 4733 §2.5.1.2).
#[derive(Debug, Clone, Default)]
pub struct DtmfSender {
    timing: DtmfTiming,
    queue: VecDeque<u8>,
    active: Option<Active>,
    gap_left: u32,
}

impl DtmfSender {
    /// A sender with the given timing.
    pub fn new(timing: DtmfTiming) -> Self {
        Self {
            timing,
            ..Self::default()
        }
    }

    /// Queues digits; nothing is queued if any character is not a digit.
    pub fn send(&mut self, digits: &str) -> Result<(), NotADigit> {
        let events = digits
            .chars()
            .map(digit_to_event)
            .collect::<Result<Vec<_>, _>>()?;
        self.queue.extend(events);
        Ok(())
    }

    /// True while an event is being sent or digits wait.
    pub fn is_busy(&self) -> bool {
        self.active.is_some() || !self.queue.is_empty()
    }

    /// The event packet for the tick at `timestamp`, if any.
    pub fn tick(&mut self, timestamp: u32) -> Option<EventPacket> {
        let step = self.timing.packet;
        let mut marker = false;
        let active = match &mut self.active {
            Some(active) => active,
            None => {
                if self.gap_left > 0 {
                    self.gap_left = self.gap_left.saturating_sub(u32::from(step));
                    return None;
                }
                let event = self.queue.pop_front()?;
                marker = true;
                self.active.insert(Active {
                    event,
                    timestamp,
                    duration: 0,
                    ends_sent: 0,
                })
            }
        };
        let end = active.duration.saturating_add(step) >= self.timing.tone;
        if end {
            active.duration = self.timing.tone.max(active.duration);
            active.ends_sent += 1;
        } else {
            active.duration = active.duration.saturating_add(step);
        }
        let packet = EventPacket {
            marker,
            timestamp: active.timestamp,
            event: TelephoneEvent {
                event: active.event,
                end,
                volume: self.timing.volume,
                duration: active.duration,
            },
        };
        if active.ends_sent >= END_REPEATS {
            self.active = None;
            // The gap counts from the end of the tone; the two retransmission
            // ticks already passed part of it.
            let repeats = u32::from(END_REPEATS - 1) * u32::from(step);
            self.gap_left = u32::from(self.timing.gap).saturating_sub(repeats);
        }
        Some(packet)
    }
}

/// A digit received, reported once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedDigit {
    /// The digit.
    pub digit: char,
    /// Its duration in timestamp units, as last reported.
    pub duration: u16,
}

/// Turns received telephone-event packets into digits: each event (one
/// start timestamp) is reported once, on its first end packet, or when a
/// new event starts if all its end packets were lost.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    current: Option<(u32, TelephoneEvent)>,
    reported: Option<u32>,
}

impl DtmfReceiver {
    /// A receiver with no event seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one event packet with its RTP timestamp.
    pub fn on_packet(
        &mut self,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<Option<ReceivedDigit>, DtmfError> {
        let event = TelephoneEvent::parse(payload)?;
        let mut out = None;
        if let Some((ts, previous)) = self.current {
            if ts != timestamp && self.reported != Some(ts) {
                // The previous event never got an end packet through.
                out = Self::digit(previous);
                self.reported = Some(ts);
            }
        }
        if self.reported == Some(timestamp) {
            return Ok(out);
        }
        self.current = Some((timestamp, event));
        if event.end {
            self.reported = Some(timestamp);
            // Both cannot happen: an ended previous event was reported above.
            out = out.or(Self::digit(event));
        }
        Ok(out)
    }

    fn digit(event: TelephoneEvent) -> Option<ReceivedDigit> {
        Some(ReceivedDigit {
            digit: event_to_digit(event.event)?,
            duration: event.duration,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(digits: &str) -> Vec<(u32, EventPacket)> {
        let mut sender = DtmfSender::new(DtmfTiming::default());
        sender.send(digits).unwrap();
        let mut out = Vec::new();
        let mut ts = 1000u32;
        while sender.is_busy() {
            if let Some(p) = sender.tick(ts) {
                out.push((ts, p));
            }
            ts += 160;
        }
        out
    }

    #[test]
    fn event_payload_round_trip() {
        let e = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 800,
        };
        assert_eq!(&e.to_bytes()[..], &[11, 0x8A, 0x03, 0x20]);
        assert_eq!(TelephoneEvent::parse(&e.to_bytes()).unwrap(), e);
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), Err(DtmfError::TooShort));
    }

    #[test]
    fn digits_map_both_ways() {
        for (i, d) in "0123456789*#ABCD".chars().enumerate() {
            assert_eq!(digit_to_event(d).unwrap(), i as u8);
            assert_eq!(event_to_digit(i as u8), Some(d));
        }
        assert_eq!(digit_to_event('x'), Err(NotADigit('x')));
        assert_eq!(event_to_digit(16), None);
    }

    #[test]
    fn one_digit_is_marker_updates_and_three_ends() {
        let packets = encode("5");
        // 100 ms tone at 20 ms a packet: 4 updates, then 3 end packets.
        assert_eq!(packets.len(), 7);
        assert!(packets[0].1.marker);
        assert!(packets[1..].iter().all(|(_, p)| !p.marker));
        assert!(
            packets
                .iter()
                .all(|(_, p)| p.timestamp == 1000 && p.event.event == 5)
        );
        let durations: Vec<u16> = packets.iter().map(|(_, p)| p.event.duration).collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        let ends: Vec<bool> = packets.iter().map(|(_, p)| p.event.end).collect();
        assert_eq!(ends, [false, false, false, false, true, true, true]);
    }

    #[test]
    fn digit_sequence_is_spaced_and_decoded_once_each() {
        let packets = encode("12#");
        let starts: Vec<u32> = packets
            .iter()
            .filter(|(_, p)| p.marker)
            .map(|(_, p)| p.timestamp)
            .collect();
        // Each digit: 100 ms tone (ends on its 5th tick), 100 ms gap.
        assert_eq!(starts, [1000, 1000 + 1600, 1000 + 3200]);
        let mut receiver = DtmfReceiver::new();
        let digits: String = packets
            .iter()
            .filter_map(|(_, p)| {
                receiver
                    .on_packet(p.timestamp, &p.event.to_bytes())
                    .unwrap()
            })
            .map(|d| d.digit)
            .collect();
        assert_eq!(digits, "12#");
    }

    #[test]
    fn lost_end_packets_still_give_the_digit() {
        let packets = encode("47");
        let mut receiver = DtmfReceiver::new();
        let digits: Vec<ReceivedDigit> = packets
            .iter()
            .filter(|(_, p)| !(p.event.end && p.event.event == 4))
            .filter_map(|(_, p)| {
                receiver
                    .on_packet(p.timestamp, &p.event.to_bytes())
                    .unwrap()
            })
            .collect();
        assert_eq!(digits.iter().map(|d| d.digit).collect::<String>(), "47");
        assert_eq!(digits[0].duration, 640);
    }
}
