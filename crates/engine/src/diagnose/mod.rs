//! `tlsaudit diagnose`: why does this one link fail? A step-by-step trace of one probe
//! (resolution and connect, is it TLS, the handshake, the server's certificate, our side and
//! the server's answer), then variant probes that each change one thing (no certificate,
//! another identity, one TLS version, other ALPN, another server name), and from the
//! differences a verdict that names the cause, the component's config key and file, and the
//! texts the real components print for it.
//!
//! Every variant is a real handshake: a [`probe::probe`] call against the target.

pub mod analyze;
pub mod cause;
pub mod steps;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::audit::{extra_identities, extra_names, AuditIdentity, Expected, Verdict};
use crate::error::InputError;
use crate::inventory::Inventory;
use crate::pki::load::{load_certs, load_key, CertRole};
use crate::pki::{summarize, CertSummary, Identity, IdentityError, Trust};
use crate::probe::{
    self, Caller, IdentityReport, OutcomeClass, ProbeRecord, ProbeSpec, Protocol, Timeouts,
    TlsVersions,
};
use crate::profile::{self, Component, Profile, Role, Version};

pub use cause::{Cause, LogText};

/// Where to probe, and what the tool knows about the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The inventory endpoint name, when the target came from the inventory.
    pub endpoint: Option<String>,
    /// `host:port`.
    pub address: String,
    pub server_name: Option<String>,
    pub protocol: Protocol,
    pub path: Option<String>,
    pub component: Option<Component>,
    pub role: Option<Role>,
    /// True when the component was guessed from the port number.
    pub component_guessed: bool,
    /// The allow-list the inventory declares (empty: none declared).
    pub declared_allowed_cn: Vec<String>,
    pub version: Option<Version>,
}

impl Target {
    /// A bare `host:port` target, speaking `protocol`.
    pub fn address(address: impl Into<String>, protocol: Protocol) -> Target {
        Target {
            endpoint: None,
            address: address.into(),
            server_name: None,
            protocol,
            path: None,
            component: None,
            role: None,
            component_guessed: false,
            declared_allowed_cn: Vec::new(),
            version: None,
        }
    }

    /// The component's profile, when the component (and role) are known.
    pub fn profile(&self) -> Option<&'static Profile> {
        let c = self.component?;
        Some(self.role.unwrap_or_else(|| Role::default_for(c)).profile())
    }

    /// The name the verdict uses for the server: `TiKV (tikv-1)`, or the address.
    pub fn server_label(&self) -> String {
        let who = self
            .component
            .filter(|c| *c != Component::Generic)
            .map(|c| c.title().to_string());
        match (who, &self.endpoint) {
            (Some(w), Some(e)) => format!("{w} ({e})"),
            (Some(w), None) => format!("{w} at {}", self.address),
            (None, Some(e)) => format!("{e} ({})", self.address),
            (None, None) => self.address.clone(),
        }
    }
}

/// A certificate and key that do not belong together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyMismatch {
    pub identity: String,
    pub cert_file: String,
    pub key_file: String,
    /// The certificate, so the trace can still show it.
    pub certificate: CertSummary,
}

/// Everything a diagnosis needs, resolved.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub target: Target,
    pub trust: Trust,
    /// The identity whose link is diagnosed.
    pub caller: Caller,
    /// Set when the caller's key does not match its certificate (the probes then run without
    /// a certificate).
    pub key_mismatch: Option<KeyMismatch>,
    /// The other configured identities (one variant each).
    pub others: Vec<Caller>,
    /// The cluster name (TiUP's client CN is `<cluster>-client`).
    pub cluster: Option<String>,
    pub timeouts: Timeouts,
    /// Things noticed while resolving the inputs (an identity that failed to load, ...).
    pub notes: Vec<String>,
    /// The audit account for a SQL port (`mysql` protocol).
    pub mysql_account: Option<probe::mysql::MysqlAccount>,
    /// What the audit expects of this identity at this endpoint (known when both come from the
    /// inventory): the diagnosis then judges the link exactly as the report's cell.
    pub expected: Option<Expected>,
}

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `HOST:PORT` or an inventory endpoint name.
    pub target: String,
    /// Identity name in the inventory.
    pub as_identity: Option<String>,
    pub config: Option<PathBuf>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub server_name: Option<String>,
    pub protocol: Option<Protocol>,
    pub path: Option<String>,
    pub component: Option<Component>,
    pub role: Option<String>,
    pub timeout: Option<Duration>,
    /// The audit account for a SQL port (`mysql` protocol).
    pub mysql_account: Option<probe::mysql::MysqlAccount>,
    /// An inventory already loaded (from a TiUP topology), instead of `config`.
    pub inventory: Option<Inventory>,
}

