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
/// switched off and no PD endpoint declares a version (the demo's inventory without them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_format_says_what_was_not_checked() {
    let (_lab, demo) = tlsaudit::demo::start().await.unwrap();
    let text = std::fs::read_to_string(&demo).unwrap();
    assert!(text.contains("version = "), "the demo declares versions");
    let unversioned: String = text
        .lines()
        .filter(|l| !l.starts_with("version = "))
        .map(|l| format!("{l}\n"))
        .collect();
    let config = demo.with_file_name("unversioned.toml");
    std::fs::write(&config, unversioned).unwrap();
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

/// Subsets for production: `--component`, `--endpoint`, `--identity` narrow the audit, what they
/// leave out is listed under "not checked", and unknown names are input errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_subsets() {
    let (_lab, config) = tlsaudit::demo::start().await.unwrap();
    let run = move |args: &[&str]| {
        let mut c = bin();
        c.arg("report").args(args).arg("--config").arg(&config);
        c.output().unwrap()
    };
    let (scoped, by_name, bad_ep, bad_id) = tokio::task::spawn_blocking(move || {
        (
            run(&[
                "--format",
                "json",
                "--component",
                "tikv",
                "--identity",
                "tidb",
                "--identity",
                "anonymous",
            ]),
            run(&[
                "--format",
                "json",
                "--endpoint",
                "tikv-2",
                "--endpoint",
                "pd-1",
                "--identity",
                "tidb",
            ]),
            run(&["--endpoint", "nope"]),
            run(&["--identity", "nobody"]),
        )
    })
    .await
    .unwrap();
    let v = json_of(&scoped);
    let eps: Vec<&str> = v["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["component"].as_str().unwrap())
        .collect();
    assert_eq!(eps.len(), 6, "{eps:?}");
    assert!(eps.iter().all(|c| *c == "tikv"), "{eps:?}");
    let ids: Vec<&str> = v["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["tidb", "anonymous"]);
    let notes = v["not_checked"].to_string();
    assert!(notes.contains("9 of 15 endpoints were left out"), "{notes}");
    assert!(notes.contains("tikv, pd, tiflash, client"), "{notes}");
    // The planted outage is still found inside the scope.
    assert_eq!(scoped.status.code(), Some(1));
    let v = json_of(&by_name);
    let names: Vec<&str> = v["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pd-1", "tikv-2"]);
    for (out, words) in [
        (&bad_ep, "no endpoint \"nope\""),
        (&bad_id, "no identity \"nobody\""),
    ] {
        let e = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{e}");
        assert!(e.contains(words) && e.contains("use one of:"), "{e}");
    }
}

fn json_of(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `--rate` spaces the probes, and the hygiene scan's connections alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_paces_the_probes_and_the_scan() {
    let (_lab, config) = tlsaudit::demo::start().await.unwrap();
    let run = move |args: &[&str]| {
        let mut c = bin();
        c.args(["report", "--format", "json"])
            .args(args)
            .arg("--config")
            .arg(&config);
        let t = std::time::Instant::now();
        let out = c.output().unwrap();
        (json_of(&out), t.elapsed())
    };
    let (paced, paced_scan) = tokio::task::spawn_blocking(move || {
        let scope = [
            "--component",
            "tikv",
            "--identity",
            "tidb",
            "--identity",
            "anonymous",
        ];
        let paced = run(&[&scope[..], &["--rate", "10", "--no-scan"]].concat());
        let one = ["--endpoint", "tikv-1", "--identity", "tidb", "--rate", "20"];
        (paced, run(&one))
    })
    .await
    .unwrap();
    // 12 probes at 10 per second take at least 1.1 s (the first starts at once).
    assert_eq!(paced.0["summary"]["cells"], 12);
    assert!(
        paced.1 >= std::time::Duration::from_millis(1100),
        "{:?}",
        paced.1
    );
    // One probe and the scan's connections at 20 per second: the scan is paced too.
    let scanned = paced_scan.0["endpoints"][0]["scan"]["connections"]
        .as_u64()
        .unwrap();
    assert!(scanned >= 10, "{:#}", paced_scan.0);
    let floor = std::time::Duration::from_millis(50 * scanned);
    assert!(paced_scan.1 >= floor, "{:?} < {floor:?}", paced_scan.1);
    // `tlsaudit scan --rate` alone, on the same endpoint.
    let address = paced_scan.0["endpoints"][0]["address"]
        .as_str()
        .unwrap()
        .to_string();
    let (out, took) = tokio::task::spawn_blocking(move || {
        let t = std::time::Instant::now();
        let out = bin()
            .args(["scan", &address, "--rate", "20", "--format", "json"])
            .output()
            .unwrap();
        (out, t.elapsed())
    })
    .await
    .unwrap();
    let doc = json_of(&out);
    let n = doc["scan"]["connections"].as_u64().unwrap();
    assert!(n >= 10, "{doc:#}");
    let floor = std::time::Duration::from_millis(50 * (n - 1));
    assert!(took >= floor, "{took:?} < {floor:?}");
}
