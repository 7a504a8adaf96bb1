//! The rotation manifest: what `tlsaudit rotate` issued, per instance (serial, SHA-256,
//! notAfter, the addresses the instance serves, the CA), written next to the new certificates as
//! `rotation.json`. Given back to an audit (`--expect-rotation`), it tells each endpoint the leaf
//! it should serve once the rotation is rolled out: from the control machine, where TiUP keeps
//! no per-instance certificate, "what rotate issued against what is served" is the comparison
//! that shows a missed reload.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Inventory;
use crate::error::InputError;

/// The manifest's schema name (a breaking change gets a new version).
pub const SCHEMA: &str = "tlsaudit.rotation/v1";

/// The file `rotate` writes into its output folder.
pub const FILE_NAME: &str = "rotation.json";

/// What a rotation issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub cluster: String,
    /// When it was issued (RFC 3339).
    pub issued_at: String,
    /// SHA-256 of the CA certificate that signed every leaf.
    pub ca_sha256: String,
    pub instances: Vec<IssuedInstance>,
}

/// One instance's new certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedInstance {
    /// TiUP's instance name (`tikv-10.0.1.21-20160`).
    pub instance: String,
    /// TiUP's node ID (`10.0.1.21:20160`), for `tiup cluster reload -N`.
    pub node: String,
    pub host: String,
    /// Every address the instance serves TLS on (its main and status ports...).
    pub addresses: Vec<String>,
    /// Where the new certificate was written (on the machine that ran `rotate`).
    pub cert: PathBuf,
    /// Where it goes on the instance's host, when the topology says (`<deploy_dir>/tls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_dir: Option<String>,
    #[serde(flatten)]
    pub leaf: IssuedLeaf,
}

/// The identity of an issued leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedLeaf {
    pub serial: String,
    pub sha256: String,
    pub not_after: String,
}

/// What an endpoint is expected to serve after a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub leaf: IssuedLeaf,
    /// The manifest it comes from, for the findings to name.
    pub manifest: PathBuf,
    pub instance: String,
    pub node: String,
    pub cert: PathBuf,
    pub remote_dir: Option<String>,
}

impl Manifest {
    /// Read a manifest: a clear error naming the file when it is not one.
    pub fn load(path: &Path) -> Result<Manifest, InputError> {
        let text = crate::fsutil::read_text_capped(path, crate::fsutil::MAX_CONFIG)?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| InputError::Config {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            problem: format!("not a rotation manifest: {e}"),
            fix: format!("give the {FILE_NAME} that `tlsaudit rotate` wrote into its --out folder"),
        })?;
        if m.schema != SCHEMA {
            return Err(InputError::usage(
                format!(
                    "{}: schema {:?}, expected {SCHEMA:?}",
                    path.display(),
                    m.schema
                ),
                "give a manifest written by this version of `tlsaudit rotate`",
            ));
        }
        Ok(m)
    }

    /// Tell each endpoint of `inv` that an instance of the manifest serves (by address) what it
    /// should serve. Returns, in words, what the manifest names that the inventory does not
    /// (for "not checked").
    pub fn apply(&self, inv: &mut Inventory, path: &Path) -> Vec<String> {
        let mut unmatched = Vec::new();
        for inst in &self.instances {
            let mut found = false;
            for ep in inv
                .endpoints
                .iter_mut()
                .filter(|e| inst.addresses.contains(&e.address))
            {
                found = true;
                ep.rotation = Some(Expected {
                    leaf: inst.leaf.clone(),
                    manifest: path.to_path_buf(),
                    instance: inst.instance.clone(),
                    node: inst.node.clone(),
                    cert: inst.cert.clone(),
                    remote_dir: inst.remote_dir.clone(),
                });
            }
            if !found {
                unmatched.push(inst.instance.clone());
            }
        }
        let mut notes = Vec::new();
        if !unmatched.is_empty() {
            notes.push(format!(
                "the rotation in {} issued certificates for {}, which no audited endpoint serves: not compared",
                path.display(),
                unmatched.join(", ")
            ));
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            schema: SCHEMA.into(),
            cluster: "prod".into(),
            issued_at: "2026-12-07T00:00:00Z".into(),
            ca_sha256: "ca".into(),
            instances: vec![IssuedInstance {
                instance: "tikv-127.0.0.1-20160".into(),
                node: "127.0.0.1:20160".into(),
                host: "127.0.0.1".into(),
                addresses: vec!["127.0.0.1:20160".into(), "127.0.0.1:20180".into()],
                cert: "out/tikv.crt".into(),
                remote_dir: None,
                leaf: IssuedLeaf {
                    serial: "01".into(),
                    sha256: "ab".into(),
                    not_after: "2028-12-07T00:00:00Z".into(),
                },
            }],
        }
    }

    #[test]
    fn reads_back_what_it_writes_and_refuses_other_files_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, serde_json::to_string_pretty(&manifest()).unwrap()).unwrap();
        assert_eq!(Manifest::load(&path).unwrap(), manifest());
        std::fs::write(&path, "{\"schema\": 3}").unwrap();
        let e = Manifest::load(&path).unwrap_err().to_string();
        assert!(
            e.contains(FILE_NAME) && e.contains("rotation manifest"),
            "{e}"
        );
    }

    #[test]
    fn an_instance_no_endpoint_serves_is_named_as_not_compared() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "").unwrap();
        let text = "[cluster]\nname = \"t\"\nca = \"ca.crt\"\n[[endpoints]]\nname = \"kv\"\ncomponent = \"tikv\"\naddress = \"127.0.0.1:20180\"\n";
        let mut inv = Inventory::parse(text, &dir.path().join("t.toml")).unwrap();
        let notes = manifest().apply(&mut inv, Path::new("r.json"));
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(
            inv.endpoints[0].rotation.as_ref().unwrap().leaf.serial,
            "01"
        );
        let mut other = manifest();
        other.instances[0].addresses = vec!["10.0.0.1:1".into()];
        let notes = other.apply(&mut inv, Path::new("r.json"));
        assert!(notes[0].contains("tikv-127.0.0.1-20160"), "{notes:?}");
    }
}
