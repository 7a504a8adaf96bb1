//! `tlsaudit man`: the man page (roff), generated from the clap definitions (which the
//! dispatcher passes in), on stdout.

use tlsaudit_engine::error::InputError;

use crate::cli::output::emit;

/// The man page of `command`, the whole command line; exit 0.
pub fn run(command: clap::Command) -> Result<u8, InputError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
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
