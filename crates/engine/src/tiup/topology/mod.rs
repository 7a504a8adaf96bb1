//! TiUP topology (`topology.yaml`) and cluster metadata (`meta.yaml`: `user`, `tidb_version`,
//! `topology`).
//!
//! Like TiUP (which reads it with `yaml.UnmarshalStrict`), an unknown top-level section or
//! `server_configs` section is an error; a section TiUP knows but tlsaudit does not audit
//! (`tispark_masters`, `monitoring_servers`, ...) is a note in the findings. An unknown key
//! inside a known section (a `global` or instance field, a key of a component's TLS tables) is
//! an `UNKNOWN_KEY` finding with a "did you mean"; a value of the wrong type is an error. Every
//! error of the file is reported in one run (up to [`crate::error::MAX_ERRORS`]).

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use super::tree::{self, Entry, Node, Setting, Value};
use super::{
    join_host_port, source_at, ConfigKind, Instance, InstanceEndpoint, Located, Pos, Security,
    UrlSetting,
};
use crate::error::InputError;
use crate::finding::{Code, Finding, Severity};
use crate::profile::{Component, Role, Version};

/// Sections read into instances.
const AUDITED: [&str; 6] = [
    "pd_servers",
    "tidb_servers",
    "tikv_servers",
    "tiflash_servers",
    "cdc_servers",
    "tiproxy_servers",
];

/// Sections TiUP knows that carry no instances of audited components.
const KNOWN_OTHER: [&str; 18] = [
    "global",
    "monitored",
    "server_configs",
    "component_versions",
    "component_sources",
    "tso_servers",
    "scheduling_servers",
    "tidb_dashboard_servers",
    "pump_servers",
    "drainer_servers",
    "kvcdc_servers",
    "tispark_masters",
    "tispark_workers",
    "monitoring_servers",
    "grafana_servers",
    "alertmanager_servers",
    "tikv_worker_servers",
    "tici_meta_servers",
];

const SERVER_CONFIGS: [&str; 14] = [
    "tidb",
    "tikv",
    "pd",
    "tso",
    "scheduling",
    "tidb_dashboard",
    "tiflash",
    "tiproxy",
    "tiflash-learner",
    "pump",
    "drainer",
    "cdc",
    "kvcdc",
    "grafana",
];

/// The fields every instance of TiUP's audited sections may have.
const INSTANCE_FIELDS: [&str; 19] = [
    "host",
    "manage_host",
    "listen_host",
    "ssh_port",
    "imported",
    "patched",
    "ignore_exporter",
    "name",
    "deploy_dir",
    "data_dir",
    "log_dir",
    "source",
    "numa_node",
    "numa_cores",
    "resource_control",
    "arch",
    "os",
    "offline",
    "config",
];

/// The fields of `global`.
const GLOBAL_FIELDS: [&str; 14] = [
    "user",
    "group",
    "systemd_mode",
    "ssh_port",
    "ssh_type",
    "enable_tls",
    "listen_host",
    "deploy_dir",
    "data_dir",
    "log_dir",
    "resource_control",
    "os",
    "arch",
    "custom",
];

/// One audited section.
struct SectionSpec {
    section: &'static str,
    component: Component,
    /// TiUP's role name (certificate file names, deploy dirs).
    role_name: &'static str,
    /// The port that names the instance (and its default deploy dir).
    main_port: (&'static str, u16),
    /// Ports with endpoints: the field and the endpoint role (its default port is in the
    /// component table).
    ports: &'static [(&'static str, Role)],
    /// The instance field of each config layer and its file kind (whose `server_configs` key
    /// is in the component table).
    configs: &'static [(&'static str, ConfigKind)],
    /// Fields of this section besides [`INSTANCE_FIELDS`], the ports and the configs.
    fields: &'static [&'static str],
}

const SPECS: [SectionSpec; 6] = [
    SectionSpec {
        section: "pd_servers",
        component: Component::Pd,
        role_name: "pd",
        main_port: ("client_port", 2379),
        ports: &[("client_port", Role::PdClient), ("peer_port", Role::PdPeer)],
        configs: &[("config", ConfigKind::Pd)],
        fields: &["advertise_client_addr", "advertise_peer_addr"],
    },
    SectionSpec {
        section: "tidb_servers",
        component: Component::Tidb,
        role_name: "tidb",
        main_port: ("port", 4000),
        ports: &[("status_port", Role::TidbStatus), ("port", Role::TidbSql)],
        configs: &[("config", ConfigKind::Tidb)],
        fields: &["advertise_address"],
    },
    SectionSpec {
        section: "tikv_servers",
        component: Component::Tikv,
        role_name: "tikv",
        main_port: ("port", 20160),
        ports: &[("port", Role::TikvGrpc), ("status_port", Role::TikvStatus)],
        configs: &[("config", ConfigKind::Tikv)],
        fields: &["advertise_addr", "advertise_status_addr"],
    },
    SectionSpec {
        section: "tiflash_servers",
        component: Component::Tiflash,
        role_name: "tiflash",
        main_port: ("tcp_port", 9000),
        ports: &[
            ("flash_service_port", Role::TiflashGrpc),
            ("flash_proxy_port", Role::TiflashProxy),
            ("flash_proxy_status_port", Role::TiflashProxyStatus),
            ("metrics_port", Role::TiflashMetrics),
        ],
        configs: &[
            ("config", ConfigKind::Tiflash),
            ("learner_config", ConfigKind::TiflashLearner),
        ],
        fields: &["http_port", "tmp_path"],
    },
    SectionSpec {
        section: "cdc_servers",
        component: Component::Ticdc,
        role_name: "cdc",
        main_port: ("port", 8300),
        ports: &[("port", Role::TicdcServer)],
        configs: &[("config", ConfigKind::Ticdc)],
        fields: &["gc-ttl", "tz", "ticdc_cluster_id"],
    },
    SectionSpec {
        section: "tiproxy_servers",
        component: Component::Tiproxy,
        role_name: "tiproxy",
        main_port: ("port", 6000),
        ports: &[
            ("status_port", Role::TiproxyApi),
            ("port", Role::TiproxySql),
        ],
        configs: &[("config", ConfigKind::Tiproxy)],
        fields: &[],
    },
];

