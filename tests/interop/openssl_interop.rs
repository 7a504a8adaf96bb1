//! Against a TLS server nobody here wrote: `openssl s_server -Verify 1 -verify_return_error`.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tlsaudit_testkit::{free_port, poll};

use assert_cmd::cargo::CommandCargoExt;
use tlsaudit_engine::pki::{Identity, Trust};
use tlsaudit_engine::probe::{
    probe, Caller, OutcomeClass, Phase, ProbeSpec, Protocol, Timeouts, TlsVersions,
};
use tlsaudit_lab::{Lab, LabSpec};

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `openssl s_server` with the lab's pd certificate, trusting the lab CA, demanding a
/// client certificate.
fn s_server(lab: &Lab, extra: &[&str]) -> Server {
    let dir = lab.dir();
    let pd = &lab.pki().identities["pd"];
    for _ in 0..5 {
        let port = free_port();
        let mut cmd = Command::new("openssl");
        cmd.arg("s_server")
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(&pd.cert)
            .arg("-key")
            .arg(&pd.key)
            .arg("-CAfile")
            .arg(&lab.pki().ca_cert)
            .args(["-Verify", "1", "-verify_return_error", "-www", "-quiet"])
            .args(extra)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("openssl is installed");
        let mut server = Server { child, port };
        let up = poll(Duration::from_secs(5), Duration::from_millis(20), || {
            // A port another process took meanwhile: s_server exits, and a connect that
            // succeeds would reach that process. Try another port.
            if matches!(server.child.try_wait(), Ok(Some(_))) {
                return Ok(false);
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && matches!(server.child.try_wait(), Ok(None))
            {
                Ok(true)
            } else {
                Err("not listening")
            }
        });
        if up == Ok(true) {
            return server;
        }
    }
    panic!("openssl s_server did not start");
}

fn caller(lab: &Lab, trust: &Trust, name: &str) -> Caller {
    let identity = if name == "anonymous" {
        Identity::anonymous()
    } else {
        let f = &lab.pki().identities[name];
        Identity::load(name, &f.cert, &f.key).unwrap()
    };
    Caller::new(identity, trust)
}

#[tokio::test]
async fn openssl_accepts_a_good_certificate_and_rejects_none_or_foreign() {
    let lab = Lab::start(LabSpec::new("ossl")).await.unwrap();
    let trust = Trust::load(&lab.pki().ca_cert).unwrap();
    let server = s_server(&lab, &[]);
    let addr = format!("127.0.0.1:{}", server.port);

    let mut http = ProbeSpec::new(addr.clone(), Protocol::Http);
    http.path = Some("/".into());
    let rec = probe(&http, &caller(&lab, &trust, "tidb"), &trust).await;
    assert_eq!(rec.outcome.class, OutcomeClass::Accepted, "{rec:#?}");
    assert_eq!(rec.evidence.http_status, Some(200));
    assert!(rec.server_verification.as_ref().unwrap().trusted);

    let tls = ProbeSpec::new(addr.clone(), Protocol::Tls);
    let rec = probe(&tls, &caller(&lab, &trust, "tidb"), &trust).await;
    assert_eq!(rec.outcome.class, OutcomeClass::Accepted, "{rec:#?}");
    assert!(
        rec.evidence.session_ticket,
        "OpenSSL sends tickets after the client's Finished"
    );

    // TLS 1.3: the refusal arrives after the client's handshake completed.
    let rec = probe(&tls, &caller(&lab, &trust, "anonymous"), &trust).await;
    assert_eq!(rec.outcome.class, OutcomeClass::CertRequired, "{rec:#?}");
    let alert = rec.evidence.alert.clone().unwrap();
    assert_eq!((alert.code, alert.received), (116, Phase::Check));

    // TLS 1.2: OpenSSL refuses inside the handshake with handshake_failure.
    let mut tls12 = tls.clone();
    tls12.versions = TlsVersions::Tls12;
    let rec = probe(&tls12, &caller(&lab, &trust, "anonymous"), &trust).await;
    assert_eq!(rec.outcome.class, OutcomeClass::CertRequired, "{rec:#?}");
    let alert = rec.evidence.alert.clone().unwrap();
    assert_eq!(
        (alert.name.as_str(), alert.received),
        ("handshake_failure", Phase::Handshake)
    );

    let rec = probe(&tls, &caller(&lab, &trust, "foreign"), &trust).await;
    assert_eq!(rec.outcome.class, OutcomeClass::CertRejected, "{rec:#?}");
    assert_eq!(rec.evidence.alert.clone().unwrap().name, "unknown_ca");
}

#[tokio::test]
async fn a_server_without_tickets_is_judged_after_the_alert_window() {
    let lab = Lab::start(LabSpec::new("ossl")).await.unwrap();
    let trust = Trust::load(&lab.pki().ca_cert).unwrap();
    let server = s_server(&lab, &["-num_tickets", "0"]);
    let mut tls = ProbeSpec::new(format!("127.0.0.1:{}", server.port), Protocol::Tls);
    tls.timeouts = Timeouts {
        alert_window: Duration::from_millis(150),
        ..Timeouts::default()
    };
    let rec = probe(&tls, &caller(&lab, &trust, "tidb"), &trust).await;
    assert_eq!(rec.outcome.class, OutcomeClass::Accepted, "{rec:#?}");
    assert!(!rec.evidence.session_ticket);
    assert!(rec.timings.check_ms.unwrap() >= 140.0, "{:?}", rec.timings);
    // And a rejection still arrives within the window.
    let rec = probe(&tls, &caller(&lab, &trust, "anonymous"), &trust).await;
    assert_eq!(rec.outcome.class, OutcomeClass::CertRequired, "{rec:#?}");
}

#[tokio::test]
async fn the_cli_probes_openssl_and_exits_by_outcome() {
    let lab = Lab::start(LabSpec::new("ossl")).await.unwrap();
    let server = s_server(&lab, &[]);
    let addr = format!("127.0.0.1:{}", server.port);
    let tidb = &lab.pki().identities["tidb"];
    let out = Command::cargo_bin("tlsaudit")
        .unwrap()
        .args(["probe", &addr, "--format", "json", "--ca"])
        .arg(&lab.pki().ca_cert)
        .arg("--cert")
        .arg(&tidb.cert)
        .arg("--key")
        .arg(&tidb.key)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"]["class"], "accepted");
    assert_eq!(v["identity"]["cn"], "tidb");
    assert_eq!(v["server_chain"][0]["common_name"], "pd");
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        !json.contains("PRIVATE KEY"),
        "no key material in the record"
    );

    let out = Command::cargo_bin("tlsaudit")
        .unwrap()
        .args(["probe", &addr, "--ca"])
        .arg(&lab.pki().ca_cert)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CERT_REQUIRED"), "{text}");
    assert!(text.contains("certificate_required (116)"), "{text}");
}
