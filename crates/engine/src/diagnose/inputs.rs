//! What a diagnosis starts from: the command line's `Request`, resolved into `Inputs` (the
//! target, the trust, the caller and the other identities, the timeouts, and the audit's
//! expectation of the cell) from an inventory, a topology or the `--ca/--cert/--key` flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::audit::{extra_names, Expected};
use crate::error::InputError;
use crate::inventory::Inventory;
use crate::pki::{Identity, Trust};
use crate::probe::{self, Caller, Protocol, Timeouts};
use crate::profile::{self, Component, Role};
use crate::tiup::{list_layer, node_id, Cluster};

use super::caller::{load_caller, load_identities, KeyMismatch};
use super::target::{guess_component, port_of, Target, TiupTarget};

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
    /// What the endpoints and lists were read from (a finding's words for it).
    pub origin: crate::inventory::Origin,
    pub timeouts: Timeouts,
    /// Things noticed while resolving the inputs (an identity that failed to load, ...).
    pub notes: Vec<String>,
    /// The audit account for a SQL port (`mysql` protocol).
    pub mysql_account: Option<probe::mysql::MysqlAccount>,
    /// Scan the TLS versions and suites the target accepts (not with `--no-scan`).
    pub scan: bool,
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
    /// The TiUP topology `inventory` was read from: where each instance's list is set, and
    /// the cluster's name, for the fixes.
    pub tiup: Option<Cluster>,
    /// Do not scan the TLS versions and suites the target accepts.
    pub no_scan: bool,
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
            origin: crate::inventory::Origin::Inventory,
            timeouts: Timeouts::uniform(self.timeout.unwrap_or(Duration::from_secs(5))),
            notes: Vec::new(),
            mysql_account: self.mysql_account.clone(),
            scan: !self.no_scan,
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
        let mut target = self.inventory_target(inv, path)?;
        target.tiup = self.tiup_target(&target);
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
            origin: inv.origin,
            timeouts: match self.timeout {
                Some(t) => Timeouts::uniform(t),
                None => inv.options.timeouts,
            },
            notes: loaded.notes,
            mysql_account: self.mysql_account.clone(),
            scan: !self.no_scan,
        })
    }

    /// The TiUP facts of the target's instance, when the inventory came from a topology.
    fn tiup_target(&self, target: &Target) -> Option<TiupTarget> {
        let cluster = self.tiup.as_ref()?;
        let (inst, role) = cluster.endpoint(target.endpoint.as_deref()?)?;
        Some(TiupTarget {
            cluster: cluster.name.clone(),
            node: node_id(inst),
            layer: list_layer(inst, role),
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
                    tiup: None,
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
