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

/// One HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HPACK integer with an `n`-bit prefix (first byte's high bits zero).
fn hpack_int(value: usize, n: u32, out: &mut Vec<u8>) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(u8::try_from(value).unwrap());
        return;
    }
    out.push(u8::try_from(max).unwrap());
    let mut v = value - max;
    while v >= 128 {
        out.push(u8::try_from(v % 128 + 128).unwrap());
        v /= 128;
    }
    out.push(u8::try_from(v).unwrap());
}

/// A TLS server with ALPN `h2` that reads the client's first bytes, then runs `script` on the
/// stream.
async fn h2_peer<F, Fut>(pki: &Pki, script: F) -> std::net::SocketAddr
where
    F: Fn(tokio_rustls::server::TlsStream<TcpStream>) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let cfg = pki.server(pki.chain(), &["h2"]);
    serve(move |s| {
        let acceptor = tokio_rustls::TlsAcceptor::from(cfg.clone());
        let script = script.clone();
        async move {
            if let Ok(mut tls) = acceptor.accept(s).await {
                let mut first = [0u8; 4096];
                let _ =
                    tokio::time::timeout(Duration::from_millis(300), tls.read(&mut first)).await;
                script(tls).await;
            }
        }
    })
    .await
}

/// Probe, then check the deadline and the record's size.
async fn bounded(pki: &Pki, addr: std::net::SocketAddr, protocol: Protocol) -> ProbeRecord {
    let each = Duration::from_millis(800);
    let t = std::time::Instant::now();
    let rec = pki.probe(addr, protocol, each).await;
    // Three phases and the small drains after them.
    assert!(
        t.elapsed() < each * 3 + Duration::from_secs(1),
        "took {:?}: {rec:#?}",
        t.elapsed()
    );
    assert!(size(&rec) < 24 * 1024, "record of {} bytes", size(&rec));
    rec
}

#[tokio::test]
async fn an_http2_settings_storm_ends_within_the_deadline() {
    let pki = Pki::new().await;
    let addr = h2_peer(&pki, |mut tls| async move {
        let storm: Vec<u8> = (0..2000)
            .flat_map(|_| frame(4, 0, 0, &[0, 3, 0, 0, 0, 100]))
            .collect();
        while tls.write_all(&storm).await.is_ok() {}
    })
    .await;
    let rec = bounded(&pki, addr, Protocol::Grpc).await;
    assert_ne!(
        rec.outcome.class,
        OutcomeClass::Accepted,
        "{:#?}",
        rec.outcome
    );
}

