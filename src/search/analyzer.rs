//! The `linechat` analyzer: how message text becomes index terms, and how query text
//! becomes the terms that find it.
//!
//! One function, [`tokenize`], serves both sides, so they cannot drift apart: the query
//! side gets exactly the index side's terms *at the same positions*, minus the extra
//! terms only the index needs. Steps:
//!
//! 1. A leading CTCP `\x01ACTION` (how `/me` is archived) is skipped: it is framing, not
//!    something anyone said.
//! 2. NFKC + case folding ([`super::normalize`]): `ＯＫ` is `ok`, `ｶﾞ` is `ガ`.
//! 3. Units ([`super::segment`]): words, compounds, unspaced-script characters, symbols.
//! 4. Terms, each unit taking its own positions:
//!    * a word: its folded text, one position;
//!    * a compound with `k` parts (`node.js`: `node`, `js`): `k` positions; the index
//!      has each part at its own position *and* the whole compound at the first, so
//!      `node`, `js`, `"node js"` and `node.js` all find `node.js`, while the query for
//!      `C++` is the single term `c++` (which `C#` or `C` do not have);
//!    * a run of `n` unspaced characters (CJK, Thai…): `n` positions, the bigram of
//!      characters `i, i+1` at position `i` (Lucene's CJKBigramFilter), and on the index
//!      side also each character as a unigram at its own position. A query of two or more
//!      characters is a phrase of bigrams (substring match inside runs, no dictionary);
//!      a lone character is a unigram. The last character's position is kept on both
//!      sides, so whatever follows a run (`バグfix`, `"東京 大阪"`) lines up;
//!    * a symbol (`🎉`, `☕`, `👨‍💻`): one term, one position.
//!
//! A term longer than [`MAX_TOKEN_BYTES`] is not indexed (a pasted blob is not a word)
//! but keeps its position; a compound that long is searched by its parts.

use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};

use super::normalize::{Normalized, fold};
use super::segment::{Kind, symbol_term, units};

pub use super::segment::is_cjk;

/// Name under which the analyzer is registered with the index; the schema refers to it.
pub const TOKENIZER_NAME: &str = "linechat";

/// Longest term kept, in bytes: longer runs (base64 blobs, hashes) are not words anyone
/// types into a search box, and tantivy refuses terms over 65,530 bytes anyway.
pub const MAX_TOKEN_BYTES: usize = 100;

/// Which side terms are made for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    /// Indexing: every term, including compound parts and CJK unigrams.
    Index,
    /// Querying: the terms that pin a match down exactly.
    Query,
}

/// The byte length of a leading `\x01ACTION` framing, if `text` has one.
fn action_prefix(text: &str) -> usize {
    match text.strip_prefix("\u{1}ACTION") {
        Some(rest) if rest.is_empty() || rest.starts_with([' ', '\u{1}']) => "\u{1}ACTION".len(),
        _ => 0,
    }
}

