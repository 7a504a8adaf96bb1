//! What a lab runs: the endpoints ([`EndpointSpec`]), how each behaves ([`Behavior`]), the
//! server certificate it serves ([`ServerCertKind`]) and the whole lab ([`LabSpec`]).

use std::path::PathBuf;

use serde::Serialize;

use crate::mysql::SqlConfig;

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
    /// Whether the endpoint speaks TLS (a SQL port only when it is configured to).
    pub(crate) fn is_tls(&self) -> bool {
        match self {
            Behavior::TidbSql(c) => c.tls,
            _ => !matches!(
                self,
                Behavior::PlaintextHttp | Behavior::Silent | Behavior::Garbage | Behavior::Reset
            ),
        }
    }

    /// The CN allow-list the behaviour enforces (empty: none).
    pub(crate) fn allowed_cn(&self) -> &[String] {
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

/// Owned copies of `v`.
pub(crate) fn strings(v: &[&str]) -> Vec<String> {
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
