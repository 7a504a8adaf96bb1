//! Helpers shared by the tlsaudit integration tests (a dev-dependency of the root package and of
//! the engine): run the built binary, find a third-party tool (required under `CI=true`), mint
//! a TiUP-shaped PKI ([`pki`]), and wait for a condition under a deadline ([`eventually()`]
//! and the rest of [`mod@eventually`]), and read a crate's sources for the layering tests of the
//! engine and the CLI crate ([`layering`]). It depends on the engine and the lab, never on the CLI
//! crate, so that the engine's tests link no CLI; report models built by hand live with the
//! tests of the CLI that read them (`tests/cli/report_model.rs`).

// Test support: a helper that cannot do its job panics with the reason, as a test would.
#![allow(clippy::unwrap_used)]

pub mod bench;
pub mod eventually;
pub mod layering;
pub mod nginx;
pub mod pki;
pub mod serve;
#[cfg(target_os = "linux")]
pub mod sockets;

pub use eventually::{eventually, eventually_async, poll, poll_async};

use std::path::PathBuf;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

/// The built `tlsaudit` binary.
pub fn bin() -> Command {
    Command::cargo_bin("tlsaudit").expect("the tlsaudit binary is built for the tests")
}

/// Run the binary with `args`: (exit code, stdout, stderr).
pub fn cli(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("tlsaudit runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A port nothing listens on right now (bound and released: for servers that must be given
/// a number).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A loopback address that refuses every connection and that no other process can take while
/// the returned socket lives: bound, never listening, so a connect gets a reset ("connection
/// refused"). Unlike a port found by binding and closing, no parallel test can start a server
/// on it and receive this test's probes.
pub fn refusing_addr() -> (tokio::net::TcpSocket, String) {
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = s.local_addr().unwrap().to_string();
    (s, addr)
}

/// Whether this run is CI (`CI=true`), where every third-party tool a test uses is required.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A third-party program the test needs: `$<NAME>_BIN` (upper case) or `name` on the PATH.
/// Missing under `CI=true`: the test fails (`.ci/run` installs it). Missing elsewhere: a note
/// on stderr and `None`, so the caller skips.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let env = format!("{}_BIN", name.to_ascii_uppercase().replace('-', "_"));
    let found = std::env::var_os(&env).map(PathBuf::from).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !in_ci(),
            "{name} is required under CI=true (set {env} or install it; .ci/run does)"
        );
        eprintln!("note: {name} is not installed (or {env} unset); skipping this test");
    }
    found
}

/// The demo's endpoints, in the order the report lists them.
pub const DEMO_ENDPOINTS: [&str; 15] = [
    "pd-1",
    "pd-1-peer",
    "pd-2",
    "pd-2-peer",
    "tikv-1",
    "tikv-2",
    "tikv-3",
    "tikv-1-status",
    "tikv-2-status",
    "tikv-3-status",
    "tidb-1-status",
    "tidb-2-status",
    "tiflash-1",
    "tiflash-1-metrics",
    "tiflash-1-proxy",
];

/// The verdict planted at each cell of the demo (`src/demo.rs` plants them).
pub fn demo_planted(identity: &str, endpoint: &str) -> tlsaudit_engine::audit::Verdict {
    use tlsaudit_engine::audit::Verdict;
    match (endpoint, identity) {
        // Planted: a plaintext status port, an expired server certificate.
        ("tikv-3-status", _) => Verdict::Unencrypted,
        ("tidb-2-status", _) => Verdict::Untrusted,
        // Planted: tikv-2's list lacks tidb, which needs TiKV.
        ("tikv-2", "tidb") => Verdict::Blocked,
        // Planted: tikv-3's list is configured but not enforced.
        ("tikv-3", "client" | "unlisted") => Verdict::Open,
        // Everything else is either admitted by its list or refused by it.
        (_, "anonymous" | "foreign") => Verdict::Enforced,
        // One tikv.toml list for both ports of an instance (tikv-2's lacks tidb).
        ("tikv-1" | "tikv-2" | "tikv-1-status" | "tikv-2-status", "client" | "unlisted") => {
            Verdict::Enforced
        }
        ("tikv-2-status", "tidb") => Verdict::Enforced,
        ("tidb-1-status", "tikv" | "tiflash" | "unlisted") => Verdict::Enforced,
        // tiflash.toml's list (gRPC and metrics) and tiflash-learner.toml's (proxy).
        ("tiflash-1" | "tiflash-1-metrics", "client" | "unlisted") => Verdict::Enforced,
        ("tiflash-1-proxy", "client" | "unlisted") => Verdict::Enforced,
        // One pd.toml list for the client and peer ports.
        ("pd-1" | "pd-2" | "pd-1-peer" | "pd-2-peer", "unlisted") => Verdict::Enforced,
        _ => Verdict::Secure,
    }
}

/// TiUP's `tls/` folder made from a lab's PKI (CA, its key, the client and the pd, tikv and tidb
/// certificates, named as TiUP names them) in `dir`; returns its path.
pub fn tls_from_lab(lab: &tlsaudit_lab::Lab, dir: &std::path::Path) -> PathBuf {
    tiup_tls_dir(lab, dir, &["pd", "tikv", "tidb"])
}

/// TiUP's `tls/` folder on the control machine, from a lab's PKI, in `dir`: `ca.crt`, `ca.pem`
/// (the CA key), `client.crt`/`client.pem`, plus the real certificates of `roles`
/// (`tidb.crt`/`tidb.pem`...). Returns its path.
pub fn tiup_tls_dir(lab: &tlsaudit_lab::Lab, dir: &std::path::Path, roles: &[&str]) -> PathBuf {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let pki = lab.pki();
    std::fs::copy(&pki.ca_cert, tls.join("ca.crt")).unwrap();
    std::fs::copy(&pki.ca_key, tls.join("ca.pem")).unwrap();
    for name in std::iter::once(&"client").chain(roles) {
        let f = &pki.identities[*name];
        std::fs::copy(&f.cert, tls.join(format!("{name}.crt"))).unwrap();
        std::fs::copy(&f.key, tls.join(format!("{name}.pem"))).unwrap();
    }
    tls
}

/// A YAML flow list of quoted strings: `"a", "b"` (inside `[...]`).
pub fn yaml_list(l: &[&str]) -> String {
    l.iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a JSON report breaks `docs/report.schema.json`: one line per error (none: valid).
pub fn report_schema_errors(doc: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/report.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}
