//! Search benchmark over an archive made by `gen_archive`: index build rate, index size,
//! and query latency (p50/p99) per query shape, compared with `grep -F` and `rg -F`.
//!
//! `cargo run --release --example search_bench -- LOG_DIR [ITERATIONS]`
//!
//! The index is built from scratch in `LOG_DIR/.index` (deleted first). Latencies are
//! for warm caches (the same query repeated), measured through the same `execute` the
//! CLI and the server use, with the default limit (50, newest first).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use linechat::search::cli;
use linechat::search::request::{SearchRequest, execute, open_for_search};
use linechat::search::{Scope, SortOrder};

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn csv_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    v.sort();
    v
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median wall time of `runs` runs of an external command (None if not installed).
fn time_tool(tool: &str, args: &[&str], files: &[PathBuf], runs: usize) -> Option<Duration> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let status = Command::new(tool).args(args).args(files).output().ok()?;
        times.push(t.elapsed());
        if !status.status.success() && status.status.code() != Some(1) {
            return None;
        }
    }
    times.sort();
    Some(times[times.len() / 2])
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let log_dir = PathBuf::from(args.first().map_or("bench-logs", String::as_str));
    let iterations: usize = args.get(1).map_or(Ok(200), |s| s.parse())?;
    let index_dir = log_dir.join(".index");
    let files = csv_files(&log_dir);
    let csv_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();

    let _ = std::fs::remove_dir_all(&index_dir);
    let summary = cli::index(&log_dir, &index_dir, false, &mut std::io::sink())?;
    let n = summary.report.added;
    let secs = summary.elapsed.as_secs_f64();
    println!(
        "of which committing  {:.1} s",
        summary.commit_elapsed.as_secs_f64()
    );
    let index_bytes = dir_size(&index_dir);
    println!("messages            {n}");
    println!(
        "index build         {secs:.1} s = {:.0} messages/s",
        n as f64 / secs
    );
    println!("csv size            {:.1} MB", csv_bytes as f64 / 1e6);
    println!(
        "index size          {:.1} MB = {:.2} x csv = {:.0} bytes/message",
        index_bytes as f64 / 1e6,
        index_bytes as f64 / csv_bytes as f64,
        index_bytes as f64 / n as f64
    );

    let (index, fields) = open_for_search(&index_dir)?;
    let searcher = index.reader()?.searcher();
    let shapes: Vec<(&str, &str, Scope, &str)> = vec![
        ("single word", "la", Scope::default(), "la"),
        ("two words", "paire tro", Scope::default(), ""),
        (
            "phrase",
            "\"the deploy is done\"",
            Scope::default(),
            "the deploy is done",
        ),
        (
            "user+room filter",
            "paire user:user7 room:#dev",
            Scope::default(),
            "",
        ),
        (
            "date range (1 month)",
            "la",
            Scope {
                since: Some("2026-08-01".into()),
                until: Some("2026-08-31".into()),
                ..Scope::default()
            },
            "",
        ),
        ("japanese word", "デプロイ", Scope::default(), "デプロイ"),
        ("rare word", "tetrupe", Scope::default(), "tetrupe"),
    ];
    println!();
    println!("| query | matches | p50 ms | p99 ms | grep -F ms | rg -F ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, q, scope, grep_pattern) in shapes {
        let req = SearchRequest {
            query: q.to_string(),
            scope,
            sort: SortOrder::Time,
            limit: 50,
        };
        let mut times = Vec::with_capacity(iterations);
        let mut total = 0;
        for _ in 0..iterations {
            let t = Instant::now();
            let r = execute(&searcher, &fields, &req)?;
            times.push(t.elapsed());
            total = r.total;
        }
        times.sort();
        let (grep, rg) = if grep_pattern.is_empty() {
            ("n/a".to_string(), "n/a".to_string())
        } else {
            let show = |d: Option<Duration>| d.map_or("n/a".into(), |d| format!("{:.0}", ms(d)));
            (
                show(time_tool("grep", &["-F", "-c", grep_pattern], &files, 5)),
                show(time_tool("rg", &["-F", "-c", grep_pattern], &files, 5)),
            )
        };
        println!(
            "| {name}: `{q}` | {total} | {:.2} | {:.2} | {grep} | {rg} |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
        );
    }
    Ok(())
}
