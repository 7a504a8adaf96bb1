//! Probe engine throughput against the embedded lab, next to a bare tokio-rustls
//! connect+handshake loop measured in the same run.
//!
//! `cargo bench --bench probe` (env `BENCH_PROBES`, default 3000 per round; `BENCH_CONCURRENCY`,
//! default 16). Prints probes per second for both and the ratio engine/bare.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tlsaudit_engine::pki::{provider, Identity, Trust};
use tlsaudit_engine::probe::{probe, Caller, OutcomeClass, ProbeSpec, Protocol};
use tlsaudit_lab::{EndpointSpec, Lab, LabSpec};
use tlsaudit_testkit::bench::env_usize;

async fn engine_round(
    spec: Arc<ProbeSpec>,
    caller: Arc<Caller>,
    trust: Arc<Trust>,
    n: usize,
    c: usize,
) -> (f64, usize) {
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..c {
        let (spec, caller, trust) = (spec.clone(), caller.clone(), trust.clone());
        let share = n / c + usize::from(w < n % c);
        tasks.spawn(async move {
            let mut ok = 0;
            for _ in 0..share {
                let rec = probe(&spec, &caller, &trust).await;
                if rec.outcome.class == OutcomeClass::Accepted {
                    ok += 1;
                }
            }
            ok
        });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        ok += r.unwrap_or(0);
    }
    (n as f64 / start.elapsed().as_secs_f64(), ok)
}

async fn bare_round(
    addr: std::net::SocketAddr,
    config: Arc<ClientConfig>,
    n: usize,
    c: usize,
) -> (f64, usize) {
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..c {
        let connector = tokio_rustls::TlsConnector::from(config.clone());
        let share = n / c + usize::from(w < n % c);
        tasks.spawn(async move {
            let mut ok = 0;
            for _ in 0..share {
                let Ok(tcp) = tokio::net::TcpStream::connect(addr).await else {
                    continue;
                };
                let name = ServerName::try_from("127.0.0.1").expect("valid name");
                if connector.connect(name, tcp).await.is_ok() {
                    ok += 1;
                }
            }
            ok
        });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        ok += r.unwrap_or(0);
    }
    (n as f64 / start.elapsed().as_secs_f64(), ok)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n = env_usize("BENCH_PROBES", 3000);
    let c = env_usize("BENCH_CONCURRENCY", 16).max(1);
    let rounds = env_usize("BENCH_ROUNDS", 5).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let lab = Lab::start(LabSpec::new("bench").with(EndpointSpec::pd("pd-bench", &["tidb"])))
            .await
            .expect("lab starts");
        let ep = lab.endpoint("pd-bench").expect("endpoint").clone();
        let trust = Arc::new(Trust::load(&lab.pki().ca_cert).expect("ca"));
        let files = lab.pki().identities.get("tidb").expect("tidb identity").clone();
        let identity = Identity::load("tidb", &files.cert, &files.key).expect("identity");
        let key = identity.key.clone().expect("key");
        let caller = Arc::new(Caller::new(identity, &trust));
        let mut spec = ProbeSpec::new(ep.addr.to_string(), Protocol::Tls);
        spec.server_name = Some("127.0.0.1".into());
        let spec = Arc::new(spec);

        let mut bare_cfg = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(trust.roots.clone())
            .with_client_auth_cert(key.cert.clone(), {
                let k = std::fs::read(&files.key).expect("key file");
                rustls_pki_types::pem::PemObject::from_pem_slice(&k).expect("pem key")
            })
            .expect("client cert");
        bare_cfg.resumption = Resumption::disabled();
        bare_cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let bare_cfg = Arc::new(bare_cfg);

        // Warm up both paths.
        engine_round(spec.clone(), caller.clone(), trust.clone(), 200, c).await;
        bare_round(ep.addr, bare_cfg.clone(), 200, c).await;

        println!("probe engine vs bare tokio-rustls handshake loop: {n} connections per round, concurrency {c}, TLS 1.3 with client certificate (lab PD endpoint)");
        let (mut bare, mut eng) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            let (b, bok) = bare_round(ep.addr, bare_cfg.clone(), n, c).await;
            let (e, eok) = engine_round(spec.clone(), caller.clone(), trust.clone(), n, c).await;
            println!("round {}: bare {b:>8.0}/s ({bok} ok)   engine {e:>8.0}/s ({eok} accepted)   ratio {:.3}", r + 1, e / b);
            assert_eq!(eok, n, "every probe is accepted");
            bare.push(b);
            eng.push(e);
        }
        let (b, e) = (median(bare), median(eng));
        println!("median: bare {b:.0}/s, engine {e:.0}/s, ratio {:.3} (target >= 0.8)", e / b);
        lab.stop().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    });
}
