//! The exporter's metrics, kept in a `prometheus-client` registry and updated once per round.
//!
//! Every series carries `cluster` and `vantage` (registry-wide labels). Cardinality is fixed by
//! the plan: cells x 9 verdicts (`tlsaudit_link_verdict`), cells x 3 (`link_ok`,
//! `expected_allowed`, `needed`), endpoints x 4 phases x the buckets up to the probe deadline
//! (the probe histogram), a few per endpoint and per identity, findings by severity, code and
//! endpoint, the round's own and the process's ([`process`]); see docs/serve.md.

mod process;

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
use tlsaudit_engine::probe::{ProbeRecord, Timeouts, Timings};
use tlsaudit_engine::scan::{ScanResult, Version};

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

/// A finding's labels: `endpoint` is empty (absent in the exposition) for cluster-wide ones.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    severity: String,
    code: String,
    endpoint: String,
}

/// The TLS version an endpoint negotiated.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    #[prometheus(flatten)]
    endpoint: EndpointLabels,
    version: String,
}

/// Labels as a list, for the series whose label names come from the input.
type LabelList = Vec<(String, String)>;

type FloatGauge = Gauge<f64, AtomicU64>;

/// The probe phases timed, with their durations in a record.
pub const PHASES: [&str; 4] = ["connect", "handshake", "check", "total"];

/// A record's phase durations in seconds (`None`: the phase did not run).
pub fn phase_seconds(t: &Timings) -> [Option<f64>; 4] {
    [t.connect_ms, t.handshake_ms, t.check_ms, Some(t.total_ms)].map(|ms| ms.map(|v| v / 1000.0))
}

/// The buckets of the phase histogram: from 1 ms, doubling, up to the first bound at or above
/// the probe's deadline (its `total` timeout, or the phases' timeouts added up when more), so
/// that no probe that ends within its deadline lands in `+Inf` only: 15 buckets for the default
/// 15 s, 23 for the one-hour cap.
fn phase_buckets(timeouts: &Timeouts) -> Vec<f64> {
    let phases = timeouts.connect + timeouts.handshake + timeouts.check;
    let deadline = timeouts.total.max(phases).as_secs_f64();
    let mut count = 1u16;
    while 0.001 * 2f64.powi(i32::from(count - 1)) < deadline && count < 64 {
        count += 1;
    }
    exponential_buckets(0.001, 2.0, count).collect()
}

/// Prometheus label names of an endpoint's inventory `labels`: invalid characters become `_`,
/// a leading digit gets a `_` before it; a name the exporter sets itself (or a scrape adds:
/// `job`, `instance`) or a reserved `__` one is left out, never overridden; a second label
/// mapping to a name already taken is left out too.
fn inventory_labels(labels: &std::collections::BTreeMap<String, String>) -> LabelList {
    const OWN: [&str; 7] = [
        "cluster",
        "vantage",
        "endpoint",
        "component",
        "role",
        "job",
        "instance",
    ];
    let mut out: LabelList = Vec::new();
    for (k, v) in labels {
        let mut name: String = k
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            name.insert(0, '_');
        }
        if name.starts_with("__")
            || OWN.contains(&name.as_str())
            || out.iter().any(|(n, _)| *n == name)
        {
            continue;
        }
        out.push((name, v.clone()));
    }
    out
}

/// The inventory reloads (SIGHUP), kept across the registries of reloaded plans (each
/// registers the same gauges): `tlsaudit_config_last_reload_successful` and
/// `tlsaudit_config_last_reload_success_timestamp_seconds`, Prometheus's own names for its
/// configuration reloads.
#[derive(Debug, Clone, Default)]
pub struct Reloads {
    successful: Gauge,
    loaded_at: FloatGauge,
}

impl Reloads {
    /// The inventory loaded at start, at `now` (Unix time).
    pub fn started(now: f64) -> Reloads {
        let r = Reloads::default();
        r.record(true, now);
        r
    }

    /// A reload that succeeded (the inventory in force loaded at `now`) or failed (the
    /// previous one kept serving).
    pub fn record(&self, ok: bool, now: f64) {
        self.successful.set(i64::from(ok));
        if ok {
            self.loaded_at.set(now);
        }
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "config_last_reload_successful",
            "1 when the last inventory reload (SIGHUP) succeeded or none was asked for, 0 when it failed and the previous inventory keeps serving",
            self.successful.clone(),
        );
        registry.register(
            "config_last_reload_success_timestamp_seconds",
            "When the inventory in force was loaded (Unix time): at start, or its last successful reload",
            self.loaded_at.clone(),
        );
    }
}

