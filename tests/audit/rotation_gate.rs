//! A certificate rotation rolled out instance by instance from the TiUP control machine, with
//! the check `tlsaudit rotate` prints after each step run as written as the pipeline's gate.
//! The audit sees only what a control machine has (the topology, TiUP's tls folder with the CA,
//! its key and the client certificate; no instance's certificate) plus rotate's manifest. One
//! instance is left on its old certificate: its gate fails with ROTATION_NOT_APPLIED and the
//! TiUP commands that fix it, the whole-cluster report says the same, and once it is fixed
//! the rollout goes on to the end.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use tlsaudit_lab::Lab;

use super::init_lab::{apply_init, apply_rotation, lab_spec, lab_topology};

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Run the binary in `dir` (the printed checks name `before.json` relative to it).
async fn run_in(dir: &Path, args: Vec<String>) -> (i32, String, String) {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let out = tlsaudit_testkit::bin()
            .current_dir(dir)
            .args(&args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// The control machine's TiUP tls folder: the CA, its key, the client certificate; no
/// instance's own certificate.
fn control_tls_dir(out: &Path, ca_key: &Path, dir: &Path) -> PathBuf {
    let tls = dir.join("control-tls");
    std::fs::create_dir_all(&tls).unwrap();
    for f in ["ca.crt", "client.crt", "client.pem"] {
        std::fs::copy(out.join("tls").join(f), tls.join(f)).unwrap();
    }
    std::fs::copy(ca_key, tls.join("ca.pem")).unwrap();
    tls
}

/// The printed steps: (instance, the check command's arguments after `tlsaudit`).
fn steps(stdout: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut instance = String::new();
    for line in stdout.lines() {
        if let Some((n, rest)) = line.split_once(". ") {
            if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() {
                instance = rest.split(' ').next().unwrap().trim_end_matches(':').into();
            }
        }
        if let Some(cmd) = line.trim().strip_prefix("check:  tlsaudit ") {
            assert!(
                !cmd.contains('\'') && !cmd.contains('<'),
                "runs as written: {cmd}"
            );
            out.push((instance.clone(), cmd.split(' ').map(String::from).collect()));
        }
    }
    out
}

fn not_applied(report: &Value) -> Vec<Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "ROTATION_NOT_APPLIED")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_check_gates_a_rolling_rotation_and_stops_at_the_missed_instance() {
    let mut lab = Lab::start(lab_spec()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let topo = lab_topology(&lab, d, "");
    let (out, rotated) = (d.join("out"), d.join("rotated"));
    let pki = lab.pki().clone();
    let ca = ["--ca-cert", &s(&pki.ca_cert), "--ca-key", &s(&pki.ca_key)].map(String::from);
    let init = ["init", "--topology", &s(&topo.path), "--out", &s(&out)].map(String::from);
    let (code, _, err) = run_in(d, [init.to_vec(), ca.to_vec()].concat()).await;
    assert_eq!(code, 0, "{err}");
    apply_init(&mut lab, &out, &topo);
    let fragment = std::fs::read_to_string(out.join("tiup-server-configs.yaml")).unwrap();
    let full = d.join("prod.yaml");
    std::fs::write(&full, format!("{}{fragment}", topo.text)).unwrap();
    let tls = control_tls_dir(&out, &pki.ca_key, d);

    let rot = ["rotate", "--topology", &s(&full), "--out", &s(&rotated)].map(String::from);
    let ca = [
        "--ca-cert",
        &s(&tls.join("ca.crt")),
        "--ca-key",
        &s(&tls.join("ca.pem")),
    ]
    .map(String::from);
    let (code, stdout, err) = run_in(d, [rot.to_vec(), ca.to_vec()].concat()).await;
    assert_eq!(code, 0, "{err}");
    let before = stdout
        .lines()
        .find_map(|l| l.strip_prefix("before: tlsaudit "))
        .unwrap();
    let (code, _, err) = run_in(d, before.split(' ').map(String::from).collect()).await;
    assert_eq!(code, 0, "{err}");

    let steps = steps(&stdout);
    assert_eq!(steps.len(), 5, "4 instances and the client: {stdout}");
    let missed = steps[1].0.clone();
    assert!(missed.starts_with("tikv-"), "{missed}");
    for (instance, check) in &steps[..4] {
        if *instance != missed {
            apply_rotation(&mut lab, &out, &rotated, &topo, Some(instance));
        }
        let mut check = check.clone();
        check.extend(["--format", "json", "-o", "step.json"].map(String::from));
        let (code, _, err) = run_in(d, check).await;
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("step.json")).unwrap()).unwrap();
        if *instance != missed {
            assert_eq!(code, 0, "{instance}: {err}{:#}", report["findings"]);
            continue;
        }
        // The gate stops here: both TiKV endpoints still serve the old certificate.
        assert_eq!(code, 1, "{instance}: the gate stops at the missed instance");
        let found = not_applied(&report);
        assert_eq!(found.len(), 2, "{found:#?}");
        let node = instance.trim_start_matches("tikv-").replacen('-', ":", 1);
        let fix = found[0]["fix"].as_str().unwrap();
        assert!(
            fix.contains(&format!("tiup cluster reload prod -N {node}"))
                && fix.contains("tiup cluster push prod "),
            "{fix}"
        );
        // The whole-cluster report from the same inputs says the same of the missed instance
        // (and of those whose turn has not come).
        let whole = whole_report(d, &full, &tls, &rotated).await;
        let named = endpoints_of(&not_applied(&whole));
        assert!(endpoints_of(&found).is_subset(&named), "{named:?}");
        // Fixed as the finding says (its files copied, reloaded): the gate passes.
        apply_rotation(&mut lab, &out, &rotated, &topo, Some(instance));
        let mut again = check_of(&steps, instance);
        again.extend(["--format", "json", "-o", "step.json"].map(String::from));
        assert_eq!(run_in(d, again).await.0, 0, "{instance} once fixed");
    }
    // Every instance rolled out: the whole-cluster report has nothing left to say about it.
    let whole = whole_report(d, &full, &tls, &rotated).await;
    assert_eq!(not_applied(&whole), Vec::<Value>::new());
    lab.stop().await;
}

fn endpoints_of(findings: &[Value]) -> std::collections::BTreeSet<String> {
    findings
        .iter()
        .map(|f| f["endpoint"].as_str().unwrap().to_string())
        .collect()
}

async fn whole_report(d: &Path, topology: &Path, tls: &Path, rotated: &Path) -> Value {
    let args = [
        "report",
        "--topology",
        &s(topology),
        "--tls-dir",
        &s(tls),
        "--expect-rotation",
        &s(&rotated.join("rotation.json")),
        "--format",
        "json",
    ]
    .map(String::from);
    let (code, stdout, err) = run_in(d, args.to_vec()).await;
    assert_eq!(code, 0, "warnings do not fail a report by default: {err}");
    serde_json::from_str(&stdout).unwrap()
}

fn check_of(steps: &[(String, Vec<String>)], instance: &str) -> Vec<String> {
    steps.iter().find(|s| s.0 == instance).unwrap().1.clone()
}
