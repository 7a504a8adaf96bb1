//! `tlsaudit init` end to end: a topology of the embedded lab, `init` from the lab's CA, the lab
//! reconfigured with init's certificates and allow-lists, then `report` and `lint` on it; and
//! the certificates of a new CA read back with openssl.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use std::process::Command;
use tlsaudit_lab::{Behavior, EndpointSpec, Lab, LabSpec, SqlConfig};
use tlsaudit_testkit::{cli, require_tool};

/// The lab endpoints: (lab name, spec). PD's peer port and TiFlash's four ports are stood in
/// for by the lab behaviour of the same kind.
pub fn lab_spec() -> LabSpec {
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

/// The audit's copies of the servers' certificates follow a rotation: the TLS folder's
/// `<role>.crt` is what the servers are taken to be configured with (rotation drift).
fn refresh_audit_tls_dir(rotated: &Path, topo: &Topo, tls: &Path) {
    for (_, instance, _) in &topo.map {
        for entry in std::fs::read_dir(rotated.join(instance).join("tls")).unwrap() {
            let p = entry.unwrap().path();
            if p.file_name().is_some_and(|n| n != "ca.crt") {
                std::fs::copy(&p, tls.join(p.file_name().unwrap())).unwrap();
            }
        }
    }
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
        stdout.contains(
            "tikv.toml [security] cert-allowed-cn = [pd, tikv, tidb, tiflash, prod-client]"
        ),
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
        if ep["role"] == "sql" || listed {
            assert_eq!(verdict, "secure", "{what}");
        } else {
            assert_eq!(verdict, "enforced", "{what}");
        }
    }
    assert!(needed >= 10, "{needed} needed links");
}

fn openssl(bin: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(bin).args(args).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn new_ca_certificates_pass_openssl_and_are_what_tiup_would_issue() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("prod.yaml");
    std::fs::write(
        &topo,
        "global:\n  user: tidb\npd_servers:\n  - host: 10.0.1.11\n    client_port: 12379\ntikv_servers:\n  - host: tikv-1.example\ntidb_servers:\n  - host: 10.0.1.21\ncdc_servers:\n  - host: 10.0.1.51\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let args = [
        "init",
        "--topology",
        &s(&topo),
        "--out",
        &s(&out),
        "--new-ca",
    ];
    let (code, stdout, stderr) = cli(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("PRIVATE KEY") && !stderr.contains("PRIVATE KEY"));
    // Never overwrites without --force: one line, exit 2.
    let (code, _, err) = cli(&args);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("out: is not empty") && err.contains("--force"),
        "{err}"
    );
    let before = std::fs::read(out.join("tls/ca.crt")).unwrap();
    let (code, _, err) = cli(&[&args[..], &["--force"]].concat());
    assert_eq!(code, 0, "{err}");
    assert_ne!(before, std::fs::read(out.join("tls/ca.crt")).unwrap());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in [
            "tls/ca.pem",
            "tls/client.pem",
            "pd-10.0.1.11-12379/tls/pd.pem",
            "cdc-10.0.1.51-8300/tls/cdc.pem",
        ] {
            let mode = std::fs::metadata(out.join(key))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
    }

    let Some(bin) = require_tool("openssl") else {
        return;
    };
    check_with_openssl(&bin, &out);
}