/// The registry and direct handles to every series a round sets.
pub struct Metrics {
    pub registry: Registry,
    /// `[cell][verdict]`, cells in `plan.expected.ids()` order.
    verdict: Vec<[Gauge; Verdict::ALL.len()]>,
    /// Per cell, in the same order: 1 when the verdict is as intended.
    link_ok: Vec<Gauge>,
    phases: Vec<[Histogram; 4]>,
    endpoint_labels: Vec<EndpointLabels>,
    server_not_after: Family<EndpointLabels, Gauge>,
    chain_not_after: Family<EndpointLabels, Gauge>,
    tls_version: Family<VersionLabels, Gauge>,
    /// Per endpoint, the version its `tls_version_info` series names (to remove it on change).
    tls_seen: Vec<Option<String>>,
    /// `tls_version_accepted`: per endpoint and version its last hygiene scan got an answer for.
    scan_versions: Family<VersionLabels, Gauge>,
    /// Per endpoint, the versions its `tls_version_accepted` series name (to remove the ones
    /// the next scan does not answer for).
    scan_seen: Vec<Vec<String>>,
    /// `tls_scan_timestamp_seconds`: when the endpoint's last scan ended.
    scan_finished: Family<EndpointLabels, FloatGauge>,
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
    /// The process series (Linux only).
    process: Option<process::Process>,
}

impl Metrics {
    /// Register every family and create the plan's series (all zero until the first round).
    pub fn new(plan: &Plan, vantage: &str, interval_seconds: f64, reloads: &Reloads) -> Metrics {
        // The process series keep their standard names: only the exporter's own take the
        // `tlsaudit_` prefix (a sub-registry, with the same labels).
        let mut registry = Registry::with_labels(
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
            link_ok: Vec::new(),
            phases: Vec::new(),
            endpoint_labels,
            server_not_after: Family::default(),
            chain_not_after: Family::default(),
            tls_version: Family::default(),
            tls_seen: vec![None; plan.endpoints().len()],
            scan_versions: Family::default(),
            scan_seen: vec![Vec::new(); plan.endpoints().len()],
            scan_finished: Family::default(),
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
            process: None,
        };
        let own = registry.sub_registry_with_prefix("tlsaudit");
        m.register_cells(own, plan);
        register_identities(own, plan);
        m.register_endpoints(own, plan);
        register_endpoint_info(own, plan);
        m.register_round(own, plan, interval_seconds);
        register_build_info(own);
        reloads.register(own);
        m.process = process::Process::register(&mut registry);
        if let Some(p) = &mut m.process {
            p.refresh();
        }
        m.registry = registry;
        m
    }

    fn register_cells(&mut self, registry: &mut Registry, plan: &Plan) {
        let verdict = Family::<VerdictLabels, Gauge>::default();
        let ok = Family::<CellLabels, Gauge>::default();
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
            self.link_ok.push(ok.get_or_create_owned(&cell));
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
            "link_ok",
            "1 when the cell's verdict of the last round is as intended (secure or enforced), 0 otherwise and before the first probe",
            ok,
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
    }

