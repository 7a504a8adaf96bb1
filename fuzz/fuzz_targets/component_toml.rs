//! Component config reading (tidb.toml, tikv.toml, pd.toml, ...) of arbitrary TOML; the first
//! byte picks the component.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tlsaudit_engine::tiup::component::ComponentFile;
use tlsaudit_engine::tiup::ConfigKind;

const KINDS: [ConfigKind; 7] = [
    ConfigKind::Pd,
    ConfigKind::Tidb,
    ConfigKind::Tikv,
    ConfigKind::Tiflash,
    ConfigKind::TiflashLearner,
    ConfigKind::Ticdc,
    ConfigKind::Tiproxy,
];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let kind = KINDS[usize::from(first) % KINDS.len()];
    let _ = ComponentFile::parse(kind, text, Path::new(kind.file_name()));
});
