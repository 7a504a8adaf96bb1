//! Evidence an auditor accepts (issue 31): `--fail-on none`, a saved report rendered with exit
//! 0 unless `--fail-on` asks, and the provenance every format carries.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use serde_json::Value;
use tlsaudit_testkit::cli;

/// `p` as a `&str` for [`cli`].
fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One audit of the demo lab as JSON with `--fail-on none` (exit 0 although the lab has
/// critical findings), saved to `dir/report.json`; the config and the report's JSON.
async fn audit_demo(dir: &Path) -> (tlsaudit_lab::Lab, std::path::PathBuf, Value) {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let saved = dir.join("report.json");
    let args: Vec<String> = [
        "report",
        "--config",
        s(&config),
        "--format",
        "json",
        "--fail-on",
        "none",
        "-o",
        s(&saved),
    ]
    .map(String::from)
    .to_vec();
    let (code, _, err) = tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&a)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "--fail-on none exits 0: {err}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    (lab, config, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_on_none_and_a_saved_report_rendered_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let (_lab, _config, json) = audit_demo(dir.path()).await;
    assert!(json["summary"]["findings"]["critical"].as_u64().unwrap() > 0);
    let saved = dir.path().join("report.json");
    for format in ["html", "table", "markdown", "sarif", "json"] {
        let (code, _, err) = cli(&["report", "--from", s(&saved), "--format", format]);
        assert_eq!(
            code, 0,
            "rendering a saved report is no gate ({format}): {err}"
        );
    }
    let (code, _, err) = cli(&["report", "--from", s(&saved), "--fail-on", "critical"]);
    assert_eq!(
        code, 1,
        "--fail-on given: the saved report's findings fail: {err}"
    );
    let (code, _, err) = cli(&["report", "--from", s(&saved), "--fail-on", "NONE"]);
    assert_eq!(code, 0, "{err}");
}
