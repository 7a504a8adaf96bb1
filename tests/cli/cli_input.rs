//! Bad input through the real binary: one line naming the file and the fix, exit 2, no key
//! material, no panic.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use tlsaudit_testkit::cli as run;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::OrganizationName, "PingCAP");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        std::fs::write(dir.path().join("ca.crt"), ca_cert.pem()).unwrap();
        for name in ["a", "b"] {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut p = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, name);
            let c = p.signed_by(&key, &issuer).unwrap();
            std::fs::write(dir.path().join(format!("{name}.crt")), c.pem()).unwrap();
            // Keys as they are kept: mode 0600 (a wider mode draws a warning on stderr).
            tlsaudit_testkit::pki::write_key(
                &dir.path().join(format!("{name}.pem")),
                &key.serialize_pem(),
            );
        }
        Files { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn assert_input_error(args: &[&str], file: &Path, words: &str, key_files: &[PathBuf]) {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 2, "exit code for {args:?}: stderr {stderr}");
    assert!(stdout.is_empty(), "nothing on stdout: {stdout}");
    let line = stderr.trim_end();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(
        line.contains(&file.display().to_string()),
        "names the file: {line}"
    );
    assert!(line.contains(words), "says {words:?}: {line}");
    assert!(line.contains("; "), "has a fix: {line}");
    assert!(!line.contains("panicked"), "{line}");
    for k in key_files {
        let key = std::fs::read_to_string(k).unwrap_or_default();
        for l in key
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 16)
        {
            assert!(!stderr.contains(l), "key material printed");
        }
    }
}

#[test]
fn missing_ca_file() {
    let f = Files::new();
    let missing = f.path("nope.crt");
    assert_input_error(
        &["probe", "127.0.0.1:1", "--ca", missing.to_str().unwrap()],
        &missing,
        "file not found",
        &[],
    );
}

#[test]
fn empty_ca_file() {
    let f = Files::new();
    let empty = f.path("empty.crt");
    std::fs::write(&empty, "").unwrap();
    assert_input_error(
        &["probe", "127.0.0.1:1", "--ca", empty.to_str().unwrap()],
        &empty,
        "is empty",
        &[],
    );
}

#[test]
fn key_passed_as_ca_is_wrong_block_type() {
    let f = Files::new();
    let key = f.path("a.pem");
    assert_input_error(
        &["probe", "127.0.0.1:1", "--ca", key.to_str().unwrap()],
        &key,
        "holds a private key, not a certificate",
        std::slice::from_ref(&key),
    );
}

#[test]
fn cert_passed_as_key_is_wrong_block_type() {
    let f = Files::new();
    let (ca, cert) = (f.path("ca.crt"), f.path("a.crt"));
    assert_input_error(
        &[
            "probe",
            "127.0.0.1:1",
            "--ca",
            ca.to_str().unwrap(),
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            cert.to_str().unwrap(),
        ],
        &cert,
        "holds a certificate, not a private key",
        &[],
    );
}

