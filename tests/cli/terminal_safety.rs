//! Peer-controlled text never reaches a terminal raw: a server whose certificate CN and SAN
//! carry ESC sequences and bidi overrides, a gRPC endpoint whose `grpc-message` percent-encodes
//! ESC (`%1B[31m`) and an HTTP endpoint whose body holds a raw ESC. The text outputs of probe,
//! report (table) and diagnose hold no ESC byte and no bidi or zero-width character; JSON keeps
//! the exact text.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use tlsaudit_testkit::bin;
use tlsaudit_testkit::pki::{self, Leaf};

const CN: &str = "tikv\x1b[31m\u{202e}lanigiro\u{200b}";
const SAN: &str = "ev\x1b[2Jil.example";
/// As sent on the wire (percent-encoded, as gRPC specifies).
const GRPC_MESSAGE: &str = "%1B[31mdenied%E2%80%AE by %1B]0;pwned%07";
/// As a client reads it.
const GRPC_DECODED: &str = "\x1b[31mdenied\u{202e} by \x1b]0;pwned\x07";
const HTTP_BODY: &str = "forbidden \x1b[31mred\x1b[0m \u{2066}txt\u{2069}";

fn acceptor(cert: &str, key: &str, alpn: &[u8]) -> TlsAcceptor {
    let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    cfg.alpn_protocols = vec![alpn.to_vec()];
    TlsAcceptor::from(Arc::new(cfg))
}

/// A gRPC server answering every call with UNAUTHENTICATED and the hostile message.
async fn grpc_server(acceptor: TlsAcceptor) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut conn) = h2::server::handshake(tls).await else {
                    return;
                };
                // Each call answered in its own task after its request body is read, while
                // `accept` keeps the connection moving.
                while let Some(Ok((req, mut respond))) = conn.accept().await {
                    tokio::spawn(async move {
                        let mut body = req.into_body();
                        while let Some(Ok(chunk)) = body.data().await {
                            let _ = body.flow_control().release_capacity(chunk.len());
                        }
                        let resp = http::Response::builder()
                            .status(200)
                            .header("content-type", "application/grpc")
                            .header("grpc-status", "16")
                            .header("grpc-message", GRPC_MESSAGE)
                            .body(())
                            .unwrap();
                        let _ = respond.send_response(resp, true);
                    });
                }
            });
        }
    });
    addr
}

/// An HTTP/1.1 server answering 403 with the hostile body.
async fn http_server(acceptor: TlsAcceptor) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{HTTP_BODY}",
                    HTTP_BODY.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

/// Whether a text holds anything a terminal would act on or that reorders or hides text.
fn unsafe_chars(s: &str) -> Vec<char> {
    s.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
                    | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
        })
        .collect()
}

fn assert_terminal_safe(what: &str, out: &std::process::Output) {
    assert!(!out.stdout.contains(&0x1b), "{what}: an ESC byte in stdout");
    assert!(!out.stderr.contains(&0x1b), "{what}: an ESC byte in stderr");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        unsafe_chars(&text).is_empty(),
        "{what}: {:?}",
        unsafe_chars(&text)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(unsafe_chars(&err).is_empty(), "{what} (stderr)");
}

/// The hostile servers, their CA, a client identity and an inventory naming both endpoints.
struct Hostile {
    dir: tempfile::TempDir,
    ca_path: std::path::PathBuf,
    client_crt: std::path::PathBuf,
    client_key: std::path::PathBuf,
    inventory: std::path::PathBuf,
    grpc: std::net::SocketAddr,
    web: std::net::SocketAddr,
}

