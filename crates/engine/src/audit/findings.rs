//! The probe findings of a finished round: per endpoint (plaintext, untrusted, unreachable, no
//! ALPN h2, allow-lists), per cell (admitted or refused against the expectation), per identity
//! (expiry), then the drift's and the SQL ports' findings and the static ones, most severe
//! first.

use std::collections::BTreeSet;

use super::expect::Verdict;
use super::identity::{AuditIdentity, IdentityKind};
use super::matrix::{EndpointId, IdentityId};
use super::plan::{Plan, Snapshot};
use crate::finding::{Code, Finding, Severity};
use crate::inventory::Endpoint;
use crate::probe::{OutcomeClass, ProbeRecord, Protocol, UntrustedReason};

fn untrusted_fix(reason: Option<UntrustedReason>, rec: &ProbeRecord) -> String {
    let sans = rec
        .server_chain
        .first()
        .map(|c| c.sans.join(", "))
        .unwrap_or_default();
    match reason {
        Some(UntrustedReason::Expired) => "renew the server certificate and replace the cert file; components re-read cert and key on new connections (TiKV when the file's mtime changes), but a new CA needs a restart".to_string(),
        Some(UntrustedReason::NotYetValid) => "check the clocks of the server and of the callers (NTP)".to_string(),
        Some(UntrustedReason::NameMismatch) => format!(
            "reissue the server certificate with the address callers dial ({}) in its subject alternative names (now: {}); Go callers ignore the CN",
            rec.target.server_name,
            if sans.is_empty() { "none".to_string() } else { sans }
        ),
        Some(UntrustedReason::IncompleteChain) => "put the intermediate CA certificate after the leaf in the server's cert file, or give callers a CA file that includes it".to_string(),
        Some(UntrustedReason::BadEku) => "reissue the certificate with extendedKeyUsage serverAuth and clientAuth (components act as both)".to_string(),
        _ => "use a server certificate issued by the cluster CA; every component must trust the same ca.crt (TiUP: <deploy_dir>/tls/ca.crt)".to_string(),
    }
}

/// TiUP's monitoring agents (node_exporter, blackbox_exporter): metrics, not cluster links, so
/// what they answer is said at info severity. Plaintext is what TiUP deploys; unreachable is
/// usual where only the monitoring hosts may reach them.
fn exporter_findings(ep: &Endpoint, records: &Records<'_>, out: &mut Vec<Finding>) {
    let agent = match ep.role {
        crate::profile::Role::BlackboxExporter => "blackbox_exporter",
        _ => "node_exporter",
    };
    let first = |v: Verdict| records.iter().find(|(_, _, x)| *x == v);
    if let Some((_, rec, _)) = first(Verdict::Unencrypted) {
        out.push(
            Finding::new(
                Code::ExporterPlaintext,
                Severity::Info,
                format!("{agent} ({}) answers plaintext HTTP: TiUP does not put its monitoring agents under TLS", ep.address),
                rec.outcome.summary.clone(),
                "they serve metrics, not cluster traffic: firewall the port to the monitoring hosts, or set ignore_exporter: true on the instances of a host that must not run them",
            )
            .endpoint(ep.name.clone()),
        );
    } else if records.iter().all(|(_, _, v)| *v == Verdict::Unreachable) {
        out.push(
            Finding::new(
                Code::Unreachable,
                Severity::Info,
                format!("{agent} ({}) could not be reached from here", ep.address),
                records[0].1.outcome.summary.clone(),
                "nothing to do if only the monitoring hosts may reach it; otherwise check that TiUP's monitored agents run on that host (`tiup cluster display`)",
            )
            .endpoint(ep.name.clone()),
        );
    }
}

/// A probed endpoint's records: identity, record and verdict of every cell that has both.
type Records<'a> = [(IdentityId, &'a ProbeRecord, Verdict)];

/// The certificate-expiry window of a round, in Unix seconds.
#[derive(Debug, Clone, Copy)]
struct Window {
    now: i64,
    /// Certificates expiring at or before this are about to expire.
    horizon: i64,
}

