//! Splitting normalised text into *units*, the things a user can search for: words,
//! characters of scripts written without spaces, and symbols. The analyzer turns units
//! into index terms ([`super::analyzer`]).
//!
//! * **Word**: a run of letters, digits, combining marks and `_` outside the unspaced
//!   scripts. Words joined by one of `. / @ + # &` form one *compound* (`node.js`,
//!   `a/b`, `alice@example.com`, `v2.3`, `AT&T`), as do a word with a trailing `+`, `++`
//!   or `#` (`C++`, `C#`, `F#`) and a word with a leading `.` that follows no word or dot
//!   (`.NET`, `.env`). A compound keeps its parts: `node.js` has parts `node` and `js`.
//! * **Unspaced**: one character of Han, Hiragana, Katakana, Hangul, Bopomofo, Thai, Lao,
//!   Myanmar or Khmer; consecutive ones form a *run* (bigrams are made per run).
//! * **Symbol**: an emoji or other symbol (Unicode general category S\*, outside ASCII),
//!   with what belongs to it: a second regional indicator (flags), variation selectors and
//!   skin-tone modifiers (both ignored), a keycap mark, tag characters, and further
//!   symbols joined by ZERO WIDTH JOINER (`👨‍💻` is one unit).
//! * Everything else (spaces, punctuation, ASCII symbols) separates units.

use unicode_normalization::char::is_combining_mark;
use unicode_properties::{GeneralCategoryGroup, UnicodeEmoji, UnicodeGeneralCategory};

/// True for characters of the CJK scripts (for terminal width, and bigrams).
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

/// True for the scripts written without spaces between words, which get bigrams: CJK,
/// Bopomofo, Thai, Lao, Myanmar and Khmer.
pub fn is_unspaced(c: char) -> bool {
    is_cjk(c)
        || matches!(c as u32,
            0x0E00..=0x0EFF      // Thai, Lao
            | 0x1000..=0x109F    // Myanmar
            | 0x1780..=0x17FF    // Khmer
            | 0x3100..=0x312F    // Bopomofo
        )
}

/// What a character is to the segmenter.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Class {
    /// Part of a word.
    Word,
    /// A character of a script written without spaces.
    Unspaced,
    /// An emoji or other non-ASCII symbol.
    Symbol,
    /// A separator.
    Other,
}

/// The class of one (normalised) character.
pub fn class(c: char) -> Class {
    if c.is_ascii() {
        return if c.is_ascii_alphanumeric() || c == '_' {
            Class::Word
        } else {
            Class::Other
        };
    }
    if is_unspaced(c) {
        Class::Unspaced
    } else if is_selector(c) {
        Class::Other
    } else if c.is_alphanumeric() || is_combining_mark(c) {
        Class::Word
    } else if c.general_category_group() == GeneralCategoryGroup::Symbol || c.is_emoji_char() {
        Class::Symbol
    } else {
        Class::Other
    }
}

fn is_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}')
}

fn is_skin_tone(c: char) -> bool {
    matches!(c, '\u{1F3FB}'..='\u{1F3FF}')
}

fn is_regional(c: char) -> bool {
    matches!(c, '\u{1F1E6}'..='\u{1F1FF}')
}

/// Characters that join two words into a compound (`node.js`, `a/b`, `a@b`, `a+b`, `c#d`).
fn is_joiner(c: char) -> bool {
    matches!(c, '.' | '/' | '@' | '+' | '#' | '&')
}

/// What a unit is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A word or compound; `parts` are the byte ranges of its words.
    Word {
        /// Byte ranges (in the normalised text) of the words inside a compound; empty for
        /// a plain word (its one part is the unit itself: no allocation per word).
        parts: Vec<(usize, usize)>,
        /// True for a compound (several parts, or a leading `.` / trailing `+`/`#`).
        compound: bool,
    },
    /// One character of an unspaced script; `run_start` is true for the first of a run.
    Unspaced {
        /// True if this character starts a run.
        run_start: bool,
    },
    /// A symbol cluster; the term is the text without selectors and skin tones.
    Symbol,
}

/// One unit: its byte range in the normalised text and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// First byte.
    pub from: usize,
    /// Byte after the last.
    pub to: usize,
    /// What it is.
    pub kind: Kind,
}

