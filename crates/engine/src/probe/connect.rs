//! The connect phase's TCP connection: resolve, share the connect deadline fairly among the
//! resolved addresses, and tell the endpoint's answer (refused, reset, timeout) from a failure
//! of this host (out of file descriptors or ports, no route), which says nothing about the
//! endpoint. `--resolve NAME:PORT:ADDR` (curl's form) is applied here: the name is dialed at
//! the given address, while the server name verified stays the name.

use std::net::{IpAddr, SocketAddr};
use std::sync::RwLock;
use std::time::Duration;

use tokio::net::TcpStream;

use super::record::OutcomeClass;

/// Resolve `address` and connect within `budget`, shared fairly by the addresses it resolves
/// to; a failure is the endpoint's answer (refused, reset, timeout) or a local one, in words.
/// (The hygiene scan connects with it too.)
pub async fn connect(address: &str, budget: Duration) -> Result<TcpStream, (OutcomeClass, String)> {
    let deadline = tokio::time::Instant::now() + budget;
    if let Some(to) = resolved(address) {
        return connect_any(address, &[to], deadline).await;
    }
    let addrs: Vec<_> = tokio::net::lookup_host(address)
        .await
        .map_err(|e| {
            (
                OutcomeClass::ResolveFailed,
                format!("cannot resolve {address}: {e}"),
            )
        })?
        .collect();
    connect_any(address, &addrs, deadline).await
}

/// One `--resolve NAME:PORT:ADDR`: connections to `NAME:PORT` go to `ADDR` (an IP, as
/// curl takes it, or `IP:PORT` / `[IPv6]:PORT` to move the port too); the name is still the one
/// the server certificate is verified for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    pub name: String,
    pub port: u16,
    pub to: SocketAddr,
}

impl Resolve {
    /// Parse `NAME:PORT:ADDR`; the error says what is wrong, in words.
    pub fn parse(s: &str) -> Result<Resolve, String> {
        let form = "write it as NAME:PORT:ADDR, e.g. basic-pd-0.basic-pd-peer.tidb.svc:2379:10.0.0.7 (ADDR may be IP:PORT)";
        let mut parts = s.splitn(3, ':');
        let (Some(name), Some(port), Some(to)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("{s:?} is not NAME:PORT:ADDR; {form}"));
        };
        if name.is_empty() {
            return Err(format!("{s:?} has no name; {form}"));
        }
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("{s:?}: {port:?} is not a port (1-65535); {form}")),
        };
        let to = match (to.parse::<SocketAddr>(), to.parse::<IpAddr>()) {
            (Ok(a), _) => a,
            (_, Ok(ip)) => SocketAddr::new(ip, port),
            _ => {
                return Err(format!(
                    "{s:?}: {to:?} is not an IP address (or IP:PORT); {form}"
                ))
            }
        };
        Ok(Resolve {
            name: name.to_ascii_lowercase(),
            port,
            to,
        })
    }
}

/// The `--resolve` entries of this process (set once by the command line, before probing).
static RESOLVES: RwLock<Vec<Resolve>> = RwLock::new(Vec::new());

/// Add `--resolve` entries for every later connection of this process; a later entry for the
/// same name and port replaces the earlier one.
pub fn add_resolves(entries: &[Resolve]) {
    let mut table = RESOLVES
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for e in entries {
        table.retain(|t| !(t.name == e.name && t.port == e.port));
        table.push(e.clone());
    }
}

/// Where `host:port` is dialed when a `--resolve` entry names it.
fn resolved(address: &str) -> Option<SocketAddr> {
    let (_, port) = address.rsplit_once(':')?;
    let port = port.parse::<u16>().ok()?;
    let host = super::spec::host_of(address).to_ascii_lowercase();
    let table = RESOLVES
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    table
        .iter()
        .find(|t| t.port == port && t.name == host)
        .map(|t| t.to)
}

/// Try `addrs` in order until one connects, before `deadline`.
async fn connect_any(
    address: &str,
    addrs: &[std::net::SocketAddr],
    deadline: tokio::time::Instant,
) -> Result<TcpStream, (OutcomeClass, String)> {
    let mut last = None;
    for (i, a) in addrs.iter().enumerate() {
        // Several addresses share the connect budget fairly: each gets an equal part of
        // what is left, so a black-holed first address cannot starve the others.
        let share = deadline.saturating_duration_since(tokio::time::Instant::now())
            / u32::try_from(addrs.len() - i).unwrap_or(u32::MAX);
        let attempt = match tokio::time::timeout(share, TcpStream::connect(a)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        };
        match attempt {
            Ok(s) => return Ok(s),
            // A local shortage is no fact about the endpoint: trying the next address would
            // only hit it again.
            Err(e) if local_cause(&e).is_some() => return Err(connect_error(*a, &e)),
            Err(e) => last = Some((*a, e)),
        }
    }
    match last {
        Some((a, e)) => Err(connect_error(a, &e)),
        None => Err((
            OutcomeClass::ResolveFailed,
            format!("{address} resolved to no address"),
        )),
    }
}

/// Linux errno values of the local failures a connect can meet.
mod errno {
    pub const ENOMEM: i32 = 12;
    pub const ENFILE: i32 = 23;
    pub const EMFILE: i32 = 24;
    pub const EADDRNOTAVAIL: i32 = 99;
    pub const ENETUNREACH: i32 = 101;
    pub const ENOBUFS: i32 = 105;
}

