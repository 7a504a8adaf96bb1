//! The shipped alerting end to end: a real Prometheus evaluates docs/monitoring's rules on
//! `tlsaudit serve` over the embedded lab and a real Alertmanager routes them with the shipped
//! route to a webhook in this test. Each failure (an open allow-list, a blocked needed link, a
//! plaintext endpoint, an untrusted chain, a refused port) reaches the webhook as ONE
//! notification for its endpoint, however many identities see it. Only durations are changed
//! (`for:`, `group_wait`, the intervals), by text substitution of the shipped files.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use tlsaudit_testkit::eventually_async;
use tlsaudit_testkit::serve::{serve, Proc};

use crate::serve_prometheus::{start_listening, start_prometheus_with, wait_200};

/// A shipped file of docs/monitoring.
fn shipped(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/monitoring")
            .join(name),
    )
    .unwrap()
}

/// The shipped rules, every `for:` at 0 s (a round's alerts fire at the next evaluation).
fn rules_now() -> String {
    let rules: Vec<String> = shipped("tlsaudit.rules.yml")
        .lines()
        .map(|l| match l.trim_start().strip_prefix("for: ") {
            Some(_) => format!("{}for: 0s", &l[..l.len() - l.trim_start().len()]),
            None => l.to_string(),
        })
        .collect();
    assert!(rules.iter().any(|l| l.trim() == "for: 0s"));
    rules.join("\n")
}

/// The shipped route, its first notification after 1 s, delivered to `webhook`. The group
/// interval stays as shipped (minutes): a second notification of a group within the test is a
/// duplicate, not an update.
fn route_to(webhook: &str) -> String {
    let text = shipped("alertmanager.yml");
    for part in ["group_wait: 1m", "url: http://127.0.0.1:5001/tlsaudit"] {
        assert!(text.contains(part), "alertmanager.yml: {part}");
    }
    text.replace("group_wait: 1m", "group_wait: 1s").replace(
        "http://127.0.0.1:5001/tlsaudit",
        &format!("http://{webhook}/"),
    )
}

/// A complete HTTP/1.1 request at the start of `buf`: its body and its length in all.
fn complete_request(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let end = head_end + len;
    (buf.len() >= end).then(|| (buf[head_end..end].to_vec(), end))
}

