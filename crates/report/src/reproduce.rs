//! Each cell's one-line command that re-runs it: `tlsaudit probe ADDRESS --ca CA --cert CERT
//! --key KEY ...` with the endpoint's server name, protocol and path, as the audit dialed it
//! ([`Report::set_reproduce`]). A configured identity names its certificate and key files (the
//! paths, never the key); the anonymous caller sends none; an identity minted at run time
//! (foreign, unlisted, per component) has no files to name, so its cells have no command.

use tlsaudit_engine::audit::{IdentityKind, Plan};
use tlsaudit_engine::inventory::Endpoint;
use tlsaudit_engine::probe::Protocol;
use tlsaudit_engine::tiup::shell_quote;

use crate::model::Report;

impl Report {
    /// Set every cell's `reproduce` from the plan the report was built from (cells are
    /// identity-major over the plan's identities and endpoints, as [`Report::build`] makes them).
    pub fn set_reproduce(&mut self, plan: &Plan) {
        let n = plan.inventory.endpoints.len();
        for (i, id) in plan.identities.iter().enumerate() {
            let caller = caller(plan, id.kind, &id.name);
            for (e, ep) in plan.inventory.endpoints.iter().enumerate() {
                if let Some(cell) = self.cells.get_mut(i * n + e) {
                    cell.reproduce = caller.as_ref().map(|c| command(plan, ep, c));
                }
            }
        }
    }
}

/// How an identity is re-run.
enum Caller {
    /// No certificate.
    Anonymous,
    /// The inventory's certificate and key files (paths).
    Files(String, String),
}

/// How an identity is re-run: with no certificate (anonymous), or the inventory's files (a
/// configured one); `None` when there are no files to name (minted at run time).
fn caller(plan: &Plan, kind: IdentityKind, name: &str) -> Option<Caller> {
    match kind {
        IdentityKind::Anonymous => Some(Caller::Anonymous),
        IdentityKind::Configured => plan
            .inventory
            .identities
            .iter()
            .find(|e| e.name == name)
            .map(|e| Caller::Files(e.cert.display().to_string(), e.key.display().to_string())),
        _ => None,
    }
}

/// `tlsaudit probe` of one cell, shell-quoted.
fn command(plan: &Plan, ep: &Endpoint, caller: &Caller) -> String {
    let ca = plan
        .trust
        .path
        .as_ref()
        .unwrap_or(&plan.inventory.ca)
        .display()
        .to_string();
    let mut words = vec![
        "tlsaudit".to_string(),
        "probe".to_string(),
        shell_quote(&ep.address),
        "--ca".to_string(),
        shell_quote(&ca),
    ];
    if let Caller::Files(cert, key) = caller {
        words.extend(["--cert".to_string(), shell_quote(cert)]);
        words.extend(["--key".to_string(), shell_quote(key)]);
    }
    if let Some(sn) = &ep.server_name {
        words.extend(["--server-name".to_string(), shell_quote(sn)]);
    }
    if ep.protocol != Protocol::Tls {
        words.extend(["--protocol".to_string(), ep.protocol.as_str().to_string()]);
    }
    if let Some(path) = &ep.path {
        words.extend(["--path".to_string(), shell_quote(path)]);
    }
    words.join(" ")
}
