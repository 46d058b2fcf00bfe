//! `nick!user@host` masks for bans, ban exceptions and invite exceptions: how a typed mask
//! is completed, and how it is matched (`*` any run, `?` one character, ASCII case-folded,
//! as CASEMAPPING=ascii says).

/// Longest mask kept in a room list, in bytes.
pub const MAX_MASK_BYTES: usize = 100;

/// Why a mask was refused (ERR_INVALIDMODEPARAM's text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaskError {
    #[error("a mask may not be empty")]
    Empty,
    #[error("a mask may be at most {MAX_MASK_BYTES} bytes")]
    TooLong,
    #[error("a mask may not contain spaces, commas or control characters")]
    BadCharacter,
}

/// Completes a typed mask the way the mature servers do: `bob` -> `bob!*@*`,
/// `*@host` -> `*!*@host`, `bob!u` -> `bob!u@*`, `u@h` stays `*!u@h`.
pub fn normalize(input: &str) -> Result<String, MaskError> {
    if input.is_empty() {
        return Err(MaskError::Empty);
    }
    if input.starts_with(':')
        || input
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == ',')
    {
        return Err(MaskError::BadCharacter);
    }
    let (nick, rest) = match input.split_once('!') {
        Some((n, r)) => (n, Some(r)),
        None => match input.split_once('@') {
            Some(_) => ("*", Some(input)),
            None => (input, None),
        },
    };
    let (user, host) = match rest {
        None => ("*", "*"),
        Some(r) => match r.split_once('@') {
            Some((u, h)) => (u, h),
            None => (r, "*"),
        },
    };
    let or_star = |s: &str| if s.is_empty() { "*" } else { s }.to_string();
    let mask = format!("{}!{}@{}", or_star(nick), or_star(user), or_star(host));
    if mask.len() > MAX_MASK_BYTES {
        return Err(MaskError::TooLong);
    }
    Ok(mask)
}

/// Whether `text` matches the glob `pattern` (`*`, `?`), ignoring ASCII case.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    // Position after the last `*` seen and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            // `?` stands for one character: skip a whole UTF-8 sequence.
            if p[pi] == b'?' {
                ti += utf8_len(t[ti]);
            } else {
                ti += 1;
            }
            pi += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            pi += 1;
            star = Some((pi, ti));
        } else if let Some((sp, st)) = star {
            let next = st + utf8_len(t[st]);
            star = Some((sp, next));
            pi = sp;
            ti = next;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|b| *b == b'*')
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_masks_are_completed() {
        assert_eq!(normalize("bob").unwrap(), "bob!*@*");
        assert_eq!(normalize("*@10.0.0.1").unwrap(), "*!*@10.0.0.1");
        assert_eq!(normalize("bob!u").unwrap(), "bob!u@*");
        assert_eq!(normalize("b!u@h").unwrap(), "b!u@h");
        assert_eq!(normalize("!@").unwrap(), "*!*@*");
        assert_eq!(normalize(""), Err(MaskError::Empty));
        assert_eq!(normalize("a b"), Err(MaskError::BadCharacter));
        assert_eq!(normalize(":x"), Err(MaskError::BadCharacter));
        assert_eq!(normalize(&"x".repeat(200)), Err(MaskError::TooLong));
    }

    #[test]
    fn globs_match_case_insensitively() {
        assert!(matches("*!*@*", "bob!bob@127.0.0.1"));
        assert!(matches("BOB!*@*", "bob!x@h"));
        assert!(matches("b?b!*@127.*", "bib!x@127.0.0.1"));
        assert!(!matches("b?b!*@127.*", "bb!x@127.0.0.1"));
        assert!(matches("*ev*", "steve"));
        assert!(!matches("ev*", "steve"));
        assert!(matches("ä?!*", "äö!x"));
        assert!(matches("**a", "a"));
        assert!(!matches("a", "ab"));
    }
}