/// The terms of `text` for `side`, with positions and byte offsets into `text`.
pub fn tokenize(text: &str, side: Side) -> Vec<Token> {
    let skip = action_prefix(text);
    let norm = Normalized::new(&text[skip..]);
    let t: &str = &norm.text;
    let units = units(t);
    let mut out = Vec::with_capacity(units.len() + 4);
    let mut position = 0usize;
    let mut push = |from: usize, to: usize, position: usize, term: String| {
        if term.is_empty() || term.len() > MAX_TOKEN_BYTES {
            return;
        }
        let (from, to) = norm.original(from, to);
        out.push(Token {
            offset_from: skip + from,
            offset_to: skip + to,
            position,
            text: term,
            position_length: 1,
        });
    };
    let mut k = 0;
    while k < units.len() {
        let unit = &units[k];
        match &unit.kind {
            Kind::Word { parts, compound } => {
                let mut parts_too = true;
                if *compound {
                    let whole = fold(&t[unit.from..unit.to]);
                    parts_too = side == Side::Index || whole.len() > MAX_TOKEN_BYTES;
                    push(unit.from, unit.to, position, whole);
                }
                let single = [(unit.from, unit.to)];
                let parts: &[(usize, usize)] = if parts.is_empty() { &single } else { parts };
                if parts_too {
                    for (i, &(from, to)) in parts.iter().enumerate() {
                        push(from, to, position + i, fold(&t[from..to]));
                    }
                }
                position += parts.len();
                k += 1;
            }
            Kind::Symbol => {
                push(
                    unit.from,
                    unit.to,
                    position,
                    symbol_term(&t[unit.from..unit.to]),
                );
                position += 1;
                k += 1;
            }
            Kind::Unspaced { .. } => {
                let start = k;
                k += 1;
                while k < units.len()
                    && matches!(units[k].kind, Kind::Unspaced { run_start: false })
                {
                    k += 1;
                }
                let run = &units[start..k];
                let ch = |u: &super::segment::Unit| fold(&t[u.from..u.to]);
                if run.len() == 1 {
                    push(run[0].from, run[0].to, position, ch(&run[0]));
                } else {
                    for (i, u) in run.iter().enumerate() {
                        if side == Side::Index {
                            push(u.from, u.to, position + i, ch(u));
                        }
                        if let Some(next) = run.get(i + 1) {
                            push(u.from, next.to, position + i, ch(u) + &ch(next));
                        }
                    }
                }
                position += run.len();
            }
        }
    }
    out
}

/// The original byte ranges of `text`'s units, in order (several units may share a range
/// when one original character normalises to several, as `㍻` does).
pub fn segments(text: &str) -> Vec<(usize, usize)> {
    let skip = action_prefix(text);
    let norm = Normalized::new(&text[skip..]);
    units(&norm.text)
        .into_iter()
        .map(|u| {
            let (from, to) = norm.original(u.from, u.to);
            (skip + from, skip + to)
        })
        .collect()
}

/// The tokenizer registered as [`TOKENIZER_NAME`] (index side).
#[derive(Clone, Default)]
pub struct LinechatTokenizer;

/// Token stream over precomputed tokens: messages are short, so materialising them is
/// simpler than a streaming state machine and costs nothing measurable.
pub struct LinechatTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for LinechatTokenizer {
    type TokenStream<'a> = LinechatTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> LinechatTokenStream {
        LinechatTokenStream {
            tokens: tokenize(text, Side::Index),
            next: 0,
        }
    }
}

impl TokenStream for LinechatTokenStream {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// The analyzer to register on an index under [`TOKENIZER_NAME`].
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(LinechatTokenizer).build()
}

/// Terms of a query word or phrase as `(position, term)`, positions as the index has them.
pub fn query_tokens(text: &str) -> Vec<(usize, String)> {
    tokenize(text, Side::Query)
        .into_iter()
        .map(|t| (t.position, t.text))
        .collect()
}

/// The term a trailing-`*` query word stands for (`deploy*` → `deploy`), if `stem` is one
/// word or compound of letters and digits (prefixes of CJK runs or symbols mean nothing:
/// CJK words already match inside longer text).
pub fn prefix_term(stem: &str) -> Option<String> {
    let norm = Normalized::new(stem);
    let units = units(&norm.text);
    match units.as_slice() {
        [unit] if matches!(unit.kind, Kind::Word { .. }) => {
            let term = fold(&norm.text[unit.from..unit.to]);
            (term.len() <= MAX_TOKEN_BYTES).then_some(term)
        }
        _ => None,
    }
}

/// Byte ranges of `text` covered by terms in `terms` (or starting with one of
/// `prefixes`), merged, for highlighting matches in output.
pub fn highlight_ranges(text: &str, terms: &[String], prefixes: &[String]) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = tokenize(text, Side::Index)
        .into_iter()
        .filter(|t| terms.contains(&t.text) || prefixes.iter().any(|p| t.text.starts_with(p)))
        .map(|t| (t.offset_from, t.offset_to))
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (from, to) in ranges {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

#[cfg(test)]
#[path = "analyzer_tests.rs"]
mod tests;
