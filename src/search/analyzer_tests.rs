//! Unit and property tests of the analyzer: positions, normalisation, scripts, emoji,
//! symbols, and the promise that every whole-unit substring of a message finds it.

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

fn index_terms(text: &str) -> Vec<(usize, String)> {
    let mut a = analyzer();
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while let Some(t) = stream.next() {
        out.push((t.position, t.text.clone()));
    }
    out
}

fn texts(tokens: &[(usize, String)]) -> Vec<&str> {
    tokens.iter().map(|(_, t)| t.as_str()).collect()
}

/// True if the phrase `query` (terms at relative positions) occurs in `index`, as
/// tantivy's phrase query decides it.
fn phrase_matches(index: &[(usize, String)], query: &[(usize, String)]) -> bool {
    let Some((p0, first)) = query.first() else {
        return false;
    };
    let have: HashSet<(usize, &str)> = index.iter().map(|(p, t)| (*p, t.as_str())).collect();
    index
        .iter()
        .filter(|(_, t)| t == first)
        .filter_map(|(p, _)| p.checked_sub(*p0))
        .any(|base| {
            query
                .iter()
                .all(|(p, t)| have.contains(&(base + p, t.as_str())))
        })
}

fn finds(message: &str, query: &str) -> bool {
    phrase_matches(&index_terms(message), &query_tokens(query))
}

#[test]
fn latin_words_are_folded_without_stemming() {
    let q = query_tokens("The Deploy-2 is DONE, deployed!");
    assert_eq!(texts(&q), ["the", "deploy", "2", "is", "done", "deployed"]);
    assert_eq!(
        q.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5]
    );
    assert_eq!(texts(&query_tokens("Ünïcode café")), ["ünïcode", "café"]);
    assert!(!finds("deployed", "deploy"));
}

#[test]
fn nfkc_and_case_folding_apply_on_both_sides() {
    assert!(finds("it is OK now", "ＯＫ"));
    assert!(finds("ｏｋ です", "ok"));
    assert!(finds("ｶﾞｲﾄﾞ", "ガイド"));
    assert!(finds("STRASSE", "straße"));
    assert!(finds("cafe\u{301}", "café"));
}

#[test]
fn cjk_runs_become_bigrams_and_keep_positions_for_what_follows() {
    let q = query_tokens("明日デプロイします");
    assert_eq!(
        texts(&q),
        [
            "明日", "日デ", "デプ", "プロ", "ロイ", "イし", "しま", "ます"
        ]
    );
    assert_eq!(texts(&query_tokens("猫")), ["猫"]);
    assert_eq!(texts(&query_tokens("한국어")), ["한국", "국어"]);
    // The positions after a run are the same on both sides.
    assert_eq!(query_tokens("テストOK")[2], (3, "ok".to_string()));
    for (message, query) in [
        ("バグfixしました", "バグfix"),
        ("テストOKです", "テストOK"),
        ("リリースv2.3を出した", "リリースv2.3"),
        ("デプロイ 完了 です", "\"デプロイ 完了\""),
        ("東京 大阪 名古屋", "東京 大阪"),
        ("明日デプロイします", "デプロイ"),
        ("猫が好き", "猫"),
        ("猫が好き", "好き"),
        ("ok デプロイ", "ok デプ"),
    ] {
        assert!(finds(message, query), "{query} in {message}");
    }
    assert!(!finds("東京 大阪", "大阪 東京"));
}

#[test]
fn index_side_adds_unigrams_at_their_own_positions() {
    assert_eq!(
        index_terms("猫が好き"),
        vec![
            (0, "猫".to_string()),
            (0, "猫が".to_string()),
            (1, "が".to_string()),
            (1, "が好".to_string()),
            (2, "好".to_string()),
            (2, "好き".to_string()),
            (3, "き".to_string()),
        ]
    );
}

#[test]
fn emoji_and_symbols_are_terms() {
    assert_eq!(texts(&query_tokens("🎉")), ["🎉"]);
    assert_eq!(texts(&query_tokens("coffee ☕")), ["coffee", "☕"]);
    assert!(finds("party 🎉🎉 tonight", "🎉"));
    assert!(finds("coffee ☕\u{FE0F} time", "coffee ☕"));
    assert!(finds("nice 👍🏽", "👍"));
    assert!(!finds("coffee time ☕", "\"coffee ☕\""));
}

#[test]
fn programmer_words_match_as_meant() {
    assert_eq!(texts(&query_tokens("C++")), ["c++"]);
    assert!(finds("I write C++ daily", "C++"));
    assert!(!finds("C# or Java", "C++"));
    assert!(!finds("C or Java", "C++"));
    assert!(finds("C# or Java", "c#"));
    assert!(!finds("F# or C", "c#"));
    assert!(finds("we use .NET 8", ".net"));
    assert!(finds("we use .NET 8", "net"));
    assert!(finds("upgrade node.js", "node.js"));
    assert!(finds("upgrade node.js", "node"));
    assert!(!finds("node and js", "node.js"));
    assert!(finds("try a/b testing", "a/b"));
    assert!(!finds("a or b", "a/b"));
    assert!(finds("use node.js today", "\"use node.js today\""));
}

