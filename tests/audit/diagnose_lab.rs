//! `tlsaudit diagnose` against the embedded lab: one test per failure mode of
//! `docs/tidb.md#failure-modes` that the lab can stage, each asserting the named cause, its fix
//! and the component's log text; the variants are shown to be real handshakes by the lab's own
//! connection counter and log.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;
use tlsaudit_testkit::bin;

use tlsaudit_engine::audit::Verdict;
use tlsaudit_engine::diagnose::{
    self, load_caller, Cause, Diagnosis, Inputs, Request, Side, StepStatus,
};
use tlsaudit_lab::{EndpointSpec, Lab, LabSpec, ServerCertKind};

struct Bench {
    lab: Lab,
    inventory: PathBuf,
}

/// The standard lab plus endpoints for the failure modes it lacks.
fn spec() -> LabSpec {
    LabSpec::standard()
        .with(EndpointSpec::pd("cn-only", &[]).with_server_cert(ServerCertKind::CnOnly))
        .with(EndpointSpec::pd("no-server-eku", &[]).with_server_cert(ServerCertKind::NoServerEku))
        .with(EndpointSpec::pd("pd-strict", &["tidb", "tikv"]))
        .with(EndpointSpec::tidb_status("tidb-strict-status", &["tidb"]))
        .with(EndpointSpec::tikv_grpc("grpc-no-alpn", &[]).without_alpn())
}

async fn bench() -> Bench {
    let (lab, inventory) = tlsaudit::demo::start_spec(spec())
        .await
        .expect("lab starts");
    Bench { lab, inventory }
}

impl Bench {
    fn request(&self, target: &str, as_: &str) -> Request {
        Request {
            target: target.to_string(),
            as_identity: Some(as_.to_string()),
            config: Some(self.inventory.clone()),
            timeout: Some(Duration::from_secs(3)),
            ..Request::default()
        }
    }

    fn inputs(&self, target: &str, as_: &str) -> Inputs {
        self.request(target, as_).resolve().expect("inputs resolve")
    }

    async fn diag(&self, target: &str, as_: &str) -> Diagnosis {
        diagnose::diagnose(&self.inputs(target, as_)).await
    }

    /// Call as a lab identity the inventory does not list (expired, noeku, foreign); the
    /// inventory's identities stay as variants.
    async fn diag_as_file(&self, target: &str, lab_identity: &str) -> Diagnosis {
        let mut inputs = self.inputs(target, "tidb");
        let f = &self.lab.pki().identities[lab_identity];
        let (caller, mismatch) =
            load_caller(lab_identity, &f.cert, &f.key, &inputs.trust).expect("identity loads");
        inputs.caller = caller;
        inputs.key_mismatch = mismatch;
        diagnose::diagnose(&inputs).await
    }
}

fn only(d: &Diagnosis, cause: Cause) -> &diagnose::CauseFinding {
    assert_eq!(
        d.causes(),
        vec![cause],
        "{}",
        tlsaudit_report::diagnose::render(d, tlsaudit_report::text::Style::plain())
    );
    // A refusal the inventory intends is the report's `enforced`: exit 0, the cause still named.
    let want = u8::from(d.verdict.cell != Some(Verdict::Enforced));
    assert_eq!(d.exit_code(), want, "{:?}", d.verdict.cell);
    d.finding(cause).expect("finding")
}

fn has_log(f: &diagnose::CauseFinding, needle: &str) -> bool {
    f.log_texts.iter().any(|t| t.text.contains(needle))
}

fn fixes(f: &diagnose::CauseFinding) -> String {
    f.fix.join("\n")
}

