//! Message counts per room and per day, read from the fast-field columns (no document
//! is loaded, so this takes well under a second even for millions of messages), and a
//! small terminal bar chart to show them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{FixedOffset, NaiveDate};
use tantivy::{DocId, Searcher};

use super::output::{pad, str_width};
use super::timestamps::day_of;

/// Counts over the whole index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live (not deleted) messages.
    pub total: u64,
    /// Messages per room key.
    pub per_room: BTreeMap<String, u64>,
    /// Messages per calendar day in the requested time zone.
    pub per_day: BTreeMap<NaiveDate, u64>,
}

/// Counts messages per room and per day (days in `tz`).
pub fn collect(searcher: &Searcher, tz: FixedOffset) -> tantivy::Result<Stats> {
    let mut stats = Stats::default();
    for segment in searcher.segment_readers() {
        let fast = segment.fast_fields();
        let times = fast.date("timestamp")?;
        let rooms = fast.str("room")?;
        let mut room_counts: BTreeMap<u64, u64> = BTreeMap::new();
        let alive = |doc: DocId| segment.alive_bitset().is_none_or(|b| b.is_alive(doc));
        for doc in (0..segment.max_doc()).filter(|&d| alive(d)) {
            stats.total += 1;
            if let Some(day) = times
                .first(doc)
                .and_then(|t| day_of(t.into_timestamp_millis(), tz))
            {
                *stats.per_day.entry(day).or_default() += 1;
            }
            if let Some(ord) = rooms.as_ref().and_then(|r| r.ords().first(doc)) {
                *room_counts.entry(ord).or_default() += 1;
            }
        }
        if let Some(rooms) = &rooms {
            let mut name = String::new();
            for (ord, n) in room_counts {
                name.clear();
                rooms.ord_to_str(ord, &mut name)?;
                *stats.per_room.entry(name.clone()).or_default() += n;
            }
        }
    }
    Ok(stats)
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
