//! The query language shared by `chat-search query` and the server's `SEARCH`, and its
//! translation into a tantivy query.
//!
//! Grammar (whitespace separates terms; every term must match unless negated):
//!
//! | term              | meaning                                                       |
//! |-------------------|---------------------------------------------------------------|
//! | `deploy`          | the word appears (case-insensitive, no stemming)              |
//! | `"deploy done"`   | the words appear in this order, adjacent                      |
//! | `deploy*`         | a word starting with `deploy` appears                         |
//! | `a OR b`          | either term matches (`OR` in capitals; binds tighter than AND) |
//! | `-flaky`          | the word does not appear (also `-"a phrase"`, `NOT flaky`)    |
//! | `user:alice`      | written by alice (`from:` is a synonym); several are OR-ed    |
//! | `room:#general`   | in #general (`#` optional, `in:` is a synonym); several OR-ed |
//! | `since:DATE`      | at or after DATE (see [`timestamps::parse_bound`])            |
//! | `until:DATE`      | at or before DATE; a whole day includes all of it             |
//! | `-user:bob`       | not written by bob (likewise `-room:`)                        |
//!
//! A word that the analyzer splits into several tokens (`e-mail`, `デプロイ`) becomes a
//! phrase of those tokens, which is what makes CJK words match inside longer runs.
//!
//! `AND` in capitals is allowed and changes nothing (terms are ANDed anyway); to search
//! for the words "or", "and", "not" in capitals, quote them.
//!
//! We build the `BooleanQuery` ourselves rather than using tantivy's `QueryParser`: its
//! grammar (`AND`/`OR`, boosts, ranges, `field:` for every schema field) is larger than
//! what chat users need, its errors do not say what to fix, and it would let a user
//! target internal fields (`source:`, `file:`). A request's own room/user/date options
//! are separate MUST clauses, so `room:` terms in the text can only narrow the scope
//! the caller set, never widen it (the server relies on this for membership checks).

use super::analyzer::{prefix_term, query_tokens};
pub use super::compile::{Compiled, Scope, compile};
use crate::names::{RoomNameError, canonical_room, room_key};

/// What is wrong with a query; the text is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A `"` was opened and never closed.
    #[error("unbalanced quote: the \" at character {0} is never closed")]
    UnbalancedQuote(usize),
    /// `name:value` with a name we do not know.
    #[error(
        "unknown field `{0}:` (known: user:, room:, since:, until:); \
         put the word in quotes to search for it literally"
    )]
    UnknownField(String),
    /// `user:` and friends with nothing after the colon.
    #[error("`{0}:` needs a value, e.g. {0}:{1}")]
    EmptyValue(String, &'static str),
    /// A word with no letters, digits or CJK characters in it.
    #[error("`{0}` has nothing searchable in it (only punctuation or symbols)")]
    NothingSearchable(String),
    /// A `room:` value that cannot be a room name.
    #[error("bad room `{0}`: {1}")]
    BadRoom(String, RoomNameError),
    /// A `since`/`until` value that is not a date.
    #[error("{0}")]
    BadDate(String),
    /// A `--tz` value that is not an offset.
    #[error("{0}")]
    BadTz(String),
    /// `since` is after `until`, so nothing could match.
    #[error("empty date range: since {0} is after until {1}")]
    EmptyRange(String, String),
    /// A `*` that is not a trailing prefix of one word.
    #[error(
        "`{0}`: * only works at the end of one word of letters or digits (deploy*); \
         Japanese, Chinese, Korean and Thai words already match inside longer text"
    )]
    BadPrefix(String),
    /// `OR`, `AND` or `NOT` without the terms it needs.
    #[error("`{0}` needs {1}; to search for the word itself, put it in quotes (\"{0}\")")]
    DanglingOperator(&'static str, &'static str),
    /// An `OR` with something other than a word, phrase or prefix on one side.
    #[error(
        "`OR` joins words, \"phrases\" and prefixes (deploy OR rollback); `{0}` cannot be OR-ed"
    )]
    BadOr(String),
    /// `room:` terms that all lie outside the rooms the search is limited to.
    #[error(
        "`room:{0}` is outside the rooms this search covers ({1}), so nothing could match; \
         search {0} itself instead"
    )]
    RoomOutsideScope(String, String),
    /// A room that has no messages in the index (`chat-search --room nosuch`).
    #[error("no such room {0} in the index{1}")]
    NoSuchRoom(String, String),
}