/// A parsed topology.
#[derive(Debug, Clone)]
pub struct Topology {
    pub path: PathBuf,
    /// A `meta.yaml` (it has `topology:`).
    pub is_meta: bool,
    /// The cluster name a `meta.yaml` implies: its folder's name.
    pub meta_name: Option<String>,
    pub version: Option<Version>,
    pub tls: Option<Located<bool>>,
    pub instances: Vec<Instance>,
    pub notes: Vec<Finding>,
}

struct Ctx<'a> {
    path: &'a Path,
    /// Every input error found so far: the file is read to its end and all are reported.
    errors: RefCell<Vec<InputError>>,
    /// Findings about the file (unknown keys, sections not audited, ...).
    notes: RefCell<Vec<Finding>>,
}

impl Ctx<'_> {
    fn report(&self, e: InputError) {
        self.errors.borrow_mut().push(e);
    }

    fn note(&self, f: Finding) {
        self.notes.borrow_mut().push(f);
    }

    fn err(&self, pos: Pos, problem: impl Into<String>, fix: impl Into<String>) -> InputError {
        InputError::Config {
            path: self.path.to_path_buf(),
            line: pos.line.max(1),
            column: pos.column.max(1),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// A config layer's flattened settings, each with its source.
#[derive(Debug, Clone, Default)]
struct Layer {
    settings: Vec<(Setting, String)>,
}

impl Layer {
    fn from(node: &Node, path: &Path, label: &str) -> Layer {
        Layer {
            settings: tree::flatten(node)
                .into_iter()
                .map(|s| {
                    let src = source_at(path, s.pos, &format!("{label} {}", s.key));
                    (s, src)
                })
                .collect(),
        }
    }

    /// Overlay `top` (instance) on `self` (global).
    fn overlay(&self, top: &Layer) -> Layer {
        let mut out = self.clone();
        for (s, src) in &top.settings {
            out.settings.retain(|(o, _)| o.key != s.key);
            out.settings.push((s.clone(), src.clone()));
        }
        out
    }

    fn get(&self, key: &str) -> Option<&(Setting, String)> {
        self.settings.iter().find(|(s, _)| s.key == key)
    }
}

fn port(ctx: &Ctx<'_>, e: &Entry) -> Result<u16, InputError> {
    match &e.value.value {
        Value::Int(i) if (1..=65535).contains(i) => Ok(*i as u16),
        Value::Str(s) => s.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            ctx.err(
                e.value.pos,
                format!("{} must be a port number, not {s:?}", e.key),
                "write a number from 1 to 65535",
            )
        }),
        _ => Err(ctx.err(
            e.value.pos,
            format!("{} must be a port number (1-65535)", e.key),
            "write a number from 1 to 65535",
        )),
    }
}

fn expect_map<'n>(
    ctx: &Ctx<'_>,
    e: &'n Entry,
    fix: &str,
) -> Result<Option<&'n [Entry]>, InputError> {
    match &e.value.value {
        Value::Null => Ok(None),
        Value::Map(m) => Ok(Some(m)),
        _ => Err(ctx.err(
            e.value.pos,
            format!("{} must be a mapping, not {}", e.key, e.value.type_name()),
            fix,
        )),
    }
}

