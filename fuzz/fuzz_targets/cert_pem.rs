//! PEM scanning and certificate loading of arbitrary text: the sections found, then every
//! CERTIFICATE block decoded and summarised (what `--ca` and `--cert` files go through).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tlsaudit_engine::pki::load::{certs_from_pem, scan, CertRole};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for section in scan(text) {
        assert!(section.text.starts_with("-----BEGIN "));
    }
    let _ = certs_from_pem(text, Path::new("fuzz.crt"), CertRole::Leaf);
});
