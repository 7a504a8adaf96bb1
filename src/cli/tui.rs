//! `tlsaudit tui`: the live dashboard ([`crate::tui`]) over an inventory or a TiDB cluster's
//! TiUP files, or over a saved report (`--from`); the JSON report when stdout is not a
//! terminal. Also what `tlsaudit` alone opens on a terminal when ./tlsaudit.toml exists.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tlsaudit_engine::audit::{Auditor, Severity};
use tlsaudit_engine::error::InputError;
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_report::Report;

use crate::cli::input::{self, parse_duration, AuditFlags, TidbInputFlags};
use crate::cli::output::{self, exit_for, stdout_is_terminal, ReportFormat};

#[derive(Debug, clap::Args)]
pub struct TuiArgs {
    /// The inventory file (tlsaudit.toml); or give --topology / --component-config instead.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["topology", "component_config", "tls_dir", "ca", "cluster_name", "cluster_version"]
    )]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub tidb: TidbInputFlags,
    /// Time between automatic rounds, e.g. 10s.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub interval: Duration,
    /// A JSON report from before a change: the changes view lists what changed since.
    #[arg(long, value_name = "BEFORE.json")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub audit: AuditFlags,
    /// Open the dashboard on a saved JSON report (one audit, or a `tlsaudit merge`) instead of
    /// auditing: no rounds run; a merged cell's detail lists the verdict per vantage point.
    #[arg(
        long,
        value_name = "REPORT.json",
        conflicts_with_all = ["config", "topology", "component_config", "tls_dir", "ca", "cluster_name", "cluster_version", "baseline"]
    )]
    pub from: Option<PathBuf>,
}

impl TuiArgs {
    /// `tlsaudit` alone on a terminal: the dashboard over the inventory `config`.
    pub fn of_config(config: PathBuf) -> TuiArgs {
        TuiArgs {
            config: Some(config),
            tidb: TidbInputFlags::default(),
            interval: Duration::from_secs(10),
            baseline: None,
            audit: AuditFlags::default(),
            from: None,
        }
    }
}

/// `tlsaudit tui`: exit 1 when a finding of the last round is critical.
pub async fn run(args: TuiArgs) -> Result<u8, InputError> {
    if let Some(from) = &args.from {
        return crate::tui::saved::run_from(from, stdout_is_terminal()).await;
    }
    let (inv, static_findings) = match &args.config {
        Some(config) => (Inventory::load(config)?, Vec::new()),
        None if args.tidb.is_given() => input::load_tidb_inventory(&args.tidb)?,
        None => {
            return Err(InputError::usage(
                "tui needs something to audit",
                "give --config tlsaudit.toml (an inventory), or --topology meta.yaml [--tls-dir DIR] (a TiUP cluster), or --component-config tikv=tikv.toml (repeatable); `tlsaudit demo` opens the dashboard on the embedded lab",
            ))
        }
    };
    let plan = input::plan(inv, static_findings, &args.audit)?;
    if !stdout_is_terminal() {
        let auditor = Auditor::new(plan);
        let snap = auditor.run_round(None).await;
        let report = Report::build(&auditor.plan(), &snap);
        output::write(&report, ReportFormat::Json, None)?;
        return Ok(exit_for(&snap, Severity::Critical));
    }
    let auditor = Arc::new(Auditor::new(plan));
    crate::tui::dashboard(auditor.clone(), args.interval, args.baseline.as_deref()).await?;
    Ok(exit_for(&auditor.snapshot(), Severity::Critical))
}
