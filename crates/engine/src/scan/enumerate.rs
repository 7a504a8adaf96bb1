//! The questions of a scan, sslyze's way: for each version, offer every suite of the
//! catalogue; the server picks one; remove it and ask again until the server refuses. The
//! accepted suites are the picks, in the order the server gave them. Then, for a version with
//! two suites or more, whether the server keeps its own order (the same pick whichever of two
//! suites comes first), and the groups: TLS 1.3's from the HelloRetryRequest, ECDHE's of TLS
//! 1.0-1.2 from the ServerKeyExchange, each removed and asked again the same way.
//!
//! Every loop is bounded by what it offers (one pick removes one suite or group), every hello
//! starts with a GREASE value that a server must ignore (RFC 8701): a server that "picks"
//! whatever comes first, or any suite it was not offered, is a protocol error and ends the
//! scan of that version at once. The connections of one endpoint are counted against
//! [`super::MAX_CONNECTIONS`] and the whole scan against its deadline.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::probe::limits::Gate;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::hello::{client_hello, group_name, Hello, Version, LEGACY_GROUPS, TLS13_GROUPS};
use super::reply::{read_answer, Answer, Failure, Picked};
use super::suites::{legacy_catalogue, name, weaknesses, Weakness, TLS13_SUITES};
use crate::finding::Severity;
use crate::probe::mysql::{read_packet, ssl_request, write_packet, Greeting};
use crate::probe::OutcomeClass;

/// A GREASE cipher suite and group (RFC 8701): offered first, never to be picked.
const GREASE: u16 = 0x0a0a;

/// One accepted suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteSeen {
    /// The code point, `0xc02b`.
    pub id: String,
    /// The IANA name.
    pub name: String,
    /// What is wrong with it, worst first (empty: sound).
    pub weaknesses: Vec<Weakness>,
}

impl SuiteSeen {
    /// How bad accepting it is, as its finding rates it: an insecure suite is critical
    /// (`CIPHER_SUITE_INSECURE`), a weak one a warning (`CIPHER_SUITE_WEAK`), a sound one
    /// nothing.
    pub fn severity(&self) -> Option<Severity> {
        if self.weaknesses.iter().any(|w| w.is_insecure()) {
            Some(Severity::Critical)
        } else if self.weaknesses.is_empty() {
            None
        } else {
            Some(Severity::Warning)
        }
    }

    fn of(id: u16) -> SuiteSeen {
        SuiteSeen {
            id: format!("0x{id:04x}"),
            name: name(id),
            weaknesses: weaknesses(id),
        }
    }
}

/// What one version of the protocol gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionScan {
    pub version: Version,
    pub accepted: bool,
    /// The accepted suites, in the order the server picked them.
    pub suites: Vec<SuiteSeen>,
    /// Whether the server enforces its own order (`None`: fewer than two suites, or unknown).
    pub server_order: Option<bool>,
    /// The key-exchange groups accepted (TLS 1.3; ECDHE for TLS 1.0-1.2), by IANA name.
    pub groups: Vec<String>,
    /// How the version was refused, or why its scan stopped, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A failure that stopped this version's scan (not a refusal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

impl VersionScan {
    /// A version not asked about yet.
    pub fn new(version: Version) -> VersionScan {
        VersionScan {
            version,
            accepted: false,
            suites: Vec::new(),
            server_order: None,
            groups: Vec::new(),
            note: None,
            failure: None,
        }
    }

    /// An obsolete version (TLS 1.0, 1.1) accepted is a warning (`TLS_VERSION_OBSOLETE`).
    pub fn severity(&self) -> Option<Severity> {
        (self.accepted && self.version.is_obsolete()).then_some(Severity::Warning)
    }

    fn stop(&mut self, failure: Failure, why: String) {
        self.failure = Some(failure);
        self.note = Some(why);
    }
}

