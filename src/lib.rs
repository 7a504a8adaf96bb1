//! tlsaudit: audit mutual-TLS clusters by real handshakes.
