//! `tlsaudit init` end to end: a topology of the embedded lab, `init` from the lab's CA, the lab
//! reconfigured with init's certificates and allow-lists, then `report` and `lint` on it; and
//! the certificates of a new CA read back with openssl.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use tlsaudit_lab::{Behavior, EndpointSpec, Lab, LabSpec, SqlConfig};
use tlsaudit_testkit::{cli, require_tool};

/// The lab endpoints: (lab name, spec). PD's peer port and TiFlash's four ports are stood in
/// for by the lab behaviour of the same kind.
fn lab_spec() -> LabSpec {
    let sql = SqlConfig {
        tls: true,
        client_ca: false,
        require_secure_transport: true,
        account: None,
    };
    LabSpec::new("prod")
        .with(EndpointSpec::pd("pd-client", &[]))
        .with(EndpointSpec::pd("pd-peer", &[]).with_role("peer"))
        .with(EndpointSpec::tikv_grpc("tikv", &[]))
        .with(EndpointSpec::tikv_status("tikv-status", &[]))
        .with(EndpointSpec::tidb_status("tidb-status", &[]))
        .with(EndpointSpec::tidb_sql("tidb-sql", sql))
        .with(EndpointSpec::tiflash_grpc("tiflash", &[]))
        .with(
            EndpointSpec::tikv_grpc("tiflash-proxy", &[])
                .with_component("tiflash")
                .with_role("proxy"),
        )
        .with(
            EndpointSpec::tikv_status("tiflash-proxy-status", &[])
                .with_component("tiflash")
                .with_role("proxy-status"),
        )
        .with(
            EndpointSpec::pd("tiflash-metrics", &[])
                .with_component("tiflash")
                .with_role("metrics"),
        )
}

/// A TiUP topology of the lab (one instance per component), its instance names, and for each
/// lab endpoint the instance and the config file that configures it.
pub struct Topo {
    pub path: PathBuf,
    pub text: String,
    /// (lab endpoint, instance name, config file name)
    pub map: Vec<(&'static str, String, &'static str)>,
}

pub fn lab_topology(lab: &Lab, dir: &Path, extra: &str) -> Topo {
    let port = |n: &str| lab.endpoint(n).unwrap().addr.port();
    let text = format!(
        "global:\n  user: tidb\n  enable_tls: true\n{extra}\
         pd_servers:\n  - host: 127.0.0.1\n    client_port: {}\n    peer_port: {}\n\
         tikv_servers:\n  - host: 127.0.0.1\n    port: {}\n    status_port: {}\n\
         tidb_servers:\n  - host: 127.0.0.1\n    port: {}\n    status_port: {}\n\
         tiflash_servers:\n  - host: 127.0.0.1\n    flash_service_port: {}\n    flash_proxy_port: {}\n    flash_proxy_status_port: {}\n    metrics_port: {}\n",
        port("pd-client"),
        port("pd-peer"),
        port("tikv"),
        port("tikv-status"),
        port("tidb-sql"),
        port("tidb-status"),
        port("tiflash"),
        port("tiflash-proxy"),
        port("tiflash-proxy-status"),
        port("tiflash-metrics"),
    );
    let path = dir.join("prod.yaml");
    std::fs::write(&path, &text).unwrap();
    let pd = format!("pd-127.0.0.1-{}", port("pd-client"));
    let kv = format!("tikv-127.0.0.1-{}", port("tikv"));
    let db = format!("tidb-127.0.0.1-{}", port("tidb-sql"));
    let tf = "tiflash-127.0.0.1-9000".to_string();
    let map = vec![
        ("pd-client", pd.clone(), "pd.toml"),
        ("pd-peer", pd, "pd.toml"),
        ("tikv", kv.clone(), "tikv.toml"),
        ("tikv-status", kv, "tikv.toml"),
        ("tidb-status", db.clone(), "tidb.toml"),
        ("tidb-sql", db, "tidb.toml"),
        ("tiflash", tf.clone(), "tiflash.toml"),
        ("tiflash-metrics", tf.clone(), "tiflash.toml"),
        ("tiflash-proxy", tf.clone(), "tiflash-learner.toml"),
        ("tiflash-proxy-status", tf, "tiflash-learner.toml"),
    ];
    Topo { path, text, map }
}

/// The `[security]` of a config file written by init: (certificate, key, allow-list).
pub fn security_of(file: &Path) -> (PathBuf, PathBuf, Option<Vec<String>>) {
    let doc: toml::Table = toml::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let sec = doc["security"].as_table().unwrap();
    let get = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| sec.get(*k).and_then(|v| v.as_str()))
            .map(PathBuf::from)
            .unwrap()
    };
    let cert = get(&["cert-path", "cert_path", "cluster-ssl-cert"]);
    let key = get(&["key-path", "key_path", "cluster-ssl-key"]);
    let list = ["cert-allowed-cn", "cert_allowed_cn", "cluster-verify-cn"]
        .iter()
        .find_map(|k| sec.get(*k))
        .map(|v| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        });
    (cert, key, list)
}

