//! `tlsaudit diff BEFORE.json AFTER.json`: its arguments, and the comparison
//! (`tlsaudit_report::diff`) written in `--format` with the exit code of `--fail-on`.

use std::path::PathBuf;

use tlsaudit_engine::error::InputError;
use tlsaudit_report::diff::{self, FailOn};
use tlsaudit_report::Report;

use crate::cli::output;

/// Output formats of `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    #[value(alias = "table")]
    Text,
    Json,
    Markdown,
}

/// What makes `diff` exit 1 (`--fail-on`, comma separated): [`FailOn`] on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOnArg {
    /// A cell newly open.
    Open,
    /// A cell newly blocked.
    Blocked,
    /// A cell newly unencrypted or untrusted.
    Insecure,
    /// Any other verdict change (not fixes).
    Other,
    /// A server certificate changed.
    Rotation,
    /// An endpoint or identity added, removed or (endpoint) changed.
    Inventory,
    /// A critical finding added.
    Critical,
    /// A TLS version or cipher suite an endpoint now accepts and did not before.
    Tls,
    /// Any change at all.
    Any,
}

impl From<FailOnArg> for FailOn {
    fn from(f: FailOnArg) -> FailOn {
        match f {
            FailOnArg::Open => FailOn::Open,
            FailOnArg::Blocked => FailOn::Blocked,
            FailOnArg::Insecure => FailOn::Insecure,
            FailOnArg::Other => FailOn::Other,
            FailOnArg::Rotation => FailOn::Rotation,
            FailOnArg::Inventory => FailOn::Inventory,
            FailOnArg::Critical => FailOn::Critical,
            FailOnArg::Tls => FailOn::Tls,
            FailOnArg::Any => FailOn::Any,
        }
    }
}

/// `tlsaudit diff BEFORE.json AFTER.json`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The report from before the change (`tlsaudit report --format json`).
    pub before: PathBuf,
    /// The report from after the change.
    pub after: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text", ignore_case = true)]
    pub format: DiffFormat,
    /// Exit 1 when a change of these kinds is found, comma separated: open, blocked, insecure
    /// (unencrypted or untrusted), other (any other verdict change), rotation, inventory
    /// (endpoints or identities), critical (a new critical finding), tls (a TLS version or
    /// cipher suite newly accepted), any.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "open,blocked,insecure,tls"
    )]
    pub fail_on: Vec<FailOnArg>,
    /// Write the diff to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Run `diff`: the exit code is 1 when a change reaches `--fail-on`.
pub fn run(args: &DiffArgs) -> Result<u8, InputError> {
    let before = Report::load(&args.before)?;
    let after = Report::load(&args.after)?;
    let d = diff::diff(
        &before,
        &after,
        (
            &args.before.display().to_string(),
            &args.after.display().to_string(),
        ),
    );
    let fail_on: Vec<FailOn> = args.fail_on.iter().map(|&f| f.into()).collect();
    let failing = d.failing(&fail_on);
    let text = match args.format {
        DiffFormat::Text => diff::render_text(&d, &failing),
        DiffFormat::Markdown => diff::render_markdown(&d, &failing),
        DiffFormat::Json => diff::render_json(&d).map_err(|e| {
            InputError::usage(
                format!("cannot serialize the diff: {e}"),
                "report this as a bug",
            )
        })?,
    };
    output::write_text(&text, args.output.as_deref())?;
    Ok(u8::from(!failing.is_empty()))
}
