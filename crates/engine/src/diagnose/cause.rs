//! The causes a diagnosis (or an explained log line) can name, with the texts the real
//! components print for each, from the failure modes of `docs/tidb.md` (the `fact`
//! number) and the TLS libraries' own error strings (Go `crypto/tls` and `crypto/x509`, OpenSSL,
//! rustls).

use serde::{Deserialize, Serialize};

/// Why a link fails. The snake_case names are stable (JSON output, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// A certificate is not issued by the CA the other side trusts (different CA files).
    UnknownCa,
    /// The server certificate's SANs do not contain the dialed address.
    SanMismatch,
    /// The server certificate has no SANs at all (legacy CN-only certificate).
    CnOnlyCert,
    /// The caller's CN is not on the callee's allow-list (TiKV, TiFlash, TiCDC, TiProxy, ...).
    CnNotAllowed,
    /// PD (etcd) refused a CN not in its `cert-allowed-cn`, often PD's own.
    PdCnNotAllowed,
    /// PD before v8.4 refuses to start with more than one allowed CN.
    PdMultipleCn,
    /// TiDB's status port with `cluster-verify-cn` lacking the caller's CN (TiUP's client).
    TidbVerifyCn,
    /// Plaintext on one side, TLS on the other.
    Plaintext,
    /// A certificate is expired or not yet valid.
    Expired,
    /// The server negotiates no ALPN protocol (gRPC callers refuse), or no offered one.
    MissingAlpn,
    /// OpenSSL's generic "certificate verify failed" (TiKV, tikv-ctl): chain or SAN.
    CertVerifyFailed,
    /// A certificate lacks the `clientAuth` / `serverAuth` extended key usage.
    IncompatibleEku,
    /// The server omits the intermediate CA certificate.
    IncompleteChain,
    /// The endpoint requires a client certificate and none was sent.
    ClientCertRequired,
    /// The certificate and the key file do not belong together.
    KeyMismatch,
    /// The server says the certificate expired, but it is valid here: clocks differ.
    ClockSkew,
    /// No TLS version in common.
    TlsVersionMismatch,
    /// The port speaks the MySQL protocol (TiDB 4000): TLS is negotiated in-band.
    MysqlProtocol,
    /// A SQL port offers no TLS: its greeting lacks `CLIENT_SSL` (no `ssl-cert`/`ssl-key`).
    SqlTlsNotOffered,
    /// A SQL client connected without TLS to a server that requires it (3159).
    SecureTransportRequired,
    /// MySQL authentication failed (1045): user, password or host.
    SqlAccessDenied,
    /// No MySQL account matches the client's host (1130).
    SqlHostNotAllowed,
    /// The port speaks something that is not TLS.
    NotTls,
    /// The port accepts TCP and never answers the ClientHello.
    NoAnswer,
    /// Nothing listens on the port.
    NotListening,
    /// No TCP connection within the deadline.
    Unreachable,
    /// The host name does not resolve.
    ResolveFailed,
    /// The peer reset the connection.
    ConnectionReset,
    /// The server admits a caller its configured allow-list does not name (the list is not
    /// enforced: not set on the server, an older version, or a port that checks no CN).
    ListNotEnforced,
    /// The link fails for a reason this tool cannot name.
    Unexplained,
}

/// A text a component or library prints, and who prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogText {
    /// Who prints it and where (`TiDB, PD, TiCDC (Go) as callers`, `TiKV log`, ...).
    pub who: String,
    /// The text, as printed (placeholders in angle brackets).
    pub text: String,
}

impl LogText {
    pub fn new(who: impl Into<String>, text: impl Into<String>) -> LogText {
        LogText {
            who: who.into(),
            text: text.into(),
        }
    }
}

impl Cause {
    pub const ALL: [Cause; 30] = [
        Cause::UnknownCa,
        Cause::SanMismatch,
        Cause::CnOnlyCert,
        Cause::CnNotAllowed,
        Cause::PdCnNotAllowed,
        Cause::PdMultipleCn,
        Cause::TidbVerifyCn,
        Cause::Plaintext,
        Cause::Expired,
        Cause::MissingAlpn,
        Cause::CertVerifyFailed,
        Cause::IncompatibleEku,
        Cause::IncompleteChain,
        Cause::ClientCertRequired,
        Cause::KeyMismatch,
        Cause::ClockSkew,
        Cause::TlsVersionMismatch,
        Cause::MysqlProtocol,
        Cause::SqlTlsNotOffered,
        Cause::SecureTransportRequired,
        Cause::SqlAccessDenied,
        Cause::SqlHostNotAllowed,
        Cause::NotTls,
        Cause::NoAnswer,
        Cause::NotListening,
        Cause::Unreachable,
        Cause::ResolveFailed,
        Cause::ConnectionReset,
        Cause::ListNotEnforced,
        Cause::Unexplained,
    ];

