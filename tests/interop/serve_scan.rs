//! `tlsaudit serve`'s hygiene scan over the embedded lab: `tlsaudit_tls_version_accepted` names
//! what `/report.json`'s `scan` of each endpoint says (the demo's TLS 1.2/1.3 servers refuse
//! TLS 1.0 and 1.1), the scan repeats every `--scan-interval` while rounds go on every
//! `--interval` (its end, in `tlsaudit_tls_scan_timestamp_seconds` and the report, stays the
//! same in between), and `--no-scan` serves no scan series.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tlsaudit_testkit::eventually_async;
use tlsaudit_testkit::serve::{get, serve, Serve};

use crate::serve_prometheus::wait_200;

/// Per endpoint, the versions a scan answered for, each with whether it was accepted.
type Versions = BTreeMap<String, BTreeMap<String, bool>>;

/// One look at the exporter: `/metrics`, then `/report.json`.
struct Sample {
    rounds: u64,
    /// `tlsaudit_tls_version_accepted`, by endpoint and `version` label.
    versions: Versions,
    /// `tlsaudit_tls_scan_timestamp_seconds`, by endpoint.
    scanned_at: BTreeMap<String, f64>,
    report: serde_json::Value,
}

/// The value of label `name` in an exposition line.
fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!("{name}=\""))? + name.len() + 2;
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

