//! The TLS hygiene scan of one endpoint: which protocol versions and cipher suites it accepts,
//! whether it keeps its own order, the key-exchange groups, and the served chain's keys and
//! signatures, by hand-built ClientHellos whose answers (ServerHello, HelloRetryRequest,
//! alert) are parsed with tls-parser; no handshake is completed and no identity is needed
//! (the ServerHello comes before any CertificateRequest). Also on MySQL-protocol ports, after
//! the SSLRequest (`mysql`).
//!
//! Files, bottom to top: [`suites`] (the IANA catalogue, from tls-parser's table, and the
//! judgment of a suite), [`hello`] (the ClientHello bytes), [`reply`] (the answer read and
//! parsed), [`enumerate`] (the questions, sslyze's method), [`chain`] (a TLS 1.3-only server's
//! chain, through one rustls handshake stopped at its Certificate), [`result`] (what the JSON carries),
//! [`findings`] (the findings and their TiDB-aware fixes); here [`scan`], which asks about the
//! four versions at once, each version's questions one after the other.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] connections per endpoint, each within the per-connection
//! timeout, the whole scan within its deadline; in an audit round each connection passes the
//! round's [`Gate`] (the global and per-host limits and `--rate`), as every probe does.

pub mod chain;
pub mod enumerate;
pub mod findings;
pub mod hello;
pub mod reply;
pub mod result;
pub mod suites;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::probe::limits::Gate;
use crate::probe::{Protocol, Timeouts};

pub use enumerate::{SuiteSeen, VersionScan};
pub use findings::{findings, version_fix, Served};
pub use hello::Version;
pub use reply::Failure;
pub use result::{CertSeen, ScanFailure, ScanResult};
pub use suites::Weakness;

/// The most connections one endpoint's scan makes. Each accepted suite costs one connection
/// and each version one more to be refused (nginx with `ALL:@SECLEVEL=0` over TLS 1.0-1.2
/// takes 73 in all, with the order and group questions); the catalogue offers about 150 suites
/// to TLS 1.0 and 1.1 and 330 to TLS 1.2, so a server that accepted everything would be
/// stopped here (and by the GREASE check at its first answer long before).
pub const MAX_CONNECTIONS: usize = 600;

/// What to scan.
#[derive(Debug, Clone)]
pub struct ScanSpec {
    /// `HOST:PORT`.
    pub address: String,
    /// TLS after the MySQL SSLRequest.
    pub mysql: bool,
    /// The SNI to send, when not the address's host name (an inventory's `server_name`).
    pub server_name: Option<String>,
}

impl ScanSpec {
    /// A scan of `address`, TLS from the first byte, SNI from the address's host name.
    pub fn new(address: impl Into<String>) -> ScanSpec {
        ScanSpec {
            address: address.into(),
            mysql: false,
            server_name: None,
        }
    }

    /// The scan of an endpoint the probes speak `protocol` to (STARTTLS on a SQL port), with
    /// the SNI they send.
    pub fn probed(address: &str, protocol: Protocol, server_name: Option<&str>) -> ScanSpec {
        ScanSpec {
            address: address.to_string(),
            mysql: protocol == Protocol::Mysql,
            server_name: server_name.map(str::to_string),
        }
    }
}

/// Within what.
#[derive(Debug, Clone)]
pub struct ScanLimits {
    /// Each connection: connect, hello, answer.
    pub timeout: Duration,
    /// The whole scan.
    pub deadline: Duration,
    /// At most this many connections (capped at [`MAX_CONNECTIONS`]).
    pub max_connections: usize,
    /// What each connection passes first, shared with other work (the round's limits).
    pub gate: Option<Gate>,
}

impl ScanLimits {
    /// The bounds of a scan beside probes with `timeouts` (the audit's, diagnose's): each
    /// connection within their connect or handshake budget, the whole scan within four probe
    /// deadlines (at least 10 s); each connection passing `gate` first, when given.
    pub fn within(timeouts: Timeouts, gate: Option<Gate>) -> ScanLimits {
        ScanLimits {
            timeout: timeouts.connect.max(timeouts.handshake),
            deadline: timeouts
                .total
                .saturating_mul(4)
                .max(Duration::from_secs(10)),
            gate,
            ..ScanLimits::default()
        }
    }
}

impl Default for ScanLimits {
    fn default() -> ScanLimits {
        ScanLimits {
            timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(60),
            max_connections: MAX_CONNECTIONS,
            gate: None,
        }
    }
}