/// How to reach the endpoint, and within what.
pub struct Ctx<'a> {
    pub address: &'a str,
    pub server_name: Option<&'a str>,
    pub mysql: bool,
    pub timeout: Duration,
    pub deadline: Instant,
    pub max_connections: usize,
    pub gate: Option<&'a Gate>,
    pub used: AtomicUsize,
    pub exhausted: AtomicBool,
    /// The certificates of the first TLS 1.0-1.2 handshake that sent them.
    pub chain: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl Ctx<'_> {
    /// Whether the certificates are still to be read.
    fn wants_chain(&self) -> bool {
        self.chain
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty()
    }

    fn keep_chain(&self, picked: &mut Picked) {
        if !picked.chain.is_empty() && self.wants_chain() {
            *self
                .chain
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                std::mem::take(&mut picked.chain);
        }
    }

    /// One connection, one hello, its answer; `None` once the budget is spent.
    /// `full`: read on to the ServerHelloDone (the ECDHE curve); the chain is read anyway
    /// until one was.
    async fn ask(&self, hello: &Hello<'_>, full: bool) -> Option<Answer> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || self.used.fetch_add(1, Ordering::Relaxed) >= self.max_connections {
            self.exhausted.store(true, Ordering::Relaxed);
            return None;
        }
        let _pass = match self.gate {
            Some(g) => Some(g.pass().await?),
            None => None,
        };
        // What is left once the pass came (waiting for it spends the deadline too).
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.exhausted.store(true, Ordering::Relaxed);
            return None;
        }
        let budget = self.timeout.min(left);
        let chain = hello.version != Version::Tls13 && (full || self.wants_chain());
        let mut answer = self.exchange(hello, budget, chain).await;
        if let Answer::Hello(p) = &mut answer {
            self.keep_chain(p);
        }
        Some(answer)
    }

    /// Connect, start TLS (MySQL), send the hello and read the answer, all within `budget`.
    async fn exchange(&self, hello: &Hello<'_>, budget: Duration, chain: bool) -> Answer {
        let end = tokio::time::Instant::now() + budget;
        let left = || end.saturating_duration_since(tokio::time::Instant::now());
        let mut tcp = match crate::probe::connect::connect(self.address, budget).await {
            Ok(t) => t,
            Err((class, why)) => return Answer::NoConnection(connect_failure(class), why),
        };
        if self.mysql {
            match tokio::time::timeout(left(), starttls(&mut tcp)).await {
                Ok(Ok(())) => {}
                Ok(Err(a)) => return a,
                Err(_) => return Answer::Timeout,
            }
        }
        let mut random = [0u8; 32];
        let _ = aws_lc_rs::rand::fill(&mut random);
        let bytes = client_hello(hello, &random);
        let sent = tokio::time::timeout(left(), tcp.write_all(&bytes)).await;
        match sent {
            Ok(Ok(())) => read_answer(&mut tcp, left(), chain).await,
            Ok(Err(e)) => Answer::Reset(e.to_string()),
            Err(_) => Answer::Timeout,
        }
    }
}

fn connect_failure(class: OutcomeClass) -> Failure {
    match class {
        OutcomeClass::Refused => Failure::Refused,
        OutcomeClass::Reset => Failure::Reset,
        OutcomeClass::Timeout => Failure::Timeout,
        OutcomeClass::ResolveFailed => Failure::Unresolved,
        _ => Failure::Local,
    }
}

/// MySQL's in-band start of TLS: the greeting (it must offer CLIENT_SSL), then SSLRequest.
pub(super) async fn starttls(tcp: &mut TcpStream) -> Result<(), Answer> {
    let (_, payload) = read_packet(tcp)
        .await
        .map_err(|e| Answer::NotTls(format!("no MySQL greeting: {e}")))?;
    let greeting = Greeting::parse(&payload)
        .map_err(|e| Answer::NotTls(format!("not a MySQL greeting: {e}")))?;
    if !greeting.offers_tls() {
        return Err(Answer::NotTls(
            "the MySQL server does not offer TLS (its greeting lacks CLIENT_SSL)".into(),
        ));
    }
    write_packet(tcp, 1, &ssl_request(greeting.capabilities))
        .await
        .map_err(|e| Answer::Reset(e.to_string()))
}

/// What a version offers: its catalogue of suites and of groups.
fn catalogue(version: Version) -> (Vec<u16>, &'static [u16]) {
    match version {
        Version::Tls13 => (TLS13_SUITES.to_vec(), &TLS13_GROUPS),
        Version::Tls12 => (legacy_catalogue(true), &LEGACY_GROUPS),
        _ => (legacy_catalogue(false), &LEGACY_GROUPS),
    }
}

/// GREASE first, then `items`.
fn greased(items: &[u16]) -> Vec<u16> {
    std::iter::once(GREASE)
        .chain(items.iter().copied())
        .collect()
}

/// A refusal in words, or the failure an answer is.
fn refusal(answer: &Answer) -> Result<String, (Failure, String)> {
    match answer {
        Answer::Alert(d) => Ok(format!("refused with alert {d} ({})", alert_name(*d))),
        Answer::Closed => Ok("refused: the server closed the connection".into()),
        Answer::Hello(p) => Ok(format!(
            "the server answered with version 0x{:04x} instead",
            p.version
        )),
        Answer::Reset(e) => Err((Failure::Reset, format!("the connection was reset: {e}"))),
        Answer::Timeout => Err((Failure::Timeout, "no answer within the timeout".into())),
        Answer::NotTls(w) => Err((Failure::NotTls, w.clone())),
        Answer::NoConnection(f, w) => Err((*f, w.clone())),
    }
}

fn alert_name(d: u8) -> &'static str {
    match d {
        40 => "handshake_failure",
        47 => "illegal_parameter",
        50 => "decode_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        112 => "unrecognized_name",
        _ => "other",
    }
}

