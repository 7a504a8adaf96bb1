//! TiDB-native inputs: a TiUP topology (`topology.yaml`) or a cluster's `meta.yaml`, TiUP's TLS
//! folder, and the components' own config files (`tidb.toml`, `tikv.toml`, `pd.toml`,
//! `tiflash.toml`, `tiflash-learner.toml`, `ticdc.toml`).
//!
//! They are read into a [`Cluster`]: the instances with their endpoints, the allow-lists that
//! apply to each endpoint and the certificate files each component uses, every value with the
//! file, line and key it came from. [`Cluster::inventory`] turns that into the same
//! [`Inventory`] a `tlsaudit.toml` gives, so the audit is unchanged; [`crate::lint`] checks the
//! same model without probing. See `docs/tidb.md`.

pub mod component;
mod keys;
pub mod list_layer;
pub mod tlsdir;
pub mod topology;
pub mod tree;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::InputError;
use crate::finding::{Code, Finding, Severity};
use crate::inventory::{AuditOptions, Endpoint, IdentityEntry, Inventory};
use crate::probe::{validate_address, Protocol};
use crate::profile::{self, Component, ConfigFile, Role, Version};
pub use list_layer::{
    cluster_arg, list_layer, node_id, push_command, reload_command, shell_quote, ListLayer, Spot,
};
pub use tree::Pos;

/// A value and where it came from: `file:line:col: key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub source: String,
}

/// `file:line:col: key`, the form of every [`Finding::source`] from these inputs.
pub fn source_at(path: &Path, pos: Pos, key: &str) -> String {
    format!("{}:{}:{}: {key}", path.display(), pos.line, pos.column)
}

/// A component config file kind: which keys it uses for TLS and which endpoints its allow-list
/// governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigKind {
    Pd,
    Tidb,
    Tikv,
    Tiflash,
    TiflashLearner,
    Ticdc,
    Tiproxy,
}

impl ConfigKind {
    /// Every kind, in the order of the component table.
    pub const ALL: [ConfigKind; 7] = [
        ConfigKind::Pd,
        ConfigKind::Tidb,
        ConfigKind::Tikv,
        ConfigKind::Tiflash,
        ConfigKind::TiflashLearner,
        ConfigKind::Ticdc,
        ConfigKind::Tiproxy,
    ];

    /// The kinds a file name tells, longest file name first (for detection).
    pub const FILES: [ConfigKind; 7] = [
        ConfigKind::TiflashLearner,
        ConfigKind::Tiflash,
        ConfigKind::Ticdc,
        ConfigKind::Tiproxy,
        ConfigKind::Tidb,
        ConfigKind::Tikv,
        ConfigKind::Pd,
    ];

    pub fn component(self) -> Component {
        match self {
            ConfigKind::Pd => Component::Pd,
            ConfigKind::Tidb => Component::Tidb,
            ConfigKind::Tikv => Component::Tikv,
            ConfigKind::Tiflash | ConfigKind::TiflashLearner => Component::Tiflash,
            ConfigKind::Ticdc => Component::Ticdc,
            ConfigKind::Tiproxy => Component::Tiproxy,
        }
    }

