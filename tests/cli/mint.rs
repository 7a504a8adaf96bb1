//! `tlsaudit mint` from the outside: it issues the outsiders and a component's identity from
//! the lab's CA, writes keys 0600 (never printed, never replaced without --force), and the
//! inventory entries it prints make an audit with no CA key judge them as the audit's own
//! run-time identities would be judged: the outsiders refused (`enforced`) where a list or the
//! CA check refuses them and `open` where the running server enforces no list.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use tlsaudit_testkit::{cli, demo_planted};

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The demo's inventory without its CA key and its `tikv` identity (minted instead), with the
/// entries `mint` printed and the run-time outsiders switched off.
fn inventory_without_ca_key(demo: &str, minted: &str) -> String {
    let mut t = String::new();
    let mut skip = false;
    for line in demo.lines() {
        if line.starts_with("[identities.tikv]") {
            skip = true;
        } else if line.starts_with('[') {
            skip = false;
        }
        if !skip && !line.starts_with("ca_key") {
            t.push_str(line);
            t.push('\n');
        }
    }
    let start = minted.find("[identities.").unwrap();
    let end = minted.find("# and switch off").unwrap();
    t.push_str(&minted[start..end]);
    t.push_str("[probe]\nforeign = false\nunlisted = false\n");
    t
}

/// Each cell's verdict by (identity, endpoint).
fn verdicts(report: &Value) -> BTreeMap<(String, String), String> {
    report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                (
                    c["identity"].as_str().unwrap().to_string(),
                    c["endpoint"].as_str().unwrap().to_string(),
                ),
                c["verdict"].as_str().unwrap_or("none").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minted_outsiders_are_judged_as_outsiders_with_no_ca_key() {
    let (lab, config) = tlsaudit::demo::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("minted");
    let c = config.to_str().unwrap();
    let o = out.to_str().unwrap();
    let (code, minted, err) = cli(&["mint", "--config", c, "--out", o, "--component", "tikv"]);
    assert_eq!(code, 0, "{err}");
    assert!(!minted.contains("PRIVATE KEY"), "{minted}");
    for name in ["foreign-ca", "unlisted-cn", "tikv"] {
        assert_eq!(mode(&out.join(format!("{name}.key"))), 0o600, "{name}");
        assert!(out.join(format!("{name}.crt")).is_file(), "{name}");
    }
    assert!(minted.contains("foreign = false") && minted.contains("unlisted = false"));

    let inv_text = inventory_without_ca_key(&std::fs::read_to_string(&config).unwrap(), &minted);
    let ca_key = lab.pki().ca_key.clone();
    assert!(!inv_text.contains(ca_key.to_str().unwrap()), "{inv_text}");
    let inv = dir.path().join("vantage.toml");
    std::fs::write(&inv, &inv_text).unwrap();
    // The CA key is out of reach while the audit runs.
    let away = dir.path().join("ca-key-away.pem");
    std::fs::rename(&ca_key, &away).unwrap();
    let (code, json, err) = cli(&[
        "report",
        "--config",
        inv.to_str().unwrap(),
        "--format",
        "json",
    ]);
    std::fs::rename(&away, &ca_key).unwrap();
    assert!(matches!(code, 0 | 1), "{err}");
    let report: Value = serde_json::from_str(&json).unwrap();

    let ids = report["identities"].as_array().unwrap();
    let id = |n: &str| ids.iter().find(|i| i["name"] == n).unwrap().clone();
    assert_eq!(id("foreign-ca")["cn"], "tidb");
    assert_eq!(id("foreign-ca")["check"]["chains_to_ca"], false);
    assert_eq!(id("unlisted-cn")["cn"], "tlsaudit-unlisted");
    assert_eq!(id("unlisted-cn")["check"]["chains_to_ca"], true);
    assert_eq!(id("tikv")["cn"], "tikv");
    let names: Vec<&str> = ids.iter().filter_map(|i| i["name"].as_str()).collect();
    assert!(
        !names.contains(&"foreign") && !names.contains(&"unlisted"),
        "{names:?}"
    );

    // Each minted identity is judged as the run-time one of its kind: tikv-3's unenforced
    // list is open to the unlisted CN, every other list and the CA check refuse the outsiders.
    let got = verdicts(&report);
    for ep in tlsaudit_testkit::DEMO_ENDPOINTS {
        for (minted, runtime) in [
            ("foreign-ca", "foreign"),
            ("unlisted-cn", "unlisted"),
            ("tikv", "tikv"),
        ] {
            let want: &str = demo_planted(runtime, ep).as_str();
            assert_eq!(
                got[&(minted.to_string(), ep.to_string())],
                want,
                "({minted}, {ep})"
            );
        }
    }
    assert_eq!(got[&("unlisted-cn".into(), "tikv-3".into())], "open");
    assert_eq!(got[&("foreign-ca".into(), "tikv-1".into())], "enforced");
    // The identities minted for 90 days draw no expiry or certificate finding.
    let findings = report["findings"].as_array().unwrap();
    for f in findings {
        let code = f["code"].as_str().unwrap();
        assert!(
            !matches!(code, "CERT_EXPIRING" | "IDENTITY_INVALID" | "CERT_EXPIRED"),
            "{f}"
        );
    }
}

#[test]
fn mint_from_the_ca_files_never_replaces_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let pki = tlsaudit_testkit::pki::ca();
    let (ca, key) = (dir.path().join("ca.crt"), dir.path().join("ca.pem"));
    std::fs::write(&ca, &pki.cert_pem).unwrap();
    tlsaudit_testkit::pki::write_key(&key, &pki.key_pem);
    let out = dir.path().join("out");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "mint",
            "--ca",
            ca.to_str().unwrap(),
            "--ca-key",
            key.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-foreign",
            "--component",
            "cdc",
            "--days",
            "7",
        ];
        a.extend_from_slice(extra);
        cli(&a)
    };
    let (code, text, err) = args(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("[identities.cdc]") && text.contains("component = \"ticdc\""),
        "{text}"
    );
    assert!(text.contains("valid 7 days"), "{text}");
    let first = std::fs::read(out.join("cdc.key")).unwrap();
    let (code, _, err) = args(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(out.join("cdc.key")).unwrap(), first);
    let (code, _, err) = args(&["--force"]);
    assert_eq!(code, 0, "{err}");
    assert_ne!(std::fs::read(out.join("cdc.key")).unwrap(), first);
    assert_eq!(mode(&out.join("cdc.key")), 0o600);

    // Without the key: a usage error that says where the key is, and nothing written.
    let (code, _, err) = cli(&["mint", "--ca", ca.to_str().unwrap(), "--out", "never"]);
    assert_eq!(code, 2);
    assert!(err.contains("--ca-key"), "{err}");
    assert!(!Path::new("never").exists());
    let (code, _, err) = cli(&["mint", "--out", "never", "--days", "0"]);
    assert_eq!(code, 2, "{err}");
}
