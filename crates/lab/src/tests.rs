//! Tests of the lab against plain tokio-rustls / h2 clients.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, SignatureScheme, SupportedProtocolVersion,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::*;
use crate::spec::strings;

const WAIT: Duration = Duration::from_secs(3);
const V12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
const V13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

async fn standard() -> Lab {
    Lab::start(LabSpec::standard()).await.unwrap()
}

fn config(lab: &Lab, identity: Option<&str>, alpn: &[&str]) -> ClientConfig {
    let mut c = lab.client_config(identity).unwrap();
    c.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    c
}

async fn connect_with(lab: &Lab, ep: &str, cfg: ClientConfig) -> io::Result<TlsStream<TcpStream>> {
    let ep = lab.endpoint(ep).unwrap();
    let tcp = TcpStream::connect(ep.addr).await?;
    let name = ServerName::try_from(ep.server_name.clone()).unwrap();
    TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await
}

async fn connect(
    lab: &Lab,
    ep: &str,
    identity: Option<&str>,
    alpn: &[&str],
) -> io::Result<TlsStream<TcpStream>> {
    connect_with(lab, ep, config(lab, identity, alpn)).await
}

fn tls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
}

fn alert(e: &io::Error) -> Option<AlertDescription> {
    match tls_error(e) {
        Some(rustls::Error::AlertReceived(a)) => Some(*a),
        _ => None,
    }
}

/// A bare close: EOF, rustls' "peer closed without close_notify", or a reset; never an alert.
fn is_bare_close(r: &io::Result<usize>) -> bool {
    match r {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => {
            alert(e).is_none()
                && matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
                )
        }
    }
}

async fn first_read<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> io::Result<usize> {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(WAIT, s.read(&mut buf))
        .await
        .expect("read timed out")
}

/// GET `path` over an established stream; returns (status, body).
async fn http_get<S>(s: &mut S, path: &str) -> (u16, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: lab-test\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.flush().await.unwrap();
    let mut out = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => panic!("read failed: {e}"),
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("response timed out");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    assert!(text.contains("Connection: close\r\n"), "{text}");
    (status, body)
}

struct GrpcAnswer {
    status: String,
    message: Option<String>,
    body: Vec<u8>,
}

/// One unary call on a new h2 connection (the stream must have negotiated h2).
async fn grpc_call(tls: TlsStream<TcpStream>, path: &str) -> GrpcAnswer {
    let (client, conn) = h2::client::handshake(tls).await.unwrap();
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.unwrap();
    let req = ::http::Request::builder()
        .method("POST")
        .uri(format!("https://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (resp, mut send) = client.send_request(req, false).unwrap();
    send.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), true)
        .unwrap();
    let resp = tokio::time::timeout(WAIT, resp).await.unwrap().unwrap();
    let (parts, mut body) = resp.into_parts();
    assert_eq!(parts.status, 200);
    assert_eq!(parts.headers["content-type"], "application/grpc");
    let header = |h: &::http::HeaderMap, k: &str| h.get(k).map(|v| v.to_str().unwrap().to_owned());
    let answer = if let Some(status) = header(&parts.headers, "grpc-status") {
        assert!(body.is_end_stream(), "trailers-only response has no body");
        GrpcAnswer {
            status,
            message: header(&parts.headers, "grpc-message"),
            body: Vec::new(),
        }
    } else {
        let mut data = Vec::new();
        while let Some(chunk) = body.data().await {
            data.extend_from_slice(&chunk.unwrap());
        }
        let trailers = body.trailers().await.unwrap().expect("trailers");
        GrpcAnswer {
            status: header(&trailers, "grpc-status").unwrap(),
            message: header(&trailers, "grpc-message"),
            body: data,
        }
    };
    driver.abort();
    answer
}

