//! The probe record: everything one (identity, endpoint) attempt observed. Serialized as is
//! into `tlsaudit probe --format json` and into every report cell.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::mysql::report::MysqlReport;
use crate::pki::{IdentityCheck, ServerChain};

/// How a probe ended. The names are stable: reports and exit codes depend on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeClass {
    /// The endpoint admitted this identity (TLS and, where observable, the application).
    Accepted,
    /// Rejected because of the certificate's Common Name (allow-list): a handshake alert
    /// attributable to the CN, gRPC status 16/7, or HTTP 403.
    CnRejected,
    /// Rejected because of the certificate itself: unknown CA, expired, wrong EKU.
    CertRejected,
    /// Rejected because no client certificate was sent.
    CertRequired,
    /// The server's chain does not verify against the CA for the dialed name.
    ServerUntrusted,
    /// The endpoint speaks a plaintext protocol, not TLS.
    Plaintext,
    /// No common TLS version, cipher suite or ALPN protocol.
    TlsMismatch,
    /// TCP connection refused.
    Refused,
    /// A phase ran past its deadline (see `phase`).
    Timeout,
    /// The peer reset the connection.
    Reset,
    /// The peer sent something that is neither TLS nor a known plaintext protocol, or broke
    /// the protocol.
    ProtocolError,
    /// The host name did not resolve.
    ResolveFailed,
    /// The probe could not run because of this host, not the endpoint: it ran out of file
    /// descriptors, local ports or socket buffers, or has no route to the network. Says
    /// nothing about the endpoint.
    Error,
}

impl OutcomeClass {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeClass::Accepted => "accepted",
            OutcomeClass::CnRejected => "cn_rejected",
            OutcomeClass::CertRejected => "cert_rejected",
            OutcomeClass::CertRequired => "cert_required",
            OutcomeClass::ServerUntrusted => "server_untrusted",
            OutcomeClass::Plaintext => "plaintext",
            OutcomeClass::TlsMismatch => "tls_mismatch",
            OutcomeClass::Refused => "refused",
            OutcomeClass::Timeout => "timeout",
            OutcomeClass::Reset => "reset",
            OutcomeClass::ProtocolError => "protocol_error",
            OutcomeClass::ResolveFailed => "resolve_failed",
            OutcomeClass::Error => "error",
        }
    }

    /// The identity was turned away by the endpoint (for whatever reason attributable to it).
    pub fn is_rejection(self) -> bool {
        matches!(
            self,
            OutcomeClass::CnRejected | OutcomeClass::CertRejected | OutcomeClass::CertRequired
        )
    }
}

impl std::fmt::Display for OutcomeClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The phases of a probe. For a `timeout`, the phase tells how far the probe got: `connect`,
/// no TCP connection (nothing answers at the address); `handshake`, the TCP connection was
/// accepted but the TLS handshake (or the MySQL greeting) did not finish (`evidence.no_answer`:
/// the peer sent nothing at all); `check`, TLS done, the application did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Connect,
    Handshake,
    Check,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Handshake => "handshake",
            Phase::Check => "check",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub class: OutcomeClass,
    /// The phase in which the outcome was decided.
    pub phase: Phase,
    /// One sentence an operator reads.
    pub summary: String,
    /// When the server is untrusted but the handshake went through, what the check phase saw
    /// of our identity (accepted, cn_rejected, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<OutcomeClass>,
}

impl Outcome {
    /// An outcome decided in `phase`, with no separate authorization.
    pub fn new(class: OutcomeClass, phase: Phase, summary: impl Into<String>) -> Outcome {
        Outcome {
            class,
            phase,
            summary: summary.into(),
            authorization: None,
        }
    }
}

/// A TLS alert as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEvidence {
    /// `bad_certificate`, `unknown_ca`, ...
    pub name: String,
    pub code: u8,
    /// `handshake`, or `first_read` for one that arrived after the client's handshake had
    /// completed (TLS 1.3 client-certificate rejections).
    pub received: Phase,
}

/// The protocol a peer that does not speak TLS seems to speak, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerProtocol {
    Http1,
    Http2,
    Mysql,
    Ssh,
    Text,
    /// TLS records where another protocol's greeting was expected (a MySQL probe of a TLS port).
    Tls,
    Unknown,
}

impl PeerProtocol {
    /// The stable name in records and reports: `http/1`, `http2`, `mysql`, `ssh`, `text`,
    /// `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerProtocol::Http1 => "http/1",
            PeerProtocol::Http2 => "http2",
            PeerProtocol::Mysql => "mysql",
            PeerProtocol::Ssh => "ssh",
            PeerProtocol::Text => "text",
            PeerProtocol::Tls => "tls",
            PeerProtocol::Unknown => "unknown",
        }
    }

    /// In an operator's words.
    pub fn describe(self) -> &'static str {
        match self {
            PeerProtocol::Http1 => "plain HTTP/1.x",
            PeerProtocol::Http2 => "plaintext HTTP/2 (h2c, gRPC without TLS)",
            PeerProtocol::Mysql => "the MySQL protocol (a server greeting)",
            PeerProtocol::Ssh => "SSH",
            PeerProtocol::Text => "plain text",
            PeerProtocol::Tls => "TLS",
            PeerProtocol::Unknown => "bytes that are neither TLS nor a protocol tlsaudit knows",
        }
    }
}

