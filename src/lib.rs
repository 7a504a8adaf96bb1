//! tlsaudit: audit mutual-TLS clusters by real handshakes.

pub mod lab;
