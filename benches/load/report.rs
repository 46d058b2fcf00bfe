//! Results: one record per scenario run (a Markdown row on stdout, a JSON line in a file),
//! and the summary of many records — medians per target and scenario, and linechat's
//! ratio to the best daemon.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Record {
    pub target: String,
    pub scenario: String,
    pub run: usize,
    /// Figures by name (see [`METRICS`]); absent when they do not apply.
    pub metrics: BTreeMap<String, f64>,
    /// Exactly-once, order and connection checks passed.
    pub ok: bool,
    /// Other processes (or steal) took CPU during the measurement.
    pub disturbed: bool,
    pub notes: String,
}

/// The figures compared in the summary: name, label, whether higher is better.
pub const METRICS: &[(&str, &str, bool)] = &[
    (
        "deliveries_per_cpu_s",
        "deliveries per server CPU-second",
        true,
    ),
    ("p99_ms", "p99 latency (ms)", false),
    ("p50_ms", "p50 latency (ms)", false),
    ("cross_p99_ms", "cross-node p99 latency (ms)", false),
    ("cross_p50_ms", "cross-node p50 latency (ms)", false),
    ("deliveries_per_s", "deliveries per wall second", true),
    ("rss_per_conn_kib", "RSS per idle connection (KiB)", false),
    ("regs_per_s", "registrations per second", true),
    (
        "regs_per_cpu_s",
        "registrations per server CPU-second",
        true,
    ),
    ("latest_p99_ms", "CHATHISTORY LATEST 50 p99 (ms)", false),
    ("search_p99_ms", "SEARCH p99 (ms)", false),
];

impl Record {
    pub fn set(&mut self, name: &str, value: f64) {
        if value.is_finite() {
            self.metrics.insert(name.to_string(), value);
        }
    }

    pub fn markdown_header() -> &'static str {
        "| target | scenario | run | deliveries | server CPU s | deliveries/CPU-s | p50 ms | p99 ms | max ms | RSS/conn KiB | regs/s | loss/dup/reorder | other CPU s | status |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    }

    pub fn markdown_row(&self) -> String {
        let m = |k: &str, digits: usize| {
            self.metrics
                .get(k)
                .map_or("–".to_string(), |v| format!("{v:.digits$}"))
        };
        let status = match (self.ok, self.disturbed) {
            (false, _) => "FAILED",
            (true, true) => "disturbed",
            (true, false) => "ok",
        };
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{}/{} | {} | {}{} |",
            self.target,
            self.scenario,
            self.run,
            m("deliveries", 0),
            m("server_cpu_s", 3),
            m("deliveries_per_cpu_s", 0),
            m("p50_ms", 1),
            m("p99_ms", 1),
            m("max_ms", 1),
            m("rss_per_conn_kib", 2),
            m("regs_per_s", 0),
            m("lost", 0),
            m("duplicates", 0),
            m("reordered", 0),
            m("other_cpu_s", 2),
            status,
            if self.notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.notes)
            }
        )
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn fmt(v: f64) -> String {
    if v >= 100_000.0 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1000.0 {
        format!("{:.0}", v)
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The summary table: per scenario and figure, the median over clean, undisturbed runs of
/// each target, the spread (max−min over median) of linechat's runs, and linechat's ratio
/// to the best other target.
pub fn summary(records: &[Record]) -> String {
    let good: Vec<&Record> = records.iter().filter(|r| r.ok && !r.disturbed).collect();
    let mut targets: Vec<String> = Vec::new();
    let mut scenarios: Vec<String> = Vec::new();
    for r in &good {
        if !targets.contains(&r.target) {
            targets.push(r.target.clone());
        }
        if !scenarios.contains(&r.scenario) {
            scenarios.push(r.scenario.clone());
        }
    }
    // linechat first, then the others in the order met.
    targets.sort_by_key(|t| !t.starts_with("linechat"));
    let mut out = String::new();
    out.push_str("| scenario | figure |");
    for t in &targets {
        out.push_str(&format!(" {t} |"));
    }
    out.push_str(" linechat spread | linechat / best daemon |\n|---|---|");
    for _ in &targets {
        out.push_str("---|");
    }
    out.push_str("---|---|\n");
    for s in &scenarios {
        for (key, label, higher) in METRICS {
            let values = |t: &str| -> Vec<f64> {
                good.iter()
                    .filter(|r| r.target == t && &r.scenario == s)
                    .filter_map(|r| r.metrics.get(*key).copied())
                    .collect()
            };
            let medians: Vec<Option<f64>> = targets.iter().map(|t| median(values(t))).collect();
            if medians.iter().all(Option::is_none) {
                continue;
            }
            out.push_str(&format!("| {s} | {label} |"));
            for (t, m) in targets.iter().zip(&medians) {
                let n = values(t).len();
                match m {
                    Some(v) => out.push_str(&format!(" {} (n={n}) |", fmt(*v))),
                    None => out.push_str(" – |"),
                }
            }
            let lc = targets
                .iter()
                .position(|t| t == "linechat")
                .and_then(|i| medians[i]);
            let spread = {
                let v = values("linechat");
                match (median(v.clone()), v.iter().copied().reduce(f64::max)) {
                    (Some(m), Some(hi)) if m > 0.0 => {
                        let lo = v.iter().copied().reduce(f64::min).unwrap_or(hi);
                        format!("{:.0}%", (hi - lo) / m * 100.0)
                    }
                    _ => "–".into(),
                }
            };
            let best = targets
                .iter()
                .zip(&medians)
                .filter(|(t, _)| !t.starts_with("linechat"))
                .filter_map(|(t, m)| m.map(|m| (t, m)))
                .reduce(|a, b| {
                    let better = if *higher { b.1 > a.1 } else { b.1 < a.1 };
                    if better { b } else { a }
                });
            let ratio = match (lc, best) {
                (Some(l), Some((t, b))) if b > 0.0 => format!("{:.2} (vs {t})", l / b),
                _ => "–".into(),
            };
            out.push_str(&format!(" {spread} | {ratio} |\n"));
        }
    }
    let bad: Vec<&Record> = records.iter().filter(|r| !r.ok || r.disturbed).collect();
    if !bad.is_empty() {
        out.push_str("\nRuns left out of the medians:\n\n");
        for r in bad {
            out.push_str(&format!(
                "- {} {} run {}: {}{}\n",
                r.target,
                r.scenario,
                r.run,
                if r.ok { "disturbed" } else { "failed checks" },
                if r.notes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.notes)
                }
            ));
        }
    }
    out
}