    /// The file's row in the component table.
    pub fn config(self) -> &'static ConfigFile {
        match self {
            ConfigKind::Pd => &profile::PD_TOML,
            ConfigKind::Tidb => &profile::TIDB_TOML,
            ConfigKind::Tikv => &profile::TIKV_TOML,
            ConfigKind::Tiflash => &profile::TIFLASH_TOML,
            ConfigKind::TiflashLearner => &profile::TIFLASH_LEARNER_TOML,
            ConfigKind::Ticdc => &profile::TICDC_TOML,
            ConfigKind::Tiproxy => &profile::TIPROXY_TOML,
        }
    }

    /// The file's usual name.
    pub fn file_name(self) -> &'static str {
        self.config().file
    }

    /// The name in `COMPONENT=FILE` and in file names: the file's stem (`ticdc`).
    pub fn name(self) -> &'static str {
        let file = self.file_name();
        file.strip_suffix(".toml").unwrap_or(file)
    }

    /// Whether `s` names this kind: its [`ConfigKind::name`] or its `server_configs` section
    /// (TiUP's name, `cdc`).
    fn is_named(self, s: &str) -> bool {
        self.name() == s || self.config().tiup == Some(s)
    }

    /// The kind named `s` (`tikv`, `tiflash-learner`, `ticdc` or TiUP's `cdc`); the error is
    /// the hint that lists every name.
    pub fn from_name(s: &str) -> Result<ConfigKind, String> {
        ConfigKind::ALL
            .into_iter()
            .find(|k| k.is_named(s))
            .ok_or_else(ConfigKind::names_hint)
    }

    /// `use pd, tidb, ..., ticdc or tiproxy`: every kind's name, from [`ConfigKind::ALL`].
    pub fn names_hint() -> String {
        let names = ConfigKind::ALL.map(ConfigKind::name);
        match names.split_last() {
            Some((last, rest)) => format!("use {} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// Guess the kind from a file name: `tikv.toml`, `tikv-1.toml`, `tiflash-learner.toml`,
    /// `cdc.toml`.
    pub fn detect(path: &Path) -> Option<ConfigKind> {
        let stem = path.file_stem()?.to_str()?.to_ascii_lowercase();
        ConfigKind::FILES.into_iter().find(|k| {
            stem.starts_with(k.name()) || k.config().tiup.is_some_and(|t| stem.starts_with(t))
        })
    }

    /// The keys of the CA, the certificate and the key the component calls others with, in
    /// the dotted spelling (`security.ca-path`).
    pub fn security_keys(self) -> [String; 3] {
        let k = self.config().client;
        [k.ca.dotted(), k.cert.dotted(), k.key.dotted()]
    }

    /// The allow-list key, in the dotted spelling.
    pub fn list_key(self) -> String {
        self.roles()
            .first()
            .map_or_else(String::new, |r| r.profile().list.dotted())
    }

    /// The endpoint roles this file's allow-list governs (not the SQL ports, which have none).
    pub fn roles(self) -> Vec<Role> {
        Role::ALL
            .into_iter()
            .filter(|r| r.profile().config == *self.config() && r.profile().has_cn_list())
            .collect()
    }

    /// The name TiUP gives the component's certificate files (`<role>.crt`) and its CN.
    pub fn cert_name(self) -> &'static str {
        self.component().cert_name()
    }
}

/// The certificate files one config section names (or TiUP manages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    pub kind: ConfigKind,
    pub ca: Option<Located<PathBuf>>,
    pub cert: Option<Located<PathBuf>>,
    pub key: Option<Located<PathBuf>>,
    /// Paths TiUP sets under `<deploy_dir>/tls` with `enable_tls` (on the server, usually not
    /// readable here).
    pub tiup_managed: bool,
    /// The certificate was set for this instance exactly (its own file or an instance
    /// `config`), not for every instance of the component.
    pub exact: bool,
}

/// One endpoint of an instance and the allow-list that governs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceEndpoint {
    pub role: Role,
    pub address: String,
    /// The allow-list as configured (`None`: not set).
    pub list: Option<Located<Vec<String>>>,
    /// The layer the list is set in ([`list_layer`]).
    pub layer: ListLayer,
}

/// A setting whose value is an address or URL (for the `http://` check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlSetting {
    pub key: String,
    pub value: String,
    pub source: String,
}

/// One instance of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub component: Component,
    /// `tikv-10.0.1.21-20160`: the TiUP role, host and main port.
    pub name: String,
    /// The host callers dial.
    pub host: String,
    /// Where the instance is declared.
    pub origin: String,
    pub version: Option<Version>,
    pub endpoints: Vec<InstanceEndpoint>,
    pub security: Vec<Security>,
    pub urls: Vec<UrlSetting>,
    /// Its deploy dir on the host (`/tidb-deploy/tikv-20160`), when a topology says it.
    pub deploy_dir: Option<String>,
}

impl Instance {
    /// The endpoint name of a role.
    pub fn endpoint_name(&self, role: Role) -> Option<String> {
        self.endpoints
            .iter()
            .find(|e| e.role == role)
            .map(|e| format!("{}-{}", self.component_label(), addr_label(&e.address)))
    }

    /// TiUP's name of the component (`cdc`), the first part of its endpoints' names.
    fn component_label(&self) -> &'static str {
        self.component.cert_name()
    }
}

pub(crate) fn addr_label(address: &str) -> String {
    let split = match address.strip_prefix('[') {
        Some(rest) => rest.split_once("]:"),
        None => address.rsplit_once(':'),
    };
    split.map_or_else(|| address.to_string(), |(h, p)| format!("{h}-{p}"))
}

/// `host:port`, with brackets for IPv6.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// One `--component-config`: a file, or a folder holding one per instance
/// (`<DIR>/<instance>/conf/<component>.toml`, as fetched from each `<deploy_dir>/conf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigArg {
    /// The component, when named (`tikv=FILE`); else read from the file.
    pub kind: Option<ConfigKind>,
    pub path: PathBuf,
    /// The instance the file is bound to, when named (`tikv@10.0.1.17:20160=FILE`): its TiUP
    /// name, node ID or any of its addresses.
    pub instance: Option<String>,
}

