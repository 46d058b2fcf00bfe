//! Archive CSVs as the search indexer reads them: any bytes in `history_f.csv` are indexed
//! (malformed rows reported, not fatal) without panicking, and the index stays readable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linechat::search::indexer::{Indexer, WriterConfig};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("history_f.csv"), data).unwrap();
    let config = WriterConfig {
        threads: 1,
        memory_bytes: 15_000_000,
        background: false,
    };
    let mut indexer = Indexer::open(&logs, &dir.path().join("index"), config).unwrap();
    if indexer.catch_up(&mut |_| {}).is_ok() {
        indexer.finish().unwrap();
    }
});
