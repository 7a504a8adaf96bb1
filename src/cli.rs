//! Command line: clap definitions and the commands. `main.rs` only calls [`main`].

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::report::report_cmd::exit_for;
use crate::report::{stdout_style, ReportArgs, SavedFlags};
use tlsaudit_engine::audit::{Auditor, Plan, Severity, Snapshot};
use tlsaudit_engine::error::InputError;
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_engine::pki::{Identity, Trust};
use tlsaudit_engine::probe::mysql::MysqlAccount;
use tlsaudit_engine::probe::{self, Caller, ProbeSpec, Protocol, Timeouts, TlsVersions};
use tlsaudit_report::{lint, Report};

#[derive(Debug, Parser)]
#[command(
    name = "tlsaudit",
    version,
    about = "Audit mutual-TLS clusters (TiDB, etcd): which links are encrypted, which callers are authorized, and why not",
    propagate_version = true
)]
pub struct Cli {
    /// Without a command: audit ./tlsaudit.toml if it exists, else run the demo.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Log on stderr: -v info, -vv debug (each probe), -vvv everything. RUST_LOG, when set,
    /// decides instead.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe one endpoint with one identity and show everything the handshake revealed.
    Probe(ProbeArgs),
    /// Audit every identity against every endpoint of an inventory; JSON or table report.
    Report(ReportArgs),
    /// Start the embedded lab cluster (with planted faults) on loopback and audit it: the live
    /// dashboard on a terminal, the table report when piped.
    Demo(DemoArgs),
    /// The live dashboard over an inventory (prints the JSON report when stdout is not a
    /// terminal).
    Tui(TuiArgs),
    /// Find out why one link fails: a step-by-step trace, variant handshakes, cause and fix.
    Diagnose(DiagnoseArgs),
    /// Explain a TLS error line from TiDB, TiKV, PD, Go or OpenSSL logs.
    Explain(ExplainArgs),
    /// Check a TiUP topology and component configs without probing (static lint).
    Lint(LintArgs),
    /// Compare two JSON reports: verdicts, server certificates, endpoints, identities and
    /// findings that changed; exit 1 when a change reaches --fail-on.
    Diff(crate::report::diff_cmd::DiffArgs),
    /// Build a cluster's PKI and allow-lists from a TiUP topology: a certificate per instance,
    /// TiUP's client certificate, each component's [security] section, a server_configs patch.
    Init(crate::remedy::InitArgs),
    /// Turn the findings of a lint or a JSON report into a patch of the TiUP topology and the
    /// reload commands, in an order that keeps the cluster up; --write applies it to the file.
    Fix(crate::remedy::FixArgs),
    /// New leaf certificates from the same CA for every instance of a TiUP topology, with the
    /// rolling order and the check to run after each step.
    Rotate(crate::remedy::RotateArgs),
    /// Audit on an interval and serve the results over HTTP for Prometheus: /metrics,
    /// /report.json, /probe?endpoint=&identity=, /-/healthy, /-/ready.
    Serve(crate::serve::ServeArgs),
    /// Combine JSON reports of one cluster taken from several vantage points (racks, hosts)
    /// into one report: each cell's verdict per vantage point, the worst shown, and a
    /// VANTAGE_DISAGREE finding where they differ.
    Merge(crate::report::merge_cmd::MergeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from this help.
    Man,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `tlsaudit completions SHELL`: the script on stdout.
fn run_completions(args: &CompletionsArgs) -> u8 {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "tlsaudit", &mut out);
    emit(&String::from_utf8_lossy(&out));
    0
}

/// `tlsaudit man`: the man page, generated from the clap definitions, on stdout.
fn run_man() -> Result<u8, InputError> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| {
            InputError::usage(
                format!("cannot render the man page: {e}"),
                "report this as a bug",
            )
        })?;
    emit(&String::from_utf8_lossy(&out));
    Ok(0)
}