impl Topology {
    pub fn load(path: &Path) -> Result<Topology, InputError> {
        let text = std::fs::read_to_string(path).map_err(|e| InputError::io(path, &e))?;
        Topology::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Topology, InputError> {
        let ctx = Ctx {
            path,
            errors: RefCell::new(Vec::new()),
            notes: RefCell::new(Vec::new()),
        };
        let root = tree::parse_yaml(text, path)?;
        let (is_meta, body, version) = split_meta(&ctx, &root)?;
        let entries: &[Entry] = match &body.value {
            Value::Map(m) => m,
            Value::Null => &[],
            _ => {
                return Err(ctx.err(
                    body.pos,
                    "topology must be a mapping",
                    "see `tiup cluster template`",
                ))
            }
        };
        check_sections(&ctx, entries);
        let global = read_global(&ctx, entries);
        let globals = read_server_configs(&ctx, entries);
        let versions = read_component_versions(entries);
        let mut exporter_hosts = ExporterHosts::default();
        let instances = read_instances(
            &ctx,
            entries,
            &globals,
            &global,
            &versions,
            version,
            &mut exporter_hosts,
        );
        let mut instances = instances;
        instances.extend(monitored(&ctx, entries, &exporter_hosts, global.tls.value));
        InputError::collect(ctx.errors.take())?;
        let notes = ctx.notes.take();
        let meta_name = is_meta
            .then(|| {
                path.canonicalize().ok().and_then(|p| {
                    p.parent()
                        .and_then(|d| d.file_name())
                        .map(|n| n.to_string_lossy().into_owned())
                })
            })
            .flatten();
        Ok(Topology {
            path: path.to_path_buf(),
            is_meta,
            meta_name,
            version,
            tls: Some(global.tls),
            instances,
            notes,
        })
    }
}

/// The hosts TiUP deploys its monitoring agents on (any instance there without
/// `ignore_exporter: true`), and those where every instance opts out.
#[derive(Default)]
struct ExporterHosts {
    monitored: Vec<String>,
    ignored: Vec<String>,
}

/// `monitored`: TiUP runs node_exporter (`node_exporter_port`, 9100) and blackbox_exporter
/// (`blackbox_exporter_port`, 9115) on every host of the cluster, as plaintext HTTP even with
/// `enable_tls`. They are not cluster links: a note says where they answer plaintext, not an
/// error; hosts whose instances all set `ignore_exporter` have none. An `ignore_exporter` that
/// is not a boolean is an input error wherever it is.
///
/// Returns one instance per host running the agents, so that the audit probes them too: their
/// verdicts show what they really answer (plaintext, or TLS where someone added it).
fn monitored(
    ctx: &Ctx<'_>,
    entries: &[Entry],
    hosts: &ExporterHosts,
    tls_on: bool,
) -> Vec<Instance> {
    // Only with a `monitored` section (TiUP writes one into every meta.yaml): a hand-written
    // topology without it says nothing about the agents.
    let Some(sec) = entries.iter().find(|e| e.key == "monitored") else {
        return Vec::new();
    };
    let fields: &[Entry] = match &sec.value.value {
        Value::Map(m) => m,
        Value::Null => &[],
        _ => {
            ctx.report(ctx.err(
                sec.value.pos,
                "monitored must be a mapping",
                "write monitored: {node_exporter_port: 9100, blackbox_exporter_port: 9115}",
            ));
            return Vec::new();
        }
    };
    let node = field_port(ctx, fields, "node_exporter_port", 9100).unwrap_or(9100);
    let blackbox = field_port(ctx, fields, "blackbox_exporter_port", 9115).unwrap_or(9115);
    let mut on: Vec<&str> = hosts.monitored.iter().map(String::as_str).collect();
    on.sort_unstable();
    on.dedup();
    let mut off: Vec<&str> = hosts
        .ignored
        .iter()
        .map(String::as_str)
        .filter(|h| !on.contains(h))
        .collect();
    off.sort_unstable();
    off.dedup();
    let origin = source_at(ctx.path, sec.key_pos, "monitored");
    let agents: Vec<Instance> = on
        .iter()
        .map(|h| Instance {
            component: Component::Exporter,
            name: format!("monitored-{h}"),
            host: (*h).to_string(),
            origin: origin.clone(),
            version: None,
            endpoints: [
                (Role::NodeExporter, node),
                (Role::BlackboxExporter, blackbox),
            ]
            .into_iter()
            .map(|(role, port)| InstanceEndpoint {
                role,
                address: join_host_port(h, port),
                list: None,
            })
            .collect(),
            security: Vec::new(),
            urls: Vec::new(),
        })
        .collect();
    if on.is_empty() || !tls_on {
        return agents;
    }
    let addrs: Vec<String> = on
        .iter()
        .flat_map(|h| [join_host_port(h, node), join_host_port(h, blackbox)])
        .collect();
    ctx.note(
        Finding::new(
            Code::ExporterPlaintext,
            Severity::Info,
            format!(
                "TiUP's monitoring agents answer plaintext HTTP on {} host(s): node_exporter :{node}, blackbox_exporter :{blackbox}",
                on.len()
            ),
            format!(
                "{}{}; they serve metrics, not cluster traffic, and TiUP does not put them under TLS",
                addrs.join(", "),
                if off.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; none on {} (every instance there sets ignore_exporter)",
                        off.join(", ")
                    )
                }
            ),
            "firewall the exporter ports to the monitoring hosts, or set ignore_exporter: true on the instances of a host that must not run them",
        )
        .source(origin),
    );
    agents
}

/// The `global` section's settings that instances inherit.
struct Global {
    /// `enable_tls`, or false (not set).
    tls: Located<bool>,
    deploy_dir: String,
    user: String,
}

/// Tell a `meta.yaml` (it has `topology:`) from a plain topology: whether it is one, the
/// topology body and the `tidb_version` it names.
fn split_meta<'n>(
    ctx: &Ctx<'_>,
    root: &'n Node,
) -> Result<(bool, &'n Node, Option<Version>), InputError> {
    let Some(top) = root.map() else {
        return Err(ctx.err(
            root.pos,
            format!("a topology must be a mapping, not {}", root.type_name()),
            "start from `tiup cluster template` or the cluster's meta.yaml",
        ));
    };
    let Some(t) = top.iter().find(|e| e.key == "topology") else {
        return Ok((false, root, None));
    };
    for e in top {
        if !["user", "group", "tidb_version", "last_ops_ver", "topology"].contains(&e.key.as_str())
        {
            ctx.report(ctx.err(
                e.key_pos,
                format!("unknown key {:?} in a meta.yaml", e.key),
                "a meta.yaml has user, tidb_version, last_ops_ver and topology",
            ));
        }
    }
    let version = match top.iter().find(|e| e.key == "tidb_version") {
        Some(v) => {
            let text = v.value.scalar_text().unwrap_or_default();
            let parsed = Version::parse(&text);
            if parsed.is_none() {
                ctx.report(ctx.err(
                    v.value.pos,
                    format!("tidb_version {text:?} is not a version"),
                    "write it as v8.5.0",
                ));
            }
            parsed
        }
        None => None,
    };
    Ok((true, &t.value, version))
}

