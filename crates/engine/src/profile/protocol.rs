//! What a role's endpoint speaks after the TLS handshake, as the profile table names it and
//! the probe's check phase speaks it.

use serde::Serialize;

/// What the check phase speaks after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Only wait for the server's verdict on the certificate (TLS 1.3 alert window).
    Tls,
    /// HTTP/1.1 GET of a path; 403 means the CN is refused (TiKV status port).
    Http,
    /// gRPC `grpc.health.v1.Health/Check` over HTTP/2; status 16/7 means the CN is refused.
    Grpc,
    /// MySQL protocol (TiDB 4000, TiProxy 6000): greeting, SSLRequest, TLS, a login inside TLS,
    /// then the same login in plaintext (see docs/sql.md).
    Mysql,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tls => "tls",
            Protocol::Http => "http",
            Protocol::Grpc => "grpc",
            Protocol::Mysql => "mysql",
        }
    }

    /// The ALPN protocols offered by default.
    pub fn default_alpn(self) -> Vec<String> {
        match self {
            Protocol::Tls => vec!["h2".into(), "http/1.1".into()],
            Protocol::Http => vec!["http/1.1".into()],
            Protocol::Grpc => vec!["h2".into()],
            // MySQL clients and servers negotiate no ALPN.
            Protocol::Mysql => Vec::new(),
        }
    }
}
