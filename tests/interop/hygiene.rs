//! `tlsaudit scan` against servers nobody here wrote, checked against sslyze on the same
//! servers in the same run: nginx with TLS 1.0-1.2 and `ALL:@SECLEVEL=0` (anonymous ECDH,
//! static RSA, CBC-SHA1), nginx with TLS 1.3 only, nginx with a short AEAD-only TLS 1.2 list,
//! `openssl s_server -tls1 -cipher ALL:@SECLEVEL=0`, and a Go server with crypto/tls's
//! defaults (`go_tls_server.go`, built here with the installed `go`: PD, TiCDC and TiDB's
//! status port are such servers). For each, the versions accepted and the suites of each
//! version must equal sslyze's. MariaDB through MySQL STARTTLS, which sslyze cannot do,
//! against `openssl s_client -starttls mysql`, one suite at a time. Then hostile peers (a Rust
//! listener in the test): garbage to every hello, a reset, one that "accepts" every suite
//! offered, a silent one: each ends within its deadline with a clear class.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::generic_mtls::{on_free_port, openssl_server, wait_ready, Server};
use serde_json::Value;
use tlsaudit_engine::scan::{self, Failure, ScanLimits, ScanSpec};
use tlsaudit_testkit::{bin, free_port, require_tool};

/// Per version (`TLS 1.2`), the accepted suites' IANA names, sorted.
type Accepted = BTreeMap<String, Vec<String>>;

/// An RSA 2048 self-signed certificate (`cert.pem`, `key.pem`): RSA so that static-RSA suites
/// exist on the server.
fn rsa_cert(openssl: &Path, dir: &Path) {
    let ok = Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl req failed");
}

/// nginx with one TLS server whose `ssl_protocols` and `ssl_ciphers` are given (`ciphers`
/// empty: nginx's default), in its own folder under `dir`.
pub(crate) fn nginx(
    nginx: &Path,
    dir: &Path,
    name: &str,
    protocols: &str,
    ciphers: &str,
) -> Server {
    let root = dir.join(name);
    let start = |port| {
        let server = tls_server(dir, port, protocols, ciphers);
        let conf = tlsaudit_testkit::nginx::config(&root, &server, false);
        tlsaudit_testkit::nginx::spawn(nginx, &root, &conf)
    };
    on_free_port(start).unwrap_or_else(|| {
        let log = std::fs::read_to_string(root.join("error.log")).unwrap_or_default();
        panic!("nginx ({name}) did not start:\n{log}")
    })
}

/// An nginx `server` block on `port` with the certificate of `dir`, `protocols` and (unless
/// empty) `ciphers`.
fn tls_server(dir: &Path, port: u16, protocols: &str, ciphers: &str) -> String {
    let t = dir.display();
    let ciphers = if ciphers.is_empty() {
        String::new()
    } else {
        format!("    ssl_ciphers \"{ciphers}\";\n")
    };
    format!(
        "  server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {t}/cert.pem;\n    ssl_certificate_key {t}/key.pem;\n    ssl_protocols {protocols};\n{ciphers}    location / {{ return 200 \"ok\\n\"; }}\n  }}\n"
    )
}

/// `openssl s_server` with `args` (Debian's OpenSSL 3 needs `@SECLEVEL=0` in the cipher string
/// for TLS 1.0: at the default level 1 its SHA-1 signatures are refused).
fn s_server(openssl: &Path, dir: &Path, args: &[&str]) -> Server {
    let start = openssl_server(openssl, dir, ("cert.pem", "key.pem"), args);
    on_free_port(start).expect("openssl s_server did not start")
}

// ---- Go's crypto/tls -------------------------------------------------------------------------

/// The Go server: crypto/tls with a certificate and nothing else set (`go_tls_server.go`).
const GO_SERVER: &str = include_str!("go_tls_server.go");

/// `go` with everything it writes under `root` (HOME, GOCACHE, GOPATH), none of the user's
/// settings (GOENV=off, GOFLAGS empty, no GOWORK or GODEBUG), no network (GOPROXY=off: the
/// program imports the standard library only), no toolchain download (GOTOOLCHAIN=local) and
/// no C compiler (CGO_ENABLED=0).
fn go_command(go: &Path, root: &Path) -> Command {
    let mut cmd = Command::new(go);
    cmd.env("HOME", root.join("home"))
        .env("GOCACHE", root.join("cache"))
        .env("GOPATH", root.join("gopath"))
        .env("GOFLAGS", "")
        .env("GOENV", "off")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .env_remove("GOWORK")
        .env_remove("GODEBUG")
        .current_dir(root);
    cmd
}

