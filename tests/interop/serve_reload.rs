//! `tlsaudit serve` reloading its inventory on SIGHUP, over the embedded lab: an endpoint added
//! to the file is in `/report.json` and `/metrics` after the next round; an invalid file is
//! logged (its path and line) and the previous inventory keeps serving; SIGHUP never ends the
//! process, SIGTERM still stops it cleanly.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use tlsaudit_testkit::eventually_async;
use tlsaudit_testkit::serve::{get, serve, Serve};

fn signal(s: &Serve, name: &str) {
    let sent = std::process::Command::new("kill")
        .args([format!("-{name}"), s.proc.0.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name}");
}

/// The next stderr line that contains `needle`, within `within`.
fn stderr_line(s: &Serve, needle: &str, within: Duration) -> String {
    let until = Instant::now() + within;
    let mut seen = Vec::new();
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match s.stderr.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no stderr line with {needle:?} within {within:?}; saw {seen:#?}");
}

async fn report(s: &Serve) -> serde_json::Value {
    let (status, _, body) = get(&s.addr, "/report.json", None).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The endpoint names of a JSON report.
fn endpoints(report: &serde_json::Value) -> Vec<String> {
    report["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

/// Until `/report.json` is of a round with (or without) endpoint `name`.
async fn wait_for_endpoint(s: &Serve, name: &str, present: bool) {
    let (within, every) = (Duration::from_secs(60), Duration::from_millis(200));
    eventually_async(
        "the report of a round of the new inventory",
        within,
        every,
        || async {
            let (status, _, body) = get(&s.addr, "/report.json", None).await;
            let names = if status == 200 {
                endpoints(&serde_json::from_str(&body).unwrap())
            } else {
                Vec::new()
            };
            if status == 200 && names.iter().any(|n| n == name) == present {
                Ok(())
            } else {
                Err(format!("status {status}, endpoints {names:?}"))
            }
        },
    )
    .await;
}

/// The value of `tlsaudit_config_last_reload_<name>` in an exposition.
fn reload_gauge(metrics: &str, name: &str) -> f64 {
    let series = format!("tlsaudit_config_last_reload_{name}{{");
    let line = metrics
        .lines()
        .find(|l| l.starts_with(&series))
        .unwrap_or_else(|| panic!("no {series} in:\n{metrics}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_inventory_and_an_invalid_one_keeps_the_old() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let original = std::fs::read_to_string(&config).unwrap();
    let path = config.with_file_name("reloaded.toml");
    std::fs::write(&path, &original).unwrap();
    let mut s = serve(&["--config", path.to_str().unwrap(), "--interval", "10m"]);
    wait_for_endpoint(&s, "tikv-1", true).await;
    let before = endpoints(&report(&s).await);
    assert!(!before.iter().any(|n| n == "gone-1"), "{before:?}");

    // An endpoint added: a round of the new inventory starts at once (the interval is 10m).
    let (_refusing, addr) = tlsaudit_testkit::refusing_addr();
    let added = format!(
        "{original}\n[[endpoints]]\nname = \"gone-1\"\ncomponent = \"tikv\"\nrole = \"grpc\"\naddress = \"{addr}\"\nallowed_cn = [\"tidb\"]\n"
    );
    std::fs::write(&path, &added).unwrap();
    signal(&s, "HUP");
    let line = stderr_line(&s, "reloaded", Duration::from_secs(30));
    let cells = (before.len() + 1) * 8;
    assert!(line.contains(&format!("({cells} cells)")), "{line}");
    wait_for_endpoint(&s, "gone-1", true).await;
    let (_, _, metrics) = get(&s.addr, "/metrics", None).await;
    assert!(
        metrics.contains("endpoint=\"gone-1\""),
        "gone-1 not in /metrics"
    );
    assert_eq!(reload_gauge(&metrics, "successful"), 1.0);
    let loaded = reload_gauge(&metrics, "success_timestamp_seconds");
    assert!(loaded > 1.7e9, "{loaded}");
    let after = endpoints(&report(&s).await);
    assert_eq!(after.len(), before.len() + 1);

    // An invalid file: the error names the file and the line; the old inventory keeps serving.
    let lines = added.lines().count();
    std::fs::write(&path, format!("{added}\n[[endpoints]]\nname = \n")).unwrap();
    signal(&s, "HUP");
    let line = stderr_line(&s, "reload failed", Duration::from_secs(30));
    eprintln!("{line}");
    assert!(line.contains("reloaded.toml:"), "{line}");
    assert!(line.contains(&format!(":{}:", lines + 3)), "{line}");
    assert!(
        line.ends_with("still serving the previous inventory"),
        "{line}"
    );
    assert_eq!(endpoints(&report(&s).await), after);
    // The failure shows in /metrics at once (no round runs before the 10-minute tick), and
    // the inventory in force is still the one loaded before.
    let (_, _, metrics) = get(&s.addr, "/metrics", None).await;
    assert_eq!(reload_gauge(&metrics, "successful"), 0.0, "{metrics}");
    assert_eq!(reload_gauge(&metrics, "success_timestamp_seconds"), loaded);
    let (status, _, body) = get(&s.addr, "/probe?target=gone-1&module=tidb", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(s.proc.0.try_wait().unwrap().is_none(), "SIGHUP ended serve");

    // The endpoint removed again: reloaded, and gone from the next round's report.
    std::fs::write(&path, &original).unwrap();
    signal(&s, "HUP");
    stderr_line(&s, "reloaded", Duration::from_secs(30));
    wait_for_endpoint(&s, "gone-1", false).await;
    let (_, _, metrics) = get(&s.addr, "/metrics", None).await;
    assert_eq!(reload_gauge(&metrics, "successful"), 1.0);
    assert!(reload_gauge(&metrics, "success_timestamp_seconds") >= loaded);
    let (status, _, _) = get(&s.addr, "/probe?target=gone-1&module=tidb", None).await;
    assert_eq!(status, 400);

    signal(&s, "TERM");
    let (within, every) = (Duration::from_secs(20), Duration::from_millis(50));
    let code = eventually_async("serve to exit after SIGTERM", within, every, || {
        let exited = s.proc.0.try_wait().unwrap();
        async move { exited.map(|st| st.code()).ok_or("still running") }
    })
    .await;
    assert_eq!(code, Some(0));
    lab.stop().await;
}
