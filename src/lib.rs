//! tlsaudit, the command-line tool: the front ends over [`tlsaudit_engine`] and
//! [`tlsaudit_report`].
//!
//! Module map:
//! - [`cli`]: the command line; `main.rs` only calls [`cli::main`]. One private file per
//!   command (its arguments and its run), [`cli::input`] (what to audit: the shared flag groups,
//!   inventory and TiUP loading) and [`cli::output`] (formats, colour, width, the one write of
//!   results to stdout or a file).
//! - [`tui`]: the live terminal dashboard over the audit's snapshots.
//! - [`serve`]: the Prometheus exporter (rounds on an interval, HTTP).
//! - [`progress`]: the progress bar of `report` on stderr, from the audit's snapshots.
//! - [`demo`]: the embedded lab ([`tlsaudit_lab`]) with planted faults and the inventory that
//!   describes it.

pub mod cli;
pub mod demo;
pub mod progress;
pub mod serve;
pub mod tui;
