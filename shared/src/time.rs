//! Time as plain numbers. The core never reads a clock: callers pass `now`.

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch (UTC).
pub type UnixSeconds = i64;

/// The pass epoch: 2020-01-01T00:00:00Z, in Unix seconds.
pub const PASS_EPOCH_UNIX: UnixSeconds = 1_577_836_800;

/// The latest instant passgate takes from data it did not make itself (a bundle's
/// `generated_at`, a gate record's scan time): 9999-12-31 23:59:59 Beijing time, the last
/// second a `YYYY-MM-DD` day can name. The earliest is the Unix epoch, which a gate whose
/// clock battery died may well report.
pub const MAX_TIME: UnixSeconds = 253_402_271_999;

/// Whether `t` lies in `0..=MAX_TIME`: an instant the reports can put on a calendar day and
/// subtract from another without overflow.
pub fn is_plausible(t: UnixSeconds) -> bool {
    (0..=MAX_TIME).contains(&t)
}

/// The zone's civil time is Beijing time (UTC+8, no daylight saving). Days in reports and
/// usage counts are Beijing days.
pub const LOCAL_OFFSET_SECONDS: i32 = 8 * 3600;

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The Beijing date of an instant, as `YYYY-MM-DD`.
pub fn local_day(t: UnixSeconds) -> String {
    let days = t
        .saturating_add(i64::from(LOCAL_OFFSET_SECONDS))
        .div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The instants `[start, end)` of a Beijing date given as `YYYY-MM-DD`; `None` if the text
/// is not a real date.
pub fn local_day_range(day: &str) -> Option<(UnixSeconds, UnixSeconds)> {
    let b = day.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = day.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let days = days_from_civil(i64::from(y), m, d);
    if civil_from_days(days) != (i64::from(y), m, d) {
        return None;
    }
    let start = days * 86_400 - i64::from(LOCAL_OFFSET_SECONDS);
    Some((start, start + 86_400))
}

/// A whole minute, counted from the pass epoch (2020-01-01T00:00Z). `u32` minutes reach
/// past the year 10,000, and a minute is the precision passes carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Minute(pub u32);

impl Minute {
    /// The minute that contains `t`. Times before the pass epoch have no minute.
    pub fn from_unix(t: UnixSeconds) -> Option<Minute> {
        let m = t.checked_sub(PASS_EPOCH_UNIX)?.div_euclid(60);
        u32::try_from(m).ok().map(Minute)
    }

    /// The first second of this minute.
    pub fn to_unix(self) -> UnixSeconds {
        PASS_EPOCH_UNIX + i64::from(self.0) * 60
    }
}

/// A validity window `[from, until)`, minute precision. `until` is always after `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validity {
    from: Minute,
    until: Minute,
}

impl Validity {
    /// A window; `None` when `until` is not after `from`.
    pub fn new(from: Minute, until: Minute) -> Option<Validity> {
        (until > from).then_some(Validity { from, until })
    }

    pub fn from(&self) -> Minute {
        self.from
    }

    pub fn until(&self) -> Minute {
        self.until
    }

    /// Length of the window in minutes.
    pub fn minutes(&self) -> u32 {
        self.until.0 - self.from.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_round_trip() {
        let t = 1_700_000_040;
        let m = Minute::from_unix(t).unwrap();
        assert_eq!(m.to_unix(), t);
        assert_eq!(Minute::from_unix(t + 59), Some(m));
        assert_eq!(Minute::from_unix(PASS_EPOCH_UNIX - 1), None);
    }

    #[test]
    fn beijing_days() {
        // 2026-12-01T00:00Z is 08:00 in Beijing; 2026-11-30T16:00Z is Beijing midnight.
        assert_eq!(local_day(1_796_083_200), "2026-12-01");
        assert_eq!(local_day(1_796_083_200 - 8 * 3600), "2026-12-01");
        assert_eq!(local_day(1_796_083_200 - 8 * 3600 - 1), "2026-11-30");
        let (start, end) = local_day_range("2026-12-01").unwrap();
        assert_eq!(start, 1_796_083_200 - 8 * 3600);
        assert_eq!(end - start, 86_400);
        assert_eq!(
            local_day_range("2024-02-29").map(|r| local_day(r.0)),
            Some("2024-02-29".into())
        );
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "20261201",
            "2026-12-0x",
            "",
        ] {
            assert_eq!(local_day_range(bad), None, "{bad}");
        }
    }

    #[test]
    fn validity_needs_positive_length() {
        assert!(Validity::new(Minute(5), Minute(5)).is_none());
        assert!(Validity::new(Minute(6), Minute(5)).is_none());
        assert_eq!(Validity::new(Minute(5), Minute(65)).unwrap().minutes(), 60);
    }
}
