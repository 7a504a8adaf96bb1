//! Rotation drift: what an endpoint serves against the files its component is configured with
//! (an endpoint's `cert_file` and `ca_file`, readable on this host).
//!
//! TiDB's reload rules (docs/tidb.md): the Go components re-read certificate and key at every
//! handshake, TiKV on a new connection once the certificate file's mtime changed; the CA is read
//! only at start. So after a round, per endpoint:
//! - the served leaf (from the recorded chain) against the leaf in `cert_file`: another one is
//!   a certificate not reloaded yet, or a server running with another file;
//! - the CA in `ca_file` against the CA the server uses: its chain not issued by that CA, the
//!   CA names of its CertificateRequest lacking it, or callers issued by it refused as from an
//!   unknown CA, all say the server still runs with another CA: a restart is required;
//! - the days left before the served leaf's notAfter.
//!
//! The files are read again after every round, so a file replaced on disk shows at the next one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde::{Deserialize, Serialize};

use super::cell::CellState;
use super::identity::{AuditIdentity, IdentityKind};
use super::matrix::{EndpointId, Matrix};
use crate::finding::{Code, Finding, Severity};
use crate::inventory::{Endpoint, Inventory};
use crate::pki::load::{load_certs, CertRole};
use crate::pki::{summarize, CertSummary, Trust};
use crate::probe::{OutcomeClass, ProbeRecord};
use crate::profile::MainPort;
use crate::tiup::reload_command;

/// The served certificate against `cert_file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertDrift {
    /// The endpoint serves the file's leaf.
    InSync,
    /// The endpoint serves another leaf than the file's.
    NotReloaded,
    /// The file cannot be read here (or holds no certificate): not compared.
    Unreadable,
    /// No probe saw a server certificate (plaintext, unreachable): not compared.
    NotServed,
    /// No `cert_file` for the endpoint.
    NotConfigured,
}

/// The CA in `ca_file` against the CA the server runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaDrift {
    /// The server's chain is issued by a CA of the file (and nothing says it trusts another).
    Current,
    /// The server runs with another CA than the file's: restart it.
    RestartRequired,
    /// The file cannot be read here: not compared.
    Unreadable,
    /// Nothing tells which CA the server runs with (no chain seen, the same CA names).
    Unknown,
    /// No `ca_file` for the endpoint.
    NotConfigured,
}

/// A leaf certificate, as the drift check names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafRef {
    pub sha256: String,
    pub serial: String,
    pub not_after: String,
}

impl LeafRef {
    fn of(c: &CertSummary) -> LeafRef {
        LeafRef {
            sha256: c.sha256.clone(),
            serial: c.serial.clone(),
            not_after: c.not_after.clone(),
        }
    }
}

/// One endpoint's drift: the report's `drift` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub cert_file: Option<String>,
    pub ca_file: Option<String>,
    pub cert: CertDrift,
    /// The leaf the endpoint serves.
    pub served: Option<LeafRef>,
    /// The leaf in `cert_file`.
    pub file: Option<LeafRef>,
    pub ca: CaDrift,
    /// SHA-256 of each certificate in `ca_file`.
    #[serde(default)]
    pub ca_file_sha256: Vec<String>,
    /// Why the server is taken to run with another CA, in words.
    #[serde(default)]
    pub ca_evidence: Vec<String>,
    /// Callers issued by the file's CA that the endpoint refused as from an unknown CA.
    #[serde(default)]
    pub refused: Vec<String>,
    /// Whole days before the served leaf's notAfter (negative: expired).
    pub days_left: Option<i64>,
    /// Why a file was not compared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// The served leaf against the one a rotation issued (`--expect-rotation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationDrift>,
}

/// The served leaf against the one the rotation manifest says the instance was issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationDrift {
    pub state: RotationState,
    /// The leaf the rotation issued.
    pub issued: LeafRef,
    /// The manifest (its path) and the instance it names.
    pub manifest: String,
    pub instance: String,
}

/// Whether an endpoint serves what the rotation issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationState {
    /// It serves the issued leaf.
    Applied,
    /// It serves another leaf (`ROTATION_NOT_APPLIED`).
    NotApplied,
    /// No probe saw a server certificate: not compared.
    NotServed,
}

impl RotationDrift {
    fn of(expected: &crate::inventory::rotation::Expected, served: Option<&CertSummary>) -> Self {
        let state = match served {
            None => RotationState::NotServed,
            Some(s) if s.sha256 == expected.leaf.sha256 => RotationState::Applied,
            Some(_) => RotationState::NotApplied,
        };
        RotationDrift {
            state,
            issued: LeafRef {
                sha256: expected.leaf.sha256.clone(),
                serial: expected.leaf.serial.clone(),
                not_after: expected.leaf.not_after.clone(),
            },
            manifest: expected.manifest.display().to_string(),
            instance: expected.instance.clone(),
        }
    }

