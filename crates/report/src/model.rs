//! The JSON report (`tlsaudit.report/v1`): one model, written and read back. Its JSON Schema is
//! published at `docs/report.schema.json`; the types here are its only definition, separate
//! from the engine's internal types. A report is built from a round ([`Report::build`], in
//! `build.rs`) or read from a file ([`Report::parse`], in `read.rs`); every writer draws from
//! it, so a saved report renders exactly as a live one.
//!
//! Reading is tolerant: a field an older writer left out takes its default, a field a newer
//! writer added is ignored, and a name from a closed set this version does not know (a
//! component, a protocol, a finding code, a severity, an identity kind) is kept as written
//! ([`Named::Other`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use tlsaudit_engine::audit::drift::Drift;
use tlsaudit_engine::audit::{Code, Expected, IdentityKind, Severity, Verdict};
use tlsaudit_engine::pki::IdentityCheck;
use tlsaudit_engine::probe::{OutcomeClass, ProbeRecord, Protocol};
use tlsaudit_engine::profile::Component;
use tlsaudit_engine::scan::ScanResult;

use crate::diff::{Change, Diff};
use crate::named::{Named, SEVERITIES};

/// The schema identifier; bump the version on an incompatible change.
pub const SCHEMA: &str = "tlsaudit.report/v1";

/// One audit report: a round, a saved report read back, or a merge of several.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    #[serde(default)]
    pub tool: Tool,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub cluster: Cluster,
    /// Where the audit ran (`serve --vantage`, `report --vantage`); null when not said.
    #[serde(default)]
    pub vantage: Option<String>,
    /// A merged report (`tlsaudit merge`): the vantage points it combines, in input order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vantages: Option<Vec<String>>,
    #[serde(default)]
    pub summary: Summary,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    #[serde(default)]
    pub identities: Vec<Identity>,
    /// Identity-major over `identities` and `endpoints` (see [`Report::cell`]).
    #[serde(default)]
    pub cells: Vec<Cell>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// What this audit did not check, in words (identities not tried, versions assumed,
    /// endpoints left out of scope).
    #[serde(default)]
    pub not_checked: Vec<String>,
    /// With `report --baseline`: everything that changed since the baseline report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Diff>,
    /// How, where and from what the report was made (`tlsaudit report`); absent in reports
    /// written before it, which read back byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

/// What an auditor needs to trust a report later: the build that wrote it, the command line
/// (secrets removed), the probing host, the inventory (its SHA-256 and its text: key paths,
/// never key material) and the CA certificates callers trusted. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The build: version, target and profile (`0.1.0 x86_64-linux release`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// The command line, each argument as given, secrets replaced by `<redacted>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command_line: Vec<String>,
    /// The host the probes left from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// SHA-256 of the inventory (or TiUP topology) file, lowercase hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_sha256: Option<String>,
    /// The inventory's text as read (left out when it holds a private key, or is too large).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_text: Option<String>,
    /// The CA certificates callers trusted, in the CA file's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_certificates: Vec<CaCertificate>,
}

/// One trusted CA certificate, by fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaCertificate {
    pub subject: String,
    /// SHA-256 over the DER, lowercase hex.
    pub sha256: String,
    #[serde(default)]
    pub not_after: String,
}

