//! `tlsaudit serve` left running for days, with the clock moved by libfaketime (Debian's
//! `faketime`) in both the exporter and the cluster it audits (the demo lab): the identities the
//! tool mints are renewed before they expire, so an outsider admitted by a server that does not
//! enforce its list stays `open` on day 2 and day 8, no finding appears or goes away with the
//! clock, and no minted identity is reported as a certificate expiring.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tlsaudit_testkit::serve::{get, serve_with_env, Proc, Serve};

/// libfaketime's preload library, where Debian's `faketime` package puts it.
fn libfaketime() -> Option<PathBuf> {
    tlsaudit_testkit::require_tool("faketime")?;
    let found = std::fs::read_dir("/usr/lib")
        .ok()?
        .filter_map(Result::ok)
        .map(|d| d.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.is_file());
    assert!(
        found.is_some() || !tlsaudit_testkit::in_ci(),
        "faketime is installed but libfaketime.so.1 is not under /usr/lib/*/faketime"
    );
    found
}

/// The environment that runs a process on the clock of `offset_file` (re-read at every call),
/// with the monotonic clock left alone so that timers and timeouts keep real time.
fn fake_clock<'a>(lib: &'a Path, offset_file: &'a Path) -> [(&'static str, &'a OsStr); 4] {
    [
        ("LD_PRELOAD", lib.as_os_str()),
        ("FAKETIME_TIMESTAMP_FILE", offset_file.as_os_str()),
        ("FAKETIME_NO_CACHE", OsStr::new("1")),
        ("FAKETIME_DONT_FAKE_MONOTONIC", OsStr::new("1")),
    ]
}

/// `tlsaudit demo --keep-running` on the fake clock: the process and its inventory's path.
fn demo_lab(env: &[(&str, &OsStr)]) -> (Proc, PathBuf) {
    let mut child = tlsaudit_testkit::bin()
        .args(["demo", "--keep-running", "--format", "json"])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let proc = Proc(child);
    let mut lines = BufReader::new(stderr).lines();
    let config = lines
        .find_map(|l| {
            l.ok()?
                .strip_prefix("lab running; inventory at ")
                .map(PathBuf::from)
        })
        .expect("the demo prints its inventory");
    // Keep draining stderr so that the lab never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (proc, config)
}

/// The report of a round that started after now: the third distinct round seen from here (the
/// one running now may have started before the clock moved).
async fn next_report(s: &Serve) -> Value {
    let started = |doc: &Value| doc["started_at"].as_str().map(str::to_string);
    let mut seen = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let doc = report(s).await;
        seen.insert(started(&doc));
        if seen.len() >= 3 {
            return doc;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new round within 60 s; rounds seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn report(s: &Serve) -> Value {
    let (status, _, body) = get(&s.addr, "/report.json", None).await;
    if status != 200 {
        return Value::Null;
    }
    serde_json::from_str(&body).unwrap()
}

fn verdict(doc: &Value, identity: &str, endpoint: &str) -> String {
    let cells = doc["cells"].as_array().unwrap();
    let cell = cells
        .iter()
        .find(|c| c["identity"] == identity && c["endpoint"] == endpoint)
        .unwrap();
    cell["verdict"].as_str().unwrap().to_string()
}

/// The identity's certificate (its SHA-256) as the report shows it.
fn identity_cert(doc: &Value, name: &str) -> String {
    let ids = doc["identities"].as_array().unwrap();
    let id = ids.iter().find(|i| i["name"] == name).unwrap();
    id["sha256"].as_str().unwrap().to_string()
}

/// Every finding as (code, endpoint, identity): what an alert would be raised for.
fn findings(doc: &Value) -> BTreeSet<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {} {}", f["code"], f["endpoint"], f["identity"]))
        .collect()
}

#[tokio::test]
async fn two_days_and_more_of_serve_keep_an_open_list_open_and_raise_nothing_new() {
    let Some(lib) = libfaketime() else { return };
    let dir = tempfile::tempdir().unwrap();
    let offset = dir.path().join("offset");
    std::fs::write(&offset, "+0\n").unwrap();
    let env = fake_clock(&lib, &offset);
    let (_lab, config) = demo_lab(&env);
    let s = serve_with_env(
        &["--config", config.to_str().unwrap(), "--interval", "1s"],
        &env,
    );
    let day0 = next_report(&s).await;
    assert_eq!(verdict(&day0, "unlisted", "tikv-3"), "open");
    let minted = ["foreign", "unlisted"].map(|n| identity_cert(&day0, n));
    let expected_findings = findings(&day0);
    assert!(
        !expected_findings
            .iter()
            .any(|f| f.contains("CERT_EXPIR") && (f.contains("unlisted") || f.contains("foreign"))),
        "{expected_findings:?}"
    );
    // Day 1 and day 2: the identities minted at start are still within their first half.
    for days in [1, 2] {
        std::fs::write(&offset, format!("+{days}d\n")).unwrap();
        let doc = next_report(&s).await;
        assert_eq!(verdict(&doc, "unlisted", "tikv-3"), "open", "day {days}");
        assert_eq!(findings(&doc), expected_findings, "day {days}");
        assert_eq!(
            ["foreign", "unlisted"].map(|n| identity_cert(&doc, n)),
            minted
        );
    }
    // Day 4: past half their validity, they are minted again; on day 8, when the first ones
    // would have expired, the renewed ones call (renewed once more: day 8 is past the half of
    // the day-4 ones too).
    std::fs::write(&offset, "+4d\n").unwrap();
    let doc = next_report(&s).await;
    let renewed = ["foreign", "unlisted"].map(|n| identity_cert(&doc, n));
    assert!(
        renewed[0] != minted[0] && renewed[1] != minted[1],
        "renewed on day 4"
    );
    std::fs::write(&offset, "+8d\n").unwrap();
    let doc = next_report(&s).await;
    assert_eq!(verdict(&doc, "unlisted", "tikv-3"), "open", "day 8");
    assert_eq!(findings(&doc), expected_findings, "day 8");
    let again = ["foreign", "unlisted"].map(|n| identity_cert(&doc, n));
    assert!(
        again[0] != renewed[0] && again[1] != minted[1],
        "renewed on day 8"
    );
}
