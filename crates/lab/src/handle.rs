//! The running lab: [`Lab`] (start, the endpoints and their logs, client configurations,
//! reconfiguration, stop), the endpoints as it reports them ([`LabEndpoint`]) and their
//! connection log ([`ConnEvent`]).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::{RootCertStore, SupportedProtocolVersion};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::pki::{self, LabPki, Material};
use crate::prepare::prepare;
use crate::server::{self, EndpointState, Runtime};
use crate::spec::{EndpointSpec, LabSpec, ServerCertKind};
use crate::LabError;

/// A running endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabEndpoint {
    /// Name from the spec.
    pub name: String,
    /// Component from the spec.
    pub component: String,
    /// Role from the spec.
    pub role: String,
    /// Where it listens (127.0.0.1, ephemeral port).
    pub addr: SocketAddr,
    /// The name to verify the server certificate against (`localhost`; `127.0.0.1` works too).
    pub server_name: String,
    /// The CN allow-list (`cert-allowed-cn` / `cluster-verify-cn`); empty = none.
    pub allowed_cn: Vec<String>,
    /// `"tls"` (speaks nothing useful), `"http"` (HTTPS), `"grpc"` (gRPC over TLS, h2),
    /// `"mysql"` (MySQL protocol, TLS in-band) or `"plaintext"` (plain HTTP).
    pub protocol: &'static str,
    /// Default probe path: the HTTP path for `http`/`plaintext`, the gRPC method path
    /// ([`HEALTH_CHECK_PATH`](crate::HEALTH_CHECK_PATH)) for `grpc`.
    pub path: Option<String>,
    /// Human description of a planted fault.
    pub fault: Option<String>,
    /// TLS versions served (`"TLSv1.2"`, `"TLSv1.3"`); empty for non-TLS endpoints.
    pub tls_versions: Vec<&'static str>,
    /// ALPN protocols the server selects from.
    pub alpn: Vec<String>,
    /// Whether the server sends a CertificateRequest.
    pub requests_client_cert: bool,
    /// Where the CN allow-list is enforced: `"handshake"`, `"application"` or `"none"`.
    pub cn_check: &'static str,
}

/// One logged connection outcome. gRPC connections log one event per call (all with the
/// same `conn_id`); an h2 connection that closes without a call logs `accepted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnEvent {
    /// 1-based number of the TCP connection on its endpoint.
    pub conn_id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Leaf CN of the client certificate, when one was presented (also for refused ones).
    pub client_cn: Option<String>,
    /// Negotiated version (`TLSv1.2`/`TLSv1.3`), when the handshake completed.
    pub tls_version: Option<String>,
    /// Negotiated ALPN protocol.
    pub alpn: Option<String>,
    /// SNI sent by the client.
    pub sni: Option<String>,
    /// HTTP path or gRPC method, when a request was read.
    pub path: Option<String>,
    /// What the lab did: `http_status:<n>`, `grpc_status:<n>`,
    /// `handshake_rejected:<reason>` (the lab refused; rustls sent its alert),
    /// `closed_silently:<reason>` (refused without alert, gRPC C-core style),
    /// `handshake_failed:<reason>` (client alert, EOF, timeout, non-TLS bytes),
    /// `accepted`, `http_no_request:<reason>`, `h2_failed`, `grpc_aborted`,
    /// `silent`, `garbage_sent`, `reset`; SQL endpoints: `sql_error:3159` (plaintext refused
    /// before authentication), `sql_error:1045` (access denied; `path` is the user),
    /// `sql_login:tls` / `sql_login:plaintext`, `sql_no_request:<reason>`, `sql_malformed`.
    pub decision: String,
    /// Free-form detail (error text, gRPC message).
    pub detail: Option<String>,
    /// When the event was recorded.
    pub at: SystemTime,
}

