//! `tlsaudit serve`: audit rounds on an interval, exported over HTTP for Prometheus.
//!
//! One task runs the rounds (one at a time; a round that overruns the interval delays the next,
//! rounds never overlap) and, when a round ends, updates the metrics and encodes them once in
//! each exposition format a scraper has asked for (a format nobody asks for is neither encoded
//! nor kept: a 200 x 10 exposition is about 5 MB); a scrape only hands out the encoded bytes, so
//! it costs the same while a round runs. Paths: `/metrics`, `/report.json`, `/probe?endpoint=&identity=`,
//! `/-/healthy`, `/-/ready`. Routing is axum's (the tokio project's server, on hyper); `http.rs`
//! accepts the connections, with a header-read timeout, a connection cap and a shutdown deadline.
//! `/probe` runs at most [`PROBES_ON_DEMAND`] probes at once with [`PROBES_WAITING`] more
//! waiting; beyond that it answers 429 with a `Retry-After`.
//!
//! SIGHUP reloads the inventory between rounds (never during one): the plan is built again by
//! the [`Reload`] the CLI hands over, swapped into the auditor (the cells both plans name keep
//! their last records), and a round of the new plan starts at once; its metrics (a new registry:
//! the counters restart) and its report replace the old ones when it ends. A plan that cannot be
//! built is logged and the previous one keeps serving.
//!
//! The command line (`tlsaudit serve`'s arguments, the plan they name, the checks of the address
//! and the vantage) is the CLI's; here, [`run`] takes the plan, its [`Settings`] and how to build
//! it again.

mod http;
pub mod metrics;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use prometheus_client::registry::Registry;

use tlsaudit_engine::audit::{expect, Auditor, EndpointId, IdentityId, Plan, Snapshot};
use tlsaudit_engine::error::InputError;
use tlsaudit_report::sanitize::inert;
use tokio::sync::{mpsc, Semaphore};

use metrics::{encode_as, Format, Metrics, Reloads};

/// Where and how `serve` runs (the command line decides it: `tlsaudit serve`'s arguments).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The address to listen on (checked: loopback unless allowed otherwise).
    pub listen: SocketAddr,
    /// The `vantage` label of every series (checked).
    pub vantage: String,
    /// Time between the starts of rounds.
    pub interval: Duration,
}

/// Builds the plan again the way the command line built it at start (on SIGHUP): the inventory
/// or the TiDB inputs read anew, the audit flags applied. Called off the runtime's threads.
pub type Reload = Arc<dyn Fn() -> Result<Plan, InputError> + Send + Sync>;

