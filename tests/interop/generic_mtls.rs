//! Plain mTLS services (`component = "generic"` with `client_auth`) against servers nobody here
//! wrote: nginx with `ssl_verify_client on` / `optional`, and `openssl s_server -Verify 1`. A
//! healthy server must come out `enforced` for anonymous and foreign and `secure` for the
//! identities the CA issued, with nothing critical.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tlsaudit_testkit::pki::{self, Leaf};
use tlsaudit_testkit::{bin, free_port, poll, require_tool};

/// A third-party server, killed when dropped (also when a test fails).
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) ports: Vec<u16>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait until every port accepts (or the process died).
pub(crate) fn wait_ready(server: &mut Server) -> bool {
    let ready = poll(Duration::from_secs(10), Duration::from_millis(20), || {
        if let Ok(Some(_)) = server.child.try_wait() {
            return Ok(false);
        }
        if server
            .ports
            .iter()
            .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
        {
            Ok(true)
        } else {
            Err("not listening")
        }
    });
    ready == Ok(true)
}

/// The PKI in `dir`: ca.crt/ca.pem, the server's `server.crt`, and the callers `web` and `batch`.
fn pki(dir: &Path) {
    let ca = pki::ca();
    std::fs::write(dir.join("ca.crt"), &ca.cert_pem).unwrap();
    pki::write_key(&dir.join("ca.pem"), &ca.key_pem);
    pki::write_pair(dir, "server", &ca, &Leaf::component("web-server", &[]));
    for cn in ["web", "batch"] {
        let mut leaf = Leaf::client(cn);
        leaf.cn = cn.to_string();
        pki::write_pair(dir, cn, &ca, &leaf);
    }
}

/// nginx, unprivileged, everything in its own folder under `dir`: one server that requires a
/// client certificate (`on`) and one that asks for it (`optional`). Returns (server, on port,
/// optional port).
fn nginx(nginx: &Path, dir: &Path) -> (Server, u16, u16) {
    let root = dir.join("nginx");
    for _ in 0..5 {
        let (on, optional) = (free_port(), free_port());
        let t = dir.display();
        let server = |port: u16, verify: &str| {
            format!(
                "  server {{\n    listen 127.0.0.1:{port} ssl;\n    server_name localhost;\n    ssl_certificate {t}/server.crt;\n    ssl_certificate_key {t}/server.pem;\n    ssl_client_certificate {t}/ca.crt;\n    ssl_verify_client {verify};\n    location / {{ return 200 \"hello $ssl_client_s_dn\\n\"; }}\n  }}\n"
            )
        };
        let servers = format!("{}{}", server(on, "on"), server(optional, "optional"));
        let conf = tlsaudit_testkit::nginx::config(&root, &servers, true);
        let child = tlsaudit_testkit::nginx::spawn(nginx, &root, &conf);
        let mut server = Server {
            child,
            ports: vec![on, optional],
        };
        if wait_ready(&mut server) {
            return (server, on, optional);
        }
    }
    let log = std::fs::read_to_string(root.join("error.log")).unwrap_or_default();
    panic!("nginx did not start:\n{log}");
}

/// A server started on a free loopback port (`start(port)` spawns it), ready: up to five
/// ports are tried, since one found free can be taken before the server binds it (the server
/// then exits). `None` when none worked.
pub(crate) fn on_free_port(mut start: impl FnMut(u16) -> Child) -> Option<Server> {
    for _ in 0..5 {
        let port = free_port();
        let mut server = Server {
            child: start(port),
            ports: vec![port],
        };
        if wait_ready(&mut server) {
            return Some(server);
        }
    }
    None
}

/// `openssl s_server -www -quiet` on `port` with the certificate and key of `dir` and `args`.
pub(crate) fn openssl_server(
    openssl: &Path,
    dir: &Path,
    (cert, key): (&str, &str),
    args: &[&str],
) -> impl FnMut(u16) -> Child {
    let (openssl, dir) = (openssl.to_path_buf(), dir.to_path_buf());
    let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
    let (cert, key) = (dir.join(cert), dir.join(key));
    move |port| {
        Command::new(&openssl)
            .arg("s_server")
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .args(["-www", "-quiet"])
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl starts")
    }
}

/// `openssl s_server -Verify 1 -verify_return_error`: a client certificate is required.
fn s_server(openssl: &Path, dir: &Path) -> (Server, u16) {
    let ca = dir.join("ca.crt").display().to_string();
    let args = ["-CAfile", &ca, "-Verify", "1", "-verify_return_error"];
    let start = openssl_server(openssl, dir, ("server.crt", "server.pem"), &args);
    let server = on_free_port(start).expect("openssl s_server did not start");
    let port = server.ports[0];
    (server, port)
}

