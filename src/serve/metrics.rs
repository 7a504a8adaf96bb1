//! The exporter's metrics, kept in a `prometheus-client` registry and updated once per round.
//!
//! Every series carries `cluster` and `vantage` (registry-wide labels). Cardinality is fixed by
//! the plan: cells x 8 verdicts (`tlsaudit_link_verdict`), cells x 2 (`expected_allowed`,
//! `needed`), endpoints x 4 phases x 15 (the probe histogram), a few per endpoint and per
//! identity, findings by severity and code, and the round's own; see docs/serve.md.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use tlsaudit_engine::audit::drift::{CaDrift, CertDrift};
use tlsaudit_engine::audit::{EndpointId, IdentityId, Plan, Snapshot, Verdict};
use tlsaudit_engine::inventory::Endpoint;
use tlsaudit_engine::probe::{ProbeRecord, Timings};

/// Labels of one endpoint.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: String,
    pub component: String,
    pub role: String,
}

impl EndpointLabels {
    pub fn of(ep: &Endpoint) -> EndpointLabels {
        EndpointLabels {
            endpoint: ep.name.clone(),
            component: ep.component.as_str().to_string(),
            role: ep.role.to_string(),
        }
    }
}

/// Labels of one cell (identity x endpoint).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CellLabels {
    #[prometheus(flatten)]
    endpoint: EndpointLabels,
    identity: String,
}

/// One state of a cell's verdict state set.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    #[prometheus(flatten)]
    cell: CellLabels,
    verdict: String,
}

/// One probe phase of an endpoint.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    #[prometheus(flatten)]
    endpoint: EndpointLabels,
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IdentityLabels {
    identity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    severity: String,
    code: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The probe phases timed, with their durations in a record.
pub const PHASES: [&str; 4] = ["connect", "handshake", "check", "total"];

/// A record's phase durations in seconds (`None`: the phase did not run).
pub fn phase_seconds(t: &Timings) -> [Option<f64>; 4] {
    [t.connect_ms, t.handshake_ms, t.check_ms, Some(t.total_ms)].map(|ms| ms.map(|v| v / 1000.0))
}

/// The buckets of the phase histogram: 1 ms to 2.048 s, doubling (12, and +Inf).
fn phase_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 12))
}

/// The registry and direct handles to every series a round sets.
pub struct Metrics {
    pub registry: Registry,
    /// `[cell][verdict]`, cells in `plan.expected.ids()` order.
    verdict: Vec<[Gauge; Verdict::ALL.len()]>,
    phases: Vec<[Histogram; 4]>,
    endpoint_labels: Vec<EndpointLabels>,
    server_not_after: Family<EndpointLabels, Gauge>,
    probe_errors: Vec<Counter>,
    cert_changes: Vec<Counter>,
    chain_broken: Vec<Gauge>,
    /// Whether the chain failed to verify after the endpoint's last certificate change.
    broken: Vec<bool>,
    /// Rotation drift (the endpoint's configured files against what it serves): only for the
    /// endpoints whose files were compared.
    cert_not_reloaded: Family<EndpointLabels, Gauge>,
    ca_restart_required: Family<EndpointLabels, Gauge>,
    findings: Family<FindingLabels, Gauge>,
    rounds: Counter,
    round_duration: FloatGauge,
    last_round_end: FloatGauge,
}

