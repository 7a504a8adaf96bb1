//! `tlsaudit explain "ERROR TEXT"`: map a log line from TiDB, TiKV, PD, TiFlash, TiCDC, Go,
//! OpenSSL or rustls to the likely cause, the checks that confirm it, and the
//! `tlsaudit diagnose` command that probes it.

use serde::Serialize;

use crate::diagnose::cause::Cause;

/// One recognised text.
struct Pattern {
    /// Every needle must occur (ASCII case-insensitive).
    needles: &'static [&'static str],
    /// Who prints it.
    source: &'static str,
    /// The likely causes, most likely first.
    causes: &'static [Cause],
    meaning: &'static str,
    /// A generic text (an alert, an OS error) that a more specific match supersedes.
    generic: bool,
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
const SILENT: &str = "The peer closed the connection without a TLS alert. gRPC C-core servers (TiKV 20160, TiFlash 3930) do this for every client-certificate problem (none sent, another CA, expired) and when the caller does not offer the h2 ALPN protocol.";

static PATTERNS: &[Pattern] = &[
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

/// A cause as the explanation lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CauseInfo {
    pub cause: Cause,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fact: Option<u8>,
}

/// One recognised text in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// The recognised words, as they appear in the input.
    pub matched: String,
    /// Who prints it.
    pub source: String,
    pub meaning: String,
    /// Likely causes, most likely first.
    pub causes: Vec<CauseInfo>,
    /// Names read from the text (the CN, the dialed address, the SANs, the list).
    pub details: Vec<String>,
    /// What to check to confirm.
    pub checks: Vec<String>,
    /// The tlsaudit command that probes the link and names the cause.
    pub confirm: String,
}

/// The explanation of a pasted text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub input: String,
    pub matches: Vec<Match>,
}

impl Explanation {
    pub fn matched(&self) -> bool {
        !self.matches.is_empty()
    }

    /// 0 when the text was recognised, 1 when it was not.
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.matched())
    }

    /// The most likely cause.
    pub fn cause(&self) -> Option<Cause> {
        self.matches
            .first()
            .and_then(|m| m.causes.first())
            .map(|c| c.cause)
    }
}

/// The text after `marker` (case-insensitive) up to the first of `stops`, trimmed.
fn after<'a>(text: &'a str, lower: &str, marker: &str, stops: &[char]) -> Option<&'a str> {
    let i = lower.find(marker)? + marker.len();
    let rest = text.get(i..)?;
    let end = rest
        .find(|c: char| stops.contains(&c))
        .unwrap_or(rest.len());
    let v = rest[..end].trim().trim_matches(|c| c == '"' || c == '\'');
    (!v.is_empty()).then_some(v)
}

struct Extracted {
    details: Vec<String>,
    cn: Option<String>,
    host: Option<String>,
}

fn extract(text: &str, lower: &str) -> Extracted {
    let mut details = Vec::new();
    let mut cn = None;
    let mut host = None;
    if let Some(v) = after(
        text,
        lower,
        "x509_common_name from peer is ",
        &[',', '"', '\n'],
    ) {
        details.push(format!("the refused caller's CN: {v}"));
        cn = Some(v.to_string());
    }
    if let Some(i) = lower.find("cert_allowed_cn: {") {
        let rest = &text[i + "cert_allowed_cn: ".len()..];
        if let Some(end) = rest.find('}') {
            let list = rest[..=end].replace("\\\"", "\"");
            details.push(format!("TiKV's cert-allowed-cn: {list}"));
        }
    }
    if let Some(v) = after(text, lower, "from the client certificate [", &[']']) {
        details.push(format!("the refused caller's CN: {v}"));
        cn = Some(v.to_string());
    }
    if let Some(v) = after(text, lower, "cluster-verify-cn with value: ", &['\n', '"']) {
        details.push(format!("TiDB's cluster-verify-cn: {v}"));
    }
    if let Some(i) = lower.find("certificate is valid for ") {
        let rest = &text[i + "certificate is valid for ".len()..];
        if let Some(j) = rest.find(", not ") {
            let names = &rest[..j];
            let dialed_rest = &rest[j + ", not ".len()..];
            let end = dialed_rest
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ')')
                .unwrap_or(dialed_rest.len());
            let dialed = dialed_rest[..end].trim_end_matches([',', '.', ';']);
            details.push(format!("the certificate's SANs: {names}"));
            details.push(format!("the address the caller dialed: {dialed}"));
            host = Some(dialed.to_string());
        }
    }
    if let Some(v) = after(text, lower, "cannot validate certificate for ", &[' ']) {
        details.push(format!("the address the caller dialed: {v}"));
        host = Some(v.to_string());
    }
    if let Some(v) = after(text, lower, "but wanted to match ", &[' ', '"', '\n']) {
        details.push(format!("the name the caller dialed: {v}"));
        host = Some(v.to_string());
    }
    if let Some(v) = after(text, lower, "certificate not valid for name ", &[';']) {
        details.push(format!("the name the client verified: {v}"));
        host = Some(v.trim_matches('"').to_string());
    }
    Extracted { details, cn, host }
}