#[tokio::test]
async fn huge_http2_headers_are_refused_not_stored() {
    let pki = Pki::new().await;
    let addr = h2_peer(&pki, |mut tls| async move {
        let mut block = vec![0x88]; // :status 200
        block.push(0x00);
        hpack_int(12, 7, &mut block);
        block.extend_from_slice(b"grpc-message");
        hpack_int(200_000, 7, &mut block);
        block.extend(std::iter::repeat_n(b'x', 200_000));
        let mut out = frame(4, 0, 0, &[]);
        let mut chunks = block.chunks(16_000);
        out.extend(frame(1, 0, 1, chunks.next().unwrap()));
        let rest: Vec<_> = chunks.collect();
        for (i, c) in rest.iter().enumerate() {
            let end = if i + 1 == rest.len() { 4 } else { 0 };
            out.extend(frame(9, end, 1, c));
        }
        let _ = tls.write_all(&out).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let rec = bounded(&pki, addr, Protocol::Grpc).await;
    assert_ne!(
        rec.outcome.class,
        OutcomeClass::Accepted,
        "{:#?}",
        rec.outcome
    );
    assert!(rec.evidence.grpc_message.is_none());
}

#[tokio::test]
async fn a_push_promise_is_a_protocol_error() {
    let pki = Pki::new().await;
    let addr = h2_peer(&pki, |mut tls| async move {
        let mut out = frame(4, 0, 0, &[]);
        out.extend(frame(5, 4, 1, &[0, 0, 0, 2, 0x82, 0x87, 0x84]));
        let _ = tls.write_all(&out).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let rec = bounded(&pki, addr, Protocol::Grpc).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::ProtocolError,
        "{:#?}",
        rec.outcome
    );
}

#[tokio::test]
async fn a_long_grpc_message_is_truncated() {
    let pki = Pki::new().await;
    let addr = h2_peer(&pki, |mut tls| async move {
        let mut block = vec![0x88];
        for (name, value) in [
            (&b"content-type"[..], "application/grpc".to_string()),
            (b"grpc-status", "16".to_string()),
            (b"grpc-message", "m".repeat(9_000)),
        ] {
            block.push(0x00);
            hpack_int(name.len(), 7, &mut block);
            block.extend_from_slice(name);
            hpack_int(value.len(), 7, &mut block);
            block.extend_from_slice(value.as_bytes());
        }
        let mut out = frame(4, 0, 0, &[]);
        out.extend(frame(4, 1, 0, &[]));
        out.extend(frame(1, 4 | 1, 1, &block));
        let _ = tls.write_all(&out).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let rec = bounded(&pki, addr, Protocol::Grpc).await;
    assert_eq!(rec.evidence.grpc_status, Some(16), "{:#?}", rec.outcome);
    let msg = rec.evidence.grpc_message.as_deref().unwrap();
    assert!(msg.len() <= 1024 + 3, "{}", msg.len());
}

/// A raw peer: reads the ClientHello, then runs `script` on the TCP stream.
async fn raw_peer<F, Fut>(script: F) -> std::net::SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    serve(move |mut s| {
        let script = script.clone();
        async move {
            let mut hello = [0u8; 4096];
            let _ = s.read(&mut hello).await;
            script(s).await;
        }
    })
    .await
}

#[tokio::test]
async fn a_handshake_sent_one_byte_per_second_times_out() {
    let pki = Pki::new().await;
    let addr = raw_peer(|mut s| async move {
        for b in [0x16u8, 3, 3, 0, 80, 2, 0, 0, 76, 3, 3] {
            if s.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await;
    let rec = bounded(&pki, addr, Protocol::Tls).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::Timeout,
        "{:#?}",
        rec.outcome
    );
    // TLS bytes arrived before the stall: not a port that never answered.
    assert!(
        rec.outcome
            .summary
            .contains("answered the ClientHello, then stalled"),
        "{}",
        rec.outcome.summary
    );
    assert!(!rec.evidence.no_answer);
}

#[tokio::test]
async fn a_close_in_the_middle_of_a_record_is_a_protocol_error() {
    let pki = Pki::new().await;
    let addr = raw_peer(|mut s| async move {
        let _ = s.write_all(&[0x16, 3, 3, 0x10, 0, 2, 0, 0]).await;
    })
    .await;
    let rec = bounded(&pki, addr, Protocol::Tls).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::ProtocolError,
        "{:#?}",
        rec.outcome
    );
    assert!(rec.evidence.closed_silently, "{:#?}", rec.evidence);
}

#[tokio::test]
async fn an_alert_before_the_server_hello_is_decided_by_the_alert() {
    let pki = Pki::new().await;
    let addr = raw_peer(|mut s| async move {
        let _ = s.write_all(&[0x15, 3, 3, 0, 2, 2, 40]).await;
    })
    .await;
    let rec = bounded(&pki, addr, Protocol::Tls).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::TlsMismatch,
        "{:#?}",
        rec.outcome
    );
    assert_eq!(rec.evidence.alert.as_ref().unwrap().code, 40);
}

/// A TLS server (no ALPN) that runs `script` after the handshake.
async fn tls_peer<F, Fut>(
    pki: &Pki,
    chain: Vec<CertificateDer<'static>>,
    script: F,
) -> std::net::SocketAddr
where
    F: Fn(tokio_rustls::server::TlsStream<TcpStream>) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let cfg = pki.server(chain, &[]);
    serve(move |s| {
        let acceptor = tokio_rustls::TlsAcceptor::from(cfg.clone());
        let script = script.clone();
        async move {
            if let Ok(tls) = acceptor.accept(s).await {
                script(tls).await;
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_flood_after_the_handshake_is_not_read_to_the_end() {
    let pki = Pki::new().await;
    let addr = tls_peer(&pki, pki.chain(), |mut tls| async move {
        let flood = vec![b'A'; 64 * 1024];
        while tls.write_all(&flood).await.is_ok() {}
    })
    .await;
    let rec = bounded(&pki, addr, Protocol::Http).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::ProtocolError,
        "{:#?}",
        rec.outcome
    );
}

#[tokio::test]
async fn a_peer_that_never_closes_after_its_headers_is_judged_on_them() {
    let pki = Pki::new().await;
    let addr = tls_peer(&pki, pki.chain(), |mut tls| async move {
        let mut req = [0u8; 4096];
        let _ = tls.read(&mut req).await;
        let _ = tls
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
            .await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let rec = bounded(&pki, addr, Protocol::Http).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::Accepted,
        "{:#?}",
        rec.outcome
    );
    assert_eq!(rec.evidence.http_status, Some(200));
}

#[tokio::test]
async fn a_multi_megabyte_certificate_chain_is_refused_unstored() {
    let pki = Pki::new().await;
    let mut chain = pki.chain();
    let ca = CertificateDer::from_pem_file(&pki.lab.pki().ca_cert).unwrap();
    chain.extend(std::iter::repeat_n(ca, 5000));
    let addr = tls_peer(&pki, chain, |_tls| async move {}).await;
    let rec = bounded(&pki, addr, Protocol::Tls).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::ProtocolError,
        "{:#?}",
        rec.outcome
    );
    assert!(rec.server_chain.is_empty());
}

/// The overall deadline ends a probe whose phases each stay within theirs.
#[tokio::test]
async fn the_overall_deadline_bounds_the_whole_probe() {
    let pki = Pki::new().await;
    // A server that completes the handshake, then stalls the check (5 s phase deadline).
    let addr = tls_peer(&pki, pki.chain(), |mut tls| async move {
        let mut req = [0u8; 4096];
        let _ = tls.read(&mut req).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let mut spec = ProbeSpec::new(addr.to_string(), Protocol::Http);
    spec.timeouts = Timeouts {
        total: Duration::from_millis(700),
        ..Timeouts::default()
    };
    let t = std::time::Instant::now();
    let rec = probe(&spec, &pki.caller(), &pki.trust).await;
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::Timeout,
        "{:#?}",
        rec.outcome
    );
    assert!(
        rec.outcome.summary.contains("overall deadline of 700ms"),
        "{}",
        rec.outcome.summary
    );
    assert_eq!(rec.outcome.phase, tlsaudit_engine::probe::Phase::Check);
}

// Not TLS: whatever a port answers the ClientHello with, if it is not a TLS record it is
// plaintext, with the protocol observed and the first bytes quoted; a port that accepts TCP
// and answers nothing says so.

/// The protocol the record says the peer spoke.
fn spoke(rec: &ProbeRecord) -> Option<&'static str> {
    rec.evidence
        .peer_protocol
        .map(tlsaudit_engine::probe::PeerProtocol::as_str)
}

/// Probe with short deadlines (the whole test well under 2 s) and assert it ended in time.
async fn quick(pki: &Pki, addr: std::net::SocketAddr) -> ProbeRecord {
    let t = std::time::Instant::now();
    let rec = pki
        .probe(addr, Protocol::Tls, Duration::from_millis(300))
        .await;
    assert!(
        t.elapsed() < Duration::from_millis(1200),
        "{:?}",
        t.elapsed()
    );
    rec
}

#[tokio::test]
async fn garbage_is_plaintext_with_its_bytes_quoted() {
    let pki = Pki::new().await;
    let addr = raw_peer(|mut s| async move {
        let _ = s.write_all(&[0x9f; 64]).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    })
    .await;
    let rec = quick(&pki, addr).await;
    assert_eq!(rec.outcome.class, OutcomeClass::Plaintext, "{rec:#?}");
    assert_eq!(spoke(&rec), Some("unknown"));
    let summary = &rec.outcome.summary;
    assert!(
        summary.starts_with("the endpoint answered with non-TLS bytes: '\\x9f\\x9f"),
        "{summary}"
    );
    // Quoted bounded: 32 bytes of the 64, then an ellipsis.
    assert_eq!(summary.matches("\\x9f").count(), 32, "{summary}");
    assert!(summary.contains("…'"), "{summary}");
    let bytes = rec.evidence.peer_bytes.as_deref().unwrap();
    assert_eq!(bytes.matches("\\x9f").count(), 48, "{bytes}");
}

#[tokio::test]
async fn an_ssh_banner_is_plaintext_ssh() {
    let pki = Pki::new().await;
    // An SSH server speaks first, before reading anything.
    let addr = serve(|mut s| async move {
        let _ = s
            .write_all(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n")
            .await;
        let mut hello = [0u8; 4096];
        let _ = s.read(&mut hello).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    })
    .await;
    let rec = quick(&pki, addr).await;
    assert_eq!(rec.outcome.class, OutcomeClass::Plaintext, "{rec:#?}");
    assert_eq!(spoke(&rec), Some("ssh"));
    assert!(
        rec.outcome.summary.starts_with(
            "the endpoint answered with non-TLS bytes (SSH): 'SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ub…'"
        ),
        "{}",
        rec.outcome.summary
    );
    assert_eq!(
        rec.evidence.peer_bytes.as_deref(),
        Some("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\\r\\n")
    );
}

#[tokio::test]
async fn an_http_answer_sent_without_reading_is_plaintext_http() {
    let pki = Pki::new().await;
    // The server answers before reading, then keeps the connection open a while, or closes at
    // once (the unread ClientHello makes its kernel send a reset).
    for linger in [true, false] {
        let addr = serve(move |mut s| async move {
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
            if linger {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .await;
        let rec = quick(&pki, addr).await;
        assert_eq!(rec.outcome.class, OutcomeClass::Plaintext, "{rec:#?}");
        assert_eq!(spoke(&rec), Some("http/1"));
        assert!(
            rec.outcome
                .summary
                .contains("speaks plaintext (http/1), not TLS"),
            "{}",
            rec.outcome.summary
        );
    }
}

#[tokio::test]
async fn a_few_text_bytes_then_silence_is_plaintext_not_a_timeout() {
    let pki = Pki::new().await;
    // Fewer bytes than a TLS record header, then nothing: the deadline ends the handshake, and
    // what arrived before it decides.
    let addr = raw_peer(|mut s| async move {
        let _ = s.write_all(b"hi\n").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    })
    .await;
    let rec = quick(&pki, addr).await;
    assert_eq!(rec.outcome.class, OutcomeClass::Plaintext, "{rec:#?}");
    assert_eq!(spoke(&rec), Some("text"));
    assert!(
        rec.outcome.summary.contains("'hi\\n'"),
        "{}",
        rec.outcome.summary
    );
}

#[tokio::test]
async fn a_port_that_accepts_and_stays_silent_says_so() {
    let pki = Pki::new().await;
    let addr = serve(|s| async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(s);
    })
    .await;
    let rec = quick(&pki, addr).await;
    assert_eq!(rec.outcome.class, OutcomeClass::Timeout, "{rec:#?}");
    assert_eq!(rec.outcome.phase, tlsaudit_engine::probe::Phase::Handshake);
    assert_eq!(
        rec.outcome.summary,
        "TCP connection accepted; no TLS answer within 300ms: the port never answered the ClientHello"
    );
    assert!(rec.evidence.no_answer, "{:#?}", rec.evidence);
    assert!(tlsaudit_engine::probe::describe::evidence(&rec)
        .iter()
        .any(|l| l.starts_with("TCP connection accepted; not one byte")));
    assert_eq!(spoke(&rec), None);
    // Serialized: the audit tells this timeout from one at the connect by the phase.
    let json = serde_json::to_value(&rec).unwrap();
    assert_eq!(json["outcome"]["phase"], "handshake");
    assert_eq!(json["evidence"]["no_answer"], true);
}

#[tokio::test]
async fn a_tls_record_header_then_a_malformed_body_stays_a_protocol_error() {
    let pki = Pki::new().await;
    // A valid handshake-record header, then a body that is no handshake message.
    let addr = raw_peer(|mut s| async move {
        let _ = s
            .write_all(&[0x16, 3, 3, 0, 4, 0xff, 0xff, 0xff, 0xff])
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    })
    .await;
    let rec = quick(&pki, addr).await;
    assert_eq!(rec.outcome.class, OutcomeClass::ProtocolError, "{rec:#?}");
    assert_eq!(spoke(&rec), None);
    assert!(!rec.evidence.no_answer);
}

/// A TLS peer that answers the HTTP/1.1 request with `answer` and closes.
async fn http1_peer(pki: &Pki, answer: &'static [u8]) -> std::net::SocketAddr {
    tls_peer(pki, pki.chain(), move |mut tls| async move {
        let mut req = [0u8; 4096];
        let _ = tls.read(&mut req).await;
        let _ = tls.write_all(answer).await;
        let _ = tls.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn an_http1_interim_answer_is_skipped_for_the_answer() {
    let pki = Pki::new().await;
    let addr = http1_peer(
        &pki,
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden",
    )
    .await;
    let rec = bounded(&pki, addr, Protocol::Http).await;
    assert_eq!(rec.evidence.http_status, Some(403), "{:#?}", rec.outcome);
    assert!(rec.outcome.class.is_rejection(), "{:#?}", rec.outcome);
    assert!(!rec.outcome.summary.contains("103"), "{:#?}", rec.outcome);
}

#[tokio::test]
async fn only_interim_http1_answers_are_a_protocol_error() {
    let pki = Pki::new().await;
    let addr = http1_peer(&pki, b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n").await;
    let rec = bounded(&pki, addr, Protocol::Http).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::ProtocolError,
        "{:#?}",
        rec.outcome
    );
    assert!(
        rec.outcome.summary.contains("interim"),
        "{:#?}",
        rec.outcome
    );
}

#[tokio::test]
async fn an_http2_interim_answer_is_skipped_for_the_answer() {
    let pki = Pki::new().await;
    let addr = h2_peer(&pki, |mut tls| async move {
        // `:status: 103` (a literal with the indexed name of `:status`), then the answer.
        let early = [0x08, 0x03, b'1', b'0', b'3'];
        let mut block = vec![0x88];
        for (name, value) in [
            (&b"content-type"[..], "application/grpc"),
            (b"grpc-status", "16"),
        ] {
            block.push(0x00);
            hpack_int(name.len(), 7, &mut block);
            block.extend_from_slice(name);
            hpack_int(value.len(), 7, &mut block);
            block.extend_from_slice(value.as_bytes());
        }
        let mut out = frame(4, 0, 0, &[]);
        out.extend(frame(4, 1, 0, &[]));
        out.extend(frame(1, 4, 1, &early));
        out.extend(frame(1, 4 | 1, 1, &block));
        let _ = tls.write_all(&out).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let rec = bounded(&pki, addr, Protocol::Grpc).await;
    assert_eq!(rec.evidence.grpc_status, Some(16), "{:#?}", rec.outcome);
    assert!(rec.outcome.class.is_rejection(), "{:#?}", rec.outcome);
    assert_ne!(rec.evidence.http_status, Some(103));
}

#[tokio::test]
async fn a_mysql_error_instead_of_the_greeting_is_an_answer_that_says_what_it_said() {
    let pki = Pki::new().await;
    let addr = serve(|mut s| async move {
        // ER_HOST_NOT_PRIVILEGED (1130), as MySQL and MariaDB send it before any greeting.
        let mut payload = vec![0xff];
        payload.extend_from_slice(&1130u16.to_le_bytes());
        payload.extend_from_slice(
            b"Host '127.0.0.1' is not allowed to connect to this MariaDB server",
        );
        let len = u32::try_from(payload.len()).unwrap().to_le_bytes();
        let mut packet = vec![len[0], len[1], len[2], 0];
        packet.extend_from_slice(&payload);
        let _ = s.write_all(&packet).await;
        let _ = s.shutdown().await;
    })
    .await;
    let rec = pki
        .probe(addr, Protocol::Mysql, Duration::from_millis(800))
        .await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::ProtocolError,
        "{:#?}",
        rec.outcome
    );
    let s = &rec.outcome.summary;
    assert!(
        s.contains("answered with error 1130")
            && s.contains("is not allowed to connect to this MariaDB server")
            && !s.contains("firewall"),
        "{s}"
    );
}

#[tokio::test]
async fn a_mysql_greeting_claiming_16_mb_is_named_as_such() {
    let pki = Pki::new().await;
    let addr = serve(|mut s| async move {
        // A packet header claiming 16 MiB - 1, sequence 0, then a protocol-10 greeting's start.
        let mut packet = vec![0xff, 0xff, 0xff, 0x00, 0x0a];
        packet.extend_from_slice(b"8.0.11-TiDB-v8.5.0\0");
        let _ = s.write_all(&packet).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    })
    .await;
    let rec = pki
        .probe(addr, Protocol::Mysql, Duration::from_millis(800))
        .await;
    let s = &rec.outcome.summary;
    assert!(
        !s.contains("speaks mysql, not the MySQL protocol"),
        "a contradiction: {s}"
    );
    assert!(s.contains("16777215-byte greeting"), "{s}");
}

#[tokio::test]
async fn an_h2_goaway_with_hostile_debug_data_ends_in_time_and_prints_nothing_raw() {
    let pki = Pki::new().await;
    let addr = h2_peer(&pki, |mut tls| async move {
        // SETTINGS, then GOAWAY (last stream 0, ENHANCE_YOUR_CALM) whose debug data carries a
        // terminal escape, a bidi override and 64 KiB of filler.
        let mut goaway = vec![0, 0, 0, 0, 0, 0, 0, 0x0b];
        goaway.extend_from_slice(b"\x1b]2;PWNED\x07\xe2\x80\xae");
        goaway.extend(std::iter::repeat_n(b'A', 16_000));
        let mut out = frame(4, 0, 0, &[]);
        out.extend(frame(7, 0, 0, &goaway));
        let _ = tls.write_all(&out).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let started = std::time::Instant::now();
    let rec = bounded(&pki, addr, Protocol::Grpc).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(!rec.outcome.class.is_rejection(), "{:#?}", rec.outcome);
    let described = tlsaudit_engine::probe::describe::evidence(&rec).join("\n");
    for text in [&rec.outcome.summary, &described] {
        assert!(
            !text.contains('\x1b') && !text.contains('\u{202e}'),
            "{text:?}"
        );
        assert!(
            text.len() < 4_096,
            "{} bytes: {}",
            text.len(),
            &text[..300.min(text.len())]
        );
    }
}