impl ConfigArg {
    /// A file (or folder) bound to no instance.
    pub fn file(kind: Option<ConfigKind>, path: PathBuf) -> ConfigArg {
        ConfigArg {
            kind,
            path,
            instance: None,
        }
    }
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct TiupOptions {
    /// `topology.yaml` or `meta.yaml`.
    pub topology: Option<PathBuf>,
    /// TiUP's TLS folder (`ca.crt`, `ca.pem`, `client.crt`, `client.pem`, `<role>.crt`...).
    /// Default with a `meta.yaml`: the `tls` folder beside it.
    pub tls_dir: Option<PathBuf>,
    /// Component config files (or folders of them, laid out per instance), each with its kind
    /// and instance when the command line names them (`COMPONENT[@INSTANCE]=FILE`).
    pub component_configs: Vec<ConfigArg>,
    /// The CA callers trust (overrides the TLS folder's `ca.crt`).
    pub ca: Option<PathBuf>,
    pub cluster_name: Option<String>,
    /// The cluster version (overrides `meta.yaml`'s `tidb_version`).
    pub version: Option<Version>,
}

/// Everything read, with sources.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub topology: Option<PathBuf>,
    /// `global.enable_tls` (`None` without a topology).
    pub tls: Option<Located<bool>>,
    pub instances: Vec<Instance>,
    pub tls_dir: Option<tlsdir::TlsDir>,
    /// The CA callers trust, and the source that named it.
    pub ca: Option<Located<PathBuf>>,
    /// The CA key (TiUP: `ca.pem`), which lets the audit mint an unlisted identity.
    pub ca_key: Option<PathBuf>,
    /// Component config files read.
    pub component_configs: Vec<component::ComponentFile>,
    /// Things the import noticed (sections not audited, addresses that cannot be dialed).
    pub notes: Vec<Finding>,
}

/// One entry of an allow-list, where it is: the instance, its endpoint and the list.
pub struct ListEntry<'a> {
    pub inst: &'a Instance,
    pub ep: &'a InstanceEndpoint,
    pub list: &'a Located<Vec<String>>,
    pub entry: &'a String,
}

