//! The command line's top: [`Cli`] (the global flags) and [`Command`] (the subcommands, each
//! with the argument struct its command file defines). The help text of every subcommand is
//! its variant's doc here.

use clap::{Parser, Subcommand};

use super::bundle::{KeygenArgs, VerifyArgs};
use super::completions::CompletionsArgs;
use super::demo::DemoArgs;
use super::diagnose::DiagnoseArgs;
use super::diff::DiffArgs;
use super::explain::ExplainArgs;
use super::lint::LintArgs;
use super::merge::MergeArgs;
use super::mint::MintArgs;
use super::probe::ProbeArgs;
use super::remedy::{FixArgs, InitArgs, RotateArgs};
use super::report::ReportArgs;
use super::scan::ScanArgs;
use super::serve::ServeArgs;
use super::tui::TuiArgs;

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
    // Pinned where it has always been listed: clap numbers the subcommands and this flag in
    // one sequence, so a new subcommand would otherwise move it in every command's help.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, display_order = 15)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe one endpoint with one identity and show everything the handshake revealed.
    Probe(ProbeArgs),
    /// The TLS hygiene of one endpoint, without an inventory: the versions and cipher suites it
    /// accepts, its order, groups, certificate key and signature, with findings and fixes.
    Scan(ScanArgs),
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
    Diff(DiffArgs),
    /// Build a cluster's PKI and allow-lists from a TiUP topology: a certificate per instance,
    /// TiUP's client certificate, each component's [security] section, a server_configs patch.
    Init(InitArgs),
    /// Turn the findings of a lint or a JSON report into a patch of the TiUP topology and the
    /// reload commands, in an order that keeps the cluster up; --write applies it to the file.
    Fix(FixArgs),
    /// New leaf certificates from the same CA for every instance of a TiUP topology, with the
    /// rolling order and the check to run after each step.
    Rotate(RotateArgs),
    /// Issue, on the CA host, the identities the audit otherwise mints at run time with the CA
    /// key (foreign, unlisted, per component), valid as long as you choose, and print the
    /// inventory entries that use them: vantage hosts then need no CA key.
    Mint(MintArgs),
    /// Audit on an interval and serve the results over HTTP for Prometheus: /metrics,
    /// /report.json, /probe?endpoint=&identity=, /-/healthy, /-/ready.
    Serve(ServeArgs),
    /// Combine JSON reports of one cluster taken from several vantage points (racks, hosts)
    /// into one report: each cell's verdict per vantage point, the worst shown, and a
    /// VANTAGE_DISAGREE finding where they differ.
    Merge(MergeArgs),
    /// Write a new Ed25519 key for `report --bundle DIR --sign KEY`: FILE (secret, 0600) and
    /// FILE.pub.
    Keygen(KeygenArgs),
    /// Check an evidence bundle (`report --bundle DIR`): every file against SHA256SUMS, and its
    /// signature; name what changed.
    Verify(VerifyArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from this help.
    Man,
}
