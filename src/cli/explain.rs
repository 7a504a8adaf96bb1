//! `tlsaudit explain TEXT`: the likely causes of a TLS error line from TiDB, TiKV, PD, Go or
//! OpenSSL logs (text or JSON); exit 1 when nothing matched.

use tlsaudit_engine::error::InputError;

use crate::cli::output::{emit, emit_json, stdout_style, TextOrJson};

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The error text, as logged; "-" reads it from standard input.
    pub text: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text", ignore_case = true)]
    pub format: TextOrJson,
}

/// The error text: the argument, or standard input for `-`.
fn error_text(arg: String) -> Result<String, InputError> {
    if arg != "-" {
        return Ok(arg);
    }
    tlsaudit_engine::fsutil::read_stdin_capped(
        tlsaudit_engine::fsutil::MAX_CONFIG,
        "standard input",
    )
}

/// `tlsaudit explain`: the exit code is the explanation's.
pub fn run(args: ExplainArgs) -> Result<u8, InputError> {
    let text = error_text(args.text)?;
    if text.trim().is_empty() {
        return Err(InputError::usage(
            "no error text given",
            "pass the log line in quotes: tlsaudit explain \"x509: certificate signed by unknown authority\"",
        ));
    }
    let e = tlsaudit_engine::explain::explain(&text);
    match args.format {
        TextOrJson::Json => emit_json(&e, "explanation"),
        TextOrJson::Text if e.matched() => {
            emit(&tlsaudit_report::explain::render(&e, stdout_style()));
        }
        TextOrJson::Text => eprint!("{}", tlsaudit_engine::explain::unmatched_help(&text)),
    }
    Ok(e.exit_code())
}
