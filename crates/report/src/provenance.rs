//! The provenance of a report ([`Provenance`]): collected once, at the end of an audit, from the
//! plan (the inventory file, the CA certificates) and the process (the build, the command line
//! with its secrets removed, the host). The writers show it; a saved report keeps it.

use std::path::Path;

use tlsaudit_engine::audit::Plan;
use tlsaudit_engine::pki::summary::sha256_hex;

use crate::model::{CaCertificate, Provenance};

/// The largest inventory embedded in a report; a larger one is named by its hash only.
pub const MAX_INVENTORY_TEXT: usize = 1024 * 1024;

/// What replaces a secret on the command line.
pub const REDACTED: &str = "<redacted>";

impl Provenance {
    /// The provenance of an audit of `plan` run by the command line `args` (the program
    /// first, as `std::env::args` gives it).
    pub fn collect(plan: &Plan, args: impl IntoIterator<Item = String>) -> Provenance {
        let (inventory_sha256, inventory_text) = plan
            .inventory
            .source
            .as_deref()
            .map_or((None, None), inventory);
        Provenance {
            build: Some(build()),
            command_line: redact(args),
            host: host(),
            inventory_sha256,
            inventory_text,
            ca_certificates: plan
                .trust
                .certs
                .iter()
                .map(|c| CaCertificate {
                    subject: c.subject.clone(),
                    sha256: c.sha256.clone(),
                    not_after: c.not_after.clone(),
                })
                .collect(),
        }
    }
}

/// This build: version, target and profile.
pub fn build() -> String {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    format!(
        "{} {}-{} {profile}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// The host name (Linux: the kernel's; elsewhere `HOSTNAME`), if known.
fn host() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// The inventory file's SHA-256 and its text: the text is left out when it is not UTF-8, is
/// larger than [`MAX_INVENTORY_TEXT`], or holds a private key (an inventory names key files;
/// it never carries one, and the report must not either).
fn inventory(path: &Path) -> (Option<String>, Option<String>) {
    let Ok(bytes) = std::fs::read(path) else {
        return (None, None);
    };
    let text = String::from_utf8(bytes.clone())
        .ok()
        .filter(|t| t.len() <= MAX_INVENTORY_TEXT && !holds_key(t));
    (Some(sha256_hex(&bytes)), text)
}

/// Whether `text` holds private key material (a PEM private key block).
pub fn holds_key(text: &str) -> bool {
    text.contains("PRIVATE KEY-----")
}

/// The command line with secrets removed: the value of a flag that names a password, secret or
/// token (`--x-password V`, `--x-token=V`) and the password of a URL (`user:pw@host`).
pub fn redact(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut hide_next = false;
    for a in args {
        if hide_next {
            out.push(REDACTED.to_string());
            hide_next = false;
            continue;
        }
        if let Some(flag) = a.strip_prefix("--").filter(|f| secret_flag(f)) {
            match flag.split_once('=') {
                Some((name, _)) => out.push(format!("--{name}={REDACTED}")),
                None => {
                    out.push(a.clone());
                    hide_next = !flag.ends_with("-file");
                }
            }
            continue;
        }
        out.push(url_password_removed(&a));
    }
    out
}

/// A flag name (without `--`) whose value is a secret; a `-file` flag names a file, kept.
fn secret_flag(flag: &str) -> bool {
    let name = flag.split_once('=').map_or(flag, |(n, _)| n);
    !name.ends_with("-file")
        && ["password", "secret", "token", "passphrase"]
            .iter()
            .any(|w| name.contains(w))
}

/// `scheme://user:pw@host...` with the password replaced.
fn url_password_removed(a: &str) -> String {
    let Some((scheme, rest)) = a.split_once("://") else {
        return a.to_string();
    };
    let auth_end = rest.find('/').unwrap_or(rest.len());
    match rest[..auth_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:{REDACTED}{}", &rest[at..]),
            None => a.to_string(),
        },
        None => a.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn secrets_are_removed_paths_kept() {
        let got = redact(v(&[
            "tlsaudit",
            "report",
            "--mysql-password",
            "hunter2",
            "--api-token=abc",
            "--mysql-password-file",
            "/etc/pw",
            "--config",
            "x.toml",
            "https://u:pw@h:1/p",
        ]));
        assert_eq!(
            got,
            v(&[
                "tlsaudit",
                "report",
                "--mysql-password",
                REDACTED,
                "--api-token=<redacted>",
                "--mysql-password-file",
                "/etc/pw",
                "--config",
                "x.toml",
                "https://u:<redacted>@h:1/p",
            ])
        );
        assert!(!got.concat().contains("hunter2"));
    }

    #[test]
    fn an_inventory_with_a_key_is_hashed_not_embedded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("inv.toml");
        std::fs::write(&p, "x = 1\n-----BEGIN PRIVATE KEY-----\nAAA\n").expect("write");
        let (hash, text) = inventory(&p);
        assert_eq!(hash.map(|h| h.len()), Some(64));
        assert_eq!(text, None);
        std::fs::write(&p, "key = \"/etc/tls/client.key\"\n").expect("write");
        assert!(inventory(&p).1.is_some_and(|t| t.contains("client.key")));
    }
}
