//! The variant probes: what each changes against the baseline (no certificate, another
//! identity, one TLS version, other ALPN, another server name), which are worth running after a
//! baseline, how they run (concurrently, each a real handshake) and what each showed.

use serde::Serialize;

use crate::pki::{Identity, Trust};
use crate::probe::{self, Caller, OutcomeClass, ProbeRecord, ProbeSpec, Protocol, TlsVersions};

use super::inputs::Inputs;

/// What a variant probe changes against the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Variant {
    /// No client certificate.
    NoCert,
    /// Another identity of the inventory.
    As(String),
    Tls12,
    Tls13,
    AlpnNone,
    AlpnH2,
    AlpnHttp11,
    /// The server verified for another name.
    ServerName(String),
}

impl Variant {
    /// The stable id in the JSON output: `no_cert`, `as:<identity>`, `tls1.2`, `tls1.3`,
    /// `alpn:none`, `alpn:h2`, `alpn:http/1.1`, `name:<server name>`.
    pub fn id(&self) -> String {
        match self {
            Variant::NoCert => "no_cert".into(),
            Variant::As(name) => format!("as:{name}"),
            Variant::Tls12 => "tls1.2".into(),
            Variant::Tls13 => "tls1.3".into(),
            Variant::AlpnNone => "alpn:none".into(),
            Variant::AlpnH2 => "alpn:h2".into(),
            Variant::AlpnHttp11 => "alpn:http/1.1".into(),
            Variant::ServerName(name) => format!("name:{name}"),
        }
    }

    pub fn is_identity(&self) -> bool {
        matches!(self, Variant::As(_))
    }

    pub fn is_alpn(&self) -> bool {
        matches!(
            self,
            Variant::AlpnNone | Variant::AlpnH2 | Variant::AlpnHttp11
        )
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.id())
    }
}

impl Serialize for Variant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.id())
    }
}

/// One variant probe and what it showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantRun {
    pub id: Variant,
    /// What changed, in words.
    pub label: String,
    pub outcome: OutcomeClass,
    /// For a server that is not trusted: what the check saw of the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<OutcomeClass>,
    /// What the handshake and check showed, in a few words.
    pub observed: String,
    pub summary: String,
    pub record: ProbeRecord,
}

impl VariantRun {
    /// Whether the caller got through (past an untrusted chain too).
    pub fn admitted(&self) -> bool {
        admitted(&self.record)
    }
}

/// Whether a probe got through (past an untrusted chain too).
pub fn admitted(rec: &ProbeRecord) -> bool {
    rec.outcome.class == OutcomeClass::Accepted
        || (rec.outcome.class == OutcomeClass::ServerUntrusted
            && rec.outcome.authorization == Some(OutcomeClass::Accepted))
}

/// The probe spec of the target as given.
pub fn base_spec(inputs: &Inputs) -> ProbeSpec {
    let t = &inputs.target;
    let mut spec = ProbeSpec::new(t.address.clone(), t.protocol);
    spec.server_name = t.server_name.clone();
    spec.path = t.path.clone();
    spec.timeouts = inputs.timeouts;
    if spec.protocol == Protocol::Mysql {
        spec.mysql_account = inputs.mysql_account.clone();
    }
    spec
}

/// Whether the baseline got far enough into TLS for variants to tell anything.
pub fn reached_tls(rec: &ProbeRecord) -> bool {
    rec.tls.is_some()
        || !rec.server_chain.is_empty()
        || rec.evidence.alert.is_some()
        || matches!(
            rec.outcome.class,
            OutcomeClass::TlsMismatch
                | OutcomeClass::CertRequired
                | OutcomeClass::CertRejected
                | OutcomeClass::CnRejected
        )
}

/// One planned variant.
#[derive(Debug, Clone)]
pub struct VariantPlan {
    pub id: Variant,
    pub label: String,
    pub spec: ProbeSpec,
    pub caller: Caller,
}

impl VariantPlan {
    fn new(id: Variant, label: impl Into<String>, spec: ProbeSpec, caller: &Caller) -> Self {
        VariantPlan {
            id,
            label: label.into(),
            spec,
            caller: caller.clone(),
        }
    }
}

