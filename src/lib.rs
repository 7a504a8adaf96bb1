//! tlsaudit, the command-line tool: the front ends over [`tlsaudit_engine`].
//!
//! Module map:
//! - [`cli`]: the command line; `main.rs` only calls [`cli::main`].
//! - [`report`]: writers: text, table and JSON reports; HTML, Markdown and SARIF from the JSON
//!   report's model; diagnose and explain as text.
//! - [`remedy`]: `init`, `fix` and `rotate` (arguments and text output).
//! - [`tui`]: the live terminal dashboard over the audit's snapshots.
//! - [`serve`]: `tlsaudit serve`, the Prometheus exporter (rounds on an interval, HTTP).
//! - [`progress`]: the progress bar of `report` on stderr, from the audit's snapshots.
//! - [`demo`]: the embedded lab ([`tlsaudit_lab`]) with planted faults and the inventory that
//!   describes it.

pub mod cli;
pub mod demo;
pub mod progress;
pub mod remedy;
pub mod report;
pub mod serve;
pub mod tui;