impl Metrics {
    /// Register every family and create the plan's series (all zero until the first round).
    pub fn new(plan: &Plan, vantage: &str, interval_seconds: f64) -> Metrics {
        let mut registry = Registry::with_prefix_and_labels(
            "tlsaudit",
            [
                ("cluster".into(), plan.inventory.cluster.clone().into()),
                ("vantage".into(), vantage.to_string().into()),
            ]
            .into_iter(),
        );
        let endpoint_labels: Vec<EndpointLabels> =
            plan.endpoints().iter().map(EndpointLabels::of).collect();
        let mut m = Metrics {
            registry: Registry::default(),
            verdict: Vec::new(),
            phases: Vec::new(),
            endpoint_labels,
            server_not_after: Family::default(),
            probe_errors: Vec::new(),
            cert_changes: Vec::new(),
            chain_broken: Vec::new(),
            broken: vec![false; plan.endpoints().len()],
            cert_not_reloaded: Family::default(),
            ca_restart_required: Family::default(),
            findings: Family::default(),
            rounds: Counter::default(),
            round_duration: FloatGauge::default(),
            last_round_end: FloatGauge::default(),
        };
        m.register_cells(&mut registry, plan);
        m.register_endpoints(&mut registry);
        m.register_round(&mut registry, plan, interval_seconds);
        m.registry = registry;
        m
    }

    fn register_cells(&mut self, registry: &mut Registry, plan: &Plan) {
        let verdict = Family::<VerdictLabels, Gauge>::default();
        let allowed = Family::<CellLabels, Gauge>::default();
        let needed = Family::<CellLabels, Gauge>::default();
        for (i, e) in plan.expected.ids() {
            let cell = CellLabels {
                endpoint: self.endpoint_labels[e.0].clone(),
                identity: plan.identities[i.0].name.clone(),
            };
            let expected = &plan.expected[(i, e)];
            allowed.get_or_create(&cell).set(i64::from(expected.allow));
            needed.get_or_create(&cell).set(i64::from(expected.needed));
            self.verdict.push(Verdict::ALL.map(|v| {
                verdict.get_or_create_owned(&VerdictLabels {
                    cell: cell.clone(),
                    verdict: v.as_str().to_string(),
                })
            }));
        }
        registry.register(
            "link_verdict",
            "The verdict of each cell (identity x endpoint) as a state set: 1 for the verdict of the last round, 0 for the others; all 0 before the first probe",
            verdict,
        );
        registry.register(
            "link_expected_allowed",
            "1 when the endpoint's configuration admits the identity (the inventory's allow-list)",
            allowed,
        );
        registry.register(
            "link_needed",
            "1 when the identity's component needs this link for the cluster to work",
            needed,
        );
        let identities = Family::<IdentityLabels, Gauge>::default();
        for id in &plan.identities {
            if let Some(leaf) = &id.caller.identity.leaf {
                identities
                    .get_or_create(&IdentityLabels {
                        identity: id.name.clone(),
                    })
                    .set(leaf.not_after_unix);
            }
        }
        registry.register(
            "identity_cert_not_after_timestamp_seconds",
            "When each identity's client certificate expires (Unix time)",
            identities,
        );
    }

    fn register_endpoints(&mut self, registry: &mut Registry) {
        let phases = Family::<PhaseLabels, Histogram>::new_with_constructor(
            phase_histogram as fn() -> Histogram,
        );
        let errors = Family::<EndpointLabels, Counter>::default();
        let changes = Family::<EndpointLabels, Counter>::default();
        let broken = Family::<EndpointLabels, Gauge>::default();
        for labels in &self.endpoint_labels {
            self.phases.push(PHASES.map(|p| {
                phases.get_or_create_owned(&PhaseLabels {
                    endpoint: labels.clone(),
                    phase: p.to_string(),
                })
            }));
            self.probe_errors.push(errors.get_or_create_owned(labels));
            self.cert_changes.push(changes.get_or_create_owned(labels));
            self.chain_broken.push(broken.get_or_create_owned(labels));
        }
        registry.register(
            "probe_phase_duration_seconds",
            "Duration of each probe phase (connect, handshake, check, total) of every identity probing the endpoint",
            phases,
        );
        registry.register(
            "server_cert_not_after_timestamp_seconds",
            "When the endpoint's server certificate (the leaf it served in the last round) expires (Unix time)",
            self.server_not_after.clone(),
        );
        registry.register(
            "probe_errors",
            "Probes of the endpoint that ended unreachable (refused, timed out) or in an error",
            errors,
        );
        registry.register(
            "server_cert_changes",
            "Times the endpoint's server certificate changed between rounds (rotations)",
            changes,
        );
        registry.register(
            "server_chain_broken_after_rotation",
            "1 when the endpoint's server chain stopped verifying against the configured CA after its certificate changed",
            broken,
        );
        registry.register(
            "server_cert_not_reloaded",
            "1 when the endpoint serves another certificate than its configured certificate file (replaced on disk, not reloaded yet); 0 when it serves the file's; absent when the file was not compared",
            self.cert_not_reloaded.clone(),
        );
        registry.register(
            "server_ca_restart_required",
            "1 when the endpoint runs with another CA than its configured CA file (components read the CA only at start); 0 when it runs with the file's; absent when not known",
            self.ca_restart_required.clone(),
        );
    }

