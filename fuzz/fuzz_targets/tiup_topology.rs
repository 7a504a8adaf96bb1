//! TiUP topology / meta.yaml reading of arbitrary YAML: an InputError or a topology, never a
//! panic (saphyr's parser, the tree walk and the field checks).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tlsaudit_engine::tiup::topology::Topology;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Topology::parse(text, Path::new("topology.yaml"));
});
