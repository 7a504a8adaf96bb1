//! The hygiene scan through the audit's real path, on nginx servers nobody here wrote: the
//! same endpoint (`web`, a generic TLS server with a certificate from a test CA) audited once on
//! nginx with two AEAD suites of TLS 1.2, once on nginx with TLS 1.0-1.2 and `ALL:@SECLEVEL=0`.
//! `tlsaudit report` carries the scan in its JSON, its findings in JSON and SARIF, a line in the
//! table and Markdown; `tlsaudit diff` of the two reports gates on the versions and suites
//! newly accepted; `--no-scan` says what it left out; `diagnose` prints what the server
//! accepts.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use tlsaudit_testkit::{cli, report_schema_errors, require_tool};

use crate::hygiene::{codes, nginx};

/// A test CA (`ca.crt`) and an RSA server certificate it issued for `localhost` and
/// 127.0.0.1 (`cert.pem`, `key.pem`, as the nginx helper reads them).
fn ca_and_server_cert(openssl: &Path, dir: &Path) {
    let run = |args: &[&str]| {
        let ok = Command::new(openssl)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "openssl {args:?} failed");
    };
    run(&[
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
    ]
    .into_iter()
    .chain([
        "-subj",
        "/CN=web test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ])
    .collect::<Vec<_>>());
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "cert.pem",
    ]);
}

/// An inventory of one generic endpoint `web` at `port`, probed without a certificate only.
fn inventory(dir: &Path, port: u16) -> PathBuf {
    let path = dir.join(format!("web-{port}.toml"));
    let text = format!(
        "[cluster]\nname = \"web\"\nca = \"ca.crt\"\n\n[probe]\ntimeout = \"3s\"\nforeign = false\nunlisted = false\n\n[[endpoints]]\nname = \"web\"\ncomponent = \"generic\"\naddress = \"127.0.0.1:{port}\"\nserver_name = \"localhost\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `tlsaudit report --config CONFIG --format FORMAT [extra]`: (exit code, stdout).
fn report(config: &Path, format: &str, extra: &[&str]) -> (i32, String) {
    let config = config.to_str().unwrap();
    let mut args = vec!["report", "--config", config, "--format", format];
    args.extend_from_slice(extra);
    let (code, out, err) = cli(&args);
    assert!(code <= 1, "report failed ({code}): {err}");
    (code, out)
}

fn accepted(doc: &Value) -> Vec<String> {
    doc["endpoints"][0]["scan"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["accepted"] == true)
        .map(|v| v["version"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_weak_server_shows_in_every_face_and_the_diff_gates_on_it() {
    let (Some(nginx_bin), Some(openssl)) = (require_tool("nginx"), require_tool("openssl")) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ca_and_server_cert(&openssl, dir);
    let aead = nginx(
        &nginx_bin,
        dir,
        "aead",
        "TLSv1.2",
        "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305",
    );
    let legacy = nginx(
        &nginx_bin,
        dir,
        "legacy",
        "TLSv1 TLSv1.1 TLSv1.2",
        "ALL:@SECLEVEL=0",
    );
    let (sound, weak) = (
        inventory(dir, aead.ports[0]),
        inventory(dir, legacy.ports[0]),
    );

    // JSON: the scan on the endpoint, its findings naming it.
    let (_, before) = report(&sound, "json", &[]);
    let before_doc: Value = serde_json::from_str(&before).unwrap();
    assert_eq!(accepted(&before_doc), ["TLS 1.2"]);
    let scan_codes = [
        "TLS_VERSION_OBSOLETE",
        "CIPHER_SUITE_INSECURE",
        "CIPHER_SUITE_WEAK",
    ];
    assert!(
        !codes(&before_doc)
            .iter()
            .any(|c| scan_codes.contains(&c.as_str())),
        "{:?}",
        codes(&before_doc)
    );
    let (code, after) = report(&weak, "json", &[]);
    assert_eq!(code, 1, "an insecure suite is critical");
    let after_doc: Value = serde_json::from_str(&after).unwrap();
    assert_eq!(accepted(&after_doc), ["TLS 1.0", "TLS 1.1", "TLS 1.2"]);
    // A scan with weak suites, refusals and groups, as the published schema describes it.
    let errors = report_schema_errors(&after_doc);
    assert!(errors.is_empty(), "{errors:#?}");
    for c in scan_codes {
        let f = after_doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == c)
            .unwrap_or_else(|| panic!("{c} missing: {:?}", codes(&after_doc)));
        assert_eq!(f["endpoint"], "web");
    }

    // SARIF, Markdown, the table: the same findings, the same line.
    let (_, sarif) = report(&weak, "sarif", &[]);
    assert!(
        sarif.contains("\"ruleId\": \"CIPHER_SUITE_INSECURE\""),
        "{sarif}"
    );
    let (_, md) = report(&weak, "markdown", &[]);
    assert!(md.contains("TLS 1.0, TLS 1.1, TLS 1.2"), "{md}");
    let (_, table) = report(&weak, "table", &[]);
    assert!(
        table.contains("web: TLS 1.0, TLS 1.1, TLS 1.2; weakest "),
        "{table}"
    );

    // diff: TLS 1.0 and 1.1 newly accepted (the suites of TLS 1.2 too) gate by default.
    std::fs::write(dir.join("before.json"), &before).unwrap();
    std::fs::write(dir.join("after.json"), &after).unwrap();
    let (b, a) = (dir.join("before.json"), dir.join("after.json"));
    let (b, a) = (b.to_str().unwrap(), a.to_str().unwrap());
    let (code, out, _) = cli(&["diff", b, a]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("TLS versions and suites newly accepted"),
        "{out}"
    );
    assert!(out.contains(": TLS 1.0 (weak)"), "{out}");
    assert!(out.contains("fails --fail-on: "), "{out}");
    let (code, _, _) = cli(&["diff", b, a, "--fail-on", "open"]);
    assert_eq!(code, 0, "a version newly accepted is not a verdict change");
    let (code, out, _) = cli(&["diff", a, b]);
    assert_eq!(code, 0, "versions no longer accepted do not gate: {out}");
    assert!(
        out.contains("TLS versions and suites no longer accepted"),
        "{out}"
    );

    // --no-scan: no scan, no scan finding, and the report says what it left out.
    let (_, plain) = report(&weak, "json", &["--no-scan"]);
    let plain: Value = serde_json::from_str(&plain).unwrap();
    assert!(plain["endpoints"][0].get("scan").is_none());
    assert!(!codes(&plain)
        .iter()
        .any(|c| scan_codes.contains(&c.as_str())));
    let said = plain["not_checked"].to_string();
    assert!(said.contains("not scanned (`--no-scan`"), "{said}");

    // diagnose scans the target too, and prints what it accepts.
    let (_, out, err) = cli(&["diagnose", "web", "--config", weak.to_str().unwrap()]);
    assert!(
        out.contains("TLS versions and suites accepted: TLS 1.0, TLS 1.1, TLS 1.2"),
        "{out}{err}"
    );
    assert!(out.contains("CIPHER_SUITE_INSECURE"), "{out}");
}