/// What the HTTP handlers read.
struct Shared {
    /// The rounds' auditor; its plan (renewed, or reloaded) is also the one `/probe` uses.
    auditor: Arc<Auditor>,
    vantage: String,
    /// The registry; the round loop updates it, a scrape of a format not encoded yet encodes it.
    metrics: Mutex<Metrics>,
    /// The reloads' gauges, registered in every plan's registry.
    reloads: Reloads,
    /// The metrics as of the last round, by [`Format`]: `None` until a scraper asks for that
    /// format; from then on every round encodes it as it ends.
    exposition: RwLock<[Option<Bytes>; 2]>,
    /// The last finished round as the JSON report (rendered once when the round ends, so that
    /// no round's records are kept past the next one).
    latest: RwLock<Option<Bytes>>,
    /// Probes on demand in flight at once ([`PROBES_ON_DEMAND`]).
    probes: Semaphore,
    /// Probes on demand admitted, in flight or waiting for one of `probes`
    /// ([`PROBES_ON_DEMAND`] + [`PROBES_WAITING`]); a request finding none is a 429.
    admitted: Semaphore,
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Serve `plan`'s rounds until SIGTERM or Ctrl-C, building it again with `reload` on SIGHUP;
/// exit 0 after a clean stop.
pub async fn run(plan: Plan, settings: Settings, reload: Reload) -> Result<u8, InputError> {
    let addr = settings.listen;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        InputError::usage(
            format!("cannot listen on {addr}: {e}"),
            "choose a free port with --listen, e.g. --listen 127.0.0.1:9820",
        )
    })?;
    let local = listener.local_addr().unwrap_or(addr);
    let auditor = Arc::new(Auditor::new(plan));
    let reloads = Reloads::started(unix_now());
    let metrics = Mutex::new(Metrics::new(
        &auditor.plan(),
        &settings.vantage,
        settings.interval.as_secs_f64(),
        &reloads,
    ));
    let shared = Arc::new(Shared {
        auditor: auditor.clone(),
        vantage: settings.vantage.clone(),
        metrics,
        reloads,
        exposition: RwLock::new([None, None]),
        latest: RwLock::new(None),
        probes: Semaphore::new(PROBES_ON_DEMAND),
        admitted: Semaphore::new(PROBES_ON_DEMAND + PROBES_WAITING),
    });
    // From here on SIGHUP asks for a reload instead of ending the process.
    let (hangups, hangup_task) = hangups();
    let limits = limits(&auditor.plan());
    eprintln!(
        "tlsaudit serve: listening on http://{local} (cluster {}, vantage {}, {} cells, a round every {}, at most {} connections)",
        auditor.plan().inventory.cluster,
        settings.vantage,
        auditor.plan().cell_count(),
        humantime::format_duration(settings.interval),
        limits.max_connections,
    );
    let rounds = tokio::spawn(round_loop(
        shared.clone(),
        settings.interval,
        hangups,
        reload,
    ));
    http::serve(listener, router(shared), limits, shutdown_signal()).await;
    // Cancel the round in flight: dropping it aborts its probes.
    rounds.abort();
    let _ = rounds.await;
    if let Some(task) = hangup_task {
        task.abort();
    }
    eprintln!("tlsaudit serve: stopped");
    Ok(0)
}

/// The HTTP limits: the connection cap leaves the open-file limit's descriptors for the
/// round's probes and the probes on demand.
fn limits(plan: &Plan) -> http::Limits {
    let probes =
        tlsaudit_engine::probe::limits::cap(plan.inventory.options.concurrency) + PROBES_ON_DEMAND;
    let soft = rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft);
    http::Limits {
        header_read_timeout: http::HEADER_READ_TIMEOUT,
        write_stall_timeout: http::WRITE_STALL_TIMEOUT,
        max_connections: http::connection_cap(soft, probes),
        shutdown_deadline: http::SHUTDOWN_DEADLINE,
    }
}

/// `/probe` requests probing at once.
pub const PROBES_ON_DEMAND: usize = 4;

/// `/probe` requests waiting for one of the [`PROBES_ON_DEMAND`]; beyond them a request is
/// answered 429 at once.
pub const PROBES_WAITING: usize = 8;

/// One encoding, or a comment saying why it failed (a scrape then shows it).
fn encode(registry: &Registry, format: Format, hint: usize) -> Bytes {
    match encode_as(registry, format, hint) {
        Ok(text) => Bytes::from(text),
        Err(e) => Bytes::from(format!("# encoding the metrics failed: {e}\n")),
    }
}

/// The exposition formats, for the arrays indexed by [`Format`].
const FORMATS: [Format; 2] = [Format::Text, Format::OpenMetrics];

/// The rounds, one at a time on the interval; between two, the reloads SIGHUP asks for (a
/// reload that succeeds starts a round of the new plan at once).
async fn round_loop(
    shared: Arc<Shared>,
    interval: Duration,
    mut hangups: mpsc::Receiver<()>,
    reload: Reload,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The metrics of a reloaded plan, waiting for the end of its first round.
    let mut fresh = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(()) = hangups.recv() => {
                if let Some(metrics) = reload_plan(&shared, &reload, interval).await {
                    fresh = Some(metrics);
                    tick.reset_immediately();
                }
                continue;
            }
        }
        round(&shared, fresh.take()).await;
    }
}

