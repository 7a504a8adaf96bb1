//! The TLS Secrets of a TiDB Operator cluster as a pod mounts them: a directory holding one
//! folder per Secret (`<secret-name>/tls.crt`, `tls.key`, `ca.crt`). The operator's names:
//! `<cluster>-<component>-cluster-secret` per component, `<cluster>-cluster-client-secret` for
//! the ctl tools and the operator. Keys are only located here, never read.

use std::path::{Path, PathBuf};

use crate::error::InputError;
use crate::profile::Component;

/// One Secret's certificate and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretIdentity {
    /// The Secret's name.
    pub secret: String,
    /// The component it is for; `None` for the shared client Secret.
    pub component: Option<Component>,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: Option<PathBuf>,
}

/// The Secrets found for a cluster, and the expected ones that are not there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub identities: Vec<SecretIdentity>,
    /// Expected Secrets (by name) with no folder holding `tls.crt` and `tls.key`.
    pub missing: Vec<String>,
}

impl Secrets {
    /// The CA callers trust: the client Secret's `ca.crt`, else the first component's.
    pub fn ca(&self) -> Option<&Path> {
        let client = self.identities.iter().find(|i| i.component.is_none());
        client
            .into_iter()
            .chain(&self.identities)
            .find_map(|i| i.ca.as_deref())
    }
}

/// The name of a component's Secret.
pub fn component_secret(cluster: &str, key: &str) -> String {
    format!("{cluster}-{key}-cluster-secret")
}

/// The name of the shared client Secret.
pub fn client_secret(cluster: &str) -> String {
    format!("{cluster}-cluster-client-secret")
}

/// Read the Secrets of `cluster`'s `components` (spec keys) from `dir`.
pub fn read(
    dir: &Path,
    cluster: &str,
    components: &[(&str, Component)],
) -> Result<Secrets, InputError> {
    if !dir.is_dir() {
        return Err(InputError::usage(
            format!("--k8s-secrets {}: not a directory", dir.display()),
            "give the folder the Secrets are mounted under, one folder per Secret (<secret>/tls.crt, tls.key, ca.crt)",
        ));
    }
    let mut out = Secrets::default();
    let wanted = components
        .iter()
        .map(|(key, c)| (component_secret(cluster, key), Some(*c)))
        .chain([(client_secret(cluster), None)]);
    for (secret, component) in wanted {
        let folder = dir.join(&secret);
        let (cert, key) = (folder.join("tls.crt"), folder.join("tls.key"));
        if cert.is_file() && key.is_file() {
            let ca = Some(folder.join("ca.crt")).filter(|p| p.is_file());
            out.identities.push(SecretIdentity {
                secret,
                component,
                cert,
                key,
                ca,
            });
        } else {
            out.missing.push(secret);
        }
    }
    Ok(out)
}
