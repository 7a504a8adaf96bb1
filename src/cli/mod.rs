//! The command line: [`main`] parses it ([`args`]), sets up tracing, the crypto library and the
//! open-file limit, dispatches to the command's file, and maps the result to the exit code (0
//! accepted / nothing wrong, 1 findings or a non-accepted probe, 2 a usage or input error).
//!
//! One file per command, each with its arguments and its run: [`report`], [`diff`], [`merge`],
//! [`lint`], [`probe`], [`scan`], [`diagnose`], [`explain`], [`demo`], [`tui`], [`remedy`]
//! (`init`, `fix`, `rotate`), [`mint`], [`serve`], [`completions`], [`man`]. Only this
//! dispatcher and [`args`] (whose
//! `Command` names their argument structs) use them: the command files are private. What they
//! share is [`input`] (what to audit: flag groups, inventory and TiUP loading) and [`output`]
//! (formats, colour, width, the one write of results), which the front ends use too (see the
//! crate's doc for the rule, which a test holds).

mod args;
mod bundle;
mod completions;
mod demo;
mod diagnose;
mod diff;
mod explain;
pub mod input;
mod lint;
mod man;
mod merge;
mod mint;
pub mod output;
mod probe;
mod remedy;
mod report;
mod scan;
mod serve;
mod tui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use tlsaudit_engine::error::InputError;

use args::{Cli, Command};

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

/// What every command needs before it runs: the crypto library's entropy seeded once (before
/// any probe is timed), the soft open-file limit raised to the hard one (probes hold sockets),
/// and a warning on stderr for a key file others can read, once per file, before any output
/// (`lint` reports it as a finding instead).
fn prepare(command: Option<&Command>) {
    tlsaudit_engine::pki::warm_up();
    let _ = tlsaudit_engine::probe::limits::raise_nofile();
    if !matches!(command, Some(Command::Lint(_))) {
        tlsaudit_engine::pki::load::on_exposed_key(Box::new(|path, x| {
            eprintln!("warning: {}", x.warning(path));
        }));
    }
}

/// Parse arguments, run, and map the result to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    prepare(cli.command.as_ref());
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
    let result = runtime.block_on(run(cli.command));
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

/// The command's run.
async fn run(command: Option<Command>) -> Result<u8, InputError> {
    match command {
        Some(Command::Probe(args)) => probe::run(args).await,
        Some(Command::Scan(args)) => scan::run(args).await,
        Some(Command::Report(args)) => report::run(args).await,
        Some(Command::Demo(args)) => demo::run(args).await,
        Some(Command::Tui(args)) => tui::run(args).await,
        Some(Command::Diagnose(args)) => diagnose::run(args).await,
        Some(Command::Explain(args)) => explain::run(args),
        Some(Command::Lint(args)) => lint::run(&args),
        Some(Command::Diff(args)) => diff::run(&args),
        Some(Command::Init(args)) => remedy::run_init(&args),
        Some(Command::Fix(args)) => remedy::run_fix(&args),
        Some(Command::Rotate(args)) => remedy::run_rotate(&args),
        Some(Command::Mint(args)) => mint::run(&args),
        Some(Command::Serve(args)) => serve::run(args).await,
        Some(Command::Merge(args)) => merge::run(&args),
        Some(Command::Keygen(args)) => bundle::run_keygen(&args),
        Some(Command::Verify(args)) => bundle::run_verify(&args),
        Some(Command::Completions(args)) => Ok(completions::run(&args, Cli::command())),
        Some(Command::Man) => man::run(Cli::command()),
        None => run_default().await,
    }
}

/// `tlsaudit` alone: the dashboard over ./tlsaudit.toml on a terminal, its report when piped,
/// the demo without it.
async fn run_default() -> Result<u8, InputError> {
    let default = PathBuf::from("tlsaudit.toml");
    if !default.is_file() {
        demo::run(demo::DemoArgs::default()).await
    } else if output::stdout_is_terminal() {
        tui::run(tui::TuiArgs::of_config(default)).await
    } else {
        report::run(report::ReportArgs::of_config(default)).await
    }
}
