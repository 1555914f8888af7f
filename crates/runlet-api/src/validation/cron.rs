//! Cron schedules as the CronJob API accepts them: a re-implementation of
//! `github.com/robfig/cron/v3`'s `ParseStandard` (which upstream's validation and CronJob
//! controller both use), with its exact error strings, plus next-run computation.
//!
//! Accepted: five fields (minute hour day-of-month month day-of-week) with `*`, `?`, lists,
//! ranges, steps and month/weekday names; the descriptors `@yearly`, `@annually`, `@monthly`,
//! `@weekly`, `@daily`, `@midnight`, `@hourly` and `@every <Go duration>`; and a leading
//! `TZ=<zone>` / `CRON_TZ=<zone>` (which CronJob validation then rejects separately).
//! Parsing never panics: the input that makes robfig's parser panic (`TZ=` without a following
//! space) yields the error upstream's panic recovery produces.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Offset, TimeZone, Timelike};
use chrono_tz::Tz;
use std::str::FromStr;

/// A schedule that does not parse; the message is robfig/cron's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// The schedule text is malformed (the message is upstream's, verbatim).
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> CronError {
    CronError::Invalid(msg.into())
}

const STAR_BIT: u64 = 1 << 63;

struct Bounds {
    min: u64,
    max: u64,
    names: &'static [(&'static str, u64)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// A parsed five-field schedule, as bit sets (bit 63 marks a `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecSchedule {
    pub minute: u64,
    pub hour: u64,
    pub dom: u64,
    pub month: u64,
    pub dow: u64,
    /// The zone from a `TZ=`/`CRON_TZ=` prefix; `None` means "the zone of the time given".
    pub location: Option<Tz>,
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// A crontab line or a named descriptor.
    Spec(SpecSchedule),
    /// `@every <duration>`: a fixed delay, whole seconds, at least one.
    Every(std::time::Duration),
}

/// robfig/cron's `ParseStandard`, with upstream Kubernetes' panic recovery.
pub fn parse_standard(spec: &str) -> Result<Schedule, CronError> {
    if spec.is_empty() {
        return Err(invalid("empty spec string"));
    }
    let mut spec = spec;
    let mut location = None;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let eq = spec.find('=').unwrap_or(0);
        let Some(space) = spec.find(' ') else {
            // robfig slices spec[eq+1:-1] and panics; Kubernetes recovers and reports this.
            return Err(invalid(
                "invalid schedule format: runtime error: slice bounds out of range [:-1]",
            ));
        };
        let name = spec.get(eq + 1..space).unwrap_or("");
        location = Some(
            load_location(name)
                .map_err(|e| invalid(format!("provided bad location {name}: {e}")))?,
        );
        spec = spec.get(space..).unwrap_or("").trim();
    }
    if spec.starts_with('@') {
        return parse_descriptor(spec, location);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(invalid(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        )));
    }
    let f = |i: usize| fields.get(i).copied().unwrap_or("");
    Ok(Schedule::Spec(SpecSchedule {
        minute: get_field(f(0), &MINUTES)?,
        hour: get_field(f(1), &HOURS)?,
        dom: get_field(f(2), &DOM)?,
        month: get_field(f(3), &MONTHS)?,
        dow: get_field(f(4), &DOW)?,
        location,
    }))
}

/// Go's `time.LoadLocation` against the IANA database compiled into `chrono-tz`: `""` and
/// `UTC` are UTC; `Local` is accepted (and mapped to UTC, runlet's zone).
pub fn load_location(name: &str) -> Result<Tz, String> {
    match name {
        "" | "UTC" | "Local" => Ok(Tz::UTC),
        _ => Tz::from_str(name).map_err(|_| format!("unknown time zone {name}")),
    }
}

fn get_field(field: &str, r: &Bounds) -> Result<u64, CronError> {
    let mut bits = 0u64;
    for expr in field.split(',').filter(|s| !s.is_empty()) {
        bits |= get_range(expr, r)?;
    }
    Ok(bits)
}