impl Cluster {
    /// Every entry of every allow-list the instances have, each with where it is set (a list
    /// shared by several endpoints comes once per endpoint).
    pub fn list_entries(&self) -> impl Iterator<Item = ListEntry<'_>> {
        self.instances.iter().flat_map(|inst| {
            inst.endpoints.iter().flat_map(move |ep| {
                ep.list.iter().flat_map(move |list| {
                    list.value.iter().map(move |entry| ListEntry {
                        inst,
                        ep,
                        list,
                        entry,
                    })
                })
            })
        })
    }

    /// The component instances, without TiUP's monitoring agents (which the audit probes too,
    /// as instances of the `exporter` component).
    pub fn component_instances(&self) -> usize {
        self.instances
            .iter()
            .filter(|i| i.component != Component::Exporter)
            .count()
    }

    /// Read the inputs.
    pub fn load(opts: &TiupOptions) -> Result<Cluster, InputError> {
        if opts.topology.is_none() && opts.component_configs.is_empty() {
            return Err(InputError::usage(
                "nothing to read",
                "pass --topology topology.yaml (or meta.yaml), or --component-config FILE",
            ));
        }
        // Every file's errors in one run: the topology's, then each component config's.
        let mut errors = Vec::new();
        let topo = match opts.topology.as_deref().map(topology::Topology::load) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                errors.push(e);
                None
            }
            None => None,
        };
        let tls_dir = match tls_dir_path(opts, topo.as_ref()) {
            Some(d) => Some(tlsdir::TlsDir::load(&d)?),
            None => None,
        };
        let name = cluster_name(opts, topo.as_ref(), tls_dir.as_ref());
        let ca = trusted_ca(opts, tls_dir.as_ref());
        let ca_key = tls_dir.as_ref().and_then(|d| d.ca_key.clone());
        let mut notes = Vec::new();
        let (tls, mut instances) = match topo {
            Some(t) => topology_instances(opts, t, &mut notes),
            None => (None, Vec::new()),
        };
        let files = read_component_configs(opts, &instances, &mut errors);
        InputError::collect(errors)?;
        let standalone = opts.topology.is_none();
        for f in &files {
            notes.extend(f.notes.iter().cloned());
            f.apply(&mut instances, standalone, opts.version, &mut notes);
        }
        Ok(Cluster {
            name,
            topology: opts.topology.clone(),
            tls,
            instances,
            tls_dir,
            ca,
            ca_key,
            component_configs: files,
            notes,
        })
    }

    /// Whether TLS is on for an instance: `global.enable_tls`, or certificate paths in its
    /// config.
    pub fn tls_on(&self, instance: &Instance) -> bool {
        self.tls.as_ref().is_some_and(|t| t.value)
            || instance.security.iter().any(|s| s.cert.is_some())
    }

    /// The CN of TiUP's own client certificate: the TLS folder's `client.crt`, else
    /// `<cluster>-client` when the cluster came from a topology.
    pub fn tiup_client_cn(&self) -> Option<String> {
        if let Some(cn) = self.tls_dir.as_ref().and_then(tlsdir::TlsDir::client_cn) {
            return Some(cn);
        }
        self.topology
            .as_ref()
            .map(|_| format!("{}-client", self.name))
    }

    /// The inventory to audit, and notes about identities that could not be used.
    pub fn inventory(
        &self,
        mut options: AuditOptions,
    ) -> Result<(Inventory, Vec<Finding>), InputError> {
        let Some(ca) = &self.ca else {
            return Err(InputError::usage(
                "the audit needs the CA that callers trust",
                "pass --tls-dir with TiUP's tls folder (~/.tiup/storage/cluster/clusters/<name>/tls) or --ca ca.crt",
            ));
        };
        let mut notes = Vec::new();
        let ca_key = match &self.ca_key {
            Some(k) if key_signs(&ca.value, k) => Some(k.clone()),
            Some(k) => {
                notes.push(
                    Finding::new(
                        Code::CaKeySkipped,
                        Severity::Warning,
                        format!(
                            "{} is not used to mint the unlisted and the components' identities",
                            k.display()
                        ),
                        format!("it is not the key of {}", ca.value.display()),
                        "put the CA's own key in ca.pem (TiUP keeps it there), or leave it out",
                    )
                    .source(k.display().to_string()),
                );
                None
            }
            None => None,
        };
        let identities = self.identities(&mut notes);
        if ca_key.is_some() {
            options.minted = self.to_mint(&identities);
        }
        let endpoints = self.endpoints()?;
        let inv = Inventory {
            origin: crate::inventory::Origin::Topology,
            source: self
                .topology
                .clone()
                .or_else(|| self.component_configs.first().map(|f| f.path.clone())),
            cluster: self.name.clone(),
            ca: ca.value.clone(),
            ca_key,
            identities,
            endpoints,
            options,
        };
        Ok((inv, notes))
    }

    /// The certificate and key pairs usable as callers: TiUP's TLS folder, then the files the
    /// configs name (readable here); one identity per certificate. Pairs that do not load are
    /// notes.
    fn identities(&self, notes: &mut Vec<Finding>) -> Vec<IdentityEntry> {
        let mut identities: Vec<IdentityEntry> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for (name, component, cert, key) in self.identity_candidates() {
            let id = match crate::pki::Identity::load(&name, &cert, &key) {
                Ok(id) => id,
                Err(e) => {
                    notes.push(
                        Finding::new(
                            Code::IdentitySkipped,
                            Severity::Warning,
                            format!("the certificate {} is not used as a caller", cert.display()),
                            e.to_string(),
                            "fix the certificate and key pair (see the other findings about it)",
                        )
                        .source(cert.display().to_string()),
                    );
                    continue;
                }
            };
            let Some(fp) = id.leaf.as_ref().map(|l| l.sha256.clone()) else {
                continue;
            };
            if !seen.insert(fp) {
                continue;
            }
            let mut unique = name.clone();
            let mut n = 2;
            while identities.iter().any(|i| i.name == unique) {
                unique = format!("{name}-{n}");
                n += 1;
            }
            identities.push(IdentityEntry {
                name: unique,
                cert,
                key,
                component,
                outsider: false,
            });
        }
        identities
    }

    /// The components present whose own certificate is not among `identities`: the audit
    /// mints each an identity from the CA key with the CN TiUP gives it, so that every link of
    /// the matrix is tried from the control machine, which holds only the CA and TiUP's client
    /// certificate. A real `<role>.crt` (TLS folder, or a file a config names) wins.
    fn to_mint(&self, identities: &[IdentityEntry]) -> Vec<Component> {
        Component::ALL
            .into_iter()
            .filter(|c| self.instances.iter().any(|i| i.component == *c))
            // TiUP's monitoring agents call nothing and have no certificate.
            .filter(|c| *c != Component::Exporter)
            .filter(|c| !identities.iter().any(|i| i.component == Some(*c)))
            .filter(|c| {
                let name = c.cert_name();
                !identities.iter().any(|i| i.name == name)
            })
            .collect()
    }

    fn identity_candidates(&self) -> Vec<(String, Option<Component>, PathBuf, PathBuf)> {
        let mut candidates = Vec::new();
        if let Some(d) = &self.tls_dir {
            if let Some((c, k)) = &d.client {
                candidates.push(("client".into(), None, c.clone(), k.clone()));
            }
            for r in &d.roles {
                // A certificate is a component's only when the cluster has that component:
                // `cdc.crt` in the folder of a cluster without TiCDC creates no needs.
                let component = Component::from_identity_name(&r.name)
                    .filter(|c| self.instances.iter().any(|i| i.component == *c));
                candidates.push((r.name.clone(), component, r.cert.clone(), r.key.clone()));
            }
        }
        for i in &self.instances {
            for s in &i.security {
                if let (Some(c), Some(k)) = (&s.cert, &s.key) {
                    if c.value.is_file() && k.value.is_file() {
                        candidates.push((
                            s.kind.cert_name().to_string(),
                            Some(i.component),
                            c.value.clone(),
                            k.value.clone(),
                        ));
                    }
                }
            }
        }
        candidates
    }

    /// One endpoint per instance role, named after the instance.
    fn endpoints(&self) -> Result<Vec<Endpoint>, InputError> {
        let mut endpoints: Vec<Endpoint> = Vec::new();
        let mut names = std::collections::HashSet::new();
        for i in &self.instances {
            for e in &i.endpoints {
                let profile = e.role.profile();
                let Some(name) = i.endpoint_name(e.role) else {
                    continue;
                };
                if !names.insert(name.clone()) {
                    continue;
                }
                validate_address(&e.address).map_err(|m| {
                    InputError::usage(
                        format!("{}: {m}", i.origin),
                        "give the instance a host and port",
                    )
                })?;
                let protocol = profile.protocol;
                let path =
                    (protocol == Protocol::Http).then(|| profile.path.unwrap_or("/").to_string());
                let (cert_file, ca_file) = self.served_files(i, e.role);
                endpoints.push(Endpoint {
                    name,
                    component: i.component,
                    role: e.role,
                    address: e.address.clone(),
                    server_name: None,
                    protocol,
                    path,
                    allowed_cn: e.list.as_ref().map(|l| l.value.clone()).unwrap_or_default(),
                    list_at: (e.layer != ListLayer::Unset).then(|| e.layer.describe()),
                    version: i.version,
                    profile,
                    labels: std::collections::BTreeMap::new(),
                    client_auth: None,
                    needed_by: Vec::new(),
                    cert_file,
                    ca_file,
                    rotation: None,
                });
            }
        }
        Ok(endpoints)
    }
}

