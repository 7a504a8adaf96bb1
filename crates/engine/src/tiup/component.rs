//! Component config files: the `[security]` keys each component really uses, its allow-list and
//! the addresses it listens on and advertises.
//!
//! With a topology, a file's settings override the topology's for the instances it belongs to
//! (the instance whose address it advertises, else every instance of the component). Without
//! one, each file makes an instance of its own from its advertise (or listen) addresses.

use std::path::{Path, PathBuf};

use super::topology::is_url_key;
use super::tree::{self, Setting};
use super::{
    join_host_port, source_at, ConfigKind, Instance, InstanceEndpoint, ListLayer, Located, Pos,
    Security, UrlSetting,
};
use crate::error::InputError;
use crate::finding::{Code, Finding, Severity};
use crate::profile::{Role, Version};

/// A component config file, read.
#[derive(Debug, Clone)]
pub struct ComponentFile {
    pub kind: ConfigKind,
    pub path: PathBuf,
    pub security: Security,
    pub list: Option<Located<Vec<String>>>,
    /// Where the list's key is in the file.
    pub list_pos: Option<Pos>,
    /// The address callers dial for each role, with the key it came from (`None`: the
    /// component's default), or why it cannot be dialed.
    pub addresses: Vec<(Role, Result<Located<String>, String>)>,
    pub urls: Vec<UrlSetting>,
    /// Findings about the file itself (unknown keys in its TLS tables).
    pub notes: Vec<Finding>,
    /// The instance the command line bound it to (its name, node ID or an address), if any.
    pub bound: Option<String>,
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// `http://h:p,https://h2:p` -> `h:p` (the first).
fn strip_url(v: &str) -> String {
    let first = v.split(',').next().unwrap_or(v).trim();
    let no_scheme = first.split_once("://").map_or(first, |(_, r)| r);
    no_scheme.trim_end_matches('/').to_string()
}

fn is_wildcard(host: &str) -> bool {
    matches!(host, "0.0.0.0" | "::" | "[::]" | "")
}

/// The fix for a file whose kind its name does not tell: the names [`ConfigKind::detect`]
/// knows (a test holds them to [`ConfigKind::FILES`]).
const UNDETECTED_FIX: &str = "name it tidb.toml, tikv.toml, pd.toml, tiflash.toml, tiflash-learner.toml, ticdc.toml or tiproxy.toml, or pass --component-config tikv=FILE";

impl ComponentFile {
    pub fn load(kind: Option<ConfigKind>, path: &Path) -> Result<ComponentFile, InputError> {
        let Some(kind) = kind.or_else(|| ConfigKind::detect(path)) else {
            return Err(InputError::file(
                path,
                "cannot tell which component this config belongs to",
                UNDETECTED_FIX,
            ));
        };
        let text = crate::fsutil::read_text_capped(path, crate::fsutil::MAX_CONFIG)?;
        ComponentFile::parse(kind, &text, path)
    }

    pub fn parse(kind: ConfigKind, text: &str, path: &Path) -> Result<ComponentFile, InputError> {
        let root = tree::parse_toml(text, path)?;
        let settings = tree::flatten(&root);
        let get = |key: &str| settings.iter().find(|s| s.key == key);
        let src = |s: &Setting| source_at(path, s.pos, &s.key);

        // Unknown keys of the TLS tables are findings; paths and lists of the wrong type are
        // errors, all of them reported at once.
        let located: Vec<(Setting, String)> =
            settings.iter().map(|s| (s.clone(), src(s))).collect();
        let mut notes = Vec::new();
        let mut errors = Vec::new();
        let layer = kind.file_name();
        super::keys::check(kind, &located, path, layer, &mut notes, &mut errors);
        InputError::collect(errors)?;

        let [ca_key, cert_key, key_key] = kind.security_keys();
        let mut paths = Vec::new();
        for key in [ca_key, cert_key, key_key] {
            paths.push(
                get(&key)
                    .and_then(|s| s.value.as_str().map(|v| (s, v)))
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(s, v)| Located {
                        value: resolve(path, v),
                        source: src(s),
                    }),
            );
        }
        let mut it = paths.into_iter();
        let security = Security {
            kind,
            ca: it.next().flatten(),
            cert: it.next().flatten(),
            key: it.next().flatten(),
            tiup_managed: false,
            exact: true,
        };
        let list_setting = get(&kind.list_key()).filter(|s| s.value.string_list().is_some());
        let list = list_setting.and_then(|s| {
            Some(Located {
                value: s.value.string_list()?,
                source: src(s),
            })
        });