/// Scan one version: its suites, then its order and groups.
pub async fn version(ctx: &Ctx<'_>, version: Version) -> VersionScan {
    let mut scan = VersionScan::new(version);
    let (catalogue, groups) = catalogue(version);
    let picks = suites(ctx, &mut scan, &catalogue, groups).await;
    scan.accepted = !picks.is_empty();
    scan.suites = picks.iter().map(|s| SuiteSeen::of(*s)).collect();
    if scan.failure.is_some() {
        return scan;
    }
    if let [a, b, ..] = picks[..] {
        scan.server_order = order(ctx, version, a, b, groups).await;
    }
    let group_suite = match version {
        Version::Tls13 => picks.first().copied(),
        _ => picks
            .iter()
            .copied()
            .find(|s| name(*s).starts_with("TLS_ECDHE_")),
    };
    if let Some(suite) = group_suite {
        scan.groups = accepted_groups(ctx, version, suite, groups).await;
    }
    scan
}

/// The suites a version accepts, in the order picked; bounded by the suites offered.
async fn suites(
    ctx: &Ctx<'_>,
    scan: &mut VersionScan,
    catalogue: &[u16],
    groups: &[u16],
) -> Vec<u16> {
    let mut left = catalogue.to_vec();
    let mut picks = Vec::new();
    let groups = greased(groups);
    for _ in 0..=catalogue.len() {
        let offered = greased(&left);
        let hello = Hello {
            version: scan.version,
            suites: &offered,
            groups: &groups,
            server_name: ctx.server_name,
        };
        let Some(answer) = ctx.ask(&hello, false).await else {
            scan.note = Some("stopped: the scan's connection budget or deadline was spent".into());
            break;
        };
        match answer {
            Answer::Hello(p) if p.version == scan.version.wire() && left.contains(&p.suite) => {
                left.retain(|s| *s != p.suite);
                picks.push(p.suite);
            }
            Answer::Hello(p) if p.version == scan.version.wire() => {
                scan.stop(Failure::Protocol, format!("the server picked {} ({}), which it was not offered (or GREASE, which it must ignore): it does not follow the protocol", name(p.suite), format_args!("0x{:04x}", p.suite)));
                break;
            }
            other => {
                match refusal(&other) {
                    Ok(words) if picks.is_empty() => scan.note = Some(words),
                    Ok(_) => {}
                    Err((f, why)) => scan.stop(f, why),
                }
                break;
            }
        }
    }
    picks
}

/// Whether the server keeps its order: offer (a, b) and (b, a).
async fn order(ctx: &Ctx<'_>, version: Version, a: u16, b: u16, groups: &[u16]) -> Option<bool> {
    let groups = greased(groups);
    let mut picked = Vec::new();
    for pair in [[a, b], [b, a]] {
        let hello = Hello {
            version,
            suites: &pair,
            groups: &groups,
            server_name: ctx.server_name,
        };
        match ctx.ask(&hello, false).await? {
            Answer::Hello(p) => picked.push(p.suite),
            _ => return None,
        }
    }
    match picked[..] {
        [x, y] if x == y => Some(true),
        [x, y] if x == a && y == b => Some(false),
        _ => None,
    }
}

/// The groups accepted with `suite`: offer them all, remove the one picked, again.
async fn accepted_groups(
    ctx: &Ctx<'_>,
    version: Version,
    suite: u16,
    groups: &[u16],
) -> Vec<String> {
    let mut left = groups.to_vec();
    let mut found = Vec::new();
    for _ in 0..groups.len() {
        let offered = greased(&left);
        let hello = Hello {
            version,
            suites: &[suite],
            groups: &offered,
            server_name: ctx.server_name,
        };
        let Some(Answer::Hello(p)) = ctx.ask(&hello, true).await else {
            break;
        };
        match p.group {
            Some(g) if left.contains(&g) => {
                left.retain(|x| *x != g);
                found.push(group_name(g));
            }
            _ => break,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_version_offers_its_catalogue_behind_grease() {
        let (v13, g13) = catalogue(Version::Tls13);
        assert_eq!(v13, TLS13_SUITES);
        assert!(g13.contains(&29));
        let (v10, _) = catalogue(Version::Tls10);
        let (v12, _) = catalogue(Version::Tls12);
        assert!(v10.len() < v12.len());
        assert_eq!(greased(&[1, 2]), [GREASE, 1, 2]);
    }

    #[test]
    fn refusals_are_told_from_failures() {
        assert_eq!(
            refusal(&Answer::Alert(70)),
            Ok("refused with alert 70 (protocol_version)".to_string())
        );
        assert!(refusal(&Answer::Closed).is_ok());
        assert_eq!(refusal(&Answer::Timeout).unwrap_err().0, Failure::Timeout);
        assert_eq!(
            refusal(&Answer::NotTls("x".into())).unwrap_err(),
            (Failure::NotTls, "x".to_string())
        );
        assert_eq!(
            refusal(&Answer::NoConnection(Failure::Refused, "r".into()))
                .unwrap_err()
                .0,
            Failure::Refused
        );
    }
}