    /// The comparison in words, for the table and the dashboard's detail.
    fn describe(&self, served: Option<&LeafRef>) -> String {
        match (self.state, served) {
            (RotationState::Applied, _) => format!(
                "rotation: serves the certificate {} issued (serial {})",
                self.manifest, self.issued.serial
            ),
            (RotationState::NotApplied, Some(s)) => format!(
                "rotation: NOT APPLIED: serves serial {} (notAfter {}), the rotation issued serial {} (notAfter {})",
                s.serial, s.not_after, self.issued.serial, self.issued.not_after
            ),
            _ => "rotation: no certificate served to compare with the issued one".to_string(),
        }
    }
}

impl Drift {
    /// The drift in words, one line per part (certificate, CA, expiry), for the table and the
    /// dashboard's detail.
    pub fn describe(&self) -> Vec<String> {
        let file = self.cert_file.as_deref().unwrap_or("-");
        let mut out = Vec::new();
        let cert = match (self.cert, &self.served, &self.file) {
            (CertDrift::InSync, Some(s), _) => {
                Some(format!("certificate: serves {file} (serial {})", s.serial))
            }
            (CertDrift::NotReloaded, Some(s), Some(f)) => Some(format!(
                "certificate: NOT RELOADED: serves serial {} (notAfter {}), {file} holds serial {} (notAfter {})",
                s.serial, s.not_after, f.serial, f.not_after
            )),
            (CertDrift::Unreadable, _, _) => {
                Some(format!("certificate: {file} cannot be read here: not compared"))
            }
            (CertDrift::NotServed, _, _) => {
                Some(format!("certificate: no certificate served to compare with {file}"))
            }
            _ => None,
        };
        out.extend(cert);
        let ca_file = self.ca_file.as_deref().unwrap_or("-");
        let ca = match self.ca {
            CaDrift::Current => Some(format!("CA: the server runs with the CA of {ca_file}")),
            CaDrift::RestartRequired => Some(format!(
                "CA: RESTART REQUIRED: {ca_file} is not the CA the server runs with ({})",
                self.ca_evidence.join("; ")
            )),
            CaDrift::Unreadable => Some(format!("CA: {ca_file} cannot be read here: not compared")),
            CaDrift::Unknown => Some(format!(
                "CA: cannot tell whether the server runs with the CA of {ca_file}"
            )),
            CaDrift::NotConfigured => None,
        };
        out.extend(ca);
        if let Some(r) = &self.rotation {
            out.push(r.describe(self.served.as_ref()));
        }
        if let (Some(days), Some(s)) = (self.days_left, &self.served) {
            out.push(if days < 0 {
                format!(
                    "expiry: the served certificate expired {} days ago ({})",
                    -days, s.not_after
                )
            } else {
                format!("expiry: {days} days left ({})", s.not_after)
            });
        }
        out
    }
}

/// A file read for the check: its certificates as DER and summaries.
struct Read {
    der: Vec<CertificateDer<'static>>,
    summaries: Vec<CertSummary>,
}

fn read(path: &Path, role: CertRole) -> Result<Read, String> {
    let der = load_certs(path, role).map_err(|e| e.to_string())?;
    let summaries = der
        .iter()
        .map(|d| summarize(d.as_ref()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Read { der, summaries })
}

/// Whether a verification error means the certificate is not issued by the roots at all
/// (rather than issued by them but wrong for another reason: name, usage, dates).
fn not_issued(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer | rustls::CertificateError::BadSignature
        )
    )
}

/// A CA file read for the check, once per round however many endpoints name it.
struct CaFile {
    read: Read,
    trust: Trust,
    /// Per audit identity (by index): a configured caller the file's CA issued (valid,
    /// clientAuth).
    issued: Vec<bool>,
}

fn ca_file(identities: &[AuditIdentity], path: &Path) -> Result<CaFile, String> {
    let read = read(path, CertRole::Ca)?;
    let trust =
        Trust::from_der(read.der.clone()).map_err(|m| format!("{}: {m}", path.display()))?;
    let issued = identities
        .iter()
        .map(|id| {
            id.kind == IdentityKind::Configured
                && id.caller.identity.key.as_ref().is_some_and(|key| {
                    trust
                        .client_verifier
                        .verify_client_cert(&key.cert[0], &key.cert[1..], UnixTime::now())
                        .is_ok()
                })
        })
        .collect();
    Ok(CaFile {
        read,
        trust,
        issued,
    })
}

