//! PEM loading with errors that name the file and say what to do. A key file's bytes and
//! PEM text are zeroized once the key is decoded, and a key file that others can read is
//! reported once to the front end's [`on_exposed_key`] sink (the lint reports it as a finding
//! through the same [`key_exposure`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use zeroize::Zeroizing;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::InputError;

/// What a certificate file is for; it picks the words of the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertRole {
    /// The CA a caller trusts (`--ca`, `ca.crt`).
    Ca,
    /// A client or server certificate (`--cert`, `<role>.crt`).
    Leaf,
}

impl CertRole {
    fn want(self) -> &'static str {
        match self {
            CertRole::Ca => "the cluster CA certificate (ca.crt in TiUP's tls folder)",
            CertRole::Leaf => "a certificate such as client.crt or <role>.crt",
        }
    }
}

/// One `-----BEGIN X-----` .. `-----END X-----` section of a PEM file.
#[derive(Clone)]
pub struct PemSection {
    pub label: String,
    /// Legacy OpenSSL encryption header (`Proc-Type: 4,ENCRYPTED`).
    pub encrypted_header: bool,
    /// The section's text, BEGIN and END lines included (zeroized on drop: it may be a key).
    pub text: Zeroizing<String>,
}

/// Without the text: a section may hold a private key.
impl std::fmt::Debug for PemSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemSection")
            .field("label", &self.label)
            .field("encrypted_header", &self.encrypted_header)
            .field("text_len", &self.text.len())
            .finish()
    }
}

/// A private key file that its group or every user can read (`mode & 0o077`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyExposure {
    /// The permission bits (`mode & 0o777`).
    pub mode: u32,
}

impl KeyExposure {
    /// Who can read it besides the owner.
    pub fn readers(self) -> &'static str {
        if self.mode & 0o007 != 0 {
            "every user"
        } else {
            "its group"
        }
    }

    /// One line for a person: the file, who can read it and the fix.
    pub fn warning(self, key: &Path) -> String {
        format!(
            "the private key {} is readable by {} (mode {:04o}); chmod 600 {}",
            key.display(),
            self.readers(),
            self.mode,
            key.display()
        )
    }
}

/// Whether the key file at `path` is readable by its group or others (Unix modes; `None`
/// elsewhere, and when the file cannot be inspected).
#[cfg(unix)]
pub fn key_exposure(path: &Path) -> Option<KeyExposure> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(KeyExposure { mode })
}

#[cfg(not(unix))]
pub fn key_exposure(_: &Path) -> Option<KeyExposure> {
    None
}

/// Where [`load_key`] reports a key file others can read.
pub type ExposedKeySink = Box<dyn Fn(&Path, KeyExposure) + Send + Sync>;

static EXPOSED_SINK: OnceLock<ExposedKeySink> = OnceLock::new();
static EXPOSED_SEEN: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Have [`load_key`] call `sink` for every key file it loads that its group or others can
/// read, once per file per process (the CLI prints a warning on stderr). The first sink set
/// stays; `false` when one was already set.
pub fn on_exposed_key(sink: ExposedKeySink) -> bool {
    EXPOSED_SINK.set(sink).is_ok()
}

fn note_exposure(path: &Path) {
    let Some(sink) = EXPOSED_SINK.get() else {
        return;
    };
    let Some(x) = key_exposure(path) else {
        return;
    };
    let id = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let first = EXPOSED_SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(id);
    if first {
        sink(path, x);
    }
}

/// Find the PEM sections of a text. Malformed trailing sections are ignored here and caught
/// when decoding.
pub fn scan(text: &str) -> Vec<PemSection> {
    let mut out = Vec::new();
    let mut current: Option<PemSection> = None;
    for line in text.lines() {
        let l = line.trim();
        if let Some(label) = l
            .strip_prefix("-----BEGIN ")
            .and_then(|s| s.strip_suffix("-----"))
        {
            current = Some(PemSection {
                label: label.to_string(),
                encrypted_header: false,
                text: Zeroizing::new(format!("{l}\n")),
            });
            continue;
        }
        if let Some(sec) = current.as_mut() {
            sec.text.push_str(l);
            sec.text.push('\n');
            if l.starts_with("Proc-Type:") && l.contains("ENCRYPTED") {
                sec.encrypted_header = true;
            }
            if l.starts_with("-----END ") {
                if let Some(done) = current.take() {
                    out.push(done);
                }
            }
        }
    }
    out
}