fn get_range(expr: &str, r: &Bounds) -> Result<u64, CronError> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let first = range_and_step.first().copied().unwrap_or("");
    let low_and_high: Vec<&str> = first.split('-').collect();
    let single_digit = low_and_high.len() == 1;
    let low = low_and_high.first().copied().unwrap_or("");
    let (start, mut end, mut extra);
    if low == "*" || low == "?" {
        start = r.min;
        end = r.max;
        extra = STAR_BIT;
    } else {
        start = parse_int_or_name(low, r.names)?;
        end = match low_and_high.as_slice() {
            [_] => start,
            [_, high] => parse_int_or_name(high, r.names)?,
            _ => return Err(invalid(format!("too many hyphens: {expr}"))),
        };
        extra = 0;
    }
    let step = match range_and_step.as_slice() {
        [_] => 1,
        [_, step] => {
            let step = must_parse_int(step)?;
            if single_digit {
                end = r.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(invalid(format!("too many slashes: {expr}"))),
    };
    if start < r.min {
        return Err(invalid(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            r.min
        )));
    }
    if end > r.max {
        return Err(invalid(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            r.max
        )));
    }
    if start > end {
        return Err(invalid(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        )));
    }
    if step == 0 {
        return Err(invalid(format!(
            "step of range should be a positive number: {expr}"
        )));
    }
    Ok(get_bits(start, end, step) | extra)
}

fn parse_int_or_name(expr: &str, names: &[(&str, u64)]) -> Result<u64, CronError> {
    let lower = expr.to_lowercase();
    if let Some((_, v)) = names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    must_parse_int(expr)
}

/// Go's `strconv.Atoi` error text.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax"));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
}

fn must_parse_int(expr: &str) -> Result<u64, CronError> {
    let num = atoi(expr).map_err(|e| invalid(format!("failed to parse int from {expr}: {e}")))?;
    u64::try_from(num).map_err(|_| invalid(format!("negative number ({num}) not allowed: {expr}")))
}

fn get_bits(min: u64, max: u64, step: u64) -> u64 {
    let mut bits = 0u64;
    let mut i = min;
    while i <= max && i < 64 {
        bits |= 1 << i;
        i = i.saturating_add(step);
    }
    bits
}

fn all(r: &Bounds) -> u64 {
    get_bits(r.min, r.max, 1) | STAR_BIT
}

fn parse_descriptor(descriptor: &str, location: Option<Tz>) -> Result<Schedule, CronError> {
    let spec = |minute, hour, dom, month, dow| {
        Ok(Schedule::Spec(SpecSchedule {
            minute,
            hour,
            dom,
            month,
            dow,
            location,
        }))
    };
    match descriptor {
        "@yearly" | "@annually" => return spec(1, 1, 1 << 1, 1 << 1, all(&DOW)),
        "@monthly" => return spec(1, 1, 1 << 1, all(&MONTHS), all(&DOW)),
        "@weekly" => return spec(1, 1, all(&DOM), all(&MONTHS), 1),
        "@daily" | "@midnight" => return spec(1, 1, all(&DOM), all(&MONTHS), all(&DOW)),
        "@hourly" => return spec(1, all(&HOURS), all(&DOM), all(&MONTHS), all(&DOW)),
        _ => {}
    }
    if let Some(d) = descriptor.strip_prefix("@every ") {
        let nanos = parse_go_duration(d)
            .map_err(|e| invalid(format!("failed to parse duration {descriptor}: {e}")))?;
        let secs = if nanos < 1_000_000_000 {
            1
        } else {
            (nanos / 1_000_000_000) as u64
        };
        return Ok(Schedule::Every(std::time::Duration::from_secs(secs)));
    }
    Err(invalid(format!("unrecognized descriptor: {descriptor}")))
}