    fn register_round(&mut self, registry: &mut Registry, plan: &Plan, interval_seconds: f64) {
        registry.register(
            "findings",
            "Findings of the last round, by severity and code",
            self.findings.clone(),
        );
        registry.register("rounds", "Audit rounds completed", self.rounds.clone());
        registry.register(
            "round_duration_seconds",
            "How long the last round took",
            self.round_duration.clone(),
        );
        registry.register(
            "last_round_end_timestamp_seconds",
            "When the last round ended (Unix time)",
            self.last_round_end.clone(),
        );
        let interval = FloatGauge::default();
        interval.set(interval_seconds);
        registry.register(
            "round_interval_seconds",
            "The configured time between rounds (--interval)",
            interval,
        );
        let start = FloatGauge::default();
        start.set(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        );
        registry.register(
            "start_timestamp_seconds",
            "When this exporter started (Unix time); with last_round_end, how long since a round ended",
            start,
        );
        let cells = Gauge::<i64>::default();
        cells.set(i64::try_from(plan.cell_count()).unwrap_or(i64::MAX));
        registry.register(
            "cells",
            "Cells audited per round (identities x endpoints)",
            cells,
        );
    }

    /// Set every series from a finished round.
    pub fn update(&mut self, plan: &Plan, snap: &Snapshot, duration_seconds: f64, end_unix: f64) {
        for (n, (i, e)) in plan.expected.ids().enumerate() {
            let cell = snap.cell(i, e);
            for (k, v) in Verdict::ALL.iter().enumerate() {
                self.verdict[n][k].set(i64::from(cell.verdict == Some(*v)));
            }
            if matches!(cell.verdict, Some(Verdict::Unreachable | Verdict::Error)) {
                self.probe_errors[e.0].inc();
            }
            if let Some(rec) = &cell.record {
                for (h, s) in self.phases[e.0].iter().zip(phase_seconds(&rec.timings)) {
                    if let Some(s) = s {
                        h.observe(s);
                    }
                }
            }
        }
        for e in 0..plan.endpoints().len() {
            self.update_endpoint(plan, snap, EndpointId(e));
        }
        self.findings.clear();
        for f in &snap.findings {
            self.findings
                .get_or_create(&FindingLabels {
                    severity: f.severity.as_str().to_string(),
                    code: f.code.as_str().to_string(),
                })
                .inc();
        }
        self.rounds.inc();
        self.round_duration.set(duration_seconds);
        self.last_round_end.set(end_unix);
    }

