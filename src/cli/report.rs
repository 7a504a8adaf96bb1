//! `tlsaudit report`: its arguments, one audited round written in `--format` (with
//! `--baseline` changes marked, or labelled with `--vantage`), a saved report rendered
//! (`--from`), or the plan (`--dry-run`). Every report goes through the one model
//! (`tlsaudit_report::Report`) and the one writer ([`output::write`]).

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use tlsaudit_engine::audit::{Auditor, Plan, Severity, Snapshot};
use tlsaudit_engine::error::InputError;
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_report::{Provenance, Report};

use crate::cli::input::{self, AuditFlags, TidbInputFlags};
use crate::cli::output::{self, exit_for, ReportFormat};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The inventory file (tlsaudit.toml); or give --topology / --component-config instead.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["topology", "component_config", "tls_dir", "ca", "cluster_name", "cluster_version"]
    )]
    pub config: Option<PathBuf>,
    /// Output format (default: table on a terminal, JSON otherwise).
    #[arg(long, value_enum, ignore_case = true)]
    pub format: Option<ReportFormat>,
    /// Exit 1 when a finding reaches this severity; `none` never fails (default: critical for
    /// an audit, none when rendering a saved report with --from).
    #[arg(long, value_enum, ignore_case = true)]
    pub fail_on: Option<FailOn>,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A JSON report from before a change: mark what changed since (as `tlsaudit diff` lists
    /// it) in the table and the JSON.
    #[arg(long, value_name = "BEFORE.json")]
    pub baseline: Option<PathBuf>,
    /// Print the plan (every endpoint, identity and expected result) and probe nothing: a table
    /// or JSON, as --format says (default: a table on a terminal, JSON when piped).
    #[arg(long, conflicts_with = "baseline")]
    pub dry_run: bool,
    /// Also write an evidence bundle into DIR (new or empty): report.json, report.html, the
    /// inventory, the CA, the served certificates' fingerprints and SHA256SUMS.
    #[arg(long, value_name = "DIR", conflicts_with = "dry_run")]
    pub bundle: Option<PathBuf>,
    /// Sign the bundle's SHA256SUMS with this Ed25519 key (`tlsaudit keygen`).
    #[arg(long, value_name = "KEY", requires = "bundle")]
    pub sign: Option<PathBuf>,
    /// No progress on stderr (shown only when stderr is a terminal).
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub audit: AuditFlags,
    #[command(flatten)]
    pub tidb: TidbInputFlags,
    #[command(flatten)]
    pub saved: SavedFlags,
}

impl ReportArgs {
    /// `tlsaudit` alone, piped: the report of the inventory `config`, as `report --config`
    /// writes it with no other flag.
    pub fn of_config(config: PathBuf) -> ReportArgs {
        ReportArgs {
            config: Some(config),
            format: None,
            fail_on: None,
            output: None,
            baseline: None,
            dry_run: false,
            bundle: None,
            sign: None,
            quiet: false,
            audit: AuditFlags::default(),
            tidb: TidbInputFlags::default(),
            saved: SavedFlags::default(),
        }
    }
}

/// `--fail-on` of `report`: a severity, or `none` (exit 0 whatever the findings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Info,
    Warning,
    Critical,
    // Never exit 1 for findings (no doc: the help lists the values on one line).
    None,
}

impl FailOn {
    /// The severity that fails, or none.
    pub fn severity(self) -> Option<Severity> {
        match self {
            FailOn::Info => Some(Severity::Info),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Critical => Some(Severity::Critical),
            FailOn::None => None,
        }
    }
}

/// `report --from` and `report --vantage`: saved and merged reports.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SavedFlags {
    /// Render a saved JSON report (one audit, or a `tlsaudit merge` of several vantage points)
    /// in --format, without probing.
    #[arg(
        long,
        value_name = "REPORT.json",
        conflicts_with_all = ["config", "topology", "component_config", "tls_dir", "ca", "cluster_name", "cluster_version", "baseline"]
    )]
    pub from: Option<PathBuf>,
    /// Where this audit runs (a rack, a host, a zone): the report's `vantage`, which
    /// `tlsaudit merge` keys each report by.
    #[arg(long, value_name = "NAME", conflicts_with = "baseline")]
    pub vantage: Option<String>,
}

/// Write a finished round as `report` does: `--format` (default: table on a terminal, JSON
/// otherwise) to stdout or `--output`, labelled with `--vantage`, the changes since
/// `--baseline` marked; the exit code follows `--fail-on`.
fn write_report(auditor: &Auditor, snap: &Snapshot, args: &ReportArgs) -> Result<u8, InputError> {
    let output = args.output.as_deref();
    let plan = auditor.plan();
    let mut report = Report::build(&plan, snap);
    report.vantage.clone_from(&args.saved.vantage);
    report.provenance = Some(Provenance::collect(&plan, std::env::args()));
    report.set_reproduce(&plan);
    if let Some(path) = &args.baseline {
        report.set_baseline(&Report::load(path)?, &path.display().to_string());
    }
    output::write(&report, output::default_format(args.format, output), output)?;
    write_bundle(&report, args, Some(plan.chains()))?;
    let fail_on = args.fail_on.unwrap_or(FailOn::Critical).severity();
    Ok(fail_on.map_or(0, |f| exit_for(snap, f)))
}

