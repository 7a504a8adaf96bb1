//! Where and how results are written, decided for the terminal the CLI runs in: the formats
//! (`--format` of the reports, [`ReportFormat`], and of the one-result commands, [`TextOrJson`])
//! and the report's by default (the table on a terminal, JSON otherwise), colour (a terminal and
//! no `NO_COLOR`), the table's width (`COLUMNS`, else the terminal's), the exit code of a round
//! ([`exit_for`]), and the one way out: stdout ([`emit`]: a closed pipe is no error), or a file
//! written atomically and never through a symlink (`tlsaudit_engine::fsutil`).
//!
//! The commands and the front ends (the dashboard's colour, `tui --from` piped) write through
//! here.

use std::io::{IsTerminal, Write};
use std::path::Path;

use clap::ValueEnum;
use tlsaudit_engine::audit::{Severity, Snapshot};
use tlsaudit_engine::error::InputError;
use tlsaudit_report::{table, Format, Options, Report, Style};

/// `--format` of the reports (`report`, `merge`, `demo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Json,
    /// The matrix and findings for a terminal (`text` is the same).
    #[value(alias = "text")]
    Table,
    /// One self-contained page: matrix, findings, every cell's detail.
    Html,
    /// A compact summary for a pull request or $GITHUB_STEP_SUMMARY.
    Markdown,
    /// SARIF 2.1.0 for code scanning.
    Sarif,
}

/// `--format` of the commands with one result (`probe`, `diagnose`, `explain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextOrJson {
    #[value(alias = "table")]
    Text,
    Json,
}

/// Colour unless `NO_COLOR` is set to a non-empty value (<https://no-color.org>): the one place
/// that reads it, for the text reports and the dashboard.
pub fn color_from_env() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Colour when stdout is a terminal and `NO_COLOR` is unset.
pub fn stdout_style() -> Style {
    Style::with_color(color_from_env() && std::io::stdout().is_terminal())
}

/// The width the table fits: `COLUMNS` when set to a number, else the terminal's width when
/// stdout is one, else [`table::DEFAULT_WIDTH`]; never under [`table::MIN_WIDTH`].
pub fn width_from_env() -> usize {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok());
    let from_tty = || {
        std::io::stdout()
            .is_terminal()
            .then(crossterm::terminal::size)
            .and_then(Result::ok)
            .map(|(w, _)| usize::from(w))
    };
    from_env
        .or_else(from_tty)
        .unwrap_or(table::DEFAULT_WIDTH)
        .max(table::MIN_WIDTH)
}

/// How a report written to `output` (or stdout) looks: no colour in a file.
pub fn options(output: Option<&Path>) -> Options {
    Options {
        style: match output {
            Some(_) => Style::plain(),
            None => stdout_style(),
        },
        width: width_from_env(),
    }
}

/// The format `report` and `merge` default to: the table on a terminal, JSON otherwise.
pub fn default_format(format: Option<ReportFormat>, output: Option<&Path>) -> ReportFormat {
    format.unwrap_or(if stdout_is_terminal() && output.is_none() {
        ReportFormat::Table
    } else {
        ReportFormat::Json
    })
}

impl From<ReportFormat> for Format {
    fn from(f: ReportFormat) -> Format {
        match f {
            ReportFormat::Json => Format::Json,
            ReportFormat::Table => Format::Table,
            ReportFormat::Html => Format::Html,
            ReportFormat::Markdown => Format::Markdown,
            ReportFormat::Sarif => Format::Sarif,
        }
    }
}

/// A failure to serialize a report is a bug, said as an input error (exit 2).
fn bug(e: &tlsaudit_report::Error) -> InputError {
    InputError::usage(e.to_string(), "report this as a bug")
}

/// Write `report` in `format` to `output` (atomically, never through a symlink) or stdout (a
/// closed pipe, `| head`, is not an error).
pub fn write(
    report: &Report,
    format: ReportFormat,
    output: Option<&Path>,
) -> Result<(), InputError> {
    let opts = options(output);
    match output {
        Some(path) => {
            let mut bytes = Vec::new();
            tlsaudit_report::write(report, format.into(), &opts, &mut bytes)
                .map_err(|e| bug(&e))?;
            write_file(path, &bytes)?;
        }
        None => {
            match tlsaudit_report::write(report, format.into(), &opts, std::io::stdout().lock()) {
                Err(tlsaudit_report::Error::Serialize(e)) if !e.is_io() => {
                    return Err(bug(&tlsaudit_report::Error::Serialize(e)))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Write `text` to `output` (atomically, never through a symlink) or stdout.
pub fn write_text(text: &str, output: Option<&Path>) -> Result<(), InputError> {
    match output {
        Some(path) => write_file(path, text.as_bytes())?,
        None => emit(text),
    }
    Ok(())
}

/// The one write of an output file: atomic (a reader sees the old file or the new one, never
/// a part), and never through a symlink.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), InputError> {
    Ok(tlsaudit_engine::fsutil::write_atomic(path, bytes)?)
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
pub fn emit(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes()).and_then(|_| out.flush());
}

/// `value` as pretty JSON on stdout; a failure to serialize it is said on stderr, naming `what`.
pub fn emit_json(value: &impl serde::Serialize, what: &str) {
    match serde_json::to_string_pretty(value) {
        Ok(j) => emit(&format!("{j}\n")),
        Err(e) => eprintln!("error: cannot serialize the {what}: {e}"),
    }
}

/// Whether stdout is a terminal (a dashboard or a table), or a pipe or file (JSON).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// 1 when a finding of the round reaches `fail_on`.
pub fn exit_for(snap: &Snapshot, fail_on: Severity) -> u8 {
    u8::from(snap.findings.iter().any(|f| f.severity >= fail_on))
}