/// One round: run it, then publish its metrics (into `fresh` first when the plan was just
/// reloaded) and its report.
async fn round(shared: &Shared, fresh: Option<Metrics>) {
    let started = Instant::now();
    let snap = shared.auditor.run_round(None).await;
    // The plan the round ran: only this loop replaces it, and not during a round.
    let plan = shared.auditor.plan();
    let end = unix_now();
    if let Ok(mut metrics) = shared.metrics.lock() {
        if let Some(fresh) = fresh {
            *metrics = fresh;
        }
        metrics.update(&plan, &snap, started.elapsed().as_secs_f64(), end);
        encode_scraped(shared, &metrics);
    }
    let report = report_json(&plan, &snap, &shared.vantage);
    drop(snap);
    if let Ok(mut slot) = shared.latest.write() {
        *slot = Some(report);
    }
}

/// The time now, in Unix seconds.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Encode again the formats scraped so far, each sized as its last encoding. Called with the
/// metrics locked, so that a scrape's own first encoding cannot interleave.
fn encode_scraped(shared: &Shared, metrics: &Metrics) {
    let last = shared.exposition.read().map_or([None, None], |g| g.clone());
    let encoded = FORMATS.map(|f| {
        last[f as usize]
            .as_ref()
            .map(|old| encode(&metrics.registry, f, old.len()))
    });
    if let Ok(mut slot) = shared.exposition.write() {
        *slot = encoded;
    }
}

/// Build the plan again and swap it into the auditor; the metrics for it (to publish when its
/// first round ends), or `None` when it cannot be built (logged; the old plan keeps serving).
async fn reload_plan(shared: &Shared, reload: &Reload, interval: Duration) -> Option<Metrics> {
    let build = reload.clone();
    let built = match tokio::task::spawn_blocking(move || build()).await {
        Ok(built) => built.map_err(|e| e.to_string()),
        Err(e) => Err(format!("building the plan failed: {e}")),
    };
    let plan = match built {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!(
                "tlsaudit serve: reload failed: {}; still serving the previous inventory",
                inert(&e)
            );
            // Seen at once: no round comes before the next tick.
            shared.reloads.record(false, unix_now());
            if let Ok(metrics) = shared.metrics.lock() {
                encode_scraped(shared, &metrics);
            }
            return None;
        }
    };
    eprintln!(
        "tlsaudit serve: reloaded the inventory: cluster {}, {} endpoints x {} identities ({} cells)",
        inert(&plan.inventory.cluster),
        plan.endpoints().len(),
        plan.identities.len(),
        plan.cell_count(),
    );
    shared.reloads.record(true, unix_now());
    let metrics = Metrics::new(
        &plan,
        &shared.vantage,
        interval.as_secs_f64(),
        &shared.reloads,
    );
    shared.auditor.replace_plan(plan);
    Some(metrics)
}

/// SIGHUP as reload requests, and the task that forwards them. The handler is installed before
/// this returns (from then on SIGHUP no longer ends the process); the ones that arrive during
/// a round make one reload after it.
fn hangups() -> (mpsc::Receiver<()>, Option<tokio::task::JoinHandle<()>>) {
    let (tx, rx) = mpsc::channel(1);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                let task = tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        let _ = tx.try_send(());
                    }
                });
                return (rx, Some(task));
            }
            Err(e) => eprintln!("tlsaudit serve: cannot handle SIGHUP ({e}): restart to reload"),
        }
    }
    drop(tx);
    (rx, None)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/report.json", get(report_handler))
        .route("/probe", get(probe_handler))
        .route("/-/healthy", get(|| async { "OK\n" }))
        .route("/-/ready", get(ready_handler))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "not found: the paths are /metrics, /report.json, /probe?endpoint=NAME&identity=NAME (or target=NAME&module=NAME), /-/healthy, /-/ready\n",
            )
        })
        .with_state(shared)
}

