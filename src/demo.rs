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

use tlsaudit_lab::{Behavior, EndpointSpec, Lab, LabError, LabSpec, ServerCertKind};

/// Allow-lists the inventory states differently from what the lab server enforces: tikv-3's
/// `tikv.toml` declares the list, but the running server does not enforce it (both its ports).
fn declared_overrides() -> BTreeMap<&'static str, Vec<&'static str>> {
    let kv = vec!["tidb", "pd", "tikv", "tiflash"];
    BTreeMap::from([("tikv-3", kv.clone()), ("tikv-3-status", kv)])
}

/// The version every demo endpoint declares (the rules that depend on it are then known).
pub const VERSION: &str = "v8.5.0";

/// The demo cluster, shaped like a TiUP deployment: one `cert-allowed-cn` per TiKV instance for
/// both its ports (one `tikv.toml` key), PD's client and peer ports (one `pd.toml` list), and
/// TiFlash's gRPC, metrics (`tiflash.toml`) and proxy ports (`tiflash-learner.toml`).
pub fn spec() -> LabSpec {
    let pd_list = ["pd", "tidb", "tikv", "tiflash", "demo-client"];
    let kv_list = ["tidb", "pd", "tikv", "tiflash"];
    // Planted: tikv-2's list lacks tidb, which needs TiKV.
    let kv2_list = ["pd", "tikv", "tiflash"];
    // TiDB Dashboard, inside PD, calls TiFlash and TiDB's status port with PD's certificate.
    let flash_list = ["tidb", "pd", "tikv", "tiflash"];
    let tidb_list = ["tidb", "pd", "demo-client"];
    let mut spec = LabSpec::new("demo");
    for pd in ["pd-1", "pd-2"] {
        spec = spec
            .with(EndpointSpec::pd(pd, &pd_list))
            .with(EndpointSpec::pd(format!("{pd}-peer"), &pd_list).with_role("peer"));
    }
    spec.with(EndpointSpec::tikv_grpc("tikv-1", &kv_list))
        .with(EndpointSpec::tikv_grpc("tikv-2", &kv2_list))
        // Planted: tikv-3 enforces no list (the inventory declares one).
        .with(EndpointSpec::tikv_grpc("tikv-3", &[]))
        .with(EndpointSpec::tikv_status("tikv-1-status", &kv_list))
        .with(EndpointSpec::tikv_status("tikv-2-status", &kv2_list))
        // Planted: a plaintext status port.
        .with(
            EndpointSpec::plaintext_http("tikv-3-status")
                .with_component("tikv")
                .with_role("status"),
        )
        .with(EndpointSpec::tidb_status("tidb-1-status", &tidb_list))
        // Planted: an expired server certificate.
        .with(
            EndpointSpec::tidb_status("tidb-2-status", &tidb_list)
                .with_server_cert(ServerCertKind::Expired),
        )
        .with(EndpointSpec::tiflash_grpc("tiflash-1", &flash_list))
        .with(
            EndpointSpec::pd("tiflash-1-metrics", &flash_list)
                .with_component("tiflash")
                .with_role("metrics"),
        )
        .with(
            EndpointSpec::tikv_grpc("tiflash-1-proxy", &kv_list)
                .with_component("tiflash")
                .with_role("proxy"),
        )
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
        if component != "generic" {
            let _ = writeln!(t, "version = {}", toml_str(VERSION));
        }
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
    tlsaudit_engine::fsutil::write_atomic(&path, inventory_toml(&lab).as_bytes()).map_err(|e| {
        LabError::Io {
            context: format!("writing {}", path.display()),
            source: std::io::Error::other(e),
        }
    })?;
    Ok((lab, path))
}

// ---- The lab's own config: change a running server as `edit-config` + `reload` would ----

/// The server certificate kinds, as `lab.toml` names them.
const CERT_KINDS: [(&str, ServerCertKind); 8] = [
    ("good", ServerCertKind::Good),
    ("reissued", ServerCertKind::Reissued),
    ("expired", ServerCertKind::Expired),
    ("wrong_san", ServerCertKind::WrongSan),
    ("unknown_ca", ServerCertKind::UnknownCa),
    ("missing_intermediate", ServerCertKind::MissingIntermediate),
    ("cn_only", ServerCertKind::CnOnly),
    ("no_server_eku", ServerCertKind::NoServerEku),
];

fn cert_name(kind: ServerCertKind) -> &'static str {
    CERT_KINDS
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("good", |(n, _)| n)
}