#[test]
fn actions_are_searched_without_their_framing() {
    assert_eq!(texts(&query_tokens("\u{1}ACTION waves\u{1}")), ["waves"]);
    assert!(!finds("\u{1}ACTION waves\u{1}", "action"));
    assert!(finds("\u{1}ACTION waves\u{1}", "waves"));
}

#[test]
fn punctuation_separates_and_long_terms_are_dropped_in_place() {
    assert_eq!(
        texts(&query_tokens("「こんにちは」、世界！")),
        ["こん", "んに", "にち", "ちは", "世界"]
    );
    let long = "x".repeat(MAX_TOKEN_BYTES + 1);
    assert!(query_tokens(&long).is_empty());
    assert!(query_tokens("!!! ... ---").is_empty());
    // The dropped word keeps its position: `a b` is not `a <blob> b`.
    assert!(!finds(&format!("a {long} b"), "\"a b\""));
    assert!(finds(&format!("a {long} b"), &format!("\"a {long} b\"")));
}

#[test]
fn prefixes_are_single_words() {
    assert_eq!(prefix_term("Deploy").as_deref(), Some("deploy"));
    assert_eq!(prefix_term("node.").as_deref(), Some("node"));
    assert_eq!(prefix_term("デプ"), None);
    assert_eq!(prefix_term("a b"), None);
}

#[test]
fn highlights_cover_matched_terms() {
    let text = "Deploy done; 明日デプロイします ＯＫ";
    let r = highlight_ranges(
        text,
        &["deploy".into(), "デプ".into(), "プロ".into(), "ok".into()],
        &[],
    );
    assert_eq!(r.len(), 3);
    assert_eq!(&text[r[0].0..r[0].1], "Deploy");
    assert_eq!(&text[r[1].0..r[1].1], "デプロ");
    assert_eq!(&text[r[2].0..r[2].1], "ＯＫ");
    let r = highlight_ranges("deployed it", &[], &["deploy".into()]);
    assert_eq!(r, [(0, 8)]);
}

/// Pieces messages are made of in the property tests: every script and symbol class the
/// analyzer treats specially, and the characters that join or separate them.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "deploy",
            "OK",
            "ＯＫ",
            "v2",
            "3",
            "C",
            "node",
            "js",
            "NET",
            "a",
            "b",
            "Straße",
            "ΣΟΦΟΣ",
            "café",
            "cafe\u{301}",
            "snake_case",
            "ｶﾞｲﾄﾞ",
            "東京",
            "大阪",
            "デプロイ",
            "完了",
            "猫",
            "한국어",
            "สวัสดี",
            "🎉",
            "👍🏽",
            "☕\u{FE0F}",
            "👨\u{200D}💻",
            "🇯🇵",
            "€",
            "™",
            "①",
            "㍻",
            "½",
        ])
        .prop_map(str::to_string),
        prop::sample::select(vec![
            " ", " ", " ", ".", "+", "++", "#", "/", "@", "&", "-", ",", "'", "\"", "*", ":", "!",
            "..", "「", "」", "、", "\u{1}", "\t",
        ])
        .prop_map(str::to_string),
    ]
}

fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(piece(), 0..14).prop_map(|v| v.concat()),
        1 => any::<String>(),
    ]
}

/// Whole-unit substrings of `text`: from the start of one unit to the end of another,
/// never cutting a character that normalised into several units. A unit whose original
/// range was widened back over a separator (a combining mark right after `.` is normalised
/// together with it) does not start one: the separator is not part of the unit, and cut
/// out of its context (`..` + mark) it would read differently (a leading-dot compound).
fn whole_unit_substrings(text: &str) -> Vec<&str> {
    let segs = segments(text);
    let mut out = Vec::new();
    for i in 0..segs.len() {
        if i > 0 && segs[i - 1].1 > segs[i].0 {
            continue;
        }
        let first = text[segs[i].0..].chars().next();
        if first.is_some_and(|c| {
            crate::search::segment::class(c) == crate::search::segment::Class::Other
        }) {
            continue;
        }
        for j in i..segs.len() {
            if j + 1 < segs.len() && segs[j + 1].0 < segs[j].1 {
                continue;
            }
            out.push(&text[segs[i].0..segs[j].1]);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// For any message, every substring that is a sequence of whole units is found by the
    /// phrase query built from it: index and query analysis agree on terms and positions.
    #[test]
    fn every_whole_unit_substring_finds_its_message(text in message()) {
        let index = index_terms(&text);
        for sub in whole_unit_substrings(&text) {
            let q = query_tokens(sub);
            if q.is_empty() {
                continue;
            }
            prop_assert!(phrase_matches(&index, &q), "{sub:?} in {text:?}: {q:?} vs {index:?}");
        }
    }

    /// Query terms are always index terms of the same text (nothing the index lacks).
    #[test]
    fn query_terms_are_index_terms(text in message()) {
        let q = query_tokens(&text);
        prop_assert!(q.is_empty() || phrase_matches(&index_terms(&text), &q));
    }
}
