//! `tlsaudit fix` end to end: a flawed TiUP topology applied to the embedded lab, a report,
//! `fix --from report.json --write`, the lab reloaded from the patched topology, a second
//! report: exactly the fixed findings are gone.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tlsaudit_engine::tiup::{Cluster, TiupOptions};
use tlsaudit_lab::{Behavior, EndpointSpec, Lab, LabSpec, SqlConfig};
use tlsaudit_testkit::cli;

async fn lab() -> Lab {
    let sql = SqlConfig {
        tls: true,
        client_ca: false,
        require_secure_transport: true,
        account: None,
    };
    Lab::start(
        LabSpec::new("prod")
            .with(EndpointSpec::pd("pd-client", &[]))
            .with(EndpointSpec::pd("pd-peer", &[]).with_role("peer"))
            .with(EndpointSpec::tikv_grpc("tikv", &[]))
            .with(EndpointSpec::tikv_status("tikv-status", &[]))
            .with(EndpointSpec::tidb_status("tidb-status", &[]))
            .with(EndpointSpec::tidb_sql("tidb-sql", sql)),
    )
    .await
    .unwrap()
}

/// A topology of the lab with three flawed lists (PD lacks its own CN, TiKV lacks tidb, TiDB
/// lacks TiUP's client), the TiKV list in block style.
fn flawed_topology(lab: &Lab, dir: &Path) -> PathBuf {
    let port = |n: &str| lab.endpoint(n).unwrap().addr.port();
    let text = format!(
        "# prod cluster\nglobal:\n  user: tidb\n  enable_tls: true\n\
         server_configs:\n  pd:\n    security.cert-allowed-cn: [\"tidb\", \"tikv\", \"prod-client\"]\n  tikv:\n    # who may call TiKV\n    security.cert-allowed-cn:\n      - pd\n      - tikv\n      - prod-client\n  tidb:\n    security.cluster-verify-cn: [\"tidb\"]\n\n\
         pd_servers:\n  - host: 127.0.0.1\n    client_port: {}\n    peer_port: {}\n\
         tikv_servers:\n  - host: 127.0.0.1\n    port: {}\n    status_port: {}\n\
         tidb_servers:\n  - host: 127.0.0.1\n    port: {}\n    status_port: {}\n",
        port("pd-client"),
        port("pd-peer"),
        port("tikv"),
        port("tikv-status"),
        port("tidb-sql"),
        port("tidb-status"),
    );
    let p = dir.join("prod.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

fn with_list(b: &Behavior, list: Vec<String>) -> Behavior {
    match b {
        Behavior::Pd { .. } => Behavior::Pd { allowed_cn: list },
        Behavior::TikvGrpc { .. } => Behavior::TikvGrpc { allowed_cn: list },
        Behavior::TikvStatus { .. } => Behavior::TikvStatus { allowed_cn: list },
        Behavior::TidbStatus { .. } => Behavior::TidbStatus { verify_cn: list },
        other => other.clone(),
    }
}

/// Reload the lab's servers from the topology's lists, except those named in `skip` (servers
/// that have not applied their config).
fn apply_topology(lab: &mut Lab, topology: &Path, skip: &[&str]) {
    let cluster = Cluster::load(&TiupOptions {
        topology: Some(topology.to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let names: Vec<String> = lab.endpoints().iter().map(|e| e.name.clone()).collect();
    for name in names {
        if skip.contains(&name.as_str()) {
            continue;
        }
        let addr = lab.endpoint(&name).unwrap().addr.to_string();
        let list = cluster
            .instances
            .iter()
            .flat_map(|i| i.endpoints.iter())
            .find(|e| e.address == addr)
            .and_then(|e| e.list.as_ref())
            .map(|l| l.value.clone())
            .unwrap_or_default();
        let mut spec = lab.spec(&name).unwrap().clone();
        spec.behavior = with_list(&spec.behavior, list);
        lab.reconfigure(spec).unwrap();
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

/// The findings of `tlsaudit report INPUTS --format json --output OUT` as (code, endpoint,
/// identity).
async fn findings(inputs: Vec<String>, out: &Path) -> BTreeSet<(String, String, String)> {
    let mut args = vec!["report".to_string()];
    args.extend(inputs);
    args.extend(["--format".into(), "json".into(), "--output".into(), s(out)]);
    let (_, stdout, stderr) = run(args).await;
    assert!(stdout.is_empty(), "{stdout}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap_or_default();
    let f = v["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("{stderr}"));
    let text = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_string();
    f.iter()
        .map(|x| (text(&x["code"]), text(&x["endpoint"]), text(&x["identity"])))
        .collect()
}

/// The report's findings of a topology and its TLS folder.
async fn report(topology: &Path, tls: &Path, out: &Path) -> BTreeSet<(String, String, String)> {
    findings(
        vec!["--topology".into(), s(topology), "--tls-dir".into(), s(tls)],
        out,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fix_clears_exactly_the_fixed_findings() {
    let mut lab = lab().await;
    let dir = tempfile::tempdir().unwrap();
    let tls = tlsaudit_testkit::tls_from_lab(&lab, dir.path());
    let topo = flawed_topology(&lab, dir.path());
    let original = std::fs::read_to_string(&topo).unwrap();
    // tikv-status has not applied its list: CN_NOT_ENFORCED until it is reloaded.
    apply_topology(&mut lab, &topo, &["tikv-status"]);
    let before = report(&topo, &tls, &dir.path().join("before.json")).await;
    let codes: BTreeSet<&str> = before.iter().map(|(c, _, _)| c.as_str()).collect();
    for c in [
        "CALLER_NOT_LISTED",
        "PD_OWN_CN_NOT_LISTED",
        "TIUP_CLIENT_NOT_LISTED",
        "CN_NOT_ENFORCED",
    ] {
        assert!(codes.contains(c), "{c} in {before:#?}");
    }

    let (code, stdout, stderr) = run(vec![
        "fix".into(),
        "--topology".into(),
        s(&topo),
        "--tls-dir".into(),
        s(&tls),
        "--from".into(),
        s(&dir.path().join("before.json")),
        "--write".into(),
    ])
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("tiup cluster reload prod -R pd,tikv,tidb"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "tiup cluster reload prod -N 127.0.0.1:{}",
            lab.endpoint("tikv").unwrap().addr.port()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("-      - pd\n"), "a unified diff: {stdout}");
    assert_eq!(
        std::fs::read_to_string(topo.with_file_name("prod.yaml.bak")).unwrap(),
        original
    );
    let patched = std::fs::read_to_string(&topo).unwrap();
    assert!(patched.starts_with("# prod cluster\n"), "{patched}");
    assert!(
        patched.contains(
            "    security.cert-allowed-cn: [\"pd\", \"tikv\", \"prod-client\", \"tidb\"]\n  tidb:"
        ),
        "{patched}"
    );
    assert!(
        // PD joins TiDB's list: TiDB Dashboard (inside PD) reads TiDB's status port.
        patched.contains("security.cluster-verify-cn: [\"tidb\", \"prod-client\", \"pd\"]"),
        "{patched}"
    );

    // The reload: every server applies the patched topology.
    apply_topology(&mut lab, &topo, &[]);
    let after = report(&topo, &tls, &dir.path().join("after.json")).await;
    let fixed: BTreeSet<_> = before.difference(&after).cloned().collect();
    assert!(
        after.is_subset(&before),
        "new findings: {:#?}",
        after.difference(&before)
    );
    for (c, e, i) in &fixed {
        assert!(
            stdout.contains(&format!("fixes {c} ")),
            "{c} {e} {i}: {stdout}"
        );
    }
    for (c, _, _) in &after {
        assert!(
            ![
                "CALLER_NOT_LISTED",
                "PD_OWN_CN_NOT_LISTED",
                "TIUP_CLIENT_NOT_LISTED",
                "CN_NOT_ENFORCED"
            ]
            .contains(&c.as_str()),
            "{after:#?}"
        );
    }
    // A second fix has nothing left to change in the topology.
    let (code, stdout, _) = run(vec![
        "fix".into(),
        "--topology".into(),
        s(&topo),
        "--tls-dir".into(),
        s(&tls),
        "--from".into(),
        s(&dir.path().join("after.json")),
    ])
    .await;
    assert_eq!(code, 0);
    assert!(!stdout.contains("patch of"), "{stdout}");
    lab.stop().await;
}

/// The findings of `lint --format json` as (code, source file).
fn lint_codes(args: &[&str]) -> BTreeSet<String> {
    let (_, stdout, stderr) = cli(&[&["lint", "--format", "json"], args].concat());
    let v: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn fix_patches_a_component_toml_and_lint_clears_its_findings() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("prod.yaml");
    std::fs::write(
        &topo,
        "global:\n  user: tidb\n  enable_tls: true\npd_servers:\n  - host: 10.0.1.11\n",
    )
    .unwrap();
    let pd = dir.path().join("pd.toml");
    let original = "# PD\n[security]\ncert-allowed-cn = [\n  \"tidb\",\n  \"tikv\",\n]\n\n[log]\nlevel = \"info\"\n";
    std::fs::write(&pd, original).unwrap();
    let args = ["--topology", &s(&topo), "--component-config", &s(&pd)];
    let before = lint_codes(&args);
    assert!(before.contains("TIUP_CLIENT_NOT_LISTED"), "{before:?}");

    let (code, stdout, stderr) = cli(&[&["fix"], &args[..], &["--write"]].concat());
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("patch of {}", pd.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("+cert-allowed-cn = [\"tidb\", \"tikv\", \"prod-client\"]"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("patch of ") || !stdout.contains(&format!("patch of {}", topo.display())),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pd.toml.bak")).unwrap(),
        original
    );
    let patched = std::fs::read_to_string(&pd).unwrap();
    assert!(
        patched.starts_with("# PD\n[security]\ncert-allowed-cn = [")
            && patched.ends_with("[log]\nlevel = \"info\"\n"),
        "{patched}"
    );

    let after = lint_codes(&args);
    assert!(after.is_subset(&before), "{after:?}");
    assert!(!after.contains("TIUP_CLIENT_NOT_LISTED"), "{after:?}");
}

/// The inventory's findings, from `report --config`.
async fn report_inventory(inv: &Path, out: &Path) -> BTreeSet<(String, String, String)> {
    findings(vec!["--config".into(), s(inv)], out).await
}

/// The demo's findings through `fix --config`: the inventory is patched, each server applies
/// what the patched inventory says it is configured with (lab.toml, as a restart would), and
/// a second audit has lost exactly the findings `fix` said it fixes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fix_on_the_demo_inventory_clears_exactly_its_fixed_findings() {
    let (mut lab, inv) = tlsaudit::demo::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(&inv).unwrap();
    let before_json = dir.path().join("before.json");
    let before = report_inventory(&inv, &before_json).await;
    let t = |c: &str, e: &str, i: &str| (c.to_string(), e.to_string(), i.to_string());
    let expect_fixed = BTreeSet::from([
        t("CALLER_NOT_LISTED", "tikv-2", "tidb"),
        t("CN_NOT_ENFORCED", "tikv-3", "client"),
        t("CN_NOT_ENFORCED", "tikv-3", "unlisted"),
    ]);
    assert!(expect_fixed.is_subset(&before), "{before:#?}");

    let (code, stdout, stderr) = run(vec![
        "fix".into(),
        "--config".into(),
        s(&inv),
        "--from".into(),
        s(&before_json),
        "--write".into(),
    ])
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("3 finding(s) fixed by this patch, 3 not"),
        "{stdout}"
    );
    assert!(
        stdout.contains("set [security] cert-allowed-cn = [pd, tikv, tiflash, tidb] in tikv.toml"),
        "{stdout}"
    );
    assert!(stdout.contains("tikv-3 at "), "{stdout}");
    assert!(
        stdout.contains("restart it so that it applies tikv.toml"),
        "{stdout}"
    );
    for c in ["PARTIAL_TLS", "PLAINTEXT_ENDPOINT", "SERVER_UNTRUSTED"] {
        assert!(
            stdout.contains(&format!("  {c} ")),
            "{c} not fixed: {stdout}"
        );
    }
    let bak = inv.with_file_name(format!(
        "{}.bak",
        inv.file_name().unwrap().to_string_lossy()
    ));
    assert_eq!(std::fs::read_to_string(&bak).unwrap(), original);

    // The restarts: every server applies the list the patched inventory declares.
    let patched = tlsaudit_engine::inventory::Inventory::load(&inv).unwrap();
    let mut lab_toml = String::new();
    for ep in patched
        .endpoints
        .iter()
        .filter(|e| !e.allowed_cn.is_empty())
    {
        let items: Vec<String> = ep.allowed_cn.iter().map(|c| format!("{c:?}")).collect();
        lab_toml += &format!("[{:?}]\nallowed_cn = [{}]\n", ep.name, items.join(", "));
    }
    let changed = tlsaudit::demo::apply_lab_config(&mut lab, &lab_toml).unwrap();
    assert_eq!(changed, ["tikv-2", "tikv-3"], "{lab_toml}");

    let after = report_inventory(&inv, &dir.path().join("after.json")).await;
    let fixed: BTreeSet<_> = before.difference(&after).cloned().collect();
    assert_eq!(fixed, expect_fixed, "after: {after:#?}");
    assert!(
        after.is_subset(&before),
        "new: {:#?}",
        after.difference(&before)
    );

    // Nothing left for fix to change in the inventory.
    let (code, stdout, _) = run(vec![
        "fix".into(),
        "--config".into(),
        s(&inv),
        "--from".into(),
        s(&dir.path().join("after.json")),
    ])
    .await;
    assert_eq!(code, 0);
    assert!(!stdout.contains("patch of"), "{stdout}");
    assert!(stdout.contains("0 finding(s) fixed"), "{stdout}");
    lab.stop().await;
}

#[test]
fn fix_config_needs_a_report_and_names_the_file() {
    let (code, _, stderr) = cli(&["fix", "--config", "/nonexistent/tlsaudit.toml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--from"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("tlsaudit.toml");
    std::fs::write(&inv, "[cluster]\nname = \"c\"\nca = \"ca.crt\"\n").unwrap();
    let rep = dir.path().join("r.json");
    std::fs::write(&rep, "{\"not\": \"a report\"}").unwrap();
    let (code, _, stderr) = cli(&["fix", "--config", &s(&inv), "--from", &s(&rep)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("r.json"), "{stderr}");
}
