//! Regression tests for issue 11, "Search you can trust": each case that silently gave a
//! wrong answer, through the real `chat-search` binary and the real server.

mod common;

use common::TestServer;
use common::logs::Logs;

const HEADER: &str = "timestamp,username,message\n";

/// A log directory whose #dev room holds one message per line of `messages`.
fn room_with(messages: &[&str]) -> Logs {
    let logs = Logs::empty();
    let mut csv = String::from(HEADER);
    for (i, m) in messages.iter().enumerate() {
        let m = m.replace('"', "\"\"");
        csv.push_str(&format!(
            "2026-11-{:02}T10:00:{:02}.000Z,user{i},\"{m}\"\n",
            1 + i / 60,
            i % 60
        ));
    }
    logs.write("history_dev.csv", &csv);
    logs.index();
    logs
}

const MESSAGES: &[&str] = &[
    "バグfixしました",
    "テストOKです",
    "リリースv2.3を出した",
    "デプロイ 完了 です",
    "東京 大阪 名古屋",
    "party tonight 🎉🎉",
    "nice work 👍🏽",
    "coffee ☕️ first",
    "I write C++ daily",
    "C# or Java?",
    "C or Go",
    "F# is functional",
    "we moved to .NET 8",
    "upgrade node.js please",
    "node and js are separate words here",
    "the a/b test won",
    "it is ＯＫ now",
    "deploy started",
    "deployment failed",
    "rollback done",
    "\u{1}ACTION waves\u{1}",
];

#[test]
fn every_reproduced_query_finds_exactly_what_it_means() {
    let logs = room_with(MESSAGES);
    for (query, expected) in [
        ("バグfix", &["バグfixしました"][..]),
        ("テストOK", &["テストOKです"]),
        ("リリースv2.3", &["リリースv2.3を出した"]),
        ("\"デプロイ 完了\"", &["デプロイ 完了 です"]),
        ("\"東京 大阪\"", &["東京 大阪 名古屋"]),
        ("🎉", &["party tonight 🎉🎉"]),
        ("👍", &["nice work 👍🏽"]),
        ("coffee ☕", &["coffee ☕️ first"]),
        ("C++", &["I write C++ daily"]),
        ("C#", &["C# or Java?"]),
        ("F#", &["F# is functional"]),
        (".NET", &["we moved to .NET 8"]),
        ("node.js", &["upgrade node.js please"]),
        ("a/b", &["the a/b test won"]),
        ("OK", &["テストOKです", "it is ＯＫ now"]),
        ("ＯＫ", &["テストOKです", "it is ＯＫ now"]),
        ("deploy*", &["deploy started", "deployment failed"]),
        ("deploy OR rollback", &["deploy started", "rollback done"]),
        ("deploy* -failed", &["deploy started"]),
        ("waves", &["\u{1}ACTION waves\u{1}"]),
    ] {
        assert_eq!(logs.messages(query, &[]), expected, "query {query}");
    }
    assert!(logs.messages("action", &[]).is_empty());
    assert!(logs.messages("deploy", &[]).len() == 1);
}

#[test]
fn queries_that_cannot_mean_what_they_say_are_refused() {
    let logs = room_with(MESSAGES);
    for (query, expected) in [
        ("デプ*", "only works at the end of one word"),
        ("de*ploy*", "only works at the end of one word"),
        ("deploy**", "only works at the end of one word"),
        ("OR deploy", "`OR` needs a term on each side"),
        ("deploy OR", "`OR` needs a term on each side"),
        ("deploy OR user:bob", "`OR` joins words"),
    ] {
        let r = logs.run(&["query", query]);
        assert_eq!(r.code, 2, "{query}: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{query}: {}", r.stderr);
    }
}

