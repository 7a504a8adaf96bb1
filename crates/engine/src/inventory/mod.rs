//! The cluster inventory: the CA, the caller identities and the endpoints with their allow-lists,
//! read from `tlsaudit.toml` (see `docs/configuration.md`). Unknown keys are errors; every error
//! names the file, line and column; relative paths resolve against the file's folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::InputError;
use crate::probe::{validate_address, Protocol, Timeouts};

pub mod names;
pub mod rotation;
mod scope;
use crate::profile::{self, CertPolicy, ClientAuth, Component, Policy, Profile, Role, Version};
pub use scope::Scope;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    cluster: RawCluster,
    #[serde(default)]
    probe: RawProbe,
    #[serde(default)]
    identities: toml::map::Map<String, toml::Value>,
    #[serde(default)]
    endpoints: Vec<RawEndpoint>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    name: Spanned<String>,
    ca: Spanned<PathBuf>,
    ca_key: Option<Spanned<PathBuf>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    anonymous: Option<bool>,
    foreign: Option<bool>,
    unlisted: Option<bool>,
    timeout: Option<Spanned<String>>,
    concurrency: Option<Spanned<usize>>,
    per_host: Option<Spanned<usize>>,
    expiry_warning_days: Option<u32>,
    allow_unreachable: Option<bool>,
    rate: Option<Spanned<u32>>,
    scan: Option<bool>,
    scan_interval: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    cert: PathBuf,
    key: PathBuf,
    component: Option<Component>,
    expect: Option<RawExpect>,
}

/// What the inventory says every endpoint must do with an identity: `expect = "refuse"` declares
/// it an outsider (an intruder's certificate issued by the cluster CA).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawExpect {
    Refuse,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    name: Spanned<String>,
    component: Component,
    role: Option<Spanned<String>>,
    address: Spanned<String>,
    server_name: Option<String>,
    protocol: Option<Protocol>,
    path: Option<Spanned<String>>,
    allowed_cn: Option<Vec<String>>,
    version: Option<Spanned<String>>,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
    client_auth: Option<Spanned<String>>,
    needed_by: Option<Vec<Spanned<String>>>,
    cert_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
}

/// What an inventory was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// A `tlsaudit.toml` written by hand.
    #[default]
    Inventory,
    /// A TiUP topology (`meta.yaml`, `topology.yaml`) and the component configs.
    Topology,
}

impl Origin {
    /// The input, in the words of a finding: "the inventory", "the topology".
    pub fn noun(self) -> &'static str {
        match self {
            Origin::Inventory => "the inventory",
            Origin::Topology => "the topology",
        }
    }
}

/// A caller identity from the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityEntry {
    pub name: String,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The component this identity is (decides which links it needs); from `component` or the
    /// name.
    pub component: Option<Component>,
    /// Declared an outsider (`expect = "refuse"`): every endpoint must refuse it.
    pub outsider: bool,
}

/// An endpoint, with its profile resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub component: Component,
    pub role: Role,
    pub address: String,
    pub server_name: Option<String>,
    pub protocol: Protocol,
    pub path: Option<String>,
    /// The callee's allow-list as configured; empty when none is set.
    pub allowed_cn: Vec<String>,
    /// Where the list is set, in words, when the input says (a topology's layer:
    /// `the config of tikv_servers[1] (10.0.1.2:20160) at prod.yaml:18:7`): where a fix edits.
    pub list_at: Option<String>,
    pub version: Option<Version>,
    pub profile: &'static Profile,
    /// Free-form labels (`labels = { rack = "r1", zone = "az1" }`): the dashboard groups by
    /// them.
    pub labels: std::collections::BTreeMap<String, String>,
    /// The endpoint's own client-certificate policy, overriding the profile's (`client_auth`).
    pub client_auth: Option<ClientAuth>,
    /// Inventory identities that need this link (`needed_by`), besides those the profile's
    /// `needs` names: refusing them is an outage (`blocked`), not enforcement.
    pub needed_by: Vec<String>,
    /// The server certificate file the component is configured with, as readable on this
    /// host (`cert_file`; a component config's cert path, TiUP's `<role>.crt`): the rotation
    /// drift check compares it with the certificate the endpoint serves.
    pub cert_file: Option<PathBuf>,
    /// The CA file the component is configured with (`ca_file`), for the drift check: the CA
    /// is read only at start.
    pub ca_file: Option<PathBuf>,
    /// The leaf a rotation issued for the endpoint's instance (`--expect-rotation`): the drift
    /// check compares it with the certificate the endpoint serves.
    pub rotation: Option<rotation::Expected>,
}