/// The host of `HOST:PORT` when it is a name, for SNI (never an IP address).
fn server_name(address: &str) -> Option<&str> {
    let host = crate::probe::host_of(address);
    (host.parse::<std::net::IpAddr>().is_err() && !host.is_empty()).then_some(host)
}

/// Scan one endpoint.
pub async fn scan(spec: &ScanSpec, limits: &ScanLimits) -> ScanResult {
    let started = Instant::now();
    let ctx = enumerate::Ctx {
        address: &spec.address,
        server_name: spec
            .server_name
            .as_deref()
            .filter(|n| n.parse::<std::net::IpAddr>().is_err() && !n.is_empty())
            .or_else(|| server_name(&spec.address)),
        mysql: spec.mysql,
        timeout: limits.timeout,
        deadline: started + limits.deadline,
        max_connections: limits.max_connections.min(MAX_CONNECTIONS),
        gate: limits.gate.as_ref(),
        used: AtomicUsize::new(0),
        exhausted: AtomicBool::new(false),
        chain: std::sync::Mutex::new(Vec::new()),
    };
    let [a, b, c, d] = Version::ALL;
    let (a, b, c, d) = tokio::join!(
        enumerate::version(&ctx, a),
        enumerate::version(&ctx, b),
        enumerate::version(&ctx, c),
        enumerate::version(&ctx, d)
    );
    let versions = vec![a, b, c, d];
    let mut chain = ctx.chain.lock().map(|c| c.clone()).unwrap_or_default();
    // TLS 1.3 only: the chain is encrypted; one rustls handshake reads it.
    let left = ctx.deadline.saturating_duration_since(Instant::now());
    if chain.is_empty()
        && versions
            .iter()
            .any(|v| v.version == Version::Tls13 && v.accepted)
        && !left.is_zero()
    {
        chain = chain::tls13_chain(&spec.address, spec.mysql, limits.timeout.min(left)).await;
        ctx.used.fetch_add(1, Ordering::Relaxed);
    }
    ScanResult {
        address: spec.address.clone(),
        protocol: if spec.mysql { "mysql" } else { "tls" }.to_string(),
        failure: failure(&versions),
        versions,
        certificates: CertSeen::chain(&chain),
        connections: ctx.used.load(Ordering::Relaxed).min(ctx.max_connections),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        complete: !ctx.exhausted.load(Ordering::Relaxed),
        finished_at: Some(crate::probe::now_rfc3339()),
    }
}

/// The scan's failure: when no version got an answer (accepted or refused), the first
/// version's failure.
fn failure(versions: &[VersionScan]) -> Option<ScanFailure> {
    if versions.iter().any(|v| v.accepted || v.failure.is_none()) {
        return None;
    }
    let v = versions.first()?;
    Some(ScanFailure {
        class: v.failure?,
        detail: v.note.clone().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sni_is_sent_for_names_only() {
        assert_eq!(server_name("pd.example:2379"), Some("pd.example"));
        assert_eq!(server_name("127.0.0.1:2379"), None);
        assert_eq!(server_name("[::1]:2379"), None);
    }

    #[test]
    fn a_scan_fails_only_when_no_version_got_an_answer() {
        let mut refused = VersionScan::new(Version::Tls10);
        refused.note = Some("refused".into());
        let mut timed_out = VersionScan::new(Version::Tls12);
        timed_out.failure = Some(Failure::Timeout);
        timed_out.note = Some("no answer".into());
        assert_eq!(failure(&[refused, timed_out.clone()]), None);
        let f = failure(&[timed_out.clone(), timed_out]).unwrap();
        assert_eq!(
            (f.class, f.detail.as_str()),
            (Failure::Timeout, "no answer")
        );
    }

    /// A listener that refuses nothing and answers nothing: the scan ends by its deadline,
    /// within the connection bound.
    #[tokio::test]
    async fn a_silent_port_ends_by_the_timeout_with_a_class() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = l.local_addr().unwrap().to_string();
        let held = tokio::spawn(async move {
            let mut keep = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                keep.push(s);
            }
        });
        let limits = ScanLimits {
            timeout: Duration::from_millis(300),
            deadline: Duration::from_secs(2),
            max_connections: 8,
            gate: Some(Gate::of(1)),
        };
        let spec = ScanSpec::new(address);
        let started = Instant::now();
        let r = scan(&spec, &limits).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(r.failure.unwrap().class, Failure::Timeout);
        assert!(r.connections <= 4);
        held.abort();
    }
}