/// Tracing on stderr: RUST_LOG when set, else by -v (none without it).
fn init_tracing(verbose: u8) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::new(v),
        _ => match verbose {
            0 => return,
            1 => EnvFilter::new("warn,tlsaudit=info,tlsaudit_engine=info,tlsaudit_lab=info"),
            2 => EnvFilter::new("warn,tlsaudit=debug,tlsaudit_engine=debug,tlsaudit_lab=debug"),
            _ => EnvFilter::new("debug"),
        },
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .try_init();
}

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

/// `lint --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    #[value(alias = "table")]
    Text,
    Json,
    Html,
    Markdown,
    Sarif,
}

/// The audit account for the SQL ports (`mysql` protocol). The password is read from the
/// environment or a file only, never from the command line.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MysqlFlags {
    /// SQL ports: log in as this account over TLS and in plaintext, to learn whether plaintext
    /// is refused (it needs no privileges). Password: TLSAUDIT_MYSQL_PASSWORD or
    /// --mysql-password-file.
    #[arg(long, value_name = "NAME")]
    pub mysql_user: Option<String>,
    /// A file holding the password of --mysql-user (one line).
    #[arg(long, value_name = "FILE", requires = "mysql_user")]
    pub mysql_password_file: Option<PathBuf>,
}

impl MysqlFlags {
    /// The audit account, with its password from the file or the environment.
    pub fn account(&self) -> Result<Option<MysqlAccount>, InputError> {
        self.mysql_user
            .as_deref()
            .map(|u| MysqlAccount::load(u, self.mysql_password_file.as_deref()))
            .transpose()
    }
}

/// Flags shared by the audit commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuditFlags {
    /// Deadline of each probe phase, e.g. 3s (overrides the inventory).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Probes in flight at once (overrides the inventory).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: Option<u32>,
    /// Do not probe without a client certificate.
    #[arg(long)]
    pub no_anonymous: bool,
    /// Do not probe with a certificate from a throwaway CA.
    #[arg(long)]
    pub no_foreign: bool,
    /// Do not mint a certificate with an unlisted CN (needs the CA key).
    #[arg(long)]
    pub no_unlisted: bool,
    /// An endpoint no probe reached is a warning, not a critical finding (by default an audit
    /// that could not see an endpoint it lists fails).
    #[arg(long)]
    pub allow_unreachable: bool,
    /// Audit only the endpoints of this component (repeatable: --component tikv --component pd).
    #[arg(long = "component", value_name = "COMPONENT")]
    pub only_component: Vec<tlsaudit_engine::profile::Component>,
    /// Audit only this endpoint, by name (repeatable).
    #[arg(long = "endpoint", value_name = "NAME")]
    pub only_endpoint: Vec<String>,
    /// Probe only as this identity: an inventory name, or anonymous, foreign, unlisted
    /// (repeatable).
    #[arg(long = "identity", value_name = "NAME")]
    pub only_identity: Vec<String>,
    /// Start at most N probes per second (for production: each probe is one TLS handshake,
    /// and a log line on the server when it is refused).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: Option<u32>,
    #[command(flatten)]
    pub mysql: MysqlFlags,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[value(alias = "table")]
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The endpoint, HOST:PORT.
    pub address: String,
    /// The CA certificate callers trust (TiUP: tls/ca.crt).
    #[arg(long, value_name = "FILE")]
    pub ca: PathBuf,
    /// Client certificate to present (omit for an anonymous probe).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Name to verify the server certificate for (default: the host of ADDRESS).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// What to do after the handshake.
    #[arg(long, value_enum, default_value = "tls")]
    pub protocol: Protocol,
    /// HTTP path (http) or gRPC method path (grpc).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Deadline of each phase (connect, handshake, check), e.g. 3s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// TLS versions to offer.
    #[arg(long = "tls-version", value_enum, default_value = "any")]
    pub versions: TlsVersions,
    /// ALPN protocols to offer, comma separated; "none" offers none (default by protocol).
    #[arg(long, value_name = "LIST")]
    pub alpn: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text", ignore_case = true)]
    pub format: Format,
    #[command(flatten)]
    pub mysql: MysqlFlags,
}