impl Endpoint {
    pub fn host(&self) -> &str {
        crate::probe::host_of(&self.address)
    }

    /// The name the server certificate is verified for: `server_name`, else the host dialed
    /// (what the components themselves verify).
    pub fn verified_name(&self) -> &str {
        self.server_name.as_deref().unwrap_or_else(|| self.host())
    }

    /// When the endpoint asks for a client certificate: its `client_auth`, else its profile's.
    pub fn cert_policy(&self) -> CertPolicy {
        self.client_auth
            .map_or(self.profile.cert_policy, ClientAuth::cert_policy)
    }

    /// How the endpoint treats callers, with its list, version, path and `client_auth`.
    pub fn policy(&self) -> Policy {
        self.profile.policy_with(
            self.cert_policy(),
            &self.allowed_cn,
            self.version,
            self.path.as_deref(),
        )
    }

    /// The client-certificate policy in force, in the inventory's words.
    pub fn effective_client_auth(&self) -> ClientAuth {
        if let Some(c) = self.client_auth {
            return c;
        }
        match self.cert_policy() {
            CertPolicy::Optional => ClientAuth::Optional,
            CertPolicy::Never => ClientAuth::None,
            CertPolicy::Always | CertPolicy::WithList if self.policy().requires_cert => {
                ClientAuth::Required
            }
            CertPolicy::Always | CertPolicy::WithList => ClientAuth::None,
        }
    }
}

/// How the audit runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    pub anonymous: bool,
    pub foreign: bool,
    pub unlisted: bool,
    pub timeouts: Timeouts,
    pub concurrency: usize,
    pub per_host: usize,
    pub expiry_warning_days: u32,
    /// An endpoint no probe reached is a warning, not a critical finding (by default an audit
    /// that could not see a listed endpoint does not pass).
    pub allow_unreachable: bool,
    /// Probes started per second at most (none: as fast as the concurrency limits allow).
    pub rate: Option<u32>,
    /// What a `--component` / `--endpoint` / `--identity` scope left out, in words.
    pub scope_notes: Vec<String>,
    /// The audit account for the SQL ports (from `--mysql-user`; never from the file).
    pub mysql_account: Option<crate::probe::mysql::MysqlAccount>,
    /// Components to mint an identity for from the CA key (needs `ca_key`), with the CN TiUP
    /// gives them: the TiUP import sets those present whose own certificate is not readable.
    pub minted: Vec<Component>,
    /// The TLS hygiene scan of every endpoint (versions and suites accepted): how often a
    /// long-running audit (`serve`, the dashboard) repeats it; the first round always scans.
    /// `None`: no scan (`[probe] scan = false`, `--no-scan`).
    pub scan: Option<Duration>,
}

/// How often `serve` and the dashboard repeat the hygiene scan by default: what it watches
/// (a server's versions and suites) changes with a deployment, not from minute to minute.
pub const SCAN_INTERVAL: Duration = Duration::from_secs(3600);

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            anonymous: true,
            foreign: true,
            unlisted: true,
            timeouts: Timeouts::default(),
            concurrency: 64,
            per_host: 16,
            expiry_warning_days: 30,
            allow_unreachable: false,
            rate: None,
            scope_notes: Vec::new(),
            mysql_account: None,
            minted: Vec::new(),
            scan: Some(SCAN_INTERVAL),
        }
    }
}

