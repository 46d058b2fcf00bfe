//! Parsing timestamps: our archive format, foreign CSVs' formats, and the `since`/`until`
//! bounds and `--tz` offsets users type.
//!
//! The archive writes RFC 3339 UTC with milliseconds (`2026-11-23T10:15:30.123Z`). CSVs
//! from other tools with the same three columns are accepted too: any RFC 3339 offset,
//! and naive `2025-01-01 12:00:00` / `2025-01-01T12:00:00.123456` which are taken as UTC
//! (what Python's `datetime.utcnow().isoformat()` and `str()` produce). Sub-millisecond
//! digits are truncated, matching the index's millisecond precision.

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Naive layouts accepted in foreign CSVs (taken as UTC).
const NAIVE_FORMATS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
];

/// Parses a CSV timestamp into UTC milliseconds since the epoch, or `None` if it is in
/// no format we know (the row is then reported as malformed).
/// A row stamped outside 1900–2200 is taken as malformed, like one with no time at all:
/// no archive holds such a row, and the index cannot store it.
pub fn parse_row_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(ms) = parse_archive_stamp(s) {
        return Some(ms).filter(|ms| (MIN_BOUND_MS..=MAX_BOUND_MS).contains(ms));
    }
    let ms = match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.timestamp_millis(),
        Err(_) => NAIVE_FORMATS
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
            .map(|n| n.and_utc().timestamp_millis())?,
    };
    (MIN_BOUND_MS..=MAX_BOUND_MS).contains(&ms).then_some(ms)
}

/// The archive's own layout, `2026-11-23T10:15:30.123Z`, read without a general parser
/// (every archived row has it); `None` for anything else, left to the general parsers.
fn parse_archive_stamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 24 || &b[4..5] != b"-" || &b[7..8] != b"-" || &b[10..11] != b"T" {
        return None;
    }
    if &b[13..14] != b":" || &b[16..17] != b":" || &b[19..20] != b"." || &b[23..] != b"Z" {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let second = num(17..19).filter(|s| *s < 60)?;
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = date.and_hms_milli_opt(num(11..13)?, num(14..16)?, second, num(20..23)?)?;
    Some(time.and_utc().timestamp_millis())
}

/// Formats UTC milliseconds the way the archive does: `2026-11-23T10:15:30.123Z`. (Written
/// digit by digit: the archive writer stamps every row with it.)
pub fn format_millis(ms: i64) -> String {
    use chrono::{Datelike, Timelike};
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) if (0..=9999).contains(&t.year()) => {
            let mut out = String::with_capacity(24);
            let mut put = |n: u32, width: u32, sep: char| {
                for place in (0..width).rev() {
                    let digit = (n / 10u32.pow(place)) % 10;
                    out.push(char::from(b'0' + digit as u8));
                }
                out.push(sep);
            };
            put(t.year() as u32, 4, '-');
            put(t.month(), 2, '-');
            put(t.day(), 2, 'T');
            put(t.hour(), 2, ':');
            put(t.minute(), 2, ':');
            put(t.second(), 2, '.');
            put(t.timestamp_subsec_millis(), 3, 'Z');
            out
        }
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

/// A time zone for dates typed without an offset: a fixed offset or a named IANA zone
/// (whose offset depends on the date: daylight saving time is applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// `UTC`, `+09:00`, `-0500`…
    Fixed(FixedOffset),
    /// `Asia/Tokyo`, `America/New_York`… (the tz database is compiled in: no system files).
    Named(chrono_tz::Tz),
}

impl Zone {
    /// UTC.
    pub fn utc() -> Zone {
        Zone::Fixed(FixedOffset::east_opt(0).expect("zero offset is valid"))
    }

    /// The instant (UTC milliseconds) of local time `t` in this zone. In a daylight-saving
    /// overlap the earlier instant is taken; a local time skipped by a forward jump is
    /// taken as the first instant after the jump.
    pub fn instant(&self, t: NaiveDateTime) -> Option<i64> {
        fn pick<Z: TimeZone>(z: &Z, t: NaiveDateTime) -> Option<i64> {
            (0..=3).find_map(|h| {
                z.from_local_datetime(&(t + chrono::Duration::minutes(30 * h)))
                    .earliest()
                    .map(|d| d.timestamp_millis())
            })
        }
        match self {
            Zone::Fixed(z) => pick(z, t),
            Zone::Named(z) => pick(z, t),
        }
    }

    /// The calendar day (in this zone) of an instant.
    pub fn day_of(&self, ms: i64) -> Option<NaiveDate> {
        match self {
            Zone::Fixed(z) => z.timestamp_millis_opt(ms).single().map(|d| d.date_naive()),
            Zone::Named(z) => z.timestamp_millis_opt(ms).single().map(|d| d.date_naive()),
        }
    }

    /// Today's date in this zone.
    pub fn today(&self) -> NaiveDate {
        self.day_of(Utc::now().timestamp_millis())
            .unwrap_or_else(|| Utc::now().date_naive())
    }
}

