//! Evidence bundles, written and verified: [`write`] puts a report's evidence into a folder
//! (report.json, report.html, the inventory it carries, the CA file as PEM, the served chains'
//! fingerprints and a `SHA256SUMS` manifest) and, with a key from [`keygen`], an Ed25519
//! signature over the manifest (ed25519-dalek); [`verify`] checks every file against the
//! manifest and the manifest against its signature, naming what changed. The key files are
//! text, a header line and the key in hex: the secret one is written 0600, never replaced, and
//! never printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use tlsaudit_engine::error::InputError;
use tlsaudit_engine::pki::summary::sha256_hex;
use tlsaudit_engine::pki::ChainCache;

use crate::provenance::holds_key;
use crate::{Format, Options, Report};

/// The manifest, its signature and the signer's public key, as named in a bundle.
pub const MANIFEST: &str = "SHA256SUMS";
pub const SIGNATURE: &str = "SHA256SUMS.sig";
pub const SIGNER: &str = "signer.pub";
const SECRET_HEADER: &str = "tlsaudit ed25519 secret key";
const PUBLIC_HEADER: &str = "tlsaudit ed25519 public key";
/// The largest file [`verify`] reads.
const MAX_FILE: u64 = 256 * 1024 * 1024;

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// How many files the manifest lists.
    pub files: usize,
    /// Each problem in words (`changed: report.html (...)`, `missing: ca.pem`, `added: x`,
    /// `signature: ...`); empty when the bundle is intact.
    pub problems: Vec<String>,
    /// The signer's key fingerprint (SHA-256 of the public key) when the signature verifies.
    pub signer: Option<String>,
}

/// Write the bundle of `report` into `dir` (created; it must not exist or be empty), signed
/// with the key at `sign` if given. `chains` (the audit's, for a live round) adds the served
/// certificates themselves as PEM; a saved report has only their fingerprints.
pub fn write(
    report: &Report,
    dir: &Path,
    sign: Option<&Path>,
    chains: Option<&ChainCache>,
) -> Result<(), InputError> {
    let key = sign.map(load_secret).transpose()?;
    let mut files = bundle_files(report)?;
    if let Some(pem) = chains.and_then(|c| served_pem(report, c)) {
        files.insert("served-certificates.pem".to_string(), pem.into_bytes());
    }
    create_empty_dir(dir)?;
    let mut sums = String::new();
    for (name, bytes) in &files {
        write_new(&dir.join(name), bytes, 0o644)?;
        sums.push_str(&format!("{}  {name}\n", sha256_hex(bytes)));
    }
    write_new(&dir.join(MANIFEST), sums.as_bytes(), 0o644)?;
    if let Some(key) = key {
        let sig = key.sign(sums.as_bytes());
        write_new(
            &dir.join(SIGNATURE),
            format!("{}\n", hex(&sig.to_bytes())).as_bytes(),
            0o644,
        )?;
        let public = public_text(&key.verifying_key());
        write_new(&dir.join(SIGNER), public.as_bytes(), 0o644)?;
    }
    Ok(())
}

/// The files of a bundle by name: the report (JSON, HTML), the inventory it carries, the CA
/// file, the served certificates' fingerprints.
fn bundle_files(report: &Report) -> Result<BTreeMap<String, Vec<u8>>, InputError> {
    let bug = |e: crate::Error| InputError::usage(e.to_string(), "report this as a bug");
    let mut files = BTreeMap::new();
    files.insert(
        "report.json".to_string(),
        report
            .to_json()
            .map(String::into_bytes)
            .map_err(|e| bug(e.into()))?,
    );
    let html = crate::render(report, Format::Html, &Options::default()).map_err(bug)?;
    files.insert("report.html".to_string(), html.into_bytes());
    if let Some(text) = report
        .provenance
        .as_ref()
        .and_then(|p| p.inventory_text.as_ref())
    {
        files.insert(inventory_name(report), text.clone().into_bytes());
    }
    if let Some(ca) = ca_pem(report)? {
        files.insert("ca.pem".to_string(), ca);
    }
    files.insert(
        "served-certificates.txt".to_string(),
        served(report).into_bytes(),
    );
    Ok(files)
}

/// The inventory's own file name (`tlsaudit.toml`), kept clear of the bundle's other names.
fn inventory_name(report: &Report) -> String {
    let name = report
        .cluster
        .inventory
        .as_deref()
        .and_then(|p| Path::new(p).file_name())
        .map_or_else(
            || "inventory.toml".to_string(),
            |n| {
                // A plain name the manifest can carry on one line.
                n.to_string_lossy()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "._-".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect()
            },
        );
    let reserved = [
        "report.json",
        "report.html",
        "ca.pem",
        "served-certificates.txt",
        MANIFEST,
        SIGNATURE,
        SIGNER,
    ];
    if reserved.contains(&name.as_str()) || name.starts_with('.') {
        format!("inventory-{name}")
    } else {
        name
    }
}