    /// The stable snake_case name.
    pub fn id(self) -> &'static str {
        match self {
            Cause::UnknownCa => "unknown_ca",
            Cause::SanMismatch => "san_mismatch",
            Cause::CnOnlyCert => "cn_only_cert",
            Cause::CnNotAllowed => "cn_not_allowed",
            Cause::PdCnNotAllowed => "pd_cn_not_allowed",
            Cause::PdMultipleCn => "pd_multiple_cn",
            Cause::TidbVerifyCn => "tidb_verify_cn",
            Cause::Plaintext => "plaintext",
            Cause::Expired => "expired",
            Cause::MissingAlpn => "missing_alpn",
            Cause::CertVerifyFailed => "cert_verify_failed",
            Cause::IncompatibleEku => "incompatible_eku",
            Cause::IncompleteChain => "incomplete_chain",
            Cause::ClientCertRequired => "client_cert_required",
            Cause::KeyMismatch => "key_mismatch",
            Cause::ClockSkew => "clock_skew",
            Cause::TlsVersionMismatch => "tls_version_mismatch",
            Cause::MysqlProtocol => "mysql_protocol",
            Cause::SqlTlsNotOffered => "sql_tls_not_offered",
            Cause::SecureTransportRequired => "secure_transport_required",
            Cause::SqlAccessDenied => "sql_access_denied",
            Cause::SqlHostNotAllowed => "sql_host_not_allowed",
            Cause::NotTls => "not_tls",
            Cause::NoAnswer => "no_answer",
            Cause::NotListening => "not_listening",
            Cause::Unreachable => "unreachable",
            Cause::ResolveFailed => "resolve_failed",
            Cause::ConnectionReset => "connection_reset",
            Cause::ListNotEnforced => "list_not_enforced",
            Cause::Unexplained => "unexplained",
        }
    }

    /// One line an operator reads.
    pub fn title(self) -> &'static str {
        match self {
            Cause::UnknownCa => {
                "certificate from another CA (the components use different CA files)"
            }
            Cause::SanMismatch => "the dialed address is not in the server certificate's SANs",
            Cause::CnOnlyCert => "server certificate without SANs (CN-only); Go ignores the CN",
            Cause::CnNotAllowed => "the caller's Common Name is not on the server's allow-list",
            Cause::PdCnNotAllowed => "PD refuses the caller's Common Name (cert-allowed-cn)",
            Cause::PdMultipleCn => {
                "PD before v8.4 refuses to start with more than one cert-allowed-cn entry"
            }
            Cause::TidbVerifyCn => {
                "TiDB's cluster-verify-cn does not list the caller's Common Name"
            }
            Cause::Plaintext => "plaintext on one side, TLS on the other (http:// vs https://)",
            Cause::Expired => "certificate expired or not yet valid",
            Cause::MissingAlpn => "no ALPN protocol negotiated (gRPC needs h2)",
            Cause::CertVerifyFailed => {
                "certificate verification failed (OpenSSL): chain or SAN mismatch"
            }
            Cause::IncompatibleEku => {
                "certificate lacks the clientAuth/serverAuth extended key usage"
            }
            Cause::IncompleteChain => "the server does not send its intermediate CA certificate",
            Cause::ClientCertRequired => {
                "the server requires a client certificate and none was sent"
            }
            Cause::KeyMismatch => "the private key does not belong to the certificate",
            Cause::ClockSkew => "the server's clock disagrees with the certificate's validity",
            Cause::TlsVersionMismatch => "no TLS version in common",
            Cause::MysqlProtocol => {
                "the port speaks the MySQL protocol (TLS is in-band after SSLRequest)"
            }
            Cause::SqlTlsNotOffered => {
                "the SQL port offers no TLS (no ssl-cert/ssl-key loaded): clients connect in plaintext"
            }
            Cause::SecureTransportRequired => {
                "the SQL client connected without TLS, and the server requires TLS (require_secure_transport)"
            }
            Cause::SqlAccessDenied => {
                "MySQL authentication failed (1045): wrong user, password or host"
            }
            Cause::SqlHostNotAllowed => "no MySQL account for the client's host (1130)",
            Cause::NotTls => "the port does not speak TLS",
            Cause::NoAnswer => "the port accepts TCP but never answers the TLS ClientHello",
            Cause::NotListening => "nothing listens on the port (connection refused)",
            Cause::Unreachable => "no TCP connection (host down or packets dropped)",
            Cause::ResolveFailed => "the host name does not resolve",
            Cause::ConnectionReset => "the peer resets the connection",
            Cause::ListNotEnforced => {
                "the server admits a caller its allow-list does not name: the list is not enforced"
            }
            Cause::Unexplained => "the link fails for a reason tlsaudit cannot name",
        }
    }

    /// The number of the failure mode in `docs/tidb.md` ("Failure modes"), when it is one.
    pub fn fact(self) -> Option<u8> {
        match self {
            Cause::UnknownCa => Some(1),
            Cause::SanMismatch => Some(2),
            Cause::CnOnlyCert => Some(3),
            Cause::CnNotAllowed => Some(4),
            Cause::PdCnNotAllowed => Some(5),
            Cause::PdMultipleCn => Some(6),
            Cause::TidbVerifyCn => Some(7),
            Cause::Plaintext => Some(8),
            Cause::Expired => Some(9),
            Cause::MissingAlpn => Some(10),
            Cause::CertVerifyFailed => Some(11),
            Cause::IncompatibleEku => Some(12),
            _ => None,
        }
    }

    /// The texts the components and libraries print for this cause, in general (a diagnosis
    /// fills in the names it saw).
    pub fn log_texts(self) -> Vec<LogText> {
        let go = "TiDB, PD, TiCDC, pd-ctl, TiUP (Go callers)";
        let openssl = "TiKV, TiFlash, tikv-ctl (OpenSSL callers)";
        let t = LogText::new;
        match self {
            Cause::UnknownCa => vec![
                t(go, "x509: certificate signed by unknown authority"),
                t("Go since 1.20 (prefix)", "tls: failed to verify certificate: x509: certificate signed by unknown authority"),
                t(openssl, "certificate verify failed (unable to get local issuer certificate)"),
                t("the refusing server, as the client sees it (Go)", "remote error: tls: unknown certificate authority"),
                t("the refusing server, as the client sees it (OpenSSL)", "tlsv1 alert unknown ca"),
                t("TiKV/TiFlash gRPC (C-core) refusing a client", "no alert: the connection is closed (EOF / connection reset)"),
            ],
            Cause::SanMismatch => vec![
                t(go, "x509: certificate is valid for 127.0.0.1, ::1, not 10.x.y.z"),
                t(openssl, "certificate verify failed (IP address mismatch / Hostname mismatch)"),
                t("rustls", "invalid peer certificate: certificate not valid for name \"<host>\"; certificate is only valid for ..."),
            ],
            Cause::CnOnlyCert => vec![
                t(go, "x509: cannot validate certificate for <ip> because it doesn't contain any IP SANs"),
                t(go, "x509: certificate relies on legacy Common Name field, use SANs instead"),
                t(openssl, "certificate verify failed"),
            ],
            Cause::CnNotAllowed => vec![
                t("TiKV gRPC, as a Go caller logs it", "rpc error: code = Unauthenticated desc = Common name check fail, reason: x509_common_name from peer is <CN>, cert_allowed_cn: {...}"),
                t("TiKV status port (HTTP 403)", "certificate role error"),
                t("TiFlash gRPC, as a Go caller logs it", "rpc error: code = PermissionDenied desc = common name check is failed"),
                t("handshake-level lists (TiCDC, TiProxy, TiFlash 8234), as the client sees it", "remote error: tls: bad certificate"),
            ],
            Cause::PdCnNotAllowed => vec![
                t("PD log", "client certificate authentication failed"),
                t("the caller (Go)", "remote error: tls: bad certificate"),
                t("the caller (OpenSSL)", "sslv3 alert bad certificate"),
            ],
            Cause::PdMultipleCn => vec![t("PD before v8.4, at start", "only supports one CN")],
            Cause::TidbVerifyCn => vec![
                t("TiDB log", "client certificate authentication failed. The Common Name from the client certificate was not found in the configuration cluster-verify-cn with value: <list>"),
                t("the caller (Go)", "remote error: tls: bad certificate"),
                t("tiup cluster display", "the TiDB instance shows Down"),
            ],
            Cause::Plaintext => vec![
                t("Go, TLS meeting plaintext (either side)", "tls: first record does not look like a TLS handshake"),
                t("Go HTTP client, https:// to a plaintext port", "http: server gave HTTP response to HTTPS client"),
                t("OpenSSL, TLS meeting plaintext", "wrong version number"),
                t("Go HTTPS server, http:// to a TLS port (HTTP 400 body)", "Client sent an HTTP request to an HTTPS server."),
            ],
            Cause::Expired => vec![
                t(go, "x509: certificate has expired or is not yet valid: current time <now> is after <notAfter>"),
                t(openssl, "certificate verify failed (certificate has expired)"),
                t("the refusing server, as the client sees it", "remote error: tls: expired certificate / sslv3 alert certificate expired"),
            ],
            Cause::MissingAlpn => vec![
                t("gRPC C-core callers (TiKV, TiFlash)", "Cannot check peer: missing selected ALPN property."),
                t("grpc-go >= 1.67 callers", "credentials: cannot check peer: missing selected ALPN property"),
                t("a Go server with no offered protocol in common", "tls: client requested unsupported application protocols"),
                t("TiKV/TiFlash gRPC to a caller that does not offer h2", "no alert: the connection is closed after the handshake"),
            ],
            Cause::CertVerifyFailed => vec![t(openssl, "certificate verify failed")],
            Cause::IncompatibleEku => vec![
                t(go, "x509: certificate specifies an incompatible key usage"),
                t(openssl, "certificate verify failed (unsupported certificate purpose)"),
                t("the refusing server, as the client sees it", "remote error: tls: bad certificate / sslv3 alert unsupported certificate"),
            ],
            Cause::IncompleteChain => vec![
                t(go, "x509: certificate signed by unknown authority"),
                t(openssl, "certificate verify failed (unable to verify the first certificate)"),
            ],
            Cause::ClientCertRequired => vec![
                t("Go server log", "tls: client didn't provide a certificate"),
                t("the caller, TLS 1.3", "remote error: tls: certificate required / tlsv13 alert certificate required"),
                t("the caller, TLS 1.2", "remote error: tls: bad certificate (Go) / sslv3 alert handshake failure (OpenSSL)"),
            ],
            Cause::KeyMismatch => vec![
                t("Go components, at start or per handshake", "tls: private key does not match public key"),
                t("OpenSSL", "key values mismatch"),
            ],
            Cause::ClockSkew => vec![t(go, "x509: certificate has expired or is not yet valid")],
            Cause::TlsVersionMismatch => vec![
                t("Go", "remote error: tls: protocol version not supported"),
                t("OpenSSL", "tlsv1 alert protocol version / unsupported protocol"),
            ],
            Cause::MysqlProtocol => vec![],
            Cause::SqlTlsNotOffered
            | Cause::SecureTransportRequired
            | Cause::SqlAccessDenied
            | Cause::SqlHostNotAllowed => self.sql_log_texts(),
            Cause::NotTls => vec![t("Go", "tls: first record does not look like a TLS handshake")],
            Cause::NoAnswer => vec![t("Go", "i/o timeout / context deadline exceeded (during the TLS handshake)")],
            Cause::NotListening => vec![t("Go", "connect: connection refused")],
            Cause::Unreachable => vec![t("Go", "dial tcp <addr>: i/o timeout")],
            Cause::ResolveFailed => vec![t("Go", "dial tcp: lookup <host>: no such host")],
            Cause::ConnectionReset => vec![t("Go", "read: connection reset by peer")],
            Cause::ListNotEnforced => vec![t(
                "every component",
                "nothing: an admitted caller is not logged, which is why only a probe shows it",
            )],
            Cause::Unexplained => vec![],
        }
    }

    /// The texts of the SQL ports' causes.
    fn sql_log_texts(self) -> Vec<LogText> {
        let t = LogText::new;
        match self {
            Cause::SqlTlsNotOffered => vec![
                t("TiDB log, at start", "secure connection is not enabled"),
                t("TiDB log, at start, when ssl-cert/ssl-key cannot be loaded", "load x509 failed"),
                t("mysql client with --ssl-mode=REQUIRED", "ERROR 2026 (HY000): SSL connection error: SSL is required but the server doesn't support it"),
                t("Go driver (go-sql-driver/mysql) with tls=true", "TLS requested but server does not support TLS"),
            ],
            Cause::SecureTransportRequired => vec![t(
                "TiDB, MySQL, as the client sees it",
                "ERROR 3159 (HY000): Connections using insecure transport are prohibited while --require_secure_transport=ON.",
            )],
            Cause::SqlAccessDenied => vec![t(
                "TiDB, TiProxy, MySQL, MariaDB, as the client sees it",
                "ERROR 1045 (28000): Access denied for user '<user>'@'<host>' (using password: YES)",
            )],
            Cause::SqlHostNotAllowed => vec![t(
                "MySQL, MariaDB, as the client sees it",
                "ERROR 1130 (HY000): Host '<host>' is not allowed to connect to this MySQL server",
            )],
            _ => vec![],
        }
    }

    /// What to check to confirm this cause (commands an operator can run).
    pub fn checks(self) -> Vec<String> {
        let s = |x: &str| x.to_string();
        match self {
            Cause::UnknownCa => vec![
                s("compare the CA file of every component: `openssl x509 -noout -fingerprint -sha256 -in <deploy_dir>/tls/ca.crt` must print the same on every host"),
                s("see who issued the peer's certificate: `openssl x509 -noout -subject -issuer -in <cert>`"),
                s("a CA file changed since start needs a restart: Go components and TiKV build the CA pool once"),
            ],
            Cause::SanMismatch | Cause::CnOnlyCert => vec![
                s("list the SANs: `openssl x509 -noout -subject -ext subjectAltName -in <deploy_dir>/tls/<role>.crt`"),
                s("compare them with the address callers dial (the `host` in the topology, PD's advertise URLs)"),
            ],
            Cause::CnNotAllowed | Cause::PdCnNotAllowed | Cause::TidbVerifyCn => vec![
                s("read the caller's CN: `openssl x509 -noout -subject -in <caller cert>`"),
                s("compare it with the callee's list (`cert-allowed-cn`, `cluster-verify-cn`): `tiup cluster edit-config <cluster>` shows server_configs"),
                s("a list edited in the file is applied only after `tiup cluster reload <cluster> -R <role>`"),
            ],
            Cause::PdMultipleCn => vec![
                s("check the PD version (`pd-server -V`): before v8.4 `cert-allowed-cn` takes one entry"),
                s("look for `only supports one CN` in the PD log"),
            ],
            Cause::Plaintext => vec![
                s("check whether the component has TLS enabled: its `[security]` cert keys are set and it was restarted"),
                s("check the caller's URL scheme: https:// for TLS ports, http:// only for plaintext ones"),
            ],
            Cause::Expired | Cause::ClockSkew => vec![
                s("show the validity: `openssl x509 -noout -dates -in <cert>` on both sides"),
                s("check the clocks: `date -u` on both hosts"),
            ],
            Cause::MissingAlpn => vec![
                s("see what the server negotiates: `openssl s_client -connect <host:port> -alpn h2 </dev/null | grep ALPN` (\"No ALPN negotiated\" is the failure)"),
            ],
            Cause::CertVerifyFailed => vec![
                s("tell chain from name: `openssl verify -CAfile ca.crt <server cert>` checks the chain; the SANs must contain the dialed address"),
            ],
            Cause::IncompatibleEku => vec![s(
                "show the EKU: `openssl x509 -noout -ext extendedKeyUsage -in <cert>` must list both TLS Web Server and TLS Web Client Authentication",
            )],
            Cause::IncompleteChain => vec![s(
                "count the certificates the server sends: `openssl s_client -connect <host:port> -showcerts </dev/null`",
            )],
            Cause::ClientCertRequired => vec![s(
                "check that the caller is configured with a cert and key (`cert-path`/`key-path`, `--cert`/`--key`)",
            )],
            Cause::KeyMismatch => vec![s(
                "compare public keys: `openssl x509 -noout -pubkey -in <cert>` and `openssl pkey -pubout -in <key>` must print the same",
            )],
            Cause::TlsVersionMismatch => vec![s(
                "try each version: `openssl s_client -connect <host:port> -tls1_2` and `-tls1_3`",
            )],
            Cause::MysqlProtocol => vec![s(
                "check the SQL port with a MySQL client: `mysql -h <host> -P 4000 --ssl-mode=VERIFY_IDENTITY --ssl-ca=ca.crt`",
            )],
            Cause::SqlTlsNotOffered => vec![
                s("look for \"secure connection is enabled\" / \"secure connection is not enabled\" in the TiDB log at start, and \"load x509 failed\" just before"),
                s("check that ssl-cert and ssl-key are set under [security] in tidb.toml (TiUP: server_configs.tidb.security.ssl-cert) and readable by TiDB"),
                s("`tlsaudit probe <host>:4000 --protocol mysql --ca ca.crt` shows whether the greeting carries CLIENT_SSL"),
            ],
            Cause::SecureTransportRequired => vec![
                s("connect with TLS: `mysql -h <host> -P 4000 --ssl-mode=VERIFY_IDENTITY --ssl-ca=ca.crt`; drivers: tls=true / sslMode=VERIFY_IDENTITY"),
                s("see the setting: `SHOW GLOBAL VARIABLES LIKE 'require_secure_transport'`"),
            ],
            Cause::SqlAccessDenied => vec![
                s("check the account and the hosts it may connect from: `SELECT user, host, plugin FROM mysql.user WHERE user = '<user>'`"),
                s("a 1045 inside TLS proves the TLS session was accepted; in plaintext on MySQL or MariaDB it may also mean require_secure_transport: `tlsaudit probe <host>:<port> --protocol mysql --ca ca.crt --mysql-user <audit account>` tells them apart"),
            ],
            Cause::SqlHostNotAllowed => vec![s(
                "list the account's hosts: `SELECT user, host FROM mysql.user`; create the account for the client's host or '%'",
            )],
            Cause::NotTls | Cause::NoAnswer => vec![s(
                "check which service owns the port: `ss -ltnp 'sport = :<port>'` on the host",
            )],
            Cause::NotListening => vec![
                s("check that the component runs: `tiup cluster display <cluster>`"),
                s("read its log for a start failure (a bad TLS config stops the component)"),
            ],
            Cause::Unreachable => vec![s("check routing and firewalls between the two hosts")],
            Cause::ResolveFailed => vec![s("check DNS or /etc/hosts for the host name")],
            Cause::ConnectionReset => vec![s(
                "a gRPC C-core server (TiKV, TiFlash) closes without an alert on any certificate problem: check the caller's cert, its CA and h2 ALPN",
            )],
            Cause::ListNotEnforced => vec![
                s("read the component's effective config: `tiup cluster show-config <cluster>` and look for the list key"),
                s("check the version: PD before v8.4 and TiDB's status port check no CN on some paths (docs/tidb.md)"),
            ],
            Cause::Unexplained => vec![s("run `tlsaudit probe` with `--format json` and read the evidence")],
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// Go's `x509.HostnameError` text for a leaf certificate and a dialed host, as TiDB, PD and
/// the other Go components print it. `sans` are the summary's `DNS:`/`IP:` entries.
pub fn go_hostname_error(sans: &[String], common_name: Option<&str>, host: &str) -> String {
    let dns: Vec<&str> = sans.iter().filter_map(|s| s.strip_prefix("DNS:")).collect();
    let ips: Vec<&str> = sans.iter().filter_map(|s| s.strip_prefix("IP:")).collect();
    if sans.is_empty() && common_name.is_some_and(|cn| cn.eq_ignore_ascii_case(host)) {
        return "x509: certificate relies on legacy Common Name field, use SANs instead".into();
    }
    let valid = if host.parse::<std::net::IpAddr>().is_ok() {
        if ips.is_empty() {
            return format!(
                "x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
            );
        }
        ips.join(", ")
    } else {
        dns.join(", ")
    };
    if valid.is_empty() {
        return format!("x509: certificate is not valid for any names, but wanted to match {host}");
    }
    format!("x509: certificate is valid for {valid}, not {host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in Cause::ALL {
            assert!(seen.insert(c.id()), "{c:?}");
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.id()));
        }
    }

    #[test]
    fn go_hostname_errors() {
        let sans = vec!["DNS:localhost".to_string(), "IP:127.0.0.1".to_string()];
        assert_eq!(
            go_hostname_error(&sans, Some("tidb"), "10.0.1.5"),
            "x509: certificate is valid for 127.0.0.1, not 10.0.1.5"
        );
        assert_eq!(
            go_hostname_error(&sans, Some("tidb"), "db.example"),
            "x509: certificate is valid for localhost, not db.example"
        );
        assert_eq!(
            go_hostname_error(&[], Some("localhost"), "localhost"),
            "x509: certificate relies on legacy Common Name field, use SANs instead"
        );
        assert_eq!(
            go_hostname_error(&[], Some("localhost"), "127.0.0.1"),
            "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"
        );
    }
}
