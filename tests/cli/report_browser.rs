//! The HTML report in a real browser: Debian's chromium, headless, driven by playwright-core
//! (tests/npm/report_browser.mjs) over the demo's report opened from a file. The DOM has one
//! cell per identity x endpoint with the planted verdicts; a click on the blocked cell, and its
//! anchor, show its detail; "failing only" hides the healthy rows; no request leaves the page;
//! a hostile report runs nothing; the screenshot is a real PNG.
//!
//! Needs `chromium`, `node` and `tests/npm/node_modules` (`.ci/run` installs them). Without them
//! the test says so and passes, except under CI (`CI` set), where it fails.
//! `TLSAUDIT_UPDATE_SCREENSHOT=1` also copies the screenshot to docs/report-html.png.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use crate::report_model as model;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// What is missing to run the browser, if anything.
fn missing() -> Vec<String> {
    let mut m = Vec::new();
    if !chromium().is_file() {
        m.push(format!(
            "{} (apt-get install chromium)",
            chromium().display()
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        m.push("node".into());
    }
    if !root()
        .join("tests/npm/node_modules/playwright-core")
        .is_dir()
    {
        m.push("tests/npm/node_modules/playwright-core (npm ci --prefix tests/npm)".into());
    }
    m
}

/// The verdict planted at each cell of the demo (tests/audit_demo.rs has the reasons).
fn planted(id: &str, ep: &str) -> &'static str {
    tlsaudit_testkit::demo_planted(id, ep).as_str()
}

fn symbol(verdict: &str) -> &'static str {
    match verdict {
        "secure" => "+",
        "enforced" => "-",
        "open" => "!",
        "blocked" => "X",
        "unencrypted" => "P",
        "untrusted" => "U",
        "unreachable" => "?",
        "error" => "E",
        _ => ".",
    }
}

/// Run a command, killing it after `limit`. Its output is read as it comes (a full pipe would
/// stall it).
fn run_with_limit(cmd: &mut Command, limit: Duration) -> std::process::Output {
    use std::io::Read;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let exited = tlsaudit_testkit::poll(limit, Duration::from_millis(50), || {
        child.try_wait().unwrap().ok_or(())
    });
    let Ok(status) = exited else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "timed out after {limit:?}; stderr: {}",
            String::from_utf8_lossy(&err_reader.join().unwrap())
        );
    };
    std::process::Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Width and height from a PNG's IHDR, after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.len() > 10_000, "{} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

const IDS: [&str; 8] = [
    "tidb",
    "tikv",
    "pd",
    "tiflash",
    "client",
    "anonymous",
    "foreign",
    "unlisted",
];
const EPS: [&str; 15] = tlsaudit_testkit::DEMO_ENDPOINTS;

/// One cell per identity x endpoint with the planted verdict, its symbol and anchor; one
/// detail per cell, none shown at first; the blocked cell's detail by click and by anchor.
fn check_matrix(seen: &Value) {
    // One cell per identity x endpoint, each with the planted verdict, its symbol and anchor.
    let cells = seen["cells"].as_array().unwrap();
    assert_eq!(cells.len(), IDS.len() * EPS.len());
    let mut got: BTreeMap<(String, String), (String, String, String)> = BTreeMap::new();
    for c in cells {
        let key = (
            c["identity"].as_str().unwrap().to_string(),
            c["endpoint"].as_str().unwrap().to_string(),
        );
        let val = (
            c["verdict"].as_str().unwrap().to_string(),
            c["symbol"].as_str().unwrap().to_string(),
            c["href"].as_str().unwrap().to_string(),
        );
        assert!(got.insert(key, val).is_none(), "a cell twice: {c}");
    }
    for id in IDS {
        for ep in EPS {
            let (verdict, sym, href) = &got[&(id.to_string(), ep.to_string())];
            assert_eq!(verdict, planted(id, ep), "cell ({id}, {ep})");
            assert_eq!(sym, symbol(verdict), "cell ({id}, {ep})");
            assert_eq!(href, &format!("#cell-{id}-{ep}"));
        }
    }
    let details: BTreeSet<String> = strings(&seen["details"]).into_iter().collect();
    let anchors: BTreeSet<String> = got.values().map(|(_, _, h)| h[1..].to_string()).collect();
    assert_eq!(
        details, anchors,
        "one detail per cell, at the cell's anchor"
    );
    assert!(strings(&seen["visible_details_at_load"]).is_empty());

    // The blocked cell: a click shows its detail, and only it; so does its anchor.
    assert_eq!(seen["blocked_href"], "#cell-tidb-tikv-2");
    assert_eq!(seen["hash_after_click"], "#cell-tidb-tikv-2");
    assert_eq!(seen["blocked_detail_visible"], true);
    let text = seen["blocked_detail_text"].as_str().unwrap();
    for needle in [
        "blocked: tidb at tikv-2",
        "cn_rejected",
        "gRPC status 16",
        "add \"tidb\" to [security] cert-allowed-cn in tikv.toml",
        "Server chain",
        "sha256",
        "TLSv1.3",
    ] {
        assert!(text.contains(needle), "{needle:?} in {text}");
    }
    assert_eq!(
        strings(&seen["visible_details_after_click"]),
        ["cell-tidb-tikv-2"]
    );
    assert_eq!(seen["anchor_detail_visible"], true);
}

