//! The probe findings of a finished round: per endpoint (plaintext, untrusted, unreachable, no
//! ALPN h2, allow-lists), per cell (admitted or refused against the expectation), per identity
//! (expiry), then the drift's and the SQL ports' findings and the static ones, most severe
//! first.

use super::expect::Verdict;
use super::identity::{AuditIdentity, IdentityKind, Standing};
use super::lists::Records;
use super::matrix::{EndpointId, IdentityId};
use super::plan::{Plan, Snapshot};
use crate::finding::{Code, Finding, Severity};
use crate::inventory::Endpoint;
use crate::probe::{ProbeRecord, Protocol, UntrustedReason};

fn untrusted_fix(reason: Option<UntrustedReason>, rec: &ProbeRecord) -> String {
    let sans = rec
        .server_chain
        .first()
        .map_or_else(|| "none".to_string(), crate::pki::CertSummary::sans_words);
    match reason {
        Some(UntrustedReason::Expired) => "renew the server certificate and replace the cert file; components re-read cert and key on new connections (TiKV when the file's mtime changes), but a new CA needs a restart".to_string(),
        Some(UntrustedReason::NotYetValid) => "check the clocks of the server and of the callers (NTP)".to_string(),
        Some(UntrustedReason::NameMismatch) => format!(
            "reissue the server certificate with the address callers dial ({}) in its subject alternative names (now: {}); Go callers ignore the CN",
            rec.target.server_name,
            sans
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
                format!("{} ({agent}) answers plaintext HTTP: TiUP does not put its monitoring agents under TLS", ep.name),
                format!("{}: {}", ep.address, rec.outcome.summary),
                "they serve metrics, not cluster traffic: firewall the port to the monitoring hosts, or set ignore_exporter: true on the instances of a host that must not run them",
            )
            .endpoint(ep.name.clone()),
        );
    } else if records.iter().all(|(_, _, v)| *v == Verdict::Unreachable) {
        out.push(
            Finding::new(
                Code::Unreachable,
                Severity::Info,
                format!("{} ({agent}) could not be reached from here", ep.name),
                format!("{}: {}", ep.address, records[0].1.outcome.summary),
                "nothing to do if only the monitoring hosts may reach it; otherwise check that TiUP's monitored agents run on that host (`tiup cluster display`)",
            )
            .endpoint(ep.name.clone()),
        );
    }
}

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
    let cluster = tiup_name(&plan.inventory);

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
            cluster: &cluster,
            cluster_tls: !encrypted.is_empty(),
            window,
            allow_unreachable: plan.inventory.options.allow_unreachable,
        };
        endpoint_findings(ep, &records, &ctx, &mut out);
        alpn_finding(ep, &records, &mut out);
        super::lists::findings(plan, e, ep, &records, &mut out);
    }

    super::drift::findings(&plan.inventory, &snap.drift, &mut out);
    super::hygiene::findings(plan, snap, &mut out);
    identity_findings(plan, snap, window, &mut out);
    partial_tls_finding(plan, encrypted.len(), &mut out);
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

/// TiDB endpoints of the cluster's own links that negotiated TLS (the SQL ports are the
/// clients').
fn encrypted_endpoints(plan: &Plan, snap: &Snapshot) -> Vec<usize> {
    (0..snap.cells.endpoints())
        .filter(|&e| {
            let ep = &plan.inventory.endpoints[e];
            ep.protocol != Protocol::Mysql && ep.component.is_tidb()
        })
        .filter(|e| {
            snap.cells
                .column(EndpointId(*e))
                .any(|(_, c)| c.record.as_ref().is_some_and(|r| r.tls.is_some()))
        })
        .collect()
}

/// What the endpoint findings need besides the endpoint.
#[derive(Debug, Clone, Copy)]
struct EndpointContext<'a> {
    /// The cluster's name in a TiUP command.
    cluster: &'a str,
    cluster_tls: bool,
    window: Window,
    allow_unreachable: bool,
}

