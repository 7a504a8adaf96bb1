//! `tlsaudit serve` over the embedded lab: a real Prometheus scrapes it and its query API
//! returns the planted verdicts; `promtool check metrics` accepts /metrics; every path, the
//! 400s, and a clean stop on SIGTERM and Ctrl-C (SIGINT) with a round in flight.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tlsaudit_testkit::serve::{get, serve, Proc};
use tlsaudit_testkit::{eventually_async, poll};

/// Poll `path` until it answers 200 (or panic after `secs`).
async fn wait_200(addr: &str, path: &str, secs: u64) {
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

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Run an instant query against Prometheus until it returns a series; its value.
async fn query_until(prom: &str, q: &str, secs: u64) -> f64 {
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
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: tlsaudit\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    // Prometheus must be given a port number: when another process took it meanwhile,
    // Prometheus exits and we try another; it is used once it listens and still runs.
    for _ in 0..5 {
        let addr = format!("127.0.0.1:{}", tlsaudit_testkit::free_port());
        let mut child = std::process::Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        // Ok(true): listening; Ok(false): Prometheus exited (its port was taken).
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
    panic!("prometheus did not start on any of 5 ports");
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
    let (_prom, prom) = start_prometheus(&prometheus, dir.path(), &s.addr);
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
    lab.stop().await;
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
    lab.stop().await;
}