#[tokio::test]
async fn works_and_exits_zero() {
    let b = bench().await;
    let d = b.diag("pd-1", "tidb").await;
    assert!(d.verdict.works, "{:#?}", d.verdict);
    assert_eq!(d.exit_code(), 0);
    assert!(d.verdict.findings.is_empty());
    assert_eq!(d.steps.len(), 6);
    assert!(d.steps[..5].iter().all(|s| s.status == StepStatus::Ok));
    // PD in the lab speaks TLS 1.3 only: the TLS 1.2 variant tells.
    assert!(
        d.verdict.notes.iter().any(|n| n.contains("TLS 1.2")),
        "{:?}",
        d.verdict.notes
    );
}

#[tokio::test]
async fn unknown_ca_on_the_server() {
    let b = bench().await;
    let d = b.diag("bad-ca", "tidb").await;
    let f = only(&d, Cause::UnknownCa);
    assert_eq!(f.side, Side::Server);
    assert!(f.summary.contains("tlsaudit foreign CA"), "{}", f.summary);
    assert!(
        fixes(f).contains("issued by the cluster CA"),
        "{}",
        fixes(f)
    );
    assert!(has_log(f, "x509: certificate signed by unknown authority"));
    assert!(f.config.as_ref().is_some_and(|c| c.file == "pd.toml"));
    // No server name makes the chain verify.
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("no server name helps")),
        "{:?}",
        f.evidence
    );
}

#[tokio::test]
async fn unknown_ca_on_the_client() {
    let b = bench().await;
    let d = b.diag_as_file("pd-1", "foreign").await;
    let f = only(&d, Cause::UnknownCa);
    assert_eq!(f.side, Side::Client);
    assert!(f.summary.contains("not by the cluster CA"), "{}", f.summary);
    assert!(
        f.evidence.iter().any(|e| e.contains("unknown_ca")),
        "{:?}",
        f.evidence
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("other identities get through")),
        "{:?}",
        f.evidence
    );
    assert!(has_log(f, "tlsv1 alert unknown ca"));
    // TiKV (gRPC C-core) closes silently: the same cause, from what the prober knows.
    let d = b.diag_as_file("tikv-1", "foreign").await;
    let f = only(&d, Cause::UnknownCa);
    assert_eq!(f.side, Side::Client);
}

#[tokio::test]
async fn san_mismatch() {
    let b = bench().await;
    let d = b.diag("bad-san", "tidb").await;
    let f = only(&d, Cause::SanMismatch);
    assert!(
        f.log_texts
            .iter()
            .any(|t| t.text == "x509: certificate is valid for 10.255.0.1, not 127.0.0.1"),
        "{:#?}",
        f.log_texts
    );
    assert!(fixes(f).contains("IP:127.0.0.1"), "{}", fixes(f));
    assert!(fixes(f).contains("other.example"), "{}", fixes(f));
    // The name variants verify the same chain for the certificate's own SANs (the address
    // dialed stays 127.0.0.1: only the verified name changes).
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("verifies for 10.255.0.1, other.example")),
        "{:?}",
        f.evidence
    );
    assert!(d
        .variants
        .iter()
        .filter(|v| v.id.id().starts_with("name:"))
        .all(|v| v.record.target.address == d.target.address));
}

#[tokio::test]
async fn cn_only_certificate() {
    let b = bench().await;
    let d = b.diag("cn-only", "tidb").await;
    let f = only(&d, Cause::CnOnlyCert);
    assert!(
        has_log(
            f,
            "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"
        ),
        "{:#?}",
        f.log_texts
    );
    assert!(fixes(f).contains("subjectAltName"), "{}", fixes(f));
    // Dialed by the name in its CN, Go says "legacy Common Name field".
    let mut inputs = b.inputs("cn-only", "tidb");
    inputs.target.server_name = Some("localhost".into());
    let d = diagnose::diagnose(&inputs).await;
    let f = only(&d, Cause::CnOnlyCert);
    assert_eq!(
        f.log_texts[0].text,
        "x509: certificate relies on legacy Common Name field, use SANs instead"
    );
}

