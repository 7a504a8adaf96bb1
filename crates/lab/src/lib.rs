//! An embedded mutual-TLS "cluster" on loopback that imitates the TLS behaviour of TiDB
//! components (PD, TiKV, TiDB, TiFlash), plus endpoints with planted faults.
//!
//! [`Lab::start`] generates a throw-away PKI (ECDSA P-256) into a temporary directory, binds
//! one listener per [`EndpointSpec`] on `127.0.0.1:0` and serves until [`Lab::stop`] or drop.
//! Every accepted connection is counted and its outcome logged as a [`ConnEvent`].
//!
//! Endpoint behaviours (see `shared/docs/tidb-tls-facts.md`; rustls picks the alerts except
//! where noted):
//! - [`EndpointSpec::pd`]: TLS 1.3 only, ALPN `h2`/`http/1.1`, client cert required
//!   (none: `certificate_required`; foreign CA: `unknown_ca`; expired: `certificate_expired`;
//!   no clientAuth EKU: `unsupported_certificate`), a verified leaf CN missing from a
//!   non-empty allow-list gets `bad_certificate` (42), which a TLS 1.3 client only sees on its
//!   first read. Then gRPC over h2 (no CN check) or HTTP/1.1 (`GET` anything: 200 JSON).
//! - [`EndpointSpec::tikv_grpc`] / [`EndpointSpec::tiflash_grpc`]: TLS 1.2/1.3, gRPC C-core
//!   imitation that never sends an alert for a refused client. A chain that fails WebPKI
//!   (foreign CA, expired, no clientAuth EKU) aborts the handshake with the alert swallowed
//!   (TLS 1.3 client: handshake done, then EOF; TLS 1.2 client: EOF inside the handshake).
//!   A missing certificate, or a client not offering `h2` (the handshake then negotiates no
//!   ALPN instead of failing), gets a bare close right after the handshake. Calls:
//!   `grpc.health.v1.Health/Check` answers SERVING, or status 16 with TiKV's message / status
//!   7 "common name check is failed" for an unlisted CN (checked on every call); any other
//!   method answers 12.
//! - [`EndpointSpec::tikv_status`]: TLS 1.2 only, no ALPN, HTTP/1.1. With an allow-list: cert
//!   required, and `403 certificate role error` for an unlisted CN except on `/metrics`,
//!   `/status`, `/config`, `/debug/pprof/profile`. Without: no CertificateRequest, all 200.
//! - [`EndpointSpec::tidb_status`]: TLS 1.2/1.3, ALPN `http/1.1`, `GET /status` 200 JSON;
//!   CertificateRequest (and handshake-level CN check) only when `verify_cn` is non-empty.
//! - [`EndpointSpec::go_tls12`]: a Go `crypto/tls` HTTPS port limited to TLS 1.2 (TiDB and PD
//!   on older settings): an unlisted CN gets `bad_certificate` in the handshake, then a TCP
//!   reset (Go closes with the client's flight unread). Not part of [`LabSpec::standard`].
//! - [`EndpointSpec::tidb_sql`]: TiDB's SQL port (MySQL protocol): `CLIENT_SSL` in the
//!   greeting only with TLS configured, TLS 1.2/1.3 after an SSLRequest, a client certificate
//!   asked for with a client CA and verified only when given; `3159` to a plaintext login
//!   before authentication with `require-secure-transport`; `mysql_native_password` logins to
//!   the configured account, `1045` for anyone else (see [`SqlConfig`]).
//! - [`EndpointSpec::plaintext_http`]: plain HTTP; a TLS record gets Go's `400 Bad Request`.
//! - [`EndpointSpec::silent`], [`EndpointSpec::garbage`], [`EndpointSpec::reset`]: no
//!   answer, 64 non-TLS bytes (first 0x9f), TCP RST.
//!
//! - [`EndpointSpec::without_alpn`]: the endpoint negotiates no ALPN (a Go server without
//!   `NextProtos`); gRPC endpoints then serve HTTP/2 by prior knowledge.
//! - [`ServerCertKind::CnOnly`] / [`ServerCertKind::NoServerEku`]: a legacy server certificate
//!   without SANs, and one without the `serverAuth` EKU.
//!
//! - [`ServerCertKind::Reissued`]: a good certificate re-issued (new key, later notAfter), and
//!   [`Lab::reconfigure`]: change a running endpoint's allow-list or certificate on the same
//!   address, as a config change plus a reload would.
//!
//! TLS session resumption is disabled on every endpoint: each probe gets a full handshake.

mod grpc;
mod http;
mod mysql;
mod pki;
mod server;
mod verify;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::version::{TLS12 as V12, TLS13 as V13};
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

pub use grpc::{percent_encode_grpc_message, HEALTH_CHECK_PATH};
pub use mysql::{SqlAccount, SqlConfig};
pub use pki::{IdentityFiles, LabPki};

use grpc::GrpcPolicy;
use pki::Material;
use server::{EndpointState, Kind, Runtime};
use verify::{LabVerifier, VerifyMode};

/// Errors starting a lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A rustls configuration was refused.
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// The [`LabSpec`] is inconsistent (duplicate or empty names, unknown identity...).
    #[error("invalid lab spec: {0}")]
    Spec(String),
    /// The blocking PKI generation task failed.
    #[error("lab setup task failed: {0}")]
    Task(String),
}

impl LabError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        LabError::Io {
            context: format!("writing {}", path.display()),
            source,
        }
    }
}

