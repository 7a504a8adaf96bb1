//! The tlsaudit engine: everything between an inventory and a verdict, with no terminal or
//! command-line dependencies (clap only behind the `clap` feature).
//!
//! Layers, bottom to top: error, fsutil, finding, pki, profile, probe, scan, inventory, tiup,
//! k8s, lint, audit, diagnose, explain, remedy.
//!
//! A module uses only the modules before it (its own files and the ones below); the test in
//! `layering.rs` holds the code to this order, and, inside `finding`, `probe` and `audit`, to the
//! order of their files (their `mod.rs` on top, imported by none of them). Test code may use any
//! module to build its fixtures.
//! - [`error`]: `InputError`, one line naming the file (and line:column) and the fix.
//! - [`fsutil`]: the atomic write of output files (never through a symlink).
//! - [`finding`]: `Finding` (one constructor, `Finding::new`), its `Code`s with their help
//!   texts and its `Severity`: what the TiUP import, the lint and the audit report.
//! - [`pki`]: PEM loading, certificate summaries, the cluster trust store, caller identities,
//!   and the rcgen signer (`pki::mint`).
//! - [`profile`]: what each TiDB component role does with TLS and CN allow-lists (its check
//!   `Protocol` too), and the names of the identities the audit mints.
//! - [`probe`]: one (identity, endpoint) attempt: connect, instrumented handshake, post-handshake
//!   check, outcome class with evidence.
//! - [`scan`]: the TLS hygiene of one endpoint: the versions, cipher suites and groups it
//!   accepts (hand-built ClientHellos, sslyze's method), its certificate's key and signature,
//!   and the findings with TiDB-aware fixes.
//! - [`inventory`]: the cluster description (`tlsaudit.toml`).
//! - [`tiup`], [`lint`]: TiUP topology and component configs as inputs; static checks.
//! - [`k8s`]: a TiDB Operator `TidbCluster` and its Secrets as an input, and its static checks.
//! - [`audit`]: every identity against every endpoint, verdicts, findings, snapshots.
//! - [`diagnose`]: why one link fails: a traced probe, variant probes, a named cause and fix.
//! - [`explain`]: a pasted TLS error line mapped to its likely cause.
//! - [`remedy`]: `init` (a PKI and allow-lists from a topology), `fix` and `rotate`.

pub mod audit;
pub mod diagnose;
pub mod error;
pub mod explain;
pub mod finding;
pub mod fsutil;
pub mod inventory;
pub mod k8s;
#[cfg(test)]
mod layering;
pub mod lint;
pub mod pki;
pub mod probe;
pub mod profile;
pub mod remedy;
pub mod scan;
pub mod tiup;
