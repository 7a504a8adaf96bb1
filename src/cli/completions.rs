//! `tlsaudit completions SHELL`: a shell completion script, generated from the clap definitions
//! (which the dispatcher passes in), on stdout.

use crate::cli::output::emit;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The script for `args.shell` completing `command`, the whole command line; exit 0.
pub fn run(args: &CompletionsArgs, mut command: clap::Command) -> u8 {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "tlsaudit", &mut out);
    emit(&String::from_utf8_lossy(&out));
    0
}
