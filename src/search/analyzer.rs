//! The `linechat` tokenizer: how message text becomes index terms.
//!
//! Chat rooms mix English-like text with Japanese (and sometimes Chinese or Korean),
//! which is written without spaces. tantivy's default `SimpleTokenizer` +
//! `RemoveLongFilter` treats a whole Japanese sentence as one giant "word" (or drops it
//! as too long), so `デプロイ` could never find `明日デプロイします`. We therefore use our
//! own tokenizer, modelled on Lucene's `StandardTokenizer` + `CJKBigramFilter`:
//!
//! * a run of letters/digits outside the CJK scripts is one word, lower-cased, with no
//!   stemming (so `deploy` does not find `deployed`: chat users search for what they
//!   remember seeing, and stemming surprises more than it helps in short messages);
//! * a run of Han / Hiragana / Katakana / Hangul characters becomes overlapping character
//!   bigrams (`明日デプロイ` -> `明日 日デ デプ プロ ロイ`), one position each, so a
//!   multi-character query word becomes a phrase of bigrams and matches anywhere inside
//!   a run, without a dictionary;
//! * at index time every CJK character is *also* indexed as a unigram at the same
//!   position as the bigram it starts (Lucene's `outputUnigrams`), so a one-character
//!   query such as `猫` finds `猫が好き`. Queries never use those unigrams for words of
//!   two or more characters (see [`query_tokens`]), so phrase positions stay exact.
//!   The cost of the unigrams is measured in `SEARCH-FIGURES.md`.
//! * everything else (spaces, punctuation, symbols, emoji) separates tokens;
//!   a token longer than [`MAX_TOKEN_BYTES`] is dropped (a pasted blob is not a word).

use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};

/// Name under which the analyzer is registered with the index; the schema refers to it.
pub const TOKENIZER_NAME: &str = "linechat";

/// Longest token kept, in bytes: longer runs (base64 blobs, hashes) are not words anyone
/// types into a search box, and tantivy refuses terms over 65,530 bytes anyway.
pub const MAX_TOKEN_BYTES: usize = 100;

/// True for characters of the scripts written without spaces, which get bigrams.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF      // Hangul Jamo
        | 0x3005..=0x3007    // 々 〆 〇
        | 0x3040..=0x309F    // Hiragana
        | 0x30A0..=0x30FF    // Katakana (incl. ー)
        | 0x3130..=0x318F    // Hangul compatibility Jamo
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width Katakana
        | 0x20000..=0x3134F  // CJK extensions B..G
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Word,
    Cjk,
    Other,
}

fn class(c: char) -> Class {
    if is_cjk(c) {
        Class::Cjk
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Other
    }
}