/// Endpoint-level conditions, once per endpoint: plaintext (or the SQL port's findings), an
/// untrusted server certificate, unreachable or broken, and a server certificate about to expire.
fn endpoint_findings(
    ep: &Endpoint,
    records: &Records<'_>,
    ctx: &EndpointContext<'_>,
    out: &mut Vec<Finding>,
) {
    // TiUP's agents: what they answer, at info severity; a TLS-enabled agent still gets the
    // certificate findings below.
    let agent = ep.component == crate::profile::Component::Exporter;
    if agent {
        exporter_findings(ep, records, out);
    } else if ep.protocol == Protocol::Mysql {
        super::sql::findings(ep, records, ctx.cluster_tls, out);
    } else if let Some((_, rec, _)) = records.iter().find(|(_, _, v)| *v == Verdict::Unencrypted) {
        out.push(
            Finding::new(
                Code::PlaintextEndpoint,
                Severity::Critical,
                format!("{} speaks plaintext, not TLS", ep.name),
                format!("{}: {}", ep.address, rec.outcome.summary),
                plaintext_fix(ep, ctx.cluster),
            )
            .endpoint(ep.name.clone()),
        );
    }
    untrusted_finding(ep, records, out);
    // (An unreachable agent was said by exporter_findings, at info severity.)
    reach_finding(ep, records, agent, ctx.allow_unreachable, out);
    expiring_finding(ep, records, ctx.window, out);
}

/// How to put an endpoint under TLS, in the words of what it is.
fn plaintext_fix(ep: &Endpoint, cluster: &str) -> String {
    use crate::profile::Component as C;
    match ep.component {
        c if c.is_tidb() => format!(
            "enable TLS on it: set the ca, cert and key paths in the [security] section of {} (or `tiup cluster tls {cluster} enable`); TiDB does not support a partly encrypted cluster",
            ep.profile.config.file
        ),
        C::Etcd => "start etcd with --cert-file, --key-file, --trusted-ca-file and --client-cert-auth (--peer-* for the peer port), and https:// URLs".to_string(),
        _ => "configure TLS on the server (a certificate and key, and for mutual TLS the CA that issues the callers' certificates), or correct the address if this is not the TLS port".to_string(),
    }
}