impl From<LabError> for std::io::Error {
    fn from(e: LabError) -> Self {
        match e {
            LabError::Io { source, .. } => source,
            other => std::io::Error::other(other),
        }
    }
}

/// Which certificate a TLS endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ServerCertKind {
    /// The component's instance certificate (CN = component, SANs `localhost`, `127.0.0.1`).
    Good,
    /// notAfter was yesterday.
    Expired,
    /// SANs are only `10.255.0.1` and `other.example`.
    WrongSan,
    /// Signed by the unrelated foreign CA.
    UnknownCa,
    /// Issued by an intermediate CA under the lab root; the server sends only the leaf.
    MissingIntermediate,
    /// A legacy certificate with no subjectAltName at all, only `CN=localhost` (Go ignores the
    /// CN: "relies on legacy Common Name field" / "doesn't contain any IP SANs").
    CnOnly,
    /// The good SANs, but the extended key usage is `clientAuth` only (no `serverAuth`).
    NoServerEku,
    /// A re-issued instance certificate: the same CA, CN and SANs as [`ServerCertKind::Good`],
    /// a new key and serial (what a certificate rotation serves). Not a fault.
    Reissued,
}

impl ServerCertKind {
    /// Human description of the planted fault, `None` for [`ServerCertKind::Good`].
    pub fn fault(self) -> Option<&'static str> {
        match self {
            ServerCertKind::Good | ServerCertKind::Reissued => None,
            ServerCertKind::Expired => Some("server certificate expired (notAfter yesterday)"),
            ServerCertKind::WrongSan => Some(
                "server certificate SANs are 10.255.0.1 and other.example only (not localhost/127.0.0.1)",
            ),
            ServerCertKind::UnknownCa => {
                Some("server certificate signed by an unrelated CA (foreign CA)")
            }
            ServerCertKind::MissingIntermediate => Some(
                "server certificate issued by an intermediate CA that the server does not send",
            ),
            ServerCertKind::CnOnly => {
                Some("server certificate has no SANs, only CN=localhost (legacy CN-only)")
            }
            ServerCertKind::NoServerEku => {
                Some("server certificate EKU is clientAuth only (no serverAuth)")
            }
        }
    }
}

/// How an endpoint behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behavior {
    /// PD client port (handshake-level CN check; empty list = no CN check).
    Pd {
        /// Allowed client leaf CNs.
        allowed_cn: Vec<String>,
    },
    /// TiKV gRPC port (C-core: silent close; CN check per call, status 16).
    TikvGrpc {
        /// `cert-allowed-cn`.
        allowed_cn: Vec<String>,
    },
    /// TiFlash gRPC port (like TiKV, status 7).
    TiflashGrpc {
        /// `cert_allowed_cn`.
        allowed_cn: Vec<String>,
    },
    /// TiKV status port (TLS 1.2 only; HTTP 403 "certificate role error").
    TikvStatus {
        /// `cert-allowed-cn`; empty = no client certificate requested.
        allowed_cn: Vec<String>,
    },
    /// TiDB status port (client certificate only when `verify_cn` is non-empty).
    TidbStatus {
        /// `cluster-verify-cn`.
        verify_cn: Vec<String>,
    },
    /// A Go `crypto/tls` status port limited to TLS 1.2 (TiDB and PD on older settings):
    /// the CN check runs in the handshake (`bad_certificate`), then an abortive close (RST), as
    /// Go's close does with the rest of the client's flight unread.
    GoTls12 {
        /// `cluster-verify-cn` / `cert-allowed-cn`.
        verify_cn: Vec<String>,
    },
    /// TiDB SQL port (MySQL protocol).
    TidbSql(SqlConfig),
    /// Plaintext HTTP/1.1 (Go-style 400 to a TLS ClientHello).
    PlaintextHttp,
    /// Accepts TCP, never sends a byte.
    Silent,
    /// Answers 64 non-TLS bytes and closes.
    Garbage,
    /// Accepts and resets (SO_LINGER 0).
    Reset,
}

impl Behavior {
    fn is_tls(&self) -> bool {
        match self {
            Behavior::TidbSql(c) => c.tls,
            _ => !matches!(
                self,
                Behavior::PlaintextHttp | Behavior::Silent | Behavior::Garbage | Behavior::Reset
            ),
        }
    }

    fn allowed_cn(&self) -> &[String] {
        match self {
            Behavior::Pd { allowed_cn }
            | Behavior::TikvGrpc { allowed_cn }
            | Behavior::TiflashGrpc { allowed_cn }
            | Behavior::TikvStatus { allowed_cn } => allowed_cn,
            Behavior::TidbStatus { verify_cn } | Behavior::GoTls12 { verify_cn } => verify_cn,
            _ => &[],
        }
    }
}

/// One endpoint to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSpec {
    /// Unique name within the lab.
    pub name: String,
    /// `pd`, `tikv`, `tidb`, `tiflash`, `ticdc`, `generic`.
    pub component: String,
    /// `client`, `grpc`, `status`, `peer`, `service`...
    pub role: String,
    /// What the endpoint does.
    pub behavior: Behavior,
    /// Which certificate it serves (TLS endpoints only).
    pub server_cert: ServerCertKind,
    /// Whether the server negotiates ALPN at all (default `true`). See
    /// [`EndpointSpec::without_alpn`].
    pub negotiate_alpn: bool,
    /// Serve this certificate chain and PKCS#8 key (PEM files) instead of a generated
    /// certificate. See [`EndpointSpec::with_server_files`].
    pub server_files: Option<(PathBuf, PathBuf)>,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