#[derive(Debug, clap::Args)]
pub struct DiagnoseArgs {
    /// HOST:PORT, or the name of an endpoint in the inventory (--config).
    pub target: String,
    /// The inventory identity to call as (default: the first one); needs an inventory.
    #[arg(long = "as", value_name = "IDENTITY")]
    pub as_identity: Option<String>,
    /// The inventory (tlsaudit.toml); default ./tlsaudit.toml when --ca is not given.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["ca", "cert", "key"])]
    pub config: Option<PathBuf>,
    /// The CA certificate callers trust (without --config).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate to present (without --config).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Name to verify the server certificate for (default: the host of the address).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// What to do after the handshake (default: the inventory's, or by the port number).
    #[arg(long, value_enum)]
    pub protocol: Option<Protocol>,
    /// HTTP path (http) or gRPC method path (grpc).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// The component behind the address (pd, tikv, tidb, tiflash, ticdc, tiproxy), for the
    /// config keys in the verdict (default: the inventory's, or guessed from the port).
    #[arg(long, value_name = "COMPONENT")]
    pub component: Option<tlsaudit_engine::profile::Component>,
    /// The component's role (client, peer, grpc, status, ...).
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// Deadline of each phase of each handshake, e.g. 3s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text", ignore_case = true)]
    pub format: Format,
    /// A TiUP topology (meta.yaml) instead of an inventory: TARGET is then one of its endpoint
    /// names (as `report --topology` names them) and --as one of its identities.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["config", "ca", "cert", "key"])]
    pub topology: Option<PathBuf>,
    /// With --topology: the TLS folder (TiUP's `tls/` on the control machine).
    #[arg(long, value_name = "DIR", requires = "topology")]
    pub tls_dir: Option<PathBuf>,
    /// With --topology: the cluster version when meta.yaml does not say.
    #[arg(long, value_name = "VERSION", value_parser = parse_version, requires = "topology")]
    pub cluster_version: Option<tlsaudit_engine::profile::Version>,
    #[command(flatten)]
    pub mysql: MysqlFlags,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The error text, as logged; "-" reads it from standard input.
    pub text: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text", ignore_case = true)]
    pub format: Format,
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 5s, 500ms)"))?;
    if d.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(d)
}

