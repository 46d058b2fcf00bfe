//! Unicode normalisation for search: the same text in different code points must give the
//! same index terms, at index time and at query time.
//!
//! * **NFKC** (compatibility composition): full-width `ＯＫ` becomes `OK`, half-width `ｶﾞ`
//!   becomes `ガ`, ligatures and circled digits become letters and digits, a decomposed
//!   `e` + U+0301 becomes `é`;
//! * **case folding** ([`fold`]): Unicode lower case, plus `ß` → `ss` and final `ς` → `σ`,
//!   and emoji presentation selectors (U+FE00–FE0F) dropped.
//!
//! NFKC is applied chunk by chunk (a character with the combining marks and half-width
//! sound marks that follow it), never across chunks, so a text and any of its substrings
//! that start and end on chunk boundaries normalise the same way: what makes "every
//! substring of a message finds the message" hold. [`Normalized`] remembers where each
//! chunk came from, so highlights can point into the original text.

use std::borrow::Cow;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// A text after NFKC, with the map back to the original's byte offsets.
pub struct Normalized<'a> {
    /// The NFKC form (borrowed when the text already was NFKC, as ASCII always is).
    pub text: Cow<'a, str>,
    /// `(normalized start, original start, original end)` per chunk; empty when `text`
    /// is the original itself.
    chunks: Vec<(usize, usize, usize)>,
}

/// True if `c` belongs to the chunk of the character before it: combining marks, the
/// half-width katakana sound marks (NFKC composes `ｶﾞ` into `ガ`) and conjoining Hangul
/// vowels and finals (which compose with the syllable before them).
fn attaches(c: char) -> bool {
    is_combining_mark(c) || matches!(c, '\u{FF9E}' | '\u{FF9F}' | '\u{1160}'..='\u{11FF}')
}

impl<'a> Normalized<'a> {
    /// Normalises `text` (cheaply when it is ASCII or already NFKC).
    pub fn new(text: &'a str) -> Normalized<'a> {
        if text.is_ascii() || is_nfkc_quick(text.chars()) == IsNormalized::Yes {
            return Normalized {
                text: Cow::Borrowed(text),
                chunks: Vec::new(),
            };
        }
        let mut out = String::with_capacity(text.len() + 8);
        let mut chunks = Vec::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if !attaches(d) {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            chunks.push((out.len(), i, end));
            out.extend(text[i..end].nfkc());
        }
        Normalized {
            text: Cow::Owned(out),
            chunks,
        }
    }

    /// The original byte range covering normalized bytes `from..to`.
    pub fn original(&self, from: usize, to: usize) -> (usize, usize) {
        if self.chunks.is_empty() {
            return (from, to);
        }
        // Chunk holding byte `from`, and chunk holding the last byte before `to`.
        let at = |pos: usize| match self.chunks.binary_search_by_key(&pos, |c| c.0) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let first = self.chunks[at(from)];
        let last = self.chunks[at(to.saturating_sub(1).max(from))];
        (first.1, last.2)
    }
}

/// Case-folds an already NFKC-normalised token: lower case, `ß` → `ss`, `ς` → `σ`, and the
/// variation selectors U+FE00–FE0F removed (so `☕️` and `☕` are one term).
pub fn fold(token: &str) -> String {
    if token.is_ascii() {
        return token.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(token.len());
    for c in token.chars() {
        match c {
            'ß' | 'ẞ' => out.push_str("ss"),
            'ς' => out.push('σ'),
            '\u{FE00}'..='\u{FE0F}' => {}
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_half_width_forms_become_ordinary_ones() {
        assert_eq!(Normalized::new("ＯＫ").text, "OK");
        assert_eq!(Normalized::new("ｶﾞｷﾞ").text, "ガギ");
        assert_eq!(Normalized::new("ﬁx ①").text, "fix 1");
        assert_eq!(Normalized::new("cafe\u{301}").text, "café");
        assert!(matches!(Normalized::new("plain").text, Cow::Borrowed(_)));
        assert!(matches!(
            Normalized::new("明日デプロイ").text,
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn offsets_map_back_to_the_original() {
        let text = "aＯＫb";
        let n = Normalized::new(text);
        assert_eq!(n.text, "aOKb");
        let (from, to) = n.original(1, 3);
        assert_eq!(&text[from..to], "ＯＫ");
        let n = Normalized::new("ｶﾞx");
        let (from, to) = n.original(0, "ガ".len());
        assert_eq!(&"ｶﾞx"[from..to], "ｶﾞ");
    }

    #[test]
    fn folding_is_lower_case_plus_sharp_s_and_final_sigma() {
        assert_eq!(fold("DEPLOY"), "deploy");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("ΟΔΟΣ"), "οδοσ");
        assert_eq!(fold("οδος"), "οδοσ");
        assert_eq!(fold("☕\u{FE0F}"), "☕");
    }
}