/// One term of a parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// A word (`phrase == false`) or quoted phrase; `negated` for `-`.
    Text {
        /// The text as typed, without quotes.
        text: String,
        /// True if it was quoted.
        phrase: bool,
        /// True if prefixed with `-`.
        negated: bool,
    },
    /// `user:NAME` (lower-cased).
    User {
        /// The user, lower-cased.
        name: String,
        /// True if prefixed with `-`.
        negated: bool,
    },
    /// `room:NAME` (as a room key, `#` + lower-case).
    Room {
        /// The room key.
        key: String,
        /// True if prefixed with `-`.
        negated: bool,
    },
    /// `since:VALUE`, unparsed until the time zone is known.
    Since(String),
    /// `until:VALUE`, unparsed until the time zone is known.
    Until(String),
    /// `word*`: a word starting with `term` (already folded).
    Prefix {
        /// The folded prefix.
        term: String,
        /// True if prefixed with `-`.
        negated: bool,
    },
    /// `a OR b OR …`: any of these (positive text, phrase or prefix clauses).
    Any(Vec<Clause>),
}

/// What the tokenizer of the query text saw: a clause or an operator keyword.
enum Item {
    Clause(Clause),
    Or,
    And,
    Not,
}

/// Splits query text into clauses, checking quotes, field names and operators.
pub fn parse(text: &str) -> Result<Vec<Clause>, QueryError> {
    let mut clauses: Vec<Clause> = Vec::new();
    let mut items = items(text)?.into_iter().peekable();
    let mut pending_not = false;
    let mut or_next = false;
    while let Some(item) = items.next() {
        let at_end = items.peek().is_none();
        let clause = match item {
            Item::And if clauses.is_empty() || at_end || or_next || pending_not => {
                return Err(QueryError::DanglingOperator("AND", "a term on each side"));
            }
            Item::And => continue,
            Item::Not if at_end || pending_not => {
                return Err(QueryError::DanglingOperator("NOT", "a term after it"));
            }
            Item::Not => {
                pending_not = true;
                continue;
            }
            Item::Or if clauses.is_empty() || at_end || or_next || pending_not => {
                return Err(QueryError::DanglingOperator("OR", "a term on each side"));
            }
            Item::Or => {
                or_next = true;
                continue;
            }
            Item::Clause(c) => c,
        };
        let clause = if std::mem::take(&mut pending_not) {
            negate(clause)?
        } else {
            clause
        };
        if std::mem::take(&mut or_next) {
            let left = clauses.pop().expect("checked non-empty");
            let mut any = match left {
                Clause::Any(v) => v,
                other => vec![or_operand(other)?],
            };
            any.push(or_operand(clause)?);
            clauses.push(Clause::Any(any));
        } else {
            clauses.push(clause);
        }
    }
    Ok(clauses)
}

/// `NOT x`: the clause negated, like `-x`.
fn negate(clause: Clause) -> Result<Clause, QueryError> {
    Ok(match clause {
        Clause::Text { text, phrase, .. } => Clause::Text {
            text,
            phrase,
            negated: true,
        },
        Clause::Prefix { term, .. } => Clause::Prefix {
            term,
            negated: true,
        },
        Clause::User { name, .. } => Clause::User {
            name,
            negated: true,
        },
        Clause::Room { key, .. } => Clause::Room { key, negated: true },
        other => return Err(QueryError::BadOr(format!("NOT {}", describe(&other)))),
    })
}

fn or_operand(clause: Clause) -> Result<Clause, QueryError> {
    match clause {
        Clause::Text { negated: false, .. } | Clause::Prefix { negated: false, .. } => Ok(clause),
        other => Err(QueryError::BadOr(describe(&other))),
    }
}