/// Load an identity for a diagnosis: a key that does not match is a finding, not an error.
pub fn load_caller(
    name: &str,
    cert: &Path,
    key: &Path,
    trust: &Trust,
) -> Result<(Caller, Option<KeyMismatch>), InputError> {
    let chain = load_certs(cert, CertRole::Leaf)?;
    let key_der = load_key(key)?;
    let first = chain.first().cloned();
    match Identity::from_der(name, chain, key_der) {
        Ok(mut id) => {
            id.cert_path = Some(cert.to_path_buf());
            Ok((Caller::new(id, trust), None))
        }
        Err(IdentityError::Mismatch) => {
            let certificate = first
                .as_ref()
                .and_then(|c| summarize(c.as_ref()).ok())
                .ok_or_else(|| InputError::file(cert, "holds no certificate", "re-export it"))?;
            let id = Identity {
                name: name.to_string(),
                cert_path: Some(cert.to_path_buf()),
                key: None,
                leaf: None,
                chain: Vec::new(),
            };
            Ok((
                Caller::new(id, trust),
                Some(KeyMismatch {
                    identity: name.to_string(),
                    cert_file: cert.display().to_string(),
                    key_file: key.display().to_string(),
                    certificate,
                }),
            ))
        }
        Err(IdentityError::Key(e)) => Err(InputError::file(
            key,
            format!("unusable private key ({e})"),
            "use an RSA, ECDSA or Ed25519 key in PEM",
        )),
        Err(IdentityError::Cert(e)) => Err(InputError::file(cert, e, "re-export the certificate")),
    }
}

/// The component whose default port this is (first role that uses it).
pub fn guess_component(port: u16) -> Option<(Component, Role)> {
    Role::ALL
        .into_iter()
        .filter(|r| !matches!(r.component(), Component::Generic | Component::Etcd))
        .find(|r| r.profile().default_port == port)
        .map(|r| (r.component(), r))
}