/// Compute the findings of a finished round.
pub fn compute(plan: &Plan, snap: &Snapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let horizon = now + i64::from(plan.inventory.options.expiry_warning_days) * 86_400;
    let window = Window { now, horizon };
    let encrypted = encrypted_endpoints(plan, snap);

    for (e, ep) in plan.inventory.endpoints.iter().enumerate() {
        let e = EndpointId(e);
        let records: Vec<(IdentityId, &ProbeRecord, Verdict)> = snap
            .cells
            .column(e)
            .filter_map(|(i, c)| Some((i, c.record.as_deref()?, c.verdict?)))
            .collect();
        if records.is_empty() {
            continue;
        }
        let ctx = EndpointContext {
            cluster_tls: !encrypted.is_empty(),
            window,
            allow_unreachable: plan.inventory.options.allow_unreachable,
        };
        endpoint_findings(ep, &records, ctx, &mut out);
        alpn_finding(ep, &records, &mut out);
        allow_list_findings(plan, e, ep, &mut out);
        cell_findings(plan, e, ep, &records, &mut out);
    }

    super::drift::findings(&plan.inventory, &snap.drift, &mut out);
    identity_findings(plan, window, &mut out);
    partial_tls_finding(encrypted.len(), &mut out);
    // The topology's EXPORTER_PLAINTEXT note says where the agents run; once they are probed,
    // their own findings say what they answered.
    let exporters_probed = plan
        .inventory
        .endpoints
        .iter()
        .any(|e| e.component == crate::profile::Component::Exporter);
    out.extend(
        plan.static_findings
            .iter()
            .filter(|f| !(exporters_probed && f.code == Code::ExporterPlaintext))
            .cloned(),
    );
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.code.as_str().cmp(b.code.as_str()))
            .then_with(|| a.endpoint.cmp(&b.endpoint))
            .then_with(|| a.identity.cmp(&b.identity))
    });
    out
}

/// Endpoints of the cluster's own links that negotiated TLS (the SQL ports are the clients').
fn encrypted_endpoints(plan: &Plan, snap: &Snapshot) -> Vec<usize> {
    (0..snap.cells.endpoints())
        .filter(|&e| plan.inventory.endpoints[e].protocol != Protocol::Mysql)
        .filter(|e| {
            snap.cells
                .column(EndpointId(*e))
                .any(|(_, c)| c.record.as_ref().is_some_and(|r| r.tls.is_some()))
        })
        .collect()
}

/// What the endpoint findings need besides the endpoint.
#[derive(Debug, Clone, Copy)]
struct EndpointContext {
    cluster_tls: bool,
    window: Window,
    allow_unreachable: bool,
}

/// Endpoint-level conditions, once per endpoint: plaintext (or the SQL port's findings), an
/// untrusted server certificate, unreachable or broken, and a server certificate about to expire.
fn endpoint_findings(
    ep: &Endpoint,
    records: &Records<'_>,
    ctx: EndpointContext,
    out: &mut Vec<Finding>,
) {
    let EndpointContext {
        cluster_tls,
        window,
        allow_unreachable,
    } = ctx;
    let title = ep.component.title();
    let file = ep.profile.config.file;
    // TiUP's agents: what they answer, at info severity; a TLS-enabled agent still gets the
    // certificate findings below.
    let agent = ep.component == crate::profile::Component::Exporter;
    if agent {
        exporter_findings(ep, records, out);
    } else if ep.protocol == Protocol::Mysql {
        super::sql::findings(ep, records, cluster_tls, out);
    } else if let Some((_, rec, _)) = records.iter().find(|(_, _, v)| *v == Verdict::Unencrypted) {
        out.push(
            Finding::new(
                Code::PlaintextEndpoint,
                Severity::Critical,
                format!("{title} {} ({}) speaks plaintext, not TLS", ep.role, ep.address),
                rec.outcome.summary.clone(),
                format!("enable TLS on it: set the ca, cert and key paths in the [security] section of {file} (or `tiup cluster tls <cluster> enable`); TiDB does not support a partly encrypted cluster"),
            )
            .endpoint(ep.name.clone()),
        );
    }
    untrusted_finding(ep, records, out);
    // (An unreachable agent was said by exporter_findings, at info severity.)
    reach_finding(ep, records, agent, allow_unreachable, out);
    expiring_finding(ep, records, window, out);
}