/// Parse arguments, run, and map the result to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    // Seed the crypto library's entropy once, before any probe is timed.
    tlsaudit_engine::pki::warm_up();
    // Probes hold sockets: the soft open-file limit goes up to the hard one.
    let _ = tlsaudit_engine::probe::limits::raise_nofile();
    // A key file others can read: a warning on stderr, once per file, before any output (the
    // lint reports it as a finding instead).
    if !matches!(cli.command, Some(Command::Lint(_))) {
        tlsaudit_engine::pki::load::on_exposed_key(Box::new(|path, x| {
            eprintln!("warning: {}", x.warning(path));
        }));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(run(cli));
    if let Some(note) = tlsaudit_engine::probe::limits::take_note() {
        eprintln!("note: {note}");
    }
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<u8, InputError> {
    match cli.command {
        Some(Command::Probe(args)) => run_probe(args).await,
        Some(Command::Report(args)) => crate::report::report_cmd::run(args).await,
        Some(Command::Demo(args)) => run_demo(args).await,
        Some(Command::Tui(args)) => run_tui(args).await,
        Some(Command::Diagnose(args)) => run_diagnose(args).await,
        Some(Command::Explain(args)) => run_explain(args),
        Some(Command::Lint(args)) => run_lint(&args),
        Some(Command::Diff(args)) => crate::report::diff_cmd::run(&args),
        Some(Command::Init(args)) => crate::remedy::run_init(&args),
        Some(Command::Fix(args)) => crate::remedy::run_fix(&args),
        Some(Command::Rotate(args)) => crate::remedy::run_rotate(&args),
        Some(Command::Serve(args)) => crate::serve::run(args).await,
        Some(Command::Merge(args)) => crate::report::merge_cmd::run(&args),
        Some(Command::Completions(args)) => Ok(run_completions(&args)),
        Some(Command::Man) => run_man(),
        None => {
            let default = PathBuf::from("tlsaudit.toml");
            if default.is_file() && stdout_is_terminal() {
                run_tui(TuiArgs {
                    config: Some(default),
                    tidb: TidbInputFlags::default(),
                    interval: Duration::from_secs(10),
                    baseline: None,
                    audit: AuditFlags::default(),
                    from: None,
                })
                .await
            } else if default.is_file() {
                crate::report::report_cmd::run(ReportArgs {
                    config: Some(default),
                    format: None,
                    fail_on: Severity::Critical,
                    output: None,
                    baseline: None,
                    dry_run: false,
                    quiet: false,
                    audit: AuditFlags::default(),
                    tidb: TidbInputFlags::default(),
                    saved: SavedFlags::default(),
                })
                .await
            } else {
                run_demo(DemoArgs {
                    keep_running: false,
                    format: None,
                    fail_on: None,
                    interval: Duration::from_secs(10),
                    audit: AuditFlags::default(),
                })
                .await
            }
        }
    }
}

pub(crate) fn apply(flags: &AuditFlags, inv: &mut Inventory) -> Result<(), InputError> {
    if let Some(t) = flags.timeout {
        inv.set_timeout(t);
    }
    if let Some(c) = flags.concurrency {
        inv.options.concurrency = c as usize;
    }
    inv.options.anonymous &= !flags.no_anonymous;
    inv.options.foreign &= !flags.no_foreign;
    inv.options.unlisted &= !flags.no_unlisted;
    inv.options.allow_unreachable |= flags.allow_unreachable;
    if let Some(r) = flags.rate {
        inv.options.rate = Some(r);
    }
    inv.restrict(&tlsaudit_engine::inventory::Scope {
        components: flags.only_component.clone(),
        endpoints: flags.only_endpoint.clone(),
        identities: flags.only_identity.clone(),
    })?;
    if let Some(account) = flags.mysql.account()? {
        inv.options.mysql_account = Some(account);
    }
    Ok(())
}

/// Run one audit round over an inventory.
pub async fn audit(
    mut inv: Inventory,
    flags: &AuditFlags,
) -> Result<(Auditor, std::sync::Arc<Snapshot>), InputError> {
    apply(flags, &mut inv)?;
    let auditor = Auditor::new(Plan::new(inv)?);
    let snap = auditor.run_round(None).await;
    Ok((auditor, snap))
}

fn stdout_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}

