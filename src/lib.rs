//! tlsaudit: audit mutual-TLS clusters by real handshakes.

pub mod cli;
pub mod error;
pub mod inventory;
pub mod pki;
pub mod probe;
pub mod profile;
pub mod report;