impl EndpointSpec {
    fn new(name: impl Into<String>, component: &str, role: &str, behavior: Behavior) -> Self {
        Self {
            name: name.into(),
            component: component.to_owned(),
            role: role.to_owned(),
            behavior,
            server_cert: ServerCertKind::Good,
            negotiate_alpn: true,
            server_files: None,
        }
    }

    /// PD client port with `cert-allowed-cn` (empty = no CN check).
    pub fn pd(name: impl Into<String>, allowed_cn: &[&str]) -> Self {
        Self::new(
            name,
            "pd",
            "client",
            Behavior::Pd {
                allowed_cn: strings(allowed_cn),
            },
        )
    }

    /// TiKV gRPC port with `cert-allowed-cn` (empty = no CN check).
    pub fn tikv_grpc(name: impl Into<String>, allowed_cn: &[&str]) -> Self {
        Self::new(
            name,
            "tikv",
            "grpc",
            Behavior::TikvGrpc {
                allowed_cn: strings(allowed_cn),
            },
        )
    }

    /// TiKV status port with `cert-allowed-cn` (empty = no client cert requested).
    pub fn tikv_status(name: impl Into<String>, allowed_cn: &[&str]) -> Self {
        Self::new(
            name,
            "tikv",
            "status",
            Behavior::TikvStatus {
                allowed_cn: strings(allowed_cn),
            },
        )
    }

    /// TiDB status port with `cluster-verify-cn` (empty = no client cert requested).
    pub fn tidb_status(name: impl Into<String>, verify_cn: &[&str]) -> Self {
        Self::new(
            name,
            "tidb",
            "status",
            Behavior::TidbStatus {
                verify_cn: strings(verify_cn),
            },
        )
    }

    /// A Go `crypto/tls` HTTPS port limited to TLS 1.2 that refuses a CN outside `verify_cn`
    /// in the handshake with `bad_certificate` and resets the connection (see
    /// [`Behavior::GoTls12`]); `GET /status` answers 200.
    pub fn go_tls12(name: impl Into<String>, verify_cn: &[&str]) -> Self {
        Self::new(
            name,
            "tidb",
            "status",
            Behavior::GoTls12 {
                verify_cn: strings(verify_cn),
            },
        )
    }

    /// TiFlash gRPC port with `cert_allowed_cn` (CN refusal is status 7).
    pub fn tiflash_grpc(name: impl Into<String>, allowed_cn: &[&str]) -> Self {
        Self::new(
            name,
            "tiflash",
            "grpc",
            Behavior::TiflashGrpc {
                allowed_cn: strings(allowed_cn),
            },
        )
    }

    /// TiDB SQL port (MySQL protocol) configured as `config` says.
    pub fn tidb_sql(name: impl Into<String>, config: SqlConfig) -> Self {
        Self::new(name, "tidb", "sql", Behavior::TidbSql(config))
    }

    /// Plaintext HTTP/1.1 server.
    pub fn plaintext_http(name: impl Into<String>) -> Self {
        Self::new(name, "generic", "service", Behavior::PlaintextHttp)
    }

    /// Accepts and never speaks.
    pub fn silent(name: impl Into<String>) -> Self {
        Self::new(name, "generic", "service", Behavior::Silent)
    }

    /// Answers non-TLS bytes.
    pub fn garbage(name: impl Into<String>) -> Self {
        Self::new(name, "generic", "service", Behavior::Garbage)
    }

    /// Accepts and resets.
    pub fn reset(name: impl Into<String>) -> Self {
        Self::new(name, "generic", "service", Behavior::Reset)
    }

    /// Serve `kind` instead of the good certificate (ignored by non-TLS endpoints).
    pub fn with_server_cert(mut self, kind: ServerCertKind) -> Self {
        self.server_cert = kind;
        self
    }

    /// Serve the certificate chain in `cert` and the PKCS#8 key in `key` (PEM files, e.g.
    /// issued by `tlsaudit init` from the lab CA) instead of a generated certificate, as a
    /// server configured with those files would. Callers still verify it against the lab CA.
    pub fn with_server_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.server_files = Some((cert.into(), key.into()));
        self
    }

    /// Override the component name (it is also the CN of the server certificate).
    pub fn with_component(mut self, component: &str) -> Self {
        self.component = component.to_owned();
        self
    }

    /// Override the role.
    pub fn with_role(mut self, role: &str) -> Self {
        self.role = role.to_owned();
        self
    }

    /// The server negotiates no ALPN protocol, whatever the client offers, like a Go server
    /// without `NextProtos` (TiDB's status port before 2025, served through cmux). gRPC
    /// endpoints then serve HTTP/2 by prior knowledge instead of closing: a prober gets its
    /// answer, but real gRPC callers (grpc-go >= 1.67, C-core) refuse the connection with
    /// "missing selected ALPN property".
    pub fn without_alpn(mut self) -> Self {
        self.negotiate_alpn = false;
        self
    }
}

/// The endpoints of a lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabSpec {
    /// Cluster name (the `client` identity's CN is `<cluster>-client`).
    pub cluster: String,
    /// Endpoints, in order.
    pub endpoints: Vec<EndpointSpec>,
}