    fn register_endpoints(&mut self, registry: &mut Registry, plan: &Plan) {
        let buckets = phase_buckets(&plan.inventory.options.timeouts);
        let phases = Family::<PhaseLabels, Histogram, _>::new_with_constructor(move || {
            Histogram::new(buckets.iter().copied())
        });
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
            "server_chain_not_after_timestamp_seconds",
            "When the first certificate of the chain the endpoint served in the last round expires, leaf or intermediate (Unix time)",
            self.chain_not_after.clone(),
        );
        registry.register(
            "endpoint_tls_version_info",
            "1, with the TLS version the endpoint negotiated in the last round; absent when no handshake finished",
            self.tls_version.clone(),
        );
        registry.register(
            "tls_version_accepted",
            "1 when the endpoint's last hygiene scan found the TLS version accepted, 0 refused; absent for a version the scan got no answer for, and for an endpoint not scanned yet or whose scan failed",
            self.scan_versions.clone(),
        );
        registry.register(
            "tls_scan_timestamp_seconds",
            "When the endpoint's last hygiene scan ended (Unix time); scans repeat every --scan-interval, not every round",
            self.scan_finished.clone(),
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
            "Findings of the last round, by severity, code and the endpoint they concern (none for cluster-wide ones)",
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
            self.link_ok[n].set(i64::from(cell.verdict.is_some_and(as_intended)));
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
                    endpoint: f.endpoint.clone().unwrap_or_default(),
                })
                .inc();
        }
        self.rounds.inc();
        self.round_duration.set(duration_seconds);
        self.last_round_end.set(end_unix);
        if let Some(p) = &mut self.process {
            p.refresh();
        }
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
        set_or_remove(
            &self.chain_not_after,
            labels,
            seen.and_then(|rec| rec.server_chain.iter().map(|c| c.not_after_unix).min()),
        );
        let version = cells()
            .filter_map(|c| c.record.as_deref()?.tls.as_ref())
            .map(|t| t.version.clone())
            .find(|v| !v.is_empty());
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
        self.set_tls_version(e, version);
        let scan = snap.scans.get(e.0).and_then(Option::as_deref);
        self.set_scan(e, scan);
    }

    /// The endpoint's scan series from its last scan (`None`: never scanned): one per version
    /// answered, the ones of versions no longer answered removed, and when the scan ended.
    fn set_scan(&mut self, e: EndpointId, scan: Option<&ScanResult>) {
        let labels = |version: String| VersionLabels {
            endpoint: self.endpoint_labels[e.0].clone(),
            version,
        };
        let answered = answered_versions(scan);
        for old in std::mem::take(&mut self.scan_seen[e.0]) {
            if !answered.iter().any(|(v, _)| *v == old) {
                self.scan_versions.remove(&labels(old));
            }
        }
        for (v, accepted) in &answered {
            self.scan_versions
                .get_or_create(&labels(v.clone()))
                .set(i64::from(*accepted));
        }
        self.scan_seen[e.0] = answered.into_iter().map(|(v, _)| v).collect();
        let finished = scan
            .and_then(|s| s.finished_at.as_deref())
            .and_then(|t| humantime::parse_rfc3339(t).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        let endpoint = &self.endpoint_labels[e.0];
        match finished {
            Some(t) => {
                self.scan_finished
                    .get_or_create(endpoint)
                    .set(t.as_secs_f64());
            }
            None => {
                self.scan_finished.remove(endpoint);
            }
        }
    }

    /// The endpoint's `tls_version_info` series: the one of `version`, the previous one (of
    /// another version, or of none seen now) removed.
    fn set_tls_version(&mut self, e: EndpointId, version: Option<String>) {
        let labels = |version: String| VersionLabels {
            endpoint: self.endpoint_labels[e.0].clone(),
            version,
        };
        if self.tls_seen[e.0] != version {
            if let Some(old) = self.tls_seen[e.0].take() {
                self.tls_version.remove(&labels(old));
            }
        }
        if let Some(v) = &version {
            self.tls_version.get_or_create(&labels(v.clone())).set(1);
        }
        self.tls_seen[e.0] = version;
    }
}

/// The versions a scan got an answer for, by the `version` label `tls_version_info` uses
/// (`TLSv1.2`), with whether each was accepted: none for a scan that failed or none at all; a
/// version whose hellos ended in a failure (not a refusal) is not answered, unless accepted.
fn answered_versions(scan: Option<&ScanResult>) -> Vec<(String, bool)> {
    let Some(scan) = scan.filter(|s| s.failure.is_none()) else {
        return Vec::new();
    };
    scan.versions
        .iter()
        .filter(|v| v.accepted || v.failure.is_none())
        .map(|v| (version_label(v.version).to_string(), v.accepted))
        .collect()
}

/// A scanned version in the spelling of the probes' negotiated version (`TLSv1.3`), so that
/// `tls_version_accepted` and `endpoint_tls_version_info` join on `version`.
fn version_label(v: Version) -> &'static str {
    match v {
        Version::Tls10 => "TLSv1.0",
        Version::Tls11 => "TLSv1.1",
        Version::Tls12 => "TLSv1.2",
        Version::Tls13 => "TLSv1.3",
    }
}

/// Whether a verdict is as intended (secure or enforced): the engine's own word for it, so
/// that /metrics' `link_ok` and /probe's `success` never differ from the report.
fn as_intended(v: Verdict) -> bool {
    !v.is_failing()
}