/// `tlsaudit report`.
pub async fn run(args: ReportArgs) -> Result<u8, InputError> {
    if let Some(v) = &args.saved.vantage {
        input::check_vantage(v)?;
    }
    if let Some(from) = &args.saved.from {
        return run_from(from, &args);
    }
    let Some(config) = &args.config else {
        if !args.tidb.is_given() {
            return Err(InputError::usage(
                "report needs something to audit",
                "give --config tlsaudit.toml (an inventory), or --topology meta.yaml [--tls-dir DIR] (a TiUP cluster), or --component-config tikv=tikv.toml (repeatable); `tlsaudit demo` audits the embedded lab",
            ));
        }
        return run_tidb(args).await;
    };
    let inv = Inventory::load(config)?;
    run_plan(input::plan(inv, Vec::new(), &args.audit)?, &args).await
}

/// `report --topology` / `--component-config`: the TiDB inputs, with their lint's findings.
async fn run_tidb(args: ReportArgs) -> Result<u8, InputError> {
    let (inv, findings) = input::load_tidb_inventory(&args.tidb)?;
    run_plan(input::plan(inv, findings, &args.audit)?, &args).await
}

/// The plan printed (`--dry-run`), or one round of it written.
async fn run_plan(plan: Plan, args: &ReportArgs) -> Result<u8, InputError> {
    if args.dry_run {
        return write_plan(&plan, args);
    }
    let auditor = Auditor::new(plan);
    let snap = round_with_progress(&auditor, args.quiet).await;
    write_report(&auditor, &snap, args)
}

/// One round, with the progress bar on stderr while it runs (terminal only, not `--quiet`).
async fn round_with_progress(auditor: &Auditor, quiet: bool) -> std::sync::Arc<Snapshot> {
    let progress = crate::progress::Progress::start(auditor, quiet);
    let snap = auditor.run_round(None).await;
    if let Some(p) = progress {
        p.finish().await;
    }
    snap
}

/// `report --from FILE`: a saved report (merged or not) rendered without probing.
fn run_from(path: &Path, args: &ReportArgs) -> Result<u8, InputError> {
    let mut report = Report::load(path)?;
    if let Some(v) = &args.saved.vantage {
        report.vantage = Some(v.clone());
    }
    let output = args.output.as_deref();
    output::write(&report, output::default_format(args.format, output), output)?;
    write_bundle(&report, args, None)?;
    // Rendering a saved report is no gate: exit 1 only when --fail-on asks for it.
    let fail_on = args.fail_on.and_then(FailOn::severity);
    Ok(u8::from(fail_on.is_some_and(|f| report.fails(f))))
}

/// `--bundle DIR [--sign KEY]`: the evidence bundle of the report, when asked for; with the
/// audit's chains (a live round), the served certificates as PEM too.
fn write_bundle(
    report: &Report,
    args: &ReportArgs,
    chains: Option<&tlsaudit_engine::pki::ChainCache>,
) -> Result<(), InputError> {
    match &args.bundle {
        Some(dir) => tlsaudit_report::bundle::write(report, dir, args.sign.as_deref(), chains),
        None => Ok(()),
    }
}

/// `report --dry-run`: the plan as JSON (`--format json`, or stdout not a terminal without
/// `--format`) or a table, to stdout or `--output`; nothing is probed. Exit 0.
fn write_plan(plan: &Plan, args: &ReportArgs) -> Result<u8, InputError> {
    let output = args.output.as_deref();
    let json = match args.format {
        Some(ReportFormat::Json) => true,
        Some(ReportFormat::Table) => false,
        Some(f) => {
            return Err(InputError::usage(
                format!(
                    "--dry-run prints the plan as a table or JSON, not {}",
                    f.to_possible_value()
                        .map_or_else(String::new, |v| v.get_name().to_string())
                ),
                "use --format table or --format json with --dry-run",
            ))
        }
        None => output::default_format(None, output) == ReportFormat::Json,
    };
    let text = if json {
        tlsaudit_report::plan::to_json(plan).map_err(|e| {
            InputError::usage(
                format!("cannot serialize the plan: {e}"),
                "report this as a bug",
            )
        })?
    } else {
        tlsaudit_report::plan::render_text(plan, output::options(output).style)
    };
    output::write_text(&text, output)?;
    Ok(0)
}
