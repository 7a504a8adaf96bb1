//! The probe's helpers over bytes a peer sent: sniffing a non-TLS answer, escaping bytes for
//! display, percent-decoding grpc-message, and the MySQL greeting and ERR packet parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsaudit_engine::probe::check::percent_decode;
use tlsaudit_engine::probe::classify::{escape, sniff};
use tlsaudit_engine::probe::mysql::{ErrPacket, Greeting};

fuzz_target!(|data: &[u8]| {
    let _ = sniff(data);
    let shown = escape(data);
    assert!(shown.bytes().all(|b| (0x20..0x7f).contains(&b)));
    if let Ok(text) = std::str::from_utf8(data) {
        let decoded = percent_decode(text);
        assert!(decoded.len() <= text.len());
    }
    if let Ok(g) = Greeting::parse(data) {
        let _ = g.offers_tls();
        // What the probe sends back is built from the greeting's capabilities.
        let _ = tlsaudit_engine::probe::mysql::ssl_request(g.capabilities);
    }
    if let Some(p) = ErrPacket::parse(data) {
        let _ = p.encode();
    }
});