        let mut addresses = Vec::new();
        for role in kind.roles() {
            addresses.push((role, address(kind, role, &settings, path)));
        }
        let urls = url_settings(&settings, path);
        Ok(ComponentFile {
            kind,
            path: path.to_path_buf(),
            security,
            list,
            list_pos: list_setting.map(|s| s.pos),
            addresses,
            urls,
            notes,
            bound: None,
        })
    }

    /// This file, bound to `instance` (or to none).
    #[must_use]
    pub fn bound_to(mut self, instance: Option<String>) -> ComponentFile {
        self.bound = instance;
        self
    }

    /// Apply to the instances of a topology, or (standalone) add an instance of its own.
    pub fn apply(
        &self,
        instances: &mut Vec<Instance>,
        standalone: bool,
        version: Option<Version>,
        notes: &mut Vec<Finding>,
    ) {
        let dialable: Vec<(Role, &Located<String>)> = self
            .addresses
            .iter()
            .filter_map(|(r, a)| a.as_ref().ok().map(|a| (*r, a)))
            .collect();
        self.note_undialable(notes);
        if let Some(bound) = &self.bound {
            let targets = self.named(instances, bound, notes);
            for &n in &targets {
                self.merge_into(&mut instances[n], true);
            }
            return;
        }
        let matching = self.matching(instances, &dialable);
        let targets: Vec<usize> = if !matching.is_empty() {
            matching
        } else if !standalone {
            self.all_of_component(instances, notes)
        } else {
            Vec::new()
        };
        let exact = targets.len() == 1;
        for &n in &targets {
            let inst = &mut instances[n];
            self.merge_into(inst, exact);
        }
        if standalone && targets.is_empty() && !dialable.is_empty() {
            instances.push(self.own_instance(&dialable, version));
        }
    }

    /// A note for each role whose address callers cannot dial.
    fn note_undialable(&self, notes: &mut Vec<Finding>) {
        let component = self.kind.component();
        for (role, a) in &self.addresses {
            if let Err(why) = a {
                notes.push(
                    Finding::new(
                        Code::AddressNotDialable,
                        Severity::Info,
                        format!(
                            "{}: the {} {role} endpoint has no address callers can dial",
                            self.path.display(),
                            component.title()
                        ),
                        why.clone(),
                        "set the advertise address in the file, or pass --topology so the instance's host is known",
                    )
                    .source(self.path.display().to_string()),
                );
            }
        }
    }

