//! End-to-end audit of the demo lab: every verdict appears exactly where planted, and nowhere
//! else; the JSON report validates against the published schema; exit codes.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use tlsaudit_engine::audit::{EndpointId, IdentityId};
use tlsaudit_testkit::bin;

use tlsaudit_engine::audit::{Auditor, Plan, Verdict};
use tlsaudit_engine::inventory::Inventory;

fn verdict_map(auditor: &Auditor) -> BTreeMap<(String, String), Verdict> {
    let snap = auditor.snapshot();
    let mut m = BTreeMap::new();
    for (i, id) in snap.identity_names.iter().enumerate() {
        for (e, ep) in snap.endpoint_names.iter().enumerate() {
            m.insert(
                (id.clone(), ep.clone()),
                snap.cell(IdentityId(i), EndpointId(e))
                    .verdict
                    .expect("probed"),
            );
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verdict_appears_exactly_where_planted() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let inv = Inventory::load(&config).unwrap();
    let auditor = Auditor::new(Plan::new(inv).unwrap());
    let snap = auditor.run_round(None).await;
    assert!(!snap.running);
    assert_eq!(snap.done, snap.total);
    let got = verdict_map(&auditor);

    let ids = [
        "tidb",
        "tikv",
        "pd",
        "tiflash",
        "client",
        "anonymous",
        "foreign",
        "unlisted",
    ];
    assert_eq!(snap.identity_names, ids);
    for ((id, ep), v) in &got {
        let (id, ep) = (id.as_str(), ep.as_str());
        let expected = tlsaudit_testkit::demo_planted(id, ep);
        assert_eq!(*v, expected, "cell ({id}, {ep})");
    }
    let codes: Vec<(&str, Option<&str>, Option<&str>)> = snap
        .findings
        .iter()
        .map(|f| {
            (
                f.code.as_str(),
                f.endpoint.as_deref(),
                f.identity.as_deref(),
            )
        })
        .collect();
    assert!(
        codes.contains(&("CALLER_NOT_LISTED", Some("tikv-2"), Some("tidb"))),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("CN_NOT_ENFORCED", Some("tikv-3"), Some("client"))),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("CN_NOT_ENFORCED", Some("tikv-3"), Some("unlisted"))),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("SERVER_UNTRUSTED", Some("tidb-2-status"), None)),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("PLAINTEXT_ENDPOINT", Some("tikv-3-status"), None)),
        "{codes:?}"
    );
    assert!(codes.contains(&("PARTIAL_TLS", None, None)), "{codes:?}");
    let fix = &snap
        .findings
        .iter()
        .find(|f| f.code.as_str() == "CALLER_NOT_LISTED")
        .unwrap()
        .fix;
    assert!(
        fix.contains("add \"tidb\" to [security] cert-allowed-cn in tikv.toml"),
        "{fix}"
    );
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_report_validates_against_the_published_schema() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let inv = Inventory::load(&config).unwrap();
    let auditor = Auditor::new(Plan::new(inv).unwrap());
    let snap = auditor.run_round(None).await;
    let json = tlsaudit_report::Report::build(&auditor.plan(), &snap)
        .to_json()
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/report.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(value["schema"], "tlsaudit.report/v1");
    assert_eq!(value["summary"]["cells"], 120);
    assert_eq!(value["summary"]["verdicts"]["open"], 2);
    assert!(!json.contains("PRIVATE KEY"));
    // A document that breaks the contract is refused, so the check can fail.
    let mut broken = value.clone();
    broken["cells"][0]["verdict"] = serde_json::json!("fine");
    assert!(!validator.is_valid(&broken));
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_exit_codes_follow_fail_on() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    // The demo has critical findings: exit 1 by default.
    let out = bin()
        .args(["report", "--format", "json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["cluster"]["name"], "demo");

    // An inventory of only healthy endpoints: exit 0; deterministic order of cells.
    let healthy = config.with_file_name("healthy.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let keep: Vec<&str> = text
        .split("[[endpoints]]")
        .enumerate()
        .filter(|(i, chunk)| {
            *i == 0 || chunk.contains("name = \"pd-1\"") || chunk.contains("name = \"tikv-1\"\n")
        })
        .map(|(_, c)| c)
        .collect();
    std::fs::write(&healthy, keep.join("[[endpoints]]")).unwrap();
    let out = bin()
        .args(["report", "--format", "table", "--config"])
        .arg(&healthy)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}");
    assert!(
        table.lines().all(|l| l.chars().count() <= 100),
        "fits 100 columns:\n{table}"
    );
    assert!(table.contains("pd-1") && table.contains("tikv-1"));
    // Info findings do not fail a warning threshold; NO_ALLOW_LIST does not apply here.
    let out = bin()
        .args(["report", "--fail-on", "warning", "--config"])
        .arg(&healthy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));

    // --output writes the file; stdout stays empty.
    let file = config.with_file_name("report.json");
    let out = bin()
        .args(["report", "--config"])
        .arg(&healthy)
        .arg("--output")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(v["summary"]["endpoints"], 2);
    lab.stop().await;
}

#[test]
fn config_errors_exit_2_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tlsaudit.toml");
    std::fs::write(&path, "[cluster]\nname = \"x\"\nca = \"ca.crt\"\n\n[[endpoints]]\nname = \"pd\"\ncomponent = \"pd\"\nadress = \"1.2.3.4:2379\"\n").unwrap();
    let out = bin()
        .args(["report", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:8:1:", path.display())), "{err}");
    assert!(err.contains("unknown field `adress`"), "{err}");

    // A missing CA file is named as such.
    std::fs::write(&path, "[cluster]\nname = \"x\"\nca = \"ca.crt\"\n").unwrap();
    let out = bin()
        .args(["report", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ca.crt: file not found"), "{err}");
}

#[test]
fn shipped_example_config_parses() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tlsaudit.toml");
    let inv = Inventory::load(std::path::Path::new(path)).unwrap();
    assert!(!inv.endpoints.is_empty());
    assert!(!inv.identities.is_empty());
}