/// Splits normalised `text` into units, in order.
pub fn units(text: &str) -> Vec<Unit> {
    thread_local! {
        /// The characters of the text being segmented, reused from message to message.
        static CHARS: std::cell::RefCell<Vec<(usize, char)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    CHARS.with_borrow_mut(|chars| {
        chars.clear();
        chars.extend(text.char_indices());
        units_of(text, chars)
    })
}

fn units_of(text: &str, chars: &[(usize, char)]) -> Vec<Unit> {
    let n = chars.len();
    let end_of = |i: usize| chars.get(i).map_or(text.len(), |c| c.0);
    let class_at = |i: usize| chars.get(i).map_or(Class::Other, |c| class(c.1));
    let mut out = Vec::with_capacity(n / 4 + 1);
    let mut i = 0;
    let mut prev_unspaced = false;
    while i < n {
        let c = chars[i].1;
        let leading_dot = c == '.'
            && class_at(i + 1) == Class::Word
            && (i == 0 || (class_at(i - 1) != Class::Word && chars[i - 1].1 != '.'));
        match class(c) {
            Class::Word => {
                let (unit, next) = word(chars, i, false, end_of(n));
                out.push(unit);
                i = next;
            }
            Class::Other if leading_dot => {
                let (unit, next) = word(chars, i + 1, true, end_of(n));
                out.push(unit);
                i = next;
            }
            Class::Unspaced => {
                out.push(Unit {
                    from: chars[i].0,
                    to: end_of(i + 1),
                    kind: Kind::Unspaced {
                        run_start: !prev_unspaced,
                    },
                });
                i += 1;
                prev_unspaced = true;
                continue;
            }
            Class::Symbol => {
                let start = i;
                i += 1;
                if is_regional(c) && chars.get(i).is_some_and(|d| is_regional(d.1)) {
                    i += 1;
                }
                while let Some(&(_, d)) = chars.get(i) {
                    if is_selector(d)
                        || is_skin_tone(d)
                        || d == '\u{20E3}'
                        || matches!(d, '\u{E0020}'..='\u{E007F}')
                    {
                        i += 1;
                    } else if d == '\u{200D}' && class_at(i + 1) == Class::Symbol {
                        i += 2;
                    } else {
                        break;
                    }
                }
                out.push(Unit {
                    from: chars[start].0,
                    to: end_of(i),
                    kind: Kind::Symbol,
                });
            }
            Class::Other => i += 1,
        }
        prev_unspaced = false;
    }
    out
}

/// Reads a word or compound starting at `i` (after its leading `.` when `dot`).
fn word(chars: &[(usize, char)], mut i: usize, dot: bool, text_end: usize) -> (Unit, usize) {
    let n = chars.len();
    let end_of = |i: usize| chars.get(i).map_or(text_end, |c| c.0);
    let is_word = |i: usize| chars.get(i).is_some_and(|c| class(c.1) == Class::Word);
    let from = if dot { chars[i - 1].0 } else { chars[i].0 };
    let mut first = None;
    let mut parts = Vec::new();
    loop {
        let start = i;
        while is_word(i) {
            i += 1;
        }
        let part = (chars[start].0, end_of(i));
        match first {
            None => first = Some(part),
            Some(f) => {
                if parts.is_empty() {
                    parts.push(f);
                }
                parts.push(part);
            }
        }
        if i + 1 < n && is_joiner(chars[i].1) && is_word(i + 1) {
            i += 1;
            continue;
        }
        break;
    }
    // A trailing `#`, `+` or `++` (C#, C++), not followed by a word or more of them.
    let mut j = i;
    if chars.get(j).is_some_and(|c| c.1 == '#') {
        j += 1;
    } else {
        while j < i + 2 && chars.get(j).is_some_and(|c| c.1 == '+') {
            j += 1;
        }
    }
    let suffix = j > i && !is_word(j) && !chars.get(j).is_some_and(|c| matches!(c.1, '+' | '#'));
    if suffix {
        i = j;
    }
    let compound = dot || suffix || !parts.is_empty();
    if compound && parts.is_empty() {
        parts.extend(first);
    }
    (
        Unit {
            from,
            to: end_of(i),
            kind: Kind::Word { parts, compound },
        },
        i,
    )
}

/// The term of a symbol unit: its text without variation selectors and skin tones (after
/// the first character).
pub fn symbol_term(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (k, c) in text.chars().enumerate() {
        if is_selector(c) || (k > 0 && is_skin_tone(c)) {
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> Vec<(&str, &'static str)> {
        units(text)
            .into_iter()
            .map(|u| {
                let kind = match u.kind {
                    Kind::Word { compound: true, .. } => "compound",
                    Kind::Word { .. } => "word",
                    Kind::Unspaced { .. } => "unspaced",
                    Kind::Symbol => "symbol",
                };
                (&text[u.from..u.to], kind)
            })
            .collect()
    }

    #[test]
    fn programmer_words_are_compounds() {
        assert_eq!(
            shown("C++ and C# (.NET) on node.js, a/b."),
            [
                ("C++", "compound"),
                ("and", "word"),
                ("C#", "compound"),
                (".NET", "compound"),
                ("on", "word"),
                ("node.js", "compound"),
                ("a/b", "compound"),
            ]
        );
        // Not compounds: a dot ending a sentence, `+` runs, `#room`, `..`.
        assert_eq!(
            shown("done. c+++ #general x..y"),
            [
                ("done", "word"),
                ("c", "word"),
                ("general", "word"),
                ("x", "word"),
                ("y", "word")
            ]
        );
        assert_eq!(
            shown("v2.3 snake_case"),
            [("v2.3", "compound"), ("snake_case", "word")]
        );
    }

    #[test]
    fn emoji_clusters_are_one_unit() {
        assert_eq!(
            shown("ok🎉👍🏽 ☕\u{FE0F}👨\u{200D}💻🇯🇵"),
            [
                ("ok", "word"),
                ("🎉", "symbol"),
                ("👍🏽", "symbol"),
                ("☕\u{FE0F}", "symbol"),
                ("👨\u{200D}💻", "symbol"),
                ("🇯🇵", "symbol"),
            ]
        );
        assert_eq!(symbol_term("👍🏽"), "👍");
        assert_eq!(symbol_term("☕\u{FE0F}"), "☕");
    }

    #[test]
    fn unspaced_characters_are_units_and_runs_are_marked() {
        let u = units("東京 大阪");
        let starts: Vec<bool> = u
            .iter()
            .map(|u| matches!(u.kind, Kind::Unspaced { run_start: true }))
            .collect();
        assert_eq!(starts, [true, false, true, false]);
        assert_eq!(shown("バグfix").len(), 3);
        assert_eq!(shown("สวัสดี")[0].1, "unspaced");
    }
}
