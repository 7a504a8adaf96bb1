//! `tlsaudit merge REPORT.json...`: its arguments, and the merge (`tlsaudit_report::merge`)
//! written in `--format` with the exit code of `--fail-on`.

use std::path::PathBuf;

use tlsaudit_engine::audit::Severity;
use tlsaudit_engine::error::InputError;
use tlsaudit_report::merge;

use crate::cli::output::{self, ReportFormat};

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The JSON reports to combine, one per vantage point (`report --format json --vantage
    /// NAME`, or each exporter's /report.json). A report without a vantage is named by its file
    /// name without the extension.
    #[arg(value_name = "REPORT.json", num_args = 2.., required = true)]
    pub reports: Vec<PathBuf>,
    /// Output format (default: table on a terminal, JSON otherwise).
    #[arg(long, value_enum, ignore_case = true)]
    pub format: Option<ReportFormat>,
    /// Write the merged report to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding of the merged report reaches this severity.
    #[arg(long, value_enum, default_value = "critical")]
    pub fail_on: Severity,
}

/// `tlsaudit merge`.
pub fn run(args: &MergeArgs) -> Result<u8, InputError> {
    let merged = merge::merge(&merge::load(&args.reports)?);
    let out = args.output.as_deref();
    output::write(&merged, output::default_format(args.format, out), out)?;
    Ok(u8::from(merged.fails(args.fail_on)))
}