/// The webhook receiver: every request's JSON body on `tx`, each answered 200.
async fn webhook(listener: tokio::net::TcpListener, tx: mpsc::UnboundedSender<serde_json::Value>) {
    while let Ok((mut conn, _)) = listener.accept().await {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 16384];
            while let Ok(n @ 1..) = conn.read(&mut chunk).await {
                buf.extend_from_slice(&chunk[..n]);
                while let Some((body, used)) = complete_request(&buf) {
                    buf.drain(..used);
                    let _ = tx.send(serde_json::from_slice(&body).unwrap());
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if conn.write_all(ok).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

/// The demo's inventory with one more needed endpoint, at a port that refuses connections.
fn with_refused_endpoint(config: &Path, addr: &str) -> std::path::PathBuf {
    let mut text = std::fs::read_to_string(config).unwrap();
    text.push_str(&format!(
        "\n[[endpoints]]\nname = \"tikv-gone\"\ncomponent = \"tikv\"\nrole = \"grpc\"\naddress = \"{addr}\"\nallowed_cn = [\"tidb\", \"tikv\", \"pd\", \"tiflash\"]\n"
    ));
    let path = config.with_file_name("refused.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Alertmanager with `config` on a free port, its state in `dir`, no cluster gossip.
fn start_alertmanager(bin: &Path, dir: &Path, config: &str) -> (Proc, String) {
    let file = dir.join("alertmanager.yml");
    std::fs::write(&file, config).unwrap();
    start_listening(bin, |addr| {
        vec![
            format!("--config.file={}", file.display()),
            format!("--storage.path={}", dir.join("am").display()),
            format!("--web.listen-address={addr}"),
            "--cluster.listen-address=".to_string(),
        ]
    })
}

/// The alerts each failure must raise: (endpoint, alertname, how many alerts of it the one
/// notification holds).
const EXPECTED: [(&str, &str, usize); 5] = [
    // client and unlisted: two identities, one notification.
    ("tikv-3", "TlsauditLinkOpen", 2),
    ("tikv-2", "TlsauditNeededLinkBlocked", 1),
    // Every identity sees the plaintext port and the untrusted chain: one alert each.
    ("tikv-3-status", "TlsauditEndpointUnencrypted", 1),
    ("tidb-2-status", "TlsauditEndpointUntrusted", 1),
    ("tikv-gone", "TlsauditEndpointUnreachable", 1),
];

/// The notifications by endpoint (the group's `endpoint` label).
fn by_endpoint(seen: &[serde_json::Value]) -> BTreeMap<String, Vec<&serde_json::Value>> {
    let mut m: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for n in seen {
        if let Some(ep) = n["groupLabels"]["endpoint"].as_str() {
            m.entry(ep.to_string()).or_default().push(n);
        }
    }
    m
}

/// The alerts named `alertname` in a notification.
fn alerts_named<'a>(n: &'a serde_json::Value, alertname: &str) -> Vec<&'a serde_json::Value> {
    n["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == alertname)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_failure_is_one_grouped_notification() {
    let Some(prometheus) = tlsaudit_testkit::require_tool("prometheus") else {
        return;
    };
    let Some(alertmanager) = tlsaudit_testkit::require_tool("prometheus-alertmanager") else {
        return;
    };
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let (_reserved, refused) = tlsaudit_testkit::refusing_addr();
    let config = with_refused_endpoint(&config, &refused);
    let s = serve(&[
        "--config",
        config.to_str().unwrap(),
        "--interval",
        "2s",
        "--vantage",
        "rack-a",
    ]);
    wait_200(&s.addr, "/-/ready", 60).await;

    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = hook.local_addr().unwrap().to_string();
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(webhook(hook, tx));
    let dir = tempfile::tempdir().unwrap();
    let (_am, am) = start_alertmanager(&alertmanager, dir.path(), &route_to(&hook_addr));
    std::fs::write(dir.path().join("tlsaudit.rules.yml"), rules_now()).unwrap();
    let prom_config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files:\n  - tlsaudit.rules.yml\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am}']\nscrape_configs:\n  - job_name: tlsaudit\n    honor_labels: true\n    static_configs:\n      - targets: ['{}']\n",
        s.addr
    );
    let (_prom, _) = start_prometheus_with(&prometheus, dir.path(), &prom_config);

    let seen = std::sync::Mutex::new(Vec::new());
    let (within, every) = (Duration::from_secs(90), Duration::from_millis(500));
    eventually_async("a notification for each failure", within, every, || {
        let mut seen = seen.lock().unwrap();
        while let Ok(n) = rx.try_recv() {
            seen.push(n);
        }
        let groups = by_endpoint(&seen);
        let missing: Vec<&str> = EXPECTED
            .iter()
            .filter(|(ep, name, _)| {
                !groups
                    .get(*ep)
                    .is_some_and(|ns| ns.iter().any(|n| !alerts_named(n, name).is_empty()))
            })
            .map(|(ep, _, _)| *ep)
            .collect();
        let result = if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("no notification yet for {missing:?}"))
        };
        async move { result }
    })
    .await;
    // A few more evaluations and scrapes: no second notification of any of these groups.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut seen = seen.into_inner().unwrap();
    while let Ok(n) = rx.try_recv() {
        seen.push(n);
    }
    let groups = by_endpoint(&seen);
    for (ep, name, count) in EXPECTED {
        let ns = &groups[ep];
        assert_eq!(
            ns.len(),
            1,
            "{ep}: one notification, not {}: {ns:#?}",
            ns.len()
        );
        let alerts = alerts_named(ns[0], name);
        assert_eq!(alerts.len(), count, "{ep}: {name} x{count}: {:#?}", ns[0]);
        assert_eq!(ns[0]["groupLabels"]["cluster"], "demo");
        for a in alerts {
            let d = a["annotations"]["description"].as_str().unwrap();
            assert!(
                d.contains(ep) && d.contains("rack-a") && d.contains("Fix:"),
                "{d}"
            );
            assert!(!d.contains("-R generic") && !d.contains("{{"), "{d}");
        }
    }
    let open = alerts_named(groups["tikv-3"][0], "TlsauditLinkOpen");
    let d = open[0]["annotations"]["description"].as_str().unwrap();
    assert!(d.contains("tiup cluster reload demo -R tikv"), "{d}");
    drop(s);
    lab.stop().await;
}