/// The drift of every endpoint after a round whose `cells` the audit's `identities` probed
/// (`None`: no files given). The files are read now: one replaced since the previous round is
/// seen.
pub fn check(
    endpoints: &[Endpoint],
    identities: &[AuditIdentity],
    cells: &Matrix<CellState>,
) -> Vec<Option<Drift>> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut cas: HashMap<&Path, Result<CaFile, String>> = HashMap::new();
    for p in endpoints.iter().filter_map(|e| e.ca_file.as_deref()) {
        cas.entry(p).or_insert_with(|| ca_file(identities, p));
    }
    endpoints
        .iter()
        .enumerate()
        .map(|(e, ep)| {
            (ep.cert_file.is_some() || ep.ca_file.is_some() || ep.rotation.is_some()).then(|| {
                let ca = ep.ca_file.as_deref().and_then(|p| cas.get(p));
                endpoint(cells, identities, EndpointId(e), ep, ca, now)
            })
        })
        .collect()
}

fn endpoint(
    cells: &Matrix<CellState>,
    identities: &[AuditIdentity],
    e: EndpointId,
    ep: &Endpoint,
    ca: Option<&Result<CaFile, String>>,
    now: i64,
) -> Drift {
    let records: Vec<(usize, &ProbeRecord)> = cells
        .column(e)
        .filter_map(|(i, c)| Some((i.0, c.record.as_deref()?)))
        .collect();
    let chain: &[CertSummary] = records
        .iter()
        .map(|(_, r)| &*r.server_chain)
        .find(|c| !c.is_empty())
        .unwrap_or(&[]);
    let served = chain.first();
    let mut problems = Vec::new();

    let file = ep.cert_file.as_deref().map(|p| read(p, CertRole::Leaf));
    let file = match file {
        Some(Ok(r)) => Some(r),
        Some(Err(p)) => {
            problems.push(p);
            None
        }
        None => None,
    };
    let file_leaf = file.as_ref().and_then(|f| f.summaries.first());
    let cert = match (&ep.cert_file, file_leaf, served) {
        (None, _, _) => CertDrift::NotConfigured,
        (Some(_), None, _) => CertDrift::Unreadable,
        (Some(_), Some(_), None) => CertDrift::NotServed,
        (Some(_), Some(f), Some(s)) if f.sha256 == s.sha256 => CertDrift::InSync,
        (Some(_), Some(_), Some(_)) => CertDrift::NotReloaded,
    };

    let mut drift = Drift {
        cert_file: ep.cert_file.as_ref().map(|p| p.display().to_string()),
        ca_file: ep.ca_file.as_ref().map(|p| p.display().to_string()),
        cert,
        served: served.map(LeafRef::of),
        file: file_leaf.map(LeafRef::of),
        ca: CaDrift::NotConfigured,
        ca_file_sha256: Vec::new(),
        ca_evidence: Vec::new(),
        refused: Vec::new(),
        days_left: served.map(|s| (s.not_after_unix - now).div_euclid(86_400)),
        problems: Vec::new(),
        rotation: ep.rotation.as_ref().map(|r| RotationDrift::of(r, served)),
    };
    match ca {
        Some(Ok(ca)) => {
            drift.ca_file_sha256 = ca.read.summaries.iter().map(|c| c.sha256.clone()).collect();
            let found = CaCheck {
                ca,
                identities,
                chain,
                file: file.as_ref().filter(|_| cert == CertDrift::InSync),
                records: &records,
            }
            .run();
            drift.ca = found.state;
            drift.ca_evidence = found.evidence;
            drift.refused = found.refused;
        }
        Some(Err(p)) => {
            drift.ca = CaDrift::Unreadable;
            problems.push(p.clone());
        }
        None => {}
    }
    drift.problems = problems;
    drift
}

/// What tells which CA the server runs with.
struct CaCheck<'a> {
    ca: &'a CaFile,
    /// The audit's identities, by index.
    identities: &'a [AuditIdentity],
    /// The served chain, leaf first.
    chain: &'a [CertSummary],
    /// The cert file, when it is what the endpoint serves (its DER can then be verified).
    file: Option<&'a Read>,
    records: &'a [(usize, &'a ProbeRecord)],
}

struct CaFound {
    state: CaDrift,
    evidence: Vec<String>,
    refused: Vec<String>,
}