/// The file's text; zeroized on drop (it may hold a key).
fn read_text(path: &Path) -> Result<Zeroizing<String>, InputError> {
    let bytes = Zeroizing::new(crate::fsutil::read_capped(path, crate::fsutil::MAX_PEM)?);
    if bytes.first() == Some(&0x30) {
        return Err(InputError::file(
            path,
            "is DER (binary), not PEM",
            format!(
                "convert it: openssl x509 -inform der -in {0} -out {0}.pem (for a key: openssl pkey -inform der ...)",
                path.display()
            ),
        ));
    }
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(Zeroizing::new(text.to_string())),
        Err(_) => Err(InputError::file(
            path,
            "is not a PEM text file",
            "point it at a PEM file (-----BEGIN CERTIFICATE----- ...)",
        )),
    }
}

fn labels(sections: &[PemSection]) -> String {
    let mut v: Vec<&str> = sections.iter().map(|s| s.label.as_str()).collect();
    v.dedup();
    v.join(", ")
}

/// Load every certificate of a PEM file; at least one must be there and each must parse.
pub fn load_certs(path: &Path, role: CertRole) -> Result<Vec<CertificateDer<'static>>, InputError> {
    let text = read_text(path)?;
    certs_from_pem(&text, path, role)
}

/// The certificates of a PEM text already read from `path` (which names it in errors): what
/// [`load_certs`] does after reading the file. Public for the fuzz targets (`fuzz/`).
pub fn certs_from_pem(
    text: &str,
    path: &Path,
    role: CertRole,
) -> Result<Vec<CertificateDer<'static>>, InputError> {
    let sections = scan(text);
    let mut certs = Vec::new();
    for (i, sec) in sections.iter().enumerate() {
        if sec.label != "CERTIFICATE" && sec.label != "TRUSTED CERTIFICATE" {
            continue;
        }
        let der = CertificateDer::from_pem_slice(sec.text.as_bytes()).map_err(|e| {
            InputError::file(
                path,
                format!("certificate #{} is not valid PEM ({e})", i + 1),
                "re-export the certificate",
            )
        })?;
        if let Err(e) = crate::pki::summary::summarize(der.as_ref()) {
            return Err(InputError::file(
                path,
                format!("certificate #{}: {e}", i + 1),
                "re-export the certificate",
            ));
        }
        certs.push(der);
    }
    if !certs.is_empty() {
        return Ok(certs);
    }
    if text.trim().is_empty() {
        return Err(InputError::file(
            path,
            "is empty",
            format!("it should hold {}", role.want()),
        ));
    }
    if sections.iter().any(|s| s.label.contains("PRIVATE KEY")) {
        return Err(InputError::file(
            path,
            "holds a private key, not a certificate",
            format!("this option takes {}; the key goes to --key", role.want()),
        ));
    }
    if sections.is_empty() {
        return Err(InputError::file(
            path,
            "contains no PEM block",
            format!("it should hold {}", role.want()),
        ));
    }
    Err(InputError::file(
        path,
        format!(
            "contains no CERTIFICATE block (found: {})",
            labels(&sections)
        ),
        format!("it should hold {}", role.want()),
    ))
}

