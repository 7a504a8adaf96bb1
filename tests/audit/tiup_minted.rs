//! The full matrix from TiUP's control machine: its `tls` folder holds only the CA, the CA key
//! and TiUP's client certificate, so the audit mints one identity per component of the topology
//! from the CA key, with the CN TiUP gives it, and marks it `minted`. Against the lab, a minted
//! identity gets the verdict the component's real certificate gets; a real `<role>.crt` wins.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]
#![allow(clippy::too_many_lines)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tlsaudit_engine::audit::{Auditor, EndpointId, IdentityId, IdentityKind, Plan, Verdict};
use tlsaudit_engine::inventory::AuditOptions;
use tlsaudit_engine::tiup::{Cluster, TiupOptions};
use tlsaudit_lab::{EndpointSpec, Lab, LabSpec, SqlConfig};
use tlsaudit_testkit::cli;
use tlsaudit_testkit::tiup_tls_dir as tls_dir;
use tlsaudit_testkit::yaml_list as q;

const PD_LIST: [&str; 6] = ["pd", "tidb", "tikv", "tiflash", "cdc", "prod-client"];
// TiKV's list lacks tiflash: the TiFlash learner's raft to TiKV is blocked, for the real
// certificate and the minted one alike.
const KV_LIST: [&str; 4] = ["tidb", "pd", "tikv", "prod-client"];
const TIDB_LIST: [&str; 2] = ["tidb", "prod-client"];
const FLASH_LIST: [&str; 3] = ["tidb", "tiflash", "prod-client"];
const LEARNER_LIST: [&str; 3] = ["tikv", "tiflash", "prod-client"];
const CDC_LIST: [&str; 2] = ["cdc", "prod-client"];

async fn lab() -> Lab {
    Lab::start(
        LabSpec::new("prod")
            .with(EndpointSpec::pd("pd-client", &PD_LIST))
            .with(EndpointSpec::pd("pd-peer", &PD_LIST))
            .with(EndpointSpec::tikv_grpc("tikv", &KV_LIST))
            .with(EndpointSpec::tikv_status("tikv-status", &KV_LIST))
            .with(EndpointSpec::tidb_status("tidb-status", &TIDB_LIST))
            .with(EndpointSpec::tidb_sql("tidb-sql", SqlConfig::default()))
            .with(EndpointSpec::tiflash_grpc("tiflash", &FLASH_LIST))
            // The TiFlash proxy is TiKV's code; its metrics port checks the CN in the handshake.
            .with(EndpointSpec::tikv_grpc("tiflash-proxy", &LEARNER_LIST))
            .with(EndpointSpec::tikv_status(
                "tiflash-proxy-status",
                &LEARNER_LIST,
            ))
            .with(EndpointSpec::pd("tiflash-metrics", &FLASH_LIST))
            // TiCDC: Go, HTTP, a client certificate asked for once a list is set.
            .with(EndpointSpec::tidb_status("cdc", &CDC_LIST)),
    )
    .await
    .unwrap()
}

