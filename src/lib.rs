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
//!
//! The layering (a unit test, `layering.rs`, holds every `crate::`, `super::` and `self::` path
//! of the code to it; test code is free):
//! - Nothing but `main.rs` reaches the command files: inside the crate only `cli/mod.rs` (which
//!   dispatches) and `cli/args.rs` (whose `Command` names their argument structs) use them, and
//!   `cli/args.rs` is used by `cli/mod.rs` alone. A command file does not use another one.
//! - The front ends (`tui`, `serve`, `progress`, `demo`) get what they need from `cli::input`,
//!   `cli::output`, the report crate or the engine; never from a command file, `cli::args` or
//!   `cli/mod.rs`. They do not use each other (no exception today: one would be listed here and
//!   in the test's `FRONT_END_USES`).
//! - `cli::input` and `cli::output` are the bottom: they use neither each other nor anything
//!   above them.
//! - The command files use the front ends (`report` the progress bar, `tui` and `demo` the
//!   dashboard, `serve` the exporter, `demo` the lab).

pub mod cli;
pub mod demo;
#[cfg(test)]
mod layering;
pub mod progress;
pub mod serve;
pub mod tui;