impl Provenance {
    /// The command line as a shell would read it back (`'` quoting where needed).
    pub fn command_text(&self) -> String {
        self.command_line
            .iter()
            .map(|a| tlsaudit_engine::tiup::shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The program that wrote the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    /// This library's version of tlsaudit.
    fn default() -> Self {
        Tool {
            name: "tlsaudit".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    #[serde(default)]
    pub name: String,
    /// The CA file callers trust.
    #[serde(default)]
    pub ca: String,
    /// The inventory (or TiUP topology) the audit was made from.
    #[serde(default)]
    pub inventory: Option<String>,
}

/// Counts of the cells' verdicts and of the findings by severity, zeros included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub endpoints: usize,
    pub identities: usize,
    pub cells: usize,
    /// Every verdict, with zero counts included; `bad_identity` (added after the first schema)
    /// only when a cell has it, so that a report of an earlier version reads back unchanged.
    pub verdicts: BTreeMap<String, usize>,
    /// Findings by severity, zero counts included.
    pub findings: BTreeMap<String, usize>,
}

impl Summary {
    /// The summary of a report's lists.
    pub fn of(r: &Report) -> Summary {
        let mut verdicts: BTreeMap<String, usize> = Verdict::ALL
            .iter()
            .filter(|v| v.always_listed())
            .map(|v| (v.as_str().to_string(), 0))
            .collect();
        for v in r.cells.iter().filter_map(|c| c.verdict) {
            *verdicts.entry(v.as_str().to_string()).or_default() += 1;
        }
        let findings = SEVERITIES
            .iter()
            .map(|s| {
                let n = r.findings.iter().filter(|f| f.severity == *s).count();
                (s.as_str().to_string(), n)
            })
            .collect();
        Summary {
            endpoints: r.endpoints.len(),
            identities: r.identities.len(),
            cells: r.cells.len(),
            verdicts,
            findings,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: String,
    #[serde(default)]
    pub component: Named<Component>,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub server_name: String,
    #[serde(default)]
    pub protocol: Named<Protocol>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub allowed_cn: Vec<String>,
    #[serde(default)]
    pub requires_client_cert: bool,
    #[serde(default)]
    pub list_enforced: bool,
    #[serde(default)]
    pub list_key: String,
    #[serde(default)]
    pub config_file: String,
    /// The inventory's free-form labels of the endpoint (`labels = { rack = "r1", zone =
    /// "az1" }`); left out when there are none, so that reports of earlier versions read back
    /// byte for byte.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// A merged report whose vantage points dialed this endpoint at different addresses: each
    /// vantage point's address (`address` is then the first vantage point's). Absent when
    /// they all dialed the same one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<BTreeMap<String, String>>,
    /// What the endpoint spoke when it was not TLS (`http/1`, `mysql`, `ssh`, `unknown`): the
    /// protocol observed, where it differs from the one configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_protocol: Option<String>,
    /// Rotation drift: the served certificate against the files the component is configured
    /// with (only where a `cert_file` or `ca_file` is known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// The TLS hygiene scan: the versions and suites the endpoint accepts, its key-exchange
    /// groups and the served chain's keys and signatures (absent with `--no-scan`, and in
    /// reports written before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
    #[serde(default)]
    pub kind: Named<IdentityKind>,
    #[serde(default)]
    pub component: Option<Named<Component>>,
    #[serde(default)]
    pub cn: Option<String>,
    #[serde(default)]
    pub cert_file: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub not_after: Option<String>,
    #[serde(default)]
    pub check: IdentityCheck,
}

/// One identity at one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub identity: String,
    pub endpoint: String,
    #[serde(default = "no_expectation")]
    pub expected: Expected,
    #[serde(default)]
    pub verdict: Option<Verdict>,
    #[serde(default)]
    pub outcome: Option<OutcomeClass>,
    #[serde(default)]
    pub changed: bool,
    #[serde(default)]
    pub rotated: bool,
    /// The fix of the finding about this cell, if any.
    #[serde(default)]
    pub fix: Option<String>,
    /// The probe record, shared with the round's snapshot (serialized as the record itself).
    #[serde(
        default,
        serialize_with = "shared_record",
        deserialize_with = "own_record"
    )]
    pub record: Option<Arc<ProbeRecord>>,
    /// With `report --baseline`, on a cell whose verdict changed since the baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineMark>,
    /// A merged report: what each vantage point that probed this cell saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_vantage: Option<BTreeMap<String, VantageCell>>,
    /// The one-line `tlsaudit probe` command that re-runs this cell (`tlsaudit report`; absent
    /// for an identity minted at run time, and in reports written before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduce: Option<String>,
}

/// What a cell that does not say what was expected reads as.
fn no_expectation() -> Expected {
    Expected::none("")
}

fn shared_record<S: Serializer>(r: &Option<Arc<ProbeRecord>>, s: S) -> Result<S::Ok, S::Error> {
    r.as_deref().serialize(s)
}

fn own_record<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<ProbeRecord>>, D::Error> {
    Option::<ProbeRecord>::deserialize(d).map(|r| r.map(Arc::new))
}

impl Cell {
    /// A cell no report of the document probed.
    pub fn not_probed(identity: &str, endpoint: &str) -> Cell {
        Cell {
            identity: identity.to_string(),
            endpoint: endpoint.to_string(),
            expected: Expected {
                reason: "not probed: the report has no such cell".to_string(),
                ..no_expectation()
            },
            verdict: None,
            outcome: None,
            changed: false,
            rotated: false,
            fix: None,
            record: None,
            baseline: None,
            by_vantage: None,
            reproduce: None,
        }
    }

    /// A merged cell whose vantage points saw different verdicts (those that did not try it
    /// aside).
    pub fn disagrees(&self) -> bool {
        self.by_vantage.as_ref().is_some_and(vantages_disagree)
    }
}

/// Whether the vantage points that tried a merged cell saw different verdicts (a vantage
/// point that did not try it, [`VantageCell::not_tried`], disagrees with none).
pub fn vantages_disagree(by: &BTreeMap<String, VantageCell>) -> bool {
    let mut v = by
        .values()
        .filter(|c| c.not_tried.is_none())
        .map(|c| c.verdict);
    v.next().is_some_and(|first| v.any(|x| x != first))
}

/// One vantage point's view of a merged cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VantageCell {
    pub verdict: Option<Verdict>,
    pub outcome: Option<OutcomeClass>,
    /// Why this vantage point has no verdict for the cell: its report lacks the identity or
    /// the endpoint, or has the cell unprobed. Absent on a cell it tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_tried: Option<NotTried>,
}

/// Why a vantage point of a merged report did not try a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotTried {
    /// Its report has no such identity (switched off, or out of its `--identity` scope).
    Identity,
    /// Its report has no such endpoint (not in its inventory, or out of its scope).
    Endpoint,
    /// Its report has the identity and the endpoint but no verdict for the cell.
    Cell,
}