/// The format a scraper asks for: OpenMetrics when its Accept header names it.
fn format_of(headers: &HeaderMap) -> Format {
    let open = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    if open {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

fn exposition_response(format: Format, body: Bytes) -> Response {
    let ctype = match format {
        Format::OpenMetrics => OPENMETRICS,
        Format::Text => TEXT,
    };
    ([(header::CONTENT_TYPE, ctype)], body).into_response()
}

async fn metrics_handler(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let format = format_of(&headers);
    let cached = match s.exposition.read() {
        Ok(g) => g[format as usize].clone(),
        Err(_) => return unavailable("the metrics are being replaced; retry"),
    };
    if let Some(body) = cached {
        return exposition_response(format, body);
    }
    // The first scrape in this format: encode it now (later rounds encode it as they end).
    let s2 = s.clone();
    let body = tokio::task::spawn_blocking(move || {
        let metrics = s2.metrics.lock().ok()?;
        let body = encode(&metrics.registry, format, 0);
        if let Ok(mut slot) = s2.exposition.write() {
            slot[format as usize] = Some(body.clone());
        }
        Some(body)
    })
    .await
    .ok()
    .flatten();
    match body {
        Some(body) => exposition_response(format, body),
        None => unavailable("the metrics are being replaced; retry"),
    }
}

fn latest(s: &Shared) -> Option<Bytes> {
    s.latest.read().ok().and_then(|g| g.clone())
}

/// The JSON report of a finished round, or a JSON error object if it cannot be written.
fn report_json(plan: &Plan, snap: &Snapshot, vantage: &str) -> Bytes {
    let mut report = tlsaudit_report::Report::build(plan, snap);
    report.vantage = Some(vantage.to_string());
    let opts = tlsaudit_report::Options::default();
    match tlsaudit_report::render(&report, tlsaudit_report::Format::Json, &opts) {
        Ok(json) => Bytes::from(json),
        Err(e) => Bytes::from(serde_json::json!({ "error": e.to_string() }).to_string()),
    }
}

fn unavailable(why: &str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response()
}

fn bad_request(why: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response()
}

async fn ready_handler(State(s): State<Arc<Shared>>) -> Response {
    match latest(&s) {
        Some(_) => "ready\n".into_response(),
        None => unavailable("not ready: the first round has not finished"),
    }
}

async fn report_handler(State(s): State<Arc<Shared>>) -> Response {
    match latest(&s) {
        Some(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        None => unavailable("no report yet: the first round has not finished"),
    }
}

/// How `/probe` is asked, for its 400s and the 404.
const PROBE_USAGE: &str =
    "use /probe?endpoint=NAME&identity=NAME (or blackbox_exporter's target=NAME&module=NAME)";

/// At most this many characters of a name a client sent are echoed in an error.
const ECHOED_CHARS: usize = 64;

/// A name a client sent, as an error text shows it: quoted, its first [`ECHOED_CHARS`]
/// characters made inert (controls and invisible characters escaped), `…` and its length when
/// it is longer.
fn echoed(name: &str) -> String {
    let kept: String = name.chars().take(ECHOED_CHARS).collect();
    if kept.len() == name.len() {
        format!("\"{}\"", inert(&kept))
    } else {
        format!("\"{}…\" ({} bytes)", inert(&kept), name.len())
    }
}

/// The names of a `/probe` query: (parameter, value) of the endpoint and of the identity.
type ProbeNames<'q> = (Option<(&'q str, &'q str)>, Option<(&'q str, &'q str)>);

/// A `/probe` query's parameters sorted out: each name given once, by either of its parameters.
fn probe_names(query: &[(String, String)]) -> Result<ProbeNames<'_>, String> {
    let (mut endpoint, mut identity) = (None, None);
    for (k, v) in query {
        let slot = match k.as_str() {
            "endpoint" | "target" => &mut endpoint,
            "identity" | "module" => &mut identity,
            other => {
                return Err(format!(
                    "unknown parameter {}: {PROBE_USAGE}",
                    echoed(other)
                ))
            }
        };
        if let Some((first, _)) = slot.replace((k.as_str(), v.as_str())) {
            return Err(if first == k {
                format!("parameter {k:?} given twice: {PROBE_USAGE}")
            } else {
                format!(
                    "parameters {first:?} and {k:?} name the same thing: give one, {PROBE_USAGE}"
                )
            });
        }
    }
    Ok((endpoint, identity))
}

/// The cell a `/probe` query names, or the one-line reason it names none.
fn probe_target(
    plan: &Plan,
    query: &[(String, String)],
) -> Result<(IdentityId, EndpointId), String> {
    let (endpoint, identity) = probe_names(query)?;
    let (_, endpoint) =
        endpoint.ok_or_else(|| format!("missing parameter endpoint (or target): {PROBE_USAGE}"))?;
    let (_, identity) =
        identity.ok_or_else(|| format!("missing parameter identity (or module): {PROBE_USAGE}"))?;
    let e = plan
        .endpoints()
        .iter()
        .position(|ep| ep.name == endpoint)
        .ok_or_else(|| {
            format!(
                "unknown endpoint {}: name one of the inventory's endpoints (see /report.json)",
                echoed(endpoint)
            )
        })?;
    let i = plan
        .identities
        .iter()
        .position(|id| id.name == identity)
        .ok_or_else(|| {
            let names: Vec<&str> = plan.identities.iter().map(|i| i.name.as_str()).collect();
            format!(
                "unknown identity {}: one of {}",
                echoed(identity),
                names.join(", ")
            )
        })?;
    Ok((IdentityId(i), EndpointId(e)))
}

/// 429: every slot of the probes on demand taken, running or waiting.
fn too_many_probes(retry_after: Duration) -> Response {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let why = format!(
        "too many probes: {PROBES_ON_DEMAND} running and {PROBES_WAITING} waiting; retry after {secs} s\n"
    );
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, secs.max(1).to_string())],
        why,
    )
        .into_response()
}

