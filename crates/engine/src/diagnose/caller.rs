//! The callers of a diagnosis, loaded: one identity (a key that does not match its
//! certificate is a finding, not an error) and every identity of an inventory, the chosen one
//! as the caller and the others as variants.

use std::path::Path;

use serde::Serialize;

use crate::audit::{extra_identities, extra_names, AuditIdentity};
use crate::error::InputError;
use crate::inventory::Inventory;
use crate::pki::load::{load_certs, load_key, CertRole};
use crate::pki::{summarize, CertSummary, Identity, IdentityError, Trust};
use crate::probe::Caller;

/// A certificate and key that do not belong together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyMismatch {
    pub identity: String,
    pub cert_file: String,
    pub key_file: String,
    /// The certificate, so the trace can still show it.
    pub certificate: CertSummary,
}

/// Load an identity for a diagnosis: a key that does not match is a finding, not an error.
pub fn load_caller(
    name: &str,
    cert: &Path,
    key: &Path,
    trust: &Trust,
) -> Result<(Caller, Option<KeyMismatch>), InputError> {
    let chain = load_certs(cert, CertRole::Leaf)?;
    let key_der = load_key(key)?;
    let first = chain.first().cloned();
    match Identity::from_der(name, chain, key_der) {
        Ok(mut id) => {
            id.cert_path = Some(cert.to_path_buf());
            Ok((Caller::new(id, trust), None))
        }
        Err(IdentityError::Mismatch) => {
            let certificate = first
                .as_ref()
                .and_then(|c| summarize(c.as_ref()).ok())
                .ok_or_else(|| InputError::file(cert, "holds no certificate", "re-export it"))?;
            let id = Identity {
                name: name.to_string(),
                cert_path: Some(cert.to_path_buf()),
                key: None,
                leaf: None,
                chain: Vec::new(),
            };
            Ok((
                Caller::new(id, trust),
                Some(KeyMismatch {
                    identity: name.to_string(),
                    cert_file: cert.display().to_string(),
                    key_file: key.display().to_string(),
                    certificate,
                }),
            ))
        }
        Err(IdentityError::Key(e)) => Err(InputError::file(
            key,
            format!("unusable private key ({e})"),
            "use an RSA, ECDSA or Ed25519 key in PEM",
        )),
        Err(IdentityError::Cert(e)) => Err(InputError::file(cert, e, "re-export the certificate")),
    }
}

/// The inventory's identities, loaded: the chosen one as the caller, the others as variants.
pub(super) struct LoadedIdentities {
    pub(super) caller: Caller,
    pub(super) key_mismatch: Option<KeyMismatch>,
    pub(super) others: Vec<Caller>,
    pub(super) notes: Vec<String>,
    /// The chosen identity as the audit sees it (kind, component), when it loaded.
    pub(super) audit: Option<AuditIdentity>,
}

/// Load every identity of the inventory, in order. The chosen one must load; another that
/// does not load, or whose key does not match, is skipped with a note.
pub(super) fn load_identities(
    inv: &Inventory,
    chosen: &str,
    trust: &Trust,
) -> Result<LoadedIdentities, InputError> {
    let mut caller = Caller::new(Identity::anonymous(), trust);
    let mut key_mismatch = None;
    let mut others = Vec::new();
    let mut notes = Vec::new();
    let mut audit = None;
    let mut configured = Vec::new();
    for entry in &inv.identities {
        if entry.name == chosen {
            let (c, m) = load_caller(&entry.name, &entry.cert, &entry.key, trust)?;
            if m.is_none() {
                let id = AuditIdentity::configured(entry, c.clone());
                audit = Some(id.clone());
                configured.push(id);
            }
            caller = c;
            key_mismatch = m;
        } else {
            match load_caller(&entry.name, &entry.cert, &entry.key, trust) {
                Ok((c, None)) => {
                    configured.push(AuditIdentity::configured(entry, c.clone()));
                    others.push(c);
                }
                Ok((_, Some(_))) => notes.push(format!(
                    "identity {} skipped as a variant: its key does not match its certificate",
                    entry.name
                )),
                Err(e) => {
                    notes.push(format!("identity {} skipped as a variant: {e}", entry.name));
                }
            }
        }
    }
    if audit.is_none() && extra_names(inv).contains(&chosen) {
        let id = extra_identities(inv, trust, &configured)?
            .into_iter()
            .find(|i| i.name == chosen);
        if let Some(id) = id {
            caller = id.caller.clone();
            audit = Some(id);
        }
    }
    Ok(LoadedIdentities {
        caller,
        key_mismatch,
        others,
        notes,
        audit,
    })
}