#[tokio::test]
async fn tikv_rejects_a_cn() {
    let b = bench().await;
    let d = b.diag("tikv-1", "client").await;
    assert_eq!(d.verdict.cell, Some(Verdict::Enforced));
    let f = only(&d, Cause::CnNotAllowed);
    assert!(f.summary.contains("`lab-client`"), "{}", f.summary);
    assert!(has_log(
        f,
        "Common name check fail, reason: x509_common_name from peer is lab-client"
    ));
    let c = f.config.as_ref().expect("config key");
    assert_eq!(
        (c.file.as_str(), c.key.as_str()),
        ("tikv.toml", "[security] cert-allowed-cn")
    );
    assert_eq!(
        c.tiup.as_deref(),
        Some("server_configs.tikv.security.cert-allowed-cn")
    );
    // The inventory's list leaves the client out on purpose: the refusal is intended, so the
    // advice is not to add it.
    assert!(fixes(f).starts_with("nothing to change"), "{}", fixes(f));
    assert!(!fixes(f).contains("add `lab-client`"), "{}", fixes(f));
    // Never the advice to borrow another component's certificate (tidb, tikv and pd are
    // accepted here).
    assert!(!fixes(f).contains("call with an identity"), "{}", fixes(f));
    for borrowed in ["tidb", "tikv", "pd"] {
        assert!(
            !f.fix.iter().any(|x| x.contains(&format!("({borrowed}"))),
            "{:?}",
            f.fix
        );
    }
    // The citation points at the shipped docs.
    let text = tlsaudit_report::diagnose::render(&d, tlsaudit_report::text::Style::plain());
    assert!(text.contains("(docs/tidb.md failure mode 4)"), "{text}");
    assert!(!text.contains("tidb-tls-facts"), "{text}");
    assert!(
        f.evidence
            .iter()
            .any(|e| e.starts_with("accepted as tidb, tikv, pd; rejected as lab-client")),
        "{:?}",
        f.evidence
    );
    // The status port says it with HTTP 403.
    let d = b.diag("tikv-1-status", "client").await;
    let f = only(&d, Cause::CnNotAllowed);
    assert!(has_log(f, "certificate role error"));
}

#[tokio::test]
async fn pd_rejects_a_cn() {
    let b = bench().await;
    let d = b.diag("pd-1", "client").await;
    let f = only(&d, Cause::PdCnNotAllowed);
    assert!(has_log(f, "client certificate authentication failed"));
    assert!(has_log(f, "remote error: tls: bad certificate"));
    assert!(fixes(f).contains("in pd.toml"), "{}", fixes(f));
    assert!(f
        .evidence
        .iter()
        .any(|e| e.contains("bad_certificate (42)")));
    // PD's own CN missing from its list.
    let d = b.diag("pd-strict", "pd").await;
    let f = only(&d, Cause::PdCnNotAllowed);
    assert!(f.summary.contains("PD's own"), "{}", f.summary);
    assert!(fixes(f).contains("keep PD's own CN on the list"));
}

#[tokio::test]
async fn tidb_status_verify_cn_lacks_the_tiup_client() {
    let b = bench().await;
    let d = b.diag("tidb-strict-status", "client").await;
    let f = only(&d, Cause::TidbVerifyCn);
    assert!(
        f.summary.contains("TiUP's own client certificate"),
        "{}",
        f.summary
    );
    assert!(f.summary.contains("Down"), "{}", f.summary);
    assert!(has_log(
        f,
        "client certificate authentication failed. The Common Name from the client certificate [lab-client] was not found in the configuration cluster-verify-cn with value: [tidb]"
    ), "{:#?}", f.log_texts);
    let c = f.config.as_ref().expect("config key");
    assert_eq!(
        (c.file.as_str(), c.key.as_str()),
        ("tidb.toml", "[security] cluster-verify-cn")
    );
    assert!(
        fixes(f).contains("tiup cluster reload <cluster> -R tidb"),
        "{}",
        fixes(f)
    );
}