/// Splits `text` into tokens; `unigrams` adds the per-character CJK unigrams (index side).
fn tokenize(text: &str, unigrams: bool) -> Vec<Token> {
    let mut out = Vec::new();
    let mut position = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match class(c) {
            Class::Other => {
                chars.next();
            }
            Class::Word => {
                let mut end = start;
                while let Some(&(i, c)) = chars.peek() {
                    if class(c) != Class::Word {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                let word = text[start..end].to_lowercase();
                if word.len() <= MAX_TOKEN_BYTES {
                    out.push(token(start, end, position, word));
                    position += 1;
                }
            }
            Class::Cjk => {
                let mut run: Vec<(usize, char)> = Vec::new();
                while let Some(&(i, c)) = chars.peek() {
                    if class(c) != Class::Cjk {
                        break;
                    }
                    run.push((i, c));
                    chars.next();
                }
                if run.len() == 1 {
                    let (i, c) = run[0];
                    out.push(token(i, i + c.len_utf8(), position, c.to_string()));
                    position += 1;
                    continue;
                }
                for pair in run.windows(2) {
                    let (i, a) = pair[0];
                    let (j, b) = pair[1];
                    if unigrams {
                        out.push(token(i, i + a.len_utf8(), position, a.to_string()));
                    }
                    out.push(token(i, j + b.len_utf8(), position, format!("{a}{b}")));
                    position += 1;
                }
                if unigrams {
                    // The last character starts no bigram; give it its own position.
                    let (i, c) = run[run.len() - 1];
                    out.push(token(i, i + c.len_utf8(), position, c.to_string()));
                    position += 1;
                }
            }
        }
    }
    out
}

fn token(from: usize, to: usize, position: usize, text: String) -> Token {
    Token {
        offset_from: from,
        offset_to: to,
        position,
        text,
        position_length: 1,
    }
}

/// The tokenizer registered as [`TOKENIZER_NAME`]; indexes CJK unigrams and bigrams.
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
            tokens: tokenize(text, true),
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

/// Tokens of a query word or phrase as `(position, text)`: bigrams only for CJK runs of
/// two or more characters, so a multi-character word is an exact phrase of bigrams.
pub fn query_tokens(text: &str) -> Vec<(usize, String)> {
    tokenize(text, false)
        .into_iter()
        .map(|t| (t.position, t.text))
        .collect()
}

/// Byte ranges of `text` covered by tokens whose text is in `terms`, merged, for
/// highlighting matches in output. Uses the index-side tokenizer so every indexed term
/// (unigram or bigram) can be found.
pub fn highlight_ranges(text: &str, terms: &[String]) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = tokenize(text, true)
        .into_iter()
        .filter(|t| terms.contains(&t.text))
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
mod tests {
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

    #[test]
    fn latin_words_are_lowercased_without_stemming() {
        let q = query_tokens("The Deploy-2 is DONE, deployed!");
        assert_eq!(texts(&q), ["the", "deploy", "2", "is", "done", "deployed"]);
        assert_eq!(
            q.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5]
        );
        assert_eq!(texts(&query_tokens("Ünïcode café")), ["ünïcode", "café"]);
    }

    #[test]
    fn cjk_runs_become_bigrams_and_lone_chars_unigrams() {
        let q = query_tokens("明日デプロイします");
        assert_eq!(
            texts(&q),
            [
                "明日", "日デ", "デプ", "プロ", "ロイ", "イし", "しま", "ます"
            ]
        );
        assert_eq!(texts(&query_tokens("猫")), ["猫"]);
        assert_eq!(texts(&query_tokens("開発")), ["開発"]);
        // Mixed text: the Latin word and the CJK run are separate tokens.
        let mixed = query_tokens("v2をデプロイ");
        assert_eq!(texts(&mixed), ["v2", "をデ", "デプ", "プロ", "ロイ"]);
        assert_eq!(texts(&query_tokens("한국어")), ["한국", "국어"]);
    }

    #[test]
    fn index_side_adds_unigrams_at_bigram_positions() {
        let t = index_terms("猫が好き");
        assert_eq!(
            t,
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
    fn query_bigram_positions_line_up_with_index_positions() {
        // デプロイ inside 明日デプロイします: bigrams at consecutive positions in both.
        let idx = index_terms("明日デプロイします");
        let pos = |term: &str| idx.iter().find(|(_, t)| t == term).unwrap().0;
        let q = query_tokens("デプロイ");
        let base = pos(&q[0].1);
        for (p, t) in &q {
            assert_eq!(pos(t), base + p, "term {t}");
        }
    }

    #[test]
    fn punctuation_separates_and_long_tokens_are_dropped() {
        assert_eq!(
            texts(&query_tokens("「こんにちは」、世界！")),
            ["こん", "んに", "にち", "ちは", "世界"]
        );
        assert!(query_tokens(&"x".repeat(MAX_TOKEN_BYTES + 1)).is_empty());
        assert!(query_tokens("!!! ... ---").is_empty());
    }

    #[test]
    fn highlights_cover_matched_terms() {
        let text = "Deploy done; 明日デプロイします";
        let r = highlight_ranges(text, &["deploy".into(), "デプ".into(), "プロ".into()]);
        assert_eq!(r.len(), 2);
        assert_eq!(&text[r[0].0..r[0].1], "Deploy");
        assert_eq!(&text[r[1].0..r[1].1], "デプロ");
    }
}