#[tokio::test]
async fn pd_accepts_listed_cn_and_alerts_others_on_first_read() {
    let lab = standard().await;

    let mut ok = connect(&lab, "pd-1", Some("tidb"), &["http/1.1"])
        .await
        .unwrap();
    assert_eq!(
        ok.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let (status, body) = http_get(&mut ok, "/pd/api/v1/version").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"version\""), "{body}");

    // TLS 1.3: the handshake completes on the client side; the alert arrives on first read.
    let mut refused = connect(&lab, "pd-1", Some("client"), &["h2", "http/1.1"])
        .await
        .expect("client handshake completes under TLS 1.3");
    let err = first_read(&mut refused).await.unwrap_err();
    assert_eq!(alert(&err), Some(AlertDescription::BadCertificate), "{err}");

    // No certificate at all.
    let mut none = connect(&lab, "pd-1", None, &[]).await.unwrap();
    let err = first_read(&mut none).await.unwrap_err();
    assert_eq!(alert(&err), Some(AlertDescription::CertificateRequired));

    // TLS 1.2 only client: refused in the handshake.
    let err = connect_with(&lab, "pd-1", {
        let mut c = lab.client_config_versions(Some("tidb"), V12).unwrap();
        c.alpn_protocols = vec![b"h2".to_vec()];
        c
    })
    .await
    .unwrap_err();
    assert_eq!(
        alert(&err),
        Some(AlertDescription::ProtocolVersion),
        "{err}"
    );

    let events = lab.wait_events("pd-1", 4, WAIT).await;
    let decisions: Vec<_> = events.iter().map(|e| e.decision.as_str()).collect();
    assert!(decisions.contains(&"http_status:200"), "{decisions:?}");
    let rejected = events
        .iter()
        .find(|e| e.decision == "handshake_rejected:cn_not_allowed")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(rejected.client_cn.as_deref(), Some("lab-client"));
    assert!(decisions.contains(&"handshake_rejected:no_client_cert"));
    let ok_event = events
        .iter()
        .find(|e| e.decision == "http_status:200")
        .unwrap();
    assert_eq!(ok_event.client_cn.as_deref(), Some("tidb"));
    assert_eq!(ok_event.tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(ok_event.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(ok_event.path.as_deref(), Some("/pd/api/v1/version"));
    assert_eq!(lab.connections("pd-1"), 4);
}

#[tokio::test]
async fn pd_serves_grpc_over_h2_without_app_cn_check() {
    let lab = standard().await;
    let tls = connect(&lab, "pd-1", Some("pd"), &["h2"]).await.unwrap();
    let a = grpc_call(tls, HEALTH_CHECK_PATH).await;
    assert_eq!(a.status, "0");
    assert_eq!(a.body, vec![0, 0, 0, 0, 2, 8, 1]);
}

#[tokio::test]
async fn tikv_grpc_checks_cn_per_call_and_closes_silently() {
    let lab = standard().await;

    let tls = connect(&lab, "tikv-1", Some("tidb"), &["h2"])
        .await
        .unwrap();
    let a = grpc_call(tls, HEALTH_CHECK_PATH).await;
    assert_eq!((a.status.as_str(), a.message.as_deref()), ("0", None));
    assert_eq!(a.body, vec![0, 0, 0, 0, 2, 8, 1]);

    let tls = connect(&lab, "tikv-1", Some("client"), &["h2"])
        .await
        .unwrap();
    let a = grpc_call(tls, HEALTH_CHECK_PATH).await;
    assert_eq!(a.status, "16");
    assert_eq!(
        a.message.as_deref(),
        Some(
            "Common name check fail, reason: x509_common_name from peer is lab-client, \
             cert_allowed_cn: {\"tidb\", \"pd\", \"tikv\"}"
        )
    );

    let tls = connect(&lab, "tikv-1", Some("client"), &["h2"])
        .await
        .unwrap();
    assert_eq!(grpc_call(tls, "/tikvpb.Tikv/KvGet").await.status, "12");

    // Foreign CA: TLS 1.3 handshake completes for the client, then a bare close, no alert.
    let mut foreign = connect(&lab, "tikv-1", Some("foreign"), &["h2"])
        .await
        .unwrap();
    let r = first_read(&mut foreign).await;
    assert!(is_bare_close(&r), "{r:?}");

    // Foreign CA under TLS 1.2: the close happens inside the handshake, still no alert.
    let mut c = lab.client_config_versions(Some("foreign"), V12).unwrap();
    c.alpn_protocols = vec![b"h2".to_vec()];
    let err = connect_with(&lab, "tikv-1", c).await.unwrap_err();
    assert!(alert(&err).is_none(), "{err}");

    // Expired or serverAuth-only client certificates: the same bare close.
    for id in ["expired", "noeku"] {
        let mut s = connect(&lab, "tikv-1", Some(id), &["h2"]).await.unwrap();
        let r = first_read(&mut s).await;
        assert!(is_bare_close(&r), "{id}: {r:?}");
    }

    // No ALPN, or no certificate: also a bare close after the handshake.
    let mut no_alpn = connect(&lab, "tikv-1", Some("tidb"), &[]).await.unwrap();
    assert!(is_bare_close(&first_read(&mut no_alpn).await));
    let mut http11 = connect(&lab, "tikv-1", Some("tidb"), &["http/1.1"])
        .await
        .unwrap();
    assert_eq!(http11.get_ref().1.alpn_protocol(), None);
    assert!(is_bare_close(&first_read(&mut http11).await));
    let mut no_cert = connect(&lab, "tikv-1", None, &["h2"]).await.unwrap();
    assert!(is_bare_close(&first_read(&mut no_cert).await));

    let events = lab.wait_events("tikv-1", 10, WAIT).await;
    let decisions: Vec<_> = events.iter().map(|e| e.decision.as_str()).collect();
    for d in [
        "grpc_status:0",
        "grpc_status:16",
        "grpc_status:12",
        "closed_silently:unknown_ca",
        "closed_silently:expired",
        "closed_silently:bad_eku",
        "closed_silently:no_h2_alpn",
        "closed_silently:no_client_cert",
    ] {
        assert!(decisions.contains(&d), "{d} missing from {decisions:?}");
    }
    let foreign_events: Vec<_> = events
        .iter()
        .filter(|e| e.decision == "closed_silently:unknown_ca")
        .collect();
    assert_eq!(foreign_events.len(), 2);
    assert!(foreign_events
        .iter()
        .all(|e| e.client_cn.as_deref() == Some("tidb")));
}

#[tokio::test]
async fn tiflash_grpc_answers_permission_denied() {
    let lab = standard().await;
    let tls = connect(&lab, "tiflash-1", Some("pd"), &["h2"])
        .await
        .unwrap();
    let a = grpc_call(tls, HEALTH_CHECK_PATH).await;
    assert_eq!(a.status, "7");
    assert_eq!(a.message.as_deref(), Some("common name check is failed"));
    let tls = connect(&lab, "tiflash-1", Some("tikv"), &["h2"])
        .await
        .unwrap();
    assert_eq!(grpc_call(tls, HEALTH_CHECK_PATH).await.status, "0");
}

#[tokio::test]
async fn tikv_status_403_for_unlisted_cn_and_tls12_only() {
    let lab = standard().await;
    let mut s = connect(&lab, "tikv-1-status", Some("client"), &[])
        .await
        .unwrap();
    assert_eq!(
        s.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    assert_eq!(
        http_get(&mut s, "/engine_type").await,
        (403, "certificate role error".to_owned())
    );
    let mut s = connect(&lab, "tikv-1-status", Some("client"), &[])
        .await
        .unwrap();
    assert_eq!(http_get(&mut s, "/metrics").await.0, 200);
    let mut s = connect(&lab, "tikv-1-status", Some("tidb"), &[])
        .await
        .unwrap();
    assert_eq!(
        http_get(&mut s, "/engine_type").await,
        (200, "tikv".to_owned())
    );

    // Open status port: no certificate needed.
    let mut s = connect(&lab, "tikv-open-status", None, &[]).await.unwrap();
    assert_eq!(http_get(&mut s, "/engine_type").await.0, 200);

    // TLS 1.3-only client.
    let c = lab.client_config_versions(Some("tidb"), V13).unwrap();
    let err = connect_with(&lab, "tikv-1-status", c).await.unwrap_err();
    assert_eq!(
        alert(&err),
        Some(AlertDescription::ProtocolVersion),
        "{err}"
    );

    // Expired client certificate: rustls' alert, in the TLS 1.2 handshake.
    let err = connect(&lab, "tikv-1-status", Some("expired"), &[])
        .await
        .unwrap_err();
    assert_eq!(
        alert(&err),
        Some(AlertDescription::CertificateExpired),
        "{err}"
    );

    let events = lab.wait_events("tikv-1-status", 5, WAIT).await;
    let e403 = events
        .iter()
        .find(|e| e.decision == "http_status:403")
        .unwrap();
    assert_eq!(e403.client_cn.as_deref(), Some("lab-client"));
    assert_eq!(e403.tls_version.as_deref(), Some("TLSv1.2"));
    assert!(events
        .iter()
        .any(|e| e.decision == "handshake_rejected:expired"
            && e.client_cn.as_deref() == Some("tidb")));
}

#[derive(Debug, Default)]
struct AskRecorder {
    asked: AtomicBool,
}

impl ResolvesClientCert for AskRecorder {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        _schemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.asked.store(true, Ordering::SeqCst);
        None
    }
    fn has_certs(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn tidb_status_requests_certificate_only_with_verify_cn() {
    let lab = standard().await;
    let recorder = Arc::new(AskRecorder::default());
    let cfg = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(lab.root_store())
    .with_client_cert_resolver(recorder.clone());
    let mut s = connect_with(&lab, "tidb-2-status", cfg.clone())
        .await
        .unwrap();
    let (status, body) = http_get(&mut s, "/status").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        r#"{"connections":0,"version":"8.0.11-TiDB-v8.5.0-lab","git_hash":"lab"}"#
    );
    assert!(
        !recorder.asked.load(Ordering::SeqCst),
        "no CertificateRequest expected"
    );

    // With cluster-verify-cn set, a CertificateRequest is sent.
    let mut s = connect_with(&lab, "tidb-1-status", cfg).await.unwrap();
    assert!(recorder.asked.load(Ordering::SeqCst));
    let err = first_read(&mut s).await.unwrap_err();
    assert_eq!(alert(&err), Some(AlertDescription::CertificateRequired));

    // lab-client is listed; pd is not.
    let mut s = connect(&lab, "tidb-1-status", Some("client"), &["http/1.1"])
        .await
        .unwrap();
    assert_eq!(http_get(&mut s, "/status").await.0, 200);
    let mut s = connect(&lab, "tidb-1-status", Some("pd"), &[])
        .await
        .unwrap();
    let err = first_read(&mut s).await.unwrap_err();
    assert_eq!(alert(&err), Some(AlertDescription::BadCertificate));
    // Missing clientAuth EKU: refused by WebPKI.
    let mut s = connect(&lab, "tidb-1-status", Some("noeku"), &[])
        .await
        .unwrap();
    let err = first_read(&mut s).await.unwrap_err();
    assert_eq!(alert(&err), Some(AlertDescription::UnsupportedCertificate));
}

#[tokio::test]
async fn server_certificate_faults_fail_client_verification() {
    let lab = standard().await;
    for (ep, want) in [
        ("bad-expired", "expired"),
        ("bad-san", "name"),
        ("bad-ca", "issuer"),
        ("bad-chain", "issuer"),
    ] {
        let err = connect(&lab, ep, Some("tidb"), &[]).await.unwrap_err();
        let cert_err = match tls_error(&err) {
            Some(rustls::Error::InvalidCertificate(c)) => c.clone(),
            other => panic!("{ep}: {other:?}"),
        };
        let ok = match want {
            "expired" => matches!(
                cert_err,
                CertificateError::ExpiredContext { .. } | CertificateError::Expired
            ),
            "name" => matches!(
                cert_err,
                CertificateError::NotValidForNameContext { .. } | CertificateError::NotValidForName
            ),
            _ => matches!(cert_err, CertificateError::UnknownIssuer),
        };
        assert!(ok, "{ep}: {cert_err:?}");
        assert!(lab.endpoint(ep).unwrap().fault.is_some());
    }
    // The missing intermediate is the only problem: a client that has it verifies the chain.
    {
        use rustls::pki_types::pem::PemObject;
        let mut roots = lab.root_store();
        let inter =
            rustls::pki_types::CertificateDer::from_pem_file(&lab.pki().intermediate_ca_cert)
                .unwrap();
        roots.add(inter).unwrap();
        let cfg = ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut s = connect_with(&lab, "bad-chain", cfg).await.unwrap();
        // Verified; the server then refuses the missing client certificate.
        let err = first_read(&mut s).await.unwrap_err();
        assert_eq!(alert(&err), Some(AlertDescription::CertificateRequired));
    }
    let events = lab.wait_events("bad-ca", 1, WAIT).await;
    assert!(
        events[0]
            .decision
            .starts_with("handshake_failed:peer_alert:"),
        "{events:?}"
    );
}

#[tokio::test]
async fn non_tls_faults() {
    let lab = standard().await;

    // reset: the peer sees a TCP RST.
    let mut tcp = TcpStream::connect(lab.endpoint("reset").unwrap().addr)
        .await
        .unwrap();
    let r = first_read(&mut tcp).await;
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
    let err = connect(&lab, "reset", Some("tidb"), &[]).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ),
        "{err:?}"
    );

    // garbage: 64 non-TLS bytes.
    let mut tcp = TcpStream::connect(lab.endpoint("garbage").unwrap().addr)
        .await
        .unwrap();
    tcp.write_all(b"\x16\x03\x01\x00\x05hello").await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 64);
    assert_eq!(got[0], 0x9f);
    let err = connect(&lab, "garbage", Some("tidb"), &[])
        .await
        .unwrap_err();
    assert!(tls_error(&err).is_some(), "{err:?}");

    // plaintext HTTP: Go's 400 to a ClientHello, 200 to a GET.
    let mut tcp = TcpStream::connect(lab.endpoint("plain-http").unwrap().addr)
        .await
        .unwrap();
    tcp.write_all(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")
        .await
        .unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, super::server::GO_TLS_ON_PLAINTEXT);
    let mut tcp = TcpStream::connect(lab.endpoint("plain-http").unwrap().addr)
        .await
        .unwrap();
    assert_eq!(http_get(&mut tcp, "/").await.0, 200);

    // silent: nothing arrives.
    let mut tcp = TcpStream::connect(lab.endpoint("silent").unwrap().addr)
        .await
        .unwrap();
    tcp.write_all(b"\x16\x03\x01").await.unwrap();
    let mut buf = [0u8; 16];
    assert!(
        tokio::time::timeout(Duration::from_millis(200), tcp.read(&mut buf))
            .await
            .is_err()
    );
    assert_eq!(lab.connections("silent"), 1);
    assert_eq!(lab.events("silent")[0].decision, "silent");

    assert_eq!(lab.connections("reset"), 2);
    assert_eq!(lab.connections("garbage"), 2);
    assert_eq!(lab.connections("plain-http"), 2);
    let plain = lab.wait_events("plain-http", 2, WAIT).await;
    assert_eq!(plain[0].decision, "http_status:400");
}

