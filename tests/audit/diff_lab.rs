//! `tlsaudit diff` and `report --baseline` around a planted change: two real audits of the
//! demo lab, before and after widening tikv-1's allow-list (the running server's, not the
//! inventory's) and swapping pd-2's server certificate for a re-issued one. The diff must name
//! exactly those changes.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tlsaudit"));
    c.current_dir(dir);
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin(dir).args(args).output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn schema(name: &str) -> jsonschema::Validator {
    let path = format!("{}/docs/{name}", env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn assert_valid(v: &jsonschema::Validator, doc: &serde_json::Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

fn report(dir: &Path, config: &Path, out: &str) {
    let o = run(
        dir,
        &[
            "report",
            "--format",
            "json",
            "--config",
            config.to_str().unwrap(),
            "--output",
            out,
        ],
    );
    // The demo has critical findings: 1; anything else is a failure.
    assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stderr));
}

/// The planted change, through the lab servers' own config (`lab.toml`, as `demo
/// --keep-running` applies it): tikv-1 now admits demo-client (the inventory still says it must
/// not), and pd-2 serves a re-issued certificate.
fn plant_change(lab: &mut tlsaudit_lab::Lab) {
    let path = tlsaudit::demo::write_lab_config(lab).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let kv = "[\"tikv-1\"]\nallowed_cn = [\"tidb\", \"pd\", \"tikv\", \"tiflash\"]\nserver_cert = \"good\"";
    let pd = "[\"pd-2\"]\nallowed_cn = [\"pd\", \"tidb\", \"tikv\", \"tiflash\", \"demo-client\"]\nserver_cert = \"good\"";
    assert!(text.contains(kv) && text.contains(pd), "{text}");
    let edited = text
        .replace(
            kv,
            &kv.replace("\"tiflash\"]", "\"tiflash\", \"demo-client\"]"),
        )
        .replace(pd, &pd.replace("\"good\"", "\"reissued\""));
    let changed = tlsaudit::demo::apply_lab_config(lab, &edited).unwrap();
    assert_eq!(changed, ["pd-2", "tikv-1"]);
    assert!(
        tlsaudit::demo::apply_lab_config(lab, &edited)
            .unwrap()
            .is_empty(),
        "applying the same config again changes nothing"
    );
    let bad = tlsaudit::demo::apply_lab_config(lab, "[\"tikv-1\"]\nserver_cert = \"shiny\"\n");
    assert!(bad.unwrap_err().contains("unknown kind \"shiny\""));
}

const FILTERS: &[(&str, &str)] = &[
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[date]"),
    (r"`[0-9a-f]{16}`", "`[sha256]`"),
    (r"\w{3} +\d+ \d{2}:\d{2}:\d{2} \d{4} \+00:00", "[not after]"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)]
async fn diff_names_exactly_the_planted_changes() {
    let (mut lab, config) = tlsaudit::demo::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    report(d, &config, "before.json");
    plant_change(&mut lab);
    report(d, &config, "after.json");

    // JSON: valid against its schema, and exactly the planted changes.
    let o = run(
        d,
        &["diff", "before.json", "after.json", "--format", "json"],
    );
    assert_eq!(code(&o), 1, "a newly open cell fails the default --fail-on");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_valid(&schema("diff.schema.json"), &doc);
    assert_eq!(doc["schema"], "tlsaudit.diff/v1");
    assert_eq!(
        doc["cells"],
        serde_json::json!([{
            "change": "newly_open", "identity": "client", "endpoint": "tikv-1",
            "before": "enforced", "after": "open"
        }])
    );
    let rotations = doc["rotations"].as_array().unwrap();
    assert_eq!(rotations.len(), 1, "{rotations:#?}");
    let r = &rotations[0];
    assert_eq!(r["endpoint"], "pd-2");
    assert_ne!(r["before"]["sha256"], r["after"]["sha256"]);
    assert_eq!(r["before"]["issuer"], r["after"]["issuer"]);
    assert_ne!(r["before"]["not_after"], r["after"]["not_after"]);
    for k in ["added", "removed", "changed"] {
        assert_eq!(doc["endpoints"][k], serde_json::json!([]), "endpoints {k}");
    }
    for k in ["added", "removed"] {
        assert_eq!(
            doc["identities"][k],
            serde_json::json!([]),
            "identities {k}"
        );
    }
    let added: Vec<(&str, &str, &str)> = doc["findings"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap(),
                f["endpoint"].as_str().unwrap_or("-"),
                f["identity"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(added, [("CN_NOT_ENFORCED", "tikv-1", "client")]);
    assert_eq!(doc["findings"]["resolved"], serde_json::json!([]));
    // A document that breaks the contract is refused, so the check can fail.
    let mut broken = doc.clone();
    broken["cells"][0]["change"] = serde_json::json!("worse");
    assert!(!schema("diff.schema.json").is_valid(&broken));

    // Text names the same.
    let o = run(d, &["diff", "before.json", "after.json"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("Newly open (1):\n  ! client -> tikv-1: enforced -> open"),
        "{text}"
    );
    assert!(
        text.contains("Server certificates changed (1):\n  ~ pd-2"),
        "{text}"
    );
    assert!(text.contains("fails --fail-on: 1 newly open"), "{text}");

    // Markdown, for a change ticket.
    let o = run(
        d,
        &["diff", "before.json", "after.json", "--format", "markdown"],
    );
    let md = String::from_utf8(o.stdout).unwrap();
    insta::with_settings!({ filters => FILTERS.to_vec(), prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("diff_markdown", md);
    });

    exit_codes(d);
    baseline(d, &config);
    lab.stop().await;
}

fn exit_codes(d: &Path) {
    let o = run(d, &["diff", "before.json", "before.json"]);
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("no changes"));
    let gate = |fail_on: &str| {
        code(&run(
            d,
            &["diff", "before.json", "after.json", "--fail-on", fail_on],
        ))
    };
    assert_eq!(gate("blocked"), 0, "nothing newly blocked");
    assert_eq!(gate("blocked,insecure,inventory"), 0);
    assert_eq!(gate("rotation"), 1);
    assert_eq!(gate("critical"), 1);
    assert_eq!(gate("any"), 1);
    // Reversed: the change is a fix, which fails nothing by default.
    assert_eq!(code(&run(d, &["diff", "after.json", "before.json"])), 0);

    // Bad input: exit 2 with the file named.
    let o = run(d, &["diff", "missing.json", "after.json"]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.json"));
    std::fs::write(d.join("other.json"), r#"{"schema": "tlsaudit.lint/1"}"#).unwrap();
    let o = run(d, &["diff", "before.json", "other.json"]);
    assert_eq!(code(&o), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("other.json") && err.contains("not a tlsaudit report"),
        "{err}"
    );
    assert_eq!(
        code(&run(
            d,
            &["diff", "before.json", "after.json", "--fail-on", "nope"]
        )),
        2
    );
}

/// `report --baseline`: the same changes marked in the JSON and the table.
fn baseline(d: &Path, config: &Path) {
    let cfg = config.to_str().unwrap();
    let o = run(
        d,
        &[
            "report",
            "--config",
            cfg,
            "--format",
            "json",
            "--baseline",
            "before.json",
        ],
    );
    assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_valid(&schema("report.schema.json"), &doc);
    assert_valid(&schema("diff.schema.json"), &doc["baseline"]);
    let marked: Vec<(&str, &str, &str)> = doc["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("baseline").is_some())
        .map(|c| {
            (
                c["identity"].as_str().unwrap(),
                c["endpoint"].as_str().unwrap(),
                c["baseline"]["change"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(marked, [("client", "tikv-1", "newly_open")]);
    assert_eq!(doc["baseline"]["rotations"][0]["endpoint"], "pd-2");

    let o = run(
        d,
        &[
            "report",
            "--config",
            cfg,
            "--format",
            "table",
            "--baseline",
            "before.json",
        ],
    );
    let table = String::from_utf8(o.stdout).unwrap();
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(row("tikv-1").contains("!*"), "{table}");
    assert!(row("pd-2").ends_with(" ~"), "{table}");
    assert!(!row("tikv-2").contains('*'), "{table}");
    assert!(table.contains("Newly open (1)"), "{table}");
    // The other formats are the ones asked for (they printed the table).
    for (format, start) in [
        ("html", "<!DOCTYPE html>"),
        ("markdown", "## tlsaudit report: cluster"),
        ("sarif", "{"),
    ] {
        let args = ["report", "--config", cfg, "--format", format];
        let o = run(d, &[&args[..], &["--baseline", "before.json"]].concat());
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(out.starts_with(start), "--format {format}: {out}");
    }
    // Without --baseline the report is unchanged: no baseline field.
    let o = run(d, &["report", "--config", cfg, "--format", "json"]);
    let plain: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(plain.get("baseline").is_none());
    assert!(plain["cells"][0].get("baseline").is_none());
}
