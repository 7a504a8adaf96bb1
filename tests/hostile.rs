//! Hostile and broken peers, written here as loopback servers (raw bytes or rustls): each probe
//! ends classified within its deadline, with a bounded record.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TLS 1.2 `bad_certificate` alert record.
const BAD_CERTIFICATE: [u8; 7] = [0x15, 3, 3, 0, 2, 2, 42];

/// A peer that sends its alert and resets: our next write fails, and the alert is still read
/// from the receive buffer afterwards.
#[tokio::test]
async fn an_alert_before_a_reset_survives_the_write_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut hello = [0u8; 16];
        let _ = s.read(&mut hello).await;
        s.write_all(&[0x16, 3, 3, 0, 1, 0]).await.unwrap();
        s.write_all(&BAD_CERTIFICATE).await.unwrap();
        // Unread bytes plus SO_LINGER 0: the kernel sends a reset.
        tokio::time::sleep(Duration::from_millis(50)).await;
        s.set_zero_linger().unwrap();
    });
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"first flight").await.unwrap();
    server.await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut failed = false;
    for _ in 0..10 {
        if c.write_all(b"more of the flight").await.is_err() {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(failed, "the write after the reset fails");
    let alert = tlsaudit_engine::probe::drain_alert(c, Duration::from_secs(1)).await;
    assert_eq!(alert, Some(42));
}

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tlsaudit_engine::pki::{Identity, Trust};
use tlsaudit_engine::probe::{
    probe, Caller, OutcomeClass, ProbeRecord, ProbeSpec, Protocol, Timeouts,
};
use tlsaudit_lab::{Lab, LabSpec};

/// A lab PKI (no endpoints) for servers written here: the `tidb` instance certificate serves
/// `127.0.0.1`, and `tidb` is the caller.
struct Pki {
    lab: Lab,
    trust: Trust,
}

impl Pki {
    async fn new() -> Pki {
        let lab = Lab::start(LabSpec::new("lab")).await.unwrap();
        let trust = Trust::load(&lab.pki().ca_cert).unwrap();
        Pki { lab, trust }
    }

    fn chain(&self) -> Vec<CertificateDer<'static>> {
        let f = &self.lab.pki().identities["tidb"];
        CertificateDer::pem_file_iter(&f.cert)
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// A TLS server config serving `chain` with the `tidb` key, no client auth, ALPN `alpn`.
    fn server(
        &self,
        chain: Vec<CertificateDer<'static>>,
        alpn: &[&str],
    ) -> Arc<rustls::ServerConfig> {
        let f = &self.lab.pki().identities["tidb"];
        let key = PrivateKeyDer::from_pem_file(&f.key).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        cfg.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Arc::new(cfg)
    }

    fn caller(&self) -> Caller {
        let f = &self.lab.pki().identities["tidb"];
        Caller::new(
            Identity::load("tidb", &f.cert, &f.key).unwrap(),
            &self.trust,
        )
    }

    async fn probe(
        &self,
        addr: std::net::SocketAddr,
        protocol: Protocol,
        each: Duration,
    ) -> ProbeRecord {
        let mut spec = ProbeSpec::new(addr.to_string(), protocol);
        spec.timeouts = Timeouts::uniform(each);
        probe(&spec, &self.caller(), &self.trust).await
    }
}

/// Serve every connection with `serve` on a fresh loopback port.
async fn serve<F, Fut>(serve: F) -> std::net::SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve(s));
        }
    });
    addr
}

/// The record's size as JSON: what one cell of a report costs.
fn size(rec: &ProbeRecord) -> usize {
    serde_json::to_vec(rec).unwrap().len()
}

#[tokio::test]
async fn an_unparsable_certificate_keeps_its_place_in_the_chain() {
    let pki = Pki::new().await;
    let mut chain = pki.chain();
    let ca = CertificateDer::from_pem_file(&pki.lab.pki().ca_cert).unwrap();
    chain.push(CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]));
    chain.push(ca);
    let cfg = pki.server(chain, &[]);
    let addr = serve(move |s| {
        let acceptor = tokio_rustls::TlsAcceptor::from(cfg.clone());
        async move {
            if let Ok(mut tls) = acceptor.accept(s).await {
                let _ = tls.shutdown().await;
            }
        }
    })
    .await;
    let rec = pki.probe(addr, Protocol::Tls, Duration::from_secs(3)).await;
    let chain = &rec.server_chain;
    assert_eq!(chain.len(), 3, "{chain:#?}");
    assert_eq!(chain[0].common_name.as_deref(), Some("tidb"));
    assert!(chain[0].parse_error.is_none());
    assert!(chain[1].parse_error.is_some(), "{:#?}", chain[1]);
    assert!(chain[2].is_ca && chain[2].parse_error.is_none());
}
