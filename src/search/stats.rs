//! Message counts per room and over time, read from the fast-field columns (no document
//! is loaded, so this takes well under a second even for millions of messages), and a
//! small terminal bar chart to show them.
//!
//! `chat-search stats` can be limited to one room and a date range. Time is grouped by
//! day for ranges up to 62 days, by week (starting on Monday) up to a year, by month
//! beyond, so the chart stays readable; empty days, weeks or months are shown as such.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use chrono::{Datelike, Days, Months, NaiveDate};
use tantivy::{DocId, Searcher};

use super::output::{pad, str_width};
use super::query::{QueryError, parse_room};
use super::timestamps::{Bound, Zone, parse_bound, parse_tz};

/// What `chat-search stats` counts: messages in a room and a date range (all by default).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Time zone for days and date-only bounds (`UTC` when empty).
    pub tz: String,
    /// Only this room.
    pub room: Option<String>,
    /// From this date (inclusive).
    pub since: Option<String>,
    /// Up to this date (inclusive).
    pub until: Option<String>,
}

/// Counts of the messages that passed the filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live (not deleted) messages.
    pub total: u64,
    /// Messages per room key.
    pub per_room: BTreeMap<String, u64>,
    /// Messages per calendar day in the requested time zone.
    pub per_day: BTreeMap<NaiveDate, u64>,
}

/// Counts messages per room and per day (days in `tz`), only those in room `room` (a
/// key) and between `from` and `to` (UTC milliseconds, inclusive) when given.
pub fn collect(
    searcher: &Searcher,
    tz: Zone,
    room: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
) -> tantivy::Result<Stats> {
    let mut stats = Stats::default();
    for segment in searcher.segment_readers() {
        let fast = segment.fast_fields();
        let times = fast.date("timestamp")?;
        let rooms = fast.str("room")?;
        let mut names: HashMap<u64, String> = HashMap::new();
        let alive = |doc: DocId| segment.alive_bitset().is_none_or(|b| b.is_alive(doc));
        for doc in (0..segment.max_doc()).filter(|&d| alive(d)) {
            let ms = times.first(doc).map(|t| t.into_timestamp_millis());
            if from.is_some_and(|f| ms.is_none_or(|m| m < f))
                || to.is_some_and(|t| ms.is_none_or(|m| m > t))
            {
                continue;
            }
            let name = match rooms.as_ref().and_then(|r| r.ords().first(doc)) {
                Some(ord) => {
                    if let std::collections::hash_map::Entry::Vacant(e) = names.entry(ord) {
                        let mut name = String::new();
                        if let Some(r) = &rooms {
                            r.ord_to_str(ord, &mut name)?;
                        }
                        e.insert(name);
                    }
                    names[&ord].as_str()
                }
                None => "",
            };
            if room.is_some_and(|r| r != name) {
                continue;
            }
            stats.total += 1;
            *stats.per_room.entry(name.to_string()).or_default() += 1;
            if let Some(day) = ms.and_then(|m| tz.day_of(m)) {
                *stats.per_day.entry(day).or_default() += 1;
            }
        }
    }
    Ok(stats)
}

/// How the time chart groups days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One bar per day (ranges up to 62 days).
    Day,
    /// One bar per week, Monday to Sunday (up to 366 days).
    Week,
    /// One bar per month.
    Month,
}

impl Grouping {
    /// The grouping for days from `first` to `last`.
    pub fn for_range(first: NaiveDate, last: NaiveDate) -> Grouping {
        match (last - first).num_days() + 1 {
            ..=62 => Grouping::Day,
            63..=366 => Grouping::Week,
            _ => Grouping::Month,
        }
    }

    fn start(self, d: NaiveDate) -> NaiveDate {
        match self {
            Grouping::Day => d,
            Grouping::Week => d - Days::new(u64::from(d.weekday().num_days_from_monday())),
            Grouping::Month => d.with_day(1).unwrap_or(d),
        }
    }

    fn next(self, d: NaiveDate) -> Option<NaiveDate> {
        match self {
            Grouping::Day => d.checked_add_days(Days::new(1)),
            Grouping::Week => d.checked_add_days(Days::new(7)),
            Grouping::Month => d.checked_add_months(Months::new(1)),
        }
    }

    fn label(self, d: NaiveDate) -> String {
        match self {
            Grouping::Day => d.to_string(),
            Grouping::Week => format!("week of {d}"),
            Grouping::Month => d.format("%Y-%m").to_string(),
        }
    }

    fn title(self) -> &'static str {
        match self {
            Grouping::Day => "per day:",
            Grouping::Week => "per week (weeks start on Monday):",
            Grouping::Month => "per month:",
        }
    }
}

/// Rows of the time chart: every day, week or month from the first message to the last,
/// empty ones included.
pub fn over_time(per_day: &BTreeMap<NaiveDate, u64>) -> (Grouping, Vec<(String, u64)>) {
    let (Some((&first, _)), Some((&last, _))) =
        (per_day.first_key_value(), per_day.last_key_value())
    else {
        return (Grouping::Day, Vec::new());
    };
    let g = Grouping::for_range(first, last);
    let mut buckets: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    let mut at = Some(g.start(first));
    while let Some(d) = at.filter(|d| *d <= last) {
        buckets.insert(d, 0);
        at = g.next(d);
    }
    for (day, n) in per_day {
        *buckets.entry(g.start(*day)).or_default() += n;
    }
    (
        g,
        buckets.into_iter().map(|(d, n)| (g.label(d), n)).collect(),
    )
}