/// Go's `time.ParseDuration`, returning nanoseconds, with its error strings.
pub fn parse_go_duration(orig: &str) -> Result<i128, String> {
    let quote = |s: &str| format!("\"{s}\"");
    let bad = || format!("time: invalid duration {}", quote(orig));
    let mut s = orig;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: i128 = 0;
    while !s.is_empty() {
        let first = s.as_bytes().first().copied().unwrap_or(0);
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(bad());
        }
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, rest) = s.split_at(int_len);
        s = rest;
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (f, r) = rest.split_at(frac_len);
            frac_part = f;
            s = r;
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let unit_len = s
            .bytes()
            .take_while(|b| *b != b'.' && !b.is_ascii_digit())
            .count();
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", quote(orig)));
        }
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(unit),
                    quote(orig)
                ));
            }
        };
        let int_val: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad())?
        };
        let mut v = int_val.checked_mul(scale).ok_or_else(bad)?;
        if !frac_part.is_empty() {
            let digits = frac_part.len().min(30) as u32;
            let f: i128 = frac_part
                .get(..digits as usize)
                .unwrap_or("0")
                .parse()
                .map_err(|_| bad())?;
            v = v
                .checked_add(f.saturating_mul(scale) / 10i128.pow(digits))
                .ok_or_else(bad)?;
        }
        total = total.checked_add(v).ok_or_else(bad)?;
        if total > i128::from(i64::MAX) {
            return Err(bad());
        }
    }
    Ok(if neg { -total } else { total })
}

fn day_matches(s: &SpecSchedule, date: NaiveDate) -> bool {
    let dom_match = (1u64 << date.day()) & s.dom != 0;
    let dow_match = (1u64 << date.weekday().num_days_from_sunday()) & s.dow != 0;
    if s.dom & STAR_BIT != 0 || s.dow & STAR_BIT != 0 {
        dom_match && dow_match
    } else {
        dom_match || dow_match
    }
}

impl Schedule {
    /// The first activation strictly after `after`, in `after`'s zone (or the schedule's own
    /// `TZ=` zone when it has one). `None` when nothing matches within five years (e.g.
    /// `0 0 30 2 *`).
    pub fn next_after<Z: TimeZone>(&self, after: &DateTime<Z>) -> Option<DateTime<Z>> {
        match self {
            Schedule::Every(d) => {
                let delay = Duration::from_std(*d).ok()?;
                let truncated = DateTime::from_timestamp(after.timestamp(), 0)?
                    .with_timezone(&after.timezone());
                truncated.checked_add_signed(delay)
            }
            Schedule::Spec(s) => match s.location {
                Some(tz) => {
                    let t = after.with_timezone(&tz);
                    next_in_zone(s, &t).map(|n| n.with_timezone(&after.timezone()))
                }
                None => next_in_zone(s, after),
            },
        }
    }
}

/// Go's `time.Date(y, m, d, h, min, sec, 0, zone)`: the month and day may overflow and are
/// normalised (month 13 is January of the next year, day 32 of January is February 1st), and a
/// wall time that a DST change skips or repeats is resolved exactly as Go does: the offset in
/// force at the wall time read as UTC is tried first, and replaced by the offset in force at the
/// resulting instant when that instant lies outside its period. For a gap this yields the
/// instant `wall - offset_after`, for a repeat it depends on the zone's side of UTC — which is
/// why this follows Go rather than picking `earliest()`.
fn go_date<Z: TimeZone>(
    zone: &Z,
    year: i32,
    month: i32,
    day: i64,
    hour: u32,
    min: u32,
    sec: u32,
) -> Option<DateTime<Z>> {
    let year = year.checked_add((month - 1).div_euclid(12))?;
    let month = u32::try_from((month - 1).rem_euclid(12) + 1).ok()?;
    let date =
        NaiveDate::from_ymd_opt(year, month, 1)?.checked_add_signed(Duration::days(day - 1))?;
    let unix = date.and_hms_opt(hour, min, sec)?.and_utc().timestamp();
    let offset_at = |t: i64| -> Option<i64> {
        let utc = DateTime::from_timestamp(t, 0)?.naive_utc();
        Some(i64::from(
            zone.offset_from_utc_datetime(&utc).fix().local_minus_utc(),
        ))
    };
    let mut offset = offset_at(unix)?;
    if offset != 0 {
        // Go checks whether `unix - offset` lies inside the zone period it looked up; a period
        // with the same offset gives the same answer, so comparing offsets is equivalent.
        let other = offset_at(unix - offset)?;
        if other != offset {
            offset = other;
        }
    }
    Some(DateTime::from_timestamp(unix - offset, 0)?.with_timezone(zone))
}

