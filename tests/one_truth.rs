//! One truth: for every cell of the demo, `diagnose` reaches the verdict the report gives, by the
//! same rule (the audit's expectation), including the open and the blocked cells; through the
//! library for every cell and through the binary for the planted ones.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tlsaudit_engine::audit::{Auditor, EndpointId, IdentityId, Plan, Verdict};
use tlsaudit_engine::diagnose::{self, Cause, Request};
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_testkit::bin;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_agrees_with_the_report_on_every_demo_cell() {
    let (_lab, config) = tlsaudit::demo::start().await.unwrap();
    let auditor = Auditor::new(Plan::new(Inventory::load(&config).unwrap()).unwrap());
    let snap = auditor.run_round(None).await;
    let mut disagree = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, id) in snap.identity_names.iter().enumerate() {
        for (e, ep) in snap.endpoint_names.iter().enumerate() {
            let report = snap
                .cell(IdentityId(i), EndpointId(e))
                .verdict
                .expect("probed");
            let req = Request {
                target: ep.clone(),
                as_identity: Some(id.clone()),
                config: Some(config.clone()),
                timeout: Some(Duration::from_secs(3)),
                ..Request::default()
            };
            let inputs = req.resolve().unwrap();
            let d = diagnose::diagnose(&inputs).await;
            seen.insert(report);
            if d.verdict.cell != Some(report) {
                disagree.push(format!(
                    "{id} -> {ep}: report {report:?}, diagnose {:?} ({})",
                    d.verdict.cell, d.verdict.headline
                ));
            }
            // The exit code follows the cell, as the report's gate does.
            assert_eq!(d.exit_code(), u8::from(report.is_failing()), "{id} -> {ep}");
            if report == Verdict::Open {
                assert!(
                    d.causes().contains(&Cause::ListNotEnforced),
                    "{id} -> {ep}: {:?}",
                    d.causes()
                );
            }
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
    for v in [
        Verdict::Open,
        Verdict::Blocked,
        Verdict::Secure,
        Verdict::Enforced,
    ] {
        assert!(seen.contains(&v), "the demo has no {v:?} cell");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_calls_the_open_cell_open_and_the_enforced_cell_enforced() {
    let (_lab, config) = tlsaudit::demo::start().await.unwrap();
    let out = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let mut c = bin();
            c.args(args).arg("--config").arg(&config);
            c.output().expect("binary runs")
        };
        (
            run(&["diagnose", "tikv-3", "--as", "client"]),
            run(&["diagnose", "tikv-3", "--as", "client", "--format", "json"]),
            run(&["diagnose", "tikv-1", "--as", "client", "--format", "json"]),
            run(&["diagnose", "tikv-2", "--as", "tidb", "--format", "json"]),
            run(&["diagnose", "pd-1", "--as", "anonymous", "--format", "json"]),
        )
    })
    .await
    .unwrap();
    let (open_text, open, enforced, blocked, anonymous) = out;
    let text = String::from_utf8_lossy(&open_text.stdout);
    assert_eq!(open_text.status.code(), Some(1), "{text}");
    assert!(text.contains("[OPEN]"), "{text}");
    assert!(!text.contains("WORKS"), "{text}");
    assert!(text.contains("[list_not_enforced]"), "{text}");
    assert!(text.contains("does not enforce its list"), "{text}");
    let json = |o: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let v = json(&open);
    assert_eq!(v["verdict"]["cell"], "open");
    assert_eq!(v["verdict"]["expected"]["allow"], false);
    let v = json(&enforced);
    assert_eq!(enforced.status.code(), Some(0));
    assert_eq!(v["verdict"]["cell"], "enforced");
    let v = json(&blocked);
    assert_eq!(blocked.status.code(), Some(1));
    assert_eq!(v["verdict"]["cell"], "blocked");
    assert_eq!(v["verdict"]["expected"]["needed"], true);
    let v = json(&anonymous);
    assert_eq!(anonymous.status.code(), Some(0), "{v}");
    assert_eq!(v["verdict"]["cell"], "enforced");
}

/// Every output of the report says what the audit did not check: here the foreign identity is
/// switched off and no PD endpoint declares a version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_format_says_what_was_not_checked() {
    let (_lab, config) = tlsaudit::demo::start().await.unwrap();
    let outputs = tokio::task::spawn_blocking(move || {
        ["json", "table", "markdown", "html"].map(|format| {
            let out = bin()
                .args(["report", "--no-foreign", "--format", format, "--config"])
                .arg(&config)
                .output()
                .unwrap();
            (format, String::from_utf8_lossy(&out.stdout).into_owned())
        })
    })
    .await
    .unwrap();
    for (format, text) in &outputs {
        assert!(
            text.contains("a certificate from another CA was not tried"),
            "{format}: {text}"
        );
        assert!(
            text.contains("PD&#39;s v8.4+ rule") || text.contains("PD's v8.4+ rule"),
            "{format}: {text}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&outputs[0].1).unwrap();
    assert_eq!(
        json["not_checked"].as_array().map(Vec::len),
        Some(2),
        "{json}"
    );
}