/// The whole `chat-search stats` report for `filter` over the index in `index_dir`.
pub fn report(
    searcher: &Searcher,
    filter: &Filter,
    index_dir: &Path,
) -> Result<String, anyhow::Error> {
    let tz_text = if filter.tz.is_empty() {
        "UTC"
    } else {
        &filter.tz
    };
    let tz = parse_tz(tz_text).map_err(QueryError::BadTz)?;
    let room = filter.room.as_deref().map(parse_room).transpose()?;
    let bound = |v: &Option<String>, b| {
        v.as_deref()
            .map(|v| parse_bound(v, b, tz).map_err(QueryError::BadDate))
            .transpose()
    };
    let from = bound(&filter.since, Bound::Since)?;
    let to = bound(&filter.until, Bound::Until)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(QueryError::EmptyRange(
            filter.since.clone().unwrap_or_default(),
            filter.until.clone().unwrap_or_default(),
        )
        .into());
    }
    let s = collect(searcher, tz, room.as_deref(), from, to)?;
    let mut out = String::new();
    let mut scope = Vec::new();
    if let Some(r) = &room {
        scope.push(r.clone());
    }
    if let Some(v) = &filter.since {
        scope.push(format!("since {v}"));
    }
    if let Some(v) = &filter.until {
        scope.push(format!("until {v}"));
    }
    let _ = writeln!(
        out,
        "{} message{} in {} room{}{}",
        group_thousands(s.total),
        if s.total == 1 { "" } else { "s" },
        s.per_room.len(),
        if s.per_room.len() == 1 { "" } else { "s" },
        if scope.is_empty() {
            String::new()
        } else {
            format!(" ({})", scope.join(", "))
        }
    );
    let _ = writeln!(out, "{}", last_updated(index_dir));
    let _ = writeln!(out, "\nper room:");
    out.push_str(&bar_chart(s.per_room.clone(), 40));
    let (grouping, rows) = over_time(&s.per_day);
    let _ = writeln!(out, "\n{}", grouping.title());
    out.push_str(&bar_chart(rows, 40));
    Ok(out)
}

/// `index last updated 2026-11-26 13:48:52 UTC`: when the last commit wrote `meta.json`.
pub fn last_updated(index_dir: &Path) -> String {
    match std::fs::metadata(index_dir.join("meta.json")).and_then(|m| m.modified()) {
        Ok(t) => format!(
            "index last updated {}",
            chrono::DateTime::<chrono::Utc>::from(t).format("%Y-%m-%d %H:%M:%S UTC")
        ),
        Err(_) => "index last updated: unknown".to_string(),
    }
}

/// Renders labelled counts as horizontal bars `width` characters at most.
pub fn bar_chart<'a>(rows: impl IntoIterator<Item = (String, u64)> + 'a, width: usize) -> String {
    let rows: Vec<(String, u64)> = rows.into_iter().collect();
    let max = rows.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let label_w = rows.iter().map(|(l, _)| str_width(l)).max().unwrap_or(0);
    let num_w = rows
        .iter()
        .map(|(_, n)| group_thousands(*n).len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (label, n) in rows {
        let len = (n as f64 / max as f64 * width as f64).round() as usize;
        let bar = if n > 0 {
            "█".repeat(len.max(1))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{}  {:>num_w$}  {bar}",
            pad(&label, label_w),
            group_thousands(n)
        );
    }
    out
}

/// `1204331` -> `1,204,331`, for counts people read.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_204_331), "1,204,331");
    }

    #[test]
    fn long_ranges_are_grouped_by_week_or_month_with_empty_ones_shown() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let mut per_day = BTreeMap::new();
        per_day.insert(day("2026-01-01"), 2);
        per_day.insert(day("2026-01-03"), 1);
        let (g, rows) = over_time(&per_day);
        assert_eq!(g, Grouping::Day);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1], ("2026-01-02".to_string(), 0));
        per_day.insert(day("2026-04-01"), 5);
        let (g, rows) = over_time(&per_day);
        assert_eq!(g, Grouping::Week);
        assert_eq!(rows[0], ("week of 2025-12-29".to_string(), 3));
        per_day.insert(day("2027-12-31"), 1);
        let (g, rows) = over_time(&per_day);
        assert_eq!(g, Grouping::Month);
        assert_eq!(rows.len(), 24);
        assert_eq!(rows[0], ("2026-01".to_string(), 3));
    }

    #[test]
    fn bars_scale_to_the_largest_count() {
        let chart = bar_chart(
            vec![
                ("#general".into(), 10),
                ("#dev".into(), 5),
                ("#empty".into(), 0),
            ],
            10,
        );
        let lines: Vec<&str> = chart.lines().collect();
        assert_eq!(lines[0], format!("#general  10  {}", "█".repeat(10)));
        assert_eq!(lines[1], format!("#dev       5  {}", "█".repeat(5)));
        assert_eq!(lines[2], "#empty     0  ");
    }
}