impl std::fmt::Display for PeerProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl serde::Serialize for PeerProtocol {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for PeerProtocol {
    /// By the stable name; a name this version does not know reads as `unknown`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok([
            PeerProtocol::Http1,
            PeerProtocol::Http2,
            PeerProtocol::Mysql,
            PeerProtocol::Ssh,
            PeerProtocol::Text,
            PeerProtocol::Tls,
        ]
        .into_iter()
        .find(|p| p.as_str() == name)
        .unwrap_or(PeerProtocol::Unknown))
    }
}

/// What the probe saw that decided its outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Evidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertEvidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_status: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The start of the HTTP body (at most 200 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_body: Option<String>,
    /// The io error kind, snake_case (`connection_reset`, `unexpected_eof`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_error: Option<String>,
    /// The TLS library's error text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_error: Option<String>,
    /// What a non-TLS peer sent first (escaped, at most 48 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_bytes: Option<String>,
    /// The protocol the peer was observed to speak where it was not the one the probe
    /// expected: set on every `plaintext` outcome (`http/1`, `http2`, `mysql`, `ssh`, `text`,
    /// `unknown` for bytes of no protocol tlsaudit knows), and `tls` where a MySQL greeting
    /// was expected. Absent: the peer spoke the configured protocol, or sent nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_protocol: Option<PeerProtocol>,
    /// The peer closed the connection without an alert or an answer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub closed_silently: bool,
    /// A `timeout` after the TCP connection was accepted: the peer sent not one byte (no TLS
    /// answer to the ClientHello, no MySQL greeting) before the deadline.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_answer: bool,
    /// TLS 1.3: the server sent a session ticket after our Finished, i.e. it accepted our
    /// certificate at the handshake level.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub session_ticket: bool,
}

/// Negotiated TLS parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsParams {
    /// `TLSv1.3` / `TLSv1.2`.
    pub version: String,
    pub cipher_suite: String,
    pub alpn: Option<String>,
    pub key_exchange: Option<String>,
    pub client_cert_requested: bool,
    pub client_cert_sent: bool,
    /// The CA names the server listed in its CertificateRequest (decoded once per distinct
    /// list and shared by the records that saw it).
    #[serde(serialize_with = "shared", deserialize_with = "unshared_slice")]
    pub ca_hints: crate::pki::chain::CaHints,
}

/// Why a server chain did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UntrustedReason {
    UnknownIssuer,
    IncompleteChain,
    Expired,
    NotYetValid,
    NameMismatch,
    BadEku,
    BadSignature,
    BadEncoding,
    Revoked,
    Other,
}

impl UntrustedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            UntrustedReason::UnknownIssuer => "unknown_issuer",
            UntrustedReason::IncompleteChain => "incomplete_chain",
            UntrustedReason::Expired => "expired",
            UntrustedReason::NotYetValid => "not_yet_valid",
            UntrustedReason::NameMismatch => "name_mismatch",
            UntrustedReason::BadEku => "bad_eku",
            UntrustedReason::BadSignature => "bad_signature",
            UntrustedReason::BadEncoding => "bad_encoding",
            UntrustedReason::Revoked => "revoked",
            UntrustedReason::Other => "other",
        }
    }
}

/// WebPKI's verdict on the server chain for the dialed name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerVerification {
    pub trusted: bool,
    pub server_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<UntrustedReason>,
    /// The reason in words, with the names and dates involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Per-phase durations in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Name resolution and TCP connect.
    pub connect_ms: Option<f64>,
    pub handshake_ms: Option<f64>,
    pub check_ms: Option<f64>,
    pub total_ms: f64,
}

/// The caller as the record shows it. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityReport {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    pub check: IdentityCheck,
}

/// Where the probe went and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetReport {
    pub address: String,
    pub server_name: String,
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub alpn_offered: Vec<String>,
    /// The check run instead of the generic `tls` one, chosen from the ALPN protocol the
    /// server negotiated: `grpc` for `h2`, `http` for `http/1.1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_from_alpn: Option<String>,
}

/// One probe, fully recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRecord {
    pub target: TargetReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_addr: Option<String>,
    /// Shared by every record of the same caller (serialized as the object itself).
    #[serde(serialize_with = "shared", deserialize_with = "unshared")]
    pub identity: Arc<IdentityReport>,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub timings: Timings,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsParams>,
    /// Leaf first. Interned: the records that saw the same chain share one copy
    /// (`pki::ChainCache`); serialized as a plain array.
    #[serde(serialize_with = "shared", deserialize_with = "unshared_slice")]
    pub server_chain: ServerChain,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_verification: Option<ServerVerification>,
    pub outcome: Outcome,
    pub evidence: Evidence,
    /// `mysql`: the greeting, the logins over TLS and in plaintext, and what they prove.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mysql: Option<MysqlReport>,
}

/// Serialize what an `Arc` shares as the value itself (the report's contract does not see the
/// sharing; serde's `rc` feature is not needed for that).
fn shared<T: Serialize + ?Sized, S: serde::Serializer>(
    value: &Arc<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    value.as_ref().serialize(serializer)
}

/// Read back what [`shared`] wrote: the value, in an `Arc` of its own.
fn unshared<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Arc<T>, D::Error> {
    T::deserialize(deserializer).map(Arc::new)
}

/// Read back a shared slice (a chain, CA hints) that [`shared`] wrote as a plain array.
fn unshared_slice<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Arc<[T]>, D::Error> {
    Vec::<T>::deserialize(deserializer).map(Into::into)
}

impl ProbeRecord {
    /// The SHA-256 of the server's leaf certificate, if one was seen.
    pub fn server_fingerprint(&self) -> Option<&str> {
        self.server_chain.first().map(|c| c.sha256.as_str())
    }
}