#[tokio::test]
async fn plaintext_port() {
    let b = bench().await;
    let d = b.diag("plain-http", "tidb").await;
    let f = only(&d, Cause::Plaintext);
    assert!(f.summary.contains("plain HTTP"), "{}", f.summary);
    assert!(has_log(
        f,
        "tls: first record does not look like a TLS handshake"
    ));
    assert!(has_log(f, "wrong version number"));
    assert_eq!(d.steps[1].status, StepStatus::Fail);
    assert!(d.steps[1].lines[0].contains("plain HTTP"));
    assert!(d.variants.is_empty(), "no TLS: no TLS variants");
}

#[tokio::test]
async fn expired_server_and_client_certificates() {
    let b = bench().await;
    let d = b.diag("bad-expired", "tidb").await;
    let f = only(&d, Cause::Expired);
    assert_eq!(f.side, Side::Server);
    assert!(f.log_texts[0]
        .text
        .starts_with("x509: certificate has expired or is not yet valid: current time "));
    assert!(fixes(f).contains("renew"));
    let d = b.diag_as_file("pd-1", "expired").await;
    let f = only(&d, Cause::Expired);
    assert_eq!(f.side, Side::Client);
    assert!(f.summary.contains("expired on"), "{}", f.summary);
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("certificate_expired (45)")),
        "{:?}",
        f.evidence
    );
}

#[tokio::test]
async fn grpc_server_without_alpn() {
    let b = bench().await;
    let ep = b.lab.endpoint("grpc-no-alpn").expect("endpoint");
    assert!(ep.alpn.is_empty(), "{:?}", ep.alpn);
    assert!(ep.fault.as_deref().is_some_and(|f| f.contains("no ALPN")));
    let mut inputs = b.inputs("grpc-no-alpn", "tidb");
    assert_eq!(
        inputs.target.protocol,
        tlsaudit_engine::probe::Protocol::Grpc
    );
    inputs.target.path = None;
    let d = diagnose::diagnose(&inputs).await;
    // The probe itself got its answer over HTTP/2 by prior knowledge...
    assert_eq!(d.baseline.evidence.grpc_status, Some(0));
    assert_eq!(d.baseline.tls.as_ref().and_then(|t| t.alpn.clone()), None);
    // ...but real gRPC callers refuse: the cause is named and the exit code says broken.
    let f = only(&d, Cause::MissingAlpn);
    assert!(has_log(f, "missing selected ALPN property"));
    assert!(f.summary.contains("negotiates no ALPN"), "{}", f.summary);
}

#[tokio::test]
async fn incompatible_eku_client_and_server() {
    let b = bench().await;
    let d = b.diag_as_file("pd-1", "noeku").await;
    let f = only(&d, Cause::IncompatibleEku);
    assert_eq!(f.side, Side::Client);
    assert!(f.summary.contains("clientAuth"), "{}", f.summary);
    assert!(has_log(
        f,
        "x509: certificate specifies an incompatible key usage"
    ));
    let d = b.diag("no-server-eku", "tidb").await;
    let f = only(&d, Cause::IncompatibleEku);
    assert_eq!(f.side, Side::Server);
    assert!(f.summary.contains("serverAuth"), "{}", f.summary);
}

#[tokio::test]
async fn missing_client_certificate_and_mismatched_key() {
    let b = bench().await;
    let pki = b.lab.pki();
    let addr = b.lab.endpoint("pd-1").expect("pd-1").addr.to_string();
    let req = Request {
        target: addr.clone(),
        ca: Some(pki.ca_cert.clone()),
        ..Request::default()
    };
    let d = diagnose::diagnose(&req.resolve().expect("resolves")).await;
    only(&d, Cause::ClientCertRequired);
    let req = Request {
        target: addr,
        ca: Some(pki.ca_cert.clone()),
        cert: Some(pki.identities["tidb"].cert.clone()),
        key: Some(pki.identities["tikv"].key.clone()),
        ..Request::default()
    };
    let d = diagnose::diagnose(
        &req.resolve()
            .expect("a mismatch is a finding, not an error"),
    )
    .await;
    let f = only(&d, Cause::KeyMismatch);
    assert!(has_log(f, "tls: private key does not match public key"));
}