fn confirm(cause: Cause, ex: &Extracted) -> String {
    let target = match &ex.host {
        Some(h) if h.contains(':') && !h.contains('.') => format!("[{h}]:PORT"),
        Some(h) => format!("{h}:PORT"),
        None => "HOST:PORT".to_string(),
    };
    let who = match &ex.cn {
        Some(cn) => format!("--as {cn}"),
        None => "--as IDENTITY".to_string(),
    };
    match cause {
        C::CnNotAllowed | C::PdCnNotAllowed | C::TidbVerifyCn => format!(
            "tlsaudit diagnose ENDPOINT --config tlsaudit.toml {who}   (the identity whose certificate has that CN; the variants show which CNs the server accepts)"
        ),
        C::SanMismatch | C::CnOnlyCert => format!(
            "tlsaudit diagnose {target} --config tlsaudit.toml   (dial it as the callers do; the variants verify the chain for the certificate's own SANs)"
        ),
        C::PdMultipleCn | C::NotListening => "tlsaudit diagnose PD-HOST:2379 --config tlsaudit.toml".to_string(),
        C::Plaintext => format!(
            "tlsaudit diagnose {target} --config tlsaudit.toml   (step 2 shows what the port speaks)"
        ),
        C::MissingAlpn => format!(
            "tlsaudit diagnose {target} --config tlsaudit.toml --protocol grpc   (step 3 shows the negotiated ALPN)"
        ),
        C::KeyMismatch => "tlsaudit diagnose HOST:PORT --ca ca.crt --cert CERT --key KEY".to_string(),
        C::SqlTlsNotOffered | C::SecureTransportRequired | C::SqlAccessDenied | C::SqlHostNotAllowed => format!(
            "tlsaudit diagnose {} --ca ca.crt --protocol mysql   (add --mysql-user NAME, password in TLSAUDIT_MYSQL_PASSWORD, to learn whether plaintext is refused)",
            match &ex.host {
                Some(h) => format!("{h}:4000"),
                None => "HOST:4000".to_string(),
            }
        ),
        _ => format!("tlsaudit diagnose {target} --config tlsaudit.toml {who}"),
    }
}

/// Explain a pasted text (one or more log lines).
pub fn explain(input: &str) -> Explanation {
    let text = input.trim();
    let lower = text.to_ascii_lowercase();
    let ex = extract(text, &lower);
    let mut found: Vec<(&Pattern, String)> = Vec::new();
    for pat in PATTERNS {
        if pat.needles.iter().all(|n| lower.contains(n)) {
            let first = pat.needles[0];
            let matched = lower
                .find(first)
                .and_then(|i| text.get(i..i + first.len()))
                .unwrap_or(first)
                .to_string();
            found.push((pat, matched));
        }
    }
    if found.iter().any(|(p, _)| !p.generic) {
        found.retain(|(p, _)| !p.generic);
    }
    let mut seen = Vec::new();
    let mut matches = Vec::new();
    for (pat, matched) in found {
        let primary = pat.causes[0];
        if seen.contains(&primary) {
            continue;
        }
        seen.push(primary);
        let mut checks = Vec::new();
        for c in pat.causes.iter().take(2) {
            for x in c.checks() {
                if !checks.contains(&x) {
                    checks.push(x);
                }
            }
        }
        matches.push(Match {
            matched,
            source: pat.source.to_string(),
            meaning: pat.meaning.to_string(),
            causes: pat
                .causes
                .iter()
                .map(|c| CauseInfo {
                    cause: *c,
                    title: c.title().to_string(),
                    fact: c.fact(),
                })
                .collect(),
            details: ex.details.clone(),
            checks,
            confirm: confirm(primary, &ex),
        });
    }
    Explanation {
        input: text.to_string(),
        matches,
    }
}

/// What to say when nothing matched.
pub fn unmatched_help(input: &str) -> String {
    let shown: String = input.trim().chars().take(120).collect();
    format!(
        "tlsaudit does not recognise this text: \"{shown}\"\n\
         It knows the TLS errors of TiDB, TiKV, PD, TiFlash and TiCDC, of Go (crypto/tls, crypto/x509, gRPC),\n\
         OpenSSL and rustls, and the SQL ports' MySQL errors (1045, 1130, 2026, 3159), for example:\n\
         \x20 x509: certificate signed by unknown authority\n\
         \x20 x509: certificate is valid for 127.0.0.1, not 10.0.1.5\n\
         \x20 Common name check fail, reason: x509_common_name from peer is tidb\n\
         \x20 remote error: tls: bad certificate / sslv3 alert bad certificate / wrong version number\n\
         \x20 ERROR 3159 (HY000): Connections using insecure transport are prohibited while --require_secure_transport=ON.\n\
         Paste the whole log line (the part after the timestamp is enough), or let tlsaudit probe the link:\n\
         \x20 tlsaudit diagnose HOST:PORT --config tlsaudit.toml --as IDENTITY\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_is_lowercase() {
        for p in PATTERNS {
            for n in p.needles {
                assert_eq!(*n, n.to_ascii_lowercase());
            }
            assert!(!p.causes.is_empty());
        }
    }

    #[test]
    fn specific_beats_generic() {
        let e = explain("rpc error: code = Unavailable desc = connection error: desc = \"transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority\"");
        assert_eq!(e.cause(), Some(Cause::UnknownCa));
        assert_eq!(e.matches.len(), 1);
    }

    #[test]
    fn reads_the_names() {
        let e = explain("x509: certificate is valid for 127.0.0.1, ::1, not 10.0.1.5");
        assert!(e.matches[0]
            .details
            .iter()
            .any(|d| d.ends_with("dialed: 10.0.1.5")));
        assert!(e.matches[0].confirm.contains("10.0.1.5:PORT"));
    }
}