fn who(c: &Caller) -> String {
    match c.identity.cn() {
        Some(cn) if cn != c.identity.name => format!("{} (CN {cn})", c.identity.name),
        Some(_) => c.identity.name.clone(),
        None => format!("{} (no certificate)", c.identity.name),
    }
}

/// The variants worth running after this baseline: other callers, one TLS version, other
/// ALPN, other server names, in that order.
pub fn plan_variants(inputs: &Inputs, base: &ProbeRecord) -> Vec<VariantPlan> {
    if !reached_tls(base) {
        return Vec::new();
    }
    let mut spec = base_spec(inputs);
    // A SQL port's plaintext login is the baseline's; the variants change the TLS side only.
    spec.mysql_plaintext = false;
    let me = &inputs.caller;
    let mut out = caller_variants(inputs, &spec);
    out.extend(version_variants(&spec, me));
    out.extend(alpn_variants(&spec, me));
    out.extend(name_variants(&spec, base, me));
    out
}

/// Without a client certificate (when the caller has one), then as each other identity.
fn caller_variants(inputs: &Inputs, spec: &ProbeSpec) -> Vec<VariantPlan> {
    let mut out = Vec::new();
    if inputs.caller.identity.key.is_some() {
        out.push(VariantPlan::new(
            Variant::NoCert,
            "without a client certificate",
            spec.clone(),
            &Caller::new(Identity::anonymous(), &inputs.trust),
        ));
    }
    for other in &inputs.others {
        out.push(VariantPlan::new(
            Variant::As(other.identity.name.clone()),
            format!("as {}", who(other)),
            spec.clone(),
            other,
        ));
    }
    out
}

/// TLS 1.2 only, then TLS 1.3 only.
fn version_variants(spec: &ProbeSpec, me: &Caller) -> Vec<VariantPlan> {
    [
        (Variant::Tls12, "TLS 1.2 only", TlsVersions::Tls12),
        (Variant::Tls13, "TLS 1.3 only", TlsVersions::Tls13),
    ]
    .into_iter()
    .map(|(id, label, v)| {
        let mut s = spec.clone();
        s.versions = v;
        VariantPlan::new(id, label, s, me)
    })
    .collect()
}

/// Without ALPN, then h2 only (http/1.1 only when h2 alone is what the baseline offers).
fn alpn_variants(spec: &ProbeSpec, me: &Caller) -> Vec<VariantPlan> {
    // MySQL servers negotiate no ALPN: nothing to vary.
    if spec.protocol == Protocol::Mysql {
        return Vec::new();
    }
    // An HTTP/1.1 check over a connection that negotiated h2 would mislead, so for HTTP
    // endpoints the ALPN variants stop after the handshake (and the server's verdict).
    let alpn_protocol = match spec.protocol {
        Protocol::Http => Protocol::Tls,
        p => p,
    };
    let (id, label, only) = if spec.alpn_offered() != ["h2"] {
        (Variant::AlpnH2, "with ALPN h2 only", "h2")
    } else {
        (Variant::AlpnHttp11, "with ALPN http/1.1 only", "http/1.1")
    };
    [
        (Variant::AlpnNone, "without ALPN", Vec::new()),
        (id, label, vec![only.to_string()]),
    ]
    .into_iter()
    .map(|(id, label, list)| {
        let mut s = spec.clone();
        s.alpn = Some(list);
        s.protocol = alpn_protocol;
        let label = if alpn_protocol != spec.protocol {
            format!("{label} (handshake only)")
        } else {
            label.to_string()
        };
        VariantPlan::new(id, label, s, me)
    })
    .collect()
}

/// The server verified for up to three other names.
fn name_variants(spec: &ProbeSpec, base: &ProbeRecord, me: &Caller) -> Vec<VariantPlan> {
    other_names(spec, base)
        .into_iter()
        .take(3)
        .map(|name| {
            let mut s = spec.clone();
            s.server_name = Some(name.clone());
            VariantPlan::new(
                Variant::ServerName(name.clone()),
                format!("verifying the server for {name}"),
                s,
                me,
            )
        })
        .collect()
}

