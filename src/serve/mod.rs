//! `tlsaudit serve`: audit rounds on an interval, exported over HTTP for Prometheus.
//!
//! One task runs the rounds (one at a time; a round that overruns the interval delays the next,
//! rounds never overlap) and, when a round ends, updates the metrics and encodes them once in
//! each exposition format a scraper has asked for (a format nobody asks for is neither encoded
//! nor kept: a 200 x 10 exposition is about 5 MB); a scrape only hands out the encoded bytes, so
//! it costs the same while a round runs. Paths: `/metrics`, `/report.json`, `/probe?endpoint=&identity=`,
//! `/-/healthy`, `/-/ready`. Routing is axum's (the tokio project's server, on hyper); `http.rs`
//! accepts the connections, with a header-read timeout, a connection cap and a shutdown deadline.
//!
//! The command line (`tlsaudit serve`'s arguments, the plan they name, the checks of the address
//! and the vantage) is the CLI's; here, [`run`] takes the plan and its [`Settings`].

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

use metrics::{encode_as, Format, Metrics};

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

/// What the HTTP handlers read.
struct Shared {
    /// The rounds' auditor; its plan (renewed, or reloaded) is also the one `/probe` uses.
    auditor: Arc<Auditor>,
    vantage: String,
    /// The registry; the round loop updates it, a scrape of a format not encoded yet encodes it.
    metrics: Mutex<Metrics>,
    /// The metrics as of the last round, by [`Format`]: `None` until a scraper asks for that
    /// format; from then on every round encodes it as it ends.
    exposition: RwLock<[Option<Bytes>; 2]>,
    /// The last finished round as the JSON report (rendered once when the round ends, so that
    /// no round's records are kept past the next one).
    latest: RwLock<Option<Bytes>>,
    /// Probes on demand in flight at once.
    probes: tokio::sync::Semaphore,
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Serve `plan`'s rounds until SIGTERM or Ctrl-C; exit 0 after a clean stop.
pub async fn run(plan: Plan, settings: Settings) -> Result<u8, InputError> {
    let addr = settings.listen;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        InputError::usage(
            format!("cannot listen on {addr}: {e}"),
            "choose a free port with --listen, e.g. --listen 127.0.0.1:9820",
        )
    })?;
    let local = listener.local_addr().unwrap_or(addr);
    let auditor = Arc::new(Auditor::new(plan));
    let metrics = Mutex::new(Metrics::new(
        &auditor.plan(),
        &settings.vantage,
        settings.interval.as_secs_f64(),
    ));
    let shared = Arc::new(Shared {
        auditor: auditor.clone(),
        vantage: settings.vantage.clone(),
        metrics,
        exposition: RwLock::new([None, None]),
        latest: RwLock::new(None),
        probes: tokio::sync::Semaphore::new(PROBES_ON_DEMAND),
    });
    let limits = limits(&auditor.plan());
    eprintln!(
        "tlsaudit serve: listening on http://{local} (cluster {}, vantage {}, {} cells, a round every {}, at most {} connections)",
        auditor.plan().inventory.cluster,
        settings.vantage,
        auditor.plan().cell_count(),
        humantime::format_duration(settings.interval),
        limits.max_connections,
    );
    let rounds = tokio::spawn(round_loop(auditor, shared.clone(), settings.interval));
    http::serve(listener, router(shared), limits, shutdown_signal()).await;
    // Cancel the round in flight: dropping it aborts its probes.
    rounds.abort();
    let _ = rounds.await;
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
const PROBES_ON_DEMAND: usize = 4;

/// One encoding, or a comment saying why it failed (a scrape then shows it).
fn encode(registry: &Registry, format: Format, hint: usize) -> Bytes {
    match encode_as(registry, format, hint) {
        Ok(text) => Bytes::from(text),
        Err(e) => Bytes::from(format!("# encoding the metrics failed: {e}\n")),
    }
}

/// The exposition formats, for the arrays indexed by [`Format`].
const FORMATS: [Format; 2] = [Format::Text, Format::OpenMetrics];

async fn round_loop(auditor: Arc<Auditor>, shared: Arc<Shared>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = Instant::now();
        let snap = auditor.run_round(None).await;
        let end = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        if let Ok(mut metrics) = shared.metrics.lock() {
            metrics.update(&auditor.plan(), &snap, started.elapsed().as_secs_f64(), end);
            // The formats scraped so far, each sized as its last encoding; under the metrics
            // lock, so that a scrape's own first encoding cannot interleave.
            let last = shared.exposition.read().map_or([None, None], |g| g.clone());
            let fresh = FORMATS.map(|f| {
                last[f as usize]
                    .as_ref()
                    .map(|old| encode(&metrics.registry, f, old.len()))
            });
            if let Ok(mut slot) = shared.exposition.write() {
                *slot = fresh;
            }
        }
        let report = report_json(&auditor.plan(), &snap, &shared.vantage);
        drop(snap);
        if let Ok(mut slot) = shared.latest.write() {
            *slot = Some(report);
        }
    }
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
                "not found: the paths are /metrics, /report.json, /probe?endpoint=NAME&identity=NAME, /-/healthy, /-/ready\n",
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

/// The cell a `/probe` query names, or the one-line reason it names none.
fn probe_target(
    plan: &Plan,
    query: &[(String, String)],
) -> Result<(IdentityId, EndpointId), String> {
    const USAGE: &str = "use /probe?endpoint=NAME&identity=NAME";
    let mut endpoint = None;
    let mut identity = None;
    for (k, v) in query {
        let slot = match k.as_str() {
            "endpoint" => &mut endpoint,
            "identity" => &mut identity,
            other => return Err(format!("unknown parameter {other:?}: {USAGE}")),
        };
        if slot.replace(v.as_str()).is_some() {
            return Err(format!("parameter {k:?} given twice: {USAGE}"));
        }
    }
    let endpoint = endpoint.ok_or_else(|| format!("missing parameter endpoint: {USAGE}"))?;
    let identity = identity.ok_or_else(|| format!("missing parameter identity: {USAGE}"))?;
    let e = plan
        .endpoints()
        .iter()
        .position(|ep| ep.name == endpoint)
        .ok_or_else(|| format!("unknown endpoint {endpoint:?}: name one of the inventory's endpoints (see /report.json)"))?;
    let i = plan
        .identities
        .iter()
        .position(|id| id.name == identity)
        .ok_or_else(|| {
            let names: Vec<&str> = plan.identities.iter().map(|i| i.name.as_str()).collect();
            format!("unknown identity {identity:?}: one of {}", names.join(", "))
        })?;
    Ok((IdentityId(i), EndpointId(e)))
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