impl Cluster {
    /// The certificate and CA files an endpoint serves with, readable here, for the rotation
    /// drift check: the paths of the instance's component config when the endpoint serves with
    /// the keys the component calls others with (not the SQL ports' `ssl-cert`), else the TLS
    /// folder's `<role>.crt` and `ca.crt`. A path that is not a readable file here is left out.
    fn served_files(&self, inst: &Instance, role: Role) -> (Option<PathBuf>, Option<PathBuf>) {
        let readable = |p: &PathBuf| std::fs::File::open(p).is_ok_and(|_| p.is_file());
        let profile = role.profile();
        // Only a file bound to this instance says what it serves: one applied to every
        // instance of its component is not each one's.
        let security = inst
            .security
            .iter()
            .filter(|s| {
                s.kind.config() == &profile.config && profile.server == profile.config.client
            })
            .find(|s| !s.tiup_managed && s.exact);
        let from_config = |pick: fn(&Security) -> Option<&Located<PathBuf>>| {
            security
                .and_then(pick)
                .map(|l| l.value.clone())
                .filter(readable)
        };
        // The folder's `<role>.crt` is the server's only where it can be: one instance of
        // the component (TiUP issues a certificate per instance, so one file cannot be each
        // one's), and a certificate that may serve (serverAuth; a copied client certificate
        // is a caller's).
        let single = self
            .instances
            .iter()
            .filter(|o| o.component == inst.component)
            .count()
            == 1;
        let dir = self
            .tls_dir
            .as_ref()
            .filter(|_| single && profile.server == profile.config.client);
        let may_serve = |p: &PathBuf| {
            crate::pki::load::load_certs(p, crate::pki::CertRole::Leaf)
                .ok()
                .and_then(|c| crate::pki::summarize(c.first()?.as_ref()).ok())
                .is_some_and(|c| c.allows_server_auth())
        };
        let cert = from_config(|s| s.cert.as_ref()).or_else(|| {
            dir.map(|d| d.dir.join(format!("{}.crt", inst.component.cert_name())))
                .filter(|p| readable(p) && may_serve(p))
        });
        let ca = from_config(|s| s.ca.as_ref())
            .or_else(|| dir.filter(|_| cert.is_some()).and_then(|d| d.ca.clone()));
        (cert, ca)
    }
}

/// TiUP's TLS folder: `--tls-dir`, else the `tls` folder beside a `meta.yaml`.
fn tls_dir_path(opts: &TiupOptions, topo: Option<&topology::Topology>) -> Option<PathBuf> {
    opts.tls_dir.clone().or_else(|| {
        topo.filter(|t| t.is_meta)
            .map(|t| t.path.parent().unwrap_or(Path::new(".")).join("tls"))
            .filter(|d| d.is_dir())
    })
}