impl NotTried {
    /// In words, for the vantage point `vantage`: `rack-b's report has no identity foreign`.
    pub fn describe(self, vantage: &str, identity: &str, endpoint: &str) -> String {
        match self {
            NotTried::Identity => {
                format!("not tried: {vantage}'s report has no identity {identity}")
            }
            NotTried::Endpoint => {
                format!("not tried: {vantage}'s report has no endpoint {endpoint}")
            }
            NotTried::Cell => format!("not tried: {vantage}'s report has no verdict for it"),
        }
    }
}

impl VantageCell {
    /// The view of a vantage point that did not try the cell.
    pub fn not_tried(why: NotTried) -> VantageCell {
        VantageCell {
            verdict: None,
            outcome: None,
            not_tried: Some(why),
        }
    }
}

impl Endpoint {
    /// The address in words: in a merged report whose vantage points dialed different ones,
    /// each with its vantage point (`127.0.0.1:20160 from rack-a, 127.0.0.1:1 from rack-b`).
    pub fn address_text(&self) -> String {
        match &self.addresses {
            Some(by) => by
                .iter()
                .map(|(v, a)| format!("{a} from {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            None => self.address.clone(),
        }
    }
}

/// How a cell changed since the baseline report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineMark {
    pub before: Option<Verdict>,
    pub change: Change,
}

/// A finding as the report carries it: the engine's finding, with its code and severity kept
/// as written when this version does not know them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code, e.g. `CN_NOT_ENFORCED`.
    pub code: Named<Code>,
    pub severity: Named<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// One sentence: what is wrong.
    #[serde(default)]
    pub title: String,
    /// What was observed.
    #[serde(default)]
    pub evidence: String,
    /// What to change, naming the key and file.
    #[serde(default)]
    pub fix: String,
    /// The file and key a static finding comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// In a merged report: the vantage points that saw this finding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vantages: Vec<String>,
}

impl From<&tlsaudit_engine::audit::Finding> for Finding {
    fn from(f: &tlsaudit_engine::audit::Finding) -> Self {
        Finding {
            code: f.code.into(),
            severity: f.severity.into(),
            endpoint: f.endpoint.clone(),
            identity: f.identity.clone(),
            title: f.title.clone(),
            evidence: f.evidence.clone(),
            fix: f.fix.clone(),
            source: f.source.clone(),
            vantages: f.vantages.clone(),
        }
    }
}

impl Finding {
    /// The engine's finding, when this version knows its code and severity.
    pub fn to_engine(&self) -> Option<tlsaudit_engine::audit::Finding> {
        Some(tlsaudit_engine::audit::Finding {
            code: self.code.known()?,
            severity: self.severity.known()?,
            endpoint: self.endpoint.clone(),
            identity: self.identity.clone(),
            title: self.title.clone(),
            evidence: self.evidence.clone(),
            fix: self.fix.clone(),
            source: self.source.clone(),
            vantages: self.vantages.clone(),
        })
    }
}

impl Report {
    /// The cell of identity `i` at endpoint `e` (cells are identity-major).
    pub fn cell(&self, i: usize, e: usize) -> &Cell {
        &self.cells[i * self.endpoints.len() + e]
    }

    /// Whether a finding reaches `fail_on` (the exit code of `report` and `merge`).
    pub fn fails(&self, fail_on: Severity) -> bool {
        self.findings.iter().any(|f| f.severity.reaches(fail_on))
    }

    /// Write the report as pretty JSON and a final newline, as it is serialized: at fleet
    /// scale the text is tens of megabytes and is never built as one string.
    pub fn write_json(&self, out: impl Write) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
        serde_json::to_writer_pretty(&mut out, self)?;
        out.write_all(b"\n")?;
        out.flush()
    }

    /// The report as pretty JSON, with a final newline.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self).map(|mut s| {
            s.push('\n');
            s
        })
    }
}

impl From<Report> for std::borrow::Cow<'_, Report> {
    fn from(r: Report) -> Self {
        std::borrow::Cow::Owned(r)
    }
}

impl<'a> From<&'a Report> for std::borrow::Cow<'a, Report> {
    fn from(r: &'a Report) -> Self {
        std::borrow::Cow::Borrowed(r)
    }
}