    /// The instance of this file's component the command line bound it to (by TiUP name, node
    /// ID or address), or a note that the topology has none such.
    fn named(&self, instances: &[Instance], bound: &str, notes: &mut Vec<Finding>) -> Vec<usize> {
        let component = self.kind.component();
        let found: Vec<usize> = instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.component == component)
            .filter(|(_, i)| {
                i.name == bound
                    || super::node_id(i) == bound
                    || i.endpoints.iter().any(|e| e.address == bound)
            })
            .map(|(n, _)| n)
            .collect();
        if found.is_empty() {
            notes.push(
                Finding::new(
                    Code::ConfigNotMatched,
                    Severity::Warning,
                    format!(
                        "{} is bound to {bound}, which is no {} instance of the topology",
                        self.path.display(),
                        component.title()
                    ),
                    format!("the {} instances are named by TiUP name, node ID or address", component.title()),
                    "name the instance as `tiup cluster display` lists it (tikv-10.0.1.17-20160) or by its node ID (10.0.1.17:20160)",
                )
                .source(self.path.display().to_string()),
            );
        }
        found
    }

    /// The instances of this file's component that have one of its dialable addresses.
    fn matching(
        &self,
        instances: &[Instance],
        dialable: &[(Role, &Located<String>)],
    ) -> Vec<usize> {
        let component = self.kind.component();
        instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.component == component)
            .filter(|(_, i)| {
                i.endpoints.iter().any(|e| {
                    dialable
                        .iter()
                        .any(|(r, a)| *r == e.role && a.value == e.address)
                })
            })
            .map(|(n, _)| n)
            .collect()
    }

    /// Standalone: the instance this file describes, named after its first dialable address.
    fn own_instance(
        &self,
        dialable: &[(Role, &Located<String>)],
        version: Option<Version>,
    ) -> Instance {
        let host = dialable
            .first()
            .map(|(_, a)| crate::probe::host_of(&a.value).to_string())
            .unwrap_or_default();
        let main = dialable
            .first()
            .map(|(_, a)| a.value.clone())
            .unwrap_or_default();
        let role_name = self.kind.cert_name();
        let mut inst = Instance {
            component: self.kind.component(),
            name: format!("{role_name}-{}", super::addr_label(&main)),
            host,
            origin: self.path.display().to_string(),
            version,
            endpoints: Vec::new(),
            security: Vec::new(),
            urls: Vec::new(),
            deploy_dir: None,
        };
        self.merge_into(&mut inst, true);
        inst
    }

    /// No instance advertises this file's addresses: it applies to every instance of its
    /// component, with a note saying so (or that there is none).
    fn all_of_component(&self, instances: &[Instance], notes: &mut Vec<Finding>) -> Vec<usize> {
        let component = self.kind.component();
        let all: Vec<usize> = instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.component == component)
            .map(|(n, _)| n)
            .collect();
        if all.is_empty() {
            notes.push(
                Finding::new(
                    Code::ConfigNotMatched,
                    Severity::Warning,
                    format!(
                        "{} matches no instance of the topology",
                        self.path.display()
                    ),
                    format!("the topology has no {} instance", component.title()),
                    "pass the config of a component the topology has, or add the instance to the topology",
                )
                .source(self.path.display().to_string()),
            );
        } else if all.len() > 1 {
            notes.push(
                Finding::new(
                    Code::ConfigAppliedToAll,
                    Severity::Info,
                    format!(
                        "{} advertises no address of the topology: applied to all {} {} instances",
                        self.path.display(),
                        all.len(),
                        component.title()
                    ),
                    self.addresses
                        .iter()
                        .filter_map(|(r, a)| a.as_ref().ok().map(|a| format!("{r} {}", a.value)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    "set advertise addresses in the file (or pass one file per instance) to tie it to one instance",
                )
                .source(self.path.display().to_string()),
            );
        }
        all
    }

    /// The layer of the file's list: this file where it sets it.
    fn list_layer(&self) -> ListLayer {
        match (&self.list, self.list_pos) {
            (Some(_), Some(pos)) => ListLayer::ComponentFile {
                at: super::Spot {
                    file: self.path.clone(),
                    line: pos.line,
                    column: pos.column,
                },
            },
            _ => ListLayer::Unset,
        }
    }

    fn merge_into(&self, inst: &mut Instance, exact: bool) {
        for (role, a) in &self.addresses {
            let Ok(a) = a else { continue };
            if !inst.endpoints.iter().any(|e| e.role == *role) {
                inst.endpoints.push(InstanceEndpoint {
                    role: *role,
                    address: a.value.clone(),
                    list: None,
                    layer: ListLayer::Unset,
                });
            }
        }
        for e in &mut inst.endpoints {
            if self.kind.roles().contains(&e.role) {
                e.list = self.list.clone();
                e.layer = self.list_layer();
            }
        }
        inst.security.retain(|s| s.kind != self.kind);
        inst.security.push(Security {
            exact,
            ..self.security.clone()
        });
        inst.urls
            .retain(|u| !self.urls.iter().any(|o| o.key == u.key));
        inst.urls.extend(self.urls.iter().cloned());
    }
}

/// The settings whose values are addresses or URLs (for the `http://` check).
fn url_settings(settings: &[Setting], path: &Path) -> Vec<UrlSetting> {
    let mut urls = Vec::new();
    for s in settings.iter().filter(|s| is_url_key(&s.key)) {
        let Some(values) = s.value.value.strings() else {
            continue;
        };
        for v in values {
            urls.push(UrlSetting {
                key: s.key.clone(),
                value: v,
                source: source_at(path, s.pos, &s.key),
            });
        }
    }
    urls
}