/// An untrusted server certificate.
fn untrusted_finding(ep: &Endpoint, records: &Records<'_>, out: &mut Vec<Finding>) {
    let title = ep.component.title();
    if let Some((_, rec, _)) = records.iter().find(|(_, _, v)| *v == Verdict::Untrusted) {
        let v = rec.server_verification.as_ref();
        let reason = v.and_then(|v| v.reason);
        out.push(
            Finding::new(
                Code::ServerUntrusted,
                Severity::Critical,
                format!(
                    "{title} {} ({}) presents a certificate callers refuse: {}",
                    ep.role,
                    ep.address,
                    reason.map_or("other", |r| r.as_str())
                ),
                v.and_then(|v| v.detail.clone()).unwrap_or_default(),
                untrusted_fix(reason, rec),
            )
            .endpoint(ep.name.clone()),
        );
    }
}

/// Unreachable (unless `unreachable_said` already), or broken.
fn reach_finding(
    ep: &Endpoint,
    records: &Records<'_>,
    unreachable_said: bool,
    allow_unreachable: bool,
    out: &mut Vec<Finding>,
) {
    let title = ep.component.title();
    if !unreachable_said && records.iter().all(|(_, _, v)| *v == Verdict::Unreachable) {
        out.push(
            Finding::new(
                Code::Unreachable,
                if allow_unreachable {
                    Severity::Warning
                } else {
                    Severity::Critical
                },
                format!(
                    "{title} {} ({}) could not be reached: nothing about it was checked",
                    ep.role, ep.address
                ),
                records[0].1.outcome.summary.clone(),
                "check that the component runs and listens on that address, and that no firewall drops the port; --allow-unreachable makes this a warning where the endpoint is known to be down",
            )
            .endpoint(ep.name.clone()),
        );
    } else if let Some((_, rec, _)) = records.iter().find(|(_, _, v)| *v == Verdict::Error) {
        out.push(
            Finding::new(
                Code::ProtocolError,
                Severity::Warning,
                format!("{title} {} ({}) broke the TLS or application protocol", ep.role, ep.address),
                rec.outcome.summary.clone(),
                "check that the address is the component's TLS port and that both sides offer a common TLS version (TiKV's status port speaks TLS 1.2 only)",
            )
            .endpoint(ep.name.clone()),
        );
    }
}

/// A server certificate about to expire.
fn expiring_finding(ep: &Endpoint, records: &Records<'_>, window: Window, out: &mut Vec<Finding>) {
    if let Some(leaf) = records
        .iter()
        .filter_map(|(_, r, _)| r.server_chain.first())
        .find(|c| c.not_after_unix > window.now && c.not_after_unix <= window.horizon)
    {
        out.push(
            Finding::new(
                Code::CertExpiring,
                Severity::Warning,
                format!("the server certificate of {} expires on {}", ep.name, leaf.not_after),
                format!("{} (sha256 {})", leaf.subject, leaf.sha256),
                "renew it before it expires; replace the cert file in place (the components re-read it on new connections)",
            )
            .endpoint(ep.name.clone()),
        );
    }
}

/// A gRPC endpoint whose handshakes negotiated no ALPN `h2`: the probe, speaking HTTP/2 by prior
/// knowledge, gets through, but real gRPC callers refuse the connection.
fn alpn_finding(ep: &Endpoint, records: &Records<'_>, out: &mut Vec<Finding>) {
    if ep.protocol != Protocol::Grpc {
        return;
    }
    let Some(tls) = records
        .iter()
        .filter_map(|(_, r, _)| r.tls.as_ref())
        .find(|t| t.alpn.as_deref() != Some("h2"))
    else {
        return;
    };
    out.push(
        Finding::new(
            Code::GrpcNoAlpn,
            Severity::Critical,
            format!(
                "{} {} ({}) negotiates no ALPN h2: gRPC callers refuse it",
                ep.component.title(),
                ep.role,
                ep.address
            ),
            format!(
                "ALPN negotiated: {}",
                tls.alpn.as_deref().unwrap_or("none")
            ),
            "serve gRPC with ALPN h2 (upgrade the component, or make the TLS proxy in front of it negotiate h2); gRPC callers log \"missing selected ALPN property\"",
        )
        .endpoint(ep.name.clone()),
    );
}