    fn update_endpoint(&mut self, plan: &Plan, snap: &Snapshot, e: EndpointId) {
        let cells = || (0..plan.identities.len()).map(|i| snap.cell(IdentityId(i), e));
        let labels = &self.endpoint_labels[e.0];
        let seen: Option<&ProbeRecord> = cells()
            .filter_map(|c| c.record.as_deref())
            .find(|r| !r.server_chain.is_empty());
        set_or_remove(
            &self.server_not_after,
            labels,
            seen.map(|rec| rec.server_chain[0].not_after_unix),
        );
        let trusted =
            seen.is_some_and(|r| r.server_verification.as_ref().is_some_and(|v| v.trusted));
        if cells().any(|c| c.rotated) {
            self.cert_changes[e.0].inc();
            self.broken[e.0] = !trusted;
        } else if trusted {
            self.broken[e.0] = false;
        }
        self.chain_broken[e.0].set(i64::from(self.broken[e.0]));
        let drift = snap.drift.get(e.0).and_then(Option::as_ref);
        set_or_remove(
            &self.cert_not_reloaded,
            labels,
            drift.and_then(|d| match d.cert {
                CertDrift::InSync => Some(0),
                CertDrift::NotReloaded => Some(1),
                _ => None,
            }),
        );
        set_or_remove(
            &self.ca_restart_required,
            labels,
            drift.and_then(|d| match d.ca {
                CaDrift::Current => Some(0),
                CaDrift::RestartRequired => Some(1),
                _ => None,
            }),
        );
    }
}

/// An endpoint's series set to `v`, or removed when there is no value (not known, not seen).
fn set_or_remove(family: &Family<EndpointLabels, Gauge>, labels: &EndpointLabels, v: Option<i64>) {
    match v {
        Some(v) => {
            family.get_or_create(labels).set(v);
        }
        None => {
            family.remove(labels);
        }
    }
}

/// The two exposition formats a scraper may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4.
    Text = 0,
    OpenMetrics = 1,
}

/// Encode a registry in one format. `hint`: the expected size (the last encoding's), to size
/// the buffer once.
pub fn encode_as(
    registry: &Registry,
    format: Format,
    hint: usize,
) -> Result<String, std::fmt::Error> {
    let mut out = String::with_capacity(hint + hint / 16);
    match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut out, registry)?,
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, registry)?,
    }
    Ok(out)
}

/// The metrics of one probe on demand (`/probe`), blackbox-exporter style.
pub fn probe_registry(
    plan: &Plan,
    vantage: &str,
    (i, e): (IdentityId, EndpointId),
    rec: &ProbeRecord,
    verdict: Verdict,
) -> Registry {
    use prometheus_client::metrics::family::Family;
    type Labels = Vec<(String, String)>;
    let ep = &plan.endpoints()[e.0];
    let l = EndpointLabels::of(ep);
    let mut registry = Registry::with_prefix_and_labels(
        "tlsaudit_probe",
        [
            ("cluster".into(), plan.inventory.cluster.clone().into()),
            ("vantage".into(), vantage.to_string().into()),
            ("endpoint".into(), l.endpoint.into()),
            ("component".into(), l.component.into()),
            ("role".into(), l.role.into()),
            ("identity".into(), plan.identities[i.0].name.clone().into()),
        ]
        .into_iter(),
    );
    let success = Gauge::<i64>::default();
    success.set(i64::from(matches!(
        verdict,
        Verdict::Secure | Verdict::Enforced
    )));
    registry.register(
        "success",
        "1 when the verdict is what the configuration expects (secure or enforced)",
        success,
    );
    let states = Family::<Labels, Gauge>::default();
    for v in Verdict::ALL {
        states
            .get_or_create(&vec![("verdict".into(), v.as_str().into())])
            .set(i64::from(v == verdict));
    }
    registry.register("verdict", "The probe's verdict as a state set", states);
    let phases = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    for (p, secs) in PHASES.iter().zip(phase_seconds(&rec.timings)) {
        if let Some(secs) = secs {
            phases
                .get_or_create(&vec![("phase".into(), (*p).into())])
                .set(secs);
        }
    }
    registry.register(
        "phase_duration_seconds",
        "Duration of each phase of the probe",
        phases,
    );
    if let Some(leaf) = rec.server_chain.first() {
        let g = Gauge::<i64>::default();
        g.set(leaf.not_after_unix);
        registry.register(
            "server_cert_not_after_timestamp_seconds",
            "When the server certificate served to this probe expires (Unix time)",
            g,
        );
    }
    registry
}
