//! A TiDB Operator cluster as input: a `TidbCluster` (`kubectl get tc NAME -o yaml`,
//! `pingcap.com/v1alpha1`) and its TLS Secrets mounted the way a pod sees them, turned into an
//! [`Inventory`] (every pod's endpoints by DNS name, the allow-lists of `spec.<component>.config`,
//! one identity per Secret) and the static findings of [`lint`] (the shared Common Name of the
//! operator's documented setup, missing Secrets). See `docs/kubernetes.md`.
//!
//! Files: tc.rs (the `TidbCluster`), ports.rs (the pods' ports and list keys), secrets.rs (the
//! Secrets' folders), build.rs (the inventory), lint.rs (the findings), certificate.rs (the
//! cert-manager `Certificate` manifests and their findings).

use std::path::Path;

use crate::error::InputError;
use crate::finding::Finding;
use crate::inventory::Inventory;

pub mod build;
pub mod certificate;
pub mod lint;
pub mod ports;
pub mod secrets;
pub mod tc;

pub use secrets::Secrets;
pub use tc::TidbCluster;

/// The inventory of a TiDB Operator cluster, with the findings of its lint.
pub fn load(
    tc_path: &Path,
    secrets_dir: Option<&Path>,
    ca: Option<&Path>,
    manifests: &[std::path::PathBuf],
) -> Result<(Inventory, Vec<Finding>), InputError> {
    let tc = TidbCluster::load(tc_path)?;
    let keys: Vec<_> = tc.members.iter().map(|m| (m.key, m.component)).collect();
    let secrets = match secrets_dir {
        Some(dir) => secrets::read(dir, &tc.name, &keys)?,
        None => Secrets::default(),
    };
    let mut findings = lint::lint(&tc, &secrets);
    findings.extend(certificate::lint(&tc, &certificate::load_all(manifests)?));
    let ca = match ca.or_else(|| secrets.ca()) {
        Some(ca) => ca.to_path_buf(),
        None => {
            return Err(InputError::usage(
                format!("{}: no CA: no ca.crt in the cluster's Secrets", tc_path.display()),
                "give --k8s-secrets DIR (the Secrets as a pod mounts them: <secret>/tls.crt, tls.key, ca.crt) or --ca FILE",
            ))
        }
    };
    let inv = Inventory::parse(&build::inventory_text(&tc, &secrets, &ca), tc_path)?;
    Ok((inv, findings))
}
