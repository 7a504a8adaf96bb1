//! `tlsaudit keygen` (the Ed25519 key that signs evidence bundles) and `tlsaudit verify DIR`
//! (an evidence bundle of `report --bundle DIR` checked, what changed named): the commands over
//! `tlsaudit_report::bundle`, which writes and checks the bundles.

use std::fmt::Write;
use std::path::PathBuf;

use tlsaudit_engine::error::InputError;
use tlsaudit_report::bundle::{self, MANIFEST};

/// `tlsaudit keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (0600, never replaced); the public key goes to FILE.pub.
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
}

/// `tlsaudit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The bundle folder (`report --bundle DIR`).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The signer's public key (`keygen`'s FILE.pub) to require; default: the bundle's own
    /// signer.pub, whose fingerprint is printed to compare.
    #[arg(long, value_name = "FILE.pub")]
    pub key: Option<PathBuf>,
}

/// `tlsaudit keygen --out FILE`: a new Ed25519 key, FILE (secret, 0600) and FILE.pub.
pub fn run_keygen(args: &KeygenArgs) -> Result<u8, InputError> {
    let (public, fingerprint) = bundle::keygen(&args.out)?;
    crate::cli::output::emit(&format!(
        "wrote {} (secret, 0600) and {}\nkey fingerprint: {fingerprint}\n",
        args.out.display(),
        public.display(),
    ));
    Ok(0)
}

/// `tlsaudit verify DIR`: exit 0 when every file matches the manifest and the signature (if
/// any) verifies; 1 with each problem named; 2 when there is no manifest to check.
pub fn run_verify(args: &VerifyArgs) -> Result<u8, InputError> {
    let v = bundle::verify(&args.dir, args.key.as_deref())?;
    if v.problems.is_empty() {
        let signed = match &v.signer {
            Some(fp) => format!("the signature verifies (key fingerprint {fp})"),
            None => "not signed".to_string(),
        };
        crate::cli::output::emit(&format!(
            "ok: {} files match {MANIFEST}; {signed}\n",
            v.files
        ));
        return Ok(0);
    }
    let mut out = format!(
        "FAILED: {} problem(s) in {}\n",
        v.problems.len(),
        tlsaudit_report::sanitize::inert(&args.dir.display().to_string())
    );
    for p in &v.problems {
        // Names of files found in the bundle: anyone's, made inert for the terminal.
        let _ = writeln!(out, "  {}", tlsaudit_report::sanitize::inert(p));
    }
    crate::cli::output::emit(&out);
    Ok(1)
}
