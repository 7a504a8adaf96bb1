//! `tlsaudit explain`: error texts exactly as the components and libraries print them, each
//! mapped to its cause; and the command's exit codes through the built binary.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]
// Table-like tests: one case after another reads better than helpers split for length.
#![allow(clippy::too_many_lines)]

use std::io::Write;
use std::process::Stdio;
use tlsaudit_testkit::bin;

use tlsaudit_engine::diagnose::Cause;
use tlsaudit_engine::explain::explain;

fn cause_of(text: &str) -> Option<Cause> {
    explain(text).cause()
}

fn assert_cause(text: &str, cause: Cause) {
    let e = explain(text);
    assert_eq!(e.cause(), Some(cause), "{text}\n{e:#?}");
    assert_eq!(e.exit_code(), 0);
    let m = &e.matches[0];
    assert!(!m.checks.is_empty(), "{text}");
    assert!(m.confirm.starts_with("tlsaudit diagnose "), "{}", m.confirm);
}

#[test]
fn section_6_texts_from_the_components() {
    // 1. Different CA files (Go callers; since Go 1.20 with the "failed to verify" prefix).
    assert_cause(
        "x509: certificate signed by unknown authority",
        Cause::UnknownCa,
    );
    assert_cause(
        r#"[2024/06/03 10:12:01.342 +08:00] [WARN] [client_batch.go:645] ["init create streaming fail"] [target=10.0.1.21:20160] [error="rpc error: code = Unavailable desc = connection error: desc = \"transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority\""]"#,
        Cause::UnknownCa,
    );
    // 2. SAN mismatch, with the names read from the text.
    let e = explain("x509: certificate is valid for 127.0.0.1, ::1, not 10.0.1.5");
    assert_eq!(e.cause(), Some(Cause::SanMismatch));
    let d = &e.matches[0].details;
    assert!(
        d.iter()
            .any(|x| x == "the certificate's SANs: 127.0.0.1, ::1"),
        "{d:?}"
    );
    assert!(
        d.iter()
            .any(|x| x == "the address the caller dialed: 10.0.1.5"),
        "{d:?}"
    );
    assert!(e.matches[0].confirm.contains("10.0.1.5:PORT"));
    // 3. CN-only certificates.
    assert_cause(
        "x509: cannot validate certificate for 10.0.1.5 because it doesn't contain any IP SANs",
        Cause::CnOnlyCert,
    );
    assert_cause(
        "x509: certificate relies on legacy Common Name field, use SANs instead",
        Cause::CnOnlyCert,
    );
    // 4. TiKV's CN check, as a Go caller logs the gRPC status.
    let e = explain(
        r#"rpc error: code = Unauthenticated desc = Common name check fail, reason: x509_common_name from peer is tidb, cert_allowed_cn: {"pd", "tikv"}"#,
    );
    assert_eq!(e.cause(), Some(Cause::CnNotAllowed));
    assert!(e.matches[0]
        .details
        .iter()
        .any(|x| x == "the refused caller's CN: tidb"));
    assert!(
        e.matches[0].confirm.contains("--as tidb"),
        "{}",
        e.matches[0].confirm
    );
    let e2 = explain(
        r#"[error="rpc error: code = Unauthenticated desc = Common name check fail, reason: x509_common_name from peer is tidb, cert_allowed_cn: {\"pd\", \"tikv\"}"]"#,
    );
    assert!(
        e2.matches[0]
            .details
            .iter()
            .any(|x| x == r#"TiKV's cert-allowed-cn: {"pd", "tikv"}"#),
        "{:?}",
        e2.matches[0].details
    );
    assert!(e.matches[0].meaning.contains("cert-allowed-cn"));
    // 5. PD (etcd) refusing a CN, as etcd logs it, and the caller's side.
    assert_cause(
        r#"rejected connection from "10.0.1.12:43122" (error "client certificate authentication failed", ServerName "")"#,
        Cause::PdCnNotAllowed,
    );
    let e = explain("client certificate authentication failed; remote error: tls: bad certificate");
    assert_eq!(e.cause(), Some(Cause::PdCnNotAllowed));
    assert_eq!(e.matches.len(), 1, "the generic alert is superseded");
    // 6. PD before v8.4 with several CNs.
    assert_cause(
        "[PD:grpcutil:ErrSecurityConfig]security config error: only supports one CN",
        Cause::PdMultipleCn,
    );
    // 7. TiDB status with cluster-verify-cn (both message versions).
    assert_cause(
        "client certificate authentication failed. The Common Name from the client certificate was not found in the configuration cluster-verify-cn with value: [tidb]",
        Cause::TidbVerifyCn,
    );
    let e = explain("client certificate authentication failed. The Common Name from the client certificate [prod-client] was not found in the configuration cluster-verify-cn with value: [tidb]");
    assert_eq!(e.cause(), Some(Cause::TidbVerifyCn));
    assert!(e.matches[0]
        .details
        .iter()
        .any(|x| x == "the refused caller's CN: prod-client"));
    // 8. Plaintext against TLS, both directions and both libraries.
    assert_cause(
        "http: TLS handshake error from 10.0.1.7:51234: tls: first record does not look like a TLS handshake",
        Cause::Plaintext,
    );
    assert_cause(
        "error:0A00010B:SSL routines::wrong version number",
        Cause::Plaintext,
    );
    assert_cause(
        "Get \"https://10.0.1.21:20180/metrics\": http: server gave HTTP response to HTTPS client",
        Cause::Plaintext,
    );
    assert_cause(
        "Client sent an HTTP request to an HTTPS server.",
        Cause::Plaintext,
    );
    // 9. Expired.
    assert_cause(
        "x509: certificate has expired or is not yet valid: current time 2025-03-02T08:00:00Z is after 2025-03-01T00:00:00Z",
        Cause::Expired,
    );
    // 10. ALPN.
    assert_cause(
        "Cannot check peer: missing selected ALPN property.",
        Cause::MissingAlpn,
    );
    assert_cause(
        "transport: authentication handshake failed: credentials: cannot check peer: missing selected ALPN property. If you upgraded from a grpc-go version earlier than 1.67, your TLS connections may have stopped working due to ALPN enforcement.",
        Cause::MissingAlpn,
    );
    // 11. OpenSSL's generic verify failure, and with its detail.
    assert_cause(
        "error:0A000086:SSL routines::certificate verify failed",
        Cause::CertVerifyFailed,
    );
    assert_cause(
        "SSL routines:tls_process_server_certificate:certificate verify failed (unable to get local issuer certificate)",
        Cause::UnknownCa,
    );
    // 12. Extended key usage.
    assert_cause(
        "x509: certificate specifies an incompatible key usage",
        Cause::IncompatibleEku,
    );
    assert_cause("certificate role error", Cause::CnNotAllowed);
    assert_cause(
        "rpc error: code = PermissionDenied desc = common name check is failed",
        Cause::CnNotAllowed,
    );
}

#[test]
fn alerts_as_go_openssl_and_rustls_print_them() {
    assert_cause(
        "remote error: tls: unknown certificate authority",
        Cause::UnknownCa,
    );
    assert_cause(
        "error:0A000418:SSL routines::tlsv1 alert unknown ca",
        Cause::UnknownCa,
    );
    assert_cause("received fatal alert: UnknownCA", Cause::UnknownCa);
    assert_cause("invalid peer certificate: UnknownIssuer", Cause::UnknownCa);
    assert_cause("remote error: tls: expired certificate", Cause::Expired);
    assert_cause(
        "SSL routines::sslv3 alert certificate expired",
        Cause::Expired,
    );
    assert_cause(
        "remote error: tls: certificate required",
        Cause::ClientCertRequired,
    );
    assert_cause(
        "SSL routines::tlsv13 alert certificate required",
        Cause::ClientCertRequired,
    );
    assert_cause(
        "tls: client didn't provide a certificate",
        Cause::ClientCertRequired,
    );
    assert_cause(
        "remote error: tls: no application protocol",
        Cause::MissingAlpn,
    );
    assert_cause(
        "remote error: tls: protocol version not supported",
        Cause::TlsVersionMismatch,
    );
    assert_cause(
        "tls: private key does not match public key",
        Cause::KeyMismatch,
    );
    assert_cause(
        r#"invalid peer certificate: certificate not valid for name "10.0.1.5"; certificate is only valid for DnsName("localhost") or IpAddress(127.0.0.1)"#,
        Cause::SanMismatch,
    );
    // bad_certificate alone is ambiguous: several causes, the allow-lists first.
    for text in [
        "remote error: tls: bad certificate",
        "SSL routines::sslv3 alert bad certificate",
        "received fatal alert: BadCertificate",
    ] {
        let e = explain(text);
        let causes: Vec<Cause> = e.matches[0].causes.iter().map(|c| c.cause).collect();
        assert_eq!(causes[0], Cause::PdCnNotAllowed, "{text}");
        assert!(causes.contains(&Cause::TidbVerifyCn) && causes.contains(&Cause::UnknownCa));
    }
    // gRPC C-core's silent close.
    let e = explain("read: connection reset by peer");
    let causes: Vec<Cause> = e.matches[0].causes.iter().map(|c| c.cause).collect();
    assert!(causes.contains(&Cause::UnknownCa) && causes.contains(&Cause::MissingAlpn));
    assert!(e.matches[0].meaning.contains("C-core"));
}

#[test]
fn unrelated_text_is_not_matched() {
    assert_eq!(cause_of("disk quota exceeded on /data"), None);
    assert_eq!(explain("disk quota exceeded").exit_code(), 1);
    // MySQL's "Access denied" is not a TLS alert: it is the SQL layer's answer.
    assert_eq!(
        cause_of("ERROR 1045 (28000): Access denied for user 'root'@'10.0.1.5'"),
        Some(Cause::SqlAccessDenied)
    );
}

#[test]
fn binary_explains_and_exits_zero() {
    let out = bin()
        .args([
            "explain",
            "rpc error: code = Unauthenticated desc = Common name check fail, reason: x509_common_name from peer is tidb, cert_allowed_cn: {\"pd\"}",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("[cn_not_allowed]"), "{s}");
    assert!(
        s.contains("tlsaudit diagnose ENDPOINT --config tlsaudit.toml --as tidb"),
        "{s}"
    );

    let out = bin()
        .args([
            "explain",
            "x509: certificate signed by unknown authority",
            "--format",
            "json",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["matches"][0]["causes"][0]["cause"], "unknown_ca");
    assert_eq!(v["matches"][0]["causes"][0]["fact"], 1);
}

#[test]
fn binary_reads_stdin() {
    let mut child = bin()
        .args(["explain", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawns");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"curl: (35) error:0A00010B:SSL routines::wrong version number\n")
        .expect("writes");
    let out = child.wait_with_output().expect("waits");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("[plaintext]"));
}

#[test]
fn binary_unknown_text_exits_one_with_help() {
    let out = bin()
        .args(["explain", "the database is on fire"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("does not recognise this text"), "{e}");
    assert!(e.contains("tlsaudit diagnose HOST:PORT"), "{e}");
    let out = bin().args(["explain", "  "]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sql_port_texts() {
    // The MySQL client and the servers, as printed.
    assert_cause(
        "ERROR 3159 (HY000): Connections using insecure transport are prohibited while --require_secure_transport=ON.",
        Cause::SecureTransportRequired,
    );
    let e = explain(
        "ERROR 1045 (28000): Access denied for user 'app'@'10.0.1.9' (using password: YES)",
    );
    assert_eq!(e.cause(), Some(Cause::SqlAccessDenied));
    assert!(e.matches[0]
        .meaning
        .contains("proves the TLS session was accepted"));
    assert!(
        e.matches[0].confirm.contains("--protocol mysql"),
        "{}",
        e.matches[0].confirm
    );
    assert_cause(
        "ERROR 1130 (HY000): Host '10.0.1.9' is not allowed to connect to this MariaDB server",
        Cause::SqlHostNotAllowed,
    );
    assert_cause(
        "ERROR 2026 (HY000): SSL connection error: SSL is required but the server doesn't support it",
        Cause::SqlTlsNotOffered,
    );
    // 2026 wrapping a certificate error: the certificate error is explained too.
    let e = explain("ERROR 2026 (HY000): SSL connection error: error:0A000086:SSL routines::certificate verify failed");
    let causes: Vec<Cause> = e
        .matches
        .iter()
        .filter_map(|m| m.causes.first().map(|c| c.cause))
        .collect();
    assert!(
        causes.contains(&Cause::CertVerifyFailed) && causes.contains(&Cause::SqlTlsNotOffered),
        "{causes:?}"
    );
    // TiDB's own log lines about the SQL port's TLS.
    assert_cause(
        r#"[2024/06/03 10:12:01.342 +08:00] [WARN] [server.go:412] ["secure connection is not enabled"]"#,
        Cause::SqlTlsNotOffered,
    );
    assert_cause("Secure connection is NOT ENABLED", Cause::SqlTlsNotOffered);
    assert_cause(
        r#"[WARN] [server.go:380] ["load x509 failed"] [error="open /tidb-deploy/tls/server.pem: no such file or directory"]"#,
        Cause::SqlTlsNotOffered,
    );
    assert_cause(
        "[mysql] TLS requested but server does not support TLS",
        Cause::SqlTlsNotOffered,
    );
}

/// One block of tests/fixtures/explain/component-lines.txt.
struct Case {
    source: String,
    line: String,
    cause: String,
    details: Vec<String>,
    confirm: Option<String>,
}

fn fixture_cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/explain/component-lines.txt"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut cases = Vec::new();
    for block in text.split("\n\n") {
        let mut case = Case {
            source: String::new(),
            line: String::new(),
            cause: String::new(),
            details: Vec::new(),
            confirm: None,
        };
        for l in block.lines() {
            if let Some(v) = l.strip_prefix("# source: ") {
                case.source = v.to_string();
            } else if let Some(v) = l.strip_prefix("line: ") {
                case.line = v.to_string();
            } else if let Some(v) = l.strip_prefix("cause: ") {
                case.cause = v.to_string();
            } else if let Some(v) = l.strip_prefix("detail: ") {
                case.details.push(v.to_string());
            } else if let Some(v) = l.strip_prefix("confirm: ") {
                case.confirm = Some(v.to_string());
            } else {
                assert!(l.starts_with('#'), "unknown fixture line: {l}");
            }
        }
        if !case.line.is_empty() {
            cases.push(case);
        }
    }
    cases
}

#[test]
fn component_log_lines_from_the_fixture() {
    let cases = fixture_cases();
    assert!(cases.len() >= 15, "{} cases", cases.len());
    for c in &cases {
        assert!(
            ["verbatim ", "observed ", "shape "]
                .iter()
                .any(|p| c.source.starts_with(p)),
            "every line says where its shape comes from: {}",
            c.line
        );
        let e = explain(&c.line);
        let got = e.cause().map(Cause::id);
        assert_eq!(got, Some(c.cause.as_str()), "{}\n{e:#?}", c.line);
        let m = &e.matches[0];
        for d in &c.details {
            assert!(
                m.details.contains(d),
                "{}\nwanted {d:?} in {:?}",
                c.line,
                m.details
            );
        }
        if let Some(want) = &c.confirm {
            assert!(
                m.confirm.contains(want.as_str()),
                "{}\n{}",
                c.line,
                m.confirm
            );
        }
        // Nothing read from an escaped field keeps the escape's backslash.
        assert!(
            m.details.iter().all(|d| !d.contains('\\')),
            "{:?}",
            m.details
        );
    }
}

#[test]
fn grpc_c_core_lines_name_the_component_and_the_probe() {
    // The line C-core prints for every rejected client certificate: the meaning says which side
    // logs it and that a foreign-CA probe leaves it.
    let e = explain("E1201 10:12:01.342000000 140735530255168 ssl_transport_security.cc:1063] Handshake failed with fatal error SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED.");
    assert_eq!(e.matches.len(), 1, "{e:#?}");
    let m = &e.matches[0];
    assert!(m.source.contains("C-core"), "{}", m.source);
    assert!(m.meaning.contains("foreign-CA"), "{}", m.meaning);
    let causes: Vec<Cause> = m.causes.iter().map(|c| c.cause).collect();
    assert_eq!(causes[..2], [Cause::UnknownCa, Cause::Expired]);
    // The upper-case reason alone (no C-core prefix) is still OpenSSL's verify failure.
    assert_eq!(
        cause_of("error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"),
        Some(Cause::CertVerifyFailed)
    );
    // ER_SECURE_TRANSPORT_REQUIRED keeps matching with its underscores.
    assert_eq!(
        cause_of("ER_SECURE_TRANSPORT_REQUIRED"),
        Some(Cause::SecureTransportRequired)
    );
}

#[test]
fn binary_renders_control_characters_inert() {
    // A CN is chosen by whoever made the certificate: an escape sequence in it must not reach
    // the terminal.
    let out = bin()
        .args([
            "explain",
            "Common name check fail, reason: x509_common_name from peer is evil\u{1b}[2J, cert_allowed_cn: {\"pd\"}",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(!s.contains('\u{1b}'), "{s:?}");
    assert!(s.contains("evil\\x1b[2J"), "{s}");
    let out = bin()
        .args(["explain", "nothing known \u{1b}]0;title\u{7}"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!e.contains('\u{1b}') && !e.contains('\u{7}'), "{e:?}");
}