/// When each identity's client certificate expires: only the inventory's certificates, those
/// an operator rotates; the identities the audit mints at run time (foreign, unlisted, one per
/// component) are renewed by the tool itself.
fn register_identities(registry: &mut Registry, plan: &Plan) {
    let identities = Family::<IdentityLabels, Gauge>::default();
    for id in plan.identities.iter().filter(|id| !id.kind.is_extra()) {
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
        "When each inventory identity's client certificate expires (Unix time); not the identities the audit mints itself",
        identities,
    );
}

/// `tlsaudit_endpoint_info`: 1 per endpoint with its inventory `labels` (rack, zone...), to join
/// on `endpoint` (`* on (cluster, endpoint) group_left (rack) tlsaudit_endpoint_info`).
fn register_endpoint_info(registry: &mut Registry, plan: &Plan) {
    let info = Family::<LabelList, Gauge>::default();
    for ep in plan.endpoints() {
        let l = EndpointLabels::of(ep);
        let mut labels = vec![
            ("endpoint".to_string(), l.endpoint),
            ("component".to_string(), l.component),
            ("role".to_string(), l.role),
        ];
        labels.extend(inventory_labels(&ep.labels));
        info.get_or_create(&labels).set(1);
    }
    registry.register(
        "endpoint_info",
        "1 per endpoint, with the inventory's labels of it (rack, zone...) to join on endpoint",
        info,
    );
}