/// Parses a `--tz` value: `UTC`, `Z`, `+09:00`, `-0530`, `+9`, or an IANA zone name such
/// as `Asia/Tokyo` (from the tz database compiled into the program).
pub fn parse_tz(s: &str) -> Result<Zone, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("gmt")
    {
        return Ok(Zone::utc());
    }
    let bad = || {
        format!(
            "bad time zone `{s}`: use UTC, an offset like +09:00 or -05:00, \
             or a zone name like Asia/Tokyo"
        )
    };
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => {
            return t
                .parse::<chrono_tz::Tz>()
                .map(Zone::Named)
                .map_err(|_| bad());
        }
    };
    let (h, m) = if let Some((h, m)) = rest.split_once(':') {
        (h, m)
    } else if rest.len() == 4 {
        rest.split_at(2)
    } else {
        (rest, "0")
    };
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
        .map(Zone::Fixed)
        .ok_or_else(bad)
}

/// Which end of a date range a bound is: a whole day `until` includes all of that day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// `since`: inclusive start.
    Since,
    /// `until`: inclusive end.
    Until,
}

/// Parses a `since`/`until` value into an instant in UTC milliseconds, both inclusive.
///
/// * `2026-11-20` is a whole day in `tz`: as `since` its first millisecond, as `until`
///   its last, so `until 2026-11-20` includes everything said on the 20th; `today` and
///   `yesterday` are whole days the same way;
/// * `2026-11-20T10:00` (or with seconds) is a local time in `tz`;
/// * a full RFC 3339 timestamp (`2026-11-20T10:00:00Z`, `...+09:00`) is exact.
pub fn parse_bound(s: &str, bound: Bound, tz: Zone) -> Result<i64, String> {
    let ms = parse_bound_unchecked(s, bound, tz)?;
    // The index stores nanoseconds in an i64 (years 1678–2262): a bound outside the years
    // a chat archive can hold is a mistake, said as one, not an overflow.
    if !(MIN_BOUND_MS..=MAX_BOUND_MS).contains(&ms) {
        return Err(format!(
            "date `{s}` is out of range: use a date between 1900 and 2200"
        ));
    }
    Ok(ms)
}

/// 1900-01-01T00:00:00Z and 2200-12-31T23:59:59.999Z in milliseconds.
const MIN_BOUND_MS: i64 = -2_208_988_800_000;
const MAX_BOUND_MS: i64 = 7_289_654_399_999;

fn parse_bound_unchecked(s: &str, bound: Bound, tz: Zone) -> Result<i64, String> {
    let t = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_millis());
    }
    let word_day = if t.eq_ignore_ascii_case("today") {
        Some(tz.today())
    } else if t.eq_ignore_ascii_case("yesterday") {
        tz.today().pred_opt()
    } else {
        None
    };
    if let Some(day) = word_day.or_else(|| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()) {
        let day = match bound {
            Bound::Since => day,
            Bound::Until => day
                .checked_add_days(Days::new(1))
                .ok_or_else(|| bad_date(s))?,
        };
        let start = tz
            .instant(day.and_hms_opt(0, 0, 0).ok_or_else(|| bad_date(s))?)
            .ok_or_else(|| bad_date(s))?;
        return Ok(match bound {
            Bound::Since => start,
            Bound::Until => start - 1,
        });
    }
    for f in NAIVE_FORMATS {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return tz.instant(n).ok_or_else(|| bad_date(s));
        }
    }
    Err(bad_date(s))
}