fn port_of(address: &str) -> Option<u16> {
    address.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

impl Request {
    /// Resolve the request into inputs: the inventory (explicit, or `./tlsaudit.toml` when no
    /// `--ca` is given) or the `--ca/--cert/--key` flags.
    pub fn resolve(&self) -> Result<Inputs, InputError> {
        if let Some(inv) = &self.inventory {
            let label = inv
                .source
                .clone()
                .unwrap_or_else(|| PathBuf::from("the topology"));
            return self.resolve_loaded(inv, &label);
        }
        let config = match (&self.config, &self.ca) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(_)) => None,
            (None, None) => {
                let default = PathBuf::from("tlsaudit.toml");
                if default.is_file() {
                    Some(default)
                } else {
                    return Err(InputError::usage(
                        "no CA to verify the server with",
                        "give --config tlsaudit.toml (an inventory) or --ca ca.crt [--cert client.crt --key client.pem]",
                    ));
                }
            }
        };
        match config {
            Some(path) => self.resolve_inventory(&path),
            None => self.resolve_flags(),
        }
    }

    fn apply_overrides(&self, t: &mut Target) -> Result<(), InputError> {
        if let Some(s) = &self.server_name {
            t.server_name = Some(s.clone());
        }
        if let Some(c) = self.component {
            t.component = Some(c);
            t.component_guessed = false;
            t.role = None;
        }
        if let Some(r) = &self.role {
            let Some(c) = t.component else {
                return Err(InputError::usage(
                    format!("--role {r} needs a component"),
                    "give --component too (pd, tikv, tidb, tiflash, ticdc, tiproxy, etcd, generic)",
                ));
            };
            let role = Role::parse(c, r).ok_or_else(|| {
                let names: Vec<_> = profile::roles(c).iter().map(|r| r.as_str()).collect();
                InputError::usage(
                    format!("{} has no role {r:?}", c.title()),
                    format!("use one of: {}", names.join(", ")),
                )
            })?;
            t.role = Some(role);
        }
        if let Some(p) = self.protocol {
            t.protocol = p;
        }
        if let Some(p) = &self.path {
            t.path = Some(p.clone());
        }
        Ok(())
    }

    fn bare_target(&self) -> Result<Target, InputError> {
        probe::validate_address(&self.target).map_err(|e| {
            InputError::usage(
                e,
                "give the target as HOST:PORT, or an endpoint name with --config",
            )
        })?;
        let mut t = Target::address(self.target.clone(), Protocol::Tls);
        if self.component.is_none() {
            if let Some((c, r)) = port_of(&self.target).and_then(guess_component) {
                t.component = Some(c);
                t.role = Some(r);
                t.component_guessed = true;
            }
        }
        self.apply_overrides(&mut t)?;
        if self.protocol.is_none() {
            if let Some(p) = t.profile() {
                t.protocol = p.protocol;
                if t.path.is_none() {
                    t.path = p.path.map(str::to_string);
                }
            }
        }
        Ok(t)
    }

    fn resolve_flags(&self) -> Result<Inputs, InputError> {
        let Some(ca) = &self.ca else {
            return Err(InputError::usage(
                "no CA to verify the server with",
                "give --ca ca.crt or --config tlsaudit.toml",
            ));
        };
        if self.as_identity.is_some() {
            return Err(InputError::usage(
                "--as picks an identity of the inventory",
                "give --config tlsaudit.toml, or --cert and --key",
            ));
        }
        let target = self.bare_target()?;
        let trust = Trust::load(ca)?;
        let (caller, key_mismatch) = match (&self.cert, &self.key) {
            (Some(c), Some(k)) => {
                let name = c
                    .file_stem()
                    .map_or_else(|| "client".into(), |s| s.to_string_lossy().into_owned());
                load_caller(&name, c, k, &trust)?
            }
            (None, None) => (Caller::new(Identity::anonymous(), &trust), None),
            _ => {
                return Err(InputError::usage(
                    "--cert and --key go together",
                    "give both, or neither for a probe without a client certificate",
                ))
            }
        };
        Ok(Inputs {
            target,
            trust,
            caller,
            key_mismatch,
            others: Vec::new(),
            cluster: None,
            timeouts: Timeouts::uniform(self.timeout.unwrap_or(Duration::from_secs(5))),
            notes: Vec::new(),
            mysql_account: self.mysql_account.clone(),
            expected: None,
        })
    }

    fn resolve_inventory(&self, path: &Path) -> Result<Inputs, InputError> {
        if self.cert.is_some() || self.key.is_some() || self.ca.is_some() {
            return Err(InputError::usage(
                "--ca/--cert/--key cannot be combined with --config",
                "pick the identity with --as NAME, or drop --config",
            ));
        }
        self.resolve_loaded(&Inventory::load(path)?, path)
    }

    /// Resolve against a loaded inventory; `path` names it in errors.
    fn resolve_loaded(&self, inv: &Inventory, path: &Path) -> Result<Inputs, InputError> {
        let trust = Trust::load(&inv.ca)?;
        let target = self.inventory_target(inv, path)?;
        let chosen = self.chosen_identity(inv, path)?;
        let loaded = load_identities(inv, &chosen, &trust)?;
        // The cell's expectation, exactly as the audit computes it (unless the flags changed
        // what the endpoint is).
        let expected = match (&target.endpoint, &loaded.audit) {
            (Some(name), Some(id)) if self.component.is_none() && self.role.is_none() => inv
                .endpoints
                .iter()
                .find(|e| &e.name == name)
                .map(|ep| crate::audit::expect::expect(ep, id, &trust)),
            _ => None,
        };
        Ok(Inputs {
            expected,
            target,
            trust,
            caller: loaded.caller,
            key_mismatch: loaded.key_mismatch,
            others: loaded.others,
            cluster: Some(inv.cluster.clone()),
            timeouts: match self.timeout {
                Some(t) => Timeouts::uniform(t),
                None => inv.options.timeouts,
            },
            notes: loaded.notes,
            mysql_account: self.mysql_account.clone(),
        })
    }

    /// The target from the inventory: an endpoint by name or address (with the flags'
    /// overrides), else a bare HOST:PORT.
    fn inventory_target(&self, inv: &Inventory, path: &Path) -> Result<Target, InputError> {
        let by_name = inv.endpoints.iter().find(|e| e.name == self.target);
        let by_addr = inv.endpoints.iter().find(|e| e.address == self.target);
        let mut target = match by_name.or(by_addr) {
            Some(e) => {
                let mut t = Target {
                    endpoint: Some(e.name.clone()),
                    address: e.address.clone(),
                    server_name: e.server_name.clone(),
                    protocol: e.protocol,
                    path: e.path.clone(),
                    component: Some(e.component),
                    role: Some(e.role),
                    component_guessed: false,
                    declared_allowed_cn: e.allowed_cn.clone(),
                    version: e.version,
                };
                self.apply_overrides(&mut t)?;
                t
            }
            None if probe::validate_address(&self.target).is_ok() => self.bare_target()?,
            None => {
                let names: Vec<&str> = inv.endpoints.iter().map(|e| e.name.as_str()).collect();
                return Err(InputError::usage(
                    format!(
                        "{:?} is neither HOST:PORT nor an endpoint of {}",
                        self.target,
                        path.display()
                    ),
                    if names.is_empty() {
                        "the inventory has no endpoints; give HOST:PORT".to_string()
                    } else {
                        format!("use one of: {}", names.join(", "))
                    },
                ));
            }
        };
        if target.server_name.is_none() {
            target.server_name = self.server_name.clone();
        }
        Ok(target)
    }

    /// The name of the identity to probe as: `--as`, else the inventory's first (or none).
    fn chosen_identity(&self, inv: &Inventory, path: &Path) -> Result<String, InputError> {
        let extra = extra_names(inv);
        let chosen = match &self.as_identity {
            Some(name) if extra.contains(&name.as_str()) => name.clone(),
            Some(name) => inv
                .identities
                .iter()
                .find(|i| &i.name == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = inv
                        .identities
                        .iter()
                        .map(|i| i.name.as_str())
                        .chain(extra.iter().copied())
                        .collect();
                    InputError::usage(
                        format!("no identity {name:?} in {}", path.display()),
                        if names.is_empty() {
                            "the inventory has no identities".to_string()
                        } else {
                            format!("use one of: {}", names.join(", "))
                        },
                    )
                })?
                .name
                .clone(),
            None => match inv.identities.first() {
                Some(i) => i.name.clone(),
                None => String::new(),
            },
        };
        Ok(chosen)
    }
}

