//! Time matchers: time of day, weekdays and dates, in the plan's zone.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A call's time as the plan's zone sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalTime {
    /// Minutes since local midnight.
    pub(crate) minute_of_day: u16,
    /// 0 = Monday .. 6 = Sunday.
    pub(crate) weekday: u8,
    /// The local date.
    pub(crate) date: Date,
}

impl LocalTime {
    /// `at_unix` in `zone` (a time outside jiff's range is clamped to it).
    pub(crate) fn at(at_unix: i64, zone: &TimeZone) -> Self {
        let stamp = Timestamp::from_second(at_unix).unwrap_or(if at_unix < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        });
        let local = zone.to_datetime(stamp);
        let minute_of_day = u16::try_from(local.hour()).unwrap_or(0) * 60
            + u16::try_from(local.minute()).unwrap_or(0);
        let weekday = u8::try_from(local.weekday().to_monday_zero_offset()).unwrap_or(0);
        Self {
            minute_of_day,
            weekday,
            date: local.date(),
        }
    }

    /// `HH:MM`, for the trace.
    pub(crate) fn clock(&self) -> String {
        format!(
            "{:02}:{:02}",
            self.minute_of_day / 60,
            self.minute_of_day % 60
        )
    }

    /// `mon`..`sun`, for the trace.
    pub(crate) fn day_name(&self) -> &'static str {
        DAY_NAMES
            .get(usize::from(self.weekday))
            .copied()
            .unwrap_or("?")
    }
}

/// `08:00-12:00`: start inclusive, end exclusive; `22:00-06:00` wraps
/// over midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeWindow {
    start: u16,
    end: u16,
}

impl TimeWindow {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a time window like \"08:00-12:00\"");
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let start = parse_clock(start.trim()).ok_or_else(bad)?;
        let end = parse_clock(end.trim()).ok_or_else(bad)?;
        if start == end {
            return Err(format!("{text:?} is empty (start equals end)"));
        }
        Ok(Self { start, end })
    }

    pub(crate) fn contains(&self, minute: u16) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

/// `HH:MM`, 00:00..=24:00 (24:00 only as an end).
fn parse_clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: u16 = hours.parse().ok()?;
    let minutes: u16 = minutes.parse().ok()?;
    if minutes >= 60 || hours > 24 || (hours == 24 && minutes != 0) {
        return None;
    }
    Some(hours * 60 + minutes)
}

/// Weekdays: `mon`, `mon-fri`, `fri-mon` (wraps), as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DaySet(u8);

impl DaySet {
    pub(crate) fn parse(entries: &[String]) -> Result<Self, String> {
        let mut bits = 0u8;
        for entry in entries {
            let bad = || format!("{entry:?} is not a weekday or range like \"mon-fri\"");
            let lower = entry.trim().to_ascii_lowercase();
            let (first, last) = match lower.split_once('-') {
                Some((first, last)) => (
                    day_index(first).ok_or_else(bad)?,
                    day_index(last).ok_or_else(bad)?,
                ),
                None => {
                    let day = day_index(&lower).ok_or_else(bad)?;
                    (day, day)
                }
            };
            let mut day = first;
            loop {
                bits |= 1 << day;
                if day == last {
                    break;
                }
                day = (day + 1) % 7;
            }
        }
        Ok(Self(bits))
    }

    pub(crate) fn contains(&self, weekday: u8) -> bool {
        weekday < 7 && self.0 & (1 << weekday) != 0
    }
}

fn day_index(name: &str) -> Option<u8> {
    let short = name.get(..3)?;
    let index = DAY_NAMES.iter().position(|day| *day == short)?;
    let full = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let accepted = name.len() == 3 || full.get(index).is_some_and(|f| *f == name);
    if accepted {
        u8::try_from(index).ok()
    } else {
        None
    }
}

/// A date or an inclusive range of dates (`2026-12-25..2026-12-26`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateRange {
    first: Date,
    last: Date,
}

impl DateRange {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let date = |part: &str| {
            part.trim().parse::<Date>().map_err(|_| {
                format!("{text:?} is not a date (YYYY-MM-DD) or range (YYYY-MM-DD..YYYY-MM-DD)")
            })
        };
        let (first, last) = match text.split_once("..") {
            Some((first, last)) => (date(first)?, date(last)?),
            None => {
                let day = date(text)?;
                (day, day)
            }
        };
        if last < first {
            return Err(format!("{text:?} ends before it starts"));
        }
        Ok(Self { first, last })
    }

    pub(crate) fn contains(&self, date: Date) -> bool {
        self.first <= date && date <= self.last
    }
}