/// The component config files that read, a folder's bound to the instance of its subfolder;
/// the errors of the others go to `errors`.
fn read_component_configs(
    opts: &TiupOptions,
    instances: &[Instance],
    errors: &mut Vec<InputError>,
) -> Vec<component::ComponentFile> {
    let mut files = Vec::new();
    for arg in &opts.component_configs {
        let bound = if arg.path.is_dir() {
            per_instance_files(arg, instances, errors)
        } else {
            vec![arg.clone()]
        };
        for a in bound {
            match component::ComponentFile::load(a.kind, &a.path) {
                Ok(f) => files.push(f.bound_to(a.instance)),
                Err(e) => errors.push(e),
            }
        }
    }
    files
}

/// A folder of configs fetched per instance: `<DIR>/<instance>/conf/*.toml` (TiUP's
/// `<deploy_dir>/conf`), each bound to the instance its subfolder names. A folder that holds
/// none is an error naming the layout.
fn per_instance_files(
    arg: &ConfigArg,
    instances: &[Instance],
    errors: &mut Vec<InputError>,
) -> Vec<ConfigArg> {
    let mut out = Vec::new();
    for inst in instances {
        let conf = arg.path.join(&inst.name).join("conf");
        let Ok(entries) = std::fs::read_dir(&conf) else {
            continue;
        };
        let mut tomls: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        tomls.sort();
        out.extend(tomls.into_iter().map(|path| ConfigArg {
            kind: arg.kind,
            path,
            instance: Some(inst.name.clone()),
        }));
    }
    if out.is_empty() {
        errors.push(InputError::file(
            &arg.path,
            "is a folder with no <instance>/conf/*.toml of the topology's instances",
            "lay the fetched configs out as <DIR>/<instance name>/conf/<component>.toml (e.g. scp HOST:/tidb-deploy/tikv-20160/conf/tikv.toml DIR/tikv-HOST-20160/conf/), or give one file per --component-config",
        ));
    }
    out
}