/// An untrusted server certificate.
fn untrusted_finding(ep: &Endpoint, records: &Records<'_>, out: &mut Vec<Finding>) {
    if let Some((_, rec, _)) = records.iter().find(|(_, _, v)| *v == Verdict::Untrusted) {
        let v = rec.server_verification.as_ref();
        let reason = v.and_then(|v| v.reason);
        out.push(
            Finding::new(
                Code::ServerUntrusted,
                Severity::Critical,
                format!(
                    "{} presents a certificate callers refuse: {}",
                    ep.name,
                    reason.map_or("other", |r| r.as_str())
                ),
                format!(
                    "{}: {}",
                    ep.address,
                    v.and_then(|v| v.detail.clone()).unwrap_or_default()
                ),
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
    if !unreachable_said && records.iter().all(|(_, _, v)| *v == Verdict::Unreachable) {
        // A port that took the TCP connection and then said nothing is reachable: say so.
        let silent = records.iter().all(|(_, r, _)| {
            r.outcome.class == crate::probe::OutcomeClass::Timeout
                && r.outcome.phase != crate::probe::Phase::Connect
        });
        let title = if silent {
            format!(
                "{} accepts TCP connections but gave no TLS answer in time: nothing about it was checked",
                ep.name
            )
        } else {
            format!(
                "{} could not be reached: nothing about it was checked",
                ep.name
            )
        };
        out.push(
            Finding::new(
                Code::Unreachable,
                if allow_unreachable {
                    Severity::Warning
                } else {
                    Severity::Critical
                },
                title,
                format!("{}: {}", ep.address, records[0].1.outcome.summary),
                if silent {
                    "check what listens on the port: it took the connection and never answered the TLS ClientHello (a service that waits for the client to speak first, a proxy without a backend, a hung server); --allow-unreachable makes this a warning"
                } else {
                    "check that the component runs and listens on that address, and that no firewall drops the port; --allow-unreachable makes this a warning where the endpoint is known to be down"
                },
            )
            .endpoint(ep.name.clone()),
        );
    } else if let Some((_, rec, _)) = records.iter().find(|(_, _, v)| *v == Verdict::Error) {
        if rec.outcome.summary.starts_with(crate::probe::FAILED_INSIDE) {
            out.push(failed_inside_finding(ep, rec));
            return;
        }
        out.push(
            Finding::new(
                Code::ProtocolError,
                Severity::Warning,
                format!("{} broke the TLS or application protocol", ep.name),
                format!("{}: {}", ep.address, rec.outcome.summary),
                "check that the address is the component's TLS port and that both sides offer a common TLS version (TiKV's status port speaks TLS 1.2 only)",
            )
            .endpoint(ep.name.clone()),
        );
    }
}

/// A probe that failed inside tlsaudit (it panicked): the endpoint was not checked, which fails
/// the run like an unreachable one.
fn failed_inside_finding(ep: &Endpoint, rec: &ProbeRecord) -> Finding {
    Finding::new(
        Code::ProtocolError,
        Severity::Critical,
        format!("{} was not checked: the probe failed inside tlsaudit", ep.name),
        format!("{}: {}", ep.address, rec.outcome.summary),
        "this is a bug in tlsaudit, not a problem of the endpoint: run again with RUST_LOG=debug and report the message",
    )
    .endpoint(ep.name.clone())
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
            format!("{} negotiates no ALPN h2: gRPC callers refuse it", ep.name),
            format!(
                "{}: ALPN negotiated: {}",
                ep.address,
                tls.alpn.as_deref().unwrap_or("none")
            ),
            "serve gRPC with ALPN h2 (upgrade the component, or make the TLS proxy in front of it negotiate h2); gRPC callers log \"missing selected ALPN property\"",
        )
        .endpoint(ep.name.clone()),
    );
}

/// The endpoints that refused an identity because of its own certificate (`bad_identity`).
fn refused_for_fault(plan: &Plan, snap: &Snapshot, i: IdentityId) -> String {
    let names: Vec<&str> = (0..snap.cells.endpoints())
        .filter(|&e| snap.cells[(i, EndpointId(e))].verdict == Some(Verdict::BadIdentity))
        .map(|e| plan.inventory.endpoints[e].name.as_str())
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!("; refused for it by {}", names.join(", "))
    }
}

/// An outsider of the inventory (as `tlsaudit mint` issues them) whose certificate is expired,
/// not yet valid or without clientAuth: the endpoints' refusals of it prove nothing (its cells
/// are `bad_identity`); or one that expires within the warning window. The identities minted at
/// run time are renewed by the audit itself.
fn outsider_finding(id: &AuditIdentity, window: Window) -> Option<Finding> {
    let leaf = id.caller.identity.leaf.as_ref()?;
    if id.kind != IdentityKind::Configured {
        return None;
    }
    let evidence = format!("{} (sha256 {})", leaf.subject, leaf.sha256);
    let renew = "issue it again (`tlsaudit mint`, docs/deploy.md) and replace its files; or drop it and let the audit mint its outsiders at run time (needs the CA key)";
    let finding = if id.faulty() {
        let check = &id.caller.check;
        let problem = if leaf.not_after_unix < window.now {
            format!("expired on {}", leaf.not_after)
        } else if !check.within_validity {
            format!("is not valid before {}", leaf.not_before)
        } else {
            "lacks the clientAuth extended key usage".to_string()
        };
        Finding::new(
            Code::IdentityInvalid,
            Severity::Warning,
            format!(
                "the certificate of the outsider {} {problem}: the endpoints' refusals of it prove nothing",
                id.name
            ),
            evidence,
            renew,
        )
    } else if leaf.not_after_unix <= window.horizon {
        Finding::new(
            Code::CertExpiring,
            Severity::Warning,
            format!(
                "the certificate of the outsider {} expires on {}: its refusals will prove nothing after that",
                id.name, leaf.not_after
            ),
            evidence,
            renew,
        )
    } else {
        return None;
    };
    Some(finding.identity(id.name.clone()))
}

