//! Message ids derived from the archived row alone.
//!
//! The archive stores no ids, yet IRCv3 `msgid`s must survive restarts, logrotate and
//! re-indexing, and a client must be able to send one back in a `CHATHISTORY` reference.
//! So the id is a pure function of what the row holds: room, timestamp, user and text.
//!
//! # Stability
//!
//! **This algorithm is frozen.** Clients keep msgids (bouncers, read markers, replies),
//! so changing a single bit here silently breaks every reference they hold. The hash is
//! FNV-1a 64 (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`) as implemented by
//! the `fnv` crate, fed byte by byte through `Hasher::write` — never through `Hash for
//! str`, whose byte layout (a trailing `0xff`) is a std implementation detail. The unit
//! test `fixed_vector_never_changes` pins one output; if it ever fails, the change is
//! wrong, not the test.

use std::hash::Hasher;

use fnv::FnvHasher;

use crate::names::room_key;

/// Largest millis an id can carry: 11 hex digits.
const MAX_ID_MILLIS: i64 = 0xfff_ffff_ffff;
/// Length of an id: 11 hex digits of millis, 16 of hash.
const ID_LEN: usize = 27;

/// The stable msgid of an archived row: its millis as 11 lower-case hex digits (clamped
/// to `0..=0xfff_ffff_ffff`) then 16 hex digits of FNV-1a 64 over
/// `room_key \0 millis-decimal \0 user \0 text`.
///
/// The millis prefix is what lets a reference be found by binary search over the
/// archive (see [`msgid_millis`]); the hash tells apart rows sharing a millisecond.
pub fn msgid(room: &str, millis: i64, user: &str, text: &str) -> String {
    msgid_for_key(&room_key(room), millis, user, text)
}

/// [`msgid`] with the room already folded ([`crate::names::room_key`]), so a query folds
/// it once for all its rows and the archive writer once per row.
pub fn msgid_for_key(key: &str, millis: i64, user: &str, text: &str) -> String {
    let mut h = FnvHasher::default();
    h.write(key.as_bytes());
    h.write(&[0]);
    h.write(decimal(millis, &mut [0; 20]));
    h.write(&[0]);
    h.write(user.as_bytes());
    h.write(&[0]);
    h.write(text.as_bytes());
    let mut id = String::with_capacity(ID_LEN);
    push_hex(&mut id, millis.clamp(0, MAX_ID_MILLIS) as u64, 11);
    push_hex(&mut id, h.finish(), 16);
    id
}

/// `n` in decimal, as `to_string` writes it, in `buf` (no allocation: every delivered
/// room message gets a msgid).
fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut rest = n.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

/// Appends the low `digits` hex digits of `n`, zero-padded (what `{:0digits$x}` writes
/// for a value that fits).
fn push_hex(out: &mut String, n: u64, digits: u32) {
    for place in (0..digits).rev() {
        let nibble = ((n >> (place * 4)) & 0xf) as u32;
        out.push(char::from_digit(nibble, 16).expect("a nibble is a hex digit"));
    }
}

/// The millis a msgid was made from (its first 11 hex digits), so a reference can be
/// located by time; `None` if `id` is not 27 hex digits, i.e. not one of ours.
pub fn msgid_millis(id: &str) -> Option<i64> {
    if id.len() != ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    i64::from_str_radix(&id[..11], 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The msgid as first defined: ids already handed out must never change.
    fn reference(key: &str, millis: i64, user: &str, text: &str) -> String {
        let mut h = FnvHasher::default();
        h.write(key.as_bytes());
        h.write(&[0]);
        h.write(millis.to_string().as_bytes());
        h.write(&[0]);
        h.write(user.as_bytes());
        h.write(&[0]);
        h.write(text.as_bytes());
        format!("{:011x}{:016x}", millis.clamp(0, MAX_ID_MILLIS), h.finish())
    }

    #[test]
    fn ids_are_what_they_always_were() {
        let mut millis = i64::MIN;
        for step in 0..2000i64 {
            for m in [millis, -millis.saturating_add(1), step, -step] {
                assert_eq!(
                    msgid_for_key("#room", m, "ann", "hi"),
                    reference("#room", m, "ann", "hi"),
                    "{m}"
                );
            }
            millis = millis.wrapping_add(0x0123_4567_89ab_cdef);
        }
        for name in ["#Room", "room", "#ÄÖÜ", "#İstanbul", "#ǅ"] {
            assert_eq!(
                crate::names::room_key(name),
                format!("#{}", name.trim_start_matches('#').to_lowercase())
            );
        }
    }

    #[test]
    fn fnv_is_fnv1a_64() {
        let mut h = FnvHasher::default();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn fixed_vector_never_changes() {
        // Frozen: see the module docs. Do not update this value.
        let id = msgid("#General", 1_795_428_930_123, "alice", "hello, world");
        assert_eq!(id, "1a207e7524b57792de22c9b5dca");
        assert_eq!(id.len(), 27);
        assert_eq!(msgid_millis(&id), Some(1_795_428_930_123));
    }

    #[test]
    fn room_is_folded_and_fields_are_separated() {
        let a = msgid("#General", 5, "alice", "hi");
        assert_eq!(a, msgid("general", 5, "alice", "hi"));
        assert_ne!(a, msgid("#general", 5, "alic", "ehi"));
        assert_ne!(a, msgid("#general", 6, "alice", "hi"));
        assert!(a.starts_with("00000000005"));
    }

    #[test]
    fn millis_are_clamped_and_decoded() {
        assert!(msgid("#a", -5, "u", "t").starts_with("00000000000"));
        assert!(msgid("#a", i64::MAX, "u", "t").starts_with("fffffffffff"));
        assert_eq!(msgid_millis("not an id"), None);
        assert_eq!(msgid_millis(&"g".repeat(27)), None);
        assert_eq!(msgid_millis(&"0".repeat(26)), None);
        assert_eq!(
            msgid_millis(&format!("{:011x}{}", 42, "0".repeat(16))),
            Some(42)
        );
    }
}