/// A running lab. Dropping it aborts every listener and connection task.
pub struct Lab {
    cluster: String,
    dir: tempfile::TempDir,
    material: Material,
    provider: Arc<CryptoProvider>,
    endpoints: Vec<LabEndpoint>,
    states: Vec<Arc<EndpointState>>,
    /// The behaviour each listener serves new connections with.
    runtimes: Vec<watch::Sender<Arc<Runtime>>>,
    specs: Vec<EndpointSpec>,
    roots: Arc<RootCertStore>,
    index: HashMap<String, usize>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("cluster", &self.cluster)
            .field("dir", &self.dir.path())
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl Lab {
    /// Generate the PKI, bind every endpoint and start serving. Must be called inside a tokio
    /// runtime. PKI generation and file writes run on the blocking pool.
    pub async fn start(spec: LabSpec) -> Result<Lab, LabError> {
        validate(&spec)?;
        let (dir, mut material) = generate(&spec).await?;
        for ep in &spec.endpoints {
            if let Some((cert, key)) = &ep.server_files {
                material.load_server_files(cert, key)?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(material.ca_der.clone())?;
        let roots = Arc::new(roots);

        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut lab = Lab {
            cluster: spec.cluster.clone(),
            dir,
            material,
            provider,
            endpoints: Vec::with_capacity(spec.endpoints.len()),
            states: Vec::with_capacity(spec.endpoints.len()),
            runtimes: Vec::with_capacity(spec.endpoints.len()),
            specs: spec.endpoints.clone(),
            roots,
            index: HashMap::with_capacity(spec.endpoints.len()),
            shutdown,
            tasks: Vec::with_capacity(spec.endpoints.len()),
        };
        // On any error below, dropping `lab` aborts what was already started.
        for ep in &spec.endpoints {
            lab.bind(ep, &shutdown_rx).await?;
        }
        tracing::info!(
            endpoints = lab.endpoints.len(),
            dir = %lab.dir.path().display(),
            "lab started"
        );
        Ok(lab)
    }

    /// Bind endpoint `ep` on an ephemeral loopback port and serve it until `shutdown`.
    async fn bind(
        &mut self,
        ep: &EndpointSpec,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), LabError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| LabError::Io {
                context: format!("binding endpoint {}", ep.name),
                source: e,
            })?;
        let addr = listener.local_addr().map_err(|e| LabError::Io {
            context: format!("local address of endpoint {}", ep.name),
            source: e,
        })?;
        let prepared = prepare(ep, addr, &self.material, &self.provider, &self.roots)?;
        let state = Arc::new(EndpointState::default());
        let rt = Arc::new(Runtime {
            kind: prepared.kind,
            state: state.clone(),
        });
        let (runtime, current) = watch::channel(rt);
        self.tasks.push(tokio::spawn(server::accept_loop(
            listener,
            current,
            shutdown.clone(),
        )));
        self.runtimes.push(runtime);
        self.index.insert(ep.name.clone(), self.endpoints.len());
        self.endpoints.push(prepared.endpoint);
        self.states.push(state);
        Ok(())
    }

    /// The cluster name.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// Running endpoints, in spec order.
    pub fn endpoints(&self) -> &[LabEndpoint] {
        &self.endpoints
    }

    /// A running endpoint by name.
    pub fn endpoint(&self, name: &str) -> Option<&LabEndpoint> {
        self.index.get(name).map(|&i| &self.endpoints[i])
    }

    /// The PEM files of the lab PKI.
    pub fn pki(&self) -> &LabPki {
        &self.material.files
    }

    /// The lab's temporary directory (removed when the lab is dropped).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn state(&self, name: &str) -> Option<&Arc<EndpointState>> {
        self.index.get(name).map(|&i| &self.states[i])
    }

    /// TCP connections accepted so far by endpoint `name` (0 for an unknown name).
    pub fn connections(&self, name: &str) -> u64 {
        self.state(name)
            .map_or(0, |s| s.connections.load(Ordering::Relaxed))
    }

    /// The connection log of endpoint `name` (the last 1000 events, oldest first).
    pub fn events(&self, name: &str) -> Vec<ConnEvent> {
        self.state(name).map(|s| s.events()).unwrap_or_default()
    }

    /// Wait until endpoint `name` has logged at least `count` events (events are logged by
    /// the server task, possibly just after the client saw the outcome), or `timeout` passes.
    /// Returns the log as it then is.
    pub async fn wait_events(&self, name: &str, count: usize, timeout: Duration) -> Vec<ConnEvent> {
        let Some(state) = self.state(name) else {
            return Vec::new();
        };
        let deadline = tokio::time::Instant::now() + timeout;
        while state.event_count() < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        state.events()
    }

    /// A root store holding the lab CA.
    pub fn root_store(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        // The CA was accepted once already at start.
        let _ = roots.add(self.material.ca_der.clone());
        roots
    }

