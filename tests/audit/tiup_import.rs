//! TiUP import: topology and meta.yaml to an Inventory, identities from the TLS folder, and a
//! whole report of the embedded lab described by a TiUP topology.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]
// Table-like tests: one case after another reads better than helpers split for length.
#![allow(clippy::too_many_lines)]

use tlsaudit_testkit::cli;
use tlsaudit_testkit::pki;

use std::path::{Path, PathBuf};
use tlsaudit_engine::audit::{EndpointId, IdentityId};

use pki::fixture;
use tlsaudit_engine::audit::{Auditor, Plan, Verdict};
use tlsaudit_engine::inventory::{AuditOptions, Inventory};
use tlsaudit_engine::lint::{lint, LintOptions};
use tlsaudit_engine::probe::Protocol;
use tlsaudit_engine::profile::{Component, Version};
use tlsaudit_engine::tiup::{Cluster, TiupOptions};
use tlsaudit_lab::{EndpointSpec, Lab, LabSpec};

const PROD_ROLES: &[(&str, &[&str])] = &[
    ("pd", &["10.0.1.11"]),
    ("tidb", &["10.0.1.21"]),
    ("tikv", &["10.0.1.31"]),
    ("tiflash", &["10.0.1.41"]),
    ("cdc", &["10.0.1.51"]),
    ("tiproxy", &["10.0.1.61"]),
];

fn opts(topology: &Path, tls: Option<&Path>) -> TiupOptions {
    TiupOptions {
        topology: Some(topology.to_path_buf()),
        tls_dir: tls.map(Path::to_path_buf),
        ..Default::default()
    }
}

fn inventory(o: &TiupOptions) -> (Cluster, Inventory) {
    let c = Cluster::load(o).unwrap();
    let (inv, notes) = c.inventory(AuditOptions::default()).unwrap();
    assert!(notes.is_empty(), "{notes:#?}");
    (c, inv)
}