/// Refuse unknown top-level sections (like TiUP); a note lists the known sections with
/// instances that are not audited.
fn check_sections(ctx: &Ctx<'_>, entries: &[Entry]) {
    let path = ctx.path;
    let mut all_known: Vec<&str> = AUDITED.to_vec();
    all_known.extend(KNOWN_OTHER);
    let mut skipped = Vec::new();
    for e in entries {
        if AUDITED.contains(&e.key.as_str()) {
            continue;
        }
        if KNOWN_OTHER.contains(&e.key.as_str()) {
            if e.key.ends_with("_servers") || e.key.starts_with("tispark") {
                let has = matches!(&e.value.value, Value::List(l) if !l.is_empty());
                if has {
                    skipped.push((
                        format!("{} (line {})", e.key, e.key_pos.line),
                        source_at(path, e.key_pos, &e.key),
                    ));
                }
            }
            continue;
        }
        let fix = match super::did_you_mean(&e.key, &all_known) {
            Some(s) => format!("did you mean {s}? (TiUP refuses unknown sections too)"),
            None => format!(
                "tlsaudit reads {}; remove or rename the section",
                AUDITED.join(", ")
            ),
        };
        ctx.report(ctx.err(
            e.key_pos,
            format!("unknown topology section {:?}", e.key),
            fix,
        ));
    }
    if !skipped.is_empty() {
        ctx.note(
            Finding::new(
                Code::TopologySectionNotAudited,
                Severity::Info,
                format!(
                    "{} section(s) of the topology are not audited",
                    skipped.len()
                ),
                skipped
                    .iter()
                    .map(|(what, _)| what.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                "these components are not probed; audit their TLS ports with a tlsaudit.toml (--config) if they serve mTLS",
            )
            .source(skipped.first().map(|(_, src)| src.clone())),
        );
    }
}

/// The `global` section: `enable_tls` (false when not set), `deploy_dir` and `user`; an unknown
/// field is a finding.
fn read_global(ctx: &Ctx<'_>, entries: &[Entry]) -> Global {
    let path = ctx.path;
    let mut tls = None;
    let mut deploy_dir = "deploy".to_string();
    let mut user = "tidb".to_string();
    let g = entries.iter().find(|e| e.key == "global");
    let fields = g.and_then(|g| {
        expect_map(ctx, g, "global takes user, deploy_dir, enable_tls, ...")
            .map_err(|e| ctx.report(e))
            .ok()
            .flatten()
    });
    for e in fields.unwrap_or(&[]) {
        match e.key.as_str() {
            "enable_tls" => match e.value.as_bool() {
                Some(v) => {
                    tls = Some(Located {
                        value: v,
                        source: source_at(path, e.key_pos, "global.enable_tls"),
                    });
                }
                None => ctx.report(ctx.err(
                    e.value.pos,
                    format!(
                        "enable_tls must be true or false, not {}",
                        e.value.type_name()
                    ),
                    "write enable_tls: true",
                )),
            },
            "deploy_dir" => deploy_dir = e.value.scalar_text().unwrap_or(deploy_dir),
            "user" => user = e.value.scalar_text().unwrap_or(user),
            k if GLOBAL_FIELDS.contains(&k) => {}
            k => unknown_field(ctx, "global", e, &GLOBAL_FIELDS, k.contains("tls")),
        }
    }
    let tls = tls.unwrap_or_else(|| Located {
        value: false,
        source: format!("{}: global.enable_tls (not set)", path.display()),
    });
    Global {
        tls,
        deploy_dir,
        user,
    }
}

/// An unknown field of `global` or of an instance: a finding naming the closest field
/// (critical when it stands for a TLS setting, such as `enable-tls`).
fn unknown_field(ctx: &Ctx<'_>, label: &str, e: &Entry, known: &[&str], tls: bool) {
    let hint = super::did_you_mean(&e.key, known).or_else(|| {
        known
            .iter()
            .find(|k| k.replace('-', "_") == e.key.replace('-', "_"))
            .copied()
    });
    let tls = tls || hint.is_some_and(|h| h.contains("tls") || h.ends_with("port"));
    ctx.note(super::keys::unknown_key(
        format!("{label}: {:?} is not a field TiUP knows", e.key),
        format!(
            "the field is ignored by tlsaudit and refused by TiUP{}",
            if tls {
                ", and the setting it was meant for is not in force"
            } else {
                ""
            }
        ),
        hint.map(|h| format!("{h} (TiUP spells its fields with underscores)"))
            .as_deref(),
        if tls {
            Severity::Critical
        } else {
            Severity::Warning
        },
        source_at(ctx.path, e.key_pos, &format!("{label}.{}", e.key)),
    ));
}

/// The `server_configs` section: each component's global config layer (its TLS tables checked
/// for unknown keys and types).
fn read_server_configs(ctx: &Ctx<'_>, entries: &[Entry]) -> Vec<(&'static str, Layer)> {
    let path = ctx.path;
    let mut globals: Vec<(&str, Layer)> = Vec::new();
    let Some(sc) = entries.iter().find(|e| e.key == "server_configs") else {
        return globals;
    };
    let sc = match expect_map(ctx, sc, "server_configs maps a component to its config") {
        Ok(m) => m.unwrap_or(&[]),
        Err(e) => {
            ctx.report(e);
            &[]
        }
    };
    for e in sc {
        let Some(name) = SERVER_CONFIGS.iter().find(|s| **s == e.key).copied() else {
            let fix = match super::did_you_mean(&e.key, &SERVER_CONFIGS) {
                Some(s) => format!("did you mean {s}?"),
                None => format!("use one of {}", SERVER_CONFIGS.join(", ")),
            };
            ctx.report(ctx.err(
                e.key_pos,
                format!("unknown server_configs section {:?}", e.key),
                fix,
            ));
            continue;
        };
        match expect_map(ctx, e, "a component's config is a mapping of keys") {
            Ok(Some(_)) => {
                let label = format!("server_configs.{name}");
                let layer = Layer::from(&e.value, path, &label);
                if let Ok(kind) = ConfigKind::from_name(name) {
                    check_layer(ctx, kind, &layer, &label);
                }
                globals.push((name, layer));
            }
            Ok(None) => {}
            Err(err) => ctx.report(err),
        }
    }
    globals
}

/// Unknown keys (findings) and wrong types (errors) in a layer's TLS tables.
fn check_layer(ctx: &Ctx<'_>, kind: ConfigKind, layer: &Layer, label: &str) {
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    super::keys::check(
        kind,
        &layer.settings,
        ctx.path,
        label,
        &mut findings,
        &mut errors,
    );
    ctx.notes.borrow_mut().extend(findings);
    ctx.errors.borrow_mut().extend(errors);
}

/// The `component_versions` section: the versions it names that parse (others are ignored).
fn read_component_versions(entries: &[Entry]) -> Vec<(Component, Version)> {
    let mut versions: Vec<(Component, Version)> = Vec::new();
    if let Some(cv) = entries.iter().find(|e| e.key == "component_versions") {
        for e in cv.value.map().unwrap_or(&[]) {
            let text = e.value.scalar_text().unwrap_or_default();
            let comp = match e.key.as_str() {
                "cdc" => Some(Component::Ticdc),
                k => k.parse::<Component>().ok(),
            };
            if let (Some(c), Some(v)) = (comp, Version::parse(&text)) {
                versions.push((c, v));
            }
        }
    }
    versions
}

/// The instances of the audited sections, in [`SPECS`] order; each takes its component's
/// version from `component_versions`, else the cluster's `version`. An instance that cannot be
/// read is reported and left out; two instances on one host and port are an error.
fn read_instances(
    ctx: &Ctx<'_>,
    entries: &[Entry],
    globals: &[(&str, Layer)],
    global: &Global,
    versions: &[(Component, Version)],
    version: Option<Version>,
    exporter_hosts: &mut ExporterHosts,
) -> Vec<Instance> {
    let tls_on = global.tls.value;
    let tls_source = global.tls.source.clone();
    let mut instances = Vec::new();
    let mut used = PortsInUse::default();
    for spec in &SPECS {
        let Some(sec) = entries.iter().find(|e| e.key == spec.section) else {
            continue;
        };
        let items: &[Node] = match &sec.value.value {
            Value::Null => &[],
            Value::List(l) => l,
            _ => {
                ctx.report(ctx.err(
                    sec.value.pos,
                    format!(
                        "{} must be a list of instances, not {}",
                        spec.section,
                        sec.value.type_name()
                    ),
                    format!(
                        "write each instance as `- host: 10.0.1.1` under {}",
                        spec.section
                    ),
                ));
                continue;
            }
        };
        for (idx, item) in items.iter().enumerate() {
            let label = format!("{}[{idx}]", spec.section);
            let Some(fields) = item.map() else {
                ctx.report(ctx.err(
                    item.pos,
                    format!(
                        "{label} must be a mapping with at least host, not {}",
                        item.type_name()
                    ),
                    "write each instance as `- host: 10.0.1.1`",
                ));
                continue;
            };
            let read = read_instance(
                ctx,
                spec,
                &label,
                item,
                fields,
                globals,
                (&global.deploy_dir, &global.user),
                (tls_on, &tls_source),
                versions
                    .iter()
                    .find(|(c, _)| *c == spec.component)
                    .map(|(_, v)| *v)
                    .or(version),
            );
            match read {
                Ok(inst) => {
                    let ignore = fields.iter().find(|e| e.key == "ignore_exporter");
                    match ignore.map(|e| (e, e.value.as_bool())) {
                        Some((_, Some(true))) => exporter_hosts.ignored.push(inst.host.clone()),
                        Some((e, None)) => ctx.report(ctx.err(
                            e.value.pos,
                            format!("{label}: ignore_exporter must be true or false"),
                            "write ignore_exporter: true",
                        )),
                        _ => exporter_hosts.monitored.push(inst.host.clone()),
                    }
                    let main = field_port(ctx, fields, spec.main_port.0, spec.main_port.1)
                        .unwrap_or(spec.main_port.1);
                    used.claim(ctx, &inst, main, &label, item.pos);
                    instances.push(inst);
                }
                Err(e) => ctx.report(e),
            }
        }
    }
    instances
}

/// The host and port pairs the instances read so far use, with the instance and its line
/// (a map: a topology of thousands of instances is checked in linear time).
#[derive(Default)]
struct PortsInUse(std::collections::HashMap<(String, u16), (String, usize)>);

impl PortsInUse {
    /// Claim an instance's ports; one already claimed is an error at the instance.
    fn claim(&mut self, ctx: &Ctx<'_>, inst: &Instance, main: u16, label: &str, pos: Pos) {
        let host = inst.host.to_ascii_lowercase();
        let mut ports: Vec<u16> = inst
            .endpoints
            .iter()
            .filter_map(|e| e.address.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
            .collect();
        ports.insert(0, main);
        ports.dedup();
        let clash = ports.iter().find_map(|p| {
            self.0
                .get(&(host.clone(), *p))
                .map(|(other, line)| (*p, other.clone(), *line))
        });
        if let Some((port, other, line)) = clash {
            ctx.report(ctx.err(
                pos,
                format!(
                    "{label} duplicates {other} (line {line}): both use {}",
                    join_host_port(&inst.host, port)
                ),
                "remove the duplicate instance or give it other ports (TiUP refuses the conflict too)",
            ));
            return;
        }
        for p in ports {
            self.0
                .insert((host.clone(), p), (label.to_string(), pos.line));
        }
    }
}

/// Keys whose values are addresses or URLs (checked for `http://` while TLS is on).
pub(crate) fn is_url_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    let last = last.replace('_', "-");
    last == "pd"
        || last.ends_with("url")
        || last.ends_with("urls")
        || last.ends_with("addr")
        || last.ends_with("addrs")
        || last.ends_with("address")
        || last.ends_with("endpoints")
        || last.ends_with("endpoint")
}

fn url_settings(layer: &[(Setting, String)]) -> Vec<UrlSetting> {
    let mut out = Vec::new();
    for (s, src) in layer {
        if !is_url_key(&s.key) {
            continue;
        }
        let Some(values) = s.value.value.strings() else {
            continue;
        };
        for v in values {
            out.push(UrlSetting {
                key: s.key.clone(),
                value: v,
                source: src.clone(),
            });
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn read_instance(
    ctx: &Ctx<'_>,
    spec: &SectionSpec,
    label: &str,
    item: &Node,
    fields: &[Entry],
    globals: &[(&str, Layer)],
    (deploy_root, user): (&str, &str),
    (tls_on, tls_source): (bool, &str),
    version: Option<Version>,
) -> Result<Instance, InputError> {
    check_fields(ctx, spec, label, fields);
    let host = instance_host(ctx, label, item, fields)?;
    let main_port = field_port(ctx, fields, spec.main_port.0, spec.main_port.1)?;
    let deploy_dir = instance_deploy_dir(spec, fields, (deploy_root, user), main_port);
    let origin = source_at(ctx.path, item.pos, label);

    let mut endpoints = Vec::new();
    let mut security = Vec::new();
    let mut urls = Vec::new();
    let layers = config_layers(ctx, spec, label, fields, globals);
    for (kind, global, own) in &layers {
        emptied_list(ctx, label, *kind, global, own);
        let eff = global.overlay(own);
        urls.extend(url_settings(&eff.settings));
        security.extend(layer_security(
            spec,
            *kind,
            &eff,
            own,
            &deploy_dir,
            (tls_on, tls_source),
        ));
        let list = layer_allow_list(*kind, &eff);
        for role in kind.roles() {
            if let Some((field, _)) = spec.ports.iter().find(|p| p.1 == role) {
                endpoints.push(InstanceEndpoint {
                    role,
                    address: join_host_port(
                        &host,
                        field_port(ctx, fields, field, role.profile().default_port)?,
                    ),
                    list: list.clone(),
                });
            }
        }
    }
    // Ports no allow-list governs (the SQL ports): endpoints without a list.
    for (field, role) in spec.ports {
        if !endpoints.iter().any(|e| e.role == *role) {
            endpoints.push(InstanceEndpoint {
                role: *role,
                address: join_host_port(
                    &host,
                    field_port(ctx, fields, field, role.profile().default_port)?,
                ),
                list: None,
            });
        }
    }
    // Endpoints in the order of the section's ports.
    endpoints.sort_by_key(|e| spec.ports.iter().position(|p| p.1 == e.role));
    advertised(ctx, spec, label, fields, &mut endpoints, &mut urls);
    Ok(Instance {
        component: spec.component,
        name: format!(
            "{}-{}",
            spec.role_name,
            super::addr_label(&join_host_port(&host, main_port))
        ),
        host,
        origin,
        version,
        endpoints,
        security,
        urls,
    })
}

/// The `advertise_*` fields of a section: the field, the endpoint roles it sets the address
/// of, and whether it holds a host only (TiDB's `advertise_address`) rather than `host:port` or
/// a URL.
fn advertise_fields(component: Component) -> &'static [(&'static str, &'static [Role], bool)] {
    match component {
        Component::Pd => &[
            ("advertise_client_addr", &[Role::PdClient], false),
            ("advertise_peer_addr", &[Role::PdPeer], false),
        ],
        Component::Tidb => &[(
            "advertise_address",
            &[Role::TidbStatus, Role::TidbSql],
            true,
        )],
        Component::Tikv => &[
            ("advertise_addr", &[Role::TikvGrpc], false),
            ("advertise_status_addr", &[Role::TikvStatus], false),
        ],
        _ => &[],
    }
}

/// Callers dial the address an instance advertises, not its `host`: each `advertise_*` field
/// replaces the address of its endpoints (a host only keeps the port). A URL's `http://` on a
/// TLS cluster is the `HTTP_URL_WITH_TLS` finding.
fn advertised(
    ctx: &Ctx<'_>,
    spec: &SectionSpec,
    label: &str,
    fields: &[Entry],
    endpoints: &mut [InstanceEndpoint],
    urls: &mut Vec<UrlSetting>,
) {
    for (field, roles, host_only) in advertise_fields(spec.component) {
        let Some(e) = fields.iter().find(|e| e.key == *field) else {
            continue;
        };
        let what = if *host_only {
            "a host name or IP"
        } else {
            "host:port or a URL"
        };
        let Some(raw) = e.value.scalar_text().filter(|v| !v.trim().is_empty()) else {
            ctx.report(ctx.err(
                e.value.pos,
                format!("{label}: {field} must be {what}"),
                format!(
                    "write {field}: {}",
                    if *host_only {
                        "10.0.1.1"
                    } else {
                        "10.0.1.1:2379"
                    }
                ),
            ));
            continue;
        };
        let value = raw.trim();
        let key = format!("{label}.{field}");
        let lower = value.to_ascii_lowercase();
        let rest = if let Some(r) = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"))
        {
            urls.push(UrlSetting {
                key: key.clone(),
                value: value.to_string(),
                source: source_at(ctx.path, e.value.pos, &key),
            });
            &value[value.len() - r.len()..]
        } else {
            value
        };
        let rest = rest.trim_end_matches('/');
        // `host:port`, `[v6]:port`, or a host alone.
        let (host, port) = match rest.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((h, p)) => (h, p.strip_prefix(':')),
                None => (v6, None),
            },
            None => match rest.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p)),
                _ => (rest, None),
            },
        };
        let port = match port {
            Some(_) if *host_only => {
                ctx.report(ctx.err(
                    e.value.pos,
                    format!("{label}: {field} is a host, not {value:?} (the ports are status_port and port)"),
                    format!("write {field}: {host}"),
                ));
                continue;
            }
            Some(p) => match p.parse::<u16>().ok().filter(|p| *p > 0) {
                Some(p) => Some(p),
                None => {
                    ctx.report(ctx.err(
                        e.value.pos,
                        format!("{label}: {field} has no valid port in {value:?}"),
                        format!("write {field}: {host}:<port>"),
                    ));
                    continue;
                }
            },
            None => None,
        };
        if host.is_empty() {
            ctx.report(ctx.err(
                e.value.pos,
                format!("{label}: {field} has no host in {value:?}"),
                format!("write {field}: {what}"),
            ));
            continue;
        }
        for ep in endpoints.iter_mut().filter(|ep| roles.contains(&ep.role)) {
            let keep = ep
                .address
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok());
            if let Some(p) = port.or(keep) {
                ep.address = join_host_port(host, p);
            }
        }
    }
}