async fn hostile() -> Hostile {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::ca();
    std::fs::write(dir.path().join("ca.crt"), &ca.cert_pem).unwrap();
    let (client_crt, client_key) = pki::write_pair(dir.path(), "tidb", &ca, &Leaf::client("x"));
    let mut leaf = Leaf::component(CN, &[SAN]);
    leaf.cn = CN.to_string();
    let (cert, key) = pki::issue(&ca, &leaf);
    let grpc = grpc_server(acceptor(&cert, &key, b"h2")).await;
    let web = http_server(acceptor(&cert, &key, b"http/1.1")).await;
    let ca_path = dir.path().join("ca.crt");
    let inventory = dir.path().join("tlsaudit.toml");
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    std::fs::write(
        &inventory,
        format!(
            "[cluster]\nname = \"hostile\"\nca = {}\n\n[identities.tidb]\ncert = {}\nkey = {}\n\n\
             [[endpoints]]\nname = \"evil-grpc\"\ncomponent = \"tikv\"\nrole = \"grpc\"\naddress = \"{grpc}\"\nversion = \"v8.5.0\"\nallowed_cn = [\"x-client\"]\n\n\
             [[endpoints]]\nname = \"evil-http\"\ncomponent = \"tikv\"\nrole = \"status\"\naddress = \"{web}\"\nversion = \"v8.5.0\"\nallowed_cn = [\"x-client\"]\n",
            q(&ca_path),
            q(&client_crt),
            q(&client_key)
        ),
    )
    .unwrap();

    Hostile {
        dir,
        ca_path,
        client_crt,
        client_key,
        inventory,
        grpc,
        web,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_text_is_inert_in_every_text_output_and_exact_in_json() {
    let Hostile {
        dir: _dir,
        ca_path,
        client_crt,
        client_key,
        inventory,
        grpc,
        web,
    } = hostile().await;
    let probe = |addr: std::net::SocketAddr, protocol: &str, format: &str| {
        let mut c = bin();
        c.args([
            "probe",
            &addr.to_string(),
            "--protocol",
            protocol,
            "--format",
            format,
        ])
        .arg("--ca")
        .arg(&ca_path)
        .arg("--cert")
        .arg(&client_crt)
        .arg("--key")
        .arg(&client_key)
        .env("NO_COLOR", "1");
        c.output().unwrap()
    };

    // probe: text is inert, JSON is exact.
    let out = probe(grpc, "grpc", "text");
    assert_terminal_safe("probe grpc", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\\x1b[31mdenied\\u{202e} by \\x1b]0;pwned\\x07"),
        "{text}"
    );
    assert!(
        text.contains("tikv\\x1b[31m\\u{202e}lanigiro\\u{200b}"),
        "{text}"
    );
    assert!(text.contains("ev\\x1b[2Jil.example"), "{text}");
    let out = probe(grpc, "grpc", "json");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["evidence"]["grpc_message"], GRPC_DECODED, "{v:#}");
    assert_eq!(v["server_chain"][0]["common_name"], CN, "{v:#}");
    assert!(
        v["server_chain"][0]["sans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| *s == format!("DNS:{SAN}")),
        "{v:#}"
    );

    let out = probe(web, "http", "text");
    assert_terminal_safe("probe http", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\\x1b[31mred\\x1b[0m \\u{2066}txt\\u{2069}"),
        "{text}"
    );
    let out = probe(web, "http", "json");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["evidence"]["http_body"], HTTP_BODY, "{v:#}");

    // report --format table (and the JSON report keeps the exact text).
    let report = |format: &str| {
        bin()
            .args(["report", "--format", format, "--config"])
            .arg(&inventory)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let out = report("table");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    assert_terminal_safe("report --format table", &out);
    let out = report("json");
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(
        json.contains("\\u001b[31mdenied\u{202e} by"),
        "exact in JSON"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_text_is_inert_and_its_json_exact() {
    let h = hostile().await;
    let inventory = h.inventory.clone();
    // diagnose, text and JSON.
    for (name, seen) in [
        ("evil-grpc", "\\x1b[31mdenied\\u{202e}"),
        ("evil-http", "\\x1b[31mred"),
    ] {
        let diagnose = |format: &str| {
            bin()
                .args([
                    "diagnose", name, "--as", "tidb", "--format", format, "--config",
                ])
                .arg(&inventory)
                .env("NO_COLOR", "1")
                .output()
                .unwrap()
        };
        let out = diagnose("text");
        assert_terminal_safe(&format!("diagnose {name}"), &out);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(seen), "{name}: {text}");
        let out = diagnose("json");
        let json = String::from_utf8(out.stdout).unwrap();
        assert!(
            json.contains("\\u001b[31m"),
            "{name}: exact in JSON: {json}"
        );
    }
}
