//! The parsed query (see [`super::query`] for the language) and the request's own scope
//! turned into one tantivy query, with the terms to highlight.

use std::ops::Bound as RangeBound;

use tantivy::query::{
    AllQuery, BooleanQuery, Occur, PhraseQuery, Query, RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DateTime, Term};

use super::analyzer::query_tokens;
use super::exclude::Materialized;
use super::query::{Clause, QueryError, parse, parse_room};
use super::schema::Fields;
use super::timestamps::{self, Bound, Zone};

/// Scope and options that come from outside the query text (CLI flags, the server's
/// room argument). They are ANDed with the text's own clauses.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only this room (typed form; normalised here).
    pub room: Option<String>,
    /// Only these rooms (any of them); empty means no such limit. The server's SEARCH
    /// without a room searches every room the asker is in this way.
    pub rooms: Vec<String>,
    /// Only this user.
    pub user: Option<String>,
    /// `since` bound, as typed.
    pub since: Option<String>,
    /// `until` bound, as typed.
    pub until: Option<String>,
    /// Time zone for date-only bounds (`UTC` when absent).
    pub tz: Option<String>,
}

/// A query ready to run, plus the terms to highlight in results.
pub struct Compiled {
    /// The tantivy query.
    pub query: Box<dyn Query>,
    /// Indexed terms of positive text clauses, for highlighting.
    pub highlight_terms: Vec<String>,
    /// Prefixes of positive `word*` clauses, for highlighting.
    pub highlight_prefixes: Vec<String>,
}

/// The query for one positive or negative text-like clause.
fn text_like(fields: &Fields, clause: Clause, hl: &mut Compiled) -> Box<dyn Query> {
    match clause {
        Clause::Text { text, negated, .. } => {
            let tokens = query_tokens(&text);
            if !negated {
                hl.highlight_terms
                    .extend(tokens.iter().map(|(_, t)| t.clone()));
            }
            text_query(fields, tokens)
        }
        Clause::Prefix { term, negated } => {
            let q = prefix_query(fields, &term);
            if !negated {
                hl.highlight_prefixes.push(term);
            }
            q
        }
        Clause::Any(v) => Box::new(BooleanQuery::union(
            v.into_iter().map(|c| text_like(fields, c, hl)).collect(),
        )),
        _ => unreachable!("only text-like clauses are passed"),
    }
}

/// Parses `text` and combines it with `scope` into one tantivy query.
pub fn compile(text: &str, scope: &Scope, fields: &Fields) -> Result<Compiled, QueryError> {
    let clauses = parse(text)?;
    let tz =
        timestamps::parse_tz(scope.tz.as_deref().unwrap_or("UTC")).map_err(QueryError::BadTz)?;
    let mut musts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut text_users = Vec::new();
    let mut text_rooms: Vec<String> = Vec::new();
    let mut out = Compiled {
        query: Box::new(AllQuery),
        highlight_terms: Vec::new(),
        highlight_prefixes: Vec::new(),
    };
    let mut since: Vec<(i64, String)> = Vec::new();
    let mut until: Vec<(i64, String)> = Vec::new();
    for clause in clauses {
        match clause {
            Clause::Text { negated, .. } | Clause::Prefix { negated, .. } => {
                let q = text_like(fields, clause, &mut out);
                if negated {
                    // See `exclude`: a bare PhraseQuery in MustNot trips tantivy#2811.
                    musts.push((Occur::MustNot, Box::new(Materialized(q))));
                } else {
                    musts.push((Occur::Must, q));
                }
            }
            Clause::Any(_) => {
                let q = text_like(fields, clause, &mut out);
                musts.push((Occur::Must, q));
            }
            Clause::User { name, negated } => {
                let q = term(fields.user, &name);
                if negated {
                    musts.push((Occur::MustNot, q));
                } else {
                    text_users.push(q);
                }
            }
            Clause::Room { key, negated } => {
                if negated {
                    musts.push((Occur::MustNot, term(fields.room, &key)));
                } else {
                    text_rooms.push(key);
                }
            }
            Clause::Since(v) => since.push((bound(&v, Bound::Since, tz)?, v)),
            Clause::Until(v) => until.push((bound(&v, Bound::Until, tz)?, v)),
        }
    }
    let mut scope_rooms: Vec<String> = Vec::new();
    if let Some(room) = &scope.room {
        scope_rooms.push(parse_room(room)?);
    }
    let mut any_of: Vec<String> = Vec::new();
    for room in &scope.rooms {
        any_of.push(parse_room(room)?);
    }
    check_rooms_in_scope(&text_rooms, &scope_rooms, &any_of)?;
    for key in &scope_rooms {
        // Its own MUST clause, apart from the text's OR-ed `room:` terms, so the text
        // can narrow the caller's scope but never widen it.
        musts.push((Occur::Must, term(fields.room, key)));
    }
    if !any_of.is_empty() {
        let any = any_of.iter().map(|k| term(fields.room, k)).collect();
        musts.push((Occur::Must, Box::new(BooleanQuery::union(any))));
    }
    if let Some(user) = &scope.user {
        musts.push((Occur::Must, term(fields.user, &user.to_lowercase())));
    }
    for (v, b) in [(&scope.since, Bound::Since), (&scope.until, Bound::Until)] {
        if let Some(v) = v {
            let list = if b == Bound::Since {
                &mut since
            } else {
                &mut until
            };
            list.push((bound(v, b, tz)?, v.clone()));
        }
    }
    let text_rooms = text_rooms.iter().map(|k| term(fields.room, k)).collect();
    for group in [text_users, text_rooms] {
        match group.len() {
            0 => {}
            1 => musts.push((Occur::Must, group.into_iter().next().expect("one"))),
            _ => musts.push((Occur::Must, Box::new(BooleanQuery::union(group)))),
        }
    }
    // The latest `since` and earliest `until` win: all bounds must hold.
    let lower = since.into_iter().max_by_key(|(ms, _)| *ms);
    let upper = until.into_iter().min_by_key(|(ms, _)| *ms);
    if let (Some((lo, lo_s)), Some((hi, hi_s))) = (&lower, &upper)
        && lo > hi
    {
        return Err(QueryError::EmptyRange(lo_s.clone(), hi_s.clone()));
    }
    if lower.is_some() || upper.is_some() {
        let to_term =
            |ms: i64| Term::from_field_date(fields.timestamp, DateTime::from_timestamp_millis(ms));
        let lo = lower.map_or(RangeBound::Unbounded, |(ms, _)| {
            RangeBound::Included(to_term(ms))
        });
        let hi = upper.map_or(RangeBound::Unbounded, |(ms, _)| {
            RangeBound::Included(to_term(ms))
        });
        musts.push((Occur::Must, Box::new(RangeQuery::new(lo, hi))));
    }
    if !musts.iter().any(|(o, _)| *o == Occur::Must) {
        // Only exclusions (or nothing): start from every message.
        musts.push((Occur::Must, Box::new(AllQuery)));
    }
    out.query = Box::new(BooleanQuery::new(musts));
    Ok(out)
}