async fn run_demo(args: DemoArgs) -> Result<u8, InputError> {
    let (mut lab, config) = crate::demo::start().await.map_err(|e| {
        InputError::usage(
            format!("cannot start the demo lab: {e}"),
            "check that loopback sockets can be opened",
        )
    })?;
    let mut inv = Inventory::load(&config)?;
    if !args.keep_running && args.format.is_none() && stdout_is_terminal() {
        apply(&args.audit, &mut inv)?;
        let auditor = std::sync::Arc::new(Auditor::new(Plan::new(inv)?));
        dashboard(auditor.clone(), args.interval, None).await?;
        lab.stop().await;
        let snap = auditor.snapshot();
        return Ok(args.fail_on.map_or(0, |f| exit_for(&snap, f)));
    }
    if args.keep_running {
        let text = std::fs::read_to_string(&config).unwrap_or_default();
        eprintln!("lab running; inventory at {}\n", config.display());
        eprintln!("{text}");
        if let Ok(path) = crate::demo::write_lab_config(&lab) {
            eprintln!(
                "the lab servers' own config (edit to change them): {}\n",
                path.display()
            );
        }
    }
    let (auditor, snap) = audit(inv, &args.audit).await?;
    let format = args.format.unwrap_or(ReportFormat::Table);
    crate::report::output::write(&Report::build(&auditor.plan, &snap), format, None)?;
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

/// Open the live dashboard; `e` writes the JSON report into the current directory.
async fn dashboard(
    auditor: std::sync::Arc<Auditor>,
    interval: Duration,
    baseline: Option<&std::path::Path>,
) -> Result<(), InputError> {
    let baseline = match baseline {
        Some(path) => Some(crate::tui::history::baseline_verdicts(
            &Report::load(path)?,
            &crate::tui::Catalog::from_plan(&auditor.plan),
        )),
        None => None,
    };
    let export = crate::tui::json_export(auditor.plan.clone());
    let opts = crate::tui::TuiOptions {
        interval,
        export: Some(export),
        baseline,
        ..Default::default()
    };
    crate::tui::run(auditor, opts).await.map_err(|e| {
        InputError::usage(
            format!("the terminal failed: {e}"),
            "run it in a terminal, or pipe the output for a report",
        )
    })
}

async fn run_tui(args: TuiArgs) -> Result<u8, InputError> {
    if let Some(from) = &args.from {
        return crate::tui::saved::run_from(from, stdout_is_terminal()).await;
    }
    let (mut inv, static_findings) = match &args.config {
        Some(config) => (Inventory::load(config)?, Vec::new()),
        None if args.tidb.topology.is_some() || !args.tidb.component_config.is_empty() => {
            load_tidb_inventory(&args.tidb)?
        }
        None => {
            return Err(InputError::usage(
                "tui needs something to audit",
                "give --config tlsaudit.toml (an inventory), or --topology meta.yaml [--tls-dir DIR] (a TiUP cluster), or --component-config tikv=tikv.toml (repeatable); `tlsaudit demo` opens the dashboard on the embedded lab",
            ))
        }
    };
    apply(&args.audit, &mut inv)?;
    let mut plan = Plan::new(inv)?;
    plan.static_findings = static_findings;
    if !stdout_is_terminal() {
        let auditor = Auditor::new(plan);
        let snap = auditor.run_round(None).await;
        crate::report::output::write(
            &Report::build(&auditor.plan, &snap),
            ReportFormat::Json,
            None,
        )?;
        return Ok(exit_for(&snap, Severity::Critical));
    }
    let auditor = std::sync::Arc::new(Auditor::new(plan));
    dashboard(auditor.clone(), args.interval, args.baseline.as_deref()).await?;
    Ok(exit_for(&auditor.snapshot(), Severity::Critical))
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
pub fn emit(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes()).and_then(|_| out.flush());
}

async fn run_probe(args: ProbeArgs) -> Result<u8, InputError> {
    probe::validate_address(&args.address)
        .map_err(|e| InputError::usage(e, "give the endpoint as HOST:PORT, e.g. 10.0.1.11:2379"))?;
    let trust = Trust::load(&args.ca)?;
    let identity = match (&args.cert, &args.key) {
        (Some(c), Some(k)) => {
            let name = c
                .file_stem()
                .map_or_else(|| "client".into(), |s| s.to_string_lossy().into_owned());
            Identity::load(&name, c, k)?
        }
        _ => Identity::anonymous(),
    };
    let caller = Caller::new(identity, &trust);
    let mut spec = ProbeSpec::new(args.address.clone(), args.protocol);
    spec.server_name = args.server_name.clone();
    spec.path = args.path.clone();
    spec.versions = args.versions;
    spec.timeouts = Timeouts::uniform(args.timeout);
    spec.mysql_account = args.mysql.account()?;
    spec.alpn = args.alpn.as_deref().map(|list| {
        if list == "none" {
            Vec::new()
        } else {
            list.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        }
    });
    let rec = probe::probe(&spec, &caller, &trust).await;
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&rec) {
            Ok(j) => emit(&format!("{j}\n")),
            Err(e) => eprintln!("error: cannot serialize the record: {e}"),
        },
        Format::Text => emit(&tlsaudit_report::text::probe(&rec, stdout_style())),
    }
    Ok(if rec.outcome.class == probe::OutcomeClass::Accepted {
        0
    } else {
        1
    })
}