/// `/probe?endpoint=NAME&identity=NAME`: one fresh probe, its metrics (blackbox-exporter style).
async fn probe_handler(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let plan = s.auditor.plan();
    let (i, e) = match probe_target(&plan, &query) {
        Ok(cell) => cell,
        Err(why) => return bad_request(&why),
    };
    // A client that gives up while waiting drops this future and its place with it.
    let Ok(_admitted) = s.admitted.try_acquire() else {
        return too_many_probes(plan.spec(e).timeouts.total);
    };
    let Ok(_permit) = s.probes.acquire().await else {
        return unavailable("shutting down");
    };
    let rec =
        tlsaudit_engine::probe::probe(plan.spec(e), &plan.identities[i.0].caller, &plan.trust)
            .await;
    let verdict = expect::verdict(&plan.expected[(i, e)], &rec);
    let registry = metrics::probe_registry(&plan, &s.vantage, (i, e), &rec, verdict);
    let format = format_of(&headers);
    exposition_response(format, encode(&registry, format, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlsaudit_engine::inventory::Inventory;
    use tlsaudit_engine::pki::mint::Ca;

    /// Two endpoints (tikv-1, pd-1) and the identities anonymous and foreign.
    fn plan(dir: &std::path::Path) -> Plan {
        let ca = Ca::generate("t", 1).unwrap();
        std::fs::write(dir.join("ca.crt"), &ca.pem).unwrap();
        let text = "[cluster]\nname = \"t\"\nca = \"ca.crt\"\n[probe]\nunlisted = false\n[[endpoints]]\nname = \"tikv-1\"\ncomponent = \"tikv\"\naddress = \"127.0.0.1:1\"\n[[endpoints]]\nname = \"pd-1\"\ncomponent = \"pd\"\naddress = \"127.0.0.1:2\"\n";
        Plan::new(Inventory::parse(text, &dir.join("t.toml")).unwrap()).unwrap()
    }

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn names(plan: &Plan, cell: (IdentityId, EndpointId)) -> (String, String) {
        let (i, e) = cell;
        (
            plan.identities[i.0].name.clone(),
            plan.endpoints()[e.0].name.clone(),
        )
    }

    #[test]
    fn blackbox_names_are_the_same_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan(dir.path());
        let want = ("foreign".to_string(), "pd-1".to_string());
        for q in [
            [("endpoint", "pd-1"), ("identity", "foreign")],
            [("target", "pd-1"), ("module", "foreign")],
            [("module", "foreign"), ("endpoint", "pd-1")],
            [("target", "pd-1"), ("identity", "foreign")],
        ] {
            let cell = probe_target(&plan, &query(&q)).unwrap();
            assert_eq!(names(&plan, cell), want, "{q:?}");
        }
    }

    #[test]
    fn a_name_given_by_both_its_parameters_or_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan(dir.path());
        let both = [
            ("endpoint", "pd-1"),
            ("target", "pd-1"),
            ("module", "foreign"),
        ];
        let e = probe_target(&plan, &query(&both)).unwrap_err();
        assert!(
            e.contains("\"endpoint\" and \"target\" name the same thing"),
            "{e}"
        );
        let both = [
            ("identity", "foreign"),
            ("module", "anonymous"),
            ("target", "pd-1"),
        ];
        let e = probe_target(&plan, &query(&both)).unwrap_err();
        assert!(e.contains("\"identity\" and \"module\""), "{e}");
        let twice = [
            ("target", "pd-1"),
            ("target", "pd-1"),
            ("module", "foreign"),
        ];
        let e = probe_target(&plan, &query(&twice)).unwrap_err();
        assert!(e.contains("parameter \"target\" given twice"), "{e}");
        let e = probe_target(&plan, &query(&[("module", "foreign")])).unwrap_err();
        assert!(
            e.starts_with("missing parameter endpoint (or target)"),
            "{e}"
        );
        assert!(e.contains("target=NAME&module=NAME"), "{e}");
    }

    #[test]
    fn echoed_names_are_cut_and_inert() {
        assert_eq!(echoed("tikv-9"), "\"tikv-9\"");
        let long = "x".repeat(7 * 1024);
        let shown = echoed(&long);
        assert_eq!(shown, format!("\"{}…\" (7168 bytes)", "x".repeat(64)));
        // Cut on characters, not bytes; controls made visible after the cut.
        let wide = "é".repeat(100);
        assert_eq!(
            echoed(&wide),
            format!("\"{}…\" (200 bytes)", "é".repeat(64))
        );
        assert_eq!(echoed("a\x1b[2Jb\nc"), "\"a\\x1b[2Jb\\nc\"");
        assert_eq!(
            echoed(&"\u{202e}".repeat(65)).matches("\\u{202e}").count(),
            64
        );
    }

    #[test]
    fn errors_echo_a_long_or_hostile_name_cut_and_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan(dir.path());
        let long = format!("\x1b]0;owned\x07{}", "y".repeat(7000));
        for q in [
            [("endpoint", long.as_str()), ("identity", "foreign")],
            [("target", "pd-1"), ("module", long.as_str())],
            [(long.as_str(), "pd-1"), ("module", "foreign")],
        ] {
            let e = probe_target(&plan, &query(&q)).unwrap_err();
            assert!(e.len() < 400, "{} bytes: {e}", e.len());
            assert!(e.contains("\\x1b]0;owned\\x07yyy"), "{e}");
            assert!(e.contains("…\" (7010 bytes)"), "{e}");
            assert!(!e.chars().any(char::is_control), "{e:?}");
        }
    }

    #[tokio::test]
    async fn beyond_the_waiting_places_a_probe_is_refused_with_retry_after() {
        let r = too_many_probes(Duration::from_millis(14_500));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "15");
        let r = too_many_probes(Duration::ZERO);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }
}