#[test]
fn topology_becomes_an_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    pki::tiup_tls_dir(&tls, "prod", PROD_ROLES);
    let (cluster, inv) = inventory(&opts(&fixture("tiup/prod.yaml"), Some(&tls)));
    assert_eq!(inv.cluster, "prod");
    assert_eq!(cluster.component_instances(), 11);
    assert_eq!(inv.ca, tls.join("ca.crt"));
    assert_eq!(inv.ca_key, Some(tls.join("ca.pem")));
    // TiUP's monitoring agents come last: a node_exporter and a blackbox_exporter per host.
    let agents: Vec<&str> = inv
        .endpoints
        .iter()
        .filter(|e| e.component == Component::Exporter)
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(agents.len(), 22);
    assert_eq!(
        agents[..4],
        [
            "exporter-10.0.1.11-9100",
            "exporter-10.0.1.11-9115",
            "exporter-10.0.1.12-9100",
            "exporter-10.0.1.12-9115"
        ]
    );
    let names: Vec<&str> = inv.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names[..names.len() - agents.len()],
        [
            "pd-10.0.1.11-2379",
            "pd-10.0.1.11-2380",
            "pd-10.0.1.12-2379",
            "pd-10.0.1.12-2380",
            "pd-10.0.1.13-12379",
            "pd-10.0.1.13-12380",
            "tidb-10.0.1.21-10080",
            "tidb-10.0.1.21-4000",
            "tidb-10.0.1.22-10081",
            "tidb-10.0.1.22-4001",
            "tikv-10.0.1.31-20160",
            "tikv-10.0.1.31-20180",
            "tikv-10.0.1.32-20161",
            "tikv-10.0.1.32-20181",
            "tikv-10.0.1.33-20160",
            "tikv-10.0.1.33-20180",
            "tiflash-10.0.1.41-3931",
            "tiflash-10.0.1.41-20170",
            "tiflash-10.0.1.41-20292",
            "tiflash-10.0.1.41-8234",
            "cdc-10.0.1.51-8301",
            "tiproxy-10.0.1.61-3080",
            "tiproxy-10.0.1.61-6000",
        ]
    );
    let ep = |n: &str| inv.endpoints.iter().find(|e| e.name == n).unwrap();
    let roles: Vec<(&str, Component, Protocol)> = [
        "pd-10.0.1.11-2379",
        "pd-10.0.1.11-2380",
        "tidb-10.0.1.21-10080",
        "tikv-10.0.1.31-20160",
        "tikv-10.0.1.31-20180",
        "tiflash-10.0.1.41-3931",
        "tiflash-10.0.1.41-20170",
        "tiflash-10.0.1.41-20292",
        "tiflash-10.0.1.41-8234",
        "cdc-10.0.1.51-8301",
        "tiproxy-10.0.1.61-3080",
        "tidb-10.0.1.22-4001",
        "tiproxy-10.0.1.61-6000",
    ]
    .iter()
    .map(|n| {
        let e = ep(n);
        (e.role.as_str(), e.component, e.protocol)
    })
    .collect();
    assert_eq!(
        roles,
        [
            ("client", Component::Pd, Protocol::Tls),
            ("peer", Component::Pd, Protocol::Tls),
            ("status", Component::Tidb, Protocol::Http),
            ("grpc", Component::Tikv, Protocol::Grpc),
            ("status", Component::Tikv, Protocol::Http),
            ("grpc", Component::Tiflash, Protocol::Grpc),
            ("proxy", Component::Tiflash, Protocol::Grpc),
            ("proxy-status", Component::Tiflash, Protocol::Http),
            ("metrics", Component::Tiflash, Protocol::Tls),
            ("server", Component::Ticdc, Protocol::Http),
            ("api", Component::Tiproxy, Protocol::Tls),
            ("sql", Component::Tidb, Protocol::Mysql),
            ("sql", Component::Tiproxy, Protocol::Mysql),
        ]
    );
    // The SQL ports (TiUP's `port`) carry no allow-list.
    assert!(ep("tidb-10.0.1.22-4001").allowed_cn.is_empty());
    // Global lists, and per-instance overrides.
    assert_eq!(
        ep("pd-10.0.1.13-12380").allowed_cn,
        [
            "pd",
            "tidb",
            "tikv",
            "tiflash",
            "cdc",
            "tiproxy",
            "prod-client"
        ]
    );
    assert_eq!(
        ep("tidb-10.0.1.21-10080").allowed_cn,
        ["tidb", "prod-client", "tiproxy", "pd"]
    );
    assert_eq!(
        ep("tidb-10.0.1.22-10081").allowed_cn,
        ["tidb", "prod-client", "dashboard", "tiproxy", "pd"]
    );
    assert!(!ep("tikv-10.0.1.32-20161")
        .allowed_cn
        .contains(&"br".to_string()));
    assert!(ep("tikv-10.0.1.33-20180")
        .allowed_cn
        .contains(&"br".to_string()));
    assert_eq!(
        ep("tiflash-10.0.1.41-3931").allowed_cn,
        ["tidb", "tikv", "tiflash", "pd"]
    );
    assert_eq!(
        ep("tiflash-10.0.1.41-20170").allowed_cn,
        ["tidb", "tikv", "tiflash", "pd"]
    );
    assert!(ep("cdc-10.0.1.51-8301").allowed_cn.is_empty());
    assert_eq!(
        ep("tikv-10.0.1.31-20180").path.as_deref(),
        Some("/engine_type")
    );
    // Identities: TiUP's client and every <role>.crt.
    let ids: Vec<(&str, Option<Component>)> = inv
        .identities
        .iter()
        .map(|i| (i.name.as_str(), i.component))
        .collect();
    assert_eq!(
        ids,
        [
            ("client", None),
            ("cdc", Some(Component::Ticdc)),
            ("pd", Some(Component::Pd)),
            ("tidb", Some(Component::Tidb)),
            ("tiflash", Some(Component::Tiflash)),
            ("tikv", Some(Component::Tikv)),
            ("tiproxy", Some(Component::Tiproxy)),
        ]
    );
    // Plan accepts it as it is.
    let plan = Plan::new(inv).unwrap();
    assert_eq!(
        plan.identities.len(),
        7 + 3,
        "anonymous, foreign and unlisted added"
    );
}

#[test]
fn plain_topology_without_tls_folder() {
    let o = opts(&fixture("tiup/plain.yaml"), None);
    let c = Cluster::load(&o).unwrap();
    assert!(!c.tls.as_ref().unwrap().value);
    assert_eq!(c.name, "plain");
    let e = c
        .inventory(AuditOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("--tls-dir"), "{e}");
    // With a CA given, an inventory of plaintext endpoints (the audit shows them unencrypted).
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::ca();
    std::fs::write(dir.path().join("ca.crt"), &ca.cert_pem).unwrap();
    let o = TiupOptions {
        ca: Some(dir.path().join("ca.crt")),
        ..o
    };
    let (_, inv) = inventory(&o);
    assert_eq!(inv.endpoints.len(), 2 + 2 + 3 * 2);
    assert!(inv.identities.is_empty());
    assert!(inv.ca_key.is_none());
}

