//! Deterministic generator of large synthetic room archives, for benchmarking search.
//!
//! `cargo run --release --example gen_archive -- OUT_DIR [MESSAGES] [SEED] [JAPANESE_PERCENT]`
//!
//! Same arguments, same bytes: a seeded ChaCha RNG drives everything. ~200 users, 15
//! rooms, a 3,000-word synthetic vocabulary drawn with Zipf (s = 1) frequencies, a few
//! planted stock phrases (so phrase queries have answers), JAPANESE_PERCENT (default 5)
//! of messages in Japanese, timestamps spread over six months from 2026-06-01, files in
//! the archive's exact format (`history_<room>.csv`, RFC 3339 UTC with milliseconds).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use linechat::names::archive_file_name;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ROOMS: [&str; 15] = [
    "#general",
    "#random",
    "#dev",
    "#ops",
    "#deploy",
    "#support",
    "#design",
    "#qa",
    "#infra",
    "#data",
    "#mobile",
    "#web",
    "#security",
    "#開発",
    "#雑談",
];

const JAPANESE: [&str; 40] = [
    "デプロイ",
    "明日",
    "開発",
    "環境",
    "更新",
    "テスト",
    "サーバー",
    "確認",
    "お願いします",
    "ありがとう",
    "します",
    "しました",
    "です",
    "ます",
    "問題",
    "解決",
    "会議",
    "資料",
    "今日",
    "昨日",
    "リリース",
    "バグ",
    "修正",
    "レビュー",
    "本番",
    "障害",
    "対応",
    "完了",
    "予定",
    "ログ",
    "検索",
    "設定",
    "データ",
    "移行",
    "性能",
    "改善",
    "猫",
    "東京",
    "大阪",
    "了解",
];

const PARTICLES: [&str; 8] = ["を", "が", "は", "に", "で", "の", "と", "も"];

const STOCK_PHRASES: [&str; 4] = [
    "the deploy is done",
    "can someone review my pull request",
    "lunch in ten minutes",
    "the build is green again",
];

/// Pronounceable pseudo-words: deterministic, distinct, and tokenized like real words.
fn vocabulary(rng: &mut ChaCha8Rng, n: usize) -> Vec<String> {
    let onsets = [
        "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "st", "tr",
    ];
    let vowels = ["a", "e", "i", "o", "u", "ai", "ou"];
    let mut seen = std::collections::HashSet::new();
    let mut words = Vec::with_capacity(n);
    while words.len() < n {
        let syllables = rng.random_range(1..=3);
        let mut w = String::new();
        for _ in 0..syllables {
            w.push_str(onsets[rng.random_range(0..onsets.len())]);
            w.push_str(vowels[rng.random_range(0..vowels.len())]);
        }
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    words
}

/// Cumulative Zipf weights for sampling rank k with probability ~ 1/k.
fn zipf_table(n: usize) -> Vec<f64> {
    let mut acc = 0.0;
    (1..=n)
        .map(|k| {
            acc += 1.0 / k as f64;
            acc
        })
        .collect()
}

fn zipf(rng: &mut ChaCha8Rng, table: &[f64]) -> usize {
    let x = rng.random::<f64>() * table[table.len() - 1];
    table.partition_point(|&c| c < x).min(table.len() - 1)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(args.first().map_or("bench-logs", String::as_str));
    let messages: u64 = args.get(1).map_or(Ok(1_000_000), |s| s.parse())?;
    let seed: u64 = args.get(2).map_or(Ok(42), |s| s.parse())?;
    let japanese_percent: f64 = args.get(3).map_or(Ok(5.0), |s| s.parse())?;
    fs::create_dir_all(&out)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let words = vocabulary(&mut rng, 3000);
    let table = zipf_table(words.len());
    let users: Vec<String> = (0..200).map(|i| format!("user{i}")).collect();
    let user_table = zipf_table(users.len());
    let room_table = zipf_table(ROOMS.len());
    let mut writers: HashMap<&str, csv::Writer<BufWriter<File>>> = HashMap::new();
    for room in ROOMS {
        let file = File::create(out.join(archive_file_name(room)))?;
        let mut w = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, file));
        w.write_record(["timestamp", "username", "message"])?;
        writers.insert(room, w);
    }
    let start = Utc
        .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .unwrap()
        .timestamp_millis();
    let span_ms: i64 = 183 * 24 * 3600 * 1000;
    let step = span_ms / messages.max(1) as i64;
    let mut t = start;
    for _ in 0..messages {
        t += rng.random_range(0..=2 * step.max(1));
        let room = ROOMS[zipf(&mut rng, &room_table)];
        let user = &users[zipf(&mut rng, &user_table)];
        let text = if rng.random::<f64>() * 100.0 < japanese_percent {
            let n = rng.random_range(2..=6);
            let mut s = String::new();
            for i in 0..n {
                s.push_str(JAPANESE[rng.random_range(0..JAPANESE.len())]);
                if i + 1 < n && rng.random_bool(0.6) {
                    s.push_str(PARTICLES[rng.random_range(0..PARTICLES.len())]);
                }
            }
            s.push('。');
            s
        } else {
            let n = rng.random_range(3..=15);
            let mut parts: Vec<&str> = (0..n)
                .map(|_| words[zipf(&mut rng, &table)].as_str())
                .collect();
            if rng.random_bool(0.01) {
                parts.insert(
                    rng.random_range(0..parts.len()),
                    STOCK_PHRASES[rng.random_range(0..4)],
                );
            }
            let mut s = parts.join(" ");
            if rng.random_bool(0.1) {
                s.push_str(", ok?");
            }
            s
        };
        let ts = Utc
            .timestamp_millis_opt(t)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        writers
            .get_mut(room)
            .unwrap()
            .write_record([ts.as_str(), user, text.as_str()])?;
    }
    for (_, mut w) in writers {
        w.flush()?;
    }
    println!("wrote {messages} messages to {}", out.display());
    Ok(())
}