/// An instance field TiUP does not know (`clientport`, `client-port`) is a finding.
fn check_fields(ctx: &Ctx<'_>, spec: &SectionSpec, label: &str, fields: &[Entry]) {
    let mut known: Vec<&str> = INSTANCE_FIELDS.to_vec();
    known.extend(spec.ports.iter().map(|p| p.0));
    known.push(spec.main_port.0);
    known.extend(spec.configs.iter().map(|c| c.0));
    known.extend(spec.fields);
    known.sort_unstable();
    known.dedup();
    for e in fields {
        if !known.contains(&e.key.as_str()) {
            unknown_field(ctx, label, e, &known, false);
        }
    }
}

/// An instance's own config that empties the allow-list switches the check off there.
fn emptied_list(ctx: &Ctx<'_>, label: &str, kind: ConfigKind, global: &Layer, own: &Layer) {
    let key = kind.list_key();
    let Some((s, src)) = own.get(&key) else {
        return;
    };
    if s.value.string_list().is_none_or(|l| !l.is_empty()) {
        return;
    }
    let global_list = global
        .get(&key)
        .and_then(|(g, _)| g.value.string_list())
        .filter(|l| !l.is_empty());
    let title = kind.component().title();
    let open = kind
        .roles()
        .iter()
        .filter(|r| r.profile().cert_policy == crate::profile::CertPolicy::WithList)
        .map(|r| format!("{title} {r} port {}", r.profile().default_port))
        .collect::<Vec<_>>();
    let evidence = format!(
        "an empty list admits every certificate the CA issued{}",
        if open.is_empty() {
            String::new()
        } else {
            format!(
                "; the {} then asks for no client certificate at all",
                open.join(" and ")
            )
        }
    );
    let (severity, title_text, fix) = match &global_list {
        Some(g) => (
            Severity::Critical,
            format!(
                "{label}: {key} is empty, switching off on this {title} the list that server_configs sets for the others [{}]",
                g.join(", ")
            ),
            format!("remove {key} from {label}'s config so that it inherits server_configs, or list its callers there"),
        ),
        None => (
            Severity::Warning,
            format!("{label}: {key} is set to an empty list: no Common Name check on this {title}"),
            format!("list the callers in {key}, or remove the empty setting"),
        ),
    };
    ctx.note(
        Finding::new(Code::AllowListEmptied, severity, title_text, evidence, fix)
            .source(src.clone()),
    );
}