async fn run_diagnose(args: DiagnoseArgs) -> Result<u8, InputError> {
    let request = tlsaudit_engine::diagnose::Request {
        target: args.target,
        as_identity: args.as_identity,
        config: args.config,
        ca: args.ca,
        cert: args.cert,
        key: args.key,
        server_name: args.server_name,
        protocol: args.protocol,
        path: args.path,
        component: args.component,
        role: args.role,
        timeout: args.timeout,
        mysql_account: args.mysql.account()?,
        inventory: None,
    };
    let request = match &args.topology {
        Some(t) => {
            let flags = TidbInputFlags {
                topology: Some(t.clone()),
                tls_dir: args.tls_dir.clone(),
                cluster_version: args.cluster_version,
                expiry_days: 30,
                ..TidbInputFlags::default()
            };
            tlsaudit_engine::diagnose::Request {
                inventory: Some(load_tidb_inventory(&flags)?.0),
                ..request
            }
        }
        None => request,
    };
    let inputs = request.resolve()?;
    let d = tlsaudit_engine::diagnose::diagnose(&inputs).await;
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&d) {
            Ok(j) => emit(&format!("{j}\n")),
            Err(e) => eprintln!("error: cannot serialize the diagnosis: {e}"),
        },
        Format::Text => emit(&tlsaudit_report::diagnose::render(&d, stdout_style())),
    }
    Ok(d.exit_code())
}

fn run_explain(args: ExplainArgs) -> Result<u8, InputError> {
    let text = if args.text == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| {
            InputError::usage(
                format!("cannot read standard input: {e}"),
                "pipe the log line in, or pass it as an argument",
            )
        })?;
        s
    } else {
        args.text
    };
    if text.trim().is_empty() {
        return Err(InputError::usage(
            "no error text given",
            "pass the log line in quotes: tlsaudit explain \"x509: certificate signed by unknown authority\"",
        ));
    }
    let e = tlsaudit_engine::explain::explain(&text);
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&e) {
            Ok(j) => emit(&format!("{j}\n")),
            Err(err) => eprintln!("error: cannot serialize the explanation: {err}"),
        },
        Format::Text if e.matched() => emit(&tlsaudit_report::explain::render(&e, stdout_style())),
        Format::Text => eprint!("{}", tlsaudit_engine::explain::unmatched_help(&text)),
    }
    Ok(e.exit_code())
}

// ---- TiDB-native inputs: --topology, --tls-dir, --component-config; `lint` ----

/// Where a TiDB cluster's description comes from (instead of a tlsaudit.toml).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TidbInputFlags {
    /// TiUP topology.yaml, or a cluster's meta.yaml
    /// (~/.tiup/storage/cluster/clusters/NAME/meta.yaml).
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// TiUP's TLS folder: ca.crt, ca.pem (the CA key), client.crt and client.pem, and any
    /// ROLE.crt/ROLE.pem (default with a meta.yaml: the tls folder beside it).
    #[arg(long, value_name = "DIR")]
    pub tls_dir: Option<PathBuf>,
    /// A component config: tidb.toml, tikv.toml, pd.toml, tiflash.toml, tiflash-learner.toml,
    /// ticdc.toml (or COMPONENT=FILE). Repeatable.
    #[arg(long = "component-config", value_name = "FILE")]
    pub component_config: Vec<String>,
    /// The CA callers trust (default: ca.crt in --tls-dir).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The cluster name (default: meta.yaml's folder, the client certificate's CN
    /// NAME-client, or the topology file's name).
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// The cluster version, e.g. v8.5.0, for rules that changed (default: meta.yaml's
    /// tidb_version).
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub cluster_version: Option<tlsaudit_engine::profile::Version>,
    /// Certificate files expiring within this many days are a warning.
    #[arg(long, value_name = "DAYS", default_value = "30")]
    pub expiry_days: u32,
}

fn parse_version(s: &str) -> Result<tlsaudit_engine::profile::Version, String> {
    tlsaudit_engine::profile::Version::parse(s)
        .ok_or_else(|| format!("{s:?} is not a version (e.g. v8.5.0)"))
}