/// The address callers dial for a role, from the advertise key, else the listen key, else the
/// component's default.
fn address(
    kind: ConfigKind,
    role: Role,
    settings: &[Setting],
    path: &Path,
) -> Result<Located<String>, String> {
    let keys = AddressKeys { settings, path };
    // The component's default port, from the component table.
    let default = format!("127.0.0.1:{}", role.profile().default_port);
    match (kind, role) {
        (ConfigKind::Pd, Role::PdClient) => {
            keys.first_of(&["advertise-client-urls", "client-urls"], &default)
        }
        (ConfigKind::Pd, _) => keys.first_of(&["advertise-peer-urls", "peer-urls"], &default),
        (ConfigKind::Tikv, Role::TikvGrpc) => {
            keys.first_of(&["server.advertise-addr", "server.addr"], &default)
        }
        (ConfigKind::Tikv, _) => keys.first_of(
            &["server.advertise-status-addr", "server.status-addr"],
            &default,
        ),
        (ConfigKind::TiflashLearner, Role::TiflashProxy) => {
            keys.first_of(&["server.advertise-addr", "server.addr"], &default)
        }
        (ConfigKind::TiflashLearner, _) => keys.first_of(
            &["server.advertise-status-addr", "server.status-addr"],
            &default,
        ),
        (ConfigKind::Ticdc, _) => keys.first_of(&["advertise-addr", "addr"], &default),
        (ConfigKind::Tidb, _) => keys.tidb_status(role),
        (ConfigKind::Tiflash, Role::TiflashGrpc) => {
            keys.first_of(&["flash.service_addr"], &default)
        }
        (ConfigKind::Tiflash, _) => keys.tiflash_status(role, &default),
        (ConfigKind::Tiproxy, _) => keys.first_of(&["api.addr", "proxy.advertise-addr"], &default),
    }
}

/// A file's settings, looked up for the keys that hold an address.
struct AddressKeys<'a> {
    settings: &'a [Setting],
    path: &'a Path,
}