/// The validated inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub source: Option<PathBuf>,
    /// What the endpoints and lists were read from: the words findings use for it.
    pub origin: Origin,
    pub cluster: String,
    pub ca: PathBuf,
    pub ca_key: Option<PathBuf>,
    pub identities: Vec<IdentityEntry>,
    pub endpoints: Vec<Endpoint>,
    pub options: AuditOptions,
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.chars().count(), |i| before[i + 1..].chars().count())
        + 1;
    (line, col)
}

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn at(
        &self,
        span: std::ops::Range<usize>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> InputError {
        let (line, column) = line_col(self.text, span.start);
        InputError::Config {
            path: self.path.to_path_buf(),
            line,
            column,
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// Refuse a name (or path) holding a control, bidi or invisible character, at its place.
    fn check_name(&self, what: &str, s: &Spanned<String>) -> Result<(), InputError> {
        names::check(what, s.get_ref()).map_err(|m| self.at(s.span(), m, names::FIX))
    }

    /// Refuse an identity name holding a refused character: a table key has no span, so the
    /// place is its header (found by the name as written, or the first escaped header).
    fn check_identity_name(&self, name: &str) -> Result<(), InputError> {
        names::check("the identity name", name).map_err(|m| {
            let span = self
                .text
                .find(name)
                .map(|i| i..i)
                .or_else(|| {
                    let i = find_table(self.text, &format!("identities.{name}")).start;
                    (i > 0).then_some(i..i)
                })
                .or_else(|| {
                    self.text
                        .match_indices("[identities.\"")
                        .map(|(i, _)| i)
                        .find(|&i| {
                            self.text[i..]
                                .lines()
                                .next()
                                .is_some_and(|l| l.contains('\\'))
                        })
                        .map(|i| i..i)
                })
                .unwrap_or(0..0);
            self.at(span, m, names::FIX)
        })
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.path.parent().unwrap_or_else(|| Path::new(".")).join(p)
        }
    }
}

impl Inventory {
    /// Read and validate an inventory file.
    pub fn load(path: &Path) -> Result<Inventory, InputError> {
        let text = crate::fsutil::read_text_capped(path, crate::fsutil::MAX_CONFIG)?;
        Inventory::parse(&text, path)
    }

    /// Parse inventory text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Inventory, InputError> {
        let ctx = Ctx { path, text };
        let raw = ctx.raw_config()?;
        ctx.check_name("the cluster name", &raw.cluster.name)?;
        let identities = ctx.identities(raw.identities)?;
        let endpoints = ctx.endpoints(raw.endpoints, &identities)?;
        let options = ctx.options(raw.probe)?;
        Ok(Inventory {
            origin: Origin::Inventory,
            source: Some(path.to_path_buf()),
            cluster: raw.cluster.name.into_inner(),
            ca: ctx.resolve(raw.cluster.ca.get_ref()),
            ca_key: raw.cluster.ca_key.map(|k| ctx.resolve(k.get_ref())),
            identities,
            endpoints,
            options,
        })
    }

    /// A per-phase deadline override from the command line.
    pub fn set_timeout(&mut self, d: Duration) {
        self.options.timeouts = Timeouts::uniform(d);
    }

    /// Keep only the endpoints and identities `scope` names; what is left out is said in
    /// `options.scope_notes` (every output lists it under "not checked"). A name the
    /// inventory does not have is an error that lists the names it has.
    pub fn restrict(&mut self, scope: &Scope) -> Result<(), InputError> {
        scope::restrict(self, scope)
    }
}

