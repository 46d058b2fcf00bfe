//! Archive CSVs other tools may have written, read back by CHATHISTORY and the replay:
//! any bytes in `history_f.csv` must give rows without panicking, and what goes on the
//! wire from them carries no control character.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linechat::history::{self, Reference, Selector, WireText};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("history_f.csv"), data).unwrap();
    let selectors = [
        Selector::Latest { after: None },
        Selector::Before(Reference::Timestamp(1_800_000_000_000)),
        Selector::After(Reference::Timestamp(0)),
        Selector::Around(Reference::Msgid("1a217f87b3eb8a1758e61ed634a".into())),
    ];
    for selector in &selectors {
        if let Ok(rows) = history::query(dir.path(), "#f", selector, 20) {
            for row in rows {
                let text = match history::wire_text(&row.text) {
                    WireText::Plain(t) | WireText::Action(t) => t,
                };
                assert!(!text.chars().any(char::is_control));
            }
        }
    }
    let _ = history::latest_millis(dir.path(), "#f");
    let _ = linechat::archive::repair_file(&dir.path().join("history_f.csv"));
});