fn describe(clause: &Clause) -> String {
    match clause {
        Clause::Text { text, negated, .. } => format!("{}{text}", if *negated { "-" } else { "" }),
        Clause::Prefix { term, negated } => format!("{}{term}*", if *negated { "-" } else { "" }),
        Clause::User { name, .. } => format!("user:{name}"),
        Clause::Room { key, .. } => format!("room:{key}"),
        Clause::Since(v) => format!("since:{v}"),
        Clause::Until(v) => format!("until:{v}"),
        Clause::Any(_) => "an OR group".to_string(),
    }
}

/// The clauses and operator keywords of `text`, in order.
fn items(text: &str) -> Result<Vec<Item>, QueryError> {
    let chars: Vec<(usize, char)> = text.chars().enumerate().map(|(i, c)| (i + 1, c)).collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].1.is_whitespace() {
            i += 1;
            continue;
        }
        let mut negated = false;
        if chars[i].1 == '-' && i + 1 < chars.len() && !chars[i + 1].1.is_whitespace() {
            negated = true;
            i += 1;
        }
        if chars[i].1 == '"' {
            let (inner, next) = read_quoted(&chars, i)?;
            i = next;
            items.push(Item::Clause(text_clause(inner, true, negated)?));
            continue;
        }
        // A bare word, possibly `field:value` or `field:"quoted value"`.
        let start = i;
        while i < chars.len() && !chars[i].1.is_whitespace() {
            if chars[i].1 == '"' && i > start && chars[i - 1].1 == ':' {
                break;
            }
            i += 1;
        }
        let mut word: String = chars[start..i].iter().map(|(_, c)| c).collect();
        let mut quoted_value = None;
        if i < chars.len() && chars[i].1 == '"' {
            let (inner, next) = read_quoted(&chars, i)?;
            i = next;
            quoted_value = Some(inner);
        }
        if !negated && quoted_value.is_none() {
            match word.as_str() {
                "OR" => {
                    items.push(Item::Or);
                    continue;
                }
                "AND" => {
                    items.push(Item::And);
                    continue;
                }
                "NOT" => {
                    items.push(Item::Not);
                    continue;
                }
                _ => {}
            }
        }
        let clause = match field_split(&word) {
            Some((field, value)) => {
                let value = quoted_value.unwrap_or_else(|| value.to_string());
                field_clause(&field, value.trim(), negated)?
            }
            None => {
                if let Some(q) = quoted_value {
                    word.push_str(&q);
                }
                word_clause(word, negated)?
            }
        };
        items.push(Item::Clause(clause));
    }
    Ok(items)
}

/// A bare word: `deploy*` is a prefix, anything else text.
fn word_clause(word: String, negated: bool) -> Result<Clause, QueryError> {
    let stem = word.trim_end_matches('*');
    if stem.len() == word.len() || stem.is_empty() {
        return text_clause(word, false, negated);
    }
    if word.len() - stem.len() > 1 || stem.contains('*') {
        return Err(QueryError::BadPrefix(word));
    }
    match prefix_term(stem) {
        Some(term) => Ok(Clause::Prefix { term, negated }),
        None => Err(QueryError::BadPrefix(word)),
    }
}

fn read_quoted(chars: &[(usize, char)], open: usize) -> Result<(String, usize), QueryError> {
    let mut j = open + 1;
    while j < chars.len() && chars[j].1 != '"' {
        j += 1;
    }
    if j >= chars.len() {
        return Err(QueryError::UnbalancedQuote(chars[open].0));
    }
    Ok((chars[open + 1..j].iter().map(|(_, c)| c).collect(), j + 1))
}

/// `name:value` where name is ASCII letters and the value does not start with `/`
/// (so `http://...` stays a word).
fn field_split(word: &str) -> Option<(String, &str)> {
    let (name, value) = word.split_once(':')?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphabetic()) || value.starts_with('/') {
        return None;
    }
    Some((name.to_ascii_lowercase(), value))
}

fn field_clause(field: &str, value: &str, negated: bool) -> Result<Clause, QueryError> {
    let example = match field {
        "user" | "from" => "alice",
        "room" | "in" => "#general",
        "since" | "until" => "2026-11-01",
        _ => return Err(QueryError::UnknownField(field.to_string())),
    };
    if value.is_empty() {
        return Err(QueryError::EmptyValue(field.to_string(), example));
    }
    Ok(match field {
        "user" | "from" => Clause::User {
            name: value.to_lowercase(),
            negated,
        },
        "room" | "in" => Clause::Room {
            key: parse_room(value)?,
            negated,
        },
        "since" => Clause::Since(value.to_string()),
        _ => Clause::Until(value.to_string()),
    })
}

