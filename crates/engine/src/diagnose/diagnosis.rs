//! What a diagnosis returns: the `Diagnosis` (target, identity, trace, baseline, variants)
//! and its `LinkVerdict`, the `CauseFinding`s with the config key to change, and the exit
//! code, which judges the link as the report judges its cell when the expectation is known.

use serde::Serialize;

use crate::audit::{Expected, Verdict};
use crate::probe::{IdentityReport, ProbeRecord, Protocol};
use crate::profile::{Component, Role};

use super::caller::KeyMismatch;
use super::cause::{Cause, LogText};
use super::resolution::Resolution;
use super::steps::Step;
use super::target::Target;
use super::variant::VariantRun;

/// A config key to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigChange {
    /// `TiKV`, `PD`, ...
    pub component: String,
    /// `tikv.toml`.
    pub file: String,
    /// `[security] cert-allowed-cn`.
    pub key: String,
    /// The same key in a TiUP topology (`server_configs.tikv.security.cert-allowed-cn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiup: Option<String>,
}

/// Which side of the link a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The server (its certificate, its configuration).
    Server,
    /// The caller (its certificate, its key).
    Client,
    /// The connection itself (ports, protocols).
    Link,
}

/// One named cause with its evidence and fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CauseFinding {
    pub cause: Cause,
    pub title: String,
    pub side: Side,
    /// What is wrong, with the names involved.
    pub summary: String,
    /// What showed it: the server's answer, the differences between variants.
    pub evidence: Vec<String>,
    /// What to change, in the operator's words.
    pub fix: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigChange>,
    /// What the real components print for this failure.
    pub log_texts: Vec<LogText>,
    /// The failure mode's number in `docs/tidb.md` ("Failure modes").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fact: Option<u8>,
}

/// The outcome of the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkVerdict {
    /// The link works and no cause was found.
    pub works: bool,
    /// The report's verdict for this cell, by the audit's own rule, when the inventory says what
    /// to expect (endpoint and identity from it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<Verdict>,
    /// What the configuration expects of this identity here, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
    pub headline: String,
    pub findings: Vec<CauseFinding>,
    /// Observations that do not break the link (an endpoint admitting anonymous callers, the
    /// TLS versions it speaks, ...).
    pub notes: Vec<String>,
}

/// The target as the diagnosis reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetInfo {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<Component>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub component_guessed: bool,
    pub protocol: Protocol,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub server_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub declared_allowed_cn: Vec<String>,
}

impl TargetInfo {
    /// The target as probed, verified for `server_name`.
    pub fn new(t: &Target, server_name: String) -> TargetInfo {
        TargetInfo {
            address: t.address.clone(),
            endpoint: t.endpoint.clone(),
            component: t.component,
            role: t.role,
            component_guessed: t.component_guessed,
            protocol: t.protocol,
            path: t.path.clone(),
            server_name,
            declared_allowed_cn: t.declared_allowed_cn.clone(),
        }
    }
}

/// A whole diagnosis: trace, variants, verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    pub target: TargetInfo,
    pub identity: IdentityReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_mismatch: Option<KeyMismatch>,
    pub resolution: Resolution,
    pub steps: Vec<Step>,
    pub baseline: ProbeRecord,
    pub variants: Vec<VariantRun>,
    pub verdict: LinkVerdict,
    /// The TLS versions and suites the target accepts (absent with `--no-scan`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<crate::scan::ScanResult>,
    /// The scan's findings (obsolete versions, weak suites, keys, signatures), with the fixes
    /// the report gives them: they do not break the link, and do not change the exit code.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hygiene: Vec<crate::finding::Finding>,
}

impl Diagnosis {
    /// As the report judges the cell when the expectation is known: 0 for `secure` (and no
    /// cause found) and `enforced` (refused as configured), 1 otherwise. Without an expectation: 0 when the link
    /// works, 1 when a cause was found.
    pub fn exit_code(&self) -> u8 {
        match self.verdict.cell {
            // Secure by the audit's rule, yet a cause found (a gRPC server without ALPN h2,
            // which the report flags on the endpoint): real callers fail.
            Some(Verdict::Secure) => u8::from(!self.verdict.findings.is_empty()),
            Some(v) => u8::from(v.is_failing()),
            None => u8::from(!self.verdict.works),
        }
    }

    /// The causes found, in order.
    pub fn causes(&self) -> Vec<Cause> {
        self.verdict.findings.iter().map(|f| f.cause).collect()
    }

    /// The finding for a cause, if found.
    pub fn finding(&self, cause: Cause) -> Option<&CauseFinding> {
        self.verdict.findings.iter().find(|f| f.cause == cause)
    }
}
