//! The texts `explain` recognises: each with who prints it, its meaning and its causes.

use crate::diagnose::cause::Cause;

/// One recognised text.
pub(super) struct Pattern {
    /// Every needle must occur (ASCII case-insensitive).
    pub needles: &'static [&'static str],
    /// Who prints it.
    pub source: &'static str,
    /// The likely causes, most likely first.
    pub causes: &'static [Cause],
    pub meaning: &'static str,
    /// A generic text (an alert, an OS error) that a more specific match supersedes.
    pub generic: bool,
}

const fn p(
    needles: &'static [&'static str],
    source: &'static str,
    causes: &'static [Cause],
    meaning: &'static str,
) -> Pattern {
    Pattern {
        needles,
        source,
        causes,
        meaning,
        generic: false,
    }
}

const fn g(
    needles: &'static [&'static str],
    source: &'static str,
    causes: &'static [Cause],
    meaning: &'static str,
) -> Pattern {
    Pattern {
        needles,
        source,
        causes,
        meaning,
        generic: true,
    }
}

use Cause as C;

const BAD_CERT: &str = "The server refused the client certificate during the handshake (alert 42). Go servers (PD, TiDB's status port, TiCDC, TiProxy) send it when the certificate's CN is not on their allow-list; Go before 1.20 also sent it for a missing certificate, one from another CA or an expired one.";
const CCORE_VERIFY: &str = "gRPC C-core (the TLS layer of TiKV's and TiFlash's gRPC) refused the peer's certificate. Logged by TiKV/TiFlash serving a connection, it is the caller's client certificate: it does not chain to `ca-path`, or it expired (the caller sees only a closed connection, no alert; a tlsaudit probe with a foreign-CA certificate leaves exactly this line). Logged when TiKV/TiFlash is the caller (to PD, another TiKV), it is the server's certificate: another CA, a missing intermediate, or SANs without the dialed address.";
const SILENT: &str = "The peer closed the connection without a TLS alert. gRPC C-core servers (TiKV 20160, TiFlash 3930) do this for every client-certificate problem (none sent, another CA, expired) and when the caller does not offer the h2 ALPN protocol.";