/// Other names to verify the server certificate for: its SANs, the peer's IP, `localhost` for
/// a loopback peer; not the name already used.
fn other_names(spec: &ProbeSpec, base: &ProbeRecord) -> Vec<String> {
    let current = spec.server_name();
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: String| {
        if !n.is_empty() && n != current && !names.contains(&n) && !n.contains('*') {
            names.push(n);
        }
    };
    if let Some(leaf) = base.server_chain.first() {
        for san in &leaf.sans {
            if let Some(n) = san.strip_prefix("DNS:").or_else(|| san.strip_prefix("IP:")) {
                add(n.to_string());
            }
        }
    }
    if let Some(ip) = base
        .peer_addr
        .as_deref()
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
        .map(|a| a.ip())
    {
        add(ip.to_string());
        if ip.is_loopback() {
            add("localhost".to_string());
        }
    }
    names
}

/// Short words for what a probe showed: `TLSv1.3, ALPN h2, grpc-status 0`.
pub fn observed(rec: &ProbeRecord) -> String {
    let mut parts = Vec::new();
    if let Some(tls) = &rec.tls {
        parts.push(format!(
            "{}, ALPN {}",
            tls.version,
            tls.alpn.as_deref().unwrap_or("none")
        ));
    }
    let ev = &rec.evidence;
    if let Some(a) = &ev.alert {
        parts.push(format!("alert {} ({})", a.name, a.code));
    }
    if let Some(s) = ev.grpc_status {
        parts.push(format!("grpc-status {s}"));
    }
    if let Some(s) = ev.http_status {
        parts.push(format!("HTTP {s}"));
    }
    if ev.closed_silently {
        parts.push("closed without an alert".into());
    }
    if let Some(p) = &ev.peer_protocol {
        parts.push(format!("peer speaks {p}"));
    }
    if let Some(v) = &rec.server_verification {
        parts.push(if v.trusted {
            format!("server verified for {}", v.server_name)
        } else {
            format!(
                "server NOT verified for {} ({})",
                v.server_name,
                v.reason
                    .map_or("other", probe::record::UntrustedReason::as_str)
            )
        });
    }
    if parts.is_empty() {
        parts.push(rec.outcome.phase.as_str().to_string());
    }
    parts.join(", ")
}

