//! Time is a parameter: everything that needs "now" asks a [`Clock`], so tests
//! can move time forward without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;

/// A source of wall-clock time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> OffsetDateTime;

    /// Whether this is the machine's own wall clock. Then the store defers
    /// to the database's clock for every time it writes or compares
    /// (leases, expiries: SPEC §8.11), so processes whose clocks drift
    /// still agree; a test's clock is authoritative instead.
    fn is_system(&self) -> bool {
        false
    }
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place the wall clock is read
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn is_system(&self) -> bool {
        true
    }
}

/// A clock that stands still until told to move; for tests and benchmarks.
#[derive(Debug)]
pub struct ManualClock {
    unix_millis: AtomicI64,
}

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            unix_millis: AtomicI64::new(to_millis(start)),
        }
    }

    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.unix_millis.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn set(&self, to: OffsetDateTime) {
        self.unix_millis.store(to_millis(to), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        from_millis(self.unix_millis.load(Ordering::SeqCst))
    }
}

/// Milliseconds since the Unix epoch; how times are stored in the database.
pub fn to_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The inverse of [`to_millis`]; out-of-range values clamp to the epoch.
pub fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339 in UTC, as every time in the API is written: to the millisecond, like the times
/// the database keeps (a time read from the system clock has nanoseconds; they are dropped).
pub fn rfc3339(t: OffsetDateTime) -> String {
    from_millis(to_millis(t))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A time in UTC for people: "Monday 23 November 2026, 09:00 UTC" (pages and e-mails).
pub fn human_time(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[weekday] [day padding:none] [month repr:long] [year], [hour]:[minute] UTC"
    );
    let utc = t.to_offset(time::UtcOffset::UTC);
    utc.format(&fmt).unwrap_or_else(|_| rfc3339(utc))
}

/// Parses an RFC 3339 time and converts it to UTC.
pub fn parse_rfc3339(s: &str) -> Result<OffsetDateTime, time::error::Parse> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.to_offset(time::UtcOffset::UTC))
}

/// Serde helpers: `OffsetDateTime` as RFC 3339 UTC.
pub mod serde_rfc3339 {
    use serde::Serializer;
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*t))
    }

    /// Reads any RFC 3339 time (any offset) and converts it to UTC.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        super::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use serde::Serializer;
        use time::OffsetDateTime;

        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::rfc3339(*t)),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
        assert_eq!(c.now(), datetime!(2026-11-23 09:00 UTC));
        c.advance(std::time::Duration::from_secs(90));
        assert_eq!(c.now(), datetime!(2026-11-23 09:01:30 UTC));
        assert_eq!(rfc3339(c.now()), "2026-11-23T09:01:30Z");
    }

    #[test]
    fn millis_round_trip() {
        let t = datetime!(2026-01-02 03:04:05.678 UTC);
        assert_eq!(from_millis(to_millis(t)), t);
    }

    #[test]
    fn rfc3339_parses_back_to_utc() {
        let t = parse_rfc3339("2026-11-23T10:01:30+01:00").unwrap();
        assert_eq!(rfc3339(t), "2026-11-23T09:01:30Z");
        assert!(parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn rfc3339_writes_milliseconds_at_most() {
        let t = datetime!(2026-11-23 09:01:30.123_456_789 UTC);
        assert_eq!(rfc3339(t), "2026-11-23T09:01:30.123Z");
    }
}