/// The parsing steps of [`Inventory::parse`], in the order they run.
impl Ctx<'_> {
    /// Deserialize the file into its raw tables, with a fix hint for the TOML error.
    fn raw_config(&self) -> Result<RawConfig, InputError> {
        toml::from_str(self.text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let msg = e.message().trim().to_string();
            let fix = if msg.contains("unknown field") {
                "remove or rename the key; see docs/configuration.md for the keys each table takes"
            } else if msg.contains("missing field") {
                "add the key; see docs/configuration.md"
            } else {
                "fix the TOML syntax or the value's type"
            };
            self.at(span, msg, fix)
        })
    }

    /// The `[identities.*]` tables, with their paths resolved; the audit's own probe names are
    /// reserved.
    fn identities(
        &self,
        raw: toml::map::Map<String, toml::Value>,
    ) -> Result<Vec<IdentityEntry>, InputError> {
        let mut identities = Vec::new();
        for (name, value) in raw {
            self.check_identity_name(&name)?;
            let id: RawIdentity = value.try_into().map_err(|e: toml::de::Error| {
                let span = find_table(self.text, &format!("identities.{name}"));
                self.at(
                    span,
                    format!("identity {name:?}: {}", e.message().trim()),
                    "an identity takes cert, key and optionally component and expect = \"refuse\" (an outsider)",
                )
            })?;
            let outsider = matches!(id.expect, Some(RawExpect::Refuse));
            identities.push(IdentityEntry {
                // An outsider is no component, whatever its name says.
                component: id
                    .component
                    .or_else(|| Component::from_identity_name(&name))
                    .filter(|_| !outsider),
                outsider,
                name,
                cert: self.resolve(&id.cert),
                key: self.resolve(&id.key),
            });
        }
        for reserved in ["anonymous", "foreign", "unlisted"] {
            if identities.iter().any(|i| i.name == reserved) {
                return Err(self.at(
                    find_table(self.text, &format!("identities.{reserved}")),
                    format!(
                        "the identity name {reserved:?} is reserved for the audit's own probes"
                    ),
                    "rename the identity",
                ));
            }
        }
        Ok(identities)
    }

    /// The `[[endpoints]]` entries, in file order; names must be unique.
    fn endpoints(
        &self,
        raw: Vec<RawEndpoint>,
        identities: &[IdentityEntry],
    ) -> Result<Vec<Endpoint>, InputError> {
        let mut endpoints = Vec::new();
        let mut names = BTreeSet::new();
        for e in raw {
            endpoints.push(self.endpoint(e, &mut names, identities)?);
        }
        Ok(endpoints)
    }

    /// One endpoint: its name (recorded in `names`), role, address, version, protocol, path,
    /// `client_auth` and `needed_by` (names of `identities`).
    fn endpoint(
        &self,
        e: RawEndpoint,
        names: &mut BTreeSet<String>,
        identities: &[IdentityEntry],
    ) -> Result<Endpoint, InputError> {
        self.check_name("the endpoint name", &e.name)?;
        if let Some(p) = &e.path {
            self.check_name("the HTTP path", p)?;
        }
        let name = e.name.get_ref().clone();
        // A name of spaces only reads as no name in every table: refused like "".
        if name.trim().is_empty() || !names.insert(name.clone()) {
            return Err(self.at(
                e.name.span(),
                format!("endpoint name {name:?} is empty, blank or used twice"),
                "give every endpoint a unique name that is not only spaces",
            ));
        }
        let role = self.role(e.component, e.role.as_ref())?;
        let profile = role.profile();
        validate_address(e.address.get_ref()).map_err(|m| {
            self.at(
                e.address.span(),
                m,
                "write the address as HOST:PORT, e.g. 10.0.1.11:2379",
            )
        })?;
        let version = match &e.version {
            Some(v) => Some(Version::parse(v.get_ref()).ok_or_else(|| {
                self.at(
                    v.span(),
                    format!("{:?} is not a version", v.get_ref()),
                    "write it as v8.5.0 or 8.5",
                )
            })?),
            None => None,
        };
        let allowed_cn = e.allowed_cn.unwrap_or_default();
        let client_auth = self.client_auth(e.client_auth.as_ref(), &allowed_cn)?;
        let needed_by = self.needed_by(e.needed_by.unwrap_or_default(), identities)?;
        let protocol = e.protocol.unwrap_or(profile.protocol);
        let path = e.path.map(Spanned::into_inner).or_else(|| {
            (protocol == Protocol::Http).then(|| profile.path.unwrap_or("/").to_string())
        });
        Ok(Endpoint {
            name,
            component: e.component,
            role,
            address: e.address.into_inner(),
            server_name: e.server_name,
            protocol,
            path,
            allowed_cn,
            list_at: None,
            version,
            profile,
            labels: e.labels,
            client_auth,
            needed_by,
            cert_file: e.cert_file.map(|p| self.resolve(&p)),
            ca_file: e.ca_file.map(|p| self.resolve(&p)),
            rotation: None,
        })
    }

    /// `client_auth = "required" | "optional" | "none"`; `none` with an allow-list is a
    /// contradiction.
    fn client_auth(
        &self,
        raw: Option<&Spanned<String>>,
        allowed_cn: &[String],
    ) -> Result<Option<ClientAuth>, InputError> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let words = ClientAuth::ALL.map(ClientAuth::as_str).join(", ");
        let c = ClientAuth::parse(raw.get_ref()).ok_or_else(|| {
            self.at(
                raw.span(),
                format!(
                    "client_auth {:?} is not a client-certificate policy",
                    raw.get_ref()
                ),
                format!("use one of: {words}"),
            )
        })?;
        if c == ClientAuth::None && !allowed_cn.is_empty() {
            return Err(self.at(
                raw.span(),
                "client_auth = \"none\" but allowed_cn is set: an endpoint that asks for no certificate cannot check a CN",
                "use client_auth = \"required\" (or \"optional\"), or drop allowed_cn",
            ));
        }
        Ok(Some(c))
    }

    /// `needed_by = ["tidb", ...]`: names of the inventory's identities.
    fn needed_by(
        &self,
        raw: Vec<Spanned<String>>,
        identities: &[IdentityEntry],
    ) -> Result<Vec<String>, InputError> {
        let mut out = Vec::new();
        for n in raw {
            if !identities.iter().any(|i| &i.name == n.get_ref()) {
                let known: Vec<&str> = identities.iter().map(|i| i.name.as_str()).collect();
                return Err(self.at(
                    n.span(),
                    format!(
                        "needed_by names {:?}, which is not an identity of this inventory",
                        n.get_ref()
                    ),
                    if known.is_empty() {
                        "add an [identities.NAME] table, or drop needed_by".to_string()
                    } else {
                        format!("use one of: {}", known.join(", "))
                    },
                ));
            }
            if !out.contains(n.get_ref()) {
                out.push(n.into_inner());
            }
        }
        Ok(out)
    }

    /// An endpoint's role: the component's default, or the named one if the component has it.
    fn role(
        &self,
        component: Component,
        role: Option<&Spanned<String>>,
    ) -> Result<Role, InputError> {
        match role {
            None => Ok(Role::default_for(component)),
            Some(r) => Role::parse(component, r.get_ref()).ok_or_else(|| {
                let names: Vec<_> = profile::roles(component)
                    .iter()
                    .map(|r| r.as_str())
                    .collect();
                self.at(
                    r.span(),
                    format!("{} has no role {:?}", component.title(), r.get_ref()),
                    format!("use one of: {}", names.join(", ")),
                )
            }),
        }
    }

    /// A duration of the `[probe]` table (more than zero), or an error at its place with `fix`.
    fn duration(&self, t: &Spanned<String>, fix: &str) -> Result<Duration, InputError> {
        humantime::parse_duration(t.get_ref())
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                self.at(
                    t.span(),
                    format!("{:?} is not a duration", t.get_ref()),
                    fix,
                )
            })
    }

    /// The `[probe]` table over the defaults.
    fn options(&self, p: RawProbe) -> Result<AuditOptions, InputError> {
        let mut options = AuditOptions {
            anonymous: p.anonymous.unwrap_or(true),
            foreign: p.foreign.unwrap_or(true),
            unlisted: p.unlisted.unwrap_or(true),
            ..AuditOptions::default()
        };
        if let Some(t) = p.timeout {
            let d = self.duration(&t, "write it like \"5s\" or \"500ms\"")?;
            if d > crate::probe::MAX_TIMEOUT {
                return Err(self.at(
                    t.span(),
                    format!(
                        "{:?} is longer than the maximum timeout, {}",
                        t.get_ref(),
                        humantime::format_duration(crate::probe::MAX_TIMEOUT)
                    ),
                    "write a timeout of at most \"1h\" (a few seconds is usual)",
                ));
            }
            options.timeouts = Timeouts::uniform(d);
        }
        for (field, target) in [
            (p.concurrency, &mut options.concurrency),
            (p.per_host, &mut options.per_host),
        ] {
            if let Some(v) = field {
                if *v.get_ref() == 0 {
                    return Err(self.at(v.span(), "must be at least 1", "use a positive number"));
                }
                if *v.get_ref() > crate::probe::limits::MAX_CONCURRENCY {
                    return Err(self.at(
                        v.span(),
                        format!("must be at most {}", crate::probe::limits::MAX_CONCURRENCY),
                        "use a smaller number (the open-file limit caps it anyway)",
                    ));
                }
                *target = *v.get_ref();
            }
        }
        if let Some(d) = p.expiry_warning_days {
            options.expiry_warning_days = d;
        }
        if let Some(a) = p.allow_unreachable {
            options.allow_unreachable = a;
        }
        if let Some(r) = p.rate {
            if *r.get_ref() == 0 {
                return Err(self.at(
                    r.span(),
                    "rate must be at least 1 probe per second",
                    "use a positive number, or drop rate for no limit",
                ));
            }
            options.rate = Some(*r.get_ref());
        }
        if let Some(t) = p.scan_interval {
            options.scan = Some(self.duration(&t, "write it like \"1h\" or \"30m\"")?);
        }
        if p.scan == Some(false) {
            options.scan = None;
        }
        Ok(options)
    }
}

