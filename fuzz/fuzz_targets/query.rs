//! The search query language (SEARCH, `chat-search query`): any text is a query or a
//! clear error, never a panic, and compiles against the real schema.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linechat::search::Scope;
use linechat::search::query::compile;
use linechat::search::schema::build_schema;

fuzz_target!(|text: &str| {
    let (_, fields) = build_schema();
    let _ = compile(text, &Scope::default(), &fields);
});
