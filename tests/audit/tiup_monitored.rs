//! Topology fields beyond the component links: TiUP's monitoring agents (`monitored`,
//! `ignore_exporter`), probed and reported as the plaintext HTTP they are, and the allow-lists
//! of TiProxy's API (`security.server-http-tls`) and TiCDC (an instance's own `config`), read
//! from the topology and confirmed against the lab.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use tlsaudit_lab::{EndpointSpec, Lab, LabSpec, SqlConfig};
use tlsaudit_testkit::cli;
use tlsaudit_testkit::yaml_list as q;

const PD_LIST: [&str; 6] = ["pd", "tidb", "tikv", "cdc", "tiproxy", "prod-client"];
const PROXY_LIST: [&str; 2] = ["tiproxy", "prod-client"];
const CDC_LIST: [&str; 2] = ["cdc", "prod-client"];

async fn lab() -> Lab {
    Lab::start(
        LabSpec::new("prod")
            .with(EndpointSpec::pd("pd-client", &PD_LIST))
            .with(EndpointSpec::pd("pd-peer", &PD_LIST))
            // TiProxy's API is Go: the CN is checked in the handshake, as PD does.
            .with(EndpointSpec::pd("tiproxy-api", &PROXY_LIST))
            .with(EndpointSpec::tidb_sql("tiproxy-sql", SqlConfig::default()))
            // TiCDC: Go, HTTP, a client certificate asked for once a list is set.
            .with(EndpointSpec::tidb_status("cdc", &CDC_LIST))
            .with(EndpointSpec::plaintext_http("node-exporter"))
            .with(EndpointSpec::plaintext_http("blackbox-exporter")),
    )
    .await
    .unwrap()
}

