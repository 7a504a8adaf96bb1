//! The CLI's side of the reports; the reports themselves (the model, every writer, diff and
//! merge) are the `tlsaudit_report` crate. Here: the commands `report`, `diff` and `merge` (their
//! arguments and runs) and [`output`], which decides what only a program on a terminal can
//! (format by default, colour, width) and writes every report to stdout or a file.
//!
//! The crate's modules are re-exported under this module's former paths
//! (`crate::report::table`, `crate::report::sanitize`, ...), which the dashboard uses.

pub mod diff_cmd;
pub mod merge_cmd;
pub mod output;
pub mod report_cmd;

pub use output::{color_from_env, stdout_style};
pub use report_cmd::{ReportArgs, SavedFlags};
pub use tlsaudit_report::{
    diagnose, diff, explain, html, lint, markdown, merge, plan, sanitize, sarif, shared, table,
    text, Doc, Format, Report,
};

/// The report model's per-vantage cell under its former path (the dashboard's).
pub mod json {
    pub use tlsaudit_report::VantageCell;
}