/// The cluster's name: `--cluster-name`, the folder of a `meta.yaml`, TiUP's client
/// certificate's CN (`<name>-client`), the topology file's name, else `cluster`.
fn cluster_name(
    opts: &TiupOptions,
    topo: Option<&topology::Topology>,
    tls_dir: Option<&tlsdir::TlsDir>,
) -> String {
    opts.cluster_name
        .clone()
        .or_else(|| topo.and_then(|t| t.meta_name.clone()))
        .or_else(|| tls_dir.and_then(tlsdir::TlsDir::cluster_from_client_cn))
        .or_else(|| {
            opts.topology
                .as_ref()
                .and_then(|p| p.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "cluster".to_string())
}

/// The CA callers trust: `--ca`, else the TLS folder's.
fn trusted_ca(opts: &TiupOptions, tls_dir: Option<&tlsdir::TlsDir>) -> Option<Located<PathBuf>> {
    match (&opts.ca, tls_dir) {
        (Some(p), _) => Some(Located {
            value: p.clone(),
            source: "--ca".to_string(),
        }),
        (None, Some(d)) => d.ca.clone().map(|p| Located {
            source: p.display().to_string(),
            value: p,
        }),
        _ => None,
    }
}

/// The topology's `enable_tls` and instances, each with the version `--cluster-version` or
/// the topology gives it; the topology's notes go to `notes`.
fn topology_instances(
    opts: &TiupOptions,
    t: topology::Topology,
    notes: &mut Vec<Finding>,
) -> (Option<Located<bool>>, Vec<Instance>) {
    notes.extend(t.notes.iter().cloned());
    let version = opts.version.or(t.version);
    let mut instances = t.instances;
    for i in &mut instances {
        if opts.version.is_some() || i.version.is_none() {
            i.version = version;
        }
    }
    (t.tls, instances)
}

/// Whether `key` is the key of the first certificate in `cert`.
fn key_signs(cert: &Path, key: &Path) -> bool {
    use crate::pki::load;
    let (Ok(chain), Ok(der)) = (
        load::load_certs(cert, load::CertRole::Ca),
        load::load_key(key),
    ) else {
        return false;
    };
    crate::pki::Identity::from_der("ca", chain.into_iter().take(1).collect(), der).is_ok()
}

/// The closest of `candidates` to `word`, for "did you mean".
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= 3.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance of two strings, by characters (a misspelled key, a misspelled CN).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A cluster read from topology text, for tests: the folder it lives in and the cluster.
#[cfg(test)]
pub(crate) fn test_cluster(yaml: &str) -> (tempfile::TempDir, Cluster) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("prod.yaml");
    std::fs::write(&p, yaml).unwrap();
    let c = Cluster::load(&TiupOptions {
        topology: Some(p),
        ..Default::default()
    })
    .unwrap();
    (dir, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder with a CA, a TiKV certificate (serverAuth) and `tikv.toml` naming `security`.
    fn drift_files(security: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let ca = crate::pki::mint::Ca::generate("t", 1).unwrap();
        let leaf = ca
            .issue("tikv", &["127.0.0.1".to_string()], true, 30)
            .unwrap();
        std::fs::write(dir.path().join("ca.crt"), &ca.pem).unwrap();
        std::fs::write(dir.path().join("tikv.crt"), &leaf.cert_pem).unwrap();
        let toml = dir.path().join("tikv.toml");
        std::fs::write(
            &toml,
            format!("[server]\nadvertise-addr = \"127.0.0.1:20160\"\nadvertise-status-addr = \"127.0.0.1:20180\"\n{security}"),
        )
        .unwrap();
        (dir, toml)
    }

    fn drift_endpoints(opts: &TiupOptions) -> Vec<Endpoint> {
        let c = Cluster::load(opts).unwrap();
        c.inventory(AuditOptions::default()).unwrap().0.endpoints
    }

    #[test]
    fn a_component_configs_readable_paths_are_its_endpoints_drift_files() {
        let (dir, toml) =
            drift_files("[security]\nca-path = \"ca.crt\"\ncert-path = \"tikv.crt\"\n");
        let opts = TiupOptions {
            component_configs: vec![ConfigArg::file(None, toml)],
            ca: Some(dir.path().join("ca.crt")),
            ..Default::default()
        };
        let eps = drift_endpoints(&opts);
        assert_eq!(eps.len(), 2);
        for e in &eps {
            assert_eq!(
                e.cert_file.as_deref(),
                Some(dir.path().join("tikv.crt").as_path())
            );
            assert_eq!(
                e.ca_file.as_deref(),
                Some(dir.path().join("ca.crt").as_path())
            );
        }
        // Paths of the server, not readable here: no drift files.
        let (dir, toml) = drift_files(
            "[security]\nca-path = \"/nowhere/ca.crt\"\ncert-path = \"/nowhere/tikv.crt\"\n",
        );
        let opts = TiupOptions {
            component_configs: vec![ConfigArg::file(None, toml)],
            ca: Some(dir.path().join("ca.crt")),
            ..Default::default()
        };
        assert!(drift_endpoints(&opts)
            .iter()
            .all(|e| e.cert_file.is_none() && e.ca_file.is_none()));
    }

    /// A topology of two TiKV instances, and for each a config without addresses (as TiUP
    /// writes them) naming its own certificate: (folder, topology, [config of each]).
    fn two_tikvs() -> (tempfile::TempDir, PathBuf, [PathBuf; 2]) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let topo = d.join("topology.yaml");
        std::fs::write(
            &topo,
            "tikv_servers:\n  - host: 10.0.1.1\n  - host: 10.0.1.2\n",
        )
        .unwrap();
        let ca = crate::pki::mint::Ca::generate("t", 1).unwrap();
        std::fs::write(d.join("ca.crt"), &ca.pem).unwrap();
        let configs = ["10.0.1.1", "10.0.1.2"].map(|host| {
            let conf = d
                .join("fetched")
                .join(format!("tikv-{host}-20160"))
                .join("conf");
            std::fs::create_dir_all(&conf).unwrap();
            let leaf = ca.issue("tikv", &[host.to_string()], true, 30).unwrap();
            std::fs::write(conf.join("tikv.crt"), &leaf.cert_pem).unwrap();
            let toml = conf.join("tikv.toml");
            std::fs::write(&toml, "[security]\ncert-path = \"tikv.crt\"\n").unwrap();
            toml
        });
        (dir, topo, configs)
    }

    /// Each endpoint's drift file, by address.
    fn cert_files(opts: &TiupOptions) -> Vec<(String, Option<PathBuf>)> {
        drift_endpoints(opts)
            .into_iter()
            .map(|e| (e.address, e.cert_file))
            .collect()
    }

    #[test]
    fn a_config_is_a_drift_file_only_of_the_instance_it_is_bound_to() {
        let (dir, topo, configs) = two_tikvs();
        let base = TiupOptions {
            topology: Some(topo),
            ca: Some(dir.path().join("ca.crt")),
            ..Default::default()
        };
        // Unbound, each file applies to both instances (CONFIG_APPLIED_TO_ALL): neither is
        // compared with it, so neither can be a false CERT_NOT_RELOADED.
        let unbound = TiupOptions {
            component_configs: configs
                .iter()
                .map(|c| ConfigArg::file(None, c.clone()))
                .collect(),
            ..base.clone()
        };
        assert!(cert_files(&unbound).iter().all(|(_, f)| f.is_none()));
        let mine = |addr: &str, files: &[(String, Option<PathBuf>)]| {
            let host = addr.split(':').next().unwrap();
            files
                .iter()
                .filter(|(a, _)| a.starts_with(host))
                .all(|(_, f)| {
                    f.as_ref()
                        .is_some_and(|f| f.to_string_lossy().contains(&format!("tikv-{host}-")))
                })
        };
        // Bound by node ID and by TiUP name: each instance's own file.
        let bound = TiupOptions {
            component_configs: vec![
                ConfigArg {
                    kind: Some(ConfigKind::Tikv),
                    path: configs[0].clone(),
                    instance: Some("10.0.1.1:20160".into()),
                },
                ConfigArg {
                    kind: Some(ConfigKind::Tikv),
                    path: configs[1].clone(),
                    instance: Some("tikv-10.0.1.2-20160".into()),
                },
            ],
            ..base.clone()
        };
        let files = cert_files(&bound);
        assert!(
            mine("10.0.1.1", &files) && mine("10.0.1.2", &files),
            "{files:?}"
        );
        // A folder laid out per instance: the same.
        let folder = TiupOptions {
            component_configs: vec![ConfigArg::file(None, dir.path().join("fetched"))],
            ..base.clone()
        };
        assert_eq!(cert_files(&folder), files);
        // A binding to no instance: a warning, and the file is not applied.
        let stray = TiupOptions {
            component_configs: vec![ConfigArg {
                kind: Some(ConfigKind::Tikv),
                path: configs[0].clone(),
                instance: Some("10.9.9.9:20160".into()),
            }],
            ..base
        };
        let c = Cluster::load(&stray).unwrap();
        assert!(
            c.notes.iter().any(|n| n.code == Code::ConfigNotMatched),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn the_tls_folders_role_certificate_is_the_single_instances_drift_file() {
        let (dir, toml) = drift_files("");
        let opts = TiupOptions {
            component_configs: vec![ConfigArg::file(None, toml.clone())],
            tls_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let eps = drift_endpoints(&opts);
        assert!(eps
            .iter()
            .all(|e| e.cert_file.as_deref() == Some(dir.path().join("tikv.crt").as_path())));
        // A client certificate copied as tikv.crt is a caller's, not the server's.
        let ca = crate::pki::mint::Ca::generate("t", 1).unwrap();
        std::fs::write(dir.path().join("ca.crt"), &ca.pem).unwrap();
        std::fs::write(
            dir.path().join("tikv.crt"),
            ca.issue("tikv", &[], false, 30).unwrap().cert_pem,
        )
        .unwrap();
        assert!(drift_endpoints(&opts).iter().all(|e| e.cert_file.is_none()));
    }

    #[test]
    fn every_kind_has_a_name_and_the_hint_lists_them_all() {
        let hint = ConfigKind::names_hint();
        for k in ConfigKind::ALL {
            assert_eq!(ConfigKind::from_name(k.name()), Ok(k));
            assert!(hint.contains(k.name()), "{hint} lacks {k:?}");
        }
        assert_eq!(ConfigKind::from_name("cdc"), Ok(ConfigKind::Ticdc));
        assert_eq!(
            hint,
            "use pd, tidb, tikv, tiflash, tiflash-learner, ticdc or tiproxy"
        );
        assert_eq!(ConfigKind::from_name("nope"), Err(hint));
    }

    #[test]
    fn names_and_kinds() {
        assert_eq!(
            ConfigKind::detect(Path::new("/x/tiflash-learner.toml")),
            Some(ConfigKind::TiflashLearner)
        );
        assert_eq!(
            ConfigKind::detect(Path::new("tikv-2.toml")),
            Some(ConfigKind::Tikv)
        );
        assert_eq!(
            ConfigKind::detect(Path::new("cdc.toml")),
            Some(ConfigKind::Ticdc)
        );
        assert_eq!(
            ConfigKind::detect(Path::new("conf/tiproxy.toml")),
            Some(ConfigKind::Tiproxy)
        );
        assert_eq!(ConfigKind::detect(Path::new("x.toml")), None);
        assert_eq!(addr_label("10.0.1.1:2379"), "10.0.1.1-2379");
        assert_eq!(addr_label("[::1]:2379"), "::1-2379");
        assert_eq!(join_host_port("::1", 1), "[::1]:1");
        assert_eq!(
            did_you_mean("tikv_server", &["tikv_servers", "pd_servers"]),
            Some("tikv_servers")
        );
        assert_eq!(did_you_mean("zzzzzzzz", &["pd_servers"]), None);
    }
}