/// The instance's `host`, required and non-empty, without IPv6 brackets.
fn instance_host(
    ctx: &Ctx<'_>,
    label: &str,
    item: &Node,
    fields: &[Entry],
) -> Result<String, InputError> {
    let host = match fields.iter().find(|e| e.key == "host") {
        Some(h) => h
            .value
            .scalar_text()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                ctx.err(
                    h.value.pos,
                    format!("{label}: host must be a host name or IP"),
                    "write host: 10.0.1.1",
                )
            })?,
        None => {
            return Err(ctx.err(
                item.pos,
                format!("{label} has no host"),
                "every instance needs `host:`",
            ))
        }
    };
    Ok(host
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string())
}

/// The port in `field`, or `default` when the instance does not set it.
fn field_port(
    ctx: &Ctx<'_>,
    fields: &[Entry],
    field: &str,
    default: u16,
) -> Result<u16, InputError> {
    match fields.iter().find(|e| e.key == field) {
        Some(e) => port(ctx, e).or_else(|err| {
            ctx.report(err);
            Ok(default)
        }),
        None => Ok(default),
    }
}

/// The instance's deploy dir: its own `deploy_dir` or TiUP's default under the global one,
/// relative paths under the user's home.
fn instance_deploy_dir(
    spec: &SectionSpec,
    fields: &[Entry],
    (deploy_root, user): (&str, &str),
    main_port: u16,
) -> String {
    let deploy_dir = match fields.iter().find(|e| e.key == "deploy_dir") {
        Some(d) => d.value.scalar_text().unwrap_or_default(),
        None => format!(
            "{}/{}-{main_port}",
            deploy_root.trim_end_matches('/'),
            spec.role_name
        ),
    };
    if deploy_dir.starts_with('/') {
        deploy_dir
    } else {
        format!("/home/{user}/{deploy_dir}")
    }
}