#[tokio::test]
async fn stop_closes_every_listener_and_connection() {
    let lab = standard().await;
    let addrs: Vec<_> = lab.endpoints().iter().map(|e| e.addr).collect();
    // An idle connection on the silent endpoint must not keep the lab alive.
    let mut held = TcpStream::connect(lab.endpoint("silent").unwrap().addr)
        .await
        .unwrap();
    let mut idle_tls = connect(&lab, "pd-1", Some("tidb"), &["http/1.1"])
        .await
        .unwrap();
    let dir = lab.dir().to_path_buf();
    assert!(dir.join("ca.crt").exists());
    tokio::time::timeout(Duration::from_secs(5), lab.stop())
        .await
        .unwrap();
    // No socket of this process listens on a lab port any more. (Connecting would not tell:
    // another process may take a freed ephemeral port at once.)
    let listening = own_listening_ports();
    for addr in addrs {
        assert!(!listening.contains(&addr.port()), "{addr} still listens");
    }
    assert!(is_bare_close(&first_read(&mut held).await));
    assert!(is_bare_close(&first_read(&mut idle_tls).await));
    assert!(!dir.exists(), "the lab directory is removed");
}

/// The TCP ports this process listens on: LISTEN sockets of /proc/net/tcp{,6} whose inode is
/// one of this process's file descriptors.
fn own_listening_ports() -> Vec<u16> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is f[1] (HEX_IP:HEX_PORT), st is f[3] (0A = LISTEN), inode f[9].
            if f.len() > 9 && f[3] == "0A" && inodes.contains(f[9]) {
                if let Some(port) = f[1].rsplit(':').next() {
                    ports.push(u16::from_str_radix(port, 16).unwrap());
                }
            }
        }
    }
    ports
}