/// The inventory: the three servers as generic endpoints; `client_auth` lines as given.
fn inventory(dir: &Path, ports: (u16, u16, u16), auth: [&str; 3]) -> PathBuf {
    let (on, optional, ossl) = ports;
    let line = |a: &str| {
        if a.is_empty() {
            String::new()
        } else {
            format!("client_auth = \"{a}\"\n")
        }
    };
    let text = format!(
        r#"[cluster]
name = "plain-mtls"
ca = "ca.crt"
ca_key = "ca.pem"

[probe]
timeout = "3s"

[identities.web]
cert = "web.crt"
key = "web.pem"

[identities.batch]
cert = "batch.crt"
key = "batch.pem"

[[endpoints]]
name = "nginx-on"
component = "generic"
address = "127.0.0.1:{on}"
server_name = "localhost"
protocol = "http"
path = "/"
needed_by = ["web", "batch"]
{}
[[endpoints]]
name = "nginx-optional"
component = "generic"
address = "127.0.0.1:{optional}"
server_name = "localhost"
protocol = "http"
path = "/"
{}
[[endpoints]]
name = "openssl"
component = "generic"
address = "127.0.0.1:{ossl}"
server_name = "localhost"
needed_by = ["web"]
{}"#,
        line(auth[0]),
        line(auth[1]),
        line(auth[2]),
    );
    let path = dir.join(format!("tlsaudit-{}.toml", auth.join("-")));
    std::fs::write(&path, text).unwrap();
    path
}

/// `tlsaudit report --format json`: (exit code, report).
fn report(config: &Path) -> (i32, Value) {
    let out = bin()
        .args(["report", "--format", "json", "--config"])
        .arg(config)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

fn verdict(v: &Value, identity: &str, endpoint: &str) -> String {
    let cell = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["identity"] == identity && c["endpoint"] == endpoint)
        .unwrap_or_else(|| panic!("no cell {identity} x {endpoint}"));
    format!(
        "{} ({})",
        cell["verdict"].as_str().unwrap_or("none"),
        cell["outcome"].as_str().unwrap_or("none")
    )
}

fn critical(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "critical")
        .map(|f| format!("{} {}: {}", f["code"], f["endpoint"], f["title"]))
        .collect()
}

#[test]
fn client_auth_judges_nginx_and_openssl_as_enforced_not_blocked() {
    // Debian installs nginx in /usr/sbin, which is not on every user's PATH.
    let nginx_bin = std::env::var_os("NGINX_BIN")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()))
        .or_else(|| require_tool("nginx"));
    let (Some(nginx_bin), Some(openssl)) = (nginx_bin, require_tool("openssl")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let (_nginx, on, optional) = nginx(&nginx_bin, dir.path());
    let (_ossl, ossl) = s_server(&openssl, dir.path());
    let ports = (on, optional, ossl);

    let config = inventory(dir.path(), ports, ["required", "optional", "required"]);
    let (code, v) = report(&config);
    let expect = [
        // nginx, ssl_verify_client on: 400 "No required SSL certificate was sent" and
        // "The SSL certificate error" are refusals the audit expected.
        ("anonymous", "nginx-on", "enforced (cert_required)"),
        ("foreign", "nginx-on", "enforced (cert_rejected)"),
        ("web", "nginx-on", "secure (accepted)"),
        ("batch", "nginx-on", "secure (accepted)"),
        // No list is stated: the outsider with a certificate of the CA gets in (open, at info
        // severity on an endpoint that is no TiDB component).
        ("unlisted", "nginx-on", "open (accepted)"),
        // ssl_verify_client optional: no certificate is fine, a foreign one is not.
        ("anonymous", "nginx-optional", "secure (accepted)"),
        ("foreign", "nginx-optional", "enforced (cert_rejected)"),
        ("web", "nginx-optional", "secure (accepted)"),
        // openssl -Verify 1 -verify_return_error: refused in the handshake.
        ("anonymous", "openssl", "enforced (cert_required)"),
        ("foreign", "openssl", "enforced (cert_rejected)"),
        ("web", "openssl", "secure (accepted)"),
        ("batch", "openssl", "secure (accepted)"),
    ];
    for (identity, endpoint, want) in expect {
        assert_eq!(
            verdict(&v, identity, endpoint),
            want,
            "{identity} x {endpoint}"
        );
    }
    assert_eq!(critical(&v), Vec::<String>::new());
    assert_eq!(code, 0);
    let needed = |i: &str, e: &str| {
        v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["identity"] == i && c["endpoint"] == e)
            .unwrap()["expected"]["needed"]
            .clone()
    };
    assert_eq!(needed("batch", "nginx-on"), true);
    assert_eq!(needed("batch", "openssl"), false);
    assert_eq!(needed("anonymous", "nginx-on"), false);

    // Without client_auth the inventory does not say the servers ask for certificates: an
    // outsider refused is still never an outage (it once read `blocked`, critical), only a
    // refusal nobody stated.
    let config = inventory(dir.path(), ports, ["", "", ""]);
    let (code, v) = report(&config);
    assert_eq!(
        verdict(&v, "anonymous", "nginx-on"),
        "enforced (cert_required)"
    );
    assert_eq!(
        verdict(&v, "anonymous", "openssl"),
        "enforced (cert_required)"
    );
    assert_eq!(critical(&v), Vec::<String>::new());
    assert_eq!(code, 0);
}