/// Where `[name]` (a table header) starts, for errors about a whole table.
fn find_table(text: &str, name: &str) -> std::ops::Range<usize> {
    let header = format!("[{name}]");
    text.find(&header).map_or(0..0, |i| i..i + header.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[cluster]
name = "prod"
ca = "tls/ca.crt"

[identities.tidb]
cert = "tls/tidb.crt"
key = "tls/tidb.pem"

[[endpoints]]
name = "pd-1"
component = "pd"
address = "10.0.1.11:2379"
allowed_cn = ["tidb", "pd"]

[[endpoints]]
name = "tikv-1-status"
component = "tikv"
role = "status"
address = "10.0.1.21:20180"
version = "v8.5.0"
"#;

    #[test]
    fn parses_and_resolves_paths_and_defaults() {
        let inv = Inventory::parse(GOOD, Path::new("/etc/tlsaudit/tlsaudit.toml")).unwrap();
        assert_eq!(inv.ca, PathBuf::from("/etc/tlsaudit/tls/ca.crt"));
        assert_eq!(inv.identities[0].component, Some(Component::Tidb));
        assert_eq!(inv.endpoints[0].role, crate::profile::Role::PdClient);
        assert_eq!(inv.endpoints[0].protocol, Protocol::Tls);
        assert_eq!(inv.endpoints[1].protocol, Protocol::Http);
        assert_eq!(inv.endpoints[1].path.as_deref(), Some("/engine_type"));
        assert_eq!(inv.endpoints[1].version, Some(Version(8, 5)));
    }

    /// The error's position and message for an inventory.
    fn refused(text: &str) -> (usize, usize, String) {
        match Inventory::parse(text, Path::new("t.toml")).unwrap_err() {
            InputError::Config {
                line,
                column,
                problem,
                ..
            } => (line, column, problem),
            e => panic!("{e}"),
        }
    }

    #[test]
    fn the_scan_is_on_every_hour_by_default_and_the_probe_table_sets_it() {
        let inv = Inventory::parse(GOOD, Path::new("t.toml")).unwrap();
        assert_eq!(inv.options.scan, Some(SCAN_INTERVAL));
        let with = |probe: &str| {
            GOOD.replacen(
                "[[endpoints]]",
                &format!("[probe]\n{probe}\n\n[[endpoints]]"),
                1,
            )
        };
        let every = Inventory::parse(&with("scan_interval = \"6h\""), Path::new("t.toml")).unwrap();
        assert_eq!(every.options.scan, Some(Duration::from_secs(6 * 3600)));
        let off = Inventory::parse(&with("scan = false"), Path::new("t.toml")).unwrap();
        assert_eq!(off.options.scan, None);
        let (line, col, m) = refused(&with("scan_interval = \"hourly\""));
        assert_eq!((line, col), (11, 17), "{m}");
        assert!(m.contains("\"hourly\" is not a duration"), "{m}");
    }

    #[test]
    fn names_with_control_or_bidi_characters_are_refused_where_they_are() {
        // An OSC title sequence (written as TOML escapes), then U+202E written raw.
        let osc = GOOD.replace("\"pd-1\"", "\"pd\\u001b]2;PWNED\\u0007-1\"");
        let (line, col, m) = refused(&osc);
        assert_eq!((line, col), (11, 8), "{m}");
        assert!(
            m.contains("endpoint name holds the control character U+001B"),
            "{m}"
        );
        assert!(!m.contains('\x1b'));
        let bidi = GOOD.replace("\"tikv-1-status\"", "\"tikv\u{202e}1\"");
        let (line, col, m) = refused(&bidi);
        assert_eq!((line, col), (17, 8), "{m}");
        assert!(m.contains("U+202E"), "{m}");
        let cluster = GOOD.replace("\"prod\"", "\"prod\\u009b31m\"");
        assert_eq!(refused(&cluster).0, 3);
        let identity = GOOD.replace("[identities.tidb]", "[identities.\"ti\\u001bdb\"]");
        let (line, col, m) = refused(&identity);
        assert_eq!((line, col), (6, 1), "{m}");
        assert!(m.contains("identity name"), "{m}");
    }

    #[test]
    fn an_http_path_with_cr_or_lf_is_refused_where_it_is() {
        for esc in ["\\r\\nX-Evil: 1", "\\n", "\\u0000", "\\t"] {
            let text = GOOD.replace(
                "version = \"v8.5.0\"",
                &format!("version = \"v8.5.0\"\npath = \"/status{esc}\""),
            );
            let (line, col, m) = refused(&text);
            assert_eq!((line, col), (22, 8), "{m}");
            assert!(
                m.contains("the HTTP path holds the control character"),
                "{m}"
            );
        }
    }

    #[test]
    fn labels_are_optional_and_kept() {
        let text = GOOD.replace(
            "version = \"v8.5.0\"",
            "version = \"v8.5.0\"\nlabels = { rack = \"r12\", zone = \"az1\" }",
        );
        let inv = Inventory::parse(&text, Path::new("t.toml")).unwrap();
        assert!(inv.endpoints[0].labels.is_empty());
        assert_eq!(
            inv.endpoints[1].labels.get("rack").map(String::as_str),
            Some("r12")
        );
        assert_eq!(inv.endpoints[1].labels.len(), 2);
        let bad = GOOD.replace("version = \"v8.5.0\"", "labels = { rack = 12 }");
        assert!(Inventory::parse(&bad, Path::new("t.toml")).is_err());
    }

    fn err(text: &str) -> String {
        Inventory::parse(text, Path::new("t.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn unknown_key_has_line_and_column() {
        let text = GOOD.replace("allowed_cn = [\"tidb\", \"pd\"]", "allowed-cn = [\"tidb\"]");
        let e = err(&text);
        assert!(e.starts_with("t.toml:14:1: "), "{e}");
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn a_timeout_past_the_maximum_is_refused_with_its_place() {
        let with = |t: &str| format!("{GOOD}\n[probe]\ntimeout = \"{t}\"\n");
        let e = err(&with("18446744073709551615s"));
        assert!(
            e.starts_with("t.toml:24:11: ") && e.contains("maximum timeout, 1h"),
            "{e}"
        );
        assert!(err(&with("61m")).contains("maximum timeout"));
        let inv = Inventory::parse(&with("1h"), Path::new("t.toml")).unwrap();
        assert_eq!(inv.options.timeouts.connect, Duration::from_secs(3600));
    }

    #[test]
    fn bad_role_and_address_are_located() {
        let e = err(&GOOD.replace("role = \"status\"", "role = \"peer\""));
        assert!(
            e.starts_with("t.toml:19:8: ") && e.contains("use one of: grpc, status"),
            "{e}"
        );
        let e = err(&GOOD.replace("10.0.1.11:2379", "10.0.1.11"));
        assert!(
            e.starts_with("t.toml:13:11: ") && e.contains("HOST:PORT"),
            "{e}"
        );
        let e = err(&GOOD.replace("component = \"pd\"", "component = \"pdx\""));
        assert!(e.starts_with("t.toml:12:13: ") && e.contains("pd"), "{e}");
    }

    #[test]
    fn duplicate_names_and_reserved_identities() {
        let e = err(&GOOD.replace("tikv-1-status", "pd-1"));
        assert!(e.contains("used twice"), "{e}");
        let e = err(&GOOD.replace("[identities.tidb]", "[identities.anonymous]"));
        assert!(e.contains("reserved"), "{e}");
    }

    #[test]
    fn client_auth_and_needed_by_are_read_and_checked() {
        let text = GOOD.replace(
            "version = \"v8.5.0\"",
            "version = \"v8.5.0\"\nclient_auth = \"optional\"\nneeded_by = [\"tidb\", \"tidb\"]",
        );
        let inv = Inventory::parse(&text, Path::new("t.toml")).unwrap();
        assert_eq!(inv.endpoints[0].client_auth, None);
        assert!(inv.endpoints[0].needed_by.is_empty());
        assert_eq!(inv.endpoints[1].client_auth, Some(ClientAuth::Optional));
        assert_eq!(inv.endpoints[1].needed_by, vec!["tidb".to_string()]);
        assert_eq!(inv.endpoints[1].cert_policy(), CertPolicy::Optional);

        let e = err(&GOOD.replace("version = \"v8.5.0\"", "client_auth = \"always\""));
        assert!(
            e.starts_with("t.toml:21:15: ") && e.contains("required, optional, none"),
            "{e}"
        );
        let e = err(&GOOD.replace("version = \"v8.5.0\"", "needed_by = [\"tidb\", \"tikv\"]"));
        assert!(
            e.starts_with("t.toml:21:22: ")
                && e.contains("\"tikv\"")
                && e.contains("use one of: tidb"),
            "{e}"
        );
        let e = err(&GOOD.replace(
            "allowed_cn = [\"tidb\", \"pd\"]",
            "allowed_cn = [\"tidb\", \"pd\"]\nclient_auth = \"none\"",
        ));
        assert!(
            e.starts_with("t.toml:15:15: ") && e.contains("allowed_cn"),
            "{e}"
        );
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn a_blank_endpoint_name_is_refused_like_an_empty_one() {
        for name in ["", "  ", "\u{3000}"] {
            let text = format!(
                "[cluster]\nname = \"t\"\nca = \"ca.crt\"\n[[endpoints]]\nname = \"{name}\"\ncomponent = \"tikv\"\naddress = \"127.0.0.1:1\"\n"
            );
            let e = Inventory::parse(&text, Path::new("t.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("t.toml:5:8") && e.contains("blank"),
                "{name:?}: {e}"
            );
        }
    }
}
