//! tlsaudit: audit mutual-TLS clusters by real handshakes.
//!
//! Module map:
//! - [`pki`]: PEM loading, certificate summaries, the cluster trust store, caller identities.
//! - [`probe`]: one (identity, endpoint) attempt: connect, instrumented handshake, post-handshake
//!   check, outcome class with evidence.
//! - [`profile`]: what each TiDB component role does with TLS and CN allow-lists.
//! - [`inventory`]: the cluster description (`tlsaudit.toml`).
//! - [`lab`]: an embedded mTLS cluster on loopback for tests, benchmarks and the demo.
//! - [`audit`]: every identity against every endpoint, verdicts, findings, snapshots.
//! - [`report`]: text, table and JSON writers.
//! - [`tui`]: the live terminal dashboard over the audit's snapshots.
//! - [`tiup`], [`lint`]: TiUP topology and component configs as inputs; static checks.
//! - [`diagnose`]: why one link fails: a traced probe, variant probes, a named cause and fix.
//! - [`explain`]: a pasted TLS error line mapped to its likely cause.
//! - [`cli`]: the command line; `main.rs` only calls [`cli::main`].

pub mod audit;
pub mod cli;
pub mod demo;
pub mod diagnose;
pub mod error;
pub mod explain;
pub mod inventory;
pub mod lab;
pub mod lint;
pub mod pki;
pub mod probe;
pub mod profile;
pub mod report;
pub mod tiup;
pub mod tui;