fn bad_date(s: &str) -> String {
    format!(
        "bad date `{s}`: use 2026-11-01, today, yesterday, 2026-11-01T09:30 or an RFC 3339 \
         timestamp"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_layout_is_written_and_read_as_chrono_does() {
        let mut ms: i64 = -2_208_988_800_000; // 1900-01-01
        while ms < 7_258_118_400_000 {
            // up to 2200, in uneven steps that visit every field's range
            let chrono = Utc
                .timestamp_millis_opt(ms)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string();
            assert_eq!(format_millis(ms), chrono);
            assert_eq!(parse_archive_stamp(&chrono), Some(ms), "{chrono}");
            assert_eq!(
                DateTime::parse_from_rfc3339(&chrono)
                    .unwrap()
                    .timestamp_millis(),
                ms
            );
            ms += 7_777_777_777 + ms.rem_euclid(997);
        }
        for other in [
            "2026-02-30T00:00:00.000Z",
            "2026-11-23T10:15:60.000Z",
            "2026-11-23T10:15:30.123+00:00",
            "2026-11-23 10:15:30.123Z",
            "2026-11-23T1a:15:30.123Z",
        ] {
            assert_eq!(parse_archive_stamp(other), None, "{other}");
        }
    }

    #[test]
    fn bounds_outside_the_indexable_years_are_errors() {
        let utc = Zone::utc();
        let err = parse_bound("6640-11-01", Bound::Since, utc).unwrap_err();
        assert!(err.contains("out of range"), "{err}");
        assert!(parse_bound("1899-12-31", Bound::Until, utc).is_err());
        assert_eq!(
            parse_bound("1900-01-01", Bound::Since, utc),
            Ok(MIN_BOUND_MS)
        );
        assert_eq!(
            parse_bound("2200-12-31", Bound::Until, utc),
            Ok(MAX_BOUND_MS)
        );
    }

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn row_timestamps_ours_and_foreign() {
        assert_eq!(
            parse_row_timestamp("2026-11-23T10:15:30.123Z"),
            Some(ms("2026-11-23T10:15:30.123Z"))
        );
        assert_eq!(
            parse_row_timestamp("2025-01-01 12:00:00"),
            Some(ms("2025-01-01T12:00:00Z"))
        );
        assert_eq!(
            parse_row_timestamp("2025-01-01T12:00:00.123456"),
            Some(ms("2025-01-01T12:00:00.123Z"))
        );
        assert_eq!(
            parse_row_timestamp("2025-01-01T21:00:00+09:00"),
            Some(ms("2025-01-01T12:00:00Z"))
        );
        assert_eq!(parse_row_timestamp("yesterday"), None);
        assert_eq!(parse_row_timestamp("2025-13-01 00:00:00"), None);
        assert_eq!(
            format_millis(ms("2026-11-23T10:15:30.123Z")),
            "2026-11-23T10:15:30.123Z"
        );
    }

    #[test]
    fn time_zones() {
        let offset = |s: &str| match parse_tz(s).unwrap() {
            Zone::Fixed(f) => f.local_minus_utc(),
            Zone::Named(_) => panic!("{s} is not an offset"),
        };
        assert_eq!(offset("UTC"), 0);
        assert_eq!(offset("+09:00"), 9 * 3600);
        assert_eq!(offset("-0530"), -(5 * 3600 + 1800));
        assert_eq!(offset("-05:00"), -5 * 3600);
        assert_eq!(offset("+9"), 9 * 3600);
        assert!(matches!(parse_tz("Asia/Tokyo"), Ok(Zone::Named(_))));
        assert!(
            parse_tz("Mars/Olympus")
                .unwrap_err()
                .contains("Mars/Olympus")
        );
        assert!(parse_tz("+25:00").is_err());
    }

    #[test]
    fn named_zones_follow_daylight_saving_and_date_words_are_days() {
        let ny = parse_tz("America/New_York").unwrap();
        assert_eq!(
            parse_bound("2026-01-15", Bound::Since, ny).unwrap(),
            ms("2026-01-15T05:00:00Z")
        );
        assert_eq!(
            parse_bound("2026-07-15", Bound::Since, ny).unwrap(),
            ms("2026-07-15T04:00:00Z")
        );
        let tokyo = parse_tz("Asia/Tokyo").unwrap();
        assert_eq!(
            parse_bound("2026-11-20", Bound::Since, tokyo).unwrap(),
            ms("2026-11-19T15:00:00Z")
        );
        let utc = Zone::utc();
        let today = parse_bound("today", Bound::Since, utc).unwrap();
        let yesterday = parse_bound("Yesterday", Bound::Since, utc).unwrap();
        assert_eq!(today - yesterday, 86_400_000);
        assert_eq!(
            parse_bound("yesterday", Bound::Until, utc).unwrap(),
            today - 1
        );
        assert!(parse_bound("tomorrow", Bound::Since, utc).is_err());
        assert!(parse_bound("2026-13-01", Bound::Since, utc).is_err());
    }

    #[test]
    fn whole_days_are_inclusive_in_the_given_zone() {
        let utc = parse_tz("UTC").unwrap();
        let jst = parse_tz("+09:00").unwrap();
        assert_eq!(
            parse_bound("2026-11-20", Bound::Since, utc).unwrap(),
            ms("2026-11-20T00:00:00Z")
        );
        assert_eq!(
            parse_bound("2026-11-20", Bound::Until, utc).unwrap(),
            ms("2026-11-20T23:59:59.999Z")
        );
        assert_eq!(
            parse_bound("2026-11-20", Bound::Since, jst).unwrap(),
            ms("2026-11-19T15:00:00Z")
        );
        assert_eq!(
            parse_bound("2026-11-20", Bound::Until, jst).unwrap(),
            ms("2026-11-20T14:59:59.999Z")
        );
        assert_eq!(
            parse_bound("2026-11-20T10:00", Bound::Since, jst).unwrap(),
            ms("2026-11-20T01:00:00Z")
        );
        assert_eq!(
            parse_bound("2026-11-20T10:00:00Z", Bound::Until, jst).unwrap(),
            ms("2026-11-20T10:00:00Z")
        );
        let err = parse_bound("2026-02-30", Bound::Since, utc).unwrap_err();
        assert!(err.contains("bad date `2026-02-30`"), "{err}");
    }
}
