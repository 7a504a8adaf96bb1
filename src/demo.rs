//! `tlsaudit demo`: the embedded lab with planted faults, and the inventory that describes it.
//!
//! Planted faults (each shows exactly where planted):
//! - `tikv-3`: the inventory says `cert-allowed-cn = [tidb, pd, tikv, tiflash]`, but the running
//!   server enforces no list (a config edited and never applied): `open` for callers not listed.
//! - `tikv-2`: its list lacks `tidb`, which needs TiKV: `blocked` for tidb.
//! - `tidb-2-status`: serves an expired certificate: `untrusted`.
//! - `tikv-3-status`: speaks plaintext HTTP: `unencrypted`, and partial TLS.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use tlsaudit_lab::{EndpointSpec, Lab, LabError, LabSpec, ServerCertKind};

/// Allow-lists the inventory states differently from what the lab server enforces.
fn declared_overrides() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([("tikv-3", vec!["tidb", "pd", "tikv", "tiflash"])])
}

/// The demo cluster.
pub fn spec() -> LabSpec {
    let pd_list = ["pd", "tidb", "tikv", "tiflash", "demo-client"];
    let kv_list = ["tidb", "pd", "tikv", "tiflash"];
    LabSpec::new("demo")
        .with(EndpointSpec::pd("pd-1", &pd_list))
        .with(EndpointSpec::pd("pd-2", &pd_list))
        .with(EndpointSpec::tikv_grpc("tikv-1", &kv_list))
        .with(EndpointSpec::tikv_grpc(
            "tikv-2",
            &["pd", "tikv", "tiflash"],
        ))
        .with(EndpointSpec::tikv_grpc("tikv-3", &[]))
        .with(EndpointSpec::tikv_status(
            "tikv-1-status",
            &["tidb", "pd", "tikv", "demo-client"],
        ))
        .with(EndpointSpec::tikv_status(
            "tikv-2-status",
            &["tidb", "pd", "tikv", "demo-client"],
        ))
        .with(
            EndpointSpec::plaintext_http("tikv-3-status")
                .with_component("tikv")
                .with_role("status"),
        )
        .with(EndpointSpec::tidb_status(
            "tidb-1-status",
            &["tidb", "demo-client"],
        ))
        .with(
            EndpointSpec::tidb_status("tidb-2-status", &["tidb", "demo-client"])
                .with_server_cert(ServerCertKind::Expired),
        )
        .with(EndpointSpec::tiflash_grpc(
            "tiflash-1",
            &["tidb", "tikv", "tiflash"],
        ))
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The inventory (`tlsaudit.toml` text) describing a running lab, as an operator would write it.
pub fn inventory_toml(lab: &Lab) -> String {
    let overrides = declared_overrides();
    let pki = lab.pki();
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# tlsaudit inventory for the embedded lab cluster {:?}",
        lab.cluster()
    );
    let _ = writeln!(t, "[cluster]\nname = {}", toml_str(lab.cluster()));
    let _ = writeln!(t, "ca = {}", toml_str(&pki.ca_cert.display().to_string()));
    let _ = writeln!(
        t,
        "ca_key = {}\n",
        toml_str(&pki.ca_key.display().to_string())
    );
    for name in ["tidb", "tikv", "pd", "tiflash", "client"] {
        if let Some(f) = pki.identities.get(name) {
            let _ = writeln!(t, "[identities.{name}]");
            let _ = writeln!(t, "cert = {}", toml_str(&f.cert.display().to_string()));
            let _ = writeln!(t, "key = {}\n", toml_str(&f.key.display().to_string()));
        }
    }
    for ep in lab.endpoints() {
        let (component, role) = match ep.component.as_str() {
            "generic" => ("generic", "tls"),
            c => (c, ep.role.as_str()),
        };
        let _ = writeln!(t, "[[endpoints]]");
        let _ = writeln!(t, "name = {}", toml_str(&ep.name));
        let _ = writeln!(t, "component = {}", toml_str(component));
        let _ = writeln!(t, "role = {}", toml_str(role));
        let _ = writeln!(t, "address = {}", toml_str(&ep.addr.to_string()));
        let list: Vec<String> = match overrides.get(ep.name.as_str()) {
            Some(l) => l.iter().map(std::string::ToString::to_string).collect(),
            None => ep.allowed_cn.clone(),
        };
        if !list.is_empty() {
            let items: Vec<String> = list.iter().map(|s| toml_str(s)).collect();
            let _ = writeln!(t, "allowed_cn = [{}]", items.join(", "));
        }
        let _ = writeln!(t);
    }
    t
}

/// Start the demo lab and write its inventory into the lab's folder.
pub async fn start() -> Result<(Lab, PathBuf), LabError> {
    start_spec(spec()).await
}

/// Start any lab spec and write its inventory next to its PKI.
pub async fn start_spec(spec: LabSpec) -> Result<(Lab, PathBuf), LabError> {
    let lab = Lab::start(spec).await?;
    let path = lab.dir().join("tlsaudit.toml");
    std::fs::write(&path, inventory_toml(&lab)).map_err(|e| LabError::Io {
        context: format!("writing {}", path.display()),
        source: e,
    })?;
    Ok((lab, path))
}
