//! TiUP's TLS folder (`~/.tiup/storage/cluster/clusters/<name>/tls`): `ca.crt` (the CA),
//! `ca.pem` (the CA's key), `client.crt` / `client.pem` (TiUP's own client, CN
//! `<cluster>-client`), and any `<role>.crt` / `<role>.pem` pairs copied from the servers
//! (`<deploy_dir>/tls/`).

use std::path::{Path, PathBuf};

use crate::error::InputError;
use crate::pki::load::{self, CertRole};

/// A certificate and its key found in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCert {
    /// The file stem: `tidb`, `pd`, ...
    pub name: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The folder, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsDir {
    pub dir: PathBuf,
    pub ca: Option<PathBuf>,
    pub ca_key: Option<PathBuf>,
    pub client: Option<(PathBuf, PathBuf)>,
    pub roles: Vec<RoleCert>,
}

/// PEM labels in a file (empty when unreadable).
fn labels(path: &Path) -> Vec<String> {
    crate::fsutil::read_text_capped(path, crate::fsutil::MAX_PEM)
        .map(|t| load::scan(&t).into_iter().map(|s| s.label).collect())
        .unwrap_or_default()
}

fn has_key(path: &Path) -> bool {
    labels(path).iter().any(|l| l.ends_with("PRIVATE KEY"))
}

fn has_cert(path: &Path) -> bool {
    labels(path).iter().any(|l| l == "CERTIFICATE")
}

/// The CA certificate and the CA key in the folder, if there.
fn find_ca(dir: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
    let mut ca = Some(dir.join("ca.crt")).filter(|p| p.is_file());
    let mut ca_key = None;
    let ca_pem = dir.join("ca.pem");
    if ca_pem.is_file() {
        // TiUP keeps the CA key in ca.pem; other tools keep the CA certificate there.
        if has_key(&ca_pem) {
            ca_key = Some(ca_pem);
        } else if ca.is_none() && has_cert(&ca_pem) {
            ca = Some(ca_pem);
        }
    }
    if ca_key.is_none() {
        ca_key = Some(dir.join("ca-key.pem")).filter(|p| p.is_file() && has_key(p));
    }
    (ca, ca_key)
}

/// A file of the folder that is a (non-CA) certificate with a key beside it: its stem and the
/// key's path.
fn cert_and_key(dir: &Path, p: &Path, ca: Option<&PathBuf>) -> Option<(String, PathBuf)> {
    let stem = p.file_stem().and_then(|s| s.to_str()).map(str::to_string)?;
    let is_cert_file = p.extension().is_some_and(|e| e == "crt")
        || (p.extension().is_some_and(|e| e == "pem")
            && !stem.ends_with("-key")
            && stem != "ca"
            && has_cert(p)
            && !has_key(p)
            && !dir.join(format!("{stem}.crt")).is_file());
    if !is_cert_file || stem == "ca" || ca.is_some_and(|ca| ca == p) {
        return None;
    }
    // `<stem>.pem` holding the certificate: the key is then `.key` or `-key.pem`.
    let names = if p.extension().is_some_and(|e| e == "pem") {
        vec![format!("{stem}.key"), format!("{stem}-key.pem")]
    } else {
        vec![
            format!("{stem}.pem"),
            format!("{stem}.key"),
            format!("{stem}-key.pem"),
        ]
    };
    let key = names
        .into_iter()
        .map(|n| dir.join(n))
        .find(|k| k.is_file())?;
    Some((stem, key))
}

impl TlsDir {
    pub fn load(dir: &Path) -> Result<TlsDir, InputError> {
        let meta = std::fs::metadata(dir).map_err(|e| InputError::io(dir, &e))?;
        if !meta.is_dir() {
            return Err(InputError::file(
                dir,
                "is not a folder",
                "--tls-dir takes TiUP's tls folder (~/.tiup/storage/cluster/clusters/<name>/tls)",
            ));
        }
        let (ca, ca_key) = find_ca(dir);
        let Some(ca_path) = &ca else {
            return Err(InputError::file(
                dir,
                "holds no ca.crt",
                "point --tls-dir at TiUP's tls folder, which has ca.crt, ca.pem, client.crt and client.pem",
            ));
        };
        load::load_certs(ca_path, CertRole::Ca)?;
        let mut client = None;
        let mut roles = Vec::new();
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| InputError::io(dir, &e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            let Some((stem, key)) = cert_and_key(dir, &p, ca.as_ref()) else {
                continue;
            };
            if stem == "client" {
                client = Some((p, key));
            } else {
                roles.push(RoleCert {
                    name: stem,
                    cert: p,
                    key,
                });
            }
        }
        Ok(TlsDir {
            dir: dir.to_path_buf(),
            ca,
            ca_key,
            client,
            roles,
        })
    }

    /// The CN of `client.crt`.
    pub fn client_cn(&self) -> Option<String> {
        let (cert, _) = self.client.as_ref()?;
        cert_cn(cert)
    }

    /// `<cluster>` from a client CN `<cluster>-client`.
    pub fn cluster_from_client_cn(&self) -> Option<String> {
        self.client_cn()?
            .strip_suffix("-client")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    /// A role's certificate by name (`pd`, `tidb`, `cdc`...).
    pub fn role(&self, name: &str) -> Option<&RoleCert> {
        self.roles.iter().find(|r| r.name == name)
    }
}

/// The CN of the first certificate of a PEM file.
pub fn cert_cn(path: &Path) -> Option<String> {
    let der = load::load_certs(path, CertRole::Leaf).ok()?;
    crate::pki::summarize(der.first()?.as_ref())
        .ok()?
        .common_name
}