/// Each config layer of the instance: its kind, the `server_configs` layer and its own.
fn config_layers(
    ctx: &Ctx<'_>,
    spec: &SectionSpec,
    label: &str,
    fields: &[Entry],
    globals: &[(&str, Layer)],
) -> Vec<(ConfigKind, Layer, Layer)> {
    let mut layers: Vec<(ConfigKind, Layer, Layer)> = Vec::new();
    for (field, kind) in spec.configs {
        let global_key = kind.config().tiup.unwrap_or(kind.name());
        let global = globals
            .iter()
            .find(|(k, _)| *k == global_key)
            .map(|(_, l)| l.clone())
            .unwrap_or_default();
        let own = match fields.iter().find(|e| e.key == *field) {
            Some(e) => match expect_map(ctx, e, "an instance's config is a mapping of keys") {
                Ok(Some(_)) => {
                    let name = format!("{label}.{field}");
                    let layer = Layer::from(&e.value, ctx.path, &name);
                    check_layer(ctx, *kind, &layer, &name);
                    layer
                }
                Ok(None) => Layer::default(),
                Err(err) => {
                    ctx.report(err);
                    Layer::default()
                }
            },
            None => Layer::default(),
        };
        layers.push((*kind, global, own));
    }
    layers
}

/// A layer's TLS files: the ones it sets (`eff`, exact when the instance's `own` layer sets the
/// cert), else TiUP's managed files under the deploy dir when `enable_tls` is on.
fn layer_security(
    spec: &SectionSpec,
    kind: ConfigKind,
    eff: &Layer,
    own: &Layer,
    deploy_dir: &str,
    (tls_on, tls_source): (bool, &str),
) -> Option<Security> {
    let located_path = |key: &str| -> Option<Located<std::path::PathBuf>> {
        eff.get(key).and_then(|(s, src)| {
            s.value.as_str().filter(|v| !v.is_empty()).map(|v| Located {
                value: std::path::PathBuf::from(v),
                source: src.clone(),
            })
        })
    };
    let [ca_key, cert_key, key_key] = kind.security_keys();
    let explicit = (
        located_path(&ca_key),
        located_path(&cert_key),
        located_path(&key_key),
    );
    if explicit.0.is_some() || explicit.1.is_some() || explicit.2.is_some() {
        Some(Security {
            kind,
            exact: own.get(&cert_key).is_some(),
            ca: explicit.0,
            cert: explicit.1,
            key: explicit.2,
            tiup_managed: false,
        })
    } else if tls_on {
        let tls = format!("{deploy_dir}/tls");
        let managed = |file: String| {
            Some(Located {
                value: std::path::PathBuf::from(format!("{tls}/{file}")),
                source: tls_source.to_string(),
            })
        };
        Some(Security {
            kind,
            ca: managed("ca.crt".into()),
            cert: managed(format!("{}.crt", spec.role_name)),
            key: managed(format!("{}.pem", spec.role_name)),
            tiup_managed: true,
            exact: true,
        })
    } else {
        None
    }
}

