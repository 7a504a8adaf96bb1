//! The report of a round: [`Report::build`] from the engine's [`Plan`] and [`Snapshot`]. The
//! probe records are shared with the snapshot, not copied.

use std::collections::HashMap;
use std::sync::Arc;

use tlsaudit_engine::audit::{EndpointId, IdentityId, Plan, Snapshot};

use crate::model::{Cell, Cluster, Endpoint, Finding, Identity, Report, Summary, Tool, SCHEMA};
use crate::named::Named;

impl Report {
    /// The report of a round (finished or not).
    pub fn build(plan: &Plan, snap: &Snapshot) -> Report {
        let inv = &plan.inventory;
        let mut report = Report {
            schema: SCHEMA.to_string(),
            tool: Tool::default(),
            started_at: snap.started_at.clone(),
            finished_at: snap.finished_at.clone(),
            cluster: Cluster {
                name: inv.cluster.clone(),
                ca: inv.ca.display().to_string(),
                inventory: inv.source.as_ref().map(|p| p.display().to_string()),
            },
            vantage: None,
            vantages: None,
            summary: Summary::default(),
            endpoints: endpoints(plan, snap),
            identities: identities(plan),
            cells: cells(plan, snap),
            findings: snap.findings.iter().map(Finding::from).collect(),
            not_checked: [
                plan.not_checked.clone(),
                tlsaudit_engine::audit::hygiene::not_checked(plan, snap),
            ]
            .concat(),
            baseline: None,
            provenance: None,
        };
        report.summary = Summary::of(&report);
        report
    }
}

/// One entry per inventory endpoint, with its client-certificate policy.
fn endpoints(plan: &Plan, snap: &Snapshot) -> Vec<Endpoint> {
    plan.inventory
        .endpoints
        .iter()
        .enumerate()
        .map(|(e, ep)| {
            let policy = ep.policy();
            Endpoint {
                name: ep.name.clone(),
                component: ep.component.into(),
                role: ep.role.to_string(),
                address: ep.address.clone(),
                server_name: ep.verified_name().to_string(),
                protocol: ep.protocol.into(),
                path: ep.path.clone(),
                allowed_cn: ep.allowed_cn.clone(),
                requires_client_cert: policy.requires_cert,
                list_enforced: policy.list_enforced,
                list_key: ep.profile.list.to_string(),
                config_file: ep.profile.config.file.to_string(),
                labels: ep.labels.clone(),
                addresses: None,
                observed_protocol: observed_protocol(snap, e),
                drift: snap.drift.get(e).cloned().flatten(),
                scan: snap
                    .scans
                    .get(e)
                    .cloned()
                    .flatten()
                    .map(Arc::unwrap_or_clone),
            }
        })
        .collect()
}

/// The protocol an endpoint answered in when it did not speak TLS, from its cells' records.
fn observed_protocol(snap: &Snapshot, e: usize) -> Option<String> {
    snap.cells
        .column(tlsaudit_engine::audit::EndpointId(e))
        .filter_map(|(_, c)| c.record.as_deref())
        .filter(|r| r.outcome.class == tlsaudit_engine::probe::OutcomeClass::Plaintext)
        .find_map(|r| r.evidence.peer_protocol)
        .map(|p| p.as_str().to_string())
}

/// One entry per caller identity.
fn identities(plan: &Plan) -> Vec<Identity> {
    plan.identities
        .iter()
        .map(|id| {
            let r = id.caller.report();
            Identity {
                name: id.name.clone(),
                kind: id.kind.into(),
                component: id.component.map(Named::from),
                cn: r.cn.clone(),
                cert_file: r.cert_file.clone(),
                sha256: r.sha256.clone(),
                not_after: r.not_after.clone(),
                check: r.check.clone(),
            }
        })
        .collect()
}

/// One entry per cell, identity-major, with the fix of the first finding about it. The
/// findings are indexed by cell once: a lookup per cell, not a scan of every finding (the
/// scan made a fleet's report quadratic).
fn cells(plan: &Plan, snap: &Snapshot) -> Vec<Cell> {
    let mut fixes: HashMap<(&str, &str), &str> = HashMap::new();
    for f in &snap.findings {
        if let (Some(e), Some(i)) = (f.endpoint.as_deref(), f.identity.as_deref()) {
            fixes.entry((e, i)).or_insert(f.fix.as_str());
        }
    }
    let mut cells = Vec::with_capacity(snap.cells.len());
    for (i, id) in plan.identities.iter().enumerate() {
        for (e, ep) in plan.inventory.endpoints.iter().enumerate() {
            let cell = (IdentityId(i), EndpointId(e));
            let c = &snap.cells[cell];
            let fix = fixes
                .get(&(ep.name.as_str(), id.name.as_str()))
                .map(|f| (*f).to_string());
            cells.push(Cell {
                identity: id.name.clone(),
                endpoint: ep.name.clone(),
                expected: plan.expected[cell].clone(),
                verdict: c.verdict,
                outcome: c.record.as_ref().map(|r| r.outcome.class),
                changed: c.changed,
                rotated: c.rotated,
                fix,
                record: c.record.clone(),
                baseline: None,
                by_vantage: None,
                reproduce: None,
            });
        }
    }
    cells
}