/// Run the planned variants, concurrently; results in plan order.
pub async fn run_variants(plans: Vec<VariantPlan>, trust: &Trust) -> Vec<VariantRun> {
    let mut set = tokio::task::JoinSet::new();
    for (i, plan) in plans.iter().enumerate() {
        let spec = plan.spec.clone();
        let caller = plan.caller.clone();
        let trust = trust.clone();
        set.spawn(async move { (i, probe::probe(&spec, &caller, &trust).await) });
    }
    let mut records: Vec<Option<ProbeRecord>> = vec![None; plans.len()];
    while let Some(joined) = set.join_next().await {
        if let Ok((i, rec)) = joined {
            if let Some(slot) = records.get_mut(i) {
                *slot = Some(rec);
            }
        }
    }
    plans
        .into_iter()
        .zip(records)
        .filter_map(|(plan, rec)| {
            let rec = rec?;
            Some(VariantRun {
                id: plan.id,
                label: plan.label,
                outcome: rec.outcome.class,
                authorization: rec.outcome.authorization,
                observed: observed(&rec),
                summary: rec.outcome.summary.clone(),
                record: rec,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::diagnose::target::Target;
    use crate::pki::load::{certs_from_pem, CertRole};
    use crate::pki::mint::Ca;
    use crate::probe::{AlertEvidence, Evidence, Outcome, Phase, TargetReport, Timeouts, Timings};

    /// Inputs for `protocol` at a loopback address, as `tidb`, with `pd` as the other identity.
    fn inputs(protocol: Protocol) -> Inputs {
        let ca = Ca::generate("t", 1).unwrap();
        let der = certs_from_pem(&ca.pem, Path::new("ca.crt"), CertRole::Ca).unwrap();
        let trust = Trust::from_der(der).unwrap();
        let caller = |cn: &str| Caller::new(ca.identity(cn, cn, &[], true, 1).unwrap(), &trust);
        Inputs {
            target: Target::address("127.0.0.1:20160", protocol),
            caller: caller("tidb"),
            others: vec![caller("pd")],
            trust: trust.clone(),
            key_mismatch: None,
            cluster: None,
            origin: crate::inventory::Origin::Inventory,
            timeouts: Timeouts::uniform(Duration::from_secs(1)),
            notes: Vec::new(),
            mysql_account: None,
            scan: false,
            expected: None,
        }
    }

    /// A baseline refused by an alert (so it reached TLS), from the loopback peer.
    fn refused(inputs: &Inputs) -> ProbeRecord {
        let class = OutcomeClass::CertRejected;
        ProbeRecord {
            target: TargetReport {
                address: inputs.target.address.clone(),
                server_name: "127.0.0.1".into(),
                protocol: inputs.target.protocol.as_str().into(),
                path: None,
                alpn_offered: inputs.target.protocol.default_alpn(),
                check_from_alpn: None,
            },
            peer_addr: Some(inputs.target.address.clone()),
            identity: inputs.caller.report(),
            started_at: "2025-06-01T00:00:00Z".into(),
            timings: Timings::default(),
            tls: None,
            server_chain: Arc::from(Vec::new()),
            server_verification: None,
            outcome: Outcome {
                class,
                phase: Phase::Handshake,
                summary: format!("the probe ended {class}"),
                authorization: None,
            },
            evidence: Evidence {
                alert: Some(AlertEvidence {
                    name: "bad_certificate".into(),
                    code: 42,
                    received: Phase::Handshake,
                }),
                ..Evidence::default()
            },
            mysql: None,
        }
    }

    /// The plan for `protocol` after a refused baseline: ids and labels, in order.
    fn plan(protocol: Protocol) -> Vec<(String, String)> {
        let inputs = inputs(protocol);
        let plans = plan_variants(&inputs, &refused(&inputs));
        assert!(plans.iter().all(|p| !p.spec.mysql_plaintext));
        plans.into_iter().map(|p| (p.id.id(), p.label)).collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(id, label)| ((*id).to_string(), (*label).to_string()))
            .collect()
    }

    #[test]
    fn a_grpc_link_gets_every_variant_in_order() {
        assert_eq!(
            plan(Protocol::Grpc),
            pairs(&[
                ("no_cert", "without a client certificate"),
                ("as:pd", "as pd"),
                ("tls1.2", "TLS 1.2 only"),
                ("tls1.3", "TLS 1.3 only"),
                ("alpn:none", "without ALPN"),
                ("alpn:http/1.1", "with ALPN http/1.1 only"),
                ("name:localhost", "verifying the server for localhost"),
            ])
        );
    }

    #[test]
    fn the_alpn_variants_of_an_http_link_stop_after_the_handshake() {
        let alpn: Vec<_> = plan(Protocol::Http)
            .into_iter()
            .filter(|(id, _)| id.starts_with("alpn:"))
            .collect();
        assert_eq!(
            alpn,
            pairs(&[
                ("alpn:none", "without ALPN (handshake only)"),
                ("alpn:h2", "with ALPN h2 only (handshake only)"),
            ])
        );
    }

    #[test]
    fn a_sql_port_gets_no_alpn_variants() {
        let ids: Vec<String> = plan(Protocol::Mysql)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(
            ids,
            ["no_cert", "as:pd", "tls1.2", "tls1.3", "name:localhost"]
        );
    }

    #[test]
    fn a_baseline_short_of_tls_gets_no_variants() {
        let inputs = inputs(Protocol::Grpc);
        let mut base = refused(&inputs);
        base.evidence.alert = None;
        base.outcome.class = OutcomeClass::Refused;
        assert!(plan_variants(&inputs, &base).is_empty());
    }
}