/// The toolchain's version (`go1.19.8`).
fn go_version(go: &Path, root: &Path) -> String {
    let out = go_command(go, root)
        .args(["env", "GOVERSION"])
        .output()
        .unwrap();
    assert!(out.status.success(), "go env GOVERSION: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The language version of a toolchain version: `1.19` of `go1.19.8`.
fn go_language(version: &str) -> String {
    let release = version.strip_prefix("go").unwrap_or(version);
    release.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

/// `GO_SERVER` built in `dir/go`, and the toolchain's version. The module's `go` line is the
/// toolchain's own version, so the program gets that release's defaults: a module declaring an
/// older Go, or a GOPATH-mode build, keeps older GODEBUG defaults (from Go 1.22 on, TLS 1.0
/// and static RSA would come back).
fn go_build(go: &Path, dir: &Path) -> (PathBuf, String) {
    let root = dir.join("go");
    std::fs::create_dir_all(root.join("home")).unwrap();
    let version = go_version(go, &root);
    let module = format!("module gotlsserver\n\ngo {}\n", go_language(&version));
    std::fs::write(root.join("go.mod"), module).unwrap();
    std::fs::write(root.join("main.go"), GO_SERVER).unwrap();
    let binary = root.join("go_tls_server");
    let out = go_command(go, &root)
        .arg("build")
        .arg("-o")
        .arg(&binary)
        .arg(".")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "go build ({version}) failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (binary, version)
}

/// The built Go server on a free port with the certificate of `dir` (its log in
/// `dir/go/server.log`), GODEBUG unset so that the defaults are the build's.
fn go_server(binary: &Path, dir: &Path) -> Server {
    let log = dir.join("go").join("server.log");
    let start = |port: u16| {
        Command::new(binary)
            .arg(dir.join("cert.pem"))
            .arg(dir.join("key.pem"))
            .arg(port.to_string())
            .env_remove("GODEBUG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the Go server starts")
    };
    on_free_port(start).unwrap_or_else(|| {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        panic!("the Go server did not start:\n{log}")
    })
}

/// The findings a server deserves by sslyze's account of it: `TLS_VERSION_OBSOLETE` when it
/// accepts TLS 1.0 or 1.1, `CIPHER_SUITE_INSECURE` for a 3DES or RC4 suite (the insecure
/// kinds crypto/tls implements: it has no anonymous, NULL, export or single-DES suite),
/// `CIPHER_SUITE_WEAK` for CBC with SHA-1 or static RSA (`TLS_RSA_WITH_*`).
fn go_findings_by_sslyze(reference: &Accepted) -> Vec<&'static str> {
    let suites: Vec<&String> = reference.values().flatten().collect();
    let any = |f: &dyn Fn(&str) -> bool| suites.iter().any(|s| f(s));
    let checks = [
        (
            reference.contains_key("TLS 1.0") || reference.contains_key("TLS 1.1"),
            "TLS_VERSION_OBSOLETE",
        ),
        (
            any(&|s| s.contains("3DES") || s.contains("RC4")),
            "CIPHER_SUITE_INSECURE",
        ),
        (
            any(&|s| s.ends_with("_CBC_SHA") || s.starts_with("TLS_RSA_WITH_")),
            "CIPHER_SUITE_WEAK",
        ),
    ];
    checks.iter().filter(|(c, _)| *c).map(|(_, k)| *k).collect()
}

/// sslyze over every address at once: per address, the accepted suites per version.
fn sslyze(sslyze: &Path, dir: &Path, addresses: &[String]) -> BTreeMap<String, Accepted> {
    let out = dir.join("sslyze.json");
    let status = Command::new(sslyze)
        .args(["--quiet", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3"])
        .arg(format!("--json_out={}", out.display()))
        .args(addresses)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "sslyze failed: {status}");
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let keys = [
        ("TLS 1.0", "tls_1_0_cipher_suites"),
        ("TLS 1.1", "tls_1_1_cipher_suites"),
        ("TLS 1.2", "tls_1_2_cipher_suites"),
        ("TLS 1.3", "tls_1_3_cipher_suites"),
    ];
    let mut all = BTreeMap::new();
    for r in doc["server_scan_results"].as_array().unwrap() {
        let addr = format!(
            "{}:{}",
            r["server_location"]["hostname"].as_str().unwrap(),
            r["server_location"]["port"]
        );
        let mut acc = Accepted::new();
        for (version, key) in keys {
            let list = r["scan_result"][key]["result"]["accepted_cipher_suites"]
                .as_array()
                .unwrap_or_else(|| panic!("{addr} {key}: {:#}", r["scan_result"][key]));
            let mut names: Vec<String> = list
                .iter()
                .map(|c| c["cipher_suite"]["name"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            if !names.is_empty() {
                acc.insert(version.to_string(), names);
            }
        }
        all.insert(addr, acc);
    }
    all
}

/// `tlsaudit scan ADDRESS --format json`: its accepted suites per version, and the JSON.
fn tlsaudit_scan(address: &str) -> (Accepted, Value) {
    let out = bin()
        .args(["scan", address, "--format", "json", "--timeout", "5s"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (accepted_of(&doc), doc)
}

/// The accepted suites per version of a `scan --format json` output.
fn accepted_of(doc: &Value) -> Accepted {
    let mut acc = Accepted::new();
    for v in doc["scan"]["versions"].as_array().unwrap() {
        let mut names: Vec<String> = v["suites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        if v["accepted"] == true {
            acc.insert(v["version"].as_str().unwrap().to_string(), names);
        }
    }
    acc
}

/// The codes of a scan's (or a report's) findings.
pub(crate) fn codes(doc: &Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// The servers of the comparison: (name, server); the Go server last, when `go_binary` is
/// given.
fn servers(
    dir: &Path,
    nginx_bin: &Path,
    openssl: &Path,
    go_binary: Option<&Path>,
) -> Vec<(&'static str, Server)> {
    let mut servers = vec![
        (
            "nginx TLS 1.0-1.2 ALL:@SECLEVEL=0",
            nginx(
                nginx_bin,
                dir,
                "legacy",
                "TLSv1 TLSv1.1 TLSv1.2",
                "ALL:@SECLEVEL=0",
            ),
        ),
        (
            "nginx TLS 1.3 only",
            nginx(nginx_bin, dir, "tls13", "TLSv1.3", ""),
        ),
        (
            "nginx TLS 1.2 AEAD only",
            nginx(
                nginx_bin,
                dir,
                "aead",
                "TLSv1.2",
                "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305",
            ),
        ),
        (
            "openssl s_server -tls1 ALL:@SECLEVEL=0",
            s_server(openssl, dir, &["-tls1", "-cipher", "ALL:@SECLEVEL=0"]),
        ),
    ];
    if let Some(binary) = go_binary {
        servers.push(("Go crypto/tls defaults", go_server(binary, dir)));
    }
    servers
}

/// Per version, sslyze's and the scan's numbers of suites side by side.
fn side_by_side(theirs: &Accepted, ours: &Accepted) {
    let versions: std::collections::BTreeSet<&String> = theirs.keys().chain(ours.keys()).collect();
    for v in versions {
        let count = |acc: &Accepted| acc.get(v).map_or(0, Vec::len);
        eprintln!(
            "  {v}: sslyze {} suites, tlsaudit {}",
            count(theirs),
            count(ours)
        );
    }
}

#[test]
fn the_scan_equals_sslyze_on_every_server() {
    let (Some(nginx_bin), Some(openssl), Some(sslyze_bin)) = (
        require_tool("nginx"),
        require_tool("openssl"),
        require_tool("sslyze"),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    rsa_cert(&openssl, dir);
    // Without Go (and outside CI), the other servers are compared all the same.
    let go = require_tool("go").map(|go| go_build(&go, dir));
    match &go {
        Some((_, version)) => eprintln!("Go server built with {version}"),
        None => eprintln!("note: only the Go server is left out; the others are compared"),
    }
    let servers = servers(
        dir,
        &nginx_bin,
        &openssl,
        go.as_ref().map(|(b, _)| b.as_path()),
    );
    let addresses: Vec<String> = servers
        .iter()
        .map(|(_, s)| format!("127.0.0.1:{}", s.ports[0]))
        .collect();
    let started = Instant::now();
    let ours: Vec<(Accepted, Value)> = addresses.iter().map(|a| tlsaudit_scan(a)).collect();
    let ours_took = started.elapsed();
    let started = Instant::now();
    let theirs = sslyze(&sslyze_bin, dir, &addresses);
    let theirs_took = started.elapsed();
    for (((name, _), addr), (acc, doc)) in servers.iter().zip(&addresses).zip(&ours) {
        let reference = &theirs[addr];
        eprintln!("{name} ({addr}):");
        side_by_side(reference, acc);
        eprintln!("  findings: {:?}", codes(doc));
        assert_eq!(
            acc, reference,
            "{name}: tlsaudit (left) against sslyze (right)"
        );
    }
    eprintln!("tlsaudit scan: {ours_took:?} for {} servers, one after the other; sslyze: {theirs_took:?} (concurrently)", addresses.len());
    // The findings of the weak servers, and none on the sound ones.
    assert_eq!(
        codes(&ours[0].1),
        [
            "TLS_VERSION_OBSOLETE",
            "CIPHER_SUITE_INSECURE",
            "CIPHER_SUITE_WEAK"
        ]
    );
    assert!(codes(&ours[1].1).is_empty(), "{:#}", ours[1].1);
    assert!(codes(&ours[2].1).is_empty(), "{:#}", ours[2].1);
    assert!(codes(&ours[3].1).contains(&"TLS_VERSION_OBSOLETE".to_string()));
    // A TLS 1.3-only server's chain is read all the same (it is encrypted there).
    let key = &ours[1].1["scan"]["certificates"][0]["public_key"];
    assert_eq!(key, "RSA 2048", "{:#}", ours[1].1);
    // TLS 1.3's groups come from the HelloRetryRequest.
    let v13 = &ours[1].1["scan"]["versions"][3];
    assert!(
        v13["groups"].as_array().unwrap().contains(&"x25519".into()),
        "{v13:#}"
    );
    if let Some((_, version)) = &go {
        assert_go_defaults(version, &theirs[&addresses[4]], &ours[4].1);
    }
}

/// The findings of the Go server are the ones its sslyze result deserves, whichever Go built
/// it. For Go 1.19 (Debian 12's golang-go; go1.19.8 checked against sslyze 6 on 2026-12-08)
/// the whole picture is pinned: the server's default minimum is still TLS 1.0 (Go 1.18 raised
/// only the client's; the server's rose to TLS 1.2 in Go 1.22), and its default suites are
/// its preference list without the CBC-SHA256 and RC4 ones, which with an RSA key leaves
/// ECDHE and static RSA with AES-CBC-SHA1 and 3DES at every version, plus AES-GCM (and ECDHE
/// with ChaCha20) at TLS 1.2: 6 suites at TLS 1.0 and 1.1, 11 at TLS 1.2, and the three TLS
/// 1.3 suites. So TLS_VERSION_OBSOLETE, CIPHER_SUITE_INSECURE (the two 3DES suites: Go 1.23
/// dropped them) and CIPHER_SUITE_WEAK (CBC-SHA1, static RSA: Go 1.22 dropped the latter).
fn assert_go_defaults(version: &str, reference: &Accepted, doc: &Value) {
    assert_eq!(
        codes(doc),
        go_findings_by_sslyze(reference),
        "{version}: {doc:#}"
    );
    if go_language(version) != "1.19" {
        eprintln!(
            "note: the Go server's exact suites are pinned for Go 1.19 only ({version} here)"
        );
        return;
    }
    let counts: Vec<(&str, usize)> = reference
        .iter()
        .map(|(v, suites)| (v.as_str(), suites.len()))
        .collect();
    assert_eq!(
        counts,
        [
            ("TLS 1.0", 6),
            ("TLS 1.1", 6),
            ("TLS 1.2", 11),
            ("TLS 1.3", 3)
        ]
    );
    assert_eq!(
        codes(doc),
        [
            "TLS_VERSION_OBSOLETE",
            "CIPHER_SUITE_INSECURE",
            "CIPHER_SUITE_WEAK"
        ]
    );
    let insecure = &doc["findings"][1];
    assert_eq!(
        insecure["evidence"], "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "{insecure:#}"
    );
}

// ---- MariaDB, through STARTTLS ---------------------------------------------------------------

/// mariadbd with `cert.pem`/`key.pem` of `dir`, on a free port (a fresh data dir under `dir`).
fn mariadb(mariadbd: &Path, dir: &Path) -> Server {
    let install = mariadbd.with_file_name("mariadb-install-db");
    let install = if install.is_file() {
        install
    } else {
        PathBuf::from("mariadb-install-db")
    };
    let data = dir.join("mariadb");
    let root = ["--user=root"];
    let ok = Command::new(install)
        .arg("--no-defaults")
        .args(root)
        .arg(format!("--datadir={}", data.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "mariadb-install-db failed");
    for _ in 0..3 {
        let port = free_port();
        let child = Command::new(mariadbd)
            .arg("--no-defaults")
            .args(root)
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", dir.join("mariadb.sock").display()))
            .arg(format!("--pid-file={}", dir.join("mariadb.pid").display()))
            .arg(format!("--log-error={}", dir.join("mariadb.log").display()))
            .args(["--skip-log-bin", "--innodb-buffer-pool-size=16M"])
            .arg(format!("--ssl-cert={}", dir.join("cert.pem").display()))
            .arg(format!("--ssl-key={}", dir.join("key.pem").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd starts");
        let mut server = Server {
            child,
            ports: vec![port],
        };
        if wait_ready(&mut server) {
            return server;
        }
    }
    panic!("mariadbd did not start");
}

/// Per version, the suites `openssl s_client -starttls mysql` gets accepted, one suite per
/// connection (sslyze has no MySQL STARTTLS: OpenSSL's client is the reference here).
fn s_client_suites(openssl: &Path, address: &str) -> Accepted {
    let list = Command::new(openssl)
        .args(["ciphers", "-stdname", "ALL:@SECLEVEL=0"])
        .output()
        .unwrap();
    let pairs: Vec<(String, String)> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.nth(1)?.to_string()))
        })
        .collect();
    let accepts = |version: &str, flag: &str, value: &str| {
        Command::new(openssl)
            .args([
                "s_client",
                "-connect",
                address,
                "-starttls",
                "mysql",
                version,
            ])
            .args([flag, value])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut acc = Accepted::new();
    for (name, flag) in [
        ("TLS 1.0", "-tls1"),
        ("TLS 1.1", "-tls1_1"),
        ("TLS 1.2", "-tls1_2"),
        ("TLS 1.3", "-tls1_3"),
    ] {
        // A version refused with every suite is not asked suite by suite.
        if name != "TLS 1.3" && !accepts(flag, "-cipher", "ALL:@SECLEVEL=0") {
            continue;
        }
        let mut names: Vec<String> = pairs
            .iter()
            .filter(|(iana, _)| {
                (name == "TLS 1.3")
                    == (iana.starts_with("TLS_AES") || iana.starts_with("TLS_CHACHA"))
            })
            .filter(|(iana, ossl)| {
                if name == "TLS 1.3" {
                    accepts(flag, "-ciphersuites", iana)
                } else {
                    accepts(flag, "-cipher", &format!("{ossl}:@SECLEVEL=0"))
                }
            })
            .map(|(iana, _)| iana.clone())
            .collect();
        names.sort();
        if !names.is_empty() {
            acc.insert(name.to_string(), names);
        }
    }
    acc
}

#[test]
fn the_scan_through_mysql_starttls_equals_openssl_on_mariadb() {
    let (Some(mariadbd), Some(openssl)) = (require_tool("mariadbd"), require_tool("openssl"))
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    rsa_cert(&openssl, dir);
    let server = mariadb(&mariadbd, dir);
    let address = format!("127.0.0.1:{}", server.ports[0]);
    let out = bin()
        .args(["scan", &address, "--protocol", "mysql", "--format", "json"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["scan"]["protocol"], "mysql");
    let ours = accepted_of(&doc);
    let reference = s_client_suites(&openssl, &address);
    for (v, suites) in &ours {
        eprintln!(
            "MariaDB {v}: tlsaudit {} suites, openssl {}",
            suites.len(),
            reference.get(v).map_or(0, Vec::len)
        );
    }
    assert_eq!(
        ours, reference,
        "tlsaudit (left) against openssl s_client (right)"
    );
}

// ---- Hostile peers -------------------------------------------------------------------------

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How a hostile peer answers a hello.
#[derive(Clone, Copy)]
enum Hostile {
    Garbage,
    Reset,
    /// "Accepts" every suite: echoes the first one offered.
    Echo,
    Silent,
}

/// A loopback listener answering every connection the `kind` way.
async fn hostile(kind: Hostile) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(answer(s, kind));
        }
    });
    addr
}

async fn answer(mut s: tokio::net::TcpStream, kind: Hostile) {
    let Some(hello) = read_hello(&mut s).await else {
        return;
    };
    match kind {
        Hostile::Garbage => {
            let _ = s
                .write_all(b"\x00\x01garbage that is not TLS at all\r\n")
                .await;
        }
        // Unread bytes are not needed: SO_LINGER 0 makes the close a reset.
        Hostile::Reset => {
            let _ = s.set_zero_linger();
        }
        Hostile::Echo => {
            let (v, suite) = version_and_first_suite(&hello);
            let _ = s.write_all(&server_hello(v, suite)).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Hostile::Silent => tokio::time::sleep(Duration::from_secs(10)).await,
    }
}

/// Read the client's hello (one record), or `None`.
async fn read_hello(s: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; 5];
    s.read_exact(&mut head).await.ok()?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes([head[3], head[4]]))];
    s.read_exact(&mut body).await.ok()?;
    Some(body)
}

/// A ServerHello record picking `suite` at `version` (1.3 through supported_versions).
fn server_hello(version: u16, suite: [u8; 2]) -> Vec<u8> {
    let legacy = version.min(0x0303).to_be_bytes();
    let mut body = legacy.to_vec();
    body.extend_from_slice(&[1; 32]);
    body.push(0);
    body.extend_from_slice(&suite);
    body.push(0);
    if version == 0x0304 {
        body.extend_from_slice(&[0, 6, 0, 43, 0, 2, 3, 4]);
    }
    let mut hs = vec![2, 0];
    hs.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    hs.extend_from_slice(&body);
    let mut rec = vec![22, 3, 3];
    rec.extend_from_slice(&u16::try_from(hs.len()).unwrap().to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// The hello's version (legacy, or 1.3 when it offers supported_versions) and its first suite.
fn version_and_first_suite(hello: &[u8]) -> (u16, [u8; 2]) {
    let legacy = u16::from_be_bytes([hello[4], hello[5]]);
    let sid = usize::from(hello[38]);
    let at = 39 + sid + 2;
    let suite = [hello[at], hello[at + 1]];
    let tls13 = hello.windows(4).any(|w| w == [0, 43, 0, 3]);
    (if tls13 { 0x0304 } else { legacy }, suite)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_end_within_the_deadline_with_a_clear_class() {
    let limits = ScanLimits {
        timeout: Duration::from_secs(1),
        deadline: Duration::from_secs(5),
        ..ScanLimits::default()
    };
    for (kind, class) in [
        (Hostile::Garbage, Failure::NotTls),
        (Hostile::Reset, Failure::Reset),
        (Hostile::Echo, Failure::Protocol),
        (Hostile::Silent, Failure::Timeout),
    ] {
        let spec = ScanSpec::new(hostile(kind).await);
        let started = Instant::now();
        let r = scan::scan(&spec, &limits).await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(6), "{class:?}: {took:?}");
        let f = r
            .failure
            .as_ref()
            .unwrap_or_else(|| panic!("{class:?}: {r:#?}"));
        assert_eq!(f.class, class, "{r:#?}");
        assert!(!f.detail.is_empty());
        // The echo is caught at its first answer: it picks the GREASE value, which a server
        // must ignore.
        if class == Failure::Protocol {
            assert!(r.connections <= 4, "{}", r.connections);
            assert!(f.detail.contains("not offered"), "{}", f.detail);
        }
    }
}
