//! tlsaudit's reports, for any front end: one model of the `tlsaudit.report/v1` JSON report,
//! its writers, and the operations on reports (diff, merge), with no terminal or command-line
//! dependencies.
//!
//! - [`Report`] is the model: built from an audit round ([`Report::build`], from the engine's
//!   `Plan` and `Snapshot`) or read from a file ([`Report::load`], [`Report::parse`]; tolerant
//!   of older and newer writers), and written back as the same JSON ([`Report::to_json`],
//!   [`Report::write_json`]). Names from closed sets (components, protocols, finding codes,
//!   severities, identity kinds) are [`Named`]: known to this version, or kept as written.
//! - [`render`] (and [`write()`]) writes a report in any [`Format`]: JSON, the table, HTML,
//!   Markdown or SARIF. A saved, merged or baseline-marked report renders exactly as a live one.
//! - [`diff::diff`] compares two reports ([`Report::set_baseline`] marks the changes on the
//!   newer one); [`merge::merge`] combines the reports of several vantage points.
//! - The other writers: [`plan`] (`report --dry-run`), [`lint`], [`text::probe`] (one probe
//!   record), [`diagnose`] and [`explain`]; [`sanitize::inert`] makes peer text safe for a
//!   terminal.
//!
//! ```no_run
//! use std::path::Path;
//! use tlsaudit_report::{render, Format, Options, Report};
//!
//! let before = Report::load(Path::new("before.json"))?;
//! let after = Report::load(Path::new("after.json"))?;
//! let changes = tlsaudit_report::diff::diff(&before, &after, ("before.json", "after.json"));
//! print!("{}", tlsaudit_report::diff::render_text(&changes, &[]));
//! print!("{}", render(&after, Format::Markdown, &Options::default())?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::Write;

mod appendix;
mod build;
pub mod bundle;
pub mod diagnose;
pub mod diff;
pub mod explain;
pub mod html;
pub mod hygiene;
pub mod lint;
pub mod markdown;
pub mod merge;
pub mod model;
pub mod named;
pub mod plan;
pub mod provenance;
mod read;
mod reproduce;
pub mod sanitize;
pub mod sarif;
pub mod shared;
pub mod table;
pub mod text;

pub use model::{
    BaselineMark, CaCertificate, Cell, Cluster, Endpoint, Finding, Identity, NotTried, Provenance,
    Report, Summary, Tool, VantageCell, SCHEMA,
};
pub use named::Named;
pub use shared::Doc;
pub use text::Style;

/// The formats a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The JSON report (`tlsaudit.report/v1`).
    Json,
    /// The matrix and the findings for a terminal.
    Table,
    /// One self-contained page: matrix, findings, every cell's detail.
    Html,
    /// A compact summary for a pull request or `$GITHUB_STEP_SUMMARY`.
    Markdown,
    /// SARIF 2.1.0 for code scanning.
    Sarif,
}

/// How the text formats look: colour, and the width the table fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub style: Style,
    /// Columns of the terminal the table is for (at least [`table::MIN_WIDTH`] is used).
    pub width: usize,
}

impl Default for Options {
    /// No colour, [`table::DEFAULT_WIDTH`] columns.
    fn default() -> Self {
        Options {
            style: Style::plain(),
            width: table::DEFAULT_WIDTH,
        }
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot serialize the report: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("cannot write the report: {0}")]
    Io(#[from] std::io::Error),
}

/// A report in `format`.
pub fn render(report: &Report, format: Format, opts: &Options) -> Result<String, Error> {
    render_doc(&Doc::from_report(report), format, opts)
}

/// A report in `format`, from the writers' view of it ([`Doc`]: an audit, or a lint).
pub fn render_doc(doc: &Doc<'_>, format: Format, opts: &Options) -> Result<String, Error> {
    Ok(match format {
        Format::Json => doc.report.to_json()?,
        Format::Table => table::render(doc, opts.style, opts.width),
        Format::Html => html::render(doc),
        Format::Markdown => markdown::render(doc),
        Format::Sarif => sarif::render(doc)?,
    })
}

/// Write a report in `format` to `out`. JSON is written as it is serialized, never built as
/// one string (at fleet scale it is tens of megabytes).
pub fn write(
    report: &Report,
    format: Format,
    opts: &Options,
    mut out: impl Write,
) -> Result<(), Error> {
    match format {
        Format::Json => report.write_json(out)?,
        _ => out.write_all(render(report, format, opts)?.as_bytes())?,
    }
    Ok(())
}
