//! `report --dry-run` prints the plan and sends nothing; `lint --format json` carries the plan.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use tlsaudit_testkit::pki::{self, fixture, Leaf};
use tlsaudit_testkit::{cli, free_port};

/// An inventory in `dir` whose first endpoint is `silent` (a listener that never accepts) and
/// whose second is a closed port; a 20 s deadline, so that one real probe would be slow.
fn inventory(dir: &Path, silent: u16, closed: u16) -> std::path::PathBuf {
    let ca = pki::ca();
    std::fs::write(dir.join("ca.crt"), &ca.cert_pem).unwrap();
    pki::write_key(&dir.join("ca.pem"), &ca.key_pem);
    for cn in ["tidb", "web"] {
        pki::write_pair(dir, cn, &ca, &Leaf::component(cn, &[]));
    }
    let text = format!(
        r#"[cluster]
name = "prod"
ca = "ca.crt"
ca_key = "ca.pem"

[probe]
timeout = "20s"

[identities.tidb]
cert = "tidb.crt"
key = "tidb.pem"

[identities.web]
cert = "web.crt"
key = "web.pem"
component = "generic"

[[endpoints]]
name = "pd-1"
component = "pd"
address = "127.0.0.1:{silent}"
allowed_cn = ["tidb", "pd"]

[[endpoints]]
name = "api"
component = "generic"
address = "127.0.0.1:{closed}"
server_name = "api.internal"
protocol = "http"
path = "/health"
client_auth = "required"
needed_by = ["web"]
"#
    );
    let path = dir.join("tlsaudit.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn cell<'a>(v: &'a Value, identity: &str, endpoint: &str) -> &'a Value {
    v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["identity"] == identity && c["endpoint"] == endpoint)
        .unwrap_or_else(|| panic!("no cell {identity} x {endpoint}"))
}

/// The JSON plan of [`inventory`].
fn assert_plan_json(v: &Value, silent_port: u16) {
    assert_eq!(v["schema"], "tlsaudit.plan/v1");
    assert_eq!(v["cluster"], "prod");
    // tidb, web, anonymous, foreign, unlisted x 2 endpoints.
    assert_eq!(v["probes"], 10);
    let api = &v["endpoints"][1];
    assert_eq!(api["name"], "api");
    assert_eq!(api["component"], "generic");
    assert_eq!(api["role"], "tls");
    assert_eq!(api["server_name"], "api.internal");
    assert_eq!(api["protocol"], "http");
    assert_eq!(api["path"], "/health");
    assert_eq!(api["client_auth"], "required");
    assert_eq!(api["client_auth_configured"], true);
    assert_eq!(api["needed_by"], serde_json::json!(["web"]));
    let pd = &v["endpoints"][0];
    assert_eq!(pd["address"], format!("127.0.0.1:{silent_port}"));
    assert_eq!(pd["server_name"], "127.0.0.1");
    assert_eq!(pd["allowed_cn"], serde_json::json!(["tidb", "pd"]));
    assert_eq!(pd["list_enforced"], true);
    assert_eq!(pd["client_auth"], "required");
    assert_eq!(pd["client_auth_configured"], false);
    let names: Vec<&str> = v["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tidb", "web", "anonymous", "foreign", "unlisted"]);
    assert_eq!(v["identities"][0]["cn"], "tidb");
    assert_eq!(v["identities"][2]["cn"], Value::Null);
    assert_eq!(v["identities"][3]["kind"], "foreign");

    assert_eq!(cell(v, "tidb", "pd-1")["expected"], "allow");
    assert_eq!(cell(v, "tidb", "pd-1")["needed"], true);
    assert_eq!(cell(v, "web", "pd-1")["expected"], "deny");
    assert_eq!(cell(v, "anonymous", "api")["expected"], "deny");
    assert_eq!(cell(v, "foreign", "api")["expected"], "deny");
    assert_eq!(cell(v, "web", "api")["expected"], "allow");
    assert_eq!(cell(v, "web", "api")["needed"], true);
    assert_eq!(cell(v, "tidb", "api")["needed"], false);
    assert!(cell(v, "web", "pd-1")["reason"]
        .as_str()
        .unwrap()
        .contains("not on the allow-list"));
}