impl Default for LabSpec {
    fn default() -> Self {
        Self::new("lab")
    }
}

impl LabSpec {
    /// An empty spec for `cluster`.
    pub fn new(cluster: impl Into<String>) -> Self {
        Self {
            cluster: cluster.into(),
            endpoints: Vec::new(),
        }
    }

    /// Add an endpoint.
    pub fn with(mut self, endpoint: EndpointSpec) -> Self {
        self.endpoints.push(endpoint);
        self
    }

    /// One endpoint of each kind (cluster `lab`):
    /// `pd-1`, `tikv-1`, `tikv-1-status`, `tikv-open-status`, `tidb-1-status`,
    /// `tidb-2-status`, `tiflash-1`, `bad-expired`, `bad-san`, `bad-ca`, `bad-chain`,
    /// `plain-http`, `silent`, `garbage`, `reset`.
    pub fn standard() -> Self {
        Self::new("lab")
            .with(EndpointSpec::pd("pd-1", &["pd", "tidb", "tikv"]))
            .with(EndpointSpec::tikv_grpc("tikv-1", &["tidb", "pd", "tikv"]))
            .with(EndpointSpec::tikv_status(
                "tikv-1-status",
                &["tidb", "pd", "tikv"],
            ))
            .with(EndpointSpec::tikv_status("tikv-open-status", &[]))
            .with(EndpointSpec::tidb_status(
                "tidb-1-status",
                &["tidb", "lab-client"],
            ))
            .with(EndpointSpec::tidb_status("tidb-2-status", &[]))
            .with(EndpointSpec::tiflash_grpc("tiflash-1", &["tidb", "tikv"]))
            .with(EndpointSpec::pd("bad-expired", &[]).with_server_cert(ServerCertKind::Expired))
            .with(EndpointSpec::pd("bad-san", &[]).with_server_cert(ServerCertKind::WrongSan))
            .with(EndpointSpec::pd("bad-ca", &[]).with_server_cert(ServerCertKind::UnknownCa))
            .with(
                EndpointSpec::pd("bad-chain", &[])
                    .with_server_cert(ServerCertKind::MissingIntermediate),
            )
            .with(EndpointSpec::plaintext_http("plain-http"))
            .with(EndpointSpec::silent("silent"))
            .with(EndpointSpec::garbage("garbage"))
            .with(EndpointSpec::reset("reset"))
    }
}

/// A running endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabEndpoint {
    /// Name from the spec.
    pub name: String,
    /// Component from the spec.
    pub component: String,
    /// Role from the spec.
    pub role: String,
    /// Where it listens (127.0.0.1, ephemeral port).
    pub addr: SocketAddr,
    /// The name to verify the server certificate against (`localhost`; `127.0.0.1` works too).
    pub server_name: String,
    /// The CN allow-list (`cert-allowed-cn` / `cluster-verify-cn`); empty = none.
    pub allowed_cn: Vec<String>,
    /// `"tls"` (speaks nothing useful), `"http"` (HTTPS), `"grpc"` (gRPC over TLS, h2),
    /// `"mysql"` (MySQL protocol, TLS in-band) or `"plaintext"` (plain HTTP).
    pub protocol: &'static str,
    /// Default probe path: the HTTP path for `http`/`plaintext`, the gRPC method path
    /// ([`HEALTH_CHECK_PATH`]) for `grpc`.
    pub path: Option<String>,
    /// Human description of a planted fault.
    pub fault: Option<String>,
    /// TLS versions served (`"TLSv1.2"`, `"TLSv1.3"`); empty for non-TLS endpoints.
    pub tls_versions: Vec<&'static str>,
    /// ALPN protocols the server selects from.
    pub alpn: Vec<String>,
    /// Whether the server sends a CertificateRequest.
    pub requests_client_cert: bool,
    /// Where the CN allow-list is enforced: `"handshake"`, `"application"` or `"none"`.
    pub cn_check: &'static str,
}

/// One logged connection outcome. gRPC connections log one event per call (all with the
/// same `conn_id`); an h2 connection that closes without a call logs `accepted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnEvent {
    /// 1-based number of the TCP connection on its endpoint.
    pub conn_id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Leaf CN of the client certificate, when one was presented (also for refused ones).
    pub client_cn: Option<String>,
    /// Negotiated version (`TLSv1.2`/`TLSv1.3`), when the handshake completed.
    pub tls_version: Option<String>,
    /// Negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// SNI sent by the client.
    pub sni: Option<String>,
    /// HTTP path or gRPC method, when a request was read.
    pub path: Option<String>,
    /// What the lab did: `http_status:<n>`, `grpc_status:<n>`,
    /// `handshake_rejected:<reason>` (the lab refused; rustls sent its alert),
    /// `closed_silently:<reason>` (refused without alert, gRPC C-core style),
    /// `handshake_failed:<reason>` (client alert, EOF, timeout, non-TLS bytes),
    /// `accepted`, `http_no_request:<reason>`, `h2_failed`, `grpc_aborted`,
    /// `silent`, `garbage_sent`, `reset`; SQL endpoints: `sql_error:3159` (plaintext refused
    /// before authentication), `sql_error:1045` (access denied; `path` is the user),
    /// `sql_login:tls` / `sql_login:plaintext`, `sql_no_request:<reason>`, `sql_malformed`.
    pub decision: String,
    /// Free-form detail (error text, gRPC message).
    pub detail: Option<String>,
    /// When the event was recorded.
    pub at: SystemTime,
}

