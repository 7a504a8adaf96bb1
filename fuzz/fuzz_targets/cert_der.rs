//! Certificate summaries of arbitrary DER: `summarize` returns an error for what is not a
//! certificate and never panics; what it summarises answers every accessor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsaudit_engine::pki::summary::summarize;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = summarize(data) {
        let _ = s.label();
        let _ = s.allows_client_auth();
        let _ = s.allows_server_auth();
    }
});
