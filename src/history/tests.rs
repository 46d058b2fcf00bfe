//! Query tests: the irctest-style selector examples, rotation, foreign files, and a
//! large file checked against a naive full scan.

use std::path::Path;

use rand::{Rng, SeedableRng};

use super::*;
use crate::names::archive_file_name;
use crate::search::timestamps::parse_row_timestamp;

const BASE: i64 = 1_795_428_930_000; // 2026-11-23T...

fn write_rows(path: &Path, rows: &[(i64, &str, &str)]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(["timestamp", "username", "message"])
        .unwrap();
    for (ms, user, text) in rows {
        w.write_record([format_millis(*ms).as_str(), user, text])
            .unwrap();
    }
    w.flush().unwrap();
}

/// `#t` with m0..m9, one second apart; returns the log dir and the messages.
fn ten() -> (tempfile::TempDir, Vec<ArchivedMessage>) {
    let dir = tempfile::tempdir().unwrap();
    let texts: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    let rows: Vec<(i64, &str, &str)> = (0..10)
        .map(|i| (BASE + i as i64 * 1000, "alice", texts[i].as_str()))
        .collect();
    write_rows(&dir.path().join(archive_file_name("#t")), &rows);
    let all = query(dir.path(), "#t", &Selector::Latest { after: None }, 100).unwrap();
    assert_eq!(all.len(), 10);
    (dir, all)
}

fn texts(msgs: &[ArchivedMessage]) -> Vec<&str> {
    msgs.iter().map(|m| m.text.as_str()).collect()
}

fn range(a: usize, b: usize) -> Vec<String> {
    (a..=b).map(|i| format!("m{i}")).collect()
}

#[test]
fn selector_examples_with_timestamps_and_msgids() {
    let (dir, m) = ten();
    let q = |s: Selector, limit: usize| {
        let r = query(dir.path(), "#T", &s, limit).unwrap();
        texts(&r).into_iter().map(String::from).collect::<Vec<_>>()
    };
    assert_eq!(q(Selector::Latest { after: None }, 5), range(5, 9));
    let refs = |i: usize| {
        [
            Reference::Timestamp(m[i].millis),
            Reference::Msgid(m[i].msgid.clone()),
        ]
    };
    for kind in 0..2 {
        let r = |i: usize| refs(i)[kind].clone();
        let latest = Selector::Latest { after: Some(r(4)) };
        assert_eq!(q(latest, 20), range(5, 9));
        assert_eq!(q(Selector::Before(r(6)), 20), range(0, 5));
        assert_eq!(q(Selector::Before(r(6)), 2), range(4, 5));
        assert_eq!(q(Selector::After(r(3)), 20), range(4, 9));
        assert_eq!(q(Selector::After(r(3)), 3), range(4, 6));
        assert_eq!(q(Selector::Between(r(0), r(9)), 20), range(1, 8));
        assert_eq!(q(Selector::Between(r(9), r(0)), 20), range(1, 8));
        assert_eq!(q(Selector::Between(r(0), r(9)), 3), range(1, 3));
        assert_eq!(q(Selector::Between(r(9), r(0)), 3), range(6, 8));
        assert_eq!(q(Selector::Around(r(7)), 1), range(7, 7));
        assert_eq!(q(Selector::Around(r(7)), 3), range(6, 8));
        assert!(q(Selector::Around(r(7)), 0).is_empty());
    }
    // Case of the hex digits does not matter; a made-up id falls back to its time.
    let upper = Reference::Msgid(m[3].msgid.to_uppercase());
    assert_eq!(q(Selector::After(upper), 2), range(4, 5));
    let fake = Reference::Msgid(format!("{:011x}{}", m[3].millis, "0".repeat(16)));
    assert_eq!(q(Selector::After(fake.clone()), 2), range(4, 5));
    assert_eq!(q(Selector::Before(fake), 2), range(1, 2));
    assert!(q(Selector::After(Reference::Msgid("nope".into())), 5).is_empty());
    // Between two times that are not rows, and outside the archive.
    let t = |i: i64| Reference::Timestamp(BASE + i);
    assert_eq!(q(Selector::Between(t(2500), t(5500)), 10), range(3, 5));
    assert!(q(Selector::Before(t(0)), 10).is_empty());
    assert!(q(Selector::After(t(9000)), 10).is_empty());
    assert_eq!(q(Selector::After(t(-1)), 1), range(0, 0));
    // Messages carry their time, id and room-specific msgid.
    assert_eq!(m[0].time(), format_millis(BASE));
    assert_eq!(m[0].msgid, msgid("#t", BASE, "alice", "m0"));
    assert_eq!(recent(dir.path(), "#t", BASE + 7000, 10).unwrap(), m[7..]);
    assert_eq!(recent(dir.path(), "#t", BASE + 6500, 2).unwrap(), m[8..]);
    assert_eq!(latest_millis(dir.path(), "#t").unwrap(), Some(BASE + 9000));
    let path = dir.path().join("history_t.csv");
    assert_eq!(last_row_millis(&path).unwrap(), Some(BASE + 9000));
}

