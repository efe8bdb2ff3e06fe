//! RFC 3339 timestamps as the API carries them (`google-datetime`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

/// An instant with microsecond precision, stored as microseconds since the Unix epoch.
///
/// Formatting always yields UTC with a `Z` suffix and 0, 3 or 6 fractional digits (the shortest
/// that is exact), which is what proto3 JSON allows. Parsing accepts any RFC 3339 offset and any
/// number of fractional digits; digits below a microsecond are truncated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a string is not an acceptable timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError;

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an RFC 3339 timestamp between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z")
    }
}

impl std::error::Error for TimestampError {}

impl Timestamp {
    /// The current instant.
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    /// The instant `micros` microseconds after the Unix epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the Unix epoch.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (floored).
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// This instant moved by `seconds` (saturating).
    pub const fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds.saturating_mul(1_000_000)))
    }

    fn from_datetime(dt: OffsetDateTime) -> Self {
        Self((dt.unix_timestamp_nanos() / 1000) as i64)
    }

    /// Parses an RFC 3339 timestamp in the range proto3 allows (years 1 to 9999).
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let dt = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| TimestampError)?;
        let utc = dt.to_offset(UtcOffset::UTC);
        if !(1..=9999).contains(&utc.year()) {
            return Err(TimestampError);
        }
        Ok(Self::from_datetime(utc))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ok(dt) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000) else {
            return f.write_str("0001-01-01T00:00:00Z");
        };
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )?;
        let micros = dt.microsecond();
        if micros == 0 {
            f.write_str("Z")
        } else if micros % 1000 == 0 {
            write!(f, ".{:03}Z", micros / 1000)
        } else {
            write!(f, ".{micros:06}Z")
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_shortest_exact_fraction_in_utc() {
        let t = Timestamp::parse("2026-11-27T10:00:00+01:00").expect("valid");
        assert_eq!(t.to_string(), "2026-11-27T09:00:00Z");
        let t = Timestamp::parse("2026-11-27T09:00:00.120Z").expect("valid");
        assert_eq!(t.to_string(), "2026-11-27T09:00:00.120Z");
        let t = Timestamp::parse("2026-11-27T09:00:00.123456789Z").expect("valid");
        assert_eq!(t.to_string(), "2026-11-27T09:00:00.123456Z");
    }

    #[test]
    fn rejects_garbage_and_out_of_range() {
        for bad in
            ["", "yesterday", "2026-13-01T00:00:00Z", "2026-11-27", "2026-11-27T09:00:00", "10000-01-01T00:00:00Z"]
        {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trips() {
        for s in
            ["1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2001-02-03T04:05:06.007Z"]
        {
            assert_eq!(Timestamp::parse(s).expect(s).to_string(), s);
        }
    }
}