/// When a socket error is caused by this host rather than the endpoint, the cause in words.
pub fn local_cause(e: &std::io::Error) -> Option<&'static str> {
    use std::io::ErrorKind as K;
    let by_code = match e.raw_os_error() {
        Some(errno::EMFILE) => Some("this host ran out of file descriptors (EMFILE: the process's open-file limit; raise `ulimit -n` or lower `concurrency`)"),
        Some(errno::ENFILE) => Some("this host ran out of file descriptors (ENFILE: the system-wide file table is full)"),
        Some(errno::EADDRNOTAVAIL) => Some("this host ran out of local ports or has no such local address (EADDRNOTAVAIL; lower `concurrency`)"),
        Some(errno::ENOBUFS | errno::ENOMEM) => Some("this host ran out of socket buffers or memory (ENOBUFS/ENOMEM)"),
        Some(errno::ENETUNREACH) => Some("this host has no route to that network (ENETUNREACH: check its routing table and interfaces)"),
        _ => None,
    };
    by_code.or(match e.kind() {
        K::AddrNotAvailable => {
            Some("this host has no such local address or ran out of local ports (EADDRNOTAVAIL)")
        }
        K::NetworkUnreachable => Some("this host has no route to that network (ENETUNREACH)"),
        K::OutOfMemory => Some("this host ran out of memory"),
        _ => None,
    })
}

/// Classify a failed TCP connect: the endpoint's answer (refused, reset, timeout) or a local
/// failure (`error`), never one taken for the other.
fn connect_error(a: std::net::SocketAddr, e: &std::io::Error) -> (OutcomeClass, String) {
    use std::io::ErrorKind as K;
    if let Some(cause) = local_cause(e) {
        return (
            OutcomeClass::Error,
            format!("cannot connect to {a}: {cause}; this says nothing about the endpoint"),
        );
    }
    match e.kind() {
        K::ConnectionRefused => (
            OutcomeClass::Refused,
            format!("{a} refused the TCP connection: nothing listens there"),
        ),
        K::ConnectionReset | K::ConnectionAborted => (
            OutcomeClass::Reset,
            format!("{a} accepted the TCP connection and reset it at once"),
        ),
        K::TimedOut => (
            OutcomeClass::Timeout,
            format!("no TCP connection to {a} within its share of the connect deadline (a firewall dropping packets, or the host is down)"),
        ),
        _ => (OutcomeClass::Refused, format!("cannot connect to {a}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_takes_curls_form_and_a_port_too() {
        let r = Resolve::parse("basic-pd-0.basic-pd-peer.tidb.svc:2379:10.0.0.7").unwrap();
        assert_eq!(r.name, "basic-pd-0.basic-pd-peer.tidb.svc");
        assert_eq!(r.to, "10.0.0.7:2379".parse().unwrap());
        let moved = Resolve::parse("a.svc:2379:127.0.0.1:40001").unwrap();
        assert_eq!(moved.to, "127.0.0.1:40001".parse().unwrap());
        let v6 = Resolve::parse("a.svc:443:::1").unwrap();
        assert_eq!(v6.to, "[::1]:443".parse().unwrap());
        for bad in [
            "a.svc",
            "a.svc:2379",
            ":1:127.0.0.1",
            "a:x:127.0.0.1",
            "a:0:127.0.0.1",
            "a:1:nohost",
        ] {
            assert!(Resolve::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_resolved_name_is_dialed_at_its_address() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let at = l.local_addr().unwrap();
        let name = "resolve-test-0.resolve-test-peer.ns.svc";
        add_resolves(&[Resolve::parse(&format!("{name}:2379:{at}")).unwrap()]);
        let s = connect(&format!("{name}:2379"), Duration::from_secs(2)).await;
        assert_eq!(s.unwrap().peer_addr().unwrap(), at);
        // Another port of the same name is not moved (and does not resolve here).
        assert_eq!(resolved(&format!("{name}:2380")), None);
    }

    /// A loopback address whose connects stall: a listener with a backlog of one that never
    /// accepts, its queue filled, so that the kernel drops further SYNs. The sockets are held
    /// by the caller.
    async fn stalling() -> (
        std::net::SocketAddr,
        Vec<tokio::net::TcpStream>,
        tokio::net::TcpListener,
    ) {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = sock.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut held = Vec::new();
        // Fill the accept queue (its size is backlog + 1), with a bound per attempt.
        for _ in 0..4 {
            match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
                Ok(Ok(s)) => held.push(s),
                _ => break,
            }
        }
        (addr, held, listener)
    }

    #[tokio::test]
    async fn a_first_address_that_stalls_does_not_starve_the_next() {
        let (stalled, _held, _listener) = stalling().await;
        // The stalled address really stalls (otherwise the test proves nothing).
        let probe =
            tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(stalled)).await;
        assert!(probe.is_err(), "the stalling listener accepted: {probe:?}");
        let good = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addrs = [stalled, good.local_addr().unwrap()];
        let started = tokio::time::Instant::now();
        let deadline = started + Duration::from_secs(2);
        let s = connect_any("two-addresses:1", &addrs, deadline).await;
        assert!(s.is_ok(), "{:?}", s.err());
        // The stalled address had its share of the budget (half), not all of it.
        let took = started.elapsed();
        assert!(took < Duration::from_millis(1_600), "{took:?}");
    }
}