pub fn with_list(b: &Behavior, list: Vec<String>) -> Behavior {
    match b {
        Behavior::Pd { .. } => Behavior::Pd { allowed_cn: list },
        Behavior::TikvGrpc { .. } => Behavior::TikvGrpc { allowed_cn: list },
        Behavior::TiflashGrpc { .. } => Behavior::TiflashGrpc { allowed_cn: list },
        Behavior::TikvStatus { .. } => Behavior::TikvStatus { allowed_cn: list },
        Behavior::TidbStatus { .. } => Behavior::TidbStatus { verify_cn: list },
        other => other.clone(),
    }
}

/// Configure every lab endpoint as init's files for its instance say: the certificate and key
/// it serves, and its allow-list.
pub fn apply_init(lab: &mut Lab, out: &Path, topo: &Topo) {
    for (name, instance, file) in &topo.map {
        let (cert, key, list) = security_of(&out.join(instance).join(file));
        let mut spec = lab.spec(name).unwrap().clone().with_server_files(cert, key);
        if let Some(list) = list {
            spec.behavior = with_list(&spec.behavior, list);
        }
        lab.reconfigure(spec).unwrap();
    }
}

/// TiUP's TLS folder for the audit: init's `tls/` plus one certificate of each component
/// copied from its instance (as an operator copies them from the servers).
pub fn audit_tls_dir(out: &Path, topo: &Topo, dir: &Path) -> PathBuf {
    let tls = dir.join("audit-tls");
    std::fs::create_dir_all(&tls).unwrap();
    for f in ["ca.crt", "ca.pem", "client.crt", "client.pem"] {
        if out.join("tls").join(f).is_file() {
            std::fs::copy(out.join("tls").join(f), tls.join(f)).unwrap();
        }
    }
    for (_, instance, _) in &topo.map {
        for entry in std::fs::read_dir(out.join(instance).join("tls")).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            if name != "ca.crt" && !tls.join(&name).exists() {
                std::fs::copy(&p, tls.join(&name)).unwrap();
            }
        }
    }
    tls
}

async fn run(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&a)
    })
    .await
    .unwrap()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_round_trip_through_the_lab() {
    let mut lab = Lab::start(lab_spec()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let topo = lab_topology(&lab, dir.path(), "");
    let out = dir.path().join("out");
    let pki = lab.pki().clone();
    let (code, stdout, stderr) = run(vec![
        "init".into(),
        "--topology".into(),
        s(&topo.path),
        "--out".into(),
        s(&out),
        "--ca-cert".into(),
        s(&pki.ca_cert),
        "--ca-key".into(),
        s(&pki.ca_key),
    ])
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout
            .contains("tikv.toml [security] cert-allowed-cn = [tikv, tidb, tiflash, prod-client]"),
        "{stdout}"
    );
    // A reused CA: its key is not copied.
    assert!(!out.join("tls/ca.pem").exists());

    apply_init(&mut lab, &out, &topo);
    // The topology with init's server_configs fragment merged (it has none of its own).
    let fragment = std::fs::read_to_string(out.join("tiup-server-configs.yaml")).unwrap();
    let full = dir.path().join("prod-tls.yaml");
    std::fs::write(&full, format!("{}{fragment}", topo.text)).unwrap();
    let tls = audit_tls_dir(&out, &topo, dir.path());

    let (code, stdout, stderr) = run(vec![
        "lint".into(),
        "--topology".into(),
        s(&full),
        "--tls-dir".into(),
        s(&tls),
        "--fail-on".into(),
        "info".into(),
    ])
    .await;
    assert_eq!(code, 0, "lint of init's output: {stdout}{stderr}");

    let (code, stdout, stderr) = run(vec![
        "report".into(),
        "--topology".into(),
        s(&full),
        "--tls-dir".into(),
        s(&tls),
        "--format".into(),
        "json".into(),
        "--fail-on".into(),
        "info".into(),
    ])
    .await;
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_default();
    assert_eq!(v["findings"], serde_json::json!([]), "{stderr}");
    assert_eq!(code, 0, "{stderr}");
    check_cells(&v);
    lab.stop().await;
}

/// Every cell of an endpoint with a list: `secure` when the caller's CN is listed (every needed
/// caller is), `enforced` otherwise; the SQL port (no CN list) takes every TLS caller.
fn check_cells(v: &serde_json::Value) {
    let eps = v["endpoints"].as_array().unwrap();
    let ids = v["identities"].as_array().unwrap();
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), eps.len() * ids.len());
    assert_eq!(eps.len(), 10);
    let mut needed = 0;
    for (n, c) in cells.iter().enumerate() {
        let (id, ep) = (&ids[n / eps.len()], &eps[n % eps.len()]);
        let listed = ep["allowed_cn"]
            .as_array()
            .unwrap()
            .iter()
            .any(|cn| id["kind"] == "configured" && *cn == id["cn"]);
        let verdict = c["verdict"].as_str().unwrap();
        let what = format!("{} -> {}: {verdict}", id["name"], ep["name"]);
        if c["expected"]["needed"] == true {
            needed += 1;
            assert!(listed, "{what}");
        }
        if ep["role"] == "sql" {
            assert_eq!(verdict, "secure", "{what}");
        } else if listed {
            assert_eq!(verdict, "secure", "{what}");
        } else {
            assert_eq!(verdict, "enforced", "{what}");
        }
    }
    assert!(needed >= 10, "{needed} needed links");
}