/// The layer's CN allow-list, if set (a value of the wrong type is reported by the layer's
/// check and left out here).
fn layer_allow_list(kind: ConfigKind, eff: &Layer) -> Option<Located<Vec<String>>> {
    let (s, src) = eff.get(&kind.list_key())?;
    Some(Located {
        value: s.value.string_list()?,
        source: src.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPO: &str = r#"
global:
  user: tidb
  deploy_dir: /tidb-deploy
  enable_tls: true
server_configs:
  pd:
    security.cert-allowed-cn: ["pd", "tidb", "tikv"]
  tidb:
    security:
      cluster-verify-cn: [tidb, prod-client]
pd_servers:
  - host: 10.0.1.11
  - host: 10.0.1.12
    client_port: 12379
    config:
      security.cert-allowed-cn: ["pd"]
tidb_servers:
  - host: 10.0.1.21
tikv_servers:
  - host: 10.0.1.31
    status_port: 20181
tiflash_servers:
  - host: 10.0.1.41
cdc_servers:
  - host: 10.0.1.51
tiproxy_servers:
  - host: 10.0.1.61
monitoring_servers:
  - host: 10.0.1.99
"#;

    #[test]
    fn instances_ports_and_lists() {
        let t = Topology::parse(TOPO, Path::new("/c/prod.yaml")).unwrap();
        assert!(t.tls.as_ref().unwrap().value);
        assert_eq!(t.instances.len(), 7);
        let pd1 = &t.instances[0];
        assert_eq!(pd1.endpoints[0].address, "10.0.1.11:2379");
        assert_eq!(pd1.endpoints[1].address, "10.0.1.11:2380");
        assert_eq!(
            pd1.endpoints[0].list.as_ref().unwrap().value,
            ["pd", "tidb", "tikv"]
        );
        assert!(pd1.endpoints[0]
            .list
            .as_ref()
            .unwrap()
            .source
            .starts_with("/c/prod.yaml:8:5: server_configs.pd security.cert-allowed-cn"));
        let pd2 = &t.instances[1];
        assert_eq!(pd2.endpoints[0].address, "10.0.1.12:12379");
        assert_eq!(pd2.endpoints[0].list.as_ref().unwrap().value, ["pd"]);
        assert!(pd2.security[0].tiup_managed);
        assert_eq!(
            pd2.security[0].cert.as_ref().unwrap().value,
            PathBuf::from("/tidb-deploy/pd-12379/tls/pd.crt")
        );
        let tidb = &t.instances[2];
        assert_eq!(tidb.endpoints.len(), 2);
        assert_eq!(tidb.endpoints[0].address, "10.0.1.21:10080");
        // The SQL port (`port`, default 4000): no allow-list governs it.
        assert_eq!(
            (tidb.endpoints[1].role, tidb.endpoints[1].address.as_str()),
            (Role::TidbSql, "10.0.1.21:4000")
        );
        assert!(tidb.endpoints[1].list.is_none());
        assert_eq!(
            tidb.endpoints[0].list.as_ref().unwrap().value,
            ["tidb", "prod-client"]
        );
        let tikv = &t.instances[3];
        assert_eq!(tikv.endpoints[1].address, "10.0.1.31:20181");
        let tiflash = &t.instances[4];
        let roles: Vec<&str> = tiflash.endpoints.iter().map(|e| e.role.as_str()).collect();
        assert_eq!(roles, ["grpc", "proxy", "proxy-status", "metrics"]);
        assert_eq!(t.instances[5].endpoints[0].address, "10.0.1.51:8300");
        assert_eq!(t.instances[6].endpoints[0].address, "10.0.1.61:3080");
        assert_eq!(t.notes[0].code, Code::TopologySectionNotAudited);
    }

    fn err(text: &str) -> String {
        Topology::parse(text, Path::new("t.yaml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn unknown_sections_are_errors_with_a_suggestion() {
        let e = err("global:\n  enable_tls: true\ntikv_server:\n  - host: a\n");
        assert!(e.starts_with("t.yaml:3:1: unknown topology section"), "{e}");
        assert!(e.contains("did you mean tikv_servers"), "{e}");
        let e = err("server_configs:\n  tikvv: {}\n");
        assert!(e.starts_with("t.yaml:2:3: "), "{e}");
        assert!(e.contains("did you mean tikv"), "{e}");
        // A misspelled field is a finding, not an error.
        for field in ["client-port", "clientport"] {
            let text = format!("pd_servers:\n  - host: a\n    {field}: 1\n");
            let t = Topology::parse(&text, Path::new("t.yaml")).unwrap();
            let f = &t.notes[0];
            assert_eq!((f.code, f.severity), (Code::UnknownKey, Severity::Critical));
            assert!(f.fix.starts_with("did you mean client_port"), "{f:?}");
            assert_eq!(
                f.source.as_deref(),
                Some(format!("t.yaml:3:5: pd_servers[0].{field}").as_str())
            );
        }
        let e = err("pd_servers:\n  - client_port: 1\n");
        assert!(e.contains("has no host"), "{e}");
        let e = err("pd_servers:\n  - host: a\n    client_port: 70000\n");
        assert!(e.starts_with("t.yaml:3:18: "), "{e}");
    }

    #[test]
    fn meta_yaml_has_version_and_topology() {
        let text = format!(
            "user: tidb\ntidb_version: v8.1.0\nlast_ops_ver: x\ntopology:\n{}",
            TOPO.lines().map(|l| format!("  {l}\n")).collect::<String>()
        );
        let t = Topology::parse(&text, Path::new("meta.yaml")).unwrap();
        assert!(t.is_meta);
        assert_eq!(t.version, Some(Version(8, 1)));
        assert_eq!(t.instances[0].version, Some(Version(8, 1)));
    }
}