/// `room:` terms in the text can only narrow the caller's scope: when none of them is
/// inside it, nothing could match, and the user is told why instead of getting 0 hits.
fn check_rooms_in_scope(
    text_rooms: &[String],
    scope_rooms: &[String],
    any_of: &[String],
) -> Result<(), QueryError> {
    if text_rooms.is_empty() || (scope_rooms.is_empty() && any_of.is_empty()) {
        return Ok(());
    }
    let inside = |k: &String| {
        scope_rooms.iter().all(|s| s == k) && (any_of.is_empty() || any_of.contains(k))
    };
    if text_rooms.iter().any(inside) {
        return Ok(());
    }
    let allowed: Vec<&String> = if scope_rooms.is_empty() {
        any_of.iter().collect()
    } else {
        scope_rooms.iter().collect()
    };
    let label = if allowed.len() <= 5 {
        allowed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        format!("{} rooms", allowed.len())
    };
    Err(QueryError::RoomOutsideScope(
        text_rooms.join(", room:"),
        label,
    ))
}

fn bound(value: &str, b: Bound, tz: Zone) -> Result<i64, QueryError> {
    timestamps::parse_bound(value, b, tz).map_err(QueryError::BadDate)
}

fn term(field: tantivy::schema::Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// Every word starting with `prefix` (already folded), however many there are: a regex
/// automaton over the term dictionary, with no cap on expansions.
fn prefix_query(fields: &Fields, prefix: &str) -> Box<dyn Query> {
    let mut pattern = String::with_capacity(prefix.len() * 4 + 2);
    for c in prefix.chars() {
        if c.is_alphanumeric() {
            pattern.push(c);
        } else {
            pattern.push_str(&format!("\\x{{{:x}}}", c as u32));
        }
    }
    pattern.push_str(".*");
    match RegexQuery::from_pattern(&pattern, fields.message) {
        Ok(q) => Box::new(q),
        // Cannot happen for an escaped literal; match the word itself rather than fail.
        Err(_) => term(fields.message, prefix),
    }
}

/// One token: a term query; several: a phrase at the tokens' relative positions.
fn text_query(fields: &Fields, tokens: Vec<(usize, String)>) -> Box<dyn Query> {
    if tokens.len() == 1 {
        return Box::new(TermQuery::new(
            Term::from_field_text(fields.message, &tokens[0].1),
            IndexRecordOption::WithFreqs,
        ));
    }
    let terms = tokens
        .into_iter()
        .map(|(pos, t)| (pos, Term::from_field_text(fields.message, &t)))
        .collect();
    Box::new(PhraseQuery::new_with_offset(terms))
}