/// A line's value (after the last space).
fn line_value(line: &str) -> f64 {
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

async fn sample(s: &Serve) -> Sample {
    let (status, _, text) = get(&s.addr, "/metrics", None).await;
    assert_eq!(status, 200, "{text}");
    let (status, _, body) = get(&s.addr, "/report.json", None).await;
    assert_eq!(status, 200, "{body}");
    let mut out = Sample {
        rounds: 0,
        versions: Versions::new(),
        scanned_at: BTreeMap::new(),
        report: serde_json::from_str(&body).unwrap(),
    };
    for line in text.lines() {
        if line.starts_with("tlsaudit_rounds_total{") {
            out.rounds = line_value(line) as u64;
        } else if line.starts_with("tlsaudit_tls_version_accepted{") {
            let ep = label(line, "endpoint").unwrap().to_string();
            let version = label(line, "version").unwrap().to_string();
            let accepted = line_value(line) == 1.0;
            out.versions
                .entry(ep)
                .or_default()
                .insert(version, accepted);
        } else if line.starts_with("tlsaudit_tls_scan_timestamp_seconds{") {
            let ep = label(line, "endpoint").unwrap().to_string();
            out.scanned_at.insert(ep, line_value(line));
        }
    }
    out
}

/// The report's `scan` of each endpoint that has one: its `finished_at` (Unix time), and the
/// versions it got an answer for (accepted, or refused without a failure) spelled as the
/// probes' `TLSv1.2`; none for a scan that failed.
fn report_scans(report: &serde_json::Value) -> (BTreeMap<String, f64>, Versions) {
    let (mut ends, mut versions) = (BTreeMap::new(), Versions::new());
    for ep in report["endpoints"].as_array().unwrap() {
        let name = ep["name"].as_str().unwrap().to_string();
        let scan = &ep["scan"];
        if scan.is_null() {
            continue;
        }
        let end = humantime::parse_rfc3339(scan["finished_at"].as_str().unwrap()).unwrap();
        let end = end.duration_since(std::time::UNIX_EPOCH).unwrap();
        ends.insert(name.clone(), end.as_secs_f64());
        if !scan["failure"].is_null() {
            continue;
        }
        for v in scan["versions"].as_array().unwrap() {
            let accepted = v["accepted"].as_bool().unwrap();
            if accepted || v["failure"].is_null() {
                let label = v["version"].as_str().unwrap().replace("TLS ", "TLSv");
                versions
                    .entry(name.clone())
                    .or_default()
                    .insert(label, accepted);
            }
        }
    }
    (ends, versions)
}

/// The metrics and the report of one look describe the same scans: the same ends (when a
/// round ended between the two reads, they differ: look again), and then the same versions.
fn same_scans(s: &Sample) -> Result<(), String> {
    let (ends, versions) = report_scans(&s.report);
    let same_end = ends.len() == s.scanned_at.len()
        && ends
            .iter()
            .all(|(ep, t)| s.scanned_at.get(ep).is_some_and(|m| (m - t).abs() < 1e-3));
    if !same_end {
        return Err(format!(
            "scan ends: report {ends:?}, metrics {:?}",
            s.scanned_at
        ));
    }
    assert_eq!(s.versions, versions, "the version series are the report's");
    Ok(())
}

/// A look whose metrics and report describe the same scans.
async fn consistent_sample(s: &Serve) -> Sample {
    let (within, every) = (Duration::from_secs(10), Duration::from_millis(100));
    eventually_async(
        "/metrics and /report.json of the same scans",
        within,
        every,
        || async {
            let look = sample(s).await;
            same_scans(&look).map(|()| look)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_scans_at_its_own_interval() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let s = serve(&[
        "--config",
        config.to_str().unwrap(),
        "--interval",
        "1s",
        "--scan-interval",
        "4s",
    ]);
    wait_200(&s.addr, "/-/ready", 60).await;
    let first = consistent_sample(&s).await;
    let endpoints = first.report["endpoints"].as_array().unwrap().len();
    assert_eq!(
        first.scanned_at.len(),
        endpoints,
        "every endpoint scanned in the first round: {:?}",
        first.scanned_at
    );
    let tikv = &first.versions["tikv-1"];
    let want: BTreeMap<String, bool> = [
        ("TLSv1.0", false),
        ("TLSv1.1", false),
        ("TLSv1.2", true),
        ("TLSv1.3", true),
    ]
    .into_iter()
    .map(|(v, a)| (v.to_string(), a))
    .collect();
    assert_eq!(*tikv, want, "tikv-1: TLS 1.2 and 1.3 only");
    assert!(
        !first.versions.contains_key("tikv-3-status"),
        "plaintext: no version answered: {:?}",
        first.versions
    );
    // Rounds go on every second; the scan ends stay until the scan interval has passed.
    let t0 = first.scanned_at["tikv-1"];
    let started = Instant::now();
    let mut same_scan_rounds = vec![first.rounds];
    let rescanned = loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no second scan within 30 s; rounds {same_scan_rounds:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let look = consistent_sample(&s).await;
        if look.scanned_at["tikv-1"] == t0 {
            assert_eq!(
                look.scanned_at, first.scanned_at,
                "no endpoint rescanned before the others"
            );
            same_scan_rounds.push(look.rounds);
            continue;
        }
        break look;
    };
    let (lo, hi) = (
        same_scan_rounds[0],
        same_scan_rounds[same_scan_rounds.len() - 1],
    );
    assert!(
        hi >= lo + 2,
        "rounds advanced while the scan stayed: {same_scan_rounds:?}"
    );
    let gap = rescanned.scanned_at["tikv-1"] - t0;
    assert!(
        (4.0..20.0).contains(&gap),
        "the second scan ends {gap:.1} s after the first, not before --scan-interval 4s"
    );
    assert!(rescanned.rounds > hi, "the rescan came with a later round");
    assert_eq!(rescanned.versions["tikv-1"], want, "the same answers again");
    for (ep, t) in &rescanned.scanned_at {
        assert!(*t > first.scanned_at[ep], "{ep} rescanned too");
    }
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_without_the_scan_serves_no_scan_series() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let s = serve(&[
        "--config",
        config.to_str().unwrap(),
        "--interval",
        "1s",
        "--no-scan",
    ]);
    wait_200(&s.addr, "/-/ready", 60).await;
    // Two rounds, so that a scan of a later round would show too.
    let (within, every) = (Duration::from_secs(20), Duration::from_millis(200));
    let look = eventually_async("a second round", within, every, || async {
        let look = sample(&s).await;
        if look.rounds >= 2 {
            Ok(look)
        } else {
            Err(look.rounds)
        }
    })
    .await;
    assert!(look.versions.is_empty(), "{:?}", look.versions);
    assert!(look.scanned_at.is_empty(), "{:?}", look.scanned_at);
    let (ends, versions) = report_scans(&look.report);
    assert!(
        ends.is_empty() && versions.is_empty(),
        "no scan in the report"
    );
    let versions_info = look
        .report
        .get("endpoints")
        .and_then(|e| e.as_array())
        .map_or(0, Vec::len);
    assert!(versions_info > 0, "the rounds still ran");
    lab.stop().await;
}
