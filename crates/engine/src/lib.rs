//! The tlsaudit engine: everything between an inventory and a verdict, with no terminal or
//! command-line dependencies (clap only behind the `clap` feature).
//!
//! Module map (data flows one way, top to bottom):
//! - [`error`]: `InputError`, one line naming the file (and line:column) and the fix.
//! - [`pki`]: PEM loading, certificate summaries, the cluster trust store, caller identities.
//! - [`profile`]: what each TiDB component role does with TLS and CN allow-lists.
//! - [`inventory`]: the cluster description (`tlsaudit.toml`).
//! - [`tiup`], [`lint`]: TiUP topology and component configs as inputs; static checks.
//! - [`probe`]: one (identity, endpoint) attempt: connect, instrumented handshake, post-handshake
//!   check, outcome class with evidence.
//! - [`audit`]: every identity against every endpoint, verdicts, findings, snapshots.
//! - [`diagnose`]: why one link fails: a traced probe, variant probes, a named cause and fix.
//! - [`explain`]: a pasted TLS error line mapped to its likely cause.
//! - [`fsutil`]: the atomic write of output files (never through a symlink).

pub mod audit;
pub mod diagnose;
pub mod error;
pub mod explain;
pub mod finding;
pub mod fsutil;
pub mod inventory;
pub mod lint;
pub mod pki;
pub mod probe;
pub mod profile;
pub mod remedy;
pub mod tiup;