/// A running lab. Dropping it aborts every listener and connection task.
pub struct Lab {
    cluster: String,
    dir: tempfile::TempDir,
    material: Material,
    provider: Arc<CryptoProvider>,
    endpoints: Vec<LabEndpoint>,
    states: Vec<Arc<EndpointState>>,
    /// The behaviour each listener serves new connections with.
    runtimes: Vec<watch::Sender<Arc<Runtime>>>,
    specs: Vec<EndpointSpec>,
    roots: Arc<RootCertStore>,
    index: HashMap<String, usize>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("cluster", &self.cluster)
            .field("dir", &self.dir.path())
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

const TLS12: &str = "TLSv1.2";
const TLS13: &str = "TLSv1.3";

struct Prepared {
    endpoint: LabEndpoint,
    kind: Kind,
}

fn server_config(
    provider: &Arc<CryptoProvider>,
    versions: &[&'static SupportedProtocolVersion],
    verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    cert: &pki::CertAndKey,
    alpn: &[&str],
) -> Result<Arc<ServerConfig>, LabError> {
    let builder =
        ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(versions)?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(cert.chain.clone(), cert.key())?;
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    // Like Go's crypto/tls and OpenSSL, send (stateless) TLS 1.3 session tickets after the
    // client's Finished. Nothing is cached server side, and the prober never resumes, so every
    // probe still gets a full handshake and a full client-certificate check.
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
    config.send_tls13_tickets = 1;
    Ok(Arc::new(config))
}

/// The ALPN protocols an endpoint serves: `default`, or none with
/// [`EndpointSpec::without_alpn`].
fn alpn_or_none<'a>(spec: &EndpointSpec, default: Vec<&'a str>) -> Vec<&'a str> {
    if spec.negotiate_alpn {
        default
    } else {
        Vec::new()
    }
}

/// The inputs every behaviour shares when it builds the server side of one endpoint.
struct PrepareCtx<'a> {
    spec: &'a EndpointSpec,
    material: &'a Material,
    provider: &'a Arc<CryptoProvider>,
    roots: &'a Arc<RootCertStore>,
}

/// What one behaviour serves: the listener kind and the facts the endpoint reports about it.
struct Served {
    kind: Kind,
    protocol: &'static str,
    path: Option<&'static str>,
    tls_versions: Vec<&'static str>,
    alpn: Vec<&'static str>,
    requests_client_cert: bool,
    cn_check: &'static str,
    /// Replaces the server certificate's fault when set.
    fault: Option<String>,
}

impl Served {
    /// A behaviour that is a fault in itself: no TLS versions, no ALPN, no client certificate
    /// and no CN check.
    fn faulty(
        kind: Kind,
        protocol: &'static str,
        path: Option<&'static str>,
        fault: &str,
    ) -> Served {
        Served {
            kind,
            protocol,
            path,
            tls_versions: vec![],
            alpn: vec![],
            requests_client_cert: false,
            cn_check: "none",
            fault: Some(fault.into()),
        }
    }
}