/// Load the private key of a PEM file: PKCS#8, PKCS#1 (TiUP writes these) or SEC1.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, InputError> {
    let text = read_text(path)?;
    let sections = scan(&text);
    for sec in &sections {
        match sec.label.as_str() {
            "ENCRYPTED PRIVATE KEY" => return Err(encrypted(path)),
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
                if sec.encrypted_header {
                    return Err(encrypted(path));
                }
                let key = PrivateKeyDer::from_pem_slice(sec.text.as_bytes()).map_err(|e| {
                    InputError::file(
                        path,
                        format!("the {} block is not valid ({e})", sec.label),
                        "re-export the key with openssl pkey",
                    )
                })?;
                // Only a file that holds a key is warned about.
                note_exposure(path);
                return Ok(key);
            }
            _ => {}
        }
    }
    if text.trim().is_empty() {
        return Err(InputError::file(
            path,
            "is empty",
            "it should hold the private key (<role>.pem or client.pem in TiUP's tls folder)",
        ));
    }
    if sections.iter().any(|s| s.label == "CERTIFICATE") {
        return Err(InputError::file(
            path,
            "holds a certificate, not a private key",
            "--key takes the key file (<role>.pem or client.pem in TiUP's tls folder); the certificate goes to --cert",
        ));
    }
    Err(InputError::file(
        path,
        if sections.is_empty() {
            "contains no PEM block".to_string()
        } else {
            format!("contains no private key (found: {})", labels(&sections))
        },
        "it should hold a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block",
    ))
}

fn encrypted(path: &Path) -> InputError {
    InputError::file(
        path,
        "the private key is encrypted",
        format!(
            "tlsaudit needs an unencrypted key, as the components use: openssl pkey -in {0} -out {0}.plain, then keep it mode 0600",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    fn cert_and_key() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["x".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn loads_cert_and_key() {
        let (c, k) = cert_and_key();
        let cf = file(&c);
        let kf = file(&k);
        assert_eq!(load_certs(cf.path(), CertRole::Ca).unwrap().len(), 1);
        load_key(kf.path()).unwrap();
    }

    #[test]
    fn empty_ca_is_named() {
        let f = file("");
        let e = load_certs(f.path(), CertRole::Ca).unwrap_err().to_string();
        assert!(e.contains("is empty") && e.contains("ca.crt"), "{e}");
    }

    #[test]
    fn key_given_as_cert() {
        let (_, k) = cert_and_key();
        let f = file(&k);
        let e = load_certs(f.path(), CertRole::Leaf)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds a private key, not a certificate"), "{e}");
        assert!(!e.contains("BEGIN"), "never echo key material: {e}");
    }

    #[test]
    fn cert_given_as_key() {
        let (c, _) = cert_and_key();
        let f = file(&c);
        let e = load_key(f.path()).unwrap_err().to_string();
        assert!(e.contains("holds a certificate, not a private key"), "{e}");
    }

    #[test]
    fn encrypted_keys_are_refused_with_the_fix() {
        let f = file(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
        );
        let e = load_key(f.path()).unwrap_err().to_string();
        assert!(e.contains("encrypted") && e.contains("openssl pkey"), "{e}");
        let f = file("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMIIB\n-----END RSA PRIVATE KEY-----\n");
        let e = load_key(f.path()).unwrap_err().to_string();
        assert!(e.contains("encrypted"), "{e}");
    }

    #[test]
    fn der_file_is_named() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&[0x30, 0x82, 0x01]).unwrap();
        let e = load_certs(f.path(), CertRole::Ca).unwrap_err().to_string();
        assert!(e.contains("DER"), "{e}");
    }

    /// `load_key(path)`'s error, or a failure when it takes more than two seconds.
    fn key_error_within_2s(path: std::path::PathBuf) -> String {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(load_key(&path).map(|_| ()).map_err(|e| e.to_string()));
        });
        match rx.recv_timeout(std::time::Duration::from_secs(2)) {
            Ok(r) => r.unwrap_err(),
            Err(_) => panic!("reading the key did not end within 2 s"),
        }
    }

    #[test]
    fn a_device_or_a_fifo_as_a_key_fails_fast() {
        let e = key_error_within_2s("/dev/zero".into());
        assert!(
            e.starts_with("/dev/zero: is a device or a socket, not a regular file"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("key.pem");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = key_error_within_2s(fifo);
        assert!(e.contains("key.pem: is a FIFO (named pipe)"), "{e}");
        let big = file(&"A".repeat(2 << 20));
        let e = key_error_within_2s(big.path().to_path_buf());
        assert!(e.contains("is larger than 1 MiB"), "{e}");
    }
}