/// Normalises a room typed by a user (`general`, `#General`) to the indexed room key.
pub fn parse_room(value: &str) -> Result<String, QueryError> {
    canonical_room(value)
        .map(|c| room_key(&c))
        .map_err(|e| QueryError::BadRoom(value.to_string(), e))
}

fn text_clause(text: String, phrase: bool, negated: bool) -> Result<Clause, QueryError> {
    if query_tokens(&text).is_empty() {
        return Err(QueryError::NothingSearchable(text));
    }
    Ok(Clause::Text {
        text,
        phrase,
        negated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::schema::build_schema;

    fn text(t: &str, phrase: bool, negated: bool) -> Clause {
        Clause::Text {
            text: t.into(),
            phrase,
            negated,
        }
    }

    #[test]
    fn parses_every_operator() {
        let c = parse(r#"deploy "is done" -flaky -"not yet" user:Alice room:general since:2026-11-01 until:2026-11-20 -user:bob in:#開発 from:carol"#).unwrap();
        assert_eq!(
            c,
            vec![
                text("deploy", false, false),
                text("is done", true, false),
                text("flaky", false, true),
                text("not yet", true, true),
                Clause::User {
                    name: "alice".into(),
                    negated: false
                },
                Clause::Room {
                    key: "#general".into(),
                    negated: false
                },
                Clause::Since("2026-11-01".into()),
                Clause::Until("2026-11-20".into()),
                Clause::User {
                    name: "bob".into(),
                    negated: true
                },
                Clause::Room {
                    key: "#開発".into(),
                    negated: false
                },
                Clause::User {
                    name: "carol".into(),
                    negated: false
                },
            ]
        );
        assert_eq!(
            parse(r#"user:"Dave""#).unwrap(),
            vec![Clause::User {
                name: "dave".into(),
                negated: false
            }]
        );
        // URLs and times are words, not fields.
        assert_eq!(parse("https://x.example/a 10:30").unwrap().len(), 2);
        assert_eq!(parse("  ").unwrap(), vec![]);
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            parse(r#"deploy "is done"#),
            Err(QueryError::UnbalancedQuote(8))
        );
        let e = parse("note:deploy").unwrap_err();
        assert_eq!(e, QueryError::UnknownField("note".into()));
        assert!(e.to_string().contains("unknown field `note:`"));
        assert_eq!(
            parse("user:"),
            Err(QueryError::EmptyValue("user".into(), "alice"))
        );
        assert_eq!(
            parse("deploy !!!"),
            Err(QueryError::NothingSearchable("!!!".into()))
        );
        assert!(matches!(parse("room:a,b"), Err(QueryError::BadRoom(..))));
    }

    #[test]
    fn compile_checks_dates_and_ranges() {
        let (_, fields) = build_schema();
        let scope = Scope::default();
        let e = compile("since:tomorrow", &scope, &fields).err().unwrap();
        assert!(e.to_string().contains("bad date `tomorrow`"), "{e}");
        let e = compile("since:2026-11-20 until:2026-11-01", &scope, &fields)
            .err()
            .unwrap();
        assert_eq!(
            e,
            QueryError::EmptyRange("2026-11-20".into(), "2026-11-01".into())
        );
        let bad_tz = Scope {
            tz: Some("Mars".into()),
            ..Scope::default()
        };
        assert!(matches!(
            compile("x", &bad_tz, &fields),
            Err(QueryError::BadTz(_))
        ));
        // Same day as since and until is a valid (whole-day) range.
        assert!(compile("since:2026-11-20 until:2026-11-20", &scope, &fields).is_ok());
    }

    #[test]
    fn highlight_terms_come_from_positive_words_only() {
        let (_, fields) = build_schema();
        let c = compile(
            "Deploy -flaky デプロイ user:alice",
            &Scope::default(),
            &fields,
        )
        .unwrap();
        assert_eq!(c.highlight_terms, ["deploy", "デプ", "プロ", "ロイ"]);
    }
}
