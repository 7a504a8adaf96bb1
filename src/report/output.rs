//! Where and how a report is written, decided for the terminal the CLI runs in: the format by
//! default (the table on a terminal, JSON otherwise), colour (a terminal and no `NO_COLOR`), the
//! table's width (`COLUMNS`, else the terminal's), and the one way out: stdout, or a file
//! written atomically and never through a symlink (`tlsaudit_engine::fsutil`).

use std::io::IsTerminal;
use std::path::Path;

use tlsaudit_engine::error::InputError;
use tlsaudit_report::{table, Format, Options, Report, Style};

use crate::cli::ReportFormat;

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
    format.unwrap_or(if std::io::stdout().is_terminal() && output.is_none() {
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
            tlsaudit_engine::fsutil::write_atomic(path, &bytes)?;
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
        Some(path) => tlsaudit_engine::fsutil::write_atomic(path, text.as_bytes())?,
        None => crate::cli::emit(text),
    }
    Ok(())
}
