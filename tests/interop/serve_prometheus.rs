//! `tlsaudit serve` over the embedded lab: a real Prometheus scrapes it and its query API
//! returns the planted verdicts; every panel of the shipped Grafana dashboard answers what it
//! claims; `promtool check metrics` accepts /metrics; every path, the 400s, and a clean stop on
//! SIGTERM and Ctrl-C (SIGINT) with a round in flight. The Prometheus helpers here serve
//! `serve_alerts` too.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tlsaudit_testkit::serve::{get, serve, Proc};
use tlsaudit_testkit::{eventually_async, poll};

/// Poll `path` until it answers 200 (or panic after `secs`).
pub(crate) async fn wait_200(addr: &str, path: &str, secs: u64) {
    let (within, every) = (Duration::from_secs(secs), Duration::from_millis(200));
    let what = format!("{path} to answer 200");
    eventually_async(&what, within, every, || async move {
        let (status, _, _) = get(addr, path, None).await;
        if status == 200 {
            Ok(())
        } else {
            Err(status)
        }
    })
    .await;
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One instant query: its result vector (empty when the query failed).
pub(crate) async fn query(prom: &str, q: &str) -> Vec<serde_json::Value> {
    let (_, _, body) = get(prom, &format!("/api/v1/query?query={}", urlencode(q)), None).await;
    serde_json::from_str::<serde_json::Value>(&body).map_or_else(
        |_| Vec::new(),
        |v| v["data"]["result"].as_array().cloned().unwrap_or_default(),
    )
}

/// Run an instant query against Prometheus until it returns a series; its value.
pub(crate) async fn query_until(prom: &str, q: &str, secs: u64) -> f64 {
    let (within, every) = (Duration::from_secs(secs), Duration::from_millis(500));
    let what = format!("Prometheus to return a series for {q}");
    eventually_async(&what, within, every, || async move {
        let (status, _, body) =
            get(prom, &format!("/api/v1/query?query={}", urlencode(q)), None).await;
        if status == 200 {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            if let Some(first) = v["data"]["result"].as_array().and_then(|r| r.first()) {
                return Ok(first["value"][1].as_str().unwrap().parse().unwrap());
            }
        }
        Err(format!("{status} {body}"))
    })
    .await
}

fn start_prometheus(bin: &Path, dir: &Path, target: &str) -> (Proc, String) {
    start_prometheus_with(
        bin,
        dir,
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: tlsaudit\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
}

/// Prometheus on a free loopback port with `config` (its prometheus.yml, written in `dir`,
/// where relative rule files are found); the process and its address.
pub(crate) fn start_prometheus_with(bin: &Path, dir: &Path, config: &str) -> (Proc, String) {
    let config_text = config;
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, config_text).unwrap();
    start_listening(bin, |addr| {
        vec![
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address={addr}"),
        ]
    })
}

/// A server that takes its port as an argument (`args` of the address), on a free loopback
/// port: when another process took the port meanwhile, the server exits and we try another;
/// it is used once it listens and still runs.
pub(crate) fn start_listening(bin: &Path, args: impl Fn(&str) -> Vec<String>) -> (Proc, String) {
    for _ in 0..5 {
        let addr = format!("127.0.0.1:{}", tlsaudit_testkit::free_port());
        let mut child = std::process::Command::new(bin)
            .args(args(&addr))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", bin.display()));
        // Ok(true): listening; Ok(false): the server exited (its port was taken).
        let up = poll(Duration::from_secs(30), Duration::from_millis(50), || {
            if let Ok(Some(_)) = child.try_wait() {
                return Ok(false);
            }
            if std::net::TcpStream::connect(&addr).is_ok() && matches!(child.try_wait(), Ok(None)) {
                Ok(true)
            } else {
                Err("not listening")
            }
        });
        if up == Ok(true) {
            return (Proc(child), addr);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("{} did not start on any of 5 ports", bin.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_the_planted_verdicts_and_expiry() {
    let Some(prometheus) = tlsaudit_testkit::require_tool("prometheus") else {
        return;
    };
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let s = serve(&[
        "--config",
        config.to_str().unwrap(),
        "--interval",
        "2s",
        "--vantage",
        "rack-a",
    ]);
    wait_200(&s.addr, "/-/ready", 60).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: tlsaudit\n    static_configs:\n      - targets: ['{}']\n\n{}",
        s.addr,
        shipped_probe_job(&s.addr)
    );
    let (_prom, prom) = start_prometheus_with(&prometheus, dir.path(), &config);
    let open = query_until(
        &prom,
        r#"tlsaudit_link_verdict{endpoint="tikv-3",identity="unlisted",verdict="open",vantage="rack-a",cluster="demo"}"#,
        60,
    )
    .await;
    assert_eq!(open, 1.0, "the planted open cell");
    let blocked = query_until(
        &prom,
        r#"tlsaudit_link_verdict{endpoint="tikv-2",identity="tidb",verdict="blocked"}"#,
        30,
    )
    .await;
    assert_eq!(blocked, 1.0, "the planted blocked cell");
    // The same cell's other states are 0: a state set.
    let others = query_until(
        &prom,
        r#"sum(tlsaudit_link_verdict{endpoint="tikv-2",identity="tidb",verdict!="blocked"})"#,
        30,
    )
    .await;
    assert_eq!(others, 0.0);
    let expired_for = query_until(
        &prom,
        r#"time() - tlsaudit_server_cert_not_after_timestamp_seconds{endpoint="tidb-2-status"}"#,
        30,
    )
    .await;
    assert!(
        expired_for > 0.0,
        "tidb-2-status's certificate has expired: {expired_for}"
    );
    let valid_for = query_until(
        &prom,
        r#"tlsaudit_server_cert_not_after_timestamp_seconds{endpoint="tikv-1"} - time()"#,
        30,
    )
    .await;
    assert!(valid_for > 0.0, "tikv-1's certificate is valid");
    let rounds = query_until(&prom, "tlsaudit_rounds_total", 30).await;
    assert!(rounds >= 1.0);
    // The shipped blackbox-style job: /probe?target=&module= through its relabelling.
    let ok = r#"tlsaudit_probe_success{job="tlsaudit-probe",instance="tikv-1",identity="tidb"}"#;
    assert_eq!(query_until(&prom, ok, 60).await, 1.0, "tidb reaches tikv-1");
    let blocked = r#"tlsaudit_probe_success{job="tlsaudit-probe",instance="tikv-2"}"#;
    assert_eq!(
        query_until(&prom, blocked, 60).await,
        0.0,
        "the planted block"
    );
    lab.stop().await;
}

/// The `tlsaudit-probe` job of docs/monitoring/prometheus.yml, its example endpoints, exporter
/// and intervals replaced by the lab's, the serve at `addr` and the test's pace.
fn shipped_probe_job(addr: &str) -> String {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("docs/monitoring/prometheus.yml")).unwrap();
    let job = &text[text.find("  - job_name: tlsaudit-probe").unwrap()..];
    let mut job = job.to_string();
    for (from, to) in [
        (
            "targets: [tikv-10.0.1.21-20160, pd-10.0.1.11-2379]",
            "targets: [tikv-1, tikv-2]",
        ),
        (
            "replacement: 10.0.1.11:9819",
            &format!("replacement: {addr}"),
        ),
        ("scrape_interval: 60s", "scrape_interval: 3s"),
        ("scrape_timeout: 20s", "scrape_timeout: 3s"),
    ] {
        assert!(job.contains(from), "the shipped probe job has {from:?}");
        job = job.replace(from, to);
    }
    job
}

#[tokio::test(flavor = "multi_thread")]
async fn promtool_accepts_the_metrics_in_both_formats() {
    let Some(promtool) = tlsaudit_testkit::require_tool("promtool") else {
        return;
    };
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let s = serve(&["--config", config.to_str().unwrap(), "--interval", "30s"]);
    wait_200(&s.addr, "/-/ready", 60).await;
    let (status, ctype, text) = get(&s.addr, "/metrics", None).await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let mut child = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Cardinality as documented: 8 identities x 15 endpoints x 9 verdicts.
    let verdict_series = text
        .lines()
        .filter(|l| l.starts_with("tlsaudit_link_verdict{"))
        .count();
    assert_eq!(verdict_series, 8 * 15 * 9);
    assert!(text.contains("tlsaudit_rounds_total{cluster=\"demo\",vantage=\"local\"} 1"));
    new_series_are_served(&text);
    let (status, ctype, open) = get(
        &s.addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    assert!(open.ends_with("# EOF\n"));
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_path_and_the_400s() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let s = serve(&["--config", config.to_str().unwrap(), "--interval", "30s"]);
    let (status, _, body) = get(&s.addr, "/-/healthy", None).await;
    assert_eq!((status, body.as_str()), (200, "OK\n"));
    wait_200(&s.addr, "/-/ready", 60).await;

    let (status, ctype, body) = get(&s.addr, "/report.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "application/json");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["schema"], "tlsaudit.report/v1");
    assert_eq!(report["cluster"]["name"], "demo", "{}", &body[..200]);

    let (status, _, body) = get(&s.addr, "/probe?endpoint=tikv-3&identity=unlisted", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.lines()
            .any(|l| l.starts_with("tlsaudit_probe_verdict{")
                && l.contains("verdict=\"open\"")
                && l.ends_with(" 1")),
        "{body}"
    );
    assert!(body.contains("tlsaudit_probe_success{"));
    // One name, one type: /probe's phase gauges are not named like /metrics' histogram.
    assert!(body.contains("tlsaudit_probe_phase_seconds{"), "{body}");
    let (_, _, metrics) = get(&s.addr, "/metrics", None).await;
    let types = |text: &str| -> BTreeMap<String, String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_once(' '))
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    };
    let metrics = types(&metrics);
    for (name, kind) in types(&body) {
        if let Some(other) = metrics.get(&name) {
            assert_eq!(*other, kind, "{name}: one type on /metrics and /probe");
        }
    }

    for (path, reason) in [
        ("/probe?endpoint=tikv-3", "missing parameter identity"),
        ("/probe?identity=tidb", "missing parameter endpoint"),
        (
            "/probe?endpoint=nope&identity=tidb",
            "unknown endpoint \"nope\"",
        ),
        (
            "/probe?endpoint=tikv-3&identity=nobody",
            "unknown identity \"nobody\"",
        ),
        (
            "/probe?endpoint=tikv-3&identity=tidb&x=1",
            "unknown parameter \"x\"",
        ),
        (
            "/probe?endpoint=tikv-3&endpoint=tikv-2&identity=tidb",
            "given twice",
        ),
    ] {
        let (status, _, body) = get(&s.addr, path, None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(reason), "{path}: {body}");
        assert_eq!(body.lines().count(), 1, "{path}: one line: {body:?}");
    }
    let (status, _, _) = get(&s.addr, "/nothing-here", None).await;
    assert_eq!(status, 404);
    lab.stop().await;
}

/// A TCP listener that accepts and never answers: a probe of it stalls until its timeout.
fn stalling_listener() -> (std::net::TcpListener, u16) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

fn with_stalled_endpoint(config: &Path, port: u16) -> PathBuf {
    let mut text = std::fs::read_to_string(config).unwrap();
    text.push_str(&format!(
        "\n[[endpoints]]\nname = \"stalled\"\ncomponent = \"tikv\"\nrole = \"grpc\"\naddress = \"127.0.0.1:{port}\"\nallowed_cn = [\"tidb\"]\n"
    ));
    let path = config.with_file_name("stalled.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_and_ctrl_c_stop_cleanly_with_a_round_in_flight() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let (_stall, port) = stalling_listener();
    let config = with_stalled_endpoint(&config, port);
    for signal in ["-TERM", "-INT"] {
        let mut s = serve(&["--config", config.to_str().unwrap(), "--timeout", "60s"]);
        wait_200(&s.addr, "/-/healthy", 30).await;
        // The first round waits on the stalled endpoint for a minute: not ready.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (status, _, body) = get(&s.addr, "/-/ready", None).await;
        assert_eq!(status, 503, "{body}");
        let (status, _, _) = get(&s.addr, "/report.json", None).await;
        assert_eq!(status, 503);
        let sent = std::process::Command::new("kill")
            .args([signal, &s.proc.0.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let what = format!("serve to stop on {signal} (the round cancelled)");
        let (within, every) = (Duration::from_secs(10), Duration::from_millis(50));
        let code = eventually_async(&what, within, every, || {
            let exited = s.proc.0.try_wait().unwrap();
            async move { exited.map(|st| st.code()).ok_or("still running") }
        })
        .await;
        assert_eq!(code, Some(0), "{signal}: exit code");
        let rest = s.rest_after_exit();
        assert!(
            rest.iter().any(|l| l.contains("stopped")),
            "{signal}: {rest:?}"
        );
        // The port is released.
        std::net::TcpListener::bind(&s.addr)
            .unwrap_or_else(|e| panic!("{signal}: {} still bound: {e}", s.addr));
    }
    lab.stop().await;
}

/// The series of the conventions: `link_ok` beside the state set, the TLS version, the chain's
/// earliest expiry, build and process info, findings by endpoint; minted identities are not
/// client certificates to rotate.
fn new_series_are_served(text: &str) {
    let lines =
        |prefix: &str| -> Vec<&str> { text.lines().filter(|l| l.starts_with(prefix)).collect() };
    let ok = lines("tlsaudit_link_ok{");
    assert_eq!(ok.len(), 8 * 15);
    assert!(
        ok.iter().any(|l| l.contains("endpoint=\"tikv-3\"")
            && l.contains("identity=\"unlisted\"")
            && l.ends_with(" 0")),
        "the open cell is not ok: {ok:?}"
    );
    assert!(
        ok.iter().any(|l| l.contains("endpoint=\"tikv-1\"")
            && l.contains("identity=\"tidb\"")
            && l.ends_with(" 1")),
        "{ok:?}"
    );
    let versions = lines("tlsaudit_endpoint_tls_version_info{");
    assert!(
        versions
            .iter()
            .any(|l| l.contains("endpoint=\"tikv-1\"") && l.contains("version=\"TLSv1.3\"")),
        "{versions:?}"
    );
    assert!(
        !versions
            .iter()
            .any(|l| l.contains("endpoint=\"tikv-3-status\"")),
        "plaintext: no TLS version: {versions:?}"
    );
    assert_eq!(
        lines("tlsaudit_server_chain_not_after_timestamp_seconds{").len(),
        lines("tlsaudit_server_cert_not_after_timestamp_seconds{").len()
    );
    assert_eq!(lines("tlsaudit_endpoint_info{").len(), 15);
    assert!(lines("tlsaudit_build_info{")
        .iter()
        .any(|l| l.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION")))));
    for name in [
        "process_cpu_seconds_total{",
        "process_resident_memory_bytes{",
        "process_open_fds{",
        "process_max_fds{",
        "process_start_time_seconds{",
    ] {
        assert_eq!(lines(name).len(), 1, "{name}");
    }
    let findings = lines("tlsaudit_findings{");
    assert!(
        findings
            .iter()
            .any(|l| l.contains("code=\"CN_NOT_ENFORCED\"")
                && l.contains("endpoint=\"tikv-3\"")
                && l.ends_with(" 2")),
        "{findings:?}"
    );
    let identities = lines("tlsaudit_identity_cert_not_after_timestamp_seconds{");
    assert_eq!(
        identities.len(),
        5,
        "the inventory's five, no minted one: {identities:?}"
    );
    // Buckets up to the default 15 s deadline (16.384 s), then +Inf.
    assert!(text.contains("le=\"16.384\""), "the top bucket");
}

#[test]
fn bad_flags_are_one_line_errors() {
    let (code, _, err) = tlsaudit_testkit::cli(&[
        "serve",
        "--config",
        "nowhere.toml",
        "--listen",
        "0.0.0.0:9819",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--allow-remote"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, _, err) =
        tlsaudit_testkit::cli(&["serve", "--config", "x.toml", "--vantage", "a b"]);
    assert_eq!(code, 2);
    assert!(err.contains("--vantage"), "{err}");
    let (code, _, err) = tlsaudit_testkit::cli(&["serve", "--listen", "127.0.0.1:1"]);
    assert_eq!(code, 2);
    assert!(err.contains("serve needs something to audit"), "{err}");
    let (code, _, err) = tlsaudit_testkit::cli(&["serve", "--config", "missing.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.toml"), "{err}");
}

/// The rules file's expression of TlsauditVantagesDisagree, without its `for`.
fn disagreement_expr() -> String {
    let rules = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/monitoring/tlsaudit.rules.yml"),
    )
    .unwrap();
    let start = rules.find("alert: TlsauditVantagesDisagree").unwrap();
    let expr = &rules[start..];
    let expr = &expr[expr.find("expr: >").unwrap() + "expr: >".len()..];
    let expr = &expr[..expr.find("for:").unwrap()];
    expr.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test(flavor = "multi_thread")]
async fn two_vantage_points_disagree_when_one_cannot_reach_an_endpoint() {
    let Some(prometheus) = tlsaudit_testkit::require_tool("prometheus") else {
        return;
    };
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    // rack-b's route to tikv-1 is cut: from there its address refuses connections.
    let tikv1 = lab
        .endpoints()
        .iter()
        .find(|e| e.name == "tikv-1")
        .unwrap()
        .addr
        .to_string();
    let (_reserved, dead) = tlsaudit_testkit::refusing_addr();
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(&tikv1));
    let cut = config.with_file_name("rack-b.toml");
    std::fs::write(&cut, text.replace(&tikv1, &dead)).unwrap();
    let a = serve(&[
        "--config",
        config.to_str().unwrap(),
        "--interval",
        "2s",
        "--vantage",
        "rack-a",
    ]);
    let b = serve(&[
        "--config",
        cut.to_str().unwrap(),
        "--interval",
        "2s",
        "--vantage",
        "rack-b",
        "--allow-unreachable",
    ]);
    wait_200(&a.addr, "/-/ready", 60).await;
    wait_200(&b.addr, "/-/ready", 60).await;
    let dir = tempfile::tempdir().unwrap();
    let (_prom, prom) = start_prometheus(
        &prometheus,
        dir.path(),
        &format!("{}', '{}", a.addr, b.addr),
    );
    // Both exporters scraped, then the alert's expression names tikv-1 and only tikv-1.
    // Wait for both targets' first scrape (the count is 1 until the second is scraped).
    let up = query_until(&prom, "count(tlsaudit_cells) == 2", 60).await;
    assert_eq!(up, 2.0);
    let expr = disagreement_expr();
    let what = format!("a disagreement found by {expr}");
    let (within, every) = (Duration::from_secs(30), Duration::from_millis(500));
    let endpoints = eventually_async(&what, within, every, || async {
        let (_, _, body) = get(
            &prom,
            &format!("/api/v1/query?query={}", urlencode(&expr)),
            None,
        )
        .await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
        if result.is_empty() {
            return Err(body);
        }
        Ok(result
            .iter()
            .map(|r| r["metric"]["endpoint"].as_str().unwrap().to_string())
            .collect::<std::collections::BTreeSet<_>>())
    })
    .await;
    assert_eq!(endpoints.into_iter().collect::<Vec<_>>(), ["tikv-1"]);
    let seen_b = query_until(
        &prom,
        r#"tlsaudit_link_verdict{vantage="rack-b",endpoint="tikv-1",identity="tidb",verdict="unreachable"}"#,
        30,
    )
    .await;
    assert_eq!(seen_b, 1.0);
    let seen_a = query_until(
        &prom,
        r#"tlsaudit_link_verdict{vantage="rack-a",endpoint="tikv-1",identity="tidb",verdict="secure"}"#,
        30,
    )
    .await;
    assert_eq!(seen_a, 1.0);
    // The same Prometheus, both vantage points scraped: every dashboard panel.
    let (within, every) = (Duration::from_secs(60), Duration::from_secs(1));
    eventually_async(
        "every dashboard panel to answer what it claims",
        within,
        every,
        || dashboard_claims(&prom),
    )
    .await;
    lab.stop().await;
}

/// What one panel query claims to return: its label names, and a check of its series.
struct Claim {
    labels: &'static [&'static str],
    check: fn(&[serde_json::Value]) -> Result<(), String>,
}

fn any(_: &[serde_json::Value]) -> Result<(), String> {
    Ok(())
}

/// A series' value.
fn value(series: &serde_json::Value) -> f64 {
    series["value"][1].as_str().unwrap().parse().unwrap()
}

/// The label values of `name` across `series`.
fn values_of<'a>(series: &'a [serde_json::Value], name: &str) -> BTreeSet<&'a str> {
    series
        .iter()
        .filter_map(|s| s["metric"][name].as_str())
        .collect()
}

/// A row per endpoint and vantage point: the two disagreeing rows of tikv-1 both show.
fn matrix_rows(s: &[serde_json::Value]) -> Result<(), String> {
    let rows = values_of(s, "row");
    let want = ["demo / tikv-1 / rack-a", "demo / tikv-1 / rack-b"];
    if want.iter().all(|r| rows.contains(r)) && rows.len() == 2 * 15 {
        Ok(())
    } else {
        Err(format!("rows {rows:?}"))
    }
}

/// Only the inventory's client certificates: not the ones the audit mints.
fn inventory_identities(s: &[serde_json::Value]) -> Result<(), String> {
    let ids = values_of(s, "identity");
    if ids == BTreeSet::from(["client", "pd", "tidb", "tiflash", "tikv"]) {
        Ok(())
    } else {
        Err(format!("identities {ids:?}"))
    }
}

/// Seconds since the last round: a few, never the 1.8e9 of a round that has not ended.
fn recent_round(s: &[serde_json::Value]) -> Result<(), String> {
    match s.iter().map(value).find(|v| !(0.0..60.0).contains(v)) {
        None => Ok(()),
        Some(v) => Err(format!("since last round {v}")),
    }
}

/// rack-b probes tikv-1 at a refused port: 8 unreachable cells every round.
fn rack_b_errors(s: &[serde_json::Value]) -> Result<(), String> {
    let b = s
        .iter()
        .find(|x| x["metric"]["vantage"] == "rack-b" && x["metric"]["endpoint"] == "tikv-1");
    match b.map(value) {
        Some(v) if (v - 8.0).abs() < 1.0 => Ok(()),
        other => Err(format!("rack-b's errors per round at tikv-1: {other:?}")),
    }
}

/// The vantage points disagree on tikv-1 only.
fn only_tikv_1(s: &[serde_json::Value]) -> Result<(), String> {
    let eps = values_of(s, "endpoint");
    if eps == BTreeSet::from(["tikv-1"]) {
        Ok(())
    } else {
        Err(format!("disagreements at {eps:?}"))
    }
}

/// The scan's row of tikv-1: TLS 1.2 and 1.3 accepted, 1.0 and 1.1 refused (rack-a's scan:
/// rack-b cannot reach it).
fn tikv_1_versions(s: &[serde_json::Value]) -> Result<(), String> {
    let got: BTreeMap<&str, f64> = s
        .iter()
        .filter(|x| x["metric"]["row"] == "demo / tikv-1")
        .map(|x| (x["metric"]["version"].as_str().unwrap(), value(x)))
        .collect();
    let want = BTreeMap::from([
        ("TLSv1.0", 0.0),
        ("TLSv1.1", 0.0),
        ("TLSv1.2", 1.0),
        ("TLSv1.3", 1.0),
    ]);
    if got == want {
        Ok(())
    } else {
        Err(format!("tikv-1's versions {got:?}"))
    }
}

/// Every panel query of the shipped dashboard, by panel id and refId, and what it claims. A
/// panel the table does not name fails the test: a new panel states its claim here.
fn claims() -> BTreeMap<(u64, &'static str), Claim> {
    let time_series = &["__name__", "cluster", "instance", "job", "vantage"][..];
    let exporter = &["cluster", "instance", "job", "vantage"][..];
    let endpoints = &["cluster", "component", "endpoint", "role"][..];
    let per_vantage = &["cluster", "endpoint", "vantage"][..];
    let claim = |labels, check| Claim { labels, check };
    BTreeMap::from([
        (
            (1, "A"),
            claim(
                &[
                    "cluster", "endpoint", "identity", "row", "vantage", "verdict",
                ],
                matrix_rows,
            ),
        ),
        ((2, "A"), claim(endpoints, any)),
        (
            (3, "A"),
            claim(&["cluster", "identity"], inventory_identities),
        ),
        ((4, "A"), claim(time_series, any)),
        ((4, "B"), claim(exporter, recent_round)),
        ((4, "C"), claim(time_series, any)),
        ((5, "A"), claim(per_vantage, rack_b_errors)),
        ((5, "B"), claim(per_vantage, any)),
        ((5, "C"), claim(&["cluster", "endpoint"], any)),
        ((6, "A"), claim(&[], six_critical)),
        ((6, "B"), claim(&[], one_series)),
        ((6, "C"), claim(&[], one_series)),
        ((7, "A"), claim(&["cluster", "endpoint"], any)),
        (
            (8, "A"),
            claim(&["cluster", "endpoint", "identity"], only_tikv_1),
        ),
        (
            (9, "A"),
            claim(&["cluster", "endpoint", "row", "version"], tikv_1_versions),
        ),
    ])
}

/// One series: the demo's 6 critical findings (CN_NOT_ENFORCED twice at tikv-3, four others),
/// each counted once although both vantage points see them (rack-b's unreachable tikv-1 is a
/// warning under --allow-unreachable).
fn six_critical(s: &[serde_json::Value]) -> Result<(), String> {
    match s {
        [one] if (value(one) - 6.0).abs() < 0.5 => Ok(()),
        _ => Err(format!("want one series of 6 critical findings: {s:?}")),
    }
}

/// One series, 0 when there is none (not No data).
fn one_series(s: &[serde_json::Value]) -> Result<(), String> {
    match s {
        [one] if value(one) >= 0.0 => Ok(()),
        _ => Err(format!("want one series: {s:?}")),
    }
}

/// Run every target of the shipped dashboard (variables: every cluster and vantage point, a
/// 20 s rate window) and check each against its claim.
async fn dashboard_claims(prom: &str) -> Result<(), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/monitoring/grafana-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut claims = claims();
    for panel in dashboard["panels"].as_array().unwrap() {
        let id = panel["id"].as_u64().unwrap();
        for target in panel["targets"].as_array().unwrap() {
            let refid = target["refId"].as_str().unwrap();
            let claim = claims
                .remove(&(id, refid))
                .unwrap_or_else(|| panic!("panel {id} {refid} claims nothing: add it to claims()"));
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$cluster", ".*")
                .replace("$vantage", ".*")
                .replace("$__rate_interval", "20s");
            let series = query(prom, &expr).await;
            if series.is_empty() {
                return Err(format!("panel {id} {refid}: no data for {expr}"));
            }
            for s in &series {
                let names: Vec<&str> = s["metric"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                if names != claim.labels {
                    return Err(format!(
                        "panel {id} {refid}: labels {names:?}, not {:?}",
                        claim.labels
                    ));
                }
            }
            (claim.check)(&series).map_err(|e| format!("panel {id} {refid} ({expr}): {e}"))?;
        }
    }
    assert!(claims.is_empty(), "claims of no panel: {:?}", claims.keys());
    Ok(())
}