/// The CN check an endpoint reports: `"none"` without allowed CNs, `stage` otherwise.
fn cn_check_stage(allowed: &[String], stage: &'static str) -> &'static str {
    if allowed.is_empty() {
        "none"
    } else {
        stage
    }
}

impl PrepareCtx<'_> {
    /// The server certificate of the endpoint.
    fn cert(&self) -> Result<&pki::CertAndKey, LabError> {
        if let Some((cert, _)) = &self.spec.server_files {
            return self
                .material
                .loaded
                .get(cert)
                .ok_or_else(|| LabError::Spec(format!("{} is not loaded", cert.display())));
        }
        let cert_key = (self.spec.component.clone(), self.spec.server_cert);
        self.material.servers.get(&cert_key).ok_or_else(|| {
            LabError::Spec(format!(
                "no server certificate for endpoint {}",
                self.spec.name
            ))
        })
    }

    /// A lab client-certificate verifier over the lab roots.
    fn lab_verifier(
        &self,
        mode: VerifyMode,
    ) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, LabError> {
        let webpki =
            WebPkiClientVerifier::builder_with_provider(self.roots.clone(), self.provider.clone())
                .build()?;
        let v: Arc<dyn rustls::server::danger::ClientCertVerifier> =
            Arc::new(LabVerifier::new(webpki, mode));
        Ok(v)
    }

    /// A server configuration with the endpoint's certificate.
    fn config(
        &self,
        versions: &[&'static SupportedProtocolVersion],
        verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
        alpn: &[&str],
    ) -> Result<Arc<ServerConfig>, LabError> {
        server_config(self.provider, versions, verifier, self.cert()?, alpn)
    }

    /// PD client port: TLS 1.3 only, handshake-level CN check.
    fn pd(&self, allowed_cn: &[String]) -> Result<Served, LabError> {
        let alpn = alpn_or_none(self.spec, vec!["h2", "http/1.1"]);
        let verifier = self.lab_verifier(VerifyMode::Alert {
            allowed: allowed_cn.to_vec(),
        })?;
        let cfg = self.config(&[&V13], Some(verifier), &alpn)?;
        Ok(Served {
            kind: Kind::Pd {
                acceptor: TlsAcceptor::from(cfg),
            },
            protocol: "http",
            path: Some("/pd/api/v1/version"),
            tls_versions: vec![TLS13],
            alpn,
            requests_client_cert: true,
            cn_check: cn_check_stage(allowed_cn, "handshake"),
            fault: None,
        })
    }

    /// TiKV and TiFlash gRPC ports: silent verifier, CN check per call.
    fn grpc(&self, allowed_cn: &[String]) -> Result<Served, LabError> {
        let verifier = self.lab_verifier(VerifyMode::Silent)?;
        let served_alpn = alpn_or_none(self.spec, vec!["h2"]);
        let with_h2 = self.config(&[&V12, &V13], Some(verifier.clone()), &served_alpn)?;
        let no_alpn = self.config(&[&V12, &V13], Some(verifier), &[])?;
        let policy = match &self.spec.behavior {
            Behavior::TikvGrpc { .. } => GrpcPolicy::Tikv {
                allowed: allowed_cn.to_vec(),
            },
            _ => GrpcPolicy::Tiflash {
                allowed: allowed_cn.to_vec(),
            },
        };
        Ok(Served {
            kind: Kind::Grpc {
                with_h2,
                no_alpn,
                policy: Arc::new(policy),
                require_h2: self.spec.negotiate_alpn,
            },
            protocol: "grpc",
            path: Some(HEALTH_CHECK_PATH),
            tls_versions: vec![TLS12, TLS13],
            alpn: served_alpn,
            requests_client_cert: true,
            cn_check: cn_check_stage(allowed_cn, "application"),
            fault: None,
        })
    }

    /// TiKV status port: TLS 1.2 only, client certificate only with allowed CNs.
    fn tikv_status(&self, allowed_cn: &[String]) -> Result<Served, LabError> {
        let verifier = if allowed_cn.is_empty() {
            None
        } else {
            Some(self.lab_verifier(VerifyMode::Alert { allowed: vec![] })?)
        };
        let cfg = self.config(&[&V12], verifier, &[])?;
        Ok(Served {
            kind: Kind::TikvStatus {
                acceptor: TlsAcceptor::from(cfg),
                allowed: allowed_cn.to_vec(),
            },
            protocol: "http",
            path: Some("/engine_type"),
            tls_versions: vec![TLS12],
            alpn: vec![],
            requests_client_cert: !allowed_cn.is_empty(),
            cn_check: cn_check_stage(allowed_cn, "application"),
            fault: None,
        })
    }

    /// TiDB status port: client certificate only with `verify_cn`.
    fn tidb_status(&self, verify_cn: &[String]) -> Result<Served, LabError> {
        let verifier = if verify_cn.is_empty() {
            None
        } else {
            Some(self.lab_verifier(VerifyMode::Alert {
                allowed: verify_cn.to_vec(),
            })?)
        };
        let alpn = alpn_or_none(self.spec, vec!["http/1.1"]);
        let cfg = self.config(&[&V12, &V13], verifier, &alpn)?;
        Ok(Served {
            kind: Kind::TidbStatus {
                acceptor: TlsAcceptor::from(cfg),
            },
            protocol: "http",
            path: Some("/status"),
            tls_versions: vec![TLS12, TLS13],
            alpn,
            requests_client_cert: !verify_cn.is_empty(),
            cn_check: cn_check_stage(verify_cn, "handshake"),
            fault: None,
        })
    }

    /// Go TLS 1.2 status port: handshake-level CN check, abortive close on a refusal.
    fn go_tls12(&self, verify_cn: &[String]) -> Result<Served, LabError> {
        let verifier = self.lab_verifier(VerifyMode::Alert {
            allowed: verify_cn.to_vec(),
        })?;
        let cfg = self.config(&[&V12], Some(verifier), &[])?;
        Ok(Served {
            kind: Kind::GoTls12 {
                acceptor: TlsAcceptor::from(cfg),
            },
            protocol: "http",
            path: Some("/status"),
            tls_versions: vec![TLS12],
            alpn: vec![],
            requests_client_cert: true,
            cn_check: cn_check_stage(verify_cn, "handshake"),
            fault: None,
        })
    }

    /// TiDB SQL port: TLS optional per `config`, optional client certificate.
    fn tidb_sql(&self, config: &SqlConfig) -> Result<Served, LabError> {
        let mut fault = None;
        let acceptor = if config.tls {
            let verifier = if config.client_ca {
                Some(self.lab_verifier(VerifyMode::Optional)?)
            } else {
                None
            };
            let cfg = self.config(&[&V12, &V13], verifier, &[])?;
            Some(TlsAcceptor::from(cfg))
        } else {
            fault = Some("the SQL port offers no TLS (no ssl-cert/ssl-key)".into());
            None
        };
        if config.tls && !config.require_secure_transport {
            fault = Some(
                "require-secure-transport is off: plaintext logins reach authentication".into(),
            );
        }
        Ok(Served {
            kind: Kind::TidbSql {
                acceptor,
                config: Arc::new(config.clone()),
            },
            protocol: "mysql",
            path: None,
            tls_versions: if config.tls {
                vec![TLS12, TLS13]
            } else {
                vec![]
            },
            alpn: vec![],
            requests_client_cert: config.tls && config.client_ca,
            cn_check: "none",
            fault,
        })
    }

    /// What the endpoint's behaviour serves.
    fn served(&self) -> Result<Served, LabError> {
        Ok(match &self.spec.behavior {
            Behavior::Pd { allowed_cn } => self.pd(allowed_cn)?,
            Behavior::TikvGrpc { allowed_cn } | Behavior::TiflashGrpc { allowed_cn } => {
                self.grpc(allowed_cn)?
            }
            Behavior::TikvStatus { allowed_cn } => self.tikv_status(allowed_cn)?,
            Behavior::TidbStatus { verify_cn } => self.tidb_status(verify_cn)?,
            Behavior::GoTls12 { verify_cn } => self.go_tls12(verify_cn)?,
            Behavior::TidbSql(config) => self.tidb_sql(config)?,
            Behavior::PlaintextHttp => Served::faulty(
                Kind::Plaintext,
                "plaintext",
                Some("/"),
                "plaintext HTTP, no TLS",
            ),
            Behavior::Silent => Served::faulty(
                Kind::Silent,
                "tls",
                None,
                "accepts TCP and never sends a byte",
            ),
            Behavior::Garbage => Served::faulty(
                Kind::Garbage,
                "tls",
                None,
                "answers 64 bytes of non-TLS data, then closes",
            ),
            Behavior::Reset => Served::faulty(
                Kind::Reset,
                "tls",
                None,
                "accepts, then resets the connection (TCP RST)",
            ),
        })
    }
}

fn prepare(
    spec: &EndpointSpec,
    addr: SocketAddr,
    material: &Material,
    provider: &Arc<CryptoProvider>,
    roots: &Arc<RootCertStore>,
) -> Result<Prepared, LabError> {
    let ctx = PrepareCtx {
        spec,
        material,
        provider,
        roots,
    };
    let allowed = spec.behavior.allowed_cn().to_vec();
    let mut fault = if spec.behavior.is_tls() {
        spec.server_cert.fault().map(str::to_owned)
    } else {
        None
    };
    let served = ctx.served()?;
    if let Some(behavior_fault) = served.fault {
        fault = Some(behavior_fault);
    }
    if !spec.negotiate_alpn && spec.behavior.is_tls() && fault.is_none() {
        fault =
            Some("negotiates no ALPN (gRPC callers refuse: missing selected ALPN property)".into());
    }
    Ok(Prepared {
        endpoint: LabEndpoint {
            name: spec.name.clone(),
            component: spec.component.clone(),
            role: spec.role.clone(),
            addr,
            server_name: "localhost".to_owned(),
            allowed_cn: allowed,
            protocol: served.protocol,
            path: served.path.map(str::to_owned),
            fault,
            tls_versions: served.tls_versions,
            alpn: served.alpn.into_iter().map(str::to_owned).collect(),
            requests_client_cert: served.requests_client_cert,
            cn_check: served.cn_check,
        },
        kind: served.kind,
    })
}

impl Lab {
    /// Generate the PKI, bind every endpoint and start serving. Must be called inside a tokio
    /// runtime. PKI generation and file writes run on the blocking pool.
    pub async fn start(spec: LabSpec) -> Result<Lab, LabError> {
        let mut seen = HashSet::new();
        for ep in &spec.endpoints {
            if ep.name.is_empty() {
                return Err(LabError::Spec("empty endpoint name".into()));
            }
            if !seen.insert(ep.name.as_str()) {
                return Err(LabError::Spec(format!(
                    "duplicate endpoint name {}",
                    ep.name
                )));
            }
        }
        if spec.cluster.is_empty() {
            return Err(LabError::Spec("empty cluster name".into()));
        }

        let needed: Vec<(String, ServerCertKind)> = spec
            .endpoints
            .iter()
            .filter(|e| e.behavior.is_tls())
            .map(|e| (e.component.clone(), e.server_cert))
            .collect();
        let cluster = spec.cluster.clone();
        let (dir, material) = tokio::task::spawn_blocking(move || {
            let dir = tempfile::Builder::new()
                .prefix("tlsaudit-lab-")
                .tempdir()
                .map_err(|e| LabError::Io {
                    context: "creating the lab directory".into(),
                    source: e,
                })?;
            let material = pki::generate(dir.path(), &cluster, &needed)?;
            Ok::<_, LabError>((dir, material))
        })
        .await
        .map_err(|e| LabError::Task(e.to_string()))??;

        let mut material = material;
        for ep in &spec.endpoints {
            if let Some((cert, key)) = &ep.server_files {
                material.load_server_files(cert, key)?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(material.ca_der.clone())?;
        let roots = Arc::new(roots);

        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut lab = Lab {
            cluster: spec.cluster.clone(),
            dir,
            material,
            provider,
            endpoints: Vec::with_capacity(spec.endpoints.len()),
            states: Vec::with_capacity(spec.endpoints.len()),
            runtimes: Vec::with_capacity(spec.endpoints.len()),
            specs: spec.endpoints.clone(),
            roots: roots.clone(),
            index: HashMap::with_capacity(spec.endpoints.len()),
            shutdown,
            tasks: Vec::with_capacity(spec.endpoints.len()),
        };
        // On any error below, dropping `lab` aborts what was already started.
        for ep in &spec.endpoints {
            let listener = TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|e| LabError::Io {
                    context: format!("binding endpoint {}", ep.name),
                    source: e,
                })?;
            let addr = listener.local_addr().map_err(|e| LabError::Io {
                context: format!("local address of endpoint {}", ep.name),
                source: e,
            })?;
            let prepared = prepare(ep, addr, &lab.material, &lab.provider, &roots)?;
            let state = Arc::new(EndpointState::default());
            let rt = Arc::new(Runtime {
                kind: prepared.kind,
                state: state.clone(),
            });
            let (runtime, current) = watch::channel(rt);
            lab.tasks.push(tokio::spawn(server::accept_loop(
                listener,
                current,
                shutdown_rx.clone(),
            )));
            lab.runtimes.push(runtime);
            lab.index.insert(ep.name.clone(), lab.endpoints.len());
            lab.endpoints.push(prepared.endpoint);
            lab.states.push(state);
        }
        tracing::info!(
            endpoints = lab.endpoints.len(),
            dir = %lab.dir.path().display(),
            "lab started"
        );
        Ok(lab)
    }

    /// The cluster name.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// Running endpoints, in spec order.
    pub fn endpoints(&self) -> &[LabEndpoint] {
        &self.endpoints
    }

    /// A running endpoint by name.
    pub fn endpoint(&self, name: &str) -> Option<&LabEndpoint> {
        self.index.get(name).map(|&i| &self.endpoints[i])
    }

    /// The PEM files of the lab PKI.
    pub fn pki(&self) -> &LabPki {
        &self.material.files
    }

    /// The lab's temporary directory (removed when the lab is dropped).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn state(&self, name: &str) -> Option<&Arc<EndpointState>> {
        self.index.get(name).map(|&i| &self.states[i])
    }

    /// TCP connections accepted so far by endpoint `name` (0 for an unknown name).
    pub fn connections(&self, name: &str) -> u64 {
        self.state(name)
            .map_or(0, |s| s.connections.load(Ordering::Relaxed))
    }

    /// The connection log of endpoint `name` (the last 1000 events, oldest first).
    pub fn events(&self, name: &str) -> Vec<ConnEvent> {
        self.state(name).map(|s| s.events()).unwrap_or_default()
    }

    /// Wait until endpoint `name` has logged at least `count` events (events are logged by
    /// the server task, possibly just after the client saw the outcome), or `timeout` passes.
    /// Returns the log as it then is.
    pub async fn wait_events(&self, name: &str, count: usize, timeout: Duration) -> Vec<ConnEvent> {
        let Some(state) = self.state(name) else {
            return Vec::new();
        };
        let deadline = tokio::time::Instant::now() + timeout;
        while state.event_count() < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        state.events()
    }

    /// A root store holding the lab CA.
    pub fn root_store(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        // The CA was accepted once already at start.
        let _ = roots.add(self.material.ca_der.clone());
        roots
    }

    /// A client configuration (TLS 1.2 and 1.3, no ALPN) trusting the lab CA and presenting
    /// the lab identity `identity` (see [`LabPki::identities`]), or no certificate for `None`.
    pub fn client_config(&self, identity: Option<&str>) -> Result<rustls::ClientConfig, LabError> {
        self.client_config_versions(
            identity,
            &[&rustls::version::TLS12, &rustls::version::TLS13],
        )
    }

    /// Like [`Lab::client_config`], restricted to `versions`.
    pub fn client_config_versions(
        &self,
        identity: Option<&str>,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Result<rustls::ClientConfig, LabError> {
        let builder = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(versions)?
            .with_root_certificates(self.root_store());
        Ok(match identity {
            None => builder.with_no_client_auth(),
            Some(name) => {
                let id = self
                    .material
                    .identities
                    .get(name)
                    .ok_or_else(|| LabError::Spec(format!("unknown lab identity {name}")))?;
                builder.with_client_auth_cert(id.chain.clone(), id.key())?
            }
        })
    }

    /// The spec an endpoint runs with now (as started, or as last reconfigured).
    pub fn spec(&self, name: &str) -> Option<&EndpointSpec> {
        self.index.get(name).map(|&i| &self.specs[i])
    }

    /// Change a running endpoint, as an operator's config change plus a reload would: the
    /// endpoint named `spec.name` keeps its address, counters and log, and serves every new
    /// connection with the new behaviour and server certificate (issued now if the lab has
    /// none of that kind yet, e.g. [`ServerCertKind::Reissued`] for a rotation).
    /// Connections already open finish with the old behaviour.
    pub fn reconfigure(&mut self, spec: EndpointSpec) -> Result<(), LabError> {
        let Some(&i) = self.index.get(&spec.name) else {
            return Err(LabError::Spec(format!("no endpoint named {}", spec.name)));
        };
        if spec.behavior.is_tls() {
            // One P-256 key and signature: about a millisecond, fine on the async thread.
            self.material
                .ensure_server(&spec.component, spec.server_cert)?;
            if let Some((cert, key)) = &spec.server_files {
                self.material.load_server_files(cert, key)?;
            }
        }
        let addr = self.endpoints[i].addr;
        let prepared = prepare(&spec, addr, &self.material, &self.provider, &self.roots)?;
        let rt = Arc::new(Runtime {
            kind: prepared.kind,
            state: self.states[i].clone(),
        });
        self.runtimes[i].send_replace(rt);
        self.endpoints[i] = prepared.endpoint;
        tracing::info!(endpoint = %spec.name, "lab endpoint reconfigured");
        self.specs[i] = spec;
        Ok(())
    }

    /// Stop every listener and connection task, and wait for them to finish.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        tracing::info!(cluster = %self.cluster, "lab stopped");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        // Aborting an accept loop drops its JoinSet, which aborts its connection tasks.
        for task in &self.tasks {
            task.abort();
        }
    }
}