#[test]
fn cert_key_mismatch() {
    let f = Files::new();
    let (ca, cert, key) = (f.path("ca.crt"), f.path("a.crt"), f.path("b.pem"));
    assert_input_error(
        &[
            "probe",
            "127.0.0.1:1",
            "--ca",
            ca.to_str().unwrap(),
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        &key,
        "does not belong to the certificate",
        std::slice::from_ref(&key),
    );
}

#[test]
fn encrypted_key() {
    let f = Files::new();
    let plain = f.path("a.pem");
    let enc = f.path("a.enc.pem");
    let status = Command::new("openssl")
        .args([
            "pkcs8",
            "-topk8",
            "-v2",
            "aes256",
            "-passout",
            "pass:secret",
            "-in",
        ])
        .arg(&plain)
        .arg("-out")
        .arg(&enc)
        .status()
        .expect("openssl is installed");
    assert!(status.success());
    let (ca, cert) = (f.path("ca.crt"), f.path("a.crt"));
    assert_input_error(
        &[
            "probe",
            "127.0.0.1:1",
            "--ca",
            ca.to_str().unwrap(),
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            enc.to_str().unwrap(),
        ],
        &enc,
        "encrypted",
        &[enc.clone(), plain.clone()],
    );
}

#[test]
fn bad_address_is_a_usage_error() {
    let f = Files::new();
    let (code, _, stderr) = run(&[
        "probe",
        "localhost",
        "--ca",
        f.path("ca.crt").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("HOST:PORT"), "{stderr}");
}

#[test]
fn cert_without_key_is_a_usage_error() {
    let f = Files::new();
    let (code, _, stderr) = run(&[
        "probe",
        "127.0.0.1:1",
        "--ca",
        f.path("ca.crt").to_str().unwrap(),
        "--cert",
        f.path("a.crt").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--key"), "{stderr}");
}

#[test]
fn refused_port_exits_1_with_the_class() {
    let f = Files::new();
    // Bind then drop to find a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, stdout, _) = run(&[
        "probe",
        &format!("127.0.0.1:{port}"),
        "--ca",
        f.path("ca.crt").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["outcome"]["class"], "refused");
    assert_eq!(v["outcome"]["phase"], "connect");
}

#[test]
fn a_port_out_of_range_says_so() {
    let f = Files::new();
    for (addr, words) in [
        ("127.0.0.1:70000", "port 70000 is out of range"),
        ("127.0.0.1:0", "port 0 cannot be dialed"),
        ("127.0.0.1:http", "is not a port number"),
    ] {
        let (code, _, stderr) = run(&["probe", addr, "--ca", f.path("ca.crt").to_str().unwrap()]);
        assert_eq!(code, 2, "{addr}");
        assert!(stderr.contains(words), "{addr}: {stderr}");
        let (code, _, stderr) =
            run(&["diagnose", addr, "--ca", f.path("ca.crt").to_str().unwrap()]);
        assert_eq!(code, 2, "{addr}");
        assert!(stderr.contains(words), "{addr}: {stderr}");
    }
}

#[test]
fn report_without_input_names_every_input_option() {
    let (code, _, stderr) = run(&["report"]);
    assert_eq!(code, 2);
    for option in [
        "--config",
        "--topology",
        "--component-config",
        "tlsaudit demo",
    ] {
        assert!(stderr.contains(option), "{option}: {stderr}");
    }
}

/// The same `--format` words for every command, in any case: `text` (the table where the
/// output is a matrix) and `json` everywhere.
#[test]
fn format_words_are_the_same_for_every_command_in_any_case() {
    let f = Files::new();
    let ca = f.path("ca.crt");
    let ca = ca.to_str().unwrap();
    let (_reserved, dead) = tlsaudit_testkit::refusing_addr();
    let log = f.path("log.txt");
    std::fs::write(&log, "x509: certificate signed by unknown authority\n").unwrap();
    let log = log.to_str().unwrap();
    let topo = f.path("topology.yaml");
    std::fs::write(
        &topo,
        "global:\n  enable_tls: true\npd_servers:\n  - host: 127.0.0.1\n",
    )
    .unwrap();
    let topo = topo.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["probe", &dead, "--ca", ca],
        vec!["diagnose", &dead, "--ca", ca, "--timeout", "1s"],
        vec!["explain", log],
        vec!["lint", "--topology", topo],
    ];
    for cmd in &commands {
        for word in ["TEXT", "Json", "json", "text"] {
            let mut args = cmd.clone();
            args.extend(["--format", word]);
            let (code, stdout, stderr) = run(&args);
            assert!(code == 0 || code == 1, "{args:?}: {code} {stderr}");
            if word.eq_ignore_ascii_case("json") {
                assert!(
                    serde_json::from_str::<serde_json::Value>(&stdout).is_ok(),
                    "{args:?}: {stdout}"
                );
            }
        }
    }
    // `report` and `diff` take the same words (the report's text is its table).
    for word in ["TEXT", "table", "JSON"] {
        let (code, _, stderr) = run(&[
            "report",
            "--topology",
            "/nonexistent.yaml",
            "--format",
            word,
        ]);
        assert_eq!(code, 2, "{word}");
        assert!(!stderr.contains("invalid value"), "{word}: {stderr}");
        let (code, _, stderr) = run(&[
            "diff",
            "/nonexistent-a.json",
            "/nonexistent-b.json",
            "--format",
            word,
        ]);
        assert_eq!(code, 2, "{word}");
        assert!(!stderr.contains("invalid value"), "{word}: {stderr}");
    }
}

/// Config values that would make a semaphore panic are input errors naming the file.
#[test]
fn a_huge_concurrency_is_an_input_error() {
    let f = Files::new();
    let config = f.path("tlsaudit.toml");
    std::fs::write(
        &config,
        format!(
            "[cluster]\nname = \"c\"\nca = {:?}\n\n[probe]\nconcurrency = 100000000000\n\n[[endpoints]]\nname = \"pd\"\ncomponent = \"pd\"\naddress = \"127.0.0.1:1\"\n",
            f.path("ca.crt").display().to_string()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
        .args(["report", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("tlsaudit.toml:6:") && err.contains("at most 4096"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