/// The inventory's identities, loaded: the chosen one as the caller, the others as variants.
struct LoadedIdentities {
    caller: Caller,
    key_mismatch: Option<KeyMismatch>,
    others: Vec<Caller>,
    notes: Vec<String>,
    /// The chosen identity as the audit sees it (kind, component), when it loaded.
    audit: Option<AuditIdentity>,
}

/// Load every identity of the inventory, in order. The chosen one must load; another that
/// does not load, or whose key does not match, is skipped with a note.
fn load_identities(
    inv: &Inventory,
    chosen: &str,
    trust: &Trust,
) -> Result<LoadedIdentities, InputError> {
    let mut caller = Caller::new(Identity::anonymous(), trust);
    let mut key_mismatch = None;
    let mut others = Vec::new();
    let mut notes = Vec::new();
    let mut audit = None;
    let mut configured = Vec::new();
    for entry in &inv.identities {
        if entry.name == chosen {
            let (c, m) = load_caller(&entry.name, &entry.cert, &entry.key, trust)?;
            if m.is_none() {
                let id = AuditIdentity::configured(entry, c.clone());
                audit = Some(id.clone());
                configured.push(id);
            }
            caller = c;
            key_mismatch = m;
        } else {
            match load_caller(&entry.name, &entry.cert, &entry.key, trust) {
                Ok((c, None)) => {
                    configured.push(AuditIdentity::configured(entry, c.clone()));
                    others.push(c);
                }
                Ok((_, Some(_))) => notes.push(format!(
                    "identity {} skipped as a variant: its key does not match its certificate",
                    entry.name
                )),
                Err(e) => {
                    notes.push(format!("identity {} skipped as a variant: {e}", entry.name));
                }
            }
        }
    }
    if audit.is_none() && extra_names(inv).contains(&chosen) {
        let id = extra_identities(inv, trust, &configured)?
            .into_iter()
            .find(|i| i.name == chosen);
        if let Some(id) = id {
            caller = id.caller.clone();
            audit = Some(id);
        }
    }
    Ok(LoadedIdentities {
        caller,
        key_mismatch,
        others,
        notes,
        audit,
    })
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ok,
    Warn,
    Fail,
    Info,
    Skipped,
}