/// "failing only" hides the healthy rows; the component filter keeps one component.
fn check_filters(seen: &Value) {
    // Filters.
    assert_eq!(seen["filters_shown"], true);
    assert_eq!(strings(&seen["rows_all"]).len(), EPS.len());
    assert_eq!(
        strings(&seen["rows_failing_only"]),
        ["tikv-2", "tikv-3", "tikv-3-status", "tidb-2-status"]
    );
    assert_eq!(
        strings(&seen["rows_tikv"]),
        [
            "tikv-1",
            "tikv-2",
            "tikv-3",
            "tikv-1-status",
            "tikv-2-status",
            "tikv-3-status"
        ]
    );
    assert_eq!(
        strings(&seen["rows_tikv_failing"]),
        ["tikv-2", "tikv-3", "tikv-3-status"]
    );
    // Findings of other components hide; cluster-wide ones (no component) stay.
    assert!(strings(&seen["findings_visible_tikv"])
        .iter()
        .all(|c| c == "tikv" || c.is_empty()));
}

/// No request left the page, nothing was blocked or failed, and the hostile report ran nothing.
fn check_isolation(seen: &Value) {
    // Nothing left the page: the only requests are the two report files themselves.
    let report_url = seen["report_url"].as_str().unwrap();
    for url in strings(&seen["requests"]) {
        assert!(
            url == report_url || (url.starts_with("file://") && url.ends_with("/hostile.html")),
            "a request left the page: {url}"
        );
    }
    for key in ["console_errors", "page_errors", "csp_violations", "dialogs"] {
        assert!(strings(&seen[key]).is_empty(), "{key}: {}", seen[key]);
    }

    // The hostile report: its markup stayed text.
    let h = &seen["hostile"];
    assert_eq!(h["pwned"], false);
    assert_eq!(h["scripts"], 1, "only the report's own script");
    assert_eq!(h["imgs"], 0);
    let subject = h["subject"].as_str().unwrap();
    assert!(
        subject.contains("<script>window.__pwned=true</script>\"'"),
        "{subject}"
    );
    assert!(subject.contains("\\x1b[31mred\\x07\\u{202e}"), "{subject}");
    assert!(h["title"].as_str().unwrap().contains("hostile<b>\""));
}

#[test]
fn the_demo_report_in_chromium() {
    let missing = missing();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test; missing: {missing:?}"
        );
        eprintln!("note: skipping the browser test; missing: {missing:?}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The real binary, with the format word in capitals: it is read in any case.
    let out = run_with_limit(
        Command::cargo_bin("tlsaudit")
            .unwrap()
            .args(["demo", "--format", "HTML"]),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "{out:?}");
    let report = dir.path().join("report.html");
    std::fs::write(&report, &out.stdout).unwrap();
    let m = model::Model::hostile();
    let hostile = dir.path().join("hostile.html");
    std::fs::write(
        &hostile,
        tlsaudit_report::html::render(&tlsaudit_report::Doc::from_report(m.report())),
    )
    .unwrap();
    let shot = dir.path().join("report.png");

    let out = run_with_limit(
        Command::new("node")
            .current_dir(root().join("tests/npm"))
            .env("CHROMIUM", chromium())
            .arg("report_browser.mjs")
            .arg(&report)
            .arg(&hostile)
            .arg(&shot),
        Duration::from_secs(180),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "node: {out:?}\n{stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();

    check_matrix(&seen);
    check_filters(&seen);
    check_isolation(&seen);

    // A real screenshot.
    let (w, hgt) = png_size(&shot);
    assert!(w >= 800 && hgt >= 600, "{w}x{hgt}");
    if std::env::var_os("TLSAUDIT_UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(&shot, root().join("docs/report-html.png")).unwrap();
    }
}
