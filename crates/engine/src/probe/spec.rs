//! Where and how to probe: the address, the server name, the check protocol
//! ([`Protocol`], from the profile table), ALPN, TLS versions, the phases' deadlines and a SQL
//! port's audit account; and the address helpers (`host:port`).

use std::time::Duration;

use serde::Serialize;

use super::mysql::account::MysqlAccount;
use crate::profile::Protocol;

/// Which TLS versions to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum TlsVersions {
    #[default]
    #[cfg_attr(feature = "clap", value(name = "any"))]
    Any,
    #[cfg_attr(feature = "clap", value(name = "1.2"))]
    Tls12,
    #[cfg_attr(feature = "clap", value(name = "1.3"))]
    Tls13,
}

/// Deadlines of the phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub handshake: Duration,
    pub check: Duration,
    /// How long the `tls` check waits for a TLS 1.3 rejection when the server sends no session
    /// ticket.
    pub alert_window: Duration,
    /// The whole probe, phases and drains included (a MySQL probe's plaintext login too):
    /// whatever the peer does, a probe ends within this.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(3),
            handshake: Duration::from_secs(5),
            check: Duration::from_secs(5),
            alert_window: Duration::from_millis(500),
            total: Duration::from_secs(15),
        }
    }
}

/// The longest timeout accepted from a config or a flag: one hour. Far past any useful probe,
/// and far from the overflow of a clock's `Instant` (a deadline past it panics in the timer).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

impl Timeouts {
    /// Every phase bounded by one figure; the whole probe by three of them. A figure past
    /// [`MAX_TIMEOUT`] is taken as [`MAX_TIMEOUT`] (the loaders refuse it with a message).
    pub fn uniform(d: Duration) -> Self {
        let d = d.min(MAX_TIMEOUT);
        Timeouts {
            connect: d,
            handshake: d,
            check: d,
            alert_window: d.min(Duration::from_millis(500)),
            total: d.saturating_mul(3),
        }
    }
}

/// Where and how to probe.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    /// `host:port`.
    pub address: String,
    /// The name to verify the server certificate for; defaults to the host part of `address`.
    pub server_name: Option<String>,
    pub protocol: Protocol,
    /// HTTP path (`http`) or gRPC method path (`grpc`).
    pub path: Option<String>,
    /// ALPN protocols to offer; defaults by protocol. An empty list offers none.
    pub alpn: Option<Vec<String>>,
    pub versions: TlsVersions,
    pub timeouts: Timeouts,
    /// `mysql`: the audit account to log in with (else a made-up user).
    pub mysql_account: Option<MysqlAccount>,
    /// `mysql`: also try the login in plaintext on a second connection (default true).
    pub mysql_plaintext: bool,
}

impl ProbeSpec {
    pub fn new(address: impl Into<String>, protocol: Protocol) -> Self {
        ProbeSpec {
            address: address.into(),
            server_name: None,
            protocol,
            path: None,
            alpn: None,
            versions: TlsVersions::Any,
            timeouts: Timeouts::default(),
            mysql_account: None,
            mysql_plaintext: true,
        }
    }

    pub fn host(&self) -> &str {
        host_of(&self.address)
    }

    pub fn server_name(&self) -> String {
        self.server_name
            .clone()
            .unwrap_or_else(|| self.host().to_string())
    }

    pub fn alpn_offered(&self) -> Vec<String> {
        self.alpn
            .clone()
            .unwrap_or_else(|| self.protocol.default_alpn())
    }
}

/// The host part of `host:port` (brackets of an IPv6 literal removed).
pub fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Check that an address is `host:port` with a numeric port.
pub fn validate_address(address: &str) -> Result<(), String> {
    let Some((h, p)) = address.rsplit_once(':') else {
        return Err(format!("{address:?} is not HOST:PORT (no port)"));
    };
    if h.is_empty() {
        return Err(format!("{address:?} is not HOST:PORT (no host)"));
    }
    match p.parse::<u64>() {
        Ok(0) => Err(format!(
            "{address:?}: port 0 cannot be dialed (ports are 1-65535)"
        )),
        Ok(n) if n > u64::from(u16::MAX) => Err(format!(
            "{address:?}: port {n} is out of range (ports are 1-65535)"
        )),
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "{address:?} is not HOST:PORT ({p:?} is not a port number)"
        )),
    }
}