/// A TiUP topology of the lab: PD, TiDB, TiKV, TiFlash and TiCDC on 127.0.0.1.
fn topology(lab: &Lab, dir: &Path) -> PathBuf {
    let port = |n: &str| lab.endpoint(n).unwrap().addr.port();
    let text = format!(
        "global:\n  user: tidb\n  enable_tls: true\n\
         server_configs:\n\
         \x20 pd:\n    security.cert-allowed-cn: [{pd}]\n\
         \x20 tikv:\n    security.cert-allowed-cn: [{kv}]\n\
         \x20 tidb:\n    security.cluster-verify-cn: [{db}]\n\
         \x20 tiflash:\n    security.cert_allowed_cn: [{fl}]\n\
         \x20 tiflash-learner:\n    security.cert-allowed-cn: [{le}]\n\
         \x20 cdc:\n    security.cert-allowed-cn: [{cdc}]\n\
         pd_servers:\n  - host: 127.0.0.1\n    client_port: {}\n    peer_port: {}\n\
         tikv_servers:\n  - host: 127.0.0.1\n    port: {}\n    status_port: {}\n\
         tidb_servers:\n  - host: 127.0.0.1\n    port: {}\n    status_port: {}\n\
         tiflash_servers:\n  - host: 127.0.0.1\n    flash_service_port: {}\n    flash_proxy_port: {}\n    flash_proxy_status_port: {}\n    metrics_port: {}\n\
         cdc_servers:\n  - host: 127.0.0.1\n    port: {}\n",
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
        port("cdc"),
        pd = q(&PD_LIST),
        kv = q(&KV_LIST),
        db = q(&TIDB_LIST),
        fl = q(&FLASH_LIST),
        le = q(&LEARNER_LIST),
        cdc = q(&CDC_LIST),
    );
    let p = dir.join("prod.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

/// One round over the lab: each identity's kind, and every cell's verdict by (identity,
/// endpoint name).
type Cells = BTreeMap<(String, String), Verdict>;

async fn audit(topo: &Path, tls: &Path) -> (BTreeMap<String, IdentityKind>, Cells) {
    let cluster = Cluster::load(&TiupOptions {
        topology: Some(topo.to_path_buf()),
        tls_dir: Some(tls.to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let (inv, notes) = cluster.inventory(AuditOptions::default()).unwrap();
    assert!(notes.is_empty(), "{notes:#?}");
    let plan = Plan::new(inv).unwrap();
    let kinds = plan
        .identities
        .iter()
        .map(|i| (i.name.clone(), i.kind))
        .collect();
    let auditor = Auditor::new(plan);
    let snap = auditor.run_round(None).await;
    let mut cells = BTreeMap::new();
    for (i, id) in snap.identity_names.iter().enumerate() {
        for (e, ep) in snap.endpoint_names.iter().enumerate() {
            let v = snap.cell(IdentityId(i), EndpointId(e)).verdict.unwrap();
            cells.insert((id.clone(), ep.clone()), v);
        }
    }
    (kinds, cells)
}

const COMPONENTS: [&str; 5] = ["pd", "tikv", "tidb", "tiflash", "cdc"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_machine_folder_gives_every_component_row_minted() {
    let lab = lab().await;
    let control = tempfile::tempdir().unwrap();
    let servers = tempfile::tempdir().unwrap();
    let topo = topology(&lab, control.path());
    // The control machine: CA, CA key and TiUP's client only.
    let (kinds, minted) = audit(&topo, &tls_dir(&lab, control.path(), &[])).await;
    // The same cluster with every component's real certificate at hand.
    let (real_kinds, real) = audit(&topo, &tls_dir(&lab, servers.path(), &COMPONENTS)).await;

    for c in COMPONENTS {
        assert_eq!(kinds.get(c), Some(&IdentityKind::Minted), "{c}: {kinds:?}");
        assert_eq!(real_kinds.get(c), Some(&IdentityKind::Configured), "{c}");
    }
    assert_eq!(kinds.get("client"), Some(&IdentityKind::Configured));
    assert_eq!(kinds.get("unlisted"), Some(&IdentityKind::Unlisted));
    // Every cell of a component's row: the minted identity gets the real certificate's verdict.
    assert_eq!(minted.len(), real.len());
    let mut compared = 0;
    for ((id, ep), v) in &real {
        assert_eq!(
            minted.get(&(id.clone(), ep.clone())),
            Some(v),
            "{id} -> {ep}: minted and real certificates differ"
        );
        compared += usize::from(COMPONENTS.contains(&id.as_str()));
    }
    assert_eq!(compared, COMPONENTS.len() * 11);
    // The matrix is not trivially the same everywhere: the list that lacks tiflash blocks it
    // at TiKV (a link TiFlash needs), and lists refuse components they do not name.
    let kv = format!(
        "tikv-127.0.0.1-{}",
        lab.endpoint("tikv").unwrap().addr.port()
    );
    let cdc = format!("cdc-127.0.0.1-{}", lab.endpoint("cdc").unwrap().addr.port());
    let cell = |id: &str, ep: &str| minted[&(id.to_string(), ep.to_string())];
    assert_eq!(cell("tiflash", &kv), Verdict::Blocked);
    assert_eq!(cell("tikv", &kv), Verdict::Secure);
    // TiCDC reads from TiKV too: a list without cdc blocks it.
    assert_eq!(cell("cdc", &kv), Verdict::Blocked);
    assert_eq!(cell("pd", &kv), Verdict::Secure);
    assert_eq!(cell("cdc", &cdc), Verdict::Secure);
    assert_eq!(cell("tidb", &cdc), Verdict::Enforced);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_certificate_wins_over_a_minted_one() {
    let lab = lab().await;
    let dir = tempfile::tempdir().unwrap();
    let topo = topology(&lab, dir.path());
    let tls = tls_dir(&lab, dir.path(), &["tidb"]);
    let (kinds, cells) = audit(&topo, &tls).await;
    assert_eq!(kinds.get("tidb"), Some(&IdentityKind::Configured));
    assert!(!kinds.contains_key("tidb-2"), "{kinds:?}");
    for c in ["pd", "tikv", "tiflash", "cdc"] {
        assert_eq!(kinds.get(c), Some(&IdentityKind::Minted), "{c}");
    }
    let kv = format!(
        "tikv-127.0.0.1-{}",
        lab.endpoint("tikv").unwrap().addr.port()
    );
    assert_eq!(cells[&("tidb".to_string(), kv)], Verdict::Secure);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_marks_minted_identities_in_json_and_table() {
    let lab = lab().await;
    let dir = tempfile::tempdir().unwrap();
    let topo = topology(&lab, dir.path());
    let tls = tls_dir(&lab, dir.path(), &[]);
    let (t, d) = (
        topo.to_str().unwrap().to_string(),
        tls.to_str().unwrap().to_string(),
    );
    let (json, table, scoped, unknown) = tokio::task::spawn_blocking(move || {
        let base = ["report", "--topology", &t, "--tls-dir", &d];
        let json = cli(&[&base[..], &["--format", "json"]].concat());
        let table = cli(&[&base[..], &["--format", "table"]].concat());
        let scoped = cli(&[&base[..], &["--format", "json", "--identity", "tiflash"]].concat());
        let unknown = cli(&[&base[..], &["--identity", "tiflsh"]].concat());
        (json, table, scoped, unknown)
    })
    .await
    .unwrap();
    // A minted identity is chosen by name like any other; a wrong name lists them.
    let v: serde_json::Value = serde_json::from_str(&scoped.1).unwrap();
    let names: Vec<&str> = v["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tiflash"], "{}", scoped.2);
    assert_eq!(unknown.0, 2, "{}", unknown.2);
    assert!(
        unknown.2.contains("no identity \"tiflsh\"") && unknown.2.contains("tiflash"),
        "{}",
        unknown.2
    );
    let (code, stdout, stderr) = json;
    assert!(code == 0 || code == 1, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let ids = v["identities"].as_array().unwrap();
    let kind = |n: &str| {
        ids.iter()
            .find(|i| i["name"] == n)
            .map(|i| (i["kind"].as_str().unwrap().to_string(), i["cn"].clone()))
    };
    for c in COMPONENTS {
        assert_eq!(
            kind(c),
            Some(("minted".to_string(), serde_json::json!(c))),
            "{c}"
        );
    }
    assert_eq!(kind("client").unwrap().0, "configured");
    // The blocked TiFlash -> TiKV link is a finding about the minted tiflash identity.
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "CALLER_NOT_LISTED" && f["identity"] == "tiflash"),
        "{stdout}"
    );
    let (code, out, err) = table;
    assert!(code == 0 || code == 1, "{err}");
    for c in COMPONENTS {
        assert!(out.contains(&format!("{c}*")), "{c}* in\n{out}");
    }
    assert!(
        out.contains("name*: minted from the CA key"),
        "the key explains the mark:\n{out}"
    );
    lab.stop().await;
}
