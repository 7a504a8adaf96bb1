//! `tlsaudit lint`: a TiUP topology and component configs checked without probing, its findings
//! in `--format` (text, JSON with the plan, or the shared report formats) and the exit code of
//! `--fail-on`.

use clap::ValueEnum;
use tlsaudit_engine::audit::Severity;
use tlsaudit_engine::error::InputError;
use tlsaudit_report::{lint, Doc, Format, Options};

use crate::cli::input::{load_tidb, TidbInputFlags};
use crate::cli::output::emit;

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

/// A failure to serialize or render the findings is a bug, said as an input error (exit 2).
fn bug(e: impl std::fmt::Display) -> InputError {
    InputError::usage(e.to_string(), "report this as a bug")
}

/// `tlsaudit lint`: exit 1 when a finding reaches `--fail-on`.
pub fn run(args: &LintArgs) -> Result<u8, InputError> {
    let (cluster, findings) = load_tidb(&args.tidb)?;
    let shared = |f| {
        let doc = Doc::lint(&cluster, &findings);
        tlsaudit_report::render_doc(&doc, f, &Options::default()).map_err(bug)
    };
    let text = match args.format {
        LintFormat::Text => lint::text(&cluster, &findings),
        LintFormat::Json => lint::json(
            &cluster,
            &findings,
            lint::plan(&cluster, args.tidb.expiry_days),
        )
        .map_err(|e| bug(format!("cannot serialize the findings: {e}")))?,
        LintFormat::Html => shared(Format::Html)?,
        LintFormat::Markdown => shared(Format::Markdown)?,
        LintFormat::Sarif => shared(Format::Sarif)?,
    };
    emit(&text);
    Ok(u8::from(tlsaudit_engine::lint::fails(
        &findings,
        args.fail_on,
    )))
}