#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("tidb_input")
        .args(["topology", "component_config"])
        .required(true)
        .multiple(true)
))]
pub struct LintArgs {
    #[command(flatten)]
    pub tidb: TidbInputFlags,
    /// Output format.
    #[arg(long, value_enum, default_value = "text", ignore_case = true)]
    pub format: LintFormat,
    /// Exit 1 when a finding reaches this severity.
    #[arg(long, value_enum, default_value = "critical")]
    pub fail_on: Severity,
}

/// Read the TiDB inputs and lint them.
pub fn load_tidb(
    flags: &TidbInputFlags,
) -> Result<
    (
        tlsaudit_engine::tiup::Cluster,
        Vec<tlsaudit_engine::audit::Finding>,
    ),
    InputError,
> {
    let mut configs = Vec::new();
    for c in &flags.component_config {
        let (kind, path) = match c.split_once('=') {
            Some((k, p)) if !k.contains('/') => {
                let kind = tlsaudit_engine::tiup::ConfigKind::from_name(k).map_err(|names| {
                    InputError::usage(
                        format!("--component-config {c}: unknown component {k:?}"),
                        format!("{names}, as in tikv=/path/tikv.toml"),
                    )
                })?;
                (Some(kind), PathBuf::from(p))
            }
            _ => (None, PathBuf::from(c)),
        };
        configs.push((kind, path));
    }
    let opts = tlsaudit_engine::tiup::TiupOptions {
        topology: flags.topology.clone(),
        tls_dir: flags.tls_dir.clone(),
        component_configs: configs,
        ca: flags.ca.clone(),
        cluster_name: flags.cluster_name.clone(),
        version: flags.cluster_version,
    };
    let cluster = tlsaudit_engine::tiup::Cluster::load(&opts)?;
    let findings = tlsaudit_engine::lint::lint(
        &cluster,
        &tlsaudit_engine::lint::LintOptions {
            expiry_warning_days: flags.expiry_days,
        },
    );
    Ok((cluster, findings))
}

/// The inventory of a TiDB cluster read from its TiUP topology or component configs, with the
/// static findings of its lint (and of the import).
pub fn load_tidb_inventory(
    flags: &TidbInputFlags,
) -> Result<(Inventory, Vec<tlsaudit_engine::audit::Finding>), InputError> {
    let (cluster, mut findings) = load_tidb(flags)?;
    let options = tlsaudit_engine::inventory::AuditOptions {
        expiry_warning_days: flags.expiry_days,
        ..Default::default()
    };
    let (inv, notes) = cluster.inventory(options)?;
    findings.extend(notes);
    Ok((inv, findings))
}

fn run_lint(args: &LintArgs) -> Result<u8, InputError> {
    let (cluster, findings) = load_tidb(&args.tidb)?;
    let serialize = |e: serde_json::Error| {
        InputError::usage(
            format!("cannot serialize the findings: {e}"),
            "report this as a bug",
        )
    };
    let shared = |f| {
        let doc = tlsaudit_report::Doc::lint(&cluster, &findings);
        tlsaudit_report::render_doc(&doc, f, &tlsaudit_report::Options::default())
            .map_err(|e| InputError::usage(e.to_string(), "report this as a bug"))
    };
    let text = match args.format {
        LintFormat::Text => lint::text(&cluster, &findings),
        LintFormat::Json => lint::json(
            &cluster,
            &findings,
            lint::plan(&cluster, args.tidb.expiry_days),
        )
        .map_err(serialize)?,
        LintFormat::Html => shared(tlsaudit_report::Format::Html)?,
        LintFormat::Markdown => shared(tlsaudit_report::Format::Markdown)?,
        LintFormat::Sarif => shared(tlsaudit_report::Format::Sarif)?,
    };
    emit(&text);
    Ok(u8::from(tlsaudit_engine::lint::fails(
        &findings,
        args.fail_on,
    )))
}