pub(super) static PATTERNS: &[Pattern] = &[
    // gRPC C-core's TLS (TiKV 20160, TiFlash 3930, and both as callers): ssl_transport_security.cc
    // logs `Handshake failed with fatal error SSL_ERROR_SSL: <OpenSSL error>.` at ERROR on either
    // side. TiKV's slog shows it as `[ERROR] [<unknown>] ["Handshake failed ..."]`.
    p(&["handshake failed with fatal error", "certificate verify failed"], "gRPC C-core TLS (TiKV 20160, TiFlash 3930, or TiKV/TiFlash as a caller), at ERROR", &[C::UnknownCa, C::Expired, C::SanMismatch, C::IncompleteChain], CCORE_VERIFY),
    p(&["handshake failed with fatal error", "peer did not return a certificate"], "gRPC C-core TLS server (TiKV 20160, TiFlash 3930), at ERROR", &[C::ClientCertRequired],
      "A caller connected to TiKV's or TiFlash's gRPC port without a client certificate. C-core closes the connection without an alert, so the caller sees only EOF or a reset. A tlsaudit probe with no certificate leaves exactly this line."),
    p(&["handshake failed with fatal error", "wrong version number"], "gRPC C-core TLS (TiKV 20160, TiFlash 3930, or TiKV/TiFlash as a caller), at ERROR", &[C::Plaintext],
      "The TLS layer read bytes that are not TLS. On a TiKV/TiFlash server: a caller spoke plaintext to the TLS port (http://, a gRPC client without TLS, a port scanner). As a caller: the server it dialed speaks plaintext (partial TLS enablement)."),
    p(&["handshake failed with fatal error", "http request"], "gRPC C-core TLS server (TiKV 20160, TiFlash 3930), at ERROR", &[C::Plaintext],
      "A plaintext HTTP request reached TiKV's or TiFlash's TLS gRPC port: the caller must use TLS."),
    p(&["handshake failed with fatal error", "no shared cipher"], "gRPC C-core TLS server (TiKV 20160, TiFlash 3930), at ERROR", &[C::TlsVersionMismatch],
      "The caller offered no cipher suite (or TLS version) this server accepts."),
    p(&["status server error", "tls handshake error"], "TiKV status server (20180), at ERROR", &[C::Plaintext, C::ClientCertRequired, C::UnknownCa, C::TlsVersionMismatch],
      "A TLS handshake on TiKV's status port failed; TiKV does not log why. Seen for http:// requests to the TLS port, for callers without a certificate or from another CA, and during certificate rotation (the status port reloads its certificate only after a handshake error). It also speaks TLS 1.2 only."),
    // Allow-lists.
    p(&["common name check fail"], "TiKV gRPC (status 16 UNAUTHENTICATED), as its callers log it", &[C::CnNotAllowed],
      "TiKV compared the caller certificate's CN with `cert-allowed-cn` ([security] in tikv.toml) and it is not on the list. The TLS handshake itself succeeded; every gRPC call is refused."),
    p(&["common name check is failed"], "TiFlash gRPC (status 7 PERMISSION_DENIED)", &[C::CnNotAllowed],
      "TiFlash compared the caller's CN with `cert_allowed_cn` ([security] in tiflash.toml) and it is not on the list."),
    p(&["certificate role error"], "TiKV status port 20180 (HTTP 403)", &[C::CnNotAllowed],
      "TiKV's status server refused the caller's CN (`cert-allowed-cn` in tikv.toml); only GET /metrics, /status, /config and /debug/pprof/profile skip the check."),
    p(&["not found in the configuration cluster-verify-cn"], "TiDB (status port 10080, at the handshake)", &[C::TidbVerifyCn],
      "TiDB's status port checks callers against `cluster-verify-cn` ([security] in tidb.toml) and this caller's CN is not listed. With TiUP, its own client certificate (CN `<cluster>-client`) must be listed, or `tiup cluster display` shows TiDB Down."),
    p(&["only supports one cn"], "PD before v8.4, at start", &[C::PdMultipleCn],
      "PD before v8.4 accepts a single entry in `cert-allowed-cn` and refuses to start with more."),
    p(&["client certificate authentication failed"], "PD (embedded etcd), at the handshake", &[C::PdCnNotAllowed],
      "PD (etcd's AllowedCNs) compared the peer certificate's CN with `cert-allowed-cn` ([security] in pd.toml) and it is not on the list. PD applies the list as a client too: when this appears for PD-to-PD traffic, PD's own CN is missing from its list."),
    // ALPN.
    p(&["missing selected alpn property"], "gRPC client (C-core in TiKV/TiFlash, grpc-go >= 1.67 in TiDB/PD/TiCDC)", &[C::MissingAlpn],
      "The gRPC client completed TLS, but the server negotiated no ALPN protocol; gRPC requires h2. The server (or a proxy terminating TLS in between) offers no ALPN."),
    p(&["client requested unsupported application protocols"], "Go TLS server", &[C::MissingAlpn],
      "The client offered only ALPN protocols the server does not serve (e.g. h2 to an HTTP/1.1-only server)."),
    p(&["no application protocol"], "TLS alert 120 (Go: remote error: tls: no application protocol; OpenSSL: tlsv1 alert no application protocol)", &[C::MissingAlpn],
      "The server refused the handshake because none of the client's ALPN protocols is one it serves."),
    p(&["noapplicationprotocol"], "rustls (alert 120)", &[C::MissingAlpn],
      "The server refused the handshake because none of the client's ALPN protocols is one it serves."),
    // Names.
    p(&["relies on legacy common name field"], "Go crypto/x509 (TiDB, PD, TiCDC, TiUP as callers)", &[C::CnOnlyCert],
      "The server certificate has no subjectAltName; its CN matches the dialed name, but Go ignores the CN since 1.15."),
    p(&["doesn't contain any ip sans"], "Go crypto/x509 (TiDB, PD, TiCDC, TiUP as callers)", &[C::CnOnlyCert, C::SanMismatch],
      "The caller dialed an IP address and the server certificate has no IP SAN at all (a CN-only certificate, or one with DNS names only)."),
    p(&["not valid for any names"], "Go crypto/x509 or rustls", &[C::CnOnlyCert],
      "The server certificate has no subjectAltName: it is valid for no name."),
    p(&["certificate is valid for", ", not "], "Go crypto/x509 (TiDB, PD, TiCDC, TiUP as callers)", &[C::SanMismatch],
      "The server certificate's SANs do not contain the address the caller dialed."),
    p(&["certificate not valid for name"], "rustls", &[C::SanMismatch],
      "The server certificate's SANs do not contain the name the client verified."),
    p(&["notvalidforname"], "rustls / webpki", &[C::SanMismatch],
      "The server certificate's SANs do not contain the name the client verified."),
    p(&["hostname mismatch"], "OpenSSL verify error 62", &[C::SanMismatch],
      "The server certificate's SANs do not contain the dialed host name."),
    p(&["ip address mismatch"], "OpenSSL verify error 64", &[C::SanMismatch],
      "The server certificate's SANs do not contain the dialed IP address."),
    // CAs and chains.
    p(&["signed by unknown authority"], "Go crypto/x509 (TiDB, PD, TiCDC, TiUP, pd-ctl)", &[C::UnknownCa, C::IncompleteChain],
      "The peer's certificate does not chain to a CA in this component's CA file: the components use different CA files (or the peer omits an intermediate). In a server log it is about the client's certificate; in a caller's log, about the server's."),
    p(&["unknown certificate authority"], "TLS alert 48 as Go reports it (remote error: tls: unknown certificate authority)", &[C::UnknownCa],
      "The other side does not trust the CA that issued this side's certificate."),
    p(&["alert unknown ca"], "TLS alert 48 as OpenSSL reports it (tlsv1 alert unknown ca)", &[C::UnknownCa],
      "The other side does not trust the CA that issued this side's certificate."),
    p(&["unknownca"], "rustls (alert 48)", &[C::UnknownCa],
      "The other side does not trust the CA that issued this side's certificate."),
    p(&["unknownissuer"], "rustls / webpki", &[C::UnknownCa, C::IncompleteChain],
      "The peer's certificate does not chain to the trusted CA."),
    p(&["unable to get local issuer certificate"], "OpenSSL verify error 20 (TiKV, TiFlash, tikv-ctl, curl)", &[C::UnknownCa, C::IncompleteChain],
      "The issuer of the peer's certificate is not in the CA file: another CA, or a missing intermediate."),
    p(&["self-signed certificate in certificate chain"], "OpenSSL verify error 19", &[C::UnknownCa],
      "The peer's chain ends in a root CA that is not the one in the CA file."),
    p(&["self signed certificate in certificate chain"], "OpenSSL verify error 19 (OpenSSL 1.1)", &[C::UnknownCa],
      "The peer's chain ends in a root CA that is not the one in the CA file."),
    p(&["unable to verify the first certificate"], "OpenSSL verify error 21", &[C::IncompleteChain],
      "The peer sent only its leaf certificate and its issuer is not in the CA file: the intermediate is missing."),
    // Validity.
    p(&["has expired or is not yet valid"], "Go crypto/x509", &[C::Expired, C::ClockSkew],
      "A certificate of the peer's chain is outside its validity (or the clocks disagree). A renewed CA needs restarts: the CA pool is built once at start."),
    p(&["certificate has expired"], "OpenSSL verify error 10", &[C::Expired],
      "A certificate of the peer's chain has expired."),
    p(&["certificate is not yet valid"], "OpenSSL verify error 9", &[C::Expired, C::ClockSkew],
      "A certificate of the peer's chain is not valid yet: check the clocks."),
    p(&["expired certificate"], "TLS alert 45 as Go reports it (remote error: tls: expired certificate)", &[C::Expired, C::ClockSkew],
      "The other side says this side's certificate expired."),
    p(&["alert certificate expired"], "TLS alert 45 as OpenSSL reports it (sslv3 alert certificate expired)", &[C::Expired, C::ClockSkew],
      "The other side says this side's certificate expired."),
    p(&["certificateexpired"], "rustls (alert 45)", &[C::Expired, C::ClockSkew],
      "The other side says this side's certificate expired."),
    p(&["certificate expired"], "rustls", &[C::Expired],
      "A certificate of the peer's chain has expired."),
    // Key usage.
    p(&["incompatible key usage"], "Go crypto/x509", &[C::IncompatibleEku],
      "The certificate lacks the extended key usage for its use: clientAuth for a client certificate, serverAuth for a server's. Component certificates need both."),
    p(&["unsupported certificate purpose"], "OpenSSL verify error 26", &[C::IncompatibleEku],
      "The certificate lacks the extended key usage for its use (clientAuth / serverAuth)."),
    p(&["unsupported certificate"], "TLS alert 43 (Go: remote error: tls: unsupported certificate; OpenSSL: sslv3 alert unsupported certificate)", &[C::IncompatibleEku],
      "The other side refuses this side's certificate for its key type or key usage."),
    p(&["does not allow extended key usage"], "rustls", &[C::IncompatibleEku],
      "The certificate lacks the extended key usage for its use."),
    p(&["invalidpurpose"], "rustls / webpki", &[C::IncompatibleEku],
      "The certificate lacks the extended key usage for its use."),
    // Plaintext against TLS.
    p(&["first record does not look like a tls handshake"], "Go crypto/tls (either side)", &[C::Plaintext],
      "One side speaks TLS and the other plaintext: http:// against a TLS port or https:// against a plaintext one (partial TLS enablement is unsupported)."),
    p(&["server gave http response to https client"], "Go net/http client", &[C::Plaintext],
      "An https:// caller reached a port that answers plain HTTP: TLS is not enabled on that component."),
    p(&["client sent an http request to an https server"], "Go net/http server (HTTP 400 body)", &[C::Plaintext],
      "An http:// caller reached a TLS port: the caller must use https:// with the cluster CA."),
    p(&["wrong version number"], "OpenSSL (TiKV, TiFlash, tikv-ctl, curl)", &[C::Plaintext],
      "OpenSSL read something that is not TLS, typically a plaintext HTTP answer: https:// against a plaintext port."),
    p(&["packet length too long"], "OpenSSL", &[C::Plaintext],
      "OpenSSL read something that is not TLS: a plaintext port."),
    p(&["ssl routines", "http request"], "OpenSSL server", &[C::Plaintext],
      "A plaintext HTTP request reached an OpenSSL TLS port: the caller must use https://."),
    p(&["invalidcontenttype"], "rustls", &[C::Plaintext],
      "rustls read something that is not TLS: a plaintext port."),
    // Missing client certificate.
    p(&["certificate required"], "TLS alert 116 (Go: remote error: tls: certificate required; OpenSSL: tlsv13 alert certificate required)", &[C::ClientCertRequired],
      "The server requires a client certificate and the caller sent none (TLS 1.3)."),
    p(&["certificaterequired"], "rustls (alert 116)", &[C::ClientCertRequired],
      "The server requires a client certificate and the caller sent none."),
    p(&["didn't provide a certificate"], "Go TLS server", &[C::ClientCertRequired],
      "A caller connected without a client certificate: it has no `cert-path`/`key-path` (or `--cert`/`--key`)."),
    p(&["peer did not return a certificate"], "OpenSSL server", &[C::ClientCertRequired],
      "A caller connected without a client certificate."),
    p(&["peer sent no certificates"], "rustls server", &[C::ClientCertRequired],
      "A caller connected without a client certificate."),
    // Keys.
    p(&["private key does not match public key"], "Go crypto/tls", &[C::KeyMismatch],
      "The key file does not belong to the certificate file."),
    p(&["key values mismatch"], "OpenSSL", &[C::KeyMismatch],
      "The key file does not belong to the certificate file."),
    // Versions.
    p(&["protocol version not supported"], "TLS alert 70 as Go reports it", &[C::TlsVersionMismatch],
      "No TLS version in common (TiKV's status port speaks TLS 1.2 only; TiProxy's min-tls-version may exclude 1.2)."),
    p(&["alert protocol version"], "TLS alert 70 as OpenSSL reports it", &[C::TlsVersionMismatch],
      "No TLS version in common."),
    p(&["offered only unsupported versions"], "Go TLS server", &[C::TlsVersionMismatch],
      "The client offered only TLS versions the server refuses."),
    p(&["unsupported protocol"], "OpenSSL", &[C::TlsVersionMismatch],
      "No TLS version in common."),
    p(&["no protocols available"], "OpenSSL", &[C::TlsVersionMismatch],
      "The configured minimum and maximum TLS versions leave none."),
    // The SQL ports (MySQL protocol: TiDB 4000, TiProxy 6000, MySQL, MariaDB).
    p(&["insecure transport are prohibited"], "TiDB, MySQL (error 3159 ER_SECURE_TRANSPORT_REQUIRED)", &[C::SecureTransportRequired],
      "The client logged in without TLS and the server requires TLS (`require-secure-transport` in tidb.toml, the `require_secure_transport` variable). TiDB checks it right after the handshake response, before authentication, so the user does not matter."),
    p(&["er_secure_transport_required"], "TiDB, MySQL (error 3159)", &[C::SecureTransportRequired],
      "The client logged in without TLS and the server requires TLS (`require_secure_transport`)."),
    p(&["ssl is required but the server doesn't support it"], "MySQL/MariaDB client (error 2026 CR_SSL_CONNECTION_ERROR) with --ssl-mode=REQUIRED", &[C::SqlTlsNotOffered],
      "The server's greeting lacks CLIENT_SSL: no certificate is loaded on the SQL port (TiDB: ssl-cert and ssl-key under [security]), so TLS is not offered at all."),
    p(&["server does not support tls"], "Go MySQL driver (go-sql-driver/mysql) with tls=true", &[C::SqlTlsNotOffered],
      "The server's greeting lacks CLIENT_SSL: no certificate is loaded on the SQL port, so TLS is not offered."),
    p(&["secure connection is not enabled"], "TiDB log, at start", &[C::SqlTlsNotOffered],
      "TiDB started without TLS for SQL clients: ssl-cert and ssl-key are not set under [security] in tidb.toml, or could not be loaded (\"load x509 failed\" just before). Clients connect in plaintext; require-secure-transport cannot be on."),
    p(&["load x509 failed"], "TiDB log, at start", &[C::SqlTlsNotOffered, C::KeyMismatch],
      "TiDB could not load ssl-cert/ssl-key (a missing file, or a key that does not belong to the certificate): it starts anyway, without TLS on the SQL port."),
    p(&["access denied for user"], "TiDB, TiProxy, MySQL, MariaDB (error 1045 ER_ACCESS_DENIED_ERROR)", &[C::SqlAccessDenied, C::SecureTransportRequired],
      "Authentication failed: the user does not exist, the password is wrong, or the account is not allowed from this host. It comes after TLS: a 1045 inside TLS proves the TLS session was accepted. MySQL and MariaDB check require_secure_transport after authentication, and MariaDB answers a plaintext login to a real account with this same 1045: in plaintext it may mean \"TLS required\"."),
    p(&["is not allowed to connect to this"], "MySQL, MariaDB (error 1130 ER_HOST_NOT_PRIVILEGED)", &[C::SqlHostNotAllowed],
      "No account matches the client's host: the server refuses right after TCP connect, before TLS and before authentication."),
    // Generic: superseded by any specific match.
    g(&["certificate verify failed"], "OpenSSL (TiKV, TiFlash, tikv-ctl, curl)", &[C::CertVerifyFailed, C::UnknownCa, C::SanMismatch, C::Expired],
      "OpenSSL refused the peer's certificate: its chain does not lead to the CA file, or its SANs lack the dialed address, or it expired. The detail in parentheses (if logged) names which."),
    g(&["bad certificate"], "TLS alert 42 (Go: remote error: tls: bad certificate; OpenSSL: sslv3 alert bad certificate)", &[C::PdCnNotAllowed, C::TidbVerifyCn, C::CnNotAllowed, C::UnknownCa, C::Expired], BAD_CERT),
    g(&["badcertificate"], "rustls (alert 42)", &[C::PdCnNotAllowed, C::TidbVerifyCn, C::CnNotAllowed, C::UnknownCa, C::Expired], BAD_CERT),
    g(&["handshake failure"], "TLS alert 40 (Go: remote error: tls: handshake failure; OpenSSL: sslv3 alert handshake failure)", &[C::ClientCertRequired, C::TlsVersionMismatch],
      "The server aborted the handshake: under TLS 1.2 OpenSSL servers (TiKV, TiFlash) and newer Go servers send this for a missing client certificate; otherwise no cipher suite or group in common."),
    g(&["alert access denied"], "TLS alert 49 as OpenSSL reports it", &[C::CnNotAllowed],
      "The server refused this caller by policy: its identity (CN) is not allowed."),
    g(&["tls: access denied"], "TLS alert 49 as Go reports it", &[C::CnNotAllowed],
      "The server refused this caller by policy: its identity (CN) is not allowed."),
    g(&["alert decrypt error"], "TLS alert 51 as OpenSSL reports it", &[C::KeyMismatch],
      "The handshake signature did not verify: often a certificate presented with a key that is not its own."),
    g(&["error decrypting message"], "TLS alert 51 as Go reports it", &[C::KeyMismatch],
      "The handshake signature did not verify: often a certificate presented with a key that is not its own."),
    g(&["connection reset by peer"], "the operating system", &[C::ConnectionReset, C::UnknownCa, C::ClientCertRequired, C::MissingAlpn], SILENT),
    g(&["unexpected eof"], "OpenSSL 3 (unexpected eof while reading) or rustls", &[C::UnknownCa, C::ClientCertRequired, C::Expired, C::MissingAlpn], SILENT),
    g(&["connection refused"], "the operating system", &[C::NotListening, C::PdMultipleCn],
      "Nothing listens on the port: the component is down or failed to start (a TLS config it cannot load stops it), or the port is wrong."),
    g(&["no such host"], "Go resolver", &[C::ResolveFailed], "The host name does not resolve."),
    g(&["name or service not known"], "glibc resolver", &[C::ResolveFailed], "The host name does not resolve."),
    g(&["failed to lookup address"], "Rust resolver", &[C::ResolveFailed], "The host name does not resolve."),
    g(&["ssl connection error"], "MySQL/MariaDB client (error 2026 CR_SSL_CONNECTION_ERROR)", &[C::SqlTlsNotOffered, C::UnknownCa, C::SanMismatch],
      "The client could not set up TLS with the SQL port. The text after the colon says why: the server offers no TLS, or a certificate error (explained on its own when recognised)."),
    g(&["i/o timeout"], "Go net", &[C::Unreachable, C::NoAnswer],
      "No answer in time: the host is unreachable, packets are dropped, or the port accepts TCP and never answers TLS."),
];
