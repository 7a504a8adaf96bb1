//! `tlsaudit demo`: the embedded lab (with planted faults, [`crate::demo`]) started on loopback
//! and audited: the live dashboard on a terminal, a report otherwise; `--keep-running` leaves
//! the lab up for `tlsaudit report --config`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tlsaudit_engine::audit::{Auditor, Severity};
use tlsaudit_engine::error::InputError;
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_lab::Lab;
use tlsaudit_report::Report;

use crate::cli::input::{self, parse_duration, AuditFlags};
use crate::cli::output::{self, exit_for, stdout_is_terminal, ReportFormat};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Keep the lab running after the audit and print its inventory, so that
    /// `tlsaudit report --config` can be pointed at it; Ctrl-C stops it.
    #[arg(long)]
    pub keep_running: bool,
    /// Print a report (default: table) instead of opening the dashboard on a terminal.
    #[arg(long, value_enum, ignore_case = true)]
    pub format: Option<ReportFormat>,
    /// Exit 1 when a finding reaches this severity (the demo's faults are planted: by default it
    /// exits 0).
    #[arg(long, value_enum)]
    pub fail_on: Option<Severity>,
    /// Time between automatic rounds in the dashboard, e.g. 10s.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub interval: Duration,
    #[command(flatten)]
    pub audit: AuditFlags,
}

impl Default for DemoArgs {
    /// `tlsaudit` alone, without an inventory: the demo as `tlsaudit demo` runs it.
    fn default() -> Self {
        DemoArgs {
            keep_running: false,
            format: None,
            fail_on: None,
            interval: Duration::from_secs(10),
            audit: AuditFlags::default(),
        }
    }
}

/// `tlsaudit demo`: exit 0 unless `--fail-on` is reached.
pub async fn run(args: DemoArgs) -> Result<u8, InputError> {
    let (mut lab, config) = crate::demo::start().await.map_err(|e| {
        InputError::usage(
            format!("cannot start the demo lab: {e}"),
            "check that loopback sockets can be opened",
        )
    })?;
    let inv = Inventory::load(&config)?;
    if !args.keep_running && args.format.is_none() && stdout_is_terminal() {
        let auditor = Arc::new(Auditor::new(input::plan(inv, Vec::new(), &args.audit)?));
        crate::tui::dashboard(auditor.clone(), args.interval, None).await?;
        lab.stop().await;
        let snap = auditor.snapshot();
        return Ok(args.fail_on.map_or(0, |f| exit_for(&snap, f)));
    }
    if args.keep_running {
        print_inventory(&lab, &config);
    }
    let auditor = Auditor::new(input::plan(inv, Vec::new(), &args.audit)?);
    let snap = auditor.run_round(None).await;
    let format = args.format.unwrap_or(ReportFormat::Table);
    output::write(&Report::build(&auditor.plan(), &snap), format, None)?;
    if args.keep_running {
        eprintln!(
            "\nthe lab keeps running: tlsaudit report --config {}\npress Ctrl-C to stop it",
            config.display()
        );
        crate::demo::watch_lab_config(&mut lab).await;
    }
    lab.stop().await;
    Ok(args.fail_on.map_or(0, |f| exit_for(&snap, f)))
}

/// `--keep-running`: the lab's inventory and its servers' own config, on stderr.
fn print_inventory(lab: &Lab, config: &Path) {
    let text =
        tlsaudit_engine::fsutil::read_text_capped(config, tlsaudit_engine::fsutil::MAX_CONFIG)
            .unwrap_or_default();
    eprintln!("lab running; inventory at {}\n", config.display());
    eprintln!("{text}");
    if let Ok(path) = crate::demo::write_lab_config(lab) {
        eprintln!(
            "the lab servers' own config (edit to change them): {}\n",
            path.display()
        );
    }
}
