//! Key hygiene: no output format, no log line and no warning carries private key material, and
//! a key file others can read draws one warning on stderr naming the file and the fix.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use tlsaudit_testkit::bin;

/// Slices of a PEM key that must never appear: three distinct 40-character windows of its
/// base64 body (the DER in base64) and the body's first line.
fn secrets(key: &Path) -> Vec<String> {
    let pem = std::fs::read_to_string(key).unwrap();
    assert!(pem.contains("PRIVATE KEY"), "{} is a key", key.display());
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    assert!(body.len() >= 120, "a key body is long");
    let mid = body.len() / 2 - 20;
    let mut v = vec![
        body[..40].to_string(),
        body[mid..mid + 40].to_string(),
        body[body.len() - 40..].to_string(),
    ];
    v.push(pem.lines().nth(1).unwrap().to_string());
    v.dedup();
    assert!(v.len() >= 3);
    v
}

fn run(args: &[&str], extra: &[&Path]) -> Output {
    let mut c = bin();
    c.args(args)
        .args(extra)
        .env("RUST_LOG", "trace")
        .env("RUSTLS_LOG", "trace");
    c.output().unwrap()
}

fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_or_log_carries_key_material() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let pki = lab.pki();
    let mut keys: Vec<PathBuf> = vec![pki.ca_key.clone()];
    keys.extend(pki.identities.values().map(|f| f.key.clone()));
    let needles: Vec<(PathBuf, String)> = keys
        .iter()
        .flat_map(|k| secrets(k).into_iter().map(move |s| (k.clone(), s)))
        .collect();
    let pd = lab.endpoint("pd-1").unwrap().addr.to_string();
    let tidb = &pki.identities["tidb"];
    let dir = tempfile::tempdir().unwrap();
    let tls = tlsaudit_testkit::tls_from_lab(&lab, dir.path());
    let prod = tlsaudit_testkit::pki::fixture("tiup/prod.yaml");

    let c = config.as_path();
    let mut runs: Vec<(String, Output)> = Vec::new();
    for format in ["json", "table", "html", "markdown", "sarif"] {
        runs.push((
            format!("report --format {format}"),
            run(&["report", "--format", format, "--config"], &[c]),
        ));
    }
    for format in ["text", "json"] {
        runs.push((
            format!("probe --format {format}"),
            run(
                &["probe", &pd, "--format", format, "--ca"],
                &[
                    &pki.ca_cert,
                    Path::new("--cert"),
                    &tidb.cert,
                    Path::new("--key"),
                    &tidb.key,
                ],
            ),
        ));
        runs.push((
            format!("diagnose --format {format}"),
            run(
                &[
                    "diagnose", "pd-1", "--as", "tidb", "--format", format, "--config",
                ],
                &[c],
            ),
        ));
    }
    for format in ["text", "json", "sarif"] {
        runs.push((
            format!("lint --format {format}"),
            run(
                &["lint", "--format", format, "--topology"],
                &[&prod, Path::new("--tls-dir"), &tls],
            ),
        ));
    }
    for (what, out) in &runs {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{what}: {:?}\n{stderr}",
            out.status
        );
        assert!(!stdout.is_empty(), "{what} printed its result");
        for text in [&stdout, &stderr] {
            assert!(!text.contains("PRIVATE KEY"), "{what}: a PEM key label");
            for (key, needle) in &needles {
                assert!(
                    !text.contains(needle.as_str()),
                    "{what} leaks a slice of {}",
                    key.display()
                );
            }
        }
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_others_can_read_is_warned_about_once() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let pki = lab.pki();
    for f in pki.identities.values() {
        set_mode(&f.key, 0o600);
    }
    set_mode(&pki.ca_key, 0o600);
    let tidb = pki.identities["tidb"].clone();
    let pd = lab.endpoint("pd-1").unwrap().addr.to_string();
    let probe = |extra: &[&str]| {
        let mut c = bin();
        c.args(["probe", &pd, "--ca"])
            .arg(&pki.ca_cert)
            .arg("--cert")
            .arg(&tidb.cert)
            .arg("--key")
            .arg(&tidb.key)
            .args(extra);
        c.output().unwrap()
    };

    // 0600: no warning.
    let out = probe(&[]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("warning:"),
        "{out:?}"
    );

    set_mode(&tidb.key, 0o640);
    let fix = format!("chmod 600 {}", tidb.key.display());
    let out = probe(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches(&fix).count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "warning: the private key {} is readable by its group (mode 0640)",
            tidb.key.display()
        )),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(0), "the probe still runs: {err}");

    // The audit loads the key once for its identity; one warning for the whole run, even
    // when the report goes to a file.
    set_mode(&tidb.key, 0o644);
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["report", "--format", "json", "--config"])
        .arg(&config)
        .arg("-o")
        .arg(dir.path().join("r.json"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches(&fix).count(), 1, "{err}");
    assert!(err.contains("readable by every user (mode 0644)"), "{err}");
    assert_eq!(err.matches("warning:").count(), 1, "only that key: {err}");

    // diagnose too.
    let out = bin()
        .args(["diagnose", "pd-1", "--as", "tidb", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches(&fix).count(), 1, "{err}");
}