#[tokio::test]
async fn nothing_listening() {
    let b = bench().await;
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = free.local_addr().expect("addr").to_string();
    drop(free);
    let d = b.diag(&addr, "tidb").await;
    only(&d, Cause::NotListening);
    assert!(d.variants.is_empty());
    assert_eq!(d.steps[0].status, StepStatus::Fail);
}

#[tokio::test]
async fn variants_are_real_handshakes() {
    let b = bench().await;
    let before = b.lab.connections("tikv-1");
    let events_before = b.lab.events("tikv-1").len();
    let d = b.diag("tikv-1", "client").await;
    let after = b.lab.connections("tikv-1");
    assert!(d.variants.len() >= 9, "{}", d.variants.len());
    // One connection for the baseline, one per variant, and the hygiene scan's, which says
    // what TiKV's gRPC port speaks.
    let scan = d.scan.as_ref().expect("diagnose scans by default");
    assert_eq!(
        after - before,
        1 + d.variants.len() as u64 + scan.connections as u64
    );
    assert_eq!(scan.summary(), "TLS 1.2, TLS 1.3; no weak suite");
    // The lab saw every identity the variants used, by CN.
    let events = b
        .lab
        .wait_events(
            "tikv-1",
            events_before + 1 + d.variants.len(),
            Duration::from_secs(3),
        )
        .await;
    let cns: std::collections::BTreeSet<String> = events[events_before..]
        .iter()
        .filter_map(|e| e.client_cn.clone())
        .collect();
    for cn in ["lab-client", "tidb", "tikv", "pd", "tiflash"] {
        assert!(cns.contains(cn), "{cn} missing from {cns:?}");
    }
    // And what it decided matches the variants: TiKV's status 16 for the unlisted CN.
    assert!(events[events_before..]
        .iter()
        .any(|e| e.client_cn.as_deref() == Some("lab-client") && e.decision == "grpc_status:16"));
    let ids: Vec<String> = d.variants.iter().map(|v| v.id.id()).collect();
    for id in [
        "no_cert",
        "as:tidb",
        "tls1.2",
        "tls1.3",
        "alpn:none",
        "alpn:http/1.1",
    ] {
        assert!(ids.iter().any(|x| x == id), "{id} missing from {ids:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_names_the_cause_and_exits_by_it() {
    let b = bench().await;
    let inv = b.inventory.clone();
    let out = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let mut c = bin();
            c.args(args).arg("--config").arg(&inv);
            c.output().expect("binary runs")
        };
        (
            run(&["diagnose", "tikv-1", "--as", "client"]),
            run(&["diagnose", "tikv-1", "--as", "client", "--format", "json"]),
            run(&["diagnose", "pd-1", "--as", "tidb"]),
            run(&["diagnose", "no-such-endpoint"]),
        )
    })
    .await
    .expect("join");
    let (text, json, ok, bad) = out;
    // The inventory does not list the client on tikv-1: refused as configured, exit 0.
    assert_eq!(text.status.code(), Some(0));
    let s = String::from_utf8_lossy(&text.stdout);
    assert!(s.contains("[ENFORCED]"), "{s}");
    assert!(s.contains("[cn_not_allowed]"), "{s}");
    assert!(s.contains("7. Verdict"), "{s}");
    assert!(!s.contains("PRIVATE KEY"), "{s}");
    assert_eq!(json.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(v["verdict"]["cell"], "enforced");
    assert_eq!(v["verdict"]["findings"][0]["cause"], "cn_not_allowed");
    assert_eq!(v["verdict"]["works"], false);
    assert!(v["variants"].as_array().is_some_and(|a| a.len() >= 9));
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert_eq!(bad.status.code(), Some(2));
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(e.contains("use one of: pd-1"), "{e}");
}