#[test]
fn meta_yaml_gives_name_version_and_tls_folder() {
    let meta = fixture("tiup/clusters/legacy/meta.yaml");
    let c = Cluster::load(&opts(&meta, None)).unwrap();
    assert_eq!(c.name, "legacy");
    assert!(c.tls_dir.is_none());
    assert!(c.instances.iter().all(|i| i.version == Some(Version(8, 1))));

    // A development build's version (`nightly`) is accepted and taken as the newest.
    let dir = tempfile::tempdir().unwrap();
    let nightly = dir.path().join("meta.yaml");
    let text = std::fs::read_to_string(&meta).unwrap();
    let replaced = text
        .lines()
        .map(|l| {
            if l.starts_with("tidb_version:") {
                "tidb_version: nightly".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&nightly, replaced).unwrap();
    let c = Cluster::load(&opts(&nightly, None)).unwrap();
    assert!(c
        .instances
        .iter()
        .all(|i| i.version == Some(Version::NEWEST)));

    // As TiUP stores it: ~/.tiup/storage/cluster/clusters/<name>/{meta.yaml,tls/}.
    let home = tempfile::tempdir().unwrap();
    let cdir = home.path().join("storage/cluster/clusters/legacy");
    std::fs::create_dir_all(&cdir).unwrap();
    std::fs::copy(&meta, cdir.join("meta.yaml")).unwrap();
    pki::tiup_tls_dir(&cdir.join("tls"), "legacy", &[("pd", &["10.0.3.11"])]);
    let (c, inv) = inventory(&opts(&cdir.join("meta.yaml"), None));
    assert_eq!(c.tls_dir.as_ref().unwrap().dir, cdir.join("tls"));
    assert_eq!(inv.cluster, "legacy");
    assert!(inv
        .endpoints
        .iter()
        .all(|e| e.version == Some(Version(8, 1))));
    assert_eq!(
        inv.identities
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>(),
        ["client", "pd"]
    );
    // PD before v8.4 with two CNs is in the lint.
    let f = lint(&c, &LintOptions::default());
    assert!(f
        .iter()
        .any(|f| f.code.as_str() == "PD_MULTIPLE_CN_BEFORE_V8_4"));
}

#[test]
fn cluster_name_from_client_cn_or_flag() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    pki::tiup_tls_dir(&tls, "acme", &[]);
    let topo = dir.path().join("topology.yaml");
    std::fs::write(
        &topo,
        "global:\n  enable_tls: true\npd_servers:\n  - host: 10.0.1.1\n",
    )
    .unwrap();
    let c = Cluster::load(&opts(&topo, Some(&tls))).unwrap();
    assert_eq!(c.name, "acme");
    assert_eq!(c.tiup_client_cn().as_deref(), Some("acme-client"));
    let o = TiupOptions {
        cluster_name: Some("other".into()),
        ..opts(&topo, Some(&tls))
    };
    assert_eq!(Cluster::load(&o).unwrap().name, "other");
}

#[test]
fn tls_folder_variants() {
    let dir = tempfile::tempdir().unwrap();
    // Without ca.crt: an error naming the folder.
    let e = Cluster::load(&opts(&fixture("tiup/plain.yaml"), Some(dir.path())))
        .unwrap_err()
        .to_string();
    assert!(e.contains("holds no ca.crt"), "{e}");
    // ca.pem holding the CA certificate (not the key): used as the CA, no unlisted identity.
    let ca = pki::ca();
    std::fs::write(dir.path().join("ca.pem"), &ca.cert_pem).unwrap();
    pki::write_pair(dir.path(), "client", &ca, &pki::Leaf::client("x"));
    let c = Cluster::load(&opts(&fixture("tiup/plain.yaml"), Some(dir.path()))).unwrap();
    assert_eq!(c.ca.as_ref().unwrap().value, dir.path().join("ca.pem"));
    assert!(c.ca_key.is_none());
    assert!(c.tls_dir.as_ref().unwrap().client.is_some());
    // A component certificate of a component the topology does not have (cdc.crt, no
    // cdc_servers) is a caller without needs; pd.crt stands for PD, which the topology has.
    pki::write_pair(
        dir.path(),
        "cdc",
        &ca,
        &pki::Leaf::component("cdc", &["10.0.1.9"]),
    );
    pki::write_pair(
        dir.path(),
        "pd",
        &ca,
        &pki::Leaf::component("pd", &["10.0.1.11"]),
    );
    let c = Cluster::load(&opts(&fixture("tiup/plain.yaml"), Some(dir.path()))).unwrap();
    let (inv, _) = c.inventory(AuditOptions::default()).unwrap();
    let component = |n: &str| {
        inv.identities
            .iter()
            .find(|i| i.name == n)
            .unwrap()
            .component
    };
    assert_eq!(component("cdc"), None);
    assert_eq!(
        component("pd"),
        Some(tlsaudit_engine::profile::Component::Pd)
    );
    std::fs::remove_file(dir.path().join("cdc.crt")).unwrap();
    std::fs::remove_file(dir.path().join("pd.crt")).unwrap();
    // A key that does not belong to its certificate: the identity is left out, with a note.
    let (_, other) = pki::issue(&ca, &pki::Leaf::client("x"));
    pki::write_key(&dir.path().join("client.pem"), &other);
    let c = Cluster::load(&opts(&fixture("tiup/plain.yaml"), Some(dir.path()))).unwrap();
    let (inv, notes) = c.inventory(AuditOptions::default()).unwrap();
    assert!(inv.identities.is_empty());
    assert_eq!(notes[0].code.as_str(), "IDENTITY_SKIPPED");
}

const PD_LIST: [&str; 4] = ["pd", "tidb", "tikv", "prod-client"];
const KV_LIST: [&str; 4] = ["tidb", "pd", "tikv", "prod-client"];
const TIDB_LIST: [&str; 2] = ["tidb", "prod-client"];

async fn lab() -> Lab {
    Lab::start(
        LabSpec::new("prod")
            .with(EndpointSpec::pd("pd-client", &PD_LIST))
            .with(EndpointSpec::pd("pd-peer", &PD_LIST))
            .with(EndpointSpec::tikv_grpc("tikv", &KV_LIST))
            .with(EndpointSpec::tikv_status("tikv-status", &KV_LIST))
            .with(EndpointSpec::tidb_status("tidb-status", &TIDB_LIST)),
    )
    .await
    .unwrap()
}

/// A TiUP topology describing the lab.
fn lab_topology(lab: &Lab, dir: &Path) -> PathBuf {
    let port = |n: &str| lab.endpoint(n).unwrap().addr.port();
    let q = |l: &[&str]| {
        l.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = format!(
        "global:\n  user: tidb\n  enable_tls: true\n\
         server_configs:\n  pd:\n    security.cert-allowed-cn: [{}]\n  tikv:\n    security.cert-allowed-cn: [{}]\n  tidb:\n    security.cluster-verify-cn: [{}]\n\
         pd_servers:\n  - host: 127.0.0.1\n    client_port: {}\n    peer_port: {}\n\
         tikv_servers:\n  - host: 127.0.0.1\n    port: {}\n    status_port: {}\n\
         tidb_servers:\n  - host: 127.0.0.1\n    port: 4000\n    status_port: {}\n",
        q(&PD_LIST),
        q(&KV_LIST),
        q(&TIDB_LIST),
        port("pd-client"),
        port("pd-peer"),
        port("tikv"),
        port("tikv-status"),
        port("tidb-status"),
    );
    let p = dir.join("prod.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_of_the_lab_from_a_topology() {
    let lab = lab().await;
    let dir = tempfile::tempdir().unwrap();
    let tls = tlsaudit_testkit::tls_from_lab(&lab, dir.path());
    let topo = lab_topology(&lab, dir.path());
    let o = opts(&topo, Some(&tls));
    let cluster = Cluster::load(&o).unwrap();
    let findings = lint(&cluster, &LintOptions::default());
    // The lab serves no SQL port for TiDB (the topology's port 4000): that one endpoint is
    // allowed to be unreachable.
    let options = AuditOptions {
        allow_unreachable: true,
        ..AuditOptions::default()
    };
    let (inv, notes) = cluster.inventory(options).unwrap();
    assert!(notes.is_empty(), "{notes:#?}");
    let mut plan = Plan::new(inv).unwrap();
    plan.static_findings = findings.clone();
    let auditor = Auditor::new(plan);
    let snap = auditor.run_round(None).await;
    let cell = |id: &str, ep: &str| {
        let i = snap.identity_names.iter().position(|n| n == id).unwrap();
        let e = snap.endpoint_names.iter().position(|n| n == ep).unwrap();
        snap.cell(IdentityId(i), EndpointId(e)).verdict
    };
    let kv = format!(
        "tikv-127.0.0.1-{}",
        lab.endpoint("tikv").unwrap().addr.port()
    );
    let kvs = format!(
        "tikv-127.0.0.1-{}",
        lab.endpoint("tikv-status").unwrap().addr.port()
    );
    let pd = format!(
        "pd-127.0.0.1-{}",
        lab.endpoint("pd-client").unwrap().addr.port()
    );
    let db = format!(
        "tidb-127.0.0.1-{}",
        lab.endpoint("tidb-status").unwrap().addr.port()
    );
    assert_eq!(cell("tidb", &kv), Some(Verdict::Secure));
    assert_eq!(cell("unlisted", &kv), Some(Verdict::Enforced));
    assert_eq!(cell("anonymous", &kv), Some(Verdict::Enforced));
    assert_eq!(cell("foreign", &kv), Some(Verdict::Enforced));
    assert_eq!(cell("client", &kvs), Some(Verdict::Secure));
    assert_eq!(cell("unlisted", &kvs), Some(Verdict::Enforced));
    assert_eq!(cell("tikv", &pd), Some(Verdict::Secure));
    assert_eq!(cell("unlisted", &pd), Some(Verdict::Enforced));
    assert_eq!(cell("client", &db), Some(Verdict::Secure));
    assert_eq!(cell("tikv", &db), Some(Verdict::Enforced));
    // Static findings are part of the round's findings.
    for f in &findings {
        assert!(snap.findings.contains(f), "{f:?}");
    }
    let critical: Vec<_> = snap
        .findings
        .iter()
        .filter(|f| f.severity == tlsaudit_engine::audit::Severity::Critical)
        .collect();
    assert!(critical.is_empty(), "{critical:#?}");
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_command_with_a_topology() {
    let lab = lab().await;
    let dir = tempfile::tempdir().unwrap();
    let tls = tlsaudit_testkit::tls_from_lab(&lab, dir.path());
    // One list edited so a static finding shows, with its source: TiDB's list lacks prod-client.
    let topo = lab_topology(&lab, dir.path());
    let text = std::fs::read_to_string(&topo).unwrap().replace(
        "cluster-verify-cn: [\"tidb\", \"prod-client\"]",
        "cluster-verify-cn: [\"tidb\"]",
    );
    std::fs::write(&topo, text).unwrap();
    let (t, d) = (topo.to_str().unwrap(), tls.to_str().unwrap());
    let out = tokio::task::spawn_blocking({
        let (t, d) = (t.to_string(), d.to_string());
        move || {
            cli(&[
                "report",
                "--topology",
                &t,
                "--tls-dir",
                &d,
                "--format",
                "json",
            ])
        }
    })
    .await
    .unwrap();
    let (code, stdout, stderr) = out;
    assert_eq!(
        code, 1,
        "TiDB admits prod-client, which the topology does not list: {stderr}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["cluster"]["name"], "prod");
    assert_eq!(v["cluster"]["inventory"], t);
    let findings = v["findings"].as_array().unwrap();
    let s = findings
        .iter()
        .find(|f| f["code"] == "TIUP_CLIENT_NOT_LISTED")
        .unwrap();
    assert!(s["source"]
        .as_str()
        .unwrap()
        .contains("prod.yaml:10:5: server_configs.tidb security.cluster-verify-cn"));
    assert!(v["summary"]["identities"].as_u64().unwrap() >= 4);
    lab.stop().await;

    // Exactly one of --config and the TiDB inputs.
    let (code, _, err) = cli(&["report", "--config", "x.toml", "--topology", t]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = cli(&["report"]);
    assert_eq!(code, 2, "{err}");
    // No CA: a one-line error.
    let plain = fixture("tiup/plain.yaml");
    let (code, out, err) = cli(&["report", "--topology", plain.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("--tls-dir"), "{err}");
    // Bad YAML: file, line and column.
    let bad = fixture("tiup/bad-syntax.yaml");
    let (code, _, err) = cli(&[
        "report",
        "--topology",
        bad.to_str().unwrap(),
        "--tls-dir",
        d,
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad-syntax.yaml:6:33: invalid YAML: the [ opened here is not closed"),
        "{err}"
    );
}

#[test]
fn ca_key_that_is_not_the_cas_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    pki::tiup_tls_dir(&tls, "prod", PROD_ROLES);
    pki::write_key(&tls.join("ca.pem"), &pki::ca().key_pem);
    let c = Cluster::load(&opts(&fixture("tiup/prod.yaml"), Some(&tls))).unwrap();
    let (inv, notes) = c.inventory(AuditOptions::default()).unwrap();
    assert!(inv.ca_key.is_none());
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert_eq!(notes[0].code.as_str(), "CA_KEY_SKIPPED");
    // The audit still runs, without the unlisted identity.
    let plan = Plan::new(inv).unwrap();
    assert!(!plan.identities.iter().any(|i| i.name == "unlisted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn component_configs_alone_with_a_ca() {
    let lab = lab().await;
    let dir = tempfile::tempdir().unwrap();
    let pki = lab.pki();
    let kv = lab.endpoint("tikv").unwrap().addr;
    let kvs = lab.endpoint("tikv-status").unwrap().addr;
    let tikv = dir.path().join("tikv.toml");
    std::fs::write(
        &tikv,
        format!(
            "[server]\naddr = \"0.0.0.0:{}\"\nadvertise-addr = \"{kv}\"\nadvertise-status-addr = \"{kvs}\"\n\n[security]\nca-path = {:?}\ncert-path = {:?}\nkey-path = {:?}\ncert-allowed-cn = [\"tidb\", \"pd\", \"tikv\"]\n",
            kv.port(),
            pki.ca_cert.display().to_string(),
            pki.identities["tikv"].cert.display().to_string(),
            pki.identities["tikv"].key.display().to_string(),
        ),
    )
    .unwrap();
    let o = TiupOptions {
        component_configs: vec![tlsaudit_engine::tiup::ConfigArg::file(None, tikv)],
        ca: Some(pki.ca_cert.clone()),
        ..Default::default()
    };
    let cluster = Cluster::load(&o).unwrap();
    let findings = lint(&cluster, &LintOptions::default());
    assert!(findings.is_empty(), "{findings:#?}");
    let (inv, _) = cluster.inventory(AuditOptions::default()).unwrap();
    assert_eq!(inv.identities.len(), 1);
    assert_eq!(inv.identities[0].name, "tikv");
    assert_eq!(inv.endpoints.len(), 2);
    let auditor = Auditor::new(Plan::new(inv).unwrap());
    let snap = auditor.run_round(None).await;
    let i = snap
        .identity_names
        .iter()
        .position(|n| n == "tikv")
        .unwrap();
    let u = snap
        .identity_names
        .iter()
        .position(|n| n == "anonymous")
        .unwrap();
    assert_eq!(
        snap.cell(IdentityId(i), EndpointId(0)).verdict,
        Some(Verdict::Secure)
    );
    assert_eq!(
        snap.cell(IdentityId(u), EndpointId(0)).verdict,
        Some(Verdict::Enforced)
    );
    // The lab's TiKV also admits prod-client, which this file does not list: not a cell of
    // this audit (no client identity), so nothing is open.
    assert!(!snap.cells.iter().any(|c| c.verdict == Some(Verdict::Open)));
    lab.stop().await;
}

/// `diagnose` and `tui` take the TiDB inputs like `report`: the endpoint's role (and its
/// allow-list) come from the topology, and the verdict is the report's for that cell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_and_tui_read_the_topology() {
    let lab = lab().await;
    let dir = tempfile::tempdir().unwrap();
    let tls = tlsaudit_testkit::tls_from_lab(&lab, dir.path());
    let topo = lab_topology(&lab, dir.path());
    let kv = format!(
        "tikv-127.0.0.1-{}",
        lab.endpoint("tikv").unwrap().addr.port()
    );
    let (diag, tui) = tokio::task::spawn_blocking(move || {
        let diag = tlsaudit_testkit::bin()
            .args([
                "diagnose",
                &kv,
                "--as",
                "tidb",
                "--format",
                "json",
                "--topology",
            ])
            .arg(&topo)
            .arg("--tls-dir")
            .arg(&tls)
            .output()
            .unwrap();
        // Not a terminal: the dashboard writes the JSON report of one round.
        let tui = tlsaudit_testkit::bin()
            .args(["tui", "--allow-unreachable", "--topology"])
            .arg(&topo)
            .arg("--tls-dir")
            .arg(&tls)
            .output()
            .unwrap();
        (diag, tui)
    })
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&diag.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&diag.stderr)));
    assert_eq!(v["target"]["role"], "grpc", "{v}");
    assert_eq!(v["target"]["protocol"], "grpc");
    assert_eq!(v["verdict"]["cell"], "secure", "{}", v["verdict"]);
    assert_eq!(diag.status.code(), Some(0));
    let r: serde_json::Value = serde_json::from_slice(&tui.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&tui.stderr)));
    assert_eq!(r["schema"], "tlsaudit.report/v1");
    assert!(r["summary"]["cells"].as_u64().unwrap() > 0);
    lab.stop().await;
}

#[test]
fn advertise_addresses_are_what_callers_dial() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("adv.yaml");
    let text = "global:\n  enable_tls: true\n\
        pd_servers:\n  - host: 10.0.9.1\n    advertise_client_addr: \"https://pd.example:12379\"\n    advertise_peer_addr: \"http://10.0.9.11:12380\"\n\
        tikv_servers:\n  - host: 10.0.9.2\n    advertise_addr: \"10.0.9.12:30160\"\n    advertise_status_addr: \"10.0.9.12\"\n\
        tidb_servers:\n  - host: 10.0.9.3\n    advertise_address: \"[fd00::3]\"\n";
    std::fs::write(&topo, text).unwrap();
    let cluster = Cluster::load(&opts(&topo, None)).unwrap();
    let addrs: Vec<(String, String)> = cluster
        .instances
        .iter()
        .flat_map(|i| {
            i.endpoints
                .iter()
                .map(|e| (i.endpoint_name(e.role).unwrap(), e.address.clone()))
        })
        .collect();
    let addr = |n: &str| {
        addrs
            .iter()
            .find(|(name, _)| name == n)
            .map_or_else(|| panic!("{n} in {addrs:?}"), |(_, a)| a.as_str())
    };
    assert_eq!(addr("pd-pd.example-12379"), "pd.example:12379");
    assert_eq!(addr("pd-10.0.9.11-12380"), "10.0.9.11:12380");
    assert_eq!(addr("tikv-10.0.9.12-30160"), "10.0.9.12:30160");
    // A host alone keeps the port.
    assert_eq!(addr("tikv-10.0.9.12-20180"), "10.0.9.12:20180");
    assert_eq!(addr("tidb-fd00::3-10080"), "[fd00::3]:10080");
    assert_eq!(addr("tidb-fd00::3-4000"), "[fd00::3]:4000");
    // http:// in an advertised URL of a TLS cluster.
    let f = lint(&cluster, &LintOptions::default());
    let h = f
        .iter()
        .find(|x| x.code.as_str() == "HTTP_URL_WITH_TLS")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert!(
        h.source
            .as_deref()
            .unwrap()
            .ends_with("adv.yaml:6:26: pd_servers[0].advertise_peer_addr"),
        "{h:#?}"
    );

    // Bad values: exit 2 with file, line and column.
    for (bad, at, says) in [
        (
            "    advertise_address: \"10.0.9.3:4000\"\n",
            "13:24",
            "advertise_address is a host",
        ),
        (
            "    advertise_address: [a, b]\n",
            "13:24",
            "advertise_address must be a host name or IP",
        ),
    ] {
        let t = text.replace("    advertise_address: \"[fd00::3]\"\n", bad);
        std::fs::write(&topo, &t).unwrap();
        let (code, out, err) = cli(&["lint", "--topology", topo.to_str().unwrap()]);
        assert_eq!(code, 2, "{out}{err}");
        assert!(err.contains(&format!("adv.yaml:{at}: ")), "{err}");
        assert!(err.contains(says), "{err}");
    }
    let t = text.replace("10.0.9.12:30160", "10.0.9.12:grpc");
    std::fs::write(&topo, &t).unwrap();
    let (code, _, err) = cli(&["lint", "--topology", topo.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("adv.yaml:9:21: tikv_servers[0]: advertise_addr has no valid port"),
        "{err}"
    );
}