/// The CA file the audit trusted, when it is still readable here; never a file with a key.
fn ca_pem(report: &Report) -> Result<Option<Vec<u8>>, InputError> {
    let path = Path::new(&report.cluster.ca);
    if report.cluster.ca.is_empty() || !path.is_file() {
        // Not readable here (a saved report from elsewhere): its fingerprints are in
        // report.json's provenance.
        return Ok(None);
    }
    let bytes = tlsaudit_engine::fsutil::read_capped(path, MAX_FILE)?;
    if holds_key(&String::from_utf8_lossy(&bytes)) {
        return Err(InputError::file(
            path,
            "holds a private key: a bundle never carries key material",
            "keep the CA certificate and its key in separate files",
        ));
    }
    Ok(Some(bytes))
}

/// One line per endpoint: the certificates it served, leaf first, by SHA-256, subject and
/// expiry (the probe records keep summaries, not the certificates themselves).
fn served(report: &Report) -> String {
    let mut out = String::from(
        "# endpoint address: the served chain, leaf first (sha256 subject not_after)\n",
    );
    for (e, ep) in report.endpoints.iter().enumerate() {
        let chain = (0..report.identities.len())
            .filter_map(|i| report.cell(i, e).record.as_deref())
            .map(|r| &r.server_chain)
            .find(|c| !c.is_empty());
        out.push_str(&format!("{} {}:", ep.name, ep.address));
        match chain {
            Some(c) => {
                for cert in c.iter() {
                    out.push_str(&format!(
                        "\n  {} {} {}",
                        cert.sha256, cert.subject, cert.not_after
                    ));
                }
                out.push('\n');
            }
            None => out.push_str(" no certificate served\n"),
        }
    }
    out
}

/// Every distinct certificate the endpoints served, as PEM, each after a comment line naming
/// the endpoints that served it; `None` when the cache holds none of them.
fn served_pem(report: &Report, chains: &ChainCache) -> Option<String> {
    let mut by_cert: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (e, ep) in report.endpoints.iter().enumerate() {
        let served = (0..report.identities.len())
            .filter_map(|i| report.cell(i, e).record.as_deref())
            .flat_map(|r| r.server_chain.iter().map(|c| c.sha256.clone()));
        for sha in served {
            let names = by_cert.entry(sha).or_default();
            if !names.contains(&ep.name) {
                names.push(ep.name.clone());
            }
        }
    }
    let mut out = String::new();
    for (sha, endpoints) in &by_cert {
        let Some(der) = chains.der(sha) else { continue };
        out.push_str(&format!(
            "# sha256 {sha}, served by {}\n",
            endpoints.join(", ")
        ));
        out.push_str(&pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec())));
    }
    (!out.is_empty()).then_some(out)
}

/// Create `dir`, or accept it empty.
fn create_empty_dir(dir: &Path) -> Result<(), InputError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(InputError::file(
                    dir,
                    "is not empty",
                    "give a new or empty folder to --bundle",
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| InputError::io(dir, &e))
        }
        Err(e) => Err(InputError::io(dir, &e)),
    }
}

/// Create `path` (never replacing anything, never through a symlink) with `mode`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), InputError> {
    tlsaudit_engine::fsutil::write_new_mode(path, bytes, mode).map_err(InputError::from)
}

/// A new Ed25519 key: `out` (secret, 0600) and `out.pub`, neither replacing a file. The
/// public key's path and fingerprint.
pub fn keygen(out: &Path) -> Result<(PathBuf, String), InputError> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(seed.as_mut())
        .map_err(|_| InputError::usage("the system's random generator failed", "try again"))?;
    let key = SigningKey::from_bytes(&seed);
    let public_path = PathBuf::from(format!("{}.pub", out.display()));
    if std::fs::symlink_metadata(&public_path).is_ok() {
        return Err(InputError::file(
            &public_path,
            "already exists",
            "choose another --out, or move the old key away",
        ));
    }
    let secret = zeroize::Zeroizing::new(format!("{SECRET_HEADER}\n{}\n", hex(seed.as_ref())));
    write_new(out, secret.as_bytes(), 0o600)?;
    write_new(
        &public_path,
        public_text(&key.verifying_key()).as_bytes(),
        0o644,
    )?;
    Ok((public_path, fingerprint(&key.verifying_key())))
}

fn public_text(key: &VerifyingKey) -> String {
    format!("{PUBLIC_HEADER}\n{}\n", hex(key.as_bytes()))
}

/// SHA-256 of the public key, to compare by eye.
fn fingerprint(key: &VerifyingKey) -> String {
    sha256_hex(key.as_bytes())
}

/// The key in a key file under `header`: the 32 bytes of its hex line.
fn key_bytes(path: &Path, header: &str) -> Result<zeroize::Zeroizing<[u8; 32]>, InputError> {
    let text = zeroize::Zeroizing::new(tlsaudit_engine::fsutil::read_text_capped(path, 4096)?);
    let mut lines = text.lines();
    let bad = || {
        InputError::file(
            path,
            format!("is not a {header} file"),
            "give a file written by `tlsaudit keygen`",
        )
    };
    if lines.next() != Some(header) {
        return Err(bad());
    }
    let bytes = lines.next().and_then(unhex).ok_or_else(bad)?;
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return Err(bad());
    }
    out.copy_from_slice(&bytes);
    Ok(out)
}