#[test]
fn missing_and_empty_archives_are_empty() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    assert!(
        query(&missing, "#a", &Selector::Latest { after: None }, 5)
            .unwrap()
            .is_empty()
    );
    assert_eq!(latest_millis(&missing, "#a").unwrap(), None);
    assert_eq!(last_row_millis(&missing.join("x.csv")).unwrap(), None);
    let path = dir.path().join("history_a.csv");
    for content in ["", "timestamp,username,message\n", "garbage"] {
        std::fs::write(&path, content).unwrap();
        let all = query(dir.path(), "#a", &Selector::Latest { after: None }, 5).unwrap();
        assert!(all.is_empty());
        assert!(recent(dir.path(), "#a", 0, 5).unwrap().is_empty());
        assert_eq!(last_row_millis(&path).unwrap(), None);
        assert_eq!(latest_millis(dir.path(), "#a").unwrap(), None);
    }
}

#[test]
fn rotated_siblings_are_one_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_rows(
        &d.join("history_x.csv-20261125"),
        &[(BASE, "a", "old0"), (BASE + 1, "a", "old1")],
    );
    write_rows(
        &d.join("history_x.csv.1"),
        &[(BASE + 10, "a", "mid0"), (BASE + 11, "a", "mid1")],
    );
    write_rows(
        &d.join("history_x.csv"),
        &[(BASE + 20, "a", "new0"), (BASE + 21, "a", "new1")],
    );
    // Ignored: compressed, another room, and rows with times in between.
    std::fs::write(
        d.join("history_x.csv.2.gz"),
        "timestamp,username,message\n2026-11-23T10:15:30.005Z,a,gz\n",
    )
    .unwrap();
    write_rows(&d.join("history_xy.csv"), &[(BASE + 5, "a", "other")]);
    let all = query(d, "#x", &Selector::Latest { after: None }, 100).unwrap();
    assert_eq!(
        texts(&all),
        ["old0", "old1", "mid0", "mid1", "new0", "new1"]
    );
    let q = |s: Selector, limit| texts(&query(d, "#x", &s, limit).unwrap()).join(" ");
    let id = |i: usize| Reference::Msgid(all[i].msgid.clone());
    assert_eq!(q(Selector::After(id(1)), 3), "mid0 mid1 new0");
    assert_eq!(q(Selector::Before(id(4)), 3), "old1 mid0 mid1");
    assert_eq!(
        q(Selector::Between(id(5), id(0)), 10),
        "old1 mid0 mid1 new0"
    );
    assert_eq!(q(Selector::Around(id(3)), 4), "old1 mid0 mid1 new0");
    let ts = Reference::Timestamp(BASE + 15);
    assert_eq!(q(Selector::Before(ts.clone()), 1), "mid1");
    assert_eq!(q(Selector::After(ts), 1), "new0");
    let after = Some(Reference::Timestamp(BASE + 10));
    assert_eq!(q(Selector::Latest { after }, 10), "mid1 new0 new1");
    assert_eq!(
        texts(&recent(d, "#x", BASE + 11, 10).unwrap()),
        ["mid1", "new0", "new1"]
    );
    // Freshly rotated: the current file holds only its header.
    std::fs::write(d.join("history_x.csv"), "timestamp,username,message\n").unwrap();
    assert_eq!(latest_millis(d, "#x").unwrap(), Some(BASE + 11));
}