#[test]
fn own_listening_ports_sees_a_listener() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    assert!(own_listening_ports().contains(&port));
    drop(l);
    assert!(!own_listening_ports().contains(&port));
}

#[tokio::test]
async fn drop_aborts_listeners() {
    let lab = standard().await;
    let addr = lab.endpoint("pd-1").unwrap().addr;
    let mut held = TcpStream::connect(lab.endpoint("silent").unwrap().addr)
        .await
        .unwrap();
    drop(lab);
    let read = first_read(&mut held).await;
    assert!(is_bare_close(&read), "{read:?}");
    assert!(
        !own_listening_ports().contains(&addr.port()),
        "{addr} still listens"
    );
}

#[tokio::test]
async fn pki_files_are_pem_and_private_keys_are_0600() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let lab = Lab::start(LabSpec::new("demo").with(EndpointSpec::pd("pd", &[])))
        .await
        .unwrap();
    let pki = lab.pki();
    for p in [
        &pki.ca_cert,
        &pki.foreign_ca_cert,
        &pki.intermediate_ca_cert,
        &pki.ca_key,
    ] {
        assert!(p.starts_with(lab.dir()), "{}", p.display());
    }
    let ca = CertificateDer::from_pem_file(&pki.ca_cert).unwrap();
    let (_, ca) = x509_parser::parse_x509_certificate(&ca).unwrap();
    let subject = ca.subject().to_string();
    assert!(
        subject.contains("O=PingCAP") && subject.contains("OU=TiUP"),
        "{subject}"
    );

    let names: Vec<_> = pki.identities.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["cdc", "client", "expired", "foreign", "noeku", "pd", "tidb", "tiflash", "tikv"]
    );
    for (name, id) in &pki.identities {
        let der = CertificateDer::from_pem_file(&id.cert).unwrap();
        assert_eq!(
            super::verify::leaf_cn(&der).as_deref(),
            Some(id.cn.as_str()),
            "{name}"
        );
        PrivateKeyDer::from_pem_file(&id.key).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&id.key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
    }
    assert_eq!(pki.identities["client"].cn, "demo-client");
    assert_eq!(pki.identities["foreign"].cn, "tidb");

    let der = CertificateDer::from_pem_file(&pki.identities["client"].cert).unwrap();
    let (_, client) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(client.subject_alternative_name().unwrap().is_none());
    let eku = client.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);

    let der = CertificateDer::from_pem_file(&pki.identities["expired"].cert).unwrap();
    let (_, expired) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(!expired.validity().is_valid());

    let der = CertificateDer::from_pem_file(&pki.identities["tikv"].cert).unwrap();
    let (_, tikv) = x509_parser::parse_x509_certificate(&der).unwrap();
    let eku = tikv.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && eku.server_auth);
    let sans = tikv.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(sans.general_names.len(), 2);
}

