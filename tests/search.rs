//! End-to-end tests of `chat-search` (the real binary, on copies of `fixtures/`) and of
//! the server-side `LiveIndex`, and the server's SEARCH command over TCP.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use common::logs::{GENERAL, KAIHATSU, Logs};
use linechat::search::{LiveIndex, SearchRequest};

#[test]
fn words_must_all_match_and_phrases_keep_order() {
    let logs = Logs::new();
    logs.index();
    assert_eq!(
        logs.messages("deploy done", &[]),
        ["the deploy is done, thanks", "deploy done in 開発"]
    );
    assert_eq!(
        logs.messages(r#""deploy is done""#, &[]),
        ["the deploy is done, thanks"]
    );
    assert!(logs.messages(r#""done is deploy""#, &[]).is_empty());
    assert_eq!(
        logs.messages(r#""ship it""#, &[]),
        [r#"she said "ship it" and left"#]
    );
    // Case-insensitive, no stemming.
    assert_eq!(
        logs.messages("GOOD Morning", &[]),
        ["Good morning everyone"]
    );
    assert!(logs.messages("deployed", &[]).is_empty());
}

#[test]
fn exclusion_and_user_and_room_filters() {
    let logs = Logs::new();
    logs.index();
    let all = logs.messages("deploy", &[]);
    let without = logs.messages("deploy -staging -\"of the\"", &[]);
    assert_eq!(all.len(), 7);
    assert_eq!(without.len(), 4);
    assert!(
        !without
            .iter()
            .any(|m| m.contains("staging") || m.contains("of the"))
    );
    // user: matches case-insensitively; several users are OR-ed.
    assert_eq!(
        logs.messages("user:bob", &[]),
        [
            "anyone seen the deploy docs?",
            "deploy failed on staging",
            "the flaky test is back"
        ]
    );
    assert_eq!(logs.messages("deploy user:bob user:dave", &[]).len(), 3);
    assert_eq!(
        logs.messages("deploy -user:alice", &["--user", "bob"])
            .len(),
        2
    );
    // room: with or without #, as an option or in the text, exact room only.
    let in_random = ["anyone seen the deploy docs?"];
    assert_eq!(logs.messages("deploy room:random", &[]), in_random);
    assert_eq!(logs.messages("deploy", &["--room", "#Random"]), in_random);
    assert_eq!(
        logs.messages("deploy -room:general -room:開発", &[]),
        in_random
    );
    // A room: term in the text cannot widen the --room scope, and says so.
    let r = logs.run(&["query", "deploy room:general", "--room", "random"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("`room:#general` is outside the rooms this search covers (#random)"),
        "{}",
        r.stderr
    );
}

#[test]
fn date_bounds_are_whole_inclusive_days_in_the_given_zone() {
    let logs = Logs::new();
    logs.index();
    let until_20 = logs.messages(
        "deploy",
        &["--since", "2026-11-19", "--until", "2026-11-20"],
    );
    assert_eq!(
        until_20,
        ["late night deploy in UTC", "last deploy of the 20th"]
    );
    // In +09:00 the 20th ends at 14:59:59.999Z, and the 19th 23:30Z is already the 20th.
    let jst = logs.messages(
        "deploy",
        &[
            "--since",
            "2026-11-20",
            "--until",
            "2026-11-20",
            "--tz",
            "+09:00",
        ],
    );
    assert_eq!(jst, ["late night deploy in UTC"]);
    // Full timestamps are exact and inclusive; inline since:/until: work too.
    assert_eq!(
        logs.messages(
            "deploy since:2026-11-20T23:59:59.999Z until:2026-11-21T00:00:00Z",
            &[]
        ),
        ["last deploy of the 20th", "first deploy of the 21st"]
    );
    assert_eq!(logs.messages("since:2026-11-22", &["--tz", "UTC"]).len(), 2);
}

#[test]
fn japanese_words_match_inside_longer_text() {
    let logs = Logs::new();
    logs.index();
    assert_eq!(
        logs.messages("デプロイ", &[]),
        ["デプロイは明日です", "明日デプロイします"]
    );
    assert_eq!(logs.messages("プロイ", &[]).len(), 2);
    assert_eq!(logs.messages("明日", &[]).len(), 2);
    assert_eq!(logs.messages("猫", &[]), ["猫が好き"]);
    assert!(logs.messages("デプロイ明日", &[]).is_empty());
    assert_eq!(
        logs.messages("開発", &[]),
        ["開発環境を更新しました", "deploy done in 開発"]
    );
    assert_eq!(logs.messages("", &["--room", "開発"]).len(), 3);
    assert_eq!(
        logs.messages("room:#開発 deploy", &[]),
        ["deploy done in 開発"]
    );
}

#[test]
fn limit_takes_newest_and_prints_oldest_first_in_every_format() {
    let logs = Logs::new();
    logs.index();
    let r = logs.run(&["query", "deploy", "--limit", "2"]);
    assert_eq!(r.code, 0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "2026-11-20T23:59:59.999Z  #general  alice  last deploy of the 20th",
            "2026-11-21T00:00:00.000Z  #general  alice  first deploy of the 21st",
        ]
    );
    assert!(r.stderr.contains("showing 2 of 7 matches"), "{}", r.stderr);
    let csv = logs.run(&["query", "ship", "--format", "csv"]);
    assert_eq!(
        csv.stdout,
        "timestamp,room,user,message\n2026-11-10T12:00:00.000Z,#general,carol,\"she said \"\"ship it\"\" and left\"\n"
    );
    let rel = logs.run(&[
        "query",
        "deploy done",
        "--sort",
        "relevance",
        "--format",
        "json",
    ]);
    assert_eq!(rel.stdout.lines().count(), 2);
    assert!(rel.stdout.contains("\"score\":"));
    // Zero hits is success, with a note.
    let none = logs.run(&["query", "xylophone"]);
    assert_eq!((none.code, none.stdout.as_str()), (0, ""));
    assert!(none.stderr.contains("no matches"));
}

#[test]
fn bad_queries_exit_2_and_name_the_problem() {
    let logs = Logs::new();
    logs.index();
    for (query, extra, expected) in [
        (r#"deploy "is done"#, &[][..], "unbalanced quote"),
        ("note:deploy", &[], "unknown field `note:`"),
        (
            "deploy",
            &["--since", "2026-13-01"][..],
            "bad date `2026-13-01`",
        ),
        (
            "deploy",
            &["--tz", "Mars/Olympus"][..],
            "bad time zone `Mars/Olympus`",
        ),
        ("since:2026-11-20 until:2026-11-01", &[], "empty date range"),
        ("!!!", &[], "nothing searchable"),
    ] {
        let mut args = vec!["query", query];
        args.extend_from_slice(extra);
        let r = logs.run(&args);
        assert_eq!(r.code, 2, "{query}: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{query}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
    }
    assert_eq!(logs.run(&["query", "x", "--limit", "0"]).code, 2);
}

#[test]
fn malformed_rows_are_reported_with_file_and_line_and_skipped() {
    let logs = Logs::new();
    let r = logs.index();
    assert!(
        r.stdout
            .starts_with("indexed 15 new messages from 3 rooms in "),
        "{}",
        r.stdout
    );
    let file = logs.path(KAIHATSU);
    assert!(
        r.stderr.contains(&format!(
            "{}:5: unrecognised timestamp `not-a-time`",
            file.display()
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("{}:6: expected 3 fields", file.display()))
    );
    assert!(logs.messages("malformed", &[]).is_empty());
}

#[test]
fn second_index_run_adds_nothing_and_appended_rows_are_found() {
    let logs = Logs::new();
    logs.index();
    let again = logs.index();
    assert!(
        again
            .stdout
            .starts_with("indexed 0 new messages from 0 rooms"),
        "{}",
        again.stdout
    );
    assert!(
        again.stderr.is_empty(),
        "malformed rows reported twice: {}",
        again.stderr
    );
    logs.append(GENERAL, "2026-11-23T10:00:00.000Z,zoe,appended hello\n2026-11-23T10:00:01.000Z,zoe,\"appended, again\"\n");
    let third = logs.index();
    assert!(
        third
            .stdout
            .starts_with("indexed 2 new messages from 1 room "),
        "{}",
        third.stdout
    );
    assert_eq!(
        logs.messages("appended", &[]),
        ["appended hello", "appended, again"]
    );
    // Line numbers continue across runs.
    let r = logs.run(&["query", "again", "--format", "json"]);
    assert!(r.stdout.contains("\"line\":13"), "{}", r.stdout);
}

#[test]
fn torn_last_row_is_indexed_once_it_is_complete() {
    let logs = Logs::new();
    logs.index();
    assert!(logs.messages("torn", &[]).is_empty());
    logs.append(KAIHATSU, " now complete\n");
    let r = logs.index();
    assert!(
        r.stdout.starts_with("indexed 1 new message from 1 room "),
        "{}",
        r.stdout
    );
    assert_eq!(
        logs.messages("torn", &[]),
        ["torn row without newline now complete"]
    );
    logs.index();
    assert_eq!(logs.messages("torn", &[]).len(), 1);
}

#[test]
fn rotated_file_keeps_old_rows_and_new_file_is_read_from_start() {
    let logs = Logs::new();
    logs.index();
    // The server wrote one more row, then logrotate renamed the file and a new one began.
    logs.append(
        GENERAL,
        "2026-11-23T09:00:00.000Z,zoe,written just before rotation\n",
    );
    fs::rename(logs.path(GENERAL), logs.path("history_general.csv.1")).unwrap();
    fs::write(
        logs.path(GENERAL),
        "timestamp,username,message\n2026-11-24T09:00:00.000Z,zoe,first row after rotation\n",
    )
    .unwrap();
    let r = logs.index();
    assert!(
        r.stdout.starts_with("indexed 2 new messages from 1 room "),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("rotated"), "{}", r.stderr);
    assert_eq!(logs.messages("good morning", &[]).len(), 1);
    assert_eq!(
        logs.messages("rotation", &[]),
        ["written just before rotation", "first row after rotation"]
    );
    assert!(logs.index().stdout.starts_with("indexed 0 new"));
}

#[test]
fn truncated_file_keeps_its_indexed_rows_and_is_read_again() {
    let logs = Logs::new();
    logs.index();
    assert_eq!(logs.messages("docs", &[]).len(), 1);
    // Truncate in place (same inode) and write fresh content.
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(logs.path("history_random.csv"))
        .unwrap();
    f.write_all(b"timestamp,username,message\n2026-11-25T09:00:00.000Z,zoe,after truncation\n")
        .unwrap();
    drop(f);
    let r = logs.index();
    assert!(
        r.stderr
            .contains("history_random.csv: replaced by a file with a different beginning")
            && r.stderr
                .contains("the 2 rows indexed from the previous file stay searchable"),
        "{}",
        r.stderr
    );
    // Indexed rows leave the index only by `rebuild`.
    assert_eq!(logs.messages("docs", &[]).len(), 1);
    assert_eq!(
        logs.messages("", &["--room", "random"]),
        [
            "anyone seen the deploy docs?",
            "commas, quotes \" and more",
            "after truncation"
        ]
    );
    logs.run(&["rebuild"]);
    assert!(logs.messages("docs", &[]).is_empty());
}

#[test]
fn rebuild_gives_the_same_results_as_incremental_runs() {
    let logs = Logs::new();
    logs.index();
    logs.append(GENERAL, "2026-11-23T10:00:00.000Z,zoe,later row\n");
    logs.append(KAIHATSU, " done\n2026-11-23T11:00:00.000Z,taro,もう一行\n");
    logs.index();
    let everything = |l: &Logs| {
        l.run(&["query", "", "--format", "json", "--limit", "1000"])
            .stdout
    };
    let incremental = everything(&logs);
    let r = logs.run(&["rebuild"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("indexed 18 new messages from 3 rooms"),
        "{}",
        r.stdout
    );
    assert_eq!(everything(&logs), incremental);
    assert_eq!(incremental.lines().count(), 18);
}

#[test]
fn rebuild_refuses_to_delete_a_directory_that_is_not_an_index() {
    let logs = Logs::new();
    let other = logs.dir.parent().unwrap().join("precious");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("notes.txt"), "keep me").unwrap();
    let r = logs.run(&["rebuild", "--index-dir", other.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("does not look like a search index"),
        "{}",
        r.stderr
    );
    assert!(other.join("notes.txt").exists());
}

#[test]
fn missing_or_corrupt_index_says_how_to_rebuild() {
    let logs = Logs::new();
    let r = logs.run(&["query", "deploy"]);
    assert_eq!(r.code, 1);
    let hint = format!("chat-search rebuild --log-dir {}", logs.dir.display());
    assert!(
        r.stderr.contains("no search index at") && r.stderr.contains(&hint),
        "{}",
        r.stderr
    );
    logs.index();
    fs::write(logs.dir.join(".index/meta.json"), "{ not json").unwrap();
    for args in [&["query", "deploy"][..], &["stats"], &["index"]] {
        let r = logs.run(args);
        assert_eq!(r.code, 1, "{args:?}");
        assert!(
            r.stderr.contains("is unreadable") && r.stderr.contains(&hint),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"));
    }
    let r = logs.run(&["rebuild"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(logs.messages("deploy", &[]).len(), 7);
}

#[test]
fn foreign_csv_timestamps_are_taken_as_utc() {
    let logs = Logs::new();
    let foreign = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/foreign/history_python.csv");
    fs::copy(foreign, logs.path("history_python.csv")).unwrap();
    logs.index();
    let r = logs.run(&["query", "", "--room", "python", "--format", "csv"]);
    assert_eq!(
        r.stdout,
        "timestamp,room,user,message\n\
         2025-01-01T12:00:00.000Z,#python,guido,happy new year from python\n\
         2025-01-01T12:00:00.123Z,#python,tim,microseconds are truncated\n\
         2025-01-01T23:00:00.000Z,#python,yuki,offset timestamps are converted\n"
    );
}

#[test]
fn stats_count_rooms_and_days() {
    let logs = Logs::new();
    logs.index();
    let r = logs.run(&["stats"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("15 messages in 3 rooms"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("#general  10  "), "{}", r.stdout);
    assert!(r.stdout.contains("#開発      3  "), "{}", r.stdout);
    assert!(r.stdout.contains("2026-11-22  2  "), "{}", r.stdout);
    let jst = logs.run(&["stats", "--tz", "+09:00"]);
    assert!(jst.stdout.contains("2026-11-20  1  "), "{}", jst.stdout);
}

#[tokio::test]
async fn server_holds_the_writer_cli_index_refuses_but_query_works() {
    let logs = Logs::new();
    let index_dir = logs.dir.join(".index");
    let live = LiveIndex::open(&logs.dir, &index_dir).unwrap();
    let report = live.catch_up().await.unwrap();
    assert_eq!(report.added, 15);
    let r = logs.run(&["index"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("locked by another writer, normally the running chat-server"),
        "{}",
        r.stderr
    );
    assert_eq!(logs.run(&["rebuild"]).code, 1);
    assert_eq!(logs.messages("デプロイ", &[]).len(), 2);
}

#[tokio::test]
async fn live_index_follows_ticks_and_caps_results() {
    let logs = Logs::new();
    let index_dir = logs.dir.join(".index");
    let config = linechat::search::LiveConfig {
        max_results: 3,
        ..Default::default()
    };
    let live = LiveIndex::open_with(&logs.dir, &index_dir, config).unwrap();
    let (tick_tx, tick_rx) = tokio::sync::watch::channel(0u64);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = live.spawn(tick_rx, async move {
        let _ = stop_rx.await;
    });
    logs.append(GENERAL, "2026-11-23T10:00:00.000Z,zoe,live hello\n");
    tick_tx.send(1).unwrap();
    stop_tx.send(()).unwrap();
    task.await.unwrap(); // the task catches up once more on the way out
    let found = live.search(SearchRequest::new("live hello")).await.unwrap();
    assert_eq!(found.hits.len(), 1);
    assert_eq!(found.hits[0].user, "zoe");
    assert_eq!(found.hits[0].room, "#general");
    let capped = live.search(SearchRequest::new("deploy")).await.unwrap();
    assert_eq!(
        (capped.hits.len(), capped.total, capped.truncated()),
        (3, 7, true)
    );
    let bad = live.search(SearchRequest::new("\"open")).await.unwrap_err();
    assert!(bad.to_string().contains("unbalanced quote"), "{bad}");
}

#[test]
fn server_search_answers_the_requester_alone_from_its_own_room() {
    let server = common::TestServer::start(&["--search-max-results", "2"]);
    let [mut alice, mut bob] = server.members("#general", ["alice", "bob"]);
    let [mut carol] = server.members("#random", ["carol"]);
    alice.send("MSG #general the deploy is done");
    bob.expect("the deploy is done");
    carol.send("MSG #random deploy in random");
    carol.sync();
    // Read-your-writes: a message already delivered is found at once, no retrying.
    let answer = alice.search_answer("SEARCH #general deploy since 2026-01-01");
    let hits: Vec<&String> = answer.iter().filter(|l| l.contains("<")).collect();
    assert_eq!(hits.len(), 1, "{answer:?}");
    assert!(
        hits[0].starts_with(":linechat NOTICE #general :[")
            && hits[0].ends_with("] <alice> the deploy is done"),
        "{}",
        hits[0]
    );
    assert!(
        answer
            .last()
            .unwrap()
            .ends_with("End of SEARCH #general: 1 match"),
        "{answer:?}"
    );
    // Nothing went to bob, who is in the room but did not ask.
    assert!(
        bob.sync()
            .iter()
            .all(|l| !l.contains("SEARCH") && !l.contains("<alice>"))
    );
    // Carol is not in #general: 442, and her own room's search does not see #general.
    carol.send("SEARCH #general deploy");
    assert!(carol.expect(" 442 ").contains("#general"));
    let theirs = carol.search_answer("SEARCH random deploy");
    assert!(
        theirs
            .iter()
            .any(|l| l.ends_with("<carol> deploy in random")),
        "{theirs:?}"
    );
    assert!(
        !theirs.iter().any(|l| l.contains("the deploy is done")),
        "{theirs:?}"
    );
    // Bad queries name the problem; the limit is announced when it cuts.
    alice.send("SEARCH #general \"deploy is");
    let fail = alice.expect(" FAIL SEARCH ");
    assert!(
        fail.contains("INVALID_QUERY") && fail.contains("unbalanced quote"),
        "{fail}"
    );
    alice.send("MSG #general deploy two");
    alice.send("MSG #general deploy three");
    bob.expect("deploy three");
    let capped = alice.search_answer("SEARCH #general deploy");
    assert!(
        capped
            .last()
            .is_some_and(|l| l.contains("newest 2 of 3 matches shown (limit 2)")),
        "{capped:?}"
    );
    assert_eq!(capped.iter().filter(|l| l.contains("<alice>")).count(), 2);
    assert!(capped[1].ends_with("<alice> deploy three"), "{capped:?}");
}
