//! Time as plain numbers. The core never reads a clock: callers pass `now`.

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch (UTC).
pub type UnixSeconds = i64;

/// The pass epoch: 2020-01-01T00:00:00Z, in Unix seconds.
pub const PASS_EPOCH_UNIX: UnixSeconds = 1_577_836_800;

/// The zone's civil time is Beijing time (UTC+8, no daylight saving). Days in reports and
/// usage counts are Beijing days.
pub const LOCAL_OFFSET_SECONDS: i32 = 8 * 3600;

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
    fn validity_needs_positive_length() {
        assert!(Validity::new(Minute(5), Minute(5)).is_none());
        assert!(Validity::new(Minute(6), Minute(5)).is_none());
        assert_eq!(Validity::new(Minute(5), Minute(65)).unwrap().minutes(), 60);
    }
}