fn load_secret(path: &Path) -> Result<SigningKey, InputError> {
    Ok(SigningKey::from_bytes(&*key_bytes(path, SECRET_HEADER)?))
}

fn load_public(path: &Path) -> Result<VerifyingKey, InputError> {
    VerifyingKey::from_bytes(&*key_bytes(path, PUBLIC_HEADER)?).map_err(|_| {
        InputError::file(
            path,
            "is not a valid Ed25519 public key",
            "give the FILE.pub `tlsaudit keygen` wrote",
        )
    })
}

/// Check the bundle in `dir`: every file against the manifest, unlisted files, and the
/// signature (with `key`, that public key is required; else the bundle's `signer.pub`). An
/// error when there is no manifest to check, or a key file is not one.
pub fn verify(dir: &Path, key: Option<&Path>) -> Result<Verification, InputError> {
    let manifest_path = dir.join(MANIFEST);
    let manifest = tlsaudit_engine::fsutil::read_text_capped(&manifest_path, MAX_FILE)?;
    let listed = parse_manifest(&manifest_path, &manifest)?;
    let mut problems = file_problems(dir, &listed)?;
    let signer = signature_check(dir, key, manifest.as_bytes(), &mut problems)?;
    Ok(Verification {
        files: listed.len(),
        problems,
        signer,
    })
}

/// The manifest's `HASH  NAME` lines; a name must be a plain file name.
fn parse_manifest(path: &Path, text: &str) -> Result<BTreeMap<String, String>, InputError> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let bad = || {
            InputError::file(
                path,
                format!("line {}: not `SHA256  NAME`", n + 1),
                "the manifest is written by `report --bundle`",
            )
        };
        let (hash, name) = line.split_once("  ").ok_or_else(bad)?;
        let plain = !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..";
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || !plain {
            return Err(bad());
        }
        out.insert(name.to_string(), hash.to_ascii_lowercase());
    }
    Ok(out)
}

/// Every listed file missing or changed, and every file the manifest does not list.
fn file_problems(dir: &Path, listed: &BTreeMap<String, String>) -> Result<Vec<String>, InputError> {
    let mut problems = Vec::new();
    for (name, want) in listed {
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Err(_) => problems.push(format!("missing: {name}")),
            Ok(m) if !m.file_type().is_file() => {
                problems.push(format!("changed: {name} is no longer a regular file"));
            }
            Ok(_) => {
                let got = sha256_hex(&tlsaudit_engine::fsutil::read_capped(&path, MAX_FILE)?);
                if &got != want {
                    problems.push(format!(
                        "changed: {name} (sha256 {want} in {MANIFEST}, now {got})"
                    ));
                }
            }
        }
    }
    let entries = std::fs::read_dir(dir).map_err(|e| InputError::io(dir, &e))?;
    let mut added: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| ![MANIFEST, SIGNATURE, SIGNER].contains(&n.as_str()) && !listed.contains_key(n))
        .collect();
    added.sort();
    problems.extend(
        added
            .into_iter()
            .map(|n| format!("added: {n} (not in {MANIFEST})")),
    );
    Ok(problems)
}

/// Check the signature over the manifest, if there is one (or `--key` asks for one): the
/// signer's fingerprint when it verifies; a problem when it does not.
fn signature_check(
    dir: &Path,
    key: Option<&Path>,
    manifest: &[u8],
    problems: &mut Vec<String>,
) -> Result<Option<String>, InputError> {
    let sig_path = dir.join(SIGNATURE);
    if !sig_path.exists() {
        if key.is_some() {
            problems.push(format!(
                "unsigned: {SIGNATURE} is missing, and --key asks for a signature"
            ));
        }
        return Ok(None);
    }
    let key_path = key.map_or_else(|| dir.join(SIGNER), Path::to_path_buf);
    let key = load_public(&key_path)?;
    let text = tlsaudit_engine::fsutil::read_text_capped(&sig_path, 4096)?;
    let sig = unhex(text.trim())
        .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
        .map(|b| Signature::from_bytes(&b));
    match sig {
        Some(sig) if key.verify_strict(manifest, &sig).is_ok() => Ok(Some(fingerprint(&key))),
        Some(_) => {
            problems.push(format!(
                "signature: {SIGNATURE} does not verify over {MANIFEST} with {} (the manifest or the signature changed)",
                key_path.display()
            ));
            Ok(None)
        }
        None => {
            problems.push(format!(
                "signature: {SIGNATURE} is not an Ed25519 signature in hex"
            ));
            Ok(None)
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        assert_eq!(unhex(&hex(&[0, 15, 255])), Some(vec![0, 15, 255]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn a_manifest_names_plain_files_only() {
        let p = Path::new("SHA256SUMS");
        let h = "a".repeat(64);
        assert!(parse_manifest(p, &format!("{h}  report.json\n")).is_ok());
        assert!(parse_manifest(p, &format!("{h}  ../etc/passwd\n")).is_err());
        assert!(parse_manifest(p, "nothing\n").is_err());
    }
}