/// Identities of the cluster (the inventory's and the minted ones; not the outsiders): a
/// certificate expired, about to expire, or faulty otherwise (another CA, not yet valid, no
/// clientAuth). A faulty one is our own fault: its refusals say nothing of the endpoints.
fn identity_findings(plan: &Plan, snap: &Snapshot, window: Window, out: &mut Vec<Finding>) {
    for (i, id) in plan.identities.iter().enumerate() {
        if id.standing() == Standing::Outsider {
            out.extend(outsider_finding(id, window));
            continue;
        }
        if !matches!(id.kind, IdentityKind::Configured | IdentityKind::Minted) {
            continue;
        }
        let Some(leaf) = &id.caller.identity.leaf else {
            continue;
        };
        let evidence = format!(
            "{} (sha256 {}){}",
            leaf.subject,
            leaf.sha256,
            refused_for_fault(plan, snap, IdentityId(i))
        );
        let finding = if leaf.not_after_unix <= window.now {
            Finding::new(
                Code::CertExpired,
                Severity::Critical,
                format!(
                    "the certificate of {} expired on {}",
                    id.name, leaf.not_after
                ),
                evidence,
                "issue a new certificate from the cluster CA and replace the file",
            )
        } else if let Some(problem) = &id.caller.check.problem {
            Finding::new(
                Code::IdentityInvalid,
                Severity::Critical,
                format!("the certificate of {} {problem}", id.name),
                evidence,
                identity_fix(&plan.inventory, problem),
            )
        } else if id.kind == IdentityKind::Configured && leaf.not_after_unix <= window.horizon {
            Finding::new(
                Code::CertExpiring,
                Severity::Warning,
                format!(
                    "the certificate of {} expires on {}",
                    id.name, leaf.not_after
                ),
                evidence,
                "renew it before it expires",
            )
        } else {
            continue;
        };
        out.push(finding.identity(id.name.clone()));
    }
}

/// How to fix an identity's certificate problem (the words of `IdentityCheck::problem`).
fn identity_fix(inv: &crate::inventory::Inventory, problem: &str) -> String {
    if problem.contains("not issued by the cluster CA") {
        format!(
            "issue this identity's certificate from the cluster CA ({}), or, if it belongs to another cluster, remove it from {}",
            inv.ca.display(),
            inv.origin.noun()
        )
    } else if problem.contains("clientAuth") {
        "reissue the certificate with extendedKeyUsage clientAuth (TiUP gives component certificates serverAuth and clientAuth)".to_string()
    } else if problem.contains("not valid before") {
        "check the clock of this machine and of the CA host (NTP), or wait until the certificate is valid".to_string()
    } else {
        "issue a new certificate from the cluster CA and replace the file".to_string()
    }
}

/// The cluster's name in a TiUP command: known from a topology, a placeholder otherwise (an
/// inventory's name need not be TiUP's).
pub(super) fn tiup_name(inv: &crate::inventory::Inventory) -> String {
    crate::tiup::cluster_arg(super::drift::tiup_cluster(inv))
}

/// Partial TLS among TiDB's own components: some plaintext (their findings in `out`) while
/// `encrypted` others use TLS. Other endpoints (an nginx, an etcd) are not TiDB's concern.
fn partial_tls_finding(plan: &Plan, encrypted: usize, out: &mut Vec<Finding>) {
    let tidb = |name: &str| {
        plan.inventory
            .endpoints
            .iter()
            .any(|e| e.name == name && e.component.is_tidb())
    };
    let plaintext: Vec<&str> = out
        .iter()
        .filter(|f| f.code == Code::PlaintextEndpoint)
        .filter_map(|f| f.endpoint.as_deref())
        .filter(|n| tidb(n))
        .collect();
    if !plaintext.is_empty() && encrypted > 0 {
        let finding = Finding::new(
            Code::PartialTls,
            Severity::Critical,
            format!(
                "{} TiDB endpoint(s) speak plaintext while {encrypted} use TLS",
                plaintext.len()
            ),
            format!(
                "plaintext: {}; TiDB does not support enabling TLS on only part of a cluster",
                plaintext.join(", ")
            ),
            format!(
                "enable TLS on every component (`tiup cluster tls {} enable`), or on none",
                tiup_name(&plan.inventory)
            ),
        );
        out.push(finding);
    }
}