    /// A client configuration (TLS 1.2 and 1.3, no ALPN) trusting the lab CA and presenting
    /// the lab identity `identity` (see [`LabPki::identities`]), or no certificate for `None`.
    pub fn client_config(&self, identity: Option<&str>) -> Result<rustls::ClientConfig, LabError> {
        self.client_config_versions(
            identity,
            &[&rustls::version::TLS12, &rustls::version::TLS13],
        )
    }

    /// Like [`Lab::client_config`], restricted to `versions`.
    pub fn client_config_versions(
        &self,
        identity: Option<&str>,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Result<rustls::ClientConfig, LabError> {
        let builder = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(versions)?
            .with_root_certificates(self.root_store());
        Ok(match identity {
            None => builder.with_no_client_auth(),
            Some(name) => {
                let id = self
                    .material
                    .identities
                    .get(name)
                    .ok_or_else(|| LabError::Spec(format!("unknown lab identity {name}")))?;
                builder.with_client_auth_cert(id.chain.clone(), id.key())?
            }
        })
    }

    /// The spec an endpoint runs with now (as started, or as last reconfigured).
    pub fn spec(&self, name: &str) -> Option<&EndpointSpec> {
        self.index.get(name).map(|&i| &self.specs[i])
    }

    /// Change a running endpoint, as an operator's config change plus a reload would: the
    /// endpoint named `spec.name` keeps its address, counters and log, and serves every new
    /// connection with the new behaviour and server certificate (issued now if the lab has
    /// none of that kind yet, e.g. [`ServerCertKind::Reissued`] for a rotation).
    /// Connections already open finish with the old behaviour.
    pub fn reconfigure(&mut self, spec: EndpointSpec) -> Result<(), LabError> {
        let Some(&i) = self.index.get(&spec.name) else {
            return Err(LabError::Spec(format!("no endpoint named {}", spec.name)));
        };
        if spec.behavior.is_tls() {
            // One P-256 key and signature: about a millisecond, fine on the async thread.
            self.material
                .ensure_server(&spec.component, spec.server_cert)?;
            if let Some((cert, key)) = &spec.server_files {
                self.material.load_server_files(cert, key)?;
            }
        }
        let addr = self.endpoints[i].addr;
        let prepared = prepare(&spec, addr, &self.material, &self.provider, &self.roots)?;
        let rt = Arc::new(Runtime {
            kind: prepared.kind,
            state: self.states[i].clone(),
        });
        self.runtimes[i].send_replace(rt);
        self.endpoints[i] = prepared.endpoint;
        tracing::info!(endpoint = %spec.name, "lab endpoint reconfigured");
        self.specs[i] = spec;
        Ok(())
    }

    /// Stop every listener and connection task, and wait for them to finish.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        tracing::info!(cluster = %self.cluster, "lab stopped");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        // Aborting an accept loop drops its JoinSet, which aborts its connection tasks.
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Refuse a spec with an empty or duplicate endpoint name, or an empty cluster name.
fn validate(spec: &LabSpec) -> Result<(), LabError> {
    let mut seen = HashSet::new();
    for ep in &spec.endpoints {
        if ep.name.is_empty() {
            return Err(LabError::Spec("empty endpoint name".into()));
        }
        if !seen.insert(ep.name.as_str()) {
            return Err(LabError::Spec(format!(
                "duplicate endpoint name {}",
                ep.name
            )));
        }
    }
    if spec.cluster.is_empty() {
        return Err(LabError::Spec("empty cluster name".into()));
    }
    Ok(())
}

/// Generate, on the blocking pool, a temporary directory and in it the PKI: the CA, the
/// identities and the server certificate of every TLS endpoint of `spec`.
async fn generate(spec: &LabSpec) -> Result<(tempfile::TempDir, Material), LabError> {
    let needed: Vec<(String, ServerCertKind)> = spec
        .endpoints
        .iter()
        .filter(|e| e.behavior.is_tls())
        .map(|e| (e.component.clone(), e.server_cert))
        .collect();
    let cluster = spec.cluster.clone();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::Builder::new()
            .prefix("tlsaudit-lab-")
            .tempdir()
            .map_err(|e| LabError::Io {
                context: "creating the lab directory".into(),
                source: e,
            })?;
        let material = pki::generate(dir.path(), &cluster, &needed)?;
        Ok::<_, LabError>((dir, material))
    })
    .await
    .map_err(|e| LabError::Task(e.to_string()))?
}