#[test]
fn foreign_file_with_naive_times_and_multiline_field() {
    let dir = tempfile::tempdir().unwrap();
    let content = "timestamp,username,message\r\n\
        2025-01-01 12:00:00,bob,first\r\n\
        2025-01-01 12:00:01,carol,\"two\r\nlines, \"\"quoted\"\"\"\r\n\
        not a row\r\n\
        2025-01-01 12:00:02,dave\r\n\
        2025-01-01T12:00:03.5,erin,last\r\n";
    std::fs::write(dir.path().join("history_f.csv"), content).unwrap();
    let all = query(dir.path(), "#f", &Selector::Latest { after: None }, 10).unwrap();
    assert_eq!(texts(&all), ["first", "two\r\nlines, \"quoted\"", "last"]);
    assert_eq!(all[1].user, "carol");
    assert_eq!(all[1].time(), "2025-01-01T12:00:01.000Z");
    assert_eq!(
        all[2].millis,
        parse_row_timestamp("2025-01-01T12:00:03.500Z").unwrap()
    );
    let id = |i: usize| Reference::Msgid(all[i].msgid.clone());
    let q = |s: Selector| texts(&query(dir.path(), "#f", &s, 10).unwrap()).join("|");
    assert_eq!(q(Selector::After(id(1))), "last");
    assert_eq!(q(Selector::Before(id(2))), "first|two\r\nlines, \"quoted\"");
    assert_eq!(
        q(Selector::Around(id(1))),
        "first|two\r\nlines, \"quoted\"|last"
    );
    assert_eq!(
        wire_text(&all[1].text),
        WireText::Plain("two  lines, \"quoted\"".into())
    );
}

#[test]
fn duplicate_millis_msgid_references_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        (BASE, "a", "before"),
        (BASE + 1, "a", "d0"),
        (BASE + 1, "b", "d1"),
        (BASE + 1, "a", "d2"),
        (BASE + 2, "a", "after"),
    ];
    write_rows(&dir.path().join("history_d.csv"), &rows);
    let all = query(dir.path(), "#d", &Selector::Latest { after: None }, 10).unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[1].millis, all[3].millis);
    let id = |i: usize| Reference::Msgid(all[i].msgid.clone());
    let q = |s: Selector, n| texts(&query(dir.path(), "#d", &s, n).unwrap()).join(" ");
    assert_eq!(q(Selector::After(id(2)), 10), "d2 after");
    assert_eq!(q(Selector::Before(id(2)), 10), "before d0");
    assert_eq!(q(Selector::Between(id(1), id(3)), 10), "d1");
    assert_eq!(q(Selector::Between(id(3), id(1)), 10), "d1");
    assert_eq!(q(Selector::Around(id(2)), 1), "d1");
    assert_eq!(
        q(Selector::Latest { after: Some(id(1)) }, 10),
        "d1 d2 after"
    );
    // A timestamp reference excludes the whole millisecond.
    let ts = Reference::Timestamp(BASE + 1);
    assert_eq!(q(Selector::After(ts.clone()), 10), "after");
    assert_eq!(q(Selector::Before(ts.clone()), 10), "before");
    assert_eq!(q(Selector::Around(ts), 2), "before d0");
}