/// One step of the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub number: u8,
    pub title: String,
    pub status: StepStatus,
    pub lines: Vec<String>,
}

/// Name resolution, measured on its own (the probe's connect time includes it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub host: String,
    pub addresses: Vec<String>,
    pub ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a variant probe changes against the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Variant {
    /// No client certificate.
    NoCert,
    /// Another identity of the inventory.
    As(String),
    Tls12,
    Tls13,
    AlpnNone,
    AlpnH2,
    AlpnHttp11,
    /// The server verified for another name.
    ServerName(String),
}

impl Variant {
    /// The stable id in the JSON output: `no_cert`, `as:<identity>`, `tls1.2`, `tls1.3`,
    /// `alpn:none`, `alpn:h2`, `alpn:http/1.1`, `name:<server name>`.
    pub fn id(&self) -> String {
        match self {
            Variant::NoCert => "no_cert".into(),
            Variant::As(name) => format!("as:{name}"),
            Variant::Tls12 => "tls1.2".into(),
            Variant::Tls13 => "tls1.3".into(),
            Variant::AlpnNone => "alpn:none".into(),
            Variant::AlpnH2 => "alpn:h2".into(),
            Variant::AlpnHttp11 => "alpn:http/1.1".into(),
            Variant::ServerName(name) => format!("name:{name}"),
        }
    }

    pub fn is_identity(&self) -> bool {
        matches!(self, Variant::As(_))
    }

    pub fn is_alpn(&self) -> bool {
        matches!(
            self,
            Variant::AlpnNone | Variant::AlpnH2 | Variant::AlpnHttp11
        )
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.id())
    }
}

impl Serialize for Variant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.id())
    }
}

/// One variant probe and what it showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantRun {
    pub id: Variant,
    /// What changed, in words.
    pub label: String,
    pub outcome: OutcomeClass,
    /// For a server that is not trusted: what the check saw of the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<OutcomeClass>,
    /// What the handshake and check showed, in a few words.
    pub observed: String,
    pub summary: String,
    pub record: ProbeRecord,
}

impl VariantRun {
    /// Whether the caller got through (past an untrusted chain too).
    pub fn admitted(&self) -> bool {
        admitted(&self.record)
    }
}

/// Whether a probe got through (past an untrusted chain too).
pub fn admitted(rec: &ProbeRecord) -> bool {
    rec.outcome.class == OutcomeClass::Accepted
        || (rec.outcome.class == OutcomeClass::ServerUntrusted
            && rec.outcome.authorization == Some(OutcomeClass::Accepted))
}

/// A config key to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigChange {
    /// `TiKV`, `PD`, ...
    pub component: String,
    /// `tikv.toml`.
    pub file: String,
    /// `[security] cert-allowed-cn`.
    pub key: String,
    /// The same key in a TiUP topology (`server_configs.tikv.security.cert-allowed-cn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiup: Option<String>,
}

/// Which side of the link a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The server (its certificate, its configuration).
    Server,
    /// The caller (its certificate, its key).
    Client,
    /// The connection itself (ports, protocols).
    Link,
}