/// Go's `t.AddDate(0, months, days)`: the same wall clock, `months`/`days` later, through
/// [`go_date`].
fn add_date<Z: TimeZone>(t: &DateTime<Z>, months: i32, days: i64) -> Option<DateTime<Z>> {
    let month = i32::try_from(t.month()).ok()?.checked_add(months)?;
    go_date(
        &t.timezone(),
        t.year(),
        month,
        i64::from(t.day()) + days,
        t.hour(),
        t.minute(),
        t.second(),
    )
}

/// robfig/cron v3 `SpecSchedule.Next`, step for step, so DST changes behave as in upstream's
/// CronJob controller: hours advance as absolute hours, so a wall time skipped by a spring-forward
/// change does not run that day, and a wall time repeated by a fall-back change runs at both of
/// its instants (e.g. `30 1 * * *` in America/New_York runs at 01:30 EDT and 01:30 EST).
fn next_in_zone<Z: TimeZone>(s: &SpecSchedule, after: &DateTime<Z>) -> Option<DateTime<Z>> {
    let zone = after.timezone();
    let hours = |h: i64| Duration::hours(h);
    // Start at the earliest possible time (the upcoming second).
    // (Through the instant: chrono's `with_nanosecond` fails on a wall time a DST change repeats.)
    let mut t =
        DateTime::from_timestamp(after.timestamp().checked_add(1)?, 0)?.with_timezone(&zone);
    let mut added = false;
    let year_limit = t.year() + 5;
    'wrap: loop {
        if t.year() > year_limit {
            return None;
        }
        while (1u64 << t.month()) & s.month == 0 {
            if !added {
                added = true;
                t = go_date(&zone, t.year(), i32::try_from(t.month()).ok()?, 1, 0, 0, 0)?;
            }
            t = add_date(&t, 1, 0)?;
            if t.month() == 1 {
                continue 'wrap;
            }
        }
        while !day_matches(s, t.date_naive()) {
            if !added {
                added = true;
                let month = i32::try_from(t.month()).ok()?;
                t = go_date(&zone, t.year(), month, i64::from(t.day()), 0, 0, 0)?;
            }
            t = add_date(&t, 0, 1)?;
            // Midnight may not exist on a DST day: step back (or on) to the day's first hour.
            let h = i64::from(t.hour());
            if h != 0 {
                t = t.checked_add_signed(if h > 12 { hours(24 - h) } else { hours(-h) })?;
            }
            if t.day() == 1 {
                continue 'wrap;
            }
        }
        while (1u64 << t.hour()) & s.hour == 0 {
            if !added {
                added = true;
                let month = i32::try_from(t.month()).ok()?;
                t = go_date(&zone, t.year(), month, i64::from(t.day()), t.hour(), 0, 0)?;
            }
            t = t.checked_add_signed(hours(1))?;
            if t.hour() == 0 {
                continue 'wrap;
            }
        }
        while (1u64 << t.minute()) & s.minute == 0 {
            if !added {
                added = true;
                let unix = t.timestamp();
                t = DateTime::from_timestamp(unix - unix.rem_euclid(60), 0)?.with_timezone(&zone);
            }
            t = t.checked_add_signed(Duration::minutes(1))?;
            if t.minute() == 0 {
                continue 'wrap;
            }
        }
        // ParseStandard schedules fire at second 0 only.
        while t.second() != 0 {
            added = true;
            t = t.checked_add_signed(Duration::seconds(1))?;
            if t.second() == 0 {
                continue 'wrap;
            }
        }
        return Some(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn err(s: &str) -> String {
        match parse_standard(s) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{s} parsed"),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .expect("test time")
    }

    #[test]
    fn standard_specs_and_descriptors_parse() {
        for s in [
            "*/1 * * * *",
            "0 0 * * ?",
            "5,10-20/5 1-3 1 jan-Mar mon-FRI",
            "@hourly",
            "@every 1h30m",
            "@yearly",
        ] {
            assert!(parse_standard(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn wrong_field_count_reads_like_robfig() {
        assert_eq!(
            err("* * * *"),
            "expected exactly 5 fields, found 4: [* * * *]"
        );
        assert_eq!(
            err("0 0 0 * * *"),
            "expected exactly 5 fields, found 6: [0 0 0 * * *]"
        );
    }

    #[test]
    fn range_errors_read_like_robfig() {
        assert_eq!(
            err("60 * * * *"),
            "end of range (60) above maximum (59): 60"
        );
        assert_eq!(
            err("* * 0 * *"),
            "beginning of range (0) below minimum (1): 0"
        );
        assert_eq!(
            err("5-1 * * * *"),
            "beginning of range (5) beyond end of range (1): 5-1"
        );
        assert_eq!(
            err("*/0 * * * *"),
            "step of range should be a positive number: */0"
        );
        assert_eq!(
            err("x * * * *"),
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(err("1-2-3 * * * *"), "too many hyphens: 1-2-3");
        assert_eq!(err("1/2/3 * * * *"), "too many slashes: 1/2/3");
    }

    #[test]
    fn descriptor_errors_read_like_robfig() {
        assert_eq!(err("@fortnightly"), "unrecognized descriptor: @fortnightly");
        assert_eq!(
            err("@every 5x"),
            "failed to parse duration @every 5x: time: unknown unit \"x\" in duration \"5x\""
        );
        assert_eq!(err(""), "empty spec string");
    }

    #[test]
    fn tz_prefix_loads_zone_or_fails_like_upstream() {
        assert!(parse_standard("TZ=Europe/Berlin 0 * * * *").is_ok());
        assert_eq!(
            err("TZ=Mars/Base 0 * * * *"),
            "provided bad location Mars/Base: unknown time zone Mars/Base"
        );
        assert_eq!(
            err("TZ=UTC"),
            "invalid schedule format: runtime error: slice bounds out of range [:-1]"
        );
    }

    #[test]
    fn next_run_of_every_minute_is_the_next_minute() {
        let s = parse_standard("* * * * *").expect("valid");
        assert_eq!(
            s.next_after(&at("2024-01-01T10:00:30Z")),
            Some(at("2024-01-01T10:01:00Z"))
        );
    }

    #[test]
    fn next_run_skips_to_matching_day_and_hour() {
        let s = parse_standard("30 6 * * mon").expect("valid");
        // 2024-01-03 is a Wednesday; next Monday is the 8th.
        assert_eq!(
            s.next_after(&at("2024-01-03T12:00:00Z")),
            Some(at("2024-01-08T06:30:00Z"))
        );
        let y = parse_standard("@yearly").expect("valid");
        assert_eq!(
            y.next_after(&at("2024-03-01T00:00:00Z")),
            Some(at("2025-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn dom_and_dow_are_ored_when_both_restricted() {
        let s = parse_standard("0 0 13 * fri").expect("valid");
        // From 2024-01-01 (Monday): Friday the 5th comes before the 13th.
        assert_eq!(
            s.next_after(&at("2024-01-01T00:00:00Z")),
            Some(at("2024-01-05T00:00:00Z"))
        );
    }

    #[test]
    fn impossible_date_never_runs() {
        let s = parse_standard("0 0 30 2 *").expect("valid");
        assert_eq!(s.next_after(&at("2024-01-01T00:00:00Z")), None);
    }

    #[test]
    fn schedule_zone_is_honoured() {
        let s = parse_standard("TZ=America/New_York 0 9 * * *").expect("valid");
        // 09:00 in New York in January is 14:00 UTC.
        assert_eq!(
            s.next_after(&at("2024-01-10T00:00:00Z")),
            Some(at("2024-01-10T14:00:00Z"))
        );
    }

    #[test]
    fn every_adds_the_delay() {
        let s = parse_standard("@every 90s").expect("valid");
        assert_eq!(
            s.next_after(&at("2024-01-01T00:00:00Z")),
            Some(at("2024-01-01T00:01:30Z"))
        );
    }

    fn next_utc(spec: &str, after: &str) -> Option<DateTime<Utc>> {
        parse_standard(spec).expect("valid").next_after(&at(after))
    }

    #[test]
    fn spring_forward_skips_the_missing_wall_time_like_robfig() {
        // 2026-03-08 02:00 EST jumps to 03:00 EDT: robfig advances hours as absolute hours, so
        // 02:30 does not run that day; the next run is 02:30 EDT on the 9th.
        let spec = "TZ=America/New_York 30 2 * * *";
        assert_eq!(
            next_utc(spec, "2026-03-07T07:30:00Z"),
            Some(at("2026-03-09T06:30:00Z"))
        );
        // An hourly schedule just continues: 01:00 EST is followed by 03:00 EDT.
        assert_eq!(
            next_utc("TZ=America/New_York 0 * * * *", "2026-03-08T06:00:00Z"),
            Some(at("2026-03-08T07:00:00Z"))
        );
    }

    #[test]
    fn fall_back_runs_the_repeated_wall_time_twice_like_robfig() {
        // 2026-11-01 02:00 EDT falls back to 01:00 EST: 01:30 happens twice and robfig runs both.
        let spec = "TZ=America/New_York 30 1 * * *";
        assert_eq!(
            next_utc(spec, "2026-10-31T12:00:00Z"),
            Some(at("2026-11-01T05:30:00Z"))
        );
        assert_eq!(
            next_utc(spec, "2026-11-01T05:30:00Z"),
            Some(at("2026-11-01T06:30:00Z"))
        );
        assert_eq!(
            next_utc(spec, "2026-11-01T06:30:00Z"),
            Some(at("2026-11-02T06:30:00Z"))
        );
        // East of UTC as well: Berlin repeats 02:00-03:00 on 2026-10-25.
        let berlin = "TZ=Europe/Berlin 30 2 * * *";
        assert_eq!(
            next_utc(berlin, "2026-10-24T12:00:00Z"),
            Some(at("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            next_utc(berlin, "2026-10-25T00:30:00Z"),
            Some(at("2026-10-25T01:30:00Z"))
        );
    }

    #[test]
    fn missing_midnight_is_handled_like_robfig() {
        // America/Havana springs forward at midnight (2026-03-08 00:00 CST -> 01:00 CDT). robfig's
        // day loop lands on 23:00 the day before, notices and moves on to 01:00, so a job at
        // 01:00 on the 8th runs; a daily midnight job simply has no midnight that day.
        assert_eq!(
            next_utc("TZ=America/Havana 0 1 8 3 *", "2026-03-07T12:00:00Z"),
            Some(at("2026-03-08T05:00:00Z"))
        );
        assert_eq!(
            next_utc("TZ=America/Havana 0 0 * * *", "2026-03-07T12:00:00Z"),
            Some(at("2026-03-09T04:00:00Z"))
        );
    }
}