impl AddressKeys<'_> {
    /// A key's setting and its non-blank text.
    fn get(&self, key: &str) -> Option<(&Setting, String)> {
        self.settings
            .iter()
            .find(|s| s.key == key)
            .and_then(|s| s.value.scalar_text().map(|v| (s, v)))
            .filter(|(_, v)| !v.trim().is_empty())
    }

    /// The first of the keys (advertise before listen) with a dialable address, else an error
    /// if one is a wildcard, else the default.
    fn first_of(&self, keys: &[&str], default: &str) -> Result<Located<String>, String> {
        for k in keys {
            if let Some((s, v)) = self.get(k) {
                let addr = strip_url(&v);
                let host = crate::probe::host_of(&addr);
                if is_wildcard(host) {
                    continue;
                }
                return Ok(Located {
                    value: addr,
                    source: source_at(self.path, s.pos, &s.key),
                });
            }
        }
        if let Some((_, v)) = keys.iter().find_map(|k| self.get(k)) {
            return Err(format!(
                "{} listens on {v} (every interface) and advertises no address",
                keys.last().copied().unwrap_or_default()
            ));
        }
        Ok(Located {
            value: default.to_string(),
            source: format!("{} (default)", keys.last().copied().unwrap_or_default()),
        })
    }

    /// TiDB's status address: its advertised (or status, or listen) host with the status port.
    fn tidb_status(&self, role: Role) -> Result<Located<String>, String> {
        let port = self
            .get("status.status-port")
            .and_then(|(_, v)| v.parse::<u16>().ok())
            .unwrap_or(role.profile().default_port);
        for key in ["advertise-address", "status.status-host", "host"] {
            if let Some((s, v)) = self.get(key) {
                if !is_wildcard(v.trim()) {
                    return Ok(Located {
                        value: join_host_port(v.trim(), port),
                        source: source_at(self.path, s.pos, &s.key),
                    });
                }
            }
        }
        Err(match self.get("status.status-host").or_else(|| self.get("host")) {
            Some((_, v)) => format!(
                "TiDB's status port listens on {v} (every interface) and advertise-address is not set"
            ),
            None => "TiDB listens on every interface by default and advertise-address is not set"
                .to_string(),
        })
    }

    /// TiFlash's status address: the service host with the metrics port.
    fn tiflash_status(&self, role: Role, default: &str) -> Result<Located<String>, String> {
        let port = self
            .get("status.metrics_port")
            .and_then(|(_, v)| v.parse::<u16>().ok())
            .unwrap_or(role.profile().default_port);
        match self.first_of(&["flash.service_addr"], default) {
            Ok(a) => Ok(Located {
                value: join_host_port(crate::probe::host_of(&a.value), port),
                source: a.source,
            }),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_undetected_fix_names_the_detected_files() {
        let named = UNDETECTED_FIX.matches(".toml").count();
        assert_eq!(named, ConfigKind::FILES.len(), "{UNDETECTED_FIX}");
        for k in ConfigKind::ALL {
            let name = format!(" {}", k.file_name());
            let detected = ConfigKind::detect(Path::new(k.file_name())) == Some(k);
            assert_eq!(UNDETECTED_FIX.contains(&name), detected, "{k:?}");
        }
    }

    #[test]
    fn tikv_toml_security_list_and_addresses() {
        let text = r#"
[server]
addr = "0.0.0.0:20160"
advertise-addr = "10.0.1.31:20160"
status-addr = "10.0.1.31:20180"

[pd]
endpoints = ["https://10.0.1.11:2379"]

[security]
ca-path = "tls/ca.crt"
cert-path = "/etc/tikv/tikv.crt"
key-path = "/etc/tikv/tikv.pem"
cert-allowed-cn = ["tidb", "pd"]
"#;
        let f = ComponentFile::parse(ConfigKind::Tikv, text, Path::new("/cfg/tikv.toml")).unwrap();
        assert_eq!(
            f.security.ca.as_ref().unwrap().value,
            PathBuf::from("/cfg/tls/ca.crt")
        );
        assert_eq!(f.list.as_ref().unwrap().value, ["tidb", "pd"]);
        assert_eq!(
            f.list.as_ref().unwrap().source,
            "/cfg/tikv.toml:14:1: security.cert-allowed-cn"
        );
        assert_eq!(f.addresses[0].1.as_ref().unwrap().value, "10.0.1.31:20160");
        assert_eq!(f.addresses[1].1.as_ref().unwrap().value, "10.0.1.31:20180");
        assert_eq!(f.urls.len(), 4);
    }

    #[test]
    fn pd_urls_tidb_status_and_wildcards() {
        let pd = ComponentFile::parse(
            ConfigKind::Pd,
            "client-urls = \"https://0.0.0.0:2379\"\nadvertise-client-urls = \"https://10.0.1.11:2379\"\npeer-urls = \"https://0.0.0.0:2380\"\n[security]\ncacert-path = \"/a/ca.crt\"\n",
            Path::new("pd.toml"),
        )
        .unwrap();
        assert_eq!(pd.addresses[0].1.as_ref().unwrap().value, "10.0.1.11:2379");
        assert!(pd.addresses[1].1.is_err());
        assert!(pd.security.ca.is_some());
        let tidb = ComponentFile::parse(
            ConfigKind::Tidb,
            "advertise-address = \"10.0.1.21\"\n[status]\nstatus-port = 10081\n[security]\ncluster-verify-cn = \"tidb\"\n",
            Path::new("tidb.toml"),
        )
        .unwrap();
        assert_eq!(
            tidb.addresses[0].1.as_ref().unwrap().value,
            "10.0.1.21:10081"
        );
        assert_eq!(tidb.list.as_ref().unwrap().value, ["tidb"]);
    }

    #[test]
    fn tiflash_keys_are_underscored() {
        let f = ComponentFile::parse(
            ConfigKind::Tiflash,
            "[security]\nca-path = \"/a\"\n",
            Path::new("tiflash.toml"),
        )
        .unwrap();
        assert_eq!(f.notes.len(), 1, "{:?}", f.notes);
        assert_eq!(f.notes[0].code, Code::UnknownKey);
        assert_eq!(
            f.notes[0].source.as_deref(),
            Some("tiflash.toml:2:1: security.ca-path")
        );
        assert!(
            f.notes[0].fix.contains("security.ca_path"),
            "{:?}",
            f.notes[0]
        );
        assert!(f.security.ca.is_none());
        let f = ComponentFile::parse(
            ConfigKind::Tiflash,
            "[flash]\nservice_addr = \"10.0.1.41:3930\"\n[status]\nmetrics_port = 8235\n[security]\ncert_allowed_cn = [\"tidb\"]\n",
            Path::new("tiflash.toml"),
        )
        .unwrap();
        assert_eq!(f.addresses[1].1.as_ref().unwrap().value, "10.0.1.41:8235");
    }

    #[test]
    fn bad_toml_and_types_are_located() {
        let e = ComponentFile::parse(ConfigKind::Tikv, "[security\n", Path::new("tikv.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("tikv.toml:1:"), "{e}");
        let e = ComponentFile::parse(
            ConfigKind::Tikv,
            "[security]\ncert-allowed-cn = 3\n",
            Path::new("tikv.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("tikv.toml:2:19: "), "{e}");
    }
}