/// One named cause with its evidence and fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CauseFinding {
    pub cause: Cause,
    pub title: String,
    pub side: Side,
    /// What is wrong, with the names involved.
    pub summary: String,
    /// What showed it: the server's answer, the differences between variants.
    pub evidence: Vec<String>,
    /// What to change, in the operator's words.
    pub fix: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigChange>,
    /// What the real components print for this failure.
    pub log_texts: Vec<LogText>,
    /// The failure mode's number in `docs/tidb.md` ("Failure modes").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fact: Option<u8>,
}

/// The outcome of the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkVerdict {
    /// The link works and no cause was found.
    pub works: bool,
    /// The report's verdict for this cell, by the audit's own rule, when the inventory says what
    /// to expect (endpoint and identity from it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<Verdict>,
    /// What the configuration expects of this identity here, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
    pub headline: String,
    pub findings: Vec<CauseFinding>,
    /// Observations that do not break the link (an endpoint admitting anonymous callers, the
    /// TLS versions it speaks, ...).
    pub notes: Vec<String>,
}

/// The target as the diagnosis reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetInfo {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<Component>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub component_guessed: bool,
    pub protocol: Protocol,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub server_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub declared_allowed_cn: Vec<String>,
}

/// A whole diagnosis: trace, variants, verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    pub target: TargetInfo,
    pub identity: IdentityReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_mismatch: Option<KeyMismatch>,
    pub resolution: Resolution,
    pub steps: Vec<Step>,
    pub baseline: ProbeRecord,
    pub variants: Vec<VariantRun>,
    pub verdict: LinkVerdict,
}

impl Diagnosis {
    /// As the report judges the cell when the expectation is known: 0 for `secure` (and no
    /// cause found) and `enforced` (refused as configured), 1 otherwise. Without an expectation: 0 when the link
    /// works, 1 when a cause was found.
    pub fn exit_code(&self) -> u8 {
        match self.verdict.cell {
            // Secure by the audit's rule, yet a cause found (a gRPC server without ALPN h2,
            // which the report flags on the endpoint): real callers fail.
            Some(Verdict::Secure) => u8::from(!self.verdict.findings.is_empty()),
            Some(v) => u8::from(v.is_failing()),
            None => u8::from(!self.verdict.works),
        }
    }

    /// The causes found, in order.
    pub fn causes(&self) -> Vec<Cause> {
        self.verdict.findings.iter().map(|f| f.cause).collect()
    }