#[test]
fn dry_run_prints_the_plan_and_connects_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let config = inventory(dir.path(), silent_port, free_port());
    let config = config.to_str().unwrap();

    let started = Instant::now();
    let (code, out, err) = cli(&[
        "report",
        "--config",
        config,
        "--dry-run",
        "--format",
        "json",
    ]);
    let json_took = started.elapsed();
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_plan_json(&v, silent_port);

    // The table.
    let started = Instant::now();
    let (code, out, err) = cli(&[
        "report",
        "--config",
        config,
        "--dry-run",
        "--format",
        "table",
    ]);
    let text_took = started.elapsed();
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(
            "tlsaudit dry run: cluster prod: 2 endpoint(s) x 5 identities = 10 probe(s); nothing was sent"
        ),
        "{out}"
    );
    assert!(out.contains("api.internal"), "{out}");
    assert!(out.contains("required (set)"), "{out}");
    assert!(out.contains("[tidb, pd]"), "{out}");
    assert!(
        out.lines().any(|l| l.trim_start().starts_with("must admit")
            && l.contains("web")
            && l.contains("needed")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("must refuse") && l.contains("anonymous")),
        "{out}"
    );

    // Nothing was sent: the silent listener has no connection waiting, and neither run waited
    // for a probe deadline (20 s).
    silent.set_nonblocking(true).unwrap();
    match silent.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a dry run connected: {other:?}"),
    }
    assert!(
        json_took < Duration::from_secs(10) && text_took < Duration::from_secs(10),
        "{json_took:?} {text_took:?}"
    );

    // Other formats are refused; bad input is still exit 2 with file, line and column.
    let (code, _, err) = cli(&[
        "report",
        "--config",
        config,
        "--dry-run",
        "--format",
        "html",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--dry-run"), "{err}");
    let text = std::fs::read_to_string(config)
        .unwrap()
        .replace("client_auth = \"required\"", "client_auth = \"mandatory\"");
    std::fs::write(config, text).unwrap();
    let (code, out, err) = cli(&["report", "--config", config, "--dry-run"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("tlsaudit.toml:31:15: client_auth \"mandatory\""),
        "{err}"
    );
    assert!(err.contains("required, optional, none"), "{err}");
}

#[test]
fn lint_json_carries_the_plan_when_the_ca_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    pki::tiup_tls_dir(&tls, "prod", &[("pd", &[]), ("tikv", &[]), ("tidb", &[])]);
    let prod = fixture("tiup/prod.yaml");
    let (_, out, err) = cli(&[
        "lint",
        "--topology",
        prod.to_str().unwrap(),
        "--tls-dir",
        tls.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(v["plan"]["schema"], "tlsaudit.plan/v1");
    assert_eq!(v["plan_unavailable"], Value::Null);
    let endpoints = v["plan"]["endpoints"].as_array().unwrap();
    assert!(endpoints.iter().any(|e| e["component"] == "pd"), "{out}");
    let ids = v["plan"]["identities"].as_array().unwrap().len();
    assert_eq!(
        v["plan"]["probes"].as_u64().unwrap() as usize,
        endpoints.len() * ids
    );
    assert_eq!(
        v["plan"]["cells"].as_array().unwrap().len(),
        endpoints.len() * ids
    );

    // Without a CA there is no audit to plan: null, and why.
    let plain = fixture("tiup/plain.yaml");
    let (_, out, _) = cli(&[
        "lint",
        "--topology",
        plain.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["plan"], Value::Null);
    assert!(
        v["plan_unavailable"].as_str().unwrap().contains("CA"),
        "{out}"
    );
}
