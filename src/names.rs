//! Names of rooms and nicks: validation, case folding, and the archive file name a room maps to.
//!
//! Kept in one place because the server (which writes archives) and `chat-search`
//! (which reads them back) must agree exactly on how a room becomes a file name.

/// Longest room name accepted, in bytes, including the leading `#` (IRC's CHANNELLEN).
pub const MAX_ROOM_BYTES: usize = 50;
/// Longest nick accepted, in bytes (IRC's NICKLEN).
pub const MAX_NICK_BYTES: usize = 30;

/// Why a room name was refused; the text is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomNameError {
    #[error("room name is empty")]
    Empty,
    #[error("room name is longer than {MAX_ROOM_BYTES} bytes")]
    TooLong,
    #[error("room name may not contain spaces, commas, colons, @ or control characters")]
    BadCharacter,
}

/// Canonical display form of a room typed with or without `#`: `general` -> `#general`.
///
/// Case is kept as typed (IRC servers keep the creator's casing); use [`room_key`] to compare.
pub fn canonical_room(input: &str) -> Result<String, RoomNameError> {
    let bare = input.strip_prefix('#').unwrap_or(input);
    if bare.is_empty() {
        return Err(RoomNameError::Empty);
    }
    if bare
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, ',' | ':' | '@'))
    {
        return Err(RoomNameError::BadCharacter);
    }
    let name = format!("#{bare}");
    if name.len() > MAX_ROOM_BYTES {
        return Err(RoomNameError::TooLong);
    }
    Ok(name)
}

/// Case-folded key of a room (with `#`), so `#General` and `general` are the same room.
pub fn room_key(canonical: &str) -> String {
    let bare = canonical.strip_prefix('#').unwrap_or(canonical);
    let mut key = String::with_capacity(bare.len() + 1);
    key.push('#');
    if bare.is_ascii() {
        // The usual case, folded without the Unicode tables (same result).
        key.extend(bare.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        key.push_str(&bare.to_lowercase());
    }
    key
}

/// Archive file name of a room: `history_<room>.csv`, the room lower-cased without `#`,
/// every byte outside `[a-z0-9._-]` percent-encoded, so no name can leave the log
/// directory or collide with another room's file.
pub fn archive_file_name(room: &str) -> String {
    let key = room_key(room);
    let bare = &key[1..];
    let mut out = String::with_capacity(bare.len() + 12);
    out.push_str("history_");
    for b in bare.bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str(".csv");
    out
}

/// The room (with `#`) whose archive is `file_name`, or `None` if the name is not an archive's.
///
/// Accepts files written by other tools too (`history_general.csv`), decoding any
/// percent escapes this server wrote.
pub fn room_from_file_name(file_name: &str) -> Option<String> {
    let bare = file_name.strip_prefix("history_")?.strip_suffix(".csv")?;
    if bare.is_empty() {
        return None;
    }
    let bytes = bare.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let name = String::from_utf8(out).ok()?;
    Some(format!("#{}", name.to_lowercase()))
}

/// Why a nick was refused; the text is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NickError {
    #[error("nick is empty")]
    Empty,
    #[error("nick is longer than {MAX_NICK_BYTES} bytes")]
    TooLong,
    #[error("nick must start with a letter or one of [ ] \\ ` _ ^ {{ | }}")]
    BadFirst,
    #[error("nick may contain only letters, digits, - and [ ] \\ ` _ ^ {{ | }}")]
    BadCharacter,
}

fn is_special(c: char) -> bool {
    matches!(c, '[' | ']' | '\\' | '`' | '_' | '^' | '{' | '|' | '}')
}

/// Checks a nick against IRC's grammar (ASCII letters, digits, specials and `-`).
pub fn validate_nick(nick: &str) -> Result<(), NickError> {
    let mut chars = nick.chars();
    let first = chars.next().ok_or(NickError::Empty)?;
    if nick.len() > MAX_NICK_BYTES {
        return Err(NickError::TooLong);
    }
    if !(first.is_ascii_alphabetic() || is_special(first)) {
        return Err(NickError::BadFirst);
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || is_special(c) || c == '-') {
        return Err(NickError::BadCharacter);
    }
    Ok(())
}

/// Case-folded nick (ASCII casemapping, as announced in ISUPPORT).
pub fn nick_key(nick: &str) -> String {
    nick.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_with_or_without_hash_are_one_room() {
        assert_eq!(canonical_room("general").unwrap(), "#general");
        assert_eq!(canonical_room("#General").unwrap(), "#General");
        assert_eq!(room_key("#General"), room_key("#general"));
        assert_eq!(canonical_room("#"), Err(RoomNameError::Empty));
        assert_eq!(canonical_room("a b"), Err(RoomNameError::BadCharacter));
        assert_eq!(canonical_room("a,b"), Err(RoomNameError::BadCharacter));
        assert_eq!(canonical_room("inv@lid"), Err(RoomNameError::BadCharacter));
        assert_eq!(canonical_room(&"x".repeat(60)), Err(RoomNameError::TooLong));
    }

    #[test]
    fn archive_names_cannot_escape_or_collide() {
        assert_eq!(archive_file_name("#General"), "history_general.csv");
        assert_eq!(archive_file_name("#../etc"), "history_..%2Fetc.csv");
        assert_eq!(archive_file_name("#a%2F"), "history_a%252f.csv");
        assert_eq!(archive_file_name("#開発"), "history_%E9%96%8B%E7%99%BA.csv");
        for room in ["#general", "#../etc", "#a%2f", "#開発", "#a.b-c_d"] {
            assert_eq!(room_from_file_name(&archive_file_name(room)).unwrap(), room);
        }
        assert_eq!(
            room_from_file_name("history_general.csv").unwrap(),
            "#general"
        );
        assert_eq!(room_from_file_name("other.csv"), None);
        assert_eq!(room_from_file_name("history_%ZZ.csv"), None);
    }

    #[test]
    fn nicks_follow_irc_grammar() {
        assert!(validate_nick("alice").is_ok());
        assert!(validate_nick("[bot]_-1").is_ok());
        assert_eq!(validate_nick(""), Err(NickError::Empty));
        assert_eq!(validate_nick("1abc"), Err(NickError::BadFirst));
        assert_eq!(validate_nick("a b"), Err(NickError::BadCharacter));
        assert_eq!(validate_nick(&"a".repeat(31)), Err(NickError::TooLong));
    }
}