#[tokio::test]
async fn spec_validation() {
    let dup = LabSpec::new("x")
        .with(EndpointSpec::silent("a"))
        .with(EndpointSpec::reset("a"));
    assert!(matches!(Lab::start(dup).await, Err(LabError::Spec(_))));
    let lab = standard().await;
    assert_eq!(lab.endpoints().len(), 15);
    let names: Vec<_> = lab.endpoints().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names[0], "pd-1");
    assert_eq!(names[14], "reset");
    assert_eq!(lab.endpoint("tikv-1").unwrap().protocol, "grpc");
    assert_eq!(
        lab.endpoint("tikv-1-status").unwrap().path.as_deref(),
        Some("/engine_type")
    );
    assert_eq!(lab.endpoint("plain-http").unwrap().protocol, "plaintext");
    assert!(lab.endpoint("tidb-2-status").unwrap().fault.is_none());
    assert!(!lab.endpoint("tidb-2-status").unwrap().requests_client_cert);
    assert!(lab.client_config(Some("nobody")).is_err());
    assert_eq!(lab.connections("nobody"), 0);
}

#[tokio::test]
async fn reconfigure_widens_a_list_and_rotates_the_certificate_on_the_same_address() {
    let mut lab = standard().await;
    let addr = lab.endpoint("tikv-1").unwrap().addr;
    let leaf = |tls: &TlsStream<TcpStream>| tls.get_ref().1.peer_certificates().unwrap()[0].clone();

    let tls = connect(&lab, "tikv-1", Some("client"), &["h2"])
        .await
        .unwrap();
    let before = leaf(&tls);
    assert_eq!(grpc_call(tls, HEALTH_CHECK_PATH).await.status, "16");

    let mut spec = lab.spec("tikv-1").unwrap().clone();
    spec.behavior = Behavior::TikvGrpc {
        allowed_cn: strings(&["tidb", "pd", "tikv", "lab-client"]),
    };
    spec = spec.with_server_cert(ServerCertKind::Reissued);
    lab.reconfigure(spec).unwrap();
    assert_eq!(lab.endpoint("tikv-1").unwrap().addr, addr);
    assert!(lab
        .endpoint("tikv-1")
        .unwrap()
        .allowed_cn
        .contains(&"lab-client".to_string()));

    let tls = connect(&lab, "tikv-1", Some("client"), &["h2"])
        .await
        .unwrap();
    let after = leaf(&tls);
    assert_ne!(before, after, "a new certificate");
    assert_eq!(grpc_call(tls, HEALTH_CHECK_PATH).await.status, "0");

    let unknown = EndpointSpec::pd("nope", &[]);
    assert!(lab.reconfigure(unknown).is_err());
}