    /// The finding for a cause, if found.
    pub fn finding(&self, cause: Cause) -> Option<&CauseFinding> {
        self.verdict.findings.iter().find(|f| f.cause == cause)
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

async fn resolve(address: &str, deadline: Duration) -> Resolution {
    let host = probe::host_of(address).to_string();
    let t = Instant::now();
    let r = tokio::time::timeout(deadline, tokio::net::lookup_host(address.to_string())).await;
    let elapsed = ms(t.elapsed());
    match r {
        Ok(Ok(addrs)) => {
            let mut addresses: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
            addresses.dedup();
            Resolution {
                host,
                addresses,
                ms: elapsed,
                error: None,
            }
        }
        Ok(Err(e)) => Resolution {
            host,
            addresses: Vec::new(),
            ms: elapsed,
            error: Some(e.to_string()),
        },
        Err(_) => Resolution {
            host,
            addresses: Vec::new(),
            ms: elapsed,
            error: Some(format!(
                "no answer within {}",
                humantime::format_duration(deadline)
            )),
        },
    }
}

/// The probe spec of the target as given.
pub fn base_spec(inputs: &Inputs) -> ProbeSpec {
    let t = &inputs.target;
    let mut spec = ProbeSpec::new(t.address.clone(), t.protocol);
    spec.server_name = t.server_name.clone();
    spec.path = t.path.clone();
    spec.timeouts = inputs.timeouts;
    if spec.protocol == Protocol::Mysql {
        spec.mysql_account = inputs.mysql_account.clone();
    }
    spec
}

/// Whether the baseline got far enough into TLS for variants to tell anything.
pub fn reached_tls(rec: &ProbeRecord) -> bool {
    rec.tls.is_some()
        || !rec.server_chain.is_empty()
        || rec.evidence.alert.is_some()
        || matches!(
            rec.outcome.class,
            OutcomeClass::TlsMismatch
                | OutcomeClass::CertRequired
                | OutcomeClass::CertRejected
                | OutcomeClass::CnRejected
        )
}

/// One planned variant.
#[derive(Debug, Clone)]
pub struct VariantPlan {
    pub id: Variant,
    pub label: String,
    pub spec: ProbeSpec,
    pub caller: Caller,
}

fn who(c: &Caller) -> String {
    match c.identity.cn() {
        Some(cn) if cn != c.identity.name => format!("{} (CN {cn})", c.identity.name),
        Some(_) => c.identity.name.clone(),
        None => format!("{} (no certificate)", c.identity.name),
    }
}

/// The variants worth running after this baseline.
pub fn plan_variants(inputs: &Inputs, base: &ProbeRecord) -> Vec<VariantPlan> {
    let mut out = Vec::new();
    if !reached_tls(base) {
        return out;
    }
    let mut spec = base_spec(inputs);
    // A SQL port's plaintext login is the baseline's; the variants change the TLS side only.
    spec.mysql_plaintext = false;
    let mut push = |id: Variant, label: String, spec: ProbeSpec, caller: &Caller| {
        out.push(VariantPlan {
            id,
            label,
            spec,
            caller: caller.clone(),
        });
    };
    let me = &inputs.caller;
    if me.identity.key.is_some() {
        push(
            Variant::NoCert,
            "without a client certificate".into(),
            spec.clone(),
            &Caller::new(Identity::anonymous(), &inputs.trust),
        );
    }
    for other in &inputs.others {
        push(
            Variant::As(other.identity.name.clone()),
            format!("as {}", who(other)),
            spec.clone(),
            other,
        );
    }
    for (id, label, v) in [
        (Variant::Tls12, "TLS 1.2 only", TlsVersions::Tls12),
        (Variant::Tls13, "TLS 1.3 only", TlsVersions::Tls13),
    ] {
        let mut s = spec.clone();
        s.versions = v;
        push(id, label.into(), s, me);
    }
    // ALPN: an HTTP/1.1 check over a connection that negotiated h2 would mislead, so for HTTP
    // endpoints the ALPN variants stop after the handshake (and the server's verdict).
    let alpn_protocol = match spec.protocol {
        Protocol::Http => Protocol::Tls,
        p => p,
    };
    let offered = spec.alpn_offered();
    let mut alpn_variants: Vec<(Variant, String, Vec<String>)> =
        vec![(Variant::AlpnNone, "without ALPN".into(), Vec::new())];
    if offered != ["h2"] {
        alpn_variants.push((
            Variant::AlpnH2,
            "with ALPN h2 only".into(),
            vec!["h2".into()],
        ));
    } else {
        alpn_variants.push((
            Variant::AlpnHttp11,
            "with ALPN http/1.1 only".into(),
            vec!["http/1.1".into()],
        ));
    }
    // MySQL servers negotiate no ALPN: nothing to vary.
    if spec.protocol == Protocol::Mysql {
        alpn_variants.clear();
    }
    for (id, label, list) in alpn_variants {
        let mut s = spec.clone();
        s.alpn = Some(list);
        s.protocol = alpn_protocol;
        let label = if alpn_protocol != spec.protocol {
            format!("{label} (handshake only)")
        } else {
            label
        };
        push(id, label, s, me);
    }
    for name in other_names(&spec, base).into_iter().take(3) {
        let mut s = spec.clone();
        s.server_name = Some(name.clone());
        push(
            Variant::ServerName(name.clone()),
            format!("verifying the server for {name}"),
            s,
            me,
        );
    }
    out
}

/// Other names to verify the server certificate for: its SANs, the peer's IP, `localhost` for
/// a loopback peer; not the name already used.
fn other_names(spec: &ProbeSpec, base: &ProbeRecord) -> Vec<String> {
    let current = spec.server_name();
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: String| {
        if !n.is_empty() && n != current && !names.contains(&n) && !n.contains('*') {
            names.push(n);
        }
    };
    if let Some(leaf) = base.server_chain.first() {
        for san in &leaf.sans {
            if let Some(n) = san.strip_prefix("DNS:").or_else(|| san.strip_prefix("IP:")) {
                add(n.to_string());
            }
        }
    }
    if let Some(ip) = base
        .peer_addr
        .as_deref()
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
        .map(|a| a.ip())
    {
        add(ip.to_string());
        if ip.is_loopback() {
            add("localhost".to_string());
        }
    }
    names
}

/// Short words for what a probe showed: `TLSv1.3, ALPN h2, grpc-status 0`.
pub fn observed(rec: &ProbeRecord) -> String {
    let mut parts = Vec::new();
    if let Some(tls) = &rec.tls {
        parts.push(format!(
            "{}, ALPN {}",
            tls.version,
            tls.alpn.as_deref().unwrap_or("none")
        ));
    }
    let ev = &rec.evidence;
    if let Some(a) = &ev.alert {
        parts.push(format!("alert {} ({})", a.name, a.code));
    }
    if let Some(s) = ev.grpc_status {
        parts.push(format!("grpc-status {s}"));
    }
    if let Some(s) = ev.http_status {
        parts.push(format!("HTTP {s}"));
    }
    if ev.closed_silently {
        parts.push("closed without an alert".into());
    }
    if let Some(p) = &ev.peer_protocol {
        parts.push(format!("peer speaks {p}"));
    }
    if let Some(v) = &rec.server_verification {
        parts.push(if v.trusted {
            format!("server verified for {}", v.server_name)
        } else {
            format!(
                "server NOT verified for {} ({})",
                v.server_name,
                v.reason
                    .map_or("other", super::probe::record::UntrustedReason::as_str)
            )
        });
    }
    if parts.is_empty() {
        parts.push(rec.outcome.phase.as_str().to_string());
    }
    parts.join(", ")
}

/// Run the planned variants, concurrently; results in plan order.
pub async fn run_variants(plans: Vec<VariantPlan>, trust: &Trust) -> Vec<VariantRun> {
    let mut set = tokio::task::JoinSet::new();
    for (i, plan) in plans.iter().enumerate() {
        let spec = plan.spec.clone();
        let caller = plan.caller.clone();
        let trust = trust.clone();
        set.spawn(async move { (i, probe::probe(&spec, &caller, &trust).await) });
    }
    let mut records: Vec<Option<ProbeRecord>> = vec![None; plans.len()];
    while let Some(joined) = set.join_next().await {
        if let Ok((i, rec)) = joined {
            if let Some(slot) = records.get_mut(i) {
                *slot = Some(rec);
            }
        }
    }
    plans
        .into_iter()
        .zip(records)
        .filter_map(|(plan, rec)| {
            let rec = rec?;
            Some(VariantRun {
                id: plan.id,
                label: plan.label,
                outcome: rec.outcome.class,
                authorization: rec.outcome.authorization,
                observed: observed(&rec),
                summary: rec.outcome.summary.clone(),
                record: rec,
            })
        })
        .collect()
}

/// Diagnose one link: baseline probe, variants, trace, verdict.
pub async fn diagnose(inputs: &Inputs) -> Diagnosis {
    let resolution = resolve(&inputs.target.address, inputs.timeouts.connect).await;
    let spec = base_spec(inputs);
    let baseline = probe::probe(&spec, &inputs.caller, &inputs.trust).await;
    let plans = plan_variants(inputs, &baseline);
    let variants = run_variants(plans, &inputs.trust).await;
    let verdict = analyze::verdict(inputs, &baseline, &variants);
    let steps = steps::steps(inputs, &spec, &resolution, &baseline, &variants);
    Diagnosis {
        target: TargetInfo {
            address: inputs.target.address.clone(),
            endpoint: inputs.target.endpoint.clone(),
            component: inputs.target.component,
            role: inputs.target.role,
            component_guessed: inputs.target.component_guessed,
            protocol: inputs.target.protocol,
            path: inputs.target.path.clone(),
            server_name: spec.server_name(),
            declared_allowed_cn: inputs.target.declared_allowed_cn.clone(),
        },
        identity: inputs.caller.report().as_ref().clone(),
        key_mismatch: inputs.key_mismatch.clone(),
        resolution,
        steps,
        baseline,
        variants,
        verdict,
    }
}