/// Every instance certificate and the client certificate, read back by openssl.
fn check_with_openssl(bin: &Path, out: &Path) {
    let bin = bin.to_path_buf();
    let ca = s(&out.join("tls/ca.crt"));
    let cases = [
        (
            "pd-10.0.1.11-12379/tls/pd.crt",
            "pd",
            "IP Address:10.0.1.11",
        ),
        (
            "tikv-tikv-1.example-20160/tls/tikv.crt",
            "tikv",
            "DNS:tikv-1.example",
        ),
        (
            "tidb-10.0.1.21-4000/tls/tidb.crt",
            "tidb",
            "IP Address:10.0.1.21",
        ),
        (
            "cdc-10.0.1.51-8300/tls/cdc.crt",
            "cdc",
            "IP Address:10.0.1.51",
        ),
    ];
    for (file, cn, san) in cases {
        check_leaf(&bin, &ca, &out.join(file), cn, san);
    }
    let client = s(&out.join("tls/client.crt"));
    let (ok, text) = openssl(
        &bin,
        &["verify", "-CAfile", &ca, "-purpose", "sslclient", &client],
    );
    assert!(ok, "{text}");
    let (_, text) = openssl(
        &bin,
        &[
            "x509",
            "-in",
            &client,
            "-noout",
            "-subject",
            "-ext",
            "subjectAltName",
        ],
    );
    assert!(text.contains("subject=CN = prod-client"), "{text}");
    assert!(
        !text.contains("DNS:"),
        "TiUP's client certificate has no SANs: {text}"
    );
    // The key matches the certificate.
    let (_, a) = openssl(&bin, &["x509", "-in", &client, "-noout", "-pubkey"]);
    let (_, b) = openssl(
        &bin,
        &["pkey", "-in", &s(&out.join("tls/client.pem")), "-pubout"],
    );
    assert_eq!(a, b);
}

