//! IRCv3 tag sections from clients: parsing, unescaping and re-escaping. Nothing may
//! panic, and an escaped value must unescape to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linechat::tags;

fuzz_target!(|text: &str| {
    for (key, value) in tags::parse(text) {
        assert!(tags::valid_key(&key));
        let value: String = value.chars().filter(|c| *c != '\0').collect();
        assert_eq!(tags::unescape(&tags::escape(&value)), value);
    }
    let _ = tags::client_only(&tags::parse(text));
});