fn topology(lab: &Lab, dir: &Path) -> PathBuf {
    let port = |n: &str| lab.endpoint(n).unwrap().addr.port();
    let text = format!(
        "global:\n  user: tidb\n  enable_tls: true\n\
         server_configs:\n\
         \x20 pd:\n    security.cert-allowed-cn: [{pd}]\n\
         \x20 tiproxy:\n    security.server-http-tls.cert-allowed-cn: [{proxy}]\n\
         monitored:\n  node_exporter_port: {}\n  blackbox_exporter_port: {}\n\
         pd_servers:\n  - host: 127.0.0.1\n    client_port: {}\n    peer_port: {}\n\
         cdc_servers:\n  - host: 127.0.0.1\n    port: {}\n    config:\n      security.cert-allowed-cn: [{cdc}]\n\
         tiproxy_servers:\n  - host: 127.0.0.1\n    port: {}\n    status_port: {}\n",
        port("node-exporter"),
        port("blackbox-exporter"),
        port("pd-client"),
        port("pd-peer"),
        port("cdc"),
        port("tiproxy-sql"),
        port("tiproxy-api"),
        pd = q(&PD_LIST),
        proxy = q(&PROXY_LIST),
        cdc = q(&CDC_LIST),
    );
    let p = dir.join("prod.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

fn verdict(v: &Value, identity: &str, endpoint: &str) -> String {
    v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["identity"] == identity && c["endpoint"] == endpoint)
        .unwrap_or_else(|| panic!("no cell {identity} x {endpoint}"))["verdict"]
        .as_str()
        .unwrap()
        .to_string()
}

fn endpoint<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no endpoint {name} in {:#}", v["endpoints"]))
}

fn codes<'a>(v: &'a Value, endpoint: &str) -> Vec<(&'a str, &'a str)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["endpoint"] == endpoint)
        .map(|f| (f["code"].as_str().unwrap(), f["severity"].as_str().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporters_are_probed_and_tiproxy_and_ticdc_lists_come_from_the_topology() {
    let lab = lab().await;
    let dir = tempfile::tempdir().unwrap();
    let topo = topology(&lab, dir.path());
    // The control machine's folder: the CA, its key and TiUP's client only (the components'
    // identities are minted).
    let tls = tlsaudit_testkit::tiup_tls_dir(&lab, dir.path(), &[]);
    let (code, out, err) = cli(&[
        "report",
        "--topology",
        topo.to_str().unwrap(),
        "--tls-dir",
        tls.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_ne!(code, 2, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let identities: Vec<&str> = v["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    // Minted for the components present; none for the agents, which call nothing.
    for id in ["client", "pd", "cdc", "tiproxy"] {
        assert!(identities.contains(&id), "{id}: {identities:?}");
    }
    assert!(!identities.contains(&"exporter"), "{identities:?}");

    // The agents: probed, every cell unencrypted, an info finding each, nothing critical.
    for (lab_name, role) in [("node-exporter", "node"), ("blackbox-exporter", "blackbox")] {
        let name = format!(
            "exporter-127.0.0.1-{}",
            lab.endpoint(lab_name).unwrap().addr.port()
        );
        let ep = endpoint(&v, &name);
        assert_eq!(ep["component"], "exporter");
        assert_eq!(ep["role"], role);
        for id in &identities {
            assert_eq!(verdict(&v, id, &name), "unencrypted", "{id} x {name}");
        }
        assert_eq!(codes(&v, &name), [("EXPORTER_PLAINTEXT", "info")], "{name}");
    }
    let all: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    for absent in ["PLAINTEXT_ENDPOINT", "PARTIAL_TLS"] {
        assert!(!all.contains(&absent), "{absent} in {all:?}");
    }
    // The topology's note is replaced by the probes' own findings (one per agent).
    assert_eq!(
        all.iter().filter(|c| **c == "EXPORTER_PLAINTEXT").count(),
        2
    );

    // TiProxy's API list comes from server_configs.tiproxy security.server-http-tls.
    let api = format!(
        "tiproxy-127.0.0.1-{}",
        lab.endpoint("tiproxy-api").unwrap().addr.port()
    );
    assert_eq!(
        endpoint(&v, &api)["allowed_cn"],
        serde_json::json!(PROXY_LIST)
    );
    assert_eq!(verdict(&v, "tiproxy", &api), "secure");
    assert_eq!(verdict(&v, "client", &api), "secure");
    assert_eq!(verdict(&v, "cdc", &api), "enforced");
    // TiDB Dashboard (inside PD) profiles TiProxy: a list without PD blocks it (a warning).
    assert_eq!(verdict(&v, "pd", &api), "blocked");
    // TiCDC's from its instance's own config.
    let cdc = format!("cdc-127.0.0.1-{}", lab.endpoint("cdc").unwrap().addr.port());
    assert_eq!(
        endpoint(&v, &cdc)["allowed_cn"],
        serde_json::json!(CDC_LIST)
    );
    assert_eq!(verdict(&v, "cdc", &cdc), "secure");
    assert_eq!(verdict(&v, "tiproxy", &cdc), "enforced");
    // TiProxy calls PD: PD's list names it.
    let pd = format!(
        "pd-127.0.0.1-{}",
        lab.endpoint("pd-client").unwrap().addr.port()
    );
    assert_eq!(verdict(&v, "tiproxy", &pd), "secure");
    lab.stop().await;
}

/// `ignore_exporter` on every instance of a host: no agents there. Checked on the plan, which
/// sends nothing (the second host is a loopback address nothing listens on).
#[test]
fn hosts_whose_instances_all_ignore_the_exporter_have_no_agents() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("t.yaml");
    std::fs::write(
        &topo,
        "global:\n  user: tidb\n  enable_tls: true\n\
         monitored:\n  node_exporter_port: 9100\n  blackbox_exporter_port: 9115\n\
         pd_servers:\n  - host: 127.0.0.1\n    ignore_exporter: true\n\
         tikv_servers:\n  - host: 127.0.0.2\n  - host: 127.0.0.1\n    ignore_exporter: true\n",
    )
    .unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, tlsaudit_testkit::pki::ca().cert_pem).unwrap();
    let (code, out, err) = cli(&[
        "report",
        "--topology",
        topo.to_str().unwrap(),
        "--ca",
        ca.to_str().unwrap(),
        "--dry-run",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let exporters: Vec<(&str, &str)> = v["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["component"] == "exporter")
        .map(|e| (e["name"].as_str().unwrap(), e["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        exporters,
        [
            ("exporter-127.0.0.2-9100", "node"),
            ("exporter-127.0.0.2-9115", "blackbox"),
        ]
    );
}