/// The allow-list a lab endpoint enforces, if its behaviour has one.
fn list_of(b: &Behavior) -> Option<&Vec<String>> {
    match b {
        Behavior::Pd { allowed_cn }
        | Behavior::TikvGrpc { allowed_cn }
        | Behavior::TiflashGrpc { allowed_cn }
        | Behavior::TikvStatus { allowed_cn } => Some(allowed_cn),
        Behavior::TidbStatus { verify_cn } => Some(verify_cn),
        _ => None,
    }
}

fn with_list(b: &Behavior, list: Vec<String>) -> Behavior {
    match b {
        Behavior::Pd { .. } => Behavior::Pd { allowed_cn: list },
        Behavior::TikvGrpc { .. } => Behavior::TikvGrpc { allowed_cn: list },
        Behavior::TiflashGrpc { .. } => Behavior::TiflashGrpc { allowed_cn: list },
        Behavior::TikvStatus { .. } => Behavior::TikvStatus { allowed_cn: list },
        Behavior::TidbStatus { .. } => Behavior::TidbStatus { verify_cn: list },
        other => other.clone(),
    }
}

/// `lab.toml`: what each running lab server enforces (its own config, unlike the inventory,
/// which states what the operator believes).
pub fn lab_config_toml(lab: &Lab) -> String {
    let mut t = String::from(
        "# The embedded lab's servers, as their own configs say. Edit and save while\n\
         # `tlsaudit demo --keep-running` runs: changes apply within a second, like\n\
         # `tiup cluster edit-config` + `reload`. server_cert: good, reissued (a rotation),\n\
         # expired, wrong_san, unknown_ca, missing_intermediate, cn_only, no_server_eku.\n",
    );
    for ep in lab.endpoints() {
        let Some(spec) = lab.spec(&ep.name) else {
            continue;
        };
        let Some(list) = list_of(&spec.behavior) else {
            continue;
        };
        let items: Vec<String> = list.iter().map(|s| toml_str(s)).collect();
        let _ = writeln!(t, "\n[{}]", toml_str(&ep.name));
        let _ = writeln!(t, "allowed_cn = [{}]", items.join(", "));
        let _ = writeln!(t, "server_cert = {}", toml_str(cert_name(spec.server_cert)));
    }
    t
}

/// Apply `lab.toml` text to the running lab: every endpoint whose list or certificate differs
/// is reconfigured. Returns the names changed; errors name the endpoint or the TOML problem.
pub fn apply_lab_config(lab: &mut Lab, text: &str) -> Result<Vec<String>, String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut changed = Vec::new();
    for (name, v) in &doc {
        let spec = lab
            .spec(name)
            .ok_or_else(|| format!("[{name}]: the lab has no endpoint {name}"))?;
        let mut next = spec.clone();
        if let Some(list) = v.get("allowed_cn") {
            let list: Vec<String> = list
                .as_array()
                .ok_or_else(|| format!("[{name}] allowed_cn: expected a list of strings"))?
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| format!("[{name}] allowed_cn: expected a list of strings"))?;
            next.behavior = with_list(&next.behavior, list);
        }
        if let Some(c) = v.get("server_cert") {
            let c = c.as_str().unwrap_or_default();
            next.server_cert = CERT_KINDS
                .iter()
                .find(|(n, _)| *n == c)
                .map(|(_, k)| *k)
                .ok_or_else(|| format!("[{name}] server_cert: unknown kind {c:?}"))?;
        }
        if &next != spec {
            lab.reconfigure(next)
                .map_err(|e| format!("[{name}]: {e}"))?;
            changed.push(name.clone());
        }
    }
    Ok(changed)
}

/// Write `lab.toml` into the lab's folder and return its path.
pub fn write_lab_config(lab: &Lab) -> std::io::Result<PathBuf> {
    let path = lab.dir().join("lab.toml");
    tlsaudit_engine::fsutil::write_atomic(&path, lab_config_toml(lab).as_bytes())
        .map_err(std::io::Error::other)?;
    Ok(path)
}

/// Until Ctrl-C: apply `lab.toml` whenever it is saved (checked twice a second).
pub async fn watch_lab_config(lab: &mut Lab) {
    let path = lab.dir().join("lab.toml");
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut seen = modified(&path);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
        let now = modified(&path);
        if now == seen {
            continue;
        }
        seen = now;
        match tlsaudit_engine::fsutil::read_text_capped(&path, tlsaudit_engine::fsutil::MAX_CONFIG)
            .map_err(|e| e.to_string())
            .and_then(|t| apply_lab_config(lab, &t))
        {
            Ok(names) if names.is_empty() => {}
            Ok(names) => eprintln!("lab: reloaded {}", names.join(", ")),
            Err(e) => eprintln!(
                "lab: {}: {e} (the servers keep their settings)",
                path.display()
            ),
        }
    }
}
