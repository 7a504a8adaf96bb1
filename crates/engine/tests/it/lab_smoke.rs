//! Smoke test of `tlsaudit_lab` through its public API only: many concurrent handshakes
//! against a lab with many endpoints, then a clean stop.
//!
//! `LAB_SMOKE_HANDSHAKES` (default 400) and `LAB_SMOKE_CONCURRENCY` (default 32) size the
//! run; use `--release -- --nocapture` to see the rate.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tlsaudit_lab::{EndpointSpec, Lab, LabSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

fn assert_send_sync<T: Send + Sync>() {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_endpoints_many_handshakes() {
    assert_send_sync::<Lab>();
    let n: usize = std::env::var("LAB_SMOKE_HANDSHAKES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);

    let mut spec = LabSpec::new("smoke");
    for i in 0..50 {
        spec = spec
            .with(EndpointSpec::pd(format!("pd-{i}"), &["tidb"]))
            .with(EndpointSpec::tidb_status(format!("tidb-{i}"), &[]));
    }
    let started = Instant::now();
    let lab = Arc::new(Lab::start(spec).await.expect("lab starts"));
    eprintln!("lab with 100 endpoints started in {:?}", started.elapsed());

    let mut cfg = lab.client_config(Some("tidb")).expect("client config");
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = TlsConnector::from(Arc::new(cfg));

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let concurrency: usize = std::env::var("LAB_SMOKE_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    for worker in 0..concurrency {
        let lab = lab.clone();
        let connector = connector.clone();
        tasks.spawn(async move {
            let mut ok = 0usize;
            let eps = lab.endpoints();
            let mut i = worker;
            while i < n {
                let ep = &eps[i % eps.len()];
                let tcp = TcpStream::connect(ep.addr).await.expect("connect");
                tcp.set_nodelay(true).expect("nodelay");
                let name = ServerName::try_from(ep.server_name.clone()).expect("name");
                let mut tls = connector.connect(name, tcp).await.expect("handshake");
                let path = ep.path.clone().unwrap_or_else(|| "/".into());
                let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
                tls.write_all(req.as_bytes()).await.expect("write");
                let mut resp = Vec::new();
                let _ = tls.read_to_end(&mut resp).await;
                if resp.starts_with(b"HTTP/1.1 200 ") {
                    ok += 1;
                }
                i += concurrency;
            }
            ok
        });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        ok += r.expect("worker");
    }
    let elapsed = started.elapsed();
    eprintln!(
        "{n} handshakes + requests in {elapsed:?} ({:.0}/s)",
        n as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(ok, n);
    let total: u64 = lab
        .endpoints()
        .iter()
        .map(|e| lab.connections(&e.name))
        .sum();
    assert_eq!(total, n as u64);

    let lab = Arc::try_unwrap(lab).expect("sole owner");
    let addr = lab.endpoints()[0].addr;
    tokio::time::timeout(Duration::from_secs(5), lab.stop())
        .await
        .expect("stop is prompt");
    assert!(TcpStream::connect(addr).await.is_err());
}