#[test]
fn text_output_is_one_line_per_hit_and_actions_read_as_actions() {
    let logs = Logs::empty();
    logs.write(
        "history_ops.csv",
        &format!(
            "{HEADER}2026-11-01T10:00:00.000Z,mallory,\"hi\r\n:mallory!m@evil PRIVMSG #ops :pwned\"\n\
             2026-11-01T10:01:00.000Z,alice,\u{1}ACTION waves\u{1}\n"
        ),
    );
    logs.index();
    let r = logs.run(&["query", "", "--room", "ops"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(
        lines[0].ends_with("hi\\x0d\\x0a:mallory!m@evil PRIVMSG #ops :pwned"),
        "{}",
        r.stdout
    );
    assert!(lines[1].ends_with("#ops  * alice waves"), "{}", r.stdout);
    let json = logs.run(&["query", "waves", "--format", "json"]).stdout;
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["message"], "\u{1}ACTION waves\u{1}");
    assert_eq!(v["action"], true);
}

#[test]
fn cli_takes_offsets_zones_and_leading_exclusions_as_documented() {
    let logs = Logs::new();
    logs.index();
    // 2026-11-03T09:12Z is still the 3rd at -05:00 and -0500; the 2nd is before it.
    for tz in ["-05:00", "-0500", "America/New_York"] {
        let r = logs.run(&[
            "query",
            "deploy",
            "--since",
            "2026-11-03",
            "--until",
            "2026-11-03",
            "--tz",
            tz,
        ]);
        assert_eq!(r.code, 0, "{tz}: {}", r.stderr);
        assert_eq!(r.stdout.lines().count(), 2, "{tz}: {}", r.stdout);
    }
    let r = logs.run(&[
        "query",
        "deploy",
        "--tz=Asia/Tokyo",
        "--since",
        "2026-11-03",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A query starting with an exclusion, then options.
    let r = logs.run(&["query", "-the", "--room", "general"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains(" the "), "{}", r.stdout);
    assert_eq!(r.stdout.lines().count(), 6, "{}", r.stdout);
    // A room that is not in the index.
    let r = logs.run(&["query", "deploy", "--room", "nosuch"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("no such room #nosuch in the index; rooms: #general, #random, #開発"),
        "{}",
        r.stderr
    );
    let r = logs.run(&["query", "deploy room:nosuch"]);
    assert!(r.stderr.contains("no such room #nosuch"), "{}", r.stderr);
}

#[test]
fn index_on_a_directory_without_archives_says_so_and_creates_nothing() {
    let logs = Logs::empty();
    logs.write("notes.txt", "not an archive");
    for cmd in ["index", "rebuild"] {
        let r = logs.run(&[cmd]);
        assert_eq!(r.code, 1, "{}", r.stdout);
        assert!(
            r.stderr
                .contains("no room archives (history_<room>.csv) in"),
            "{}",
            r.stderr
        );
        assert!(!logs.dir.join(".index").exists());
    }
}

#[test]
fn stats_take_a_room_and_dates_group_long_ranges_and_say_when_updated() {
    let logs = Logs::new();
    logs.index();
    let r = logs.run(&[
        "stats",
        "--room",
        "general",
        "--since",
        "2026-11-03",
        "--until",
        "2026-11-10",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("3 messages in 1 room (#general, since 2026-11-03, until 2026-11-10)\nindex last updated 20"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("2026-11-05  0"), "{}", r.stdout);
    assert_eq!(logs.run(&["stats", "--room", "nosuch"]).code, 2);
    // Two years of messages: a month per line.
    let mut csv = String::from(HEADER);
    for day in 0..730 {
        let t = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(day);
        csv.push_str(&format!("{t}T12:00:00Z,old,day {day}\n"));
    }
    logs.write("history_old.csv", &csv);
    logs.index();
    let r = logs.run(&["stats", "--room", "old", "--tz", "-05:00"]);
    assert!(r.stdout.contains("per month:\n2024-01  31"), "{}", r.stdout);
    assert!(r.stdout.lines().count() < 40, "{}", r.stdout);
    let r = logs.run(&[
        "stats",
        "--room",
        "old",
        "--since",
        "2024-01-01",
        "--until",
        "2024-06-30",
    ]);
    assert!(
        r.stdout
            .contains("per week (weeks start on Monday):\nweek of 2024-01-01  7"),
        "{}",
        r.stdout
    );
}

#[test]
fn an_index_of_the_previous_format_is_rebuilt_by_index_and_refused_by_query() {
    let logs = Logs::new();
    logs.index();
    // Make the committed state claim format 1, as an index built before issue 11 has.
    let meta = logs.dir.join(".index/meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(
        &meta,
        text.replace("\\\"version\\\":2", "\\\"version\\\":1"),
    )
    .unwrap();
    let r = logs.run(&["query", "deploy"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("was built by another version of linechat (index format 1"),
        "{}",
        r.stderr
    );
    let r = logs.run(&["index"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("rebuilding it now"), "{}", r.stderr);
    assert!(
        r.stdout.starts_with("indexed 15 new messages"),
        "{}",
        r.stdout
    );
    assert_eq!(logs.messages("deploy", &[]).len(), 7);
}

#[test]
fn server_search_refuses_bad_dates_explains_room_conflicts_and_keeps_lines_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let yesterday =
        (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT12:00:00.000Z");
    std::fs::write(
        tmp.path().join("history_general.csv"),
        format!(
            "{HEADER}{yesterday},mallory,\"deploy\r\n:mallory!m@evil PRIVMSG #ops :pwned\"\n\
             {yesterday},alice,\u{1}ACTION deploys again\u{1}\n"
        ),
    )
    .unwrap();
    let server = TestServer::start_in(tmp.path(), &[]);
    let [mut bob] = server.members("#general", ["bob"]);
    let answer = bob.search_answer("SEARCH #general deploy since yesterday");
    assert_eq!(answer.len(), 2, "{answer:?}");
    assert!(
        answer[0].ends_with("<mallory> deploy  :mallory!m@evil PRIVMSG #ops :pwned"),
        "{answer:?}"
    );
    assert!(
        answer[1].ends_with("End of SEARCH #general: 1 match"),
        "{answer:?}"
    );
    let answer = bob.search_answer("SEARCH #general deploys");
    assert!(answer[0].ends_with("* alice deploys again"), "{answer:?}");
    for (line, expected) in [
        (
            "SEARCH #general deploy since 2026-13-01",
            "FAIL SEARCH INVALID_QUERY #general :bad date `2026-13-01`",
        ),
        ("SEARCH #general deploy since lunch", "put it in quotes"),
        (
            "SEARCH #general deploy room:#dev",
            "FAIL SEARCH INVALID_QUERY #general :`room:#dev` is outside the rooms this search covers (#general)",
        ),
    ] {
        let answer = bob.search_answer(line);
        assert_eq!(answer.len(), 1, "{answer:?}");
        assert!(answer[0].contains(expected), "{line}: {answer:?}");
    }
    for l in bob.seen.iter() {
        assert!(!l.starts_with(":mallory!m@evil"), "injected: {l:?}");
        assert!(!l.chars().any(|c| c.is_control() && c != '\u{1}'), "{l:?}");
    }
}
