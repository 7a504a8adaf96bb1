//! `explain` of arbitrary text: every match has causes and a command; the help for unknown
//! text never panics (the reading of names and addresses slices the text at found offsets).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsaudit_engine::explain::{explain, unmatched_help};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let e = explain(&text);
    for m in &e.matches {
        assert!(!m.causes.is_empty());
        assert!(m.confirm.starts_with("tlsaudit diagnose "));
    }
    let _ = e.exit_code();
    let help = unmatched_help(&text);
    assert!(!help.contains('\u{1b}'));
});