/// The selectors computed on a fully loaded list, to check the byte-level machinery.
fn naive(all: &[ArchivedMessage], s: &Selector, limit: usize) -> Vec<ArchivedMessage> {
    let ge = |t: i64| all.partition_point(|m| m.millis < t);
    let anchor = |r: &Reference| -> Option<(usize, usize)> {
        let t = match r {
            Reference::Timestamp(t) => *t,
            Reference::Msgid(id) => {
                if let Some(i) = all.iter().position(|m| &m.msgid == id) {
                    return Some((i, i + 1));
                }
                msgid_millis(id)?
            }
        };
        Some((ge(t), ge(t + 1)))
    };
    let fwd = |from: usize, stop: usize| all[from..stop.max(from)].iter().take(limit).cloned();
    let back = |to: usize, stop: usize| {
        let lo = to.saturating_sub(limit).max(stop).min(to);
        all[lo..to].to_vec()
    };
    match s {
        Selector::Latest { after: None } => back(all.len(), 0),
        Selector::Latest { after: Some(r) } => back(all.len(), anchor(r).unwrap().1),
        Selector::Before(r) => back(anchor(r).unwrap().0, 0),
        Selector::After(r) => fwd(anchor(r).unwrap().1, all.len()).collect(),
        Selector::Between(a, b) => {
            let (a, b) = (anchor(a).unwrap(), anchor(b).unwrap());
            if a.0 <= b.0 {
                fwd(a.1, b.0).collect()
            } else {
                back(a.0, b.1)
            }
        }
        Selector::Around(r) => {
            let at = anchor(r).unwrap().0;
            let older = limit / 2;
            let mut v = all[at.saturating_sub(older)..at].to_vec();
            v.extend(all[at..].iter().take(limit - older).cloned());
            v
        }
    }
}

#[test]
fn large_file_matches_a_full_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history_big.csv");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(["timestamp", "username", "message"])
        .unwrap();
    let mut ms = BASE;
    for i in 0..200_000u32 {
        // Many rows share a millisecond; some texts need quoting.
        ms += rng.random_range(0..3);
        let text = match i % 7 {
            0 => format!("hello, \"{i}\""),
            1 => "x".repeat(rng.random_range(0..300)),
            _ => format!("message {i}"),
        };
        let user = format!("user{}", i % 13);
        w.write_record([format_millis(ms), user, text]).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    // The full scan.
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let all: Vec<ArchivedMessage> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let millis = parse_row_timestamp(&r[0]).unwrap();
            ArchivedMessage {
                millis,
                user: r[1].to_string(),
                text: r[2].to_string(),
                msgid: msgid("#big", millis, &r[1], &r[2]),
            }
        })
        .collect();
    assert_eq!(all.len(), 200_000);
    let (first, last) = (all[0].millis, all[all.len() - 1].millis);
    for round in 0..300 {
        let mut reference = || {
            if rng.random_bool(0.5) {
                Reference::Msgid(all[rng.random_range(0..all.len())].msgid.clone())
            } else {
                Reference::Timestamp(rng.random_range(first - 5..=last + 5))
            }
        };
        let selector = match round % 6 {
            0 => Selector::Latest { after: None },
            1 => Selector::Latest {
                after: Some(reference()),
            },
            2 => Selector::Before(reference()),
            3 => Selector::After(reference()),
            4 => Selector::Between(reference(), reference()),
            _ => Selector::Around(reference()),
        };
        let limit = match round % 4 {
            0 => 1,
            1 => rng.random_range(2..50),
            2 => 100,
            _ => rng.random_range(0..1000),
        };
        let got = query(dir.path(), "#big", &selector, limit).unwrap();
        assert_eq!(
            got,
            naive(&all, &selector, limit),
            "{selector:?} limit {limit}"
        );
        let since = rng.random_range(first..=last + 1);
        let tail = &all[all.partition_point(|m| m.millis < since)..];
        let want = &tail[tail.len().saturating_sub(limit)..];
        assert_eq!(recent(dir.path(), "#big", since, limit).unwrap(), want);
    }
    assert_eq!(last_row_millis(&path).unwrap(), Some(last));
    // Each query reads a few chunks, not the file (about 12 MB).
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 10_000_000, "{size}");
    let mid = Reference::Msgid(all[all.len() / 2].msgid.clone());
    let early = Reference::Timestamp(all[1000].millis);
    for (selector, limit) in [
        (Selector::Latest { after: None }, 100),
        (
            Selector::Latest {
                after: Some(early.clone()),
            },
            100,
        ),
        (Selector::Before(mid.clone()), 100),
        (Selector::After(mid.clone()), 100),
        (Selector::Around(mid.clone()), 100),
        (Selector::Between(early, mid), 100),
    ] {
        file::BYTES_READ.with(|n| n.set(0));
        assert_eq!(
            query(dir.path(), "#big", &selector, limit).unwrap().len(),
            limit
        );
        let read = file::BYTES_READ.with(|n| n.get());
        assert!(read < 512 * 1024, "{selector:?} read {read} bytes");
    }
}