#[test]
fn init_input_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = s(&dir.path().join("out"));
    let (code, _, err) = cli(&[
        "init",
        "--topology",
        "/nonexistent/topo.yaml",
        "--out",
        &out,
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/nonexistent/topo.yaml") && err.lines().count() == 1,
        "{err}"
    );
    // A CA key that is not the CA certificate's.
    let topo = dir.path().join("t.yaml");
    std::fs::write(&topo, "pd_servers:\n  - host: 10.0.1.11\n").unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    for d in [&a, &b] {
        let (code, _, err) = cli(&["init", "--topology", &s(&topo), "--out", &s(d)]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = cli(&[
        "init",
        "--topology",
        &s(&topo),
        "--out",
        &out,
        "--ca-cert",
        &s(&a.join("tls/ca.crt")),
        "--ca-key",
        &s(&b.join("tls/ca.pem")),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("is not the key of") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!err.contains("PRIVATE"), "{err}");
    // A leaf is not a CA.
    let (code, _, err) = cli(&[
        "init",
        "--topology",
        &s(&topo),
        "--out",
        &out,
        "--ca-cert",
        &s(&a.join("tls/client.crt")),
        "--ca-key",
        &s(&a.join("tls/client.pem")),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("client.crt") && err.lines().count() == 1,
        "{err}"
    );
}

/// One instance certificate: chains for both purposes, valid now and for the default 730
/// days, CN and SANs as TiUP gives them, both EKUs.
fn check_leaf(bin: &Path, ca: &str, path: &Path, cn: &str, san: &str) {
    let file = path.display();
    let bin = bin.to_path_buf();
    let ca = ca.to_string();
    let cert = s(path);
    let (ok, text) = openssl(
        &bin,
        &["verify", "-CAfile", &ca, "-purpose", "sslserver", &cert],
    );
    assert!(ok, "{file}: {text}");
    let (ok, text) = openssl(
        &bin,
        &["verify", "-CAfile", &ca, "-purpose", "sslclient", &cert],
    );
    assert!(ok, "{file}: {text}");
    let (ok, text) = openssl(
        &bin,
        &["x509", "-in", &cert, "-noout", "-checkend", "86400"],
    );
    assert!(ok, "{file}: {text}");
    let (ok, text) = openssl(
        &bin,
        &[
            "x509",
            "-in",
            &cert,
            "-noout",
            "-subject",
            "-ext",
            "subjectAltName,extendedKeyUsage",
        ],
    );
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("subject=CN = {cn}\n")),
        "{file}: {text}"
    );
    assert!(text.contains(san), "{file}: {text}");
    assert!(
        text.contains("DNS:localhost") && text.contains("IP Address:127.0.0.1"),
        "{text}"
    );
    assert!(
        text.contains("TLS Web Server Authentication")
            && text.contains("TLS Web Client Authentication"),
        "{text}"
    );
    // Still valid in 700 days, not in 731 (the default validity is 730 days).
    let (ok, _) = openssl(
        &bin,
        &[
            "x509",
            "-in",
            &cert,
            "-noout",
            "-checkend",
            &(700 * 86400).to_string(),
        ],
    );
    assert!(ok, "{file}");
    let (ok, _) = openssl(
        &bin,
        &[
            "x509",
            "-in",
            &cert,
            "-noout",
            "-checkend",
            &(731 * 86400).to_string(),
        ],
    );
    assert!(!ok, "{file}");
}

/// Serve the rotated files: the same names under the rotation's folder; of every instance, or
/// of `only` (what copying its files and reloading it does).
pub fn apply_rotation(lab: &mut Lab, out: &Path, rotated: &Path, topo: &Topo, only: Option<&str>) {
    let chosen = topo.map.iter().filter(|m| only.is_none_or(|i| m.1 == i));
    for (name, instance, file) in chosen {
        let (cert, key, _) = security_of(&out.join(instance).join(file));
        let tls = rotated.join(instance).join("tls");
        let spec = lab.spec(name).unwrap().clone().with_server_files(
            tls.join(cert.file_name().unwrap()),
            tls.join(key.file_name().unwrap()),
        );
        lab.reconfigure(spec).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_issues_new_leaves_and_the_audit_sees_only_rotations() {
    let mut lab = Lab::start(lab_spec()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let topo = lab_topology(&lab, dir.path(), "");
    let (out, rotated) = (dir.path().join("out"), dir.path().join("rotated"));
    let pki = lab.pki().clone();
    let ca = [
        "--ca-cert".into(),
        s(&pki.ca_cert),
        "--ca-key".into(),
        s(&pki.ca_key),
    ];
    let init = [
        vec![
            "init".into(),
            "--topology".into(),
            s(&topo.path),
            "--out".into(),
            s(&out),
        ],
        ca.to_vec(),
    ];
    let (code, _, err) = run(init.concat()).await;
    assert_eq!(code, 0, "{err}");
    apply_init(&mut lab, &out, &topo);
    let fragment = std::fs::read_to_string(out.join("tiup-server-configs.yaml")).unwrap();
    let full = dir.path().join("prod-tls.yaml");
    std::fs::write(&full, format!("{}{fragment}", topo.text)).unwrap();
    let tls = audit_tls_dir(&out, &topo, dir.path());
    let report = |file: &str, baseline: Option<&str>| {
        let mut a = vec![
            "report".to_string(),
            "--topology".into(),
            s(&full),
            "--tls-dir".into(),
            s(&tls),
            "--format".into(),
            "json".into(),
            "-o".into(),
            s(&dir.path().join(file)),
        ];
        if let Some(b) = baseline {
            a.extend(["--baseline".to_string(), s(&dir.path().join(b))]);
        }
        a
    };
    let (code, _, err) = run(report("before.json", None)).await;
    assert_eq!(code, 0, "{err}");

    let rot = [
        vec![
            "rotate".into(),
            "--topology".into(),
            s(&full),
            "--out".into(),
            s(&rotated),
        ],
        ca.to_vec(),
    ];
    let (code, stdout, err) = run(rot.concat()).await;
    assert_eq!(code, 0, "{err}");
    // PD first, TiDB after TiKV and TiFlash, TiUP's client last.
    let at = |w: &str| stdout.find(w).unwrap_or_else(|| panic!("{w}: {stdout}"));
    assert!(at("1. pd-127.0.0.1-") < at(". tikv-127.0.0.1-"), "{stdout}");
    assert!(
        at(". tiflash-127.0.0.1-") < at(". tidb-127.0.0.1-"),
        "{stdout}"
    );
    assert!(
        at(". tidb-127.0.0.1-") < at("TiUP's client certificate"),
        "{stdout}"
    );
    assert!(stdout.contains("check:  tlsaudit report"), "{stdout}");
    for (_, instance, _) in &topo.map {
        let old = std::fs::read_dir(out.join(instance).join("tls"))
            .unwrap()
            .count();
        assert_eq!(
            old,
            std::fs::read_dir(rotated.join(instance).join("tls"))
                .unwrap()
                .count()
        );
    }

    apply_rotation(&mut lab, &out, &rotated, &topo, None);
    refresh_audit_tls_dir(&rotated, &topo, &tls);
    let (code, _, err) = run(report("after.json", Some("before.json"))).await;
    assert_eq!(code, 0, "{err}");
    check_rotation(&dir.path().join("after.json"));
    let (code, stdout, err) = run(vec![
        "diff".into(),
        s(&dir.path().join("before.json")),
        s(&dir.path().join("after.json")),
    ])
    .await;
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(
        stdout.contains("Server certificates changed (10)"),
        "{stdout}"
    );
    lab.stop().await;
}

/// The report after the rotation, against the one before: no finding, no verdict changed,
/// every endpoint's certificate rotated.
fn check_rotation(after: &Path) {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(after).unwrap()).unwrap();
    assert_eq!(v["findings"], serde_json::json!([]));
    let cells = v["cells"].as_array().unwrap();
    let tls_cells: Vec<_> = cells
        .iter()
        .filter(|c| c["record"]["tls"].is_object())
        .collect();
    assert!(!tls_cells.is_empty());
    let b = &v["baseline"];
    assert_eq!(b["cells"], serde_json::json!([]), "no verdict changed");
    assert_eq!(b["findings"]["added"], serde_json::json!([]));
    let rotated_endpoints: std::collections::BTreeSet<_> = b["rotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["after"].is_object() && r["before"]["sha256"] != r["after"]["sha256"])
        .map(|r| r["endpoint"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rotated_endpoints.len(), 10, "{rotated_endpoints:?}");
}

/// TiUP's own CA: an RSA key in PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`) made by
/// openssl. `init` signs with it, and openssl verifies what it signed.
#[test]
fn init_reuses_a_pkcs1_rsa_ca_like_tiups() {
    let Some(bin) = require_tool("openssl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ca.pem");
    let crt = dir.path().join("ca.crt");
    let (ok, text) = openssl(&bin, &["genrsa", "-traditional", "-out", &s(&key), "2048"]);
    assert!(ok, "{text}");
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "PKCS#1"
    );
    let (ok, text) = openssl(
        &bin,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            &s(&key),
            "-subj",
            "/CN=tidb-ca",
            "-days",
            "3650",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            &s(&crt),
        ],
    );
    assert!(ok, "{text}");
    let topo = dir.path().join("prod.yaml");
    std::fs::write(
        &topo,
        "global:\n  user: tidb\npd_servers:\n  - host: 10.0.1.11\ntikv_servers:\n  - host: 10.0.1.12\ntidb_servers:\n  - host: 10.0.1.21\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = cli(&[
        "init",
        "--topology",
        &s(&topo),
        "--out",
        &s(&out),
        "--ca-cert",
        &s(&crt),
        "--ca-key",
        &s(&key),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("PRIVATE KEY") && !stderr.contains("PRIVATE KEY"));
    for leaf in [
        "pd-10.0.1.11-2379/tls/pd.crt",
        "tikv-10.0.1.12-20160/tls/tikv.crt",
        "tidb-10.0.1.21-4000/tls/tidb.crt",
        "tls/client.crt",
    ] {
        let (ok, text) = openssl(&bin, &["verify", "-CAfile", &s(&crt), &s(&out.join(leaf))]);
        assert!(ok, "{leaf}: {text}");
    }
    // The CA's key is not copied into the output (it was given, not made).
    let copied = std::fs::read_to_string(out.join("tls/ca.pem")).ok();
    assert!(
        copied.is_none() || copied.as_deref() == std::fs::read_to_string(&key).ok().as_deref(),
        "a reused CA key is either not written or the same file"
    );
}