/// `tlsaudit_build_info{version}`: which tlsaudit serves these series.
fn register_build_info(registry: &mut Registry) {
    let info = Family::<LabelList, Gauge>::default();
    info.get_or_create(&vec![(
        "version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    )])
    .set(1);
    registry.register("build_info", "1, with the version of tlsaudit", info);
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
    success.set(i64::from(as_intended(verdict)));
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
    // Not `phase_duration_seconds`: /metrics has a histogram of that name (one name, one type).
    registry.register(
        "phase_seconds",
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
    if let Some(first) = rec.server_chain.iter().map(|c| c.not_after_unix).min() {
        let g = Gauge::<i64>::default();
        g.set(first);
        registry.register(
            "server_chain_not_after_timestamp_seconds",
            "When the first certificate of the chain served to this probe expires (Unix time)",
            g,
        );
    }
    registry
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tlsaudit_engine::scan::{Failure, VersionScan};

    #[test]
    fn buckets_reach_the_probe_deadline() {
        let default = phase_buckets(&Timeouts::default());
        assert_eq!(default.len(), 15);
        assert!((default[0] - 0.001).abs() < 1e-12);
        let top = default[default.len() - 1];
        assert!(
            top >= 15.0 && default[default.len() - 2] < 15.0,
            "{default:?}"
        );
        // Phases adding up to more than `total`: up to their sum.
        let long = Timeouts {
            connect: Duration::from_secs(10),
            handshake: Duration::from_secs(20),
            check: Duration::from_secs(20),
            ..Timeouts::default()
        };
        assert!(phase_buckets(&long).last().is_some_and(|b| *b >= 50.0));
        let cap = Timeouts {
            total: tlsaudit_engine::probe::MAX_TIMEOUT,
            ..Timeouts::default()
        };
        let cap = phase_buckets(&cap);
        assert_eq!(cap.len(), 23);
        assert!(cap[22] >= 3600.0);
    }

    #[test]
    fn inventory_labels_are_sanitized_and_never_override() {
        let labels: std::collections::BTreeMap<String, String> = [
            ("rack", "r1"),
            ("zone-name", "az 1"),
            ("9lives", "x"),
            ("endpoint", "evil"),
            ("cluster", "evil"),
            ("job", "evil"),
            ("__name__", "evil"),
            ("zone.name", "second"),
            ("", "empty"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let got = inventory_labels(&labels);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["_", "_9lives", "rack", "zone_name"], "{got:?}");
        assert_eq!(
            got[3].1, "az 1",
            "the first of two names mapping to zone_name"
        );
    }

    fn scan(answers: &[(Version, bool, Option<Failure>)], finished_at: &str) -> ScanResult {
        ScanResult {
            address: "127.0.0.1:1".into(),
            protocol: "tls".into(),
            versions: answers
                .iter()
                .map(|&(version, accepted, failure)| VersionScan {
                    version,
                    accepted,
                    suites: Vec::new(),
                    server_order: None,
                    groups: Vec::new(),
                    note: None,
                    failure,
                })
                .collect(),
            certificates: Vec::new(),
            connections: 4,
            elapsed_ms: 10,
            complete: true,
            finished_at: Some(finished_at.into()),
            failure: None,
        }
    }

    /// The exposition's `tls_version_accepted` and `tls_scan_timestamp_seconds` lines, sorted
    /// (a family's series come in no set order).
    fn scan_lines(m: &Metrics) -> Vec<String> {
        let text = encode_as(&m.registry, Format::Text, 0).unwrap();
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("tlsaudit_tls_"))
            .map(|l| l.replace(r#"cluster="t",vantage="v","#, ""))
            .collect();
        lines.sort();
        lines
    }

    #[test]
    fn scan_series_follow_the_last_scan_and_do_not_linger() {
        let dir = tempfile::tempdir().unwrap();
        let ca = tlsaudit_engine::pki::mint::Ca::generate("t", 1).unwrap();
        std::fs::write(dir.path().join("ca.crt"), &ca.pem).unwrap();
        let text = "[cluster]\nname = \"t\"\nca = \"ca.crt\"\n[[endpoints]]\nname = \"tikv-1\"\ncomponent = \"tikv\"\naddress = \"127.0.0.1:1\"\n";
        let inventory =
            tlsaudit_engine::inventory::Inventory::parse(text, &dir.path().join("t.toml")).unwrap();
        let plan = Plan::new(inventory).unwrap();
        let mut m = Metrics::new(&plan, "v", 60.0, &Reloads::started(1.0));
        let e = EndpointId(0);
        m.set_scan(e, None);
        assert_eq!(scan_lines(&m), Vec::<String>::new(), "never scanned");
        let first = scan(
            &[
                (Version::Tls10, true, None),
                (Version::Tls11, false, None),
                (Version::Tls12, true, None),
                (Version::Tls13, false, Some(Failure::Timeout)),
            ],
            "2026-12-08T01:00:00.5Z",
        );
        m.set_scan(e, Some(&first));
        let ep = r#"endpoint="tikv-1",component="tikv",role="grpc""#;
        assert_eq!(
            scan_lines(&m),
            [
                format!(r#"tlsaudit_tls_scan_timestamp_seconds{{{ep}}} 1796691600.5"#),
                format!(r#"tlsaudit_tls_version_accepted{{{ep},version="TLSv1.0"}} 1"#),
                format!(r#"tlsaudit_tls_version_accepted{{{ep},version="TLSv1.1"}} 0"#),
                format!(r#"tlsaudit_tls_version_accepted{{{ep},version="TLSv1.2"}} 1"#),
            ],
            "TLS 1.3 timed out: no answer, no series"
        );
        // The next scan: TLS 1.0 and 1.1 no longer answered (a failure), TLS 1.3 now accepted.
        let second = scan(
            &[
                (Version::Tls10, false, Some(Failure::Reset)),
                (Version::Tls12, true, None),
                (Version::Tls13, true, None),
            ],
            "2026-12-08T02:00:00Z",
        );
        m.set_scan(e, Some(&second));
        assert_eq!(
            scan_lines(&m),
            [
                format!(r#"tlsaudit_tls_scan_timestamp_seconds{{{ep}}} 1796695200.0"#),
                format!(r#"tlsaudit_tls_version_accepted{{{ep},version="TLSv1.2"}} 1"#),
                format!(r#"tlsaudit_tls_version_accepted{{{ep},version="TLSv1.3"}} 1"#),
            ]
        );
        // A scan that failed as a whole: no version series, only when it ended.
        let failed = ScanResult {
            failure: Some(tlsaudit_engine::scan::ScanFailure {
                class: Failure::Refused,
                detail: "refused".into(),
            }),
            ..second
        };
        m.set_scan(e, Some(&failed));
        assert_eq!(
            scan_lines(&m),
            [format!(
                r#"tlsaudit_tls_scan_timestamp_seconds{{{ep}}} 1796695200.0"#
            )]
        );
    }

    #[test]
    fn as_intended_is_secure_or_enforced() {
        let ok: Vec<&str> = Verdict::ALL
            .into_iter()
            .filter(|v| as_intended(*v))
            .map(Verdict::as_str)
            .collect();
        assert_eq!(ok, ["secure", "enforced"]);
    }
}
