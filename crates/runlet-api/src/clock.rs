//! Time, behind a trait, so the server and controllers can run on a fake clock in tests.

use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;

    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    /// Nanoseconds since the Unix epoch, for what upstream stamps at that precision (CRI log
    /// lines). A clock that only keeps milliseconds gives them in nanoseconds.
    fn now_nanos(&self) -> i64 {
        self.now_millis().saturating_mul(1_000_000)
    }
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
    }

    fn now_nanos(&self) -> i64 {
        i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap_or(i64::MAX)
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default)]
pub struct FakeClock {
    millis: AtomicI64,
}

impl FakeClock {
    /// A fake clock at `unix_seconds`.
    pub fn at(unix_seconds: i64) -> Self {
        FakeClock {
            millis: AtomicI64::new(unix_seconds * 1000),
        }
    }

    /// Moves the clock forward by `millis`.
    pub fn advance_millis(&self, millis: i64) {
        self.millis.fetch_add(millis, Ordering::SeqCst);
    }

    /// Sets the clock to `unix_seconds`.
    pub fn set(&self, unix_seconds: i64) {
        self.millis.store(unix_seconds * 1000, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_millis(&self) -> i64 {
        self.millis.load(Ordering::SeqCst)
    }
}

/// RFC 3339 at second precision (`2026-01-02T03:04:05Z`), as Kubernetes writes `metav1.Time`.
pub fn rfc3339(unix_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// RFC 3339 at microsecond precision (`2026-01-02T03:04:05.678000Z`), as Kubernetes writes
/// `metav1.MicroTime` (an events.k8s.io Event's `eventTime`).
pub fn rfc3339_micros(unix_millis: i64) -> String {
    let seconds = rfc3339(unix_millis.div_euclid(1000));
    let micros = unix_millis.rem_euclid(1000) * 1000;
    match seconds.strip_suffix('Z') {
        Some(base) => format!("{base}.{micros:06}Z"),
        None => seconds,
    }
}

/// An RFC 3339 timestamp (`Time` or `MicroTime`) as Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

/// An Event's name as client-go's recorder makes it: the object's name, a dot, and the wall
/// clock's Unix nanoseconds in hex (`makeEvent`). Lists come in name order, so an object's
/// events then come in the order they happened (`kubectl describe` keeps that order among
/// events of the same second). The nanoseconds never repeat within the process.
pub fn event_name(object: &str) -> String {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let mut prev = LAST.load(Ordering::SeqCst);
    let nanos = loop {
        let next = now.max(prev.saturating_add(1));
        match LAST.compare_exchange(prev, next, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => break next,
            Err(p) => prev = p,
        }
    };
    format!("{object}.{nanos:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_times_have_six_digits_of_fraction() {
        assert_eq!(
            rfc3339_micros(1_767_225_600_042),
            "2026-01-01T00:00:00.042000Z"
        );
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn event_names_follow_each_other_in_time_order() {
        let names: Vec<String> = (0..100).map(|_| event_name("p")).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, names, "unique, and in the order made");
        assert!(names[0].starts_with("p.1"), "{}", names[0]);
    }

    #[test]
    fn fake_clock_moves_only_when_told() {
        let c = FakeClock::at(1_700_000_000);
        assert_eq!(c.now_unix(), 1_700_000_000);
        c.advance_millis(1500);
        assert_eq!(c.now_unix(), 1_700_000_001);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(c.now_nanos(), 1_700_000_001_500_000_000);
    }

    #[test]
    fn the_system_clock_gives_nanoseconds_of_the_same_time() {
        let (millis, nanos) = (SystemClock.now_millis(), SystemClock.now_nanos());
        assert!(
            (nanos / 1_000_000 - millis).abs() < 1000,
            "{millis} {nanos}"
        );
    }
}