impl CaCheck<'_> {
    fn subjects(&self) -> Vec<&str> {
        self.ca
            .read
            .summaries
            .iter()
            .map(|c| c.subject.as_str())
            .collect()
    }

    fn ca_words(&self) -> String {
        self.ca
            .read
            .summaries
            .iter()
            .map(|c| format!("{} (sha256 {})", c.subject, short(&c.sha256)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether the served chain is issued by a CA of the file: `None` when it cannot be told
    /// (no chain, or only names to compare and they are the same).
    fn chain_issued(&self) -> Option<bool> {
        let top = self.chain.last()?;
        let file_fps: Vec<&str> = self
            .ca
            .read
            .summaries
            .iter()
            .map(|c| c.sha256.as_str())
            .collect();
        if self
            .chain
            .iter()
            .any(|c| file_fps.contains(&c.sha256.as_str()))
        {
            return Some(true);
        }
        if let Some(f) = self.file {
            // The served leaf is the file's: verify its signature against the file's CA.
            let name = ServerName::try_from("drift.check.invalid").ok()?;
            let r = self.ca.trust.server_verifier.verify_server_cert(
                &f.der[0],
                &f.der[1..],
                &name,
                &[],
                UnixTime::now(),
            );
            return Some(!r.as_ref().is_err_and(not_issued));
        }
        if self.subjects().contains(&top.issuer.as_str()) {
            None
        } else {
            Some(false)
        }
    }

    fn run(&self) -> CaFound {
        let mut evidence = Vec::new();
        let issued = self.chain_issued();
        if issued == Some(false) {
            let top = self.chain.last().map_or("", |c| c.issuer.as_str());
            evidence.push(format!(
                "its certificate is issued by {top}, not by the CA in the file: {}",
                self.ca_words()
            ));
        }
        // The CA names the server asks callers for: those of the CA it verifies them with.
        let hints = self
            .records
            .iter()
            .filter_map(|(_, r)| r.tls.as_ref())
            .find(|t| t.client_cert_requested && !t.ca_hints.is_empty())
            .map(|t| &t.ca_hints);
        let subjects = self.subjects();
        let hints_match = hints.map(|h| h.iter().any(|n| subjects.contains(&n.as_str())));
        if let (Some(h), Some(false)) = (hints, hints_match) {
            evidence.push(format!(
                "it asks callers for certificates of {}, not of the file's CA",
                h.join("; ")
            ));
        }
        // Callers the file's CA issued (valid, clientAuth) refused as certificates the server
        // cannot verify; none counts when one of them passed the server's CA check (accepted,
        // or refused for its CN only): a lone reset is not the CA.
        let mut refused = Vec::new();
        let mut passed = false;
        for (i, rec) in self.records {
            if !self.ca.issued.get(*i).copied().unwrap_or(false) {
                continue;
            }
            match rec.outcome.class {
                OutcomeClass::CertRejected => {
                    refused.extend(self.identities.get(*i).map(|id| id.name.clone()));
                }
                OutcomeClass::Accepted | OutcomeClass::CnRejected => passed = true,
                _ => {}
            }
        }
        if passed {
            refused.clear();
        }
        if !refused.is_empty() {
            evidence.push(format!(
                "it refused {}, issued by the file's CA, as certificates it cannot verify",
                refused.join(", ")
            ));
        }
        let state = if !evidence.is_empty() {
            CaDrift::RestartRequired
        } else if issued == Some(true) || hints_match == Some(true) {
            CaDrift::Current
        } else {
            CaDrift::Unknown
        };
        CaFound {
            state,
            evidence,
            refused,
        }
    }
}

/// The first 16 hex digits of a fingerprint.
fn short(sha: &str) -> &str {
    sha.get(..16).unwrap_or(sha)
}

/// The setting that names a file of the endpoint, in its component's words: `cert-path in
/// tikv.toml's [security]`.
fn setting(ep: &Endpoint, ca: bool) -> String {
    let k = if ca {
        ep.profile.server.ca
    } else {
        ep.profile.server.cert
    };
    format!("{k} in {}", ep.profile.config.file)
}

/// When the component re-reads its certificate file.
fn reload_rule(ep: &Endpoint) -> &'static str {
    use crate::profile::Component as C;
    match ep.component {
        C::Tikv | C::Tiflash => "TiKV's code re-reads it on a new connection once the file's mtime changed",
        C::Pd | C::Tidb | C::Ticdc | C::Tiproxy | C::Etcd => {
            "the Go components re-read it at every handshake, so a server still serving the old one runs with another file"
        }
        _ => "a server re-reads it on reload or restart",
    }
}

/// The TiUP cluster an inventory was read from: its name, when the inventory is a TiUP
/// topology or `meta.yaml` (YAML; a `tlsaudit.toml` or a component file is TOML).
pub(super) fn tiup_cluster(inv: &Inventory) -> Option<&str> {
    (inv.origin == crate::inventory::Origin::Topology).then_some(inv.cluster.as_str())
}

/// TiUP's node ID of the endpoint's instance (`host:main port`): the endpoint's own address
/// when it serves the component's main port, else the one endpoint of the same component on
/// the same host that does.
pub(super) fn tiup_node(endpoints: &[Endpoint], ep: &Endpoint) -> Option<String> {
    let servers = ep.component.tiup()?.servers?;
    let MainPort::Role(main) = servers.main_port else {
        return None;
    };
    if ep.role == main {
        return Some(ep.address.clone());
    }
    let mut on_host = endpoints
        .iter()
        .filter(|o| o.component == ep.component && o.role == main && o.host() == ep.host());
    match (on_host.next(), on_host.next()) {
        (Some(o), None) => Some(o.address.clone()),
        _ => None,
    }
}

/// How to restart the endpoint's server: TiUP's reload of its instance when the inventory is
/// a TiUP topology (`tiup cluster reload <name> -N <host:port>`), else in words.
fn restart(inv: &Inventory, ep: &Endpoint) -> String {
    match (tiup_cluster(inv), tiup_node(&inv.endpoints, ep)) {
        (Some(name), Some(node)) => format!("`{}`", reload_command(Some(name), &node)),
        _ => ep.name.clone(),
    }
}

/// `ROTATION_NOT_APPLIED`: the endpoint serves another leaf than the rotation issued for its
/// instance. The fix copies the instance's new files to its host and reloads it (the copy
/// cannot be told apart from the reload from here: TiUP keeps no copy of the instance's files).
fn rotation_finding(inv: &Inventory, ep: &Endpoint, d: &Drift) -> Option<Finding> {
    let (Some(r), Some(s), Some(expected)) = (&d.rotation, &d.served, &ep.rotation) else {
        return None;
    };
    if r.state != RotationState::NotApplied {
        return None;
    }
    let cluster = tiup_cluster(inv).or(Some(inv.cluster.as_str()));
    let copy = match &expected.remote_dir {
        Some(dir) => {
            let cert = expected.cert.display().to_string();
            let file = expected
                .cert
                .file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
            format!(
                "`{}` (and its key beside it)",
                crate::tiup::push_command(cluster, &cert, &format!("{dir}/{file}"), &expected.node)
            )
        }
        None => format!(
            "{} and its key to the instance's tls folder on {}",
            expected.cert.display(),
            ep.host()
        ),
    };
    Some(
        Finding::new(
            Code::RotationNotApplied,
            Severity::Warning,
            format!(
                "{} still serves serial {} (notAfter {}), not serial {} that the rotation issued for {}",
                ep.name, s.serial, s.not_after, r.issued.serial, r.instance
            ),
            format!(
                "served sha256 {}, issued sha256 {} ({})",
                s.sha256, r.issued.sha256, r.manifest
            ),
            format!(
                "if the new files are not on its host yet, copy them: {copy}; then reload the instance: `{}`",
                reload_command(cluster, &expected.node)
            ),
        )
        .endpoint(ep.name.clone()),
    )
}

/// The findings of the `drift` of the inventory's endpoints (by index).
pub(super) fn findings(inv: &Inventory, drift: &[Option<Drift>], out: &mut Vec<Finding>) {
    for (ep, d) in inv.endpoints.iter().zip(drift) {
        let Some(d) = d else { continue };
        out.extend(rotation_finding(inv, ep, d));
        if let (CertDrift::NotReloaded, Some(s), Some(f), Some(path)) =
            (d.cert, &d.served, &d.file, &d.cert_file)
        {
            out.push(
                Finding::new(
                    Code::CertNotReloaded,
                    Severity::Warning,
                    format!(
                        "{} serves certificate serial {} (notAfter {}), the file {path} holds serial {} (notAfter {}): not reloaded yet, or the server runs with another file",
                        ep.name, s.serial, s.not_after, f.serial, f.not_after
                    ),
                    format!(
                        "served sha256 {}, file sha256 {} ({})",
                        s.sha256,
                        f.sha256,
                        reload_rule(ep)
                    ),
                    format!(
                        "make {} the file {} serves ({}); TiKV and TiFlash pick it up on the next connection once its mtime changed (touch {path}), the Go components at the next handshake; else restart {}",
                        path,
                        ep.name,
                        setting(ep, false),
                        restart(inv, ep)
                    ),
                )
                .endpoint(ep.name.clone()),
            );
        }
        if let (CaDrift::RestartRequired, Some(path)) = (d.ca, &d.ca_file) {
            // A caller the file's CA issued is refused now: an outage; otherwise it is one the
            // day callers present certificates of the file's CA.
            let severity = if d.refused.is_empty() {
                Severity::Warning
            } else {
                Severity::Critical
            };
            out.push(
                Finding::new(
                    Code::CaRestartRequired,
                    severity,
                    format!(
                        "the CA file {path} does not hold the CA {} runs with: the server still verifies against the old CA (the CA is read only at start)",
                        ep.name
                    ),
                    d.ca_evidence.join("; "),
                    format!(
                        "restart {} so that it loads {path} ({}); first make sure its certificate is issued by a CA in that file, and during a CA rotation keep the old and the new CA in the file until every component serves the new one",
                        restart(inv, ep),
                        setting(ep, true)
                    ),
                )
                .endpoint(ep.name.clone()),
            );
        }
    }
}

/// The endpoints of a TiUP topology whose served certificate nothing was compared with (no
/// certificate file readable here, no rotation manifest), in one sentence for "not checked":
/// TiUP's control machine keeps no instance certificate, so a missed reload cannot show there
/// unless the manifest of the rotation is given. Not for the SQL ports (their certificate is
/// the operator's own) and the monitoring agents (plaintext).
pub fn not_compared(inv: &Inventory) -> Option<String> {
    use crate::profile::Role;
    tiup_cluster(inv)?;
    let names: Vec<&str> = inv
        .endpoints
        .iter()
        .filter(|e| e.cert_file.is_none() && e.rotation.is_none())
        .filter(|e| {
            !matches!(
                e.role,
                Role::TidbSql | Role::TiproxySql | Role::NodeExporter | Role::BlackboxExporter
            )
        })
        .map(|e| e.name.as_str())
        .collect();
    (!names.is_empty()).then(|| {
        format!(
            "the certificate served by {} was compared with no certificate file and no rotation: TiUP's control machine keeps no instance certificate, so a reload missed after a rotation shows only with --expect-rotation <rotate's rotation.json> (or with the instances' files: --component-config)",
            names.join(", ")
        )
    })
}

/// The endpoints whose drift files cannot be read, in one sentence for "not checked".
pub fn not_checked(endpoints: &[Endpoint]) -> Option<String> {
    let unreadable = |p: &Option<PathBuf>| {
        p.as_ref()
            .filter(|p| std::fs::File::open(p).is_err() || !p.is_file())
            .map(|p| p.display().to_string())
    };
    let mut names = Vec::new();
    let mut files = Vec::new();
    for ep in endpoints {
        let bad: Vec<String> = [unreadable(&ep.cert_file), unreadable(&ep.ca_file)]
            .into_iter()
            .flatten()
            .collect();
        if !bad.is_empty() {
            names.push(ep.name.as_str());
            files.extend(bad);
        }
    }
    (!names.is_empty()).then(|| {
        format!(
            "rotation drift was not checked for {}: {} cannot be read here (copy the files here, or audit on that host)",
            names.join(", "),
            files.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Auditor, Plan, Snapshot};
    use crate::inventory::Inventory;
    use crate::pki::mint::Ca;
    use std::sync::Arc;

    /// A CA, a server leaf of it, and an inventory naming them as the endpoint's files.
    struct Setup {
        dir: tempfile::TempDir,
        ca: Ca,
    }

    fn leaf(ca: &Ca, days: i64) -> String {
        ca.issue("tikv", &["127.0.0.1".to_string()], true, days)
            .unwrap()
            .cert_pem
    }

    impl Setup {
        fn new() -> Setup {
            let dir = tempfile::tempdir().unwrap();
            let ca = Ca::generate("drift", 1).unwrap();
            std::fs::write(dir.path().join("ca.crt"), &ca.pem).unwrap();
            std::fs::write(dir.path().join("tikv.crt"), leaf(&ca, 20)).unwrap();
            Setup { dir, ca }
        }

        fn path(&self, f: &str) -> PathBuf {
            self.dir.path().join(f)
        }

        /// The plan of an inventory whose one endpoint names `cert_file` and `ca_file`.
        fn plan(&self, cert_file: &str) -> Plan {
            self.plan_with(cert_file, "")
        }

        /// As [`Setup::plan`], with `identities` (TOML) before the endpoint.
        fn plan_with(&self, cert_file: &str, identities: &str) -> Plan {
            let text = format!(
                "[cluster]\nname = \"t\"\nca = \"ca.crt\"\n[probe]\nforeign = false\nunlisted = false\n{identities}[[endpoints]]\nname = \"tikv-1\"\ncomponent = \"tikv\"\naddress = \"127.0.0.1:1\"\ncert_file = \"{cert_file}\"\nca_file = \"ca.crt\"\n"
            );
            let inv = Inventory::parse(&text, &self.path("tlsaudit.toml")).unwrap();
            Plan::new(inv).unwrap()
        }
    }

    /// The plan's snapshot with every cell's record serving `served` (PEM, leaf first).
    async fn served(plan: Plan, served: &str) -> (Arc<Plan>, Snapshot) {
        let auditor = Auditor::new(plan);
        let plan = auditor.plan();
        // A refused connection on loopback gives a real record; the chain is the served one.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let spec =
            crate::probe::ProbeSpec::new(format!("127.0.0.1:{port}"), crate::probe::Protocol::Tls);
        let mut rec = crate::probe::probe(&spec, &plan.identities[0].caller, &plan.trust).await;
        let der = crate::pki::load::certs_from_pem(served, Path::new("served.crt"), CertRole::Leaf)
            .unwrap();
        rec.server_chain = der.iter().map(|d| summarize(d.as_ref()).unwrap()).collect();
        let mut snap = (*auditor.snapshot()).clone();
        let rec = Arc::new(rec);
        for id in plan.expected.ids() {
            snap.cells[id].record = Some(rec.clone());
        }
        (plan, snap)
    }

    fn drift_of(plan: &Plan, snap: &mut Snapshot) -> (Drift, Vec<Finding>) {
        snap.drift = check(plan.endpoints(), &plan.identities, &snap.cells);
        let mut out = Vec::new();
        findings(&plan.inventory, &snap.drift, &mut out);
        (snap.drift[0].clone().unwrap(), out)
    }

    #[test]
    fn a_tiup_instance_is_restarted_by_reloading_its_node() {
        let s = Setup::new();
        let text = "[cluster]\nname = \"prod\"\nca = \"ca.crt\"\n[[endpoints]]\nname = \"tikv-h-20160\"\ncomponent = \"tikv\"\nrole = \"grpc\"\naddress = \"h:20160\"\n[[endpoints]]\nname = \"tikv-h-20180\"\ncomponent = \"tikv\"\nrole = \"status\"\naddress = \"h:20180\"\n";
        let mut inv = Inventory::parse(text, &s.path("tlsaudit.toml")).unwrap();
        // An inventory of its own: the endpoint's name.
        assert_eq!(restart(&inv, &inv.endpoints[1]), "tikv-h-20180");
        // Read from a TiUP topology: TiUP's reload of the instance, by its main port.
        inv.origin = crate::inventory::Origin::Topology;
        for ep in &inv.endpoints {
            assert_eq!(restart(&inv, ep), "`tiup cluster reload prod -N h:20160`");
        }
    }

    #[tokio::test]
    async fn the_served_file_is_in_sync_and_its_days_left_are_counted() {
        let s = Setup::new();
        let pem = std::fs::read_to_string(s.path("tikv.crt")).unwrap();
        let (plan, mut snap) = served(s.plan("tikv.crt"), &pem).await;
        let (d, found) = drift_of(&plan, &mut snap);
        assert_eq!(d.cert, CertDrift::InSync);
        assert_eq!(d.ca, CaDrift::Current, "{:?}", d.ca_evidence);
        assert!(matches!(d.days_left, Some(19 | 20)), "{:?}", d.days_left);
        assert!(found.is_empty(), "{found:#?}");
    }

    #[tokio::test]
    async fn a_replaced_file_not_reloaded_is_a_finding_naming_the_file() {
        let s = Setup::new();
        let old = std::fs::read_to_string(s.path("tikv.crt")).unwrap();
        std::fs::write(s.path("tikv.crt"), leaf(&s.ca, 90)).unwrap();
        let (plan, mut snap) = served(s.plan("tikv.crt"), &old).await;
        let (d, found) = drift_of(&plan, &mut snap);
        assert_eq!(d.cert, CertDrift::NotReloaded);
        assert_ne!(d.served, d.file);
        // Same CA: nothing about it, although the served leaf's DER is not at hand.
        assert_eq!(d.ca, CaDrift::Unknown, "{:?}", d.ca_evidence);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].code, Code::CertNotReloaded);
        let file = s.path("tikv.crt").display().to_string();
        assert!(found[0].title.contains(&file), "{}", found[0].title);
        assert!(
            found[0].fix.contains("cert-path in tikv.toml"),
            "{}",
            found[0].fix
        );
    }

    #[tokio::test]
    async fn a_ca_file_holding_another_ca_requires_a_restart() {
        let s = Setup::new();
        let pem = std::fs::read_to_string(s.path("tikv.crt")).unwrap();
        let plan = s.plan("tikv.crt");
        // The CA file is replaced after the server (and the audit's trust) loaded the old one.
        let other = Ca::generate("drift", 1).unwrap();
        std::fs::write(s.path("ca.crt"), &other.pem).unwrap();
        let (plan, mut snap) = served(plan, &pem).await;
        let (d, found) = drift_of(&plan, &mut snap);
        assert_eq!(d.cert, CertDrift::InSync);
        assert_eq!(d.ca, CaDrift::RestartRequired);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].code, Code::CaRestartRequired);
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(
            found[0].fix.contains("ca-path in tikv.toml"),
            "{}",
            found[0].fix
        );
        // A bundle of the old and the new CA is what a rotation should have: current.
        std::fs::write(s.path("ca.crt"), format!("{}{}", other.pem, s.ca.pem)).unwrap();
        let (d, found) = drift_of(&plan, &mut snap);
        assert_eq!(d.ca, CaDrift::Current);
        assert!(found.is_empty(), "{found:#?}");
    }

    /// Callers `a` and `b` issued by the CA of `s`, as inventory identities.
    fn callers(s: &Setup) -> String {
        let mut toml = String::new();
        for name in ["a", "b"] {
            let issued = s.ca.issue(name, &[], false, 30).unwrap();
            std::fs::write(s.path(&format!("{name}.crt")), issued.cert_pem).unwrap();
            std::fs::write(s.path(&format!("{name}.pem")), issued.key_pem).unwrap();
            toml.push_str(&format!(
                "[identities.{name}]\ncert = \"{name}.crt\"\nkey = \"{name}.pem\"\n"
            ));
        }
        toml
    }

    /// Set the outcome class of identity `name`'s record.
    fn outcome(plan: &Plan, snap: &mut Snapshot, name: &str, class: OutcomeClass) {
        let i = plan.identities.iter().position(|i| i.name == name).unwrap();
        let cell = (crate::audit::IdentityId(i), EndpointId(0));
        let mut rec = (**snap.cells[cell].record.as_ref().unwrap()).clone();
        rec.outcome.class = class;
        snap.cells[cell].record = Some(Arc::new(rec));
    }

    #[tokio::test]
    async fn callers_of_the_file_ca_refused_make_it_critical_unless_one_passed() {
        let s = Setup::new();
        let pem = std::fs::read_to_string(s.path("tikv.crt")).unwrap();
        let ids = callers(&s);
        let (plan, mut snap) = served(s.plan_with("tikv.crt", &ids), &pem).await;
        // One refused, the other through the server's CA check: a lone reset, not the CA.
        outcome(&plan, &mut snap, "a", OutcomeClass::CertRejected);
        outcome(&plan, &mut snap, "b", OutcomeClass::CnRejected);
        let (d, found) = drift_of(&plan, &mut snap);
        assert_eq!(d.ca, CaDrift::Current, "{:?}", d.ca_evidence);
        assert!(d.refused.is_empty());
        assert!(found.is_empty(), "{found:#?}");
        // Both refused: the server does not verify against the file's CA.
        outcome(&plan, &mut snap, "b", OutcomeClass::CertRejected);
        let (d, found) = drift_of(&plan, &mut snap);
        assert_eq!(d.ca, CaDrift::RestartRequired);
        assert_eq!(d.refused, ["a", "b"]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].code, Code::CaRestartRequired);
        assert_eq!(found[0].severity, Severity::Critical);
        assert!(found[0].evidence.contains("a, b"), "{}", found[0].evidence);
    }

    #[tokio::test]
    async fn an_unreadable_file_is_not_compared_and_said_once() {
        let s = Setup::new();
        let pem = std::fs::read_to_string(s.path("tikv.crt")).unwrap();
        let plan = s.plan("missing.crt");
        let note = plan
            .not_checked
            .iter()
            .filter(|n| n.contains("rotation drift"))
            .collect::<Vec<_>>();
        assert_eq!(note.len(), 1, "{:?}", plan.not_checked);
        assert!(note[0].contains("missing.crt") && note[0].contains("tikv-1"));
        let (plan, mut snap) = served(plan, &pem).await;
        let (d, found) = drift_of(&plan, &mut snap);
        assert_eq!(d.cert, CertDrift::Unreadable);
        assert_eq!(d.problems.len(), 1, "{:?}", d.problems);
        assert!(found.is_empty(), "{found:#?}");
    }
}