/// The endpoint's CN allow-list: configured where it has no effect, or missing where a client
/// certificate is required.
fn allow_list_findings(plan: &Plan, e: EndpointId, ep: &Endpoint, out: &mut Vec<Finding>) {
    let file = ep.profile.config.file;
    let key = ep.profile.list;
    let policy = ep.policy();
    if let Some(why) = &policy.not_enforced_because {
        if ep
            .profile
            .exempt_paths
            .iter()
            .all(|p| Some(*p) != ep.path.as_deref())
        {
            out.push(
                Finding::new(
                    Code::ListNotEnforcedByDesign,
                    Severity::Warning,
                    format!("{} lists {} in {key}, but the list has no effect there", ep.name, ep.allowed_cn.join(", ")),
                    why.clone(),
                    if ep.component == crate::profile::Component::Pd {
                        format!("add a second CN (for example the CNs of every component that calls PD) to {key} in {file}, on PD v8.4 or later")
                    } else {
                        format!("probe a path the list covers; {key} in {file} is in force elsewhere")
                    },
                )
                .endpoint(ep.name.clone()),
            );
        }
    } else if policy.requires_cert && ep.allowed_cn.is_empty() {
        let needed: BTreeSet<&str> = plan
            .identities
            .iter()
            .enumerate()
            .filter(|(i, _)| plan.expected[(IdentityId(*i), e)].needed)
            .filter_map(|(_, id)| id.caller.identity.cn())
            .collect();
        out.push(
            Finding::new(
                Code::NoAllowList,
                Severity::Info,
                format!(
                    "{} admits every certificate the CA issued: {key} is not set",
                    ep.name
                ),
                "no CN allow-list is configured",
                if needed.is_empty() {
                    format!("set {key} in {file} to the CNs of the components that call it")
                } else {
                    format!(
                        "set {key} = [{}] in {file} to admit only the components that need it",
                        needed
                            .iter()
                            .map(|c| format!("\"{c}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            )
            .endpoint(ep.name.clone()),
        );
    }
}

/// Cell-level findings: a caller admitted that should be refused, or refused that should be
/// admitted.
fn cell_findings(
    plan: &Plan,
    e: EndpointId,
    ep: &Endpoint,
    records: &Records<'_>,
    out: &mut Vec<Finding>,
) {
    let title = ep.component.title();
    let file = ep.profile.config.file;
    let key = ep.profile.list;
    for (i, rec, verdict) in records {
        let id = &plan.identities[i.0];
        let exp = &plan.expected[(*i, e)];
        let cn = id.caller.identity.cn().unwrap_or("(none)");
        match verdict {
            Verdict::Open => {
                let (code, what, fix) = open_problem(ep, id, cn);
                out.push(
                    Finding::new(
                        code,
                        Severity::Critical,
                        format!("{} {what}", ep.name),
                        format!("{}: {}", rec.outcome.class, rec.outcome.summary),
                        fix,
                    )
                    .endpoint(ep.name.clone())
                    .identity(id.name.clone()),
                );
            }
            Verdict::Blocked if !exp.allow && exp.needed => out.push(
                Finding::new(
                    Code::CallerNotListed,
                    Severity::Critical,
                    format!(
                        "{title} {key} on {} lacks {cn}, which {} needs",
                        ep.name,
                        id.component.map_or("this caller", |c| c.title())
                    ),
                    format!("{}: {}", rec.outcome.class, rec.outcome.summary),
                    format!(
                        "add \"{cn}\" to {key} in {file} on {}, then restart {title}",
                        ep.host()
                    ),
                )
                .endpoint(ep.name.clone())
                .identity(id.name.clone()),
            ),
            Verdict::Blocked => {
                let fix = match rec.outcome.class {
                    OutcomeClass::CnRejected => format!("the running {title} refuses CN {cn} although the inventory lists it: the server runs with another {key}; check {file} and restart"),
                    OutcomeClass::CertRequired => "send a client certificate: this caller has none".to_string(),
                    _ => format!("the server refuses the certificate of {}: {}; every component must trust the same ca.crt and present a certificate it issued", id.name, rec.outcome.summary),
                };
                out.push(
                    Finding::new(
                        Code::CallerBlocked,
                        Severity::Critical,
                        format!(
                            "{} refuses {} ({cn}), which it should admit",
                            ep.name, id.name
                        ),
                        format!("{}: {}", rec.outcome.class, rec.outcome.summary),
                        fix,
                    )
                    .endpoint(ep.name.clone())
                    .identity(id.name.clone()),
                );
            }
            _ => {}
        }
    }
}

/// Why an endpoint that admitted `id` should not have: the code, what it accepts, and the fix.
fn open_problem(ep: &Endpoint, id: &AuditIdentity, cn: &str) -> (Code, String, String) {
    let title = ep.component.title();
    let file = ep.profile.config.file;
    let key = ep.profile.list;
    match id.kind {
        IdentityKind::Anonymous => (
            Code::AnonymousAccepted,
            "accepts a caller without a client certificate".to_string(),
            format!("require client certificates: set the CA path in the [security] section of {file} and restart"),
        ),
        IdentityKind::Foreign => (
            Code::ForeignCaAccepted,
            format!("accepts a certificate (CN {cn}) from a CA other than the cluster CA"),
            format!("make {file} point its CA path at the cluster CA only, and restart"),
        ),
        _ if id.caller.check.problem.is_some() => (
            Code::BadCertAccepted,
            format!("accepts a certificate that {}", id.caller.check.problem.clone().unwrap_or_default()),
            "the server does not verify client certificates properly; check its TLS settings".to_string(),
        ),
        _ => (
            Code::CnNotEnforced,
            format!("accepts CN {cn} although {key} does not list it"),
            format!("the running {title} does not enforce {key} = [{}]: set it in {file} on {} and restart ({title} reads it at start)", ep.allowed_cn.join(", "), ep.host()),
        ),
    }
}

/// Identities: certificates expiring or expired.
fn identity_findings(plan: &Plan, window: Window, out: &mut Vec<Finding>) {
    for id in &plan.identities {
        if id.kind != IdentityKind::Configured {
            continue;
        }
        let Some(leaf) = &id.caller.identity.leaf else {
            continue;
        };
        if leaf.not_after_unix <= window.now {
            out.push(
                Finding::new(
                    Code::CertExpired,
                    Severity::Critical,
                    format!(
                        "the certificate of {} expired on {}",
                        id.name, leaf.not_after
                    ),
                    format!("{} (sha256 {})", leaf.subject, leaf.sha256),
                    "issue a new certificate from the cluster CA and replace the file",
                )
                .identity(id.name.clone()),
            );
        } else if leaf.not_after_unix <= window.horizon {
            out.push(
                Finding::new(
                    Code::CertExpiring,
                    Severity::Warning,
                    format!(
                        "the certificate of {} expires on {}",
                        id.name, leaf.not_after
                    ),
                    format!("{} (sha256 {})", leaf.subject, leaf.sha256),
                    "renew it before it expires",
                )
                .identity(id.name.clone()),
            );
        }
    }
}

/// Partial TLS: some endpoints plaintext (counted in `out`) while `encrypted` others use TLS.
fn partial_tls_finding(encrypted: usize, out: &mut Vec<Finding>) {
    let plaintext = out
        .iter()
        .filter(|f| f.code == Code::PlaintextEndpoint)
        .count();
    if plaintext > 0 && encrypted > 0 {
        out.push(Finding::new(
            Code::PartialTls,
            Severity::Critical,
            format!("{plaintext} endpoint(s) speak plaintext while {encrypted} use TLS"),
            "TiDB does not support enabling TLS on only part of a cluster",
            "enable TLS on every component (`tiup cluster tls <cluster> enable`), or on none",
        ));
    }
}
