//! THE table of what each component role does with TLS ([`PROFILES`], one [`Profile`] row per
//! [`Role`]), from the components' own source (see `docs/tidb.md`): its default port and TiUP
//! field, wire protocol, when a client certificate is requested ([`CertPolicy`]), where the
//! Common Name allow-list is enforced ([`Enforcement`]) and on which certificates
//! ([`CnMatch`]), its config file and the keys that hold its certificates and its list. Besides
//! the rows: what the other files' types read from them ([`Role::profile`],
//! [`ConfigFile::known_keys`], [`MainPort::field`]).

use serde::Serialize;

use super::component::Component;
use super::config::{
    ConfigFile, ConfigKey, TlsKeys, ETCD_FLAGS, EXPORTER_FLAGS, GENERIC_CONFIG, PD_TOML,
    TICDC_TOML, TIDB_TOML, TIFLASH_LEARNER_TOML, TIFLASH_TOML, TIKV_TOML, TIPROXY_TOML,
};
use super::protocol::Protocol;
use super::role::Role;
use super::tiup::MainPort;
use CertPolicy::{Always, Never, Optional, WithList};
use Component as C;
use Enforcement::{GrpcStatus, Handshake, HttpStatus};

/// When an endpoint asks for a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertPolicy {
    /// Always requires one.
    Always,
    /// Requires one only when its allow-list is set (TiDB status with `cluster-verify-cn`,
    /// TiKV status with `cert-allowed-cn`, TiCDC).
    WithList,
    /// Asks for one when a client CA is set (TiDB `ssl-ca`), verifies it when given, and admits
    /// callers without one (the SQL ports; per-user `REQUIRE X509` decides later).
    Optional,
    /// Never asks for one (an endpoint with `client_auth = "none"`).
    Never,
}

/// Where the CN allow-list is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// TLS handshake alert (Go `VerifyPeerCertificate`, etcd `AllowedCNs`).
    Handshake,
    /// gRPC status 16 (TiKV) or 7 (TiFlash) on every call.
    GrpcStatus,
    /// HTTP 403 on non-exempt paths (TiKV status port).
    HttpStatus,
}

/// Which certificates' CNs are matched against the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CnMatch {
    Leaf,
    /// Any certificate of the verified chain (TiCDC): a listed CA CN admits all it signed.
    AnyInChain,
}

/// What one component role does with TLS: the one table of component facts that the audit,
/// TiUP import, lint and diagnose read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub component: Component,
    pub role: Role,
    pub default_port: u16,
    /// The field of the component's TiUP topology section that sets this port
    /// (`client_port`, `status_port`; `monitored.node_exporter_port`); `None` where TiUP
    /// deploys no such port.
    #[serde(skip)]
    pub tiup_port: Option<&'static str>,
    pub protocol: Protocol,
    pub path: Option<&'static str>,
    pub cert_policy: CertPolicy,
    pub enforcement: Enforcement,
    pub cn_match: CnMatch,
    /// The component's config file that configures this endpoint.
    pub config: ConfigFile,
    /// The CA, certificate and key this endpoint serves and verifies callers with.
    pub server: TlsKeys,
    /// The allow-list key in that file.
    pub list: ConfigKey,
    /// Paths the allow-list does not cover.
    pub exempt_paths: &'static [&'static str],
    /// The list is enforced only with at least this many entries (PD 2379 since v8.4: 2).
    pub min_entries: usize,
}

const TIKV_STATUS_EXEMPT: &[&str] = &["/metrics", "/status", "/config", "/debug/pprof/profile"];
const CERT_ALLOWED_CN: ConfigKey = ConfigKey::new("security", "cert-allowed-cn");

/// Every etcd flag the etcd rows name, with the oldest etcd release checked that has it (3.4:
/// `etcd --help` of 3.4.23; 3.5 and 3.6: etcd's `server/etcdmain/help.go` and
/// `server/embed/config.go`). All of them are in 3.4, 3.5 and 3.6; `--peer-cert-allowed-cn`
/// takes one CN in 3.4 and a comma-separated list from 3.5, and no release of the three has a
/// flag for a client CN list. A test checks the table against the installed `etcd --help`.
pub const ETCD_FLAG_SINCE: &[(&str, &str)] = &[
    ("--trusted-ca-file", "3.4"),
    ("--cert-file", "3.4"),
    ("--key-file", "3.4"),
    ("--client-cert-allowed-hostname", "3.4"),
    ("--peer-trusted-ca-file", "3.4"),
    ("--peer-cert-file", "3.4"),
    ("--peer-key-file", "3.4"),
    ("--peer-cert-allowed-cn", "3.4"),
];

/// A row of [`PROFILES`] with the common defaults (one argument per column of the table; the
/// default port with its TiUP field).
#[allow(clippy::too_many_arguments)]
const fn row(
    component: Component,
    role: Role,
    (default_port, tiup_port): (u16, Option<&'static str>),
    protocol: Protocol,
    path: Option<&'static str>,
    cert_policy: CertPolicy,
    enforcement: Enforcement,
    config: ConfigFile,
    list: ConfigKey,
) -> Profile {
    Profile {
        component,
        role,
        default_port,
        tiup_port,
        protocol,
        path,
        cert_policy,
        enforcement,
        cn_match: CnMatch::Leaf,
        config,
        server: config.client,
        list,
        exempt_paths: &[],
        min_entries: 1,
    }
}

/// Every component role, in [`Role`] order (a test checks it).
pub static PROFILES: [Profile; 18] = [
    Profile {
        min_entries: 2,
        ..row(
            C::Pd,
            Role::PdClient,
            (2379, Some("client_port")),
            Protocol::Tls,
            None,
            Always,
            Handshake,
            PD_TOML,
            CERT_ALLOWED_CN,
        )
    },
    row(
        C::Pd,
        Role::PdPeer,
        (2380, Some("peer_port")),
        Protocol::Tls,
        None,
        Always,
        Handshake,
        PD_TOML,
        CERT_ALLOWED_CN,
    ),
    row(
        C::Tikv,
        Role::TikvGrpc,
        (20160, Some("port")),
        Protocol::Grpc,
        None,
        Always,
        GrpcStatus,
        TIKV_TOML,
        CERT_ALLOWED_CN,
    ),
    Profile {
        exempt_paths: TIKV_STATUS_EXEMPT,
        ..row(
            C::Tikv,
            Role::TikvStatus,
            (20180, Some("status_port")),
            Protocol::Http,
            Some("/engine_type"),
            WithList,
            HttpStatus,
            TIKV_TOML,
            CERT_ALLOWED_CN,
        )
    },
    row(
        C::Tidb,
        Role::TidbStatus,
        (10080, Some("status_port")),
        Protocol::Http,
        Some("/status"),
        WithList,
        Handshake,
        TIDB_TOML,
        ConfigKey::new("security", "cluster-verify-cn"),
    ),
    // The MySQL port: client-facing TLS (`ssl-*`), no CN list; a client certificate is optional.
    Profile {
        server: TlsKeys::new("security", "ssl-ca", "ssl-cert", "ssl-key"),
        ..row(
            C::Tidb,
            Role::TidbSql,
            (4000, Some("port")),
            Protocol::Mysql,
            None,
            Optional,
            Handshake,
            TIDB_TOML,
            ConfigKey::new("security", "ssl-ca"),
        )
    },
    row(
        C::Tiflash,
        Role::TiflashGrpc,
        (3930, Some("flash_service_port")),
        Protocol::Grpc,
        None,
        Always,
        GrpcStatus,
        TIFLASH_TOML,
        ConfigKey::new("security", "cert_allowed_cn"),
    ),
    row(
        C::Tiflash,
        Role::TiflashProxy,
        (20170, Some("flash_proxy_port")),
        Protocol::Grpc,
        None,
        Always,
        GrpcStatus,
        TIFLASH_LEARNER_TOML,
        CERT_ALLOWED_CN,
    ),
    Profile {
        exempt_paths: TIKV_STATUS_EXEMPT,
        ..row(
            C::Tiflash,
            Role::TiflashProxyStatus,
            (20292, Some("flash_proxy_status_port")),
            Protocol::Http,
            Some("/engine_type"),
            WithList,
            HttpStatus,
            TIFLASH_LEARNER_TOML,
            CERT_ALLOWED_CN,
        )
    },
    row(
        C::Tiflash,
        Role::TiflashMetrics,
        (8234, Some("metrics_port")),
        Protocol::Tls,
        None,
        Always,
        Handshake,
        TIFLASH_TOML,
        ConfigKey::new("security", "cert_allowed_cn"),
    ),
    Profile {
        cn_match: CnMatch::AnyInChain,
        ..row(
            C::Ticdc,
            Role::TicdcServer,
            (8300, Some("port")),
            Protocol::Http,
            Some("/status"),
            WithList,
            Handshake,
            TICDC_TOML,
            CERT_ALLOWED_CN,
        )
    },
    // TiProxy's HTTP API serves [security.server-http-tls]; it calls others with cluster-tls.
    Profile {
        server: TlsKeys::new("security.server-http-tls", "ca", "cert", "key"),
        ..row(
            C::Tiproxy,
            Role::TiproxyApi,
            (3080, Some("status_port")),
            Protocol::Tls,
            None,
            WithList,
            Handshake,
            TIPROXY_TOML,
            ConfigKey::new("security.server-http-tls", "cert-allowed-cn"),
        )
    },
    Profile {
        server: TlsKeys::new("security.server-tls", "ca", "cert", "key"),
        ..row(
            C::Tiproxy,
            Role::TiproxySql,
            (6000, Some("port")),
            Protocol::Mysql,
            None,
            Optional,
            Handshake,
            TIPROXY_TOML,
            ConfigKey::new("security.server-tls", "ca"),
        )
    },
    // etcd 3.4 to 3.6 have no flag for a CN list on the client port (PD sets one through the
    // embedded server's TLSInfo.AllowedCNs): `--client-cert-allowed-hostname` matches a SAN.
    row(
        C::Etcd,
        Role::EtcdClient,
        (2379, None),
        Protocol::Tls,
        None,
        Always,
        Handshake,
        ETCD_FLAGS,
        ConfigKey::new(
            "",
            "no client CN flag (etcd 3.4-3.6; --client-cert-allowed-hostname matches a SAN, not the CN)",
        ),
    ),
    // One CN in etcd 3.4, a comma-separated list from 3.5 (ETCD_FLAG_SINCE).
    Profile {
        server: TlsKeys::new(
            "",
            "--peer-trusted-ca-file",
            "--peer-cert-file",
            "--peer-key-file",
        ),
        ..row(
            C::Etcd,
            Role::EtcdPeer,
            (2380, None),
            Protocol::Tls,
            None,
            Always,
            Handshake,
            ETCD_FLAGS,
            ConfigKey::new("", "--peer-cert-allowed-cn"),
        )
    },
    // TiUP's agents answer plaintext HTTP: the expected finding is that, at info severity.
    row(
        C::Exporter,
        Role::NodeExporter,
        (9100, Some("node_exporter_port")),
        Protocol::Http,
        Some("/metrics"),
        Never,
        Handshake,
        EXPORTER_FLAGS,
        ConfigKey::new("", "no client CN list"),
    ),
    row(
        C::Exporter,
        Role::BlackboxExporter,
        (9115, Some("blackbox_exporter_port")),
        Protocol::Http,
        Some("/metrics"),
        Never,
        Handshake,
        EXPORTER_FLAGS,
        ConfigKey::new("", "no client CN list"),
    ),
    row(
        C::Generic,
        Role::GenericTls,
        (443, None),
        Protocol::Tls,
        None,
        WithList,
        Handshake,
        GENERIC_CONFIG,
        ConfigKey::new("", "its client CN allow-list"),
    ),
];

/// A role's row of the table.
impl Role {
    /// The role's facts.
    pub fn profile(self) -> &'static Profile {
        &PROFILES[self as usize]
    }

    pub fn component(self) -> Component {
        self.profile().component
    }
}

/// The profile of a component role by name; `None` for a role the component does not have.
pub fn lookup(component: Component, role: &str) -> Option<&'static Profile> {
    Role::parse(component, role).map(Role::profile)
}

/// What the config files know from the table.
impl ConfigFile {
    /// Every key of the file's TLS tables this table knows: `client`, the `server` and `list`
    /// keys of the roles it configures, and `other_keys`.
    pub fn known_keys(&self) -> Vec<ConfigKey> {
        let mut keys: Vec<ConfigKey> = Vec::new();
        let tls = |k: &TlsKeys| [k.ca, k.cert, k.key];
        keys.extend(tls(&self.client));
        for p in PROFILES.iter().filter(|p| p.config == *self) {
            keys.extend(tls(&p.server));
            keys.push(p.list);
        }
        for (table, names) in self.other_keys {
            keys.extend(names.iter().map(|k| ConfigKey::new(table, k)));
        }
        keys.retain(|k| !k.table.is_empty());
        let mut seen = Vec::new();
        keys.retain(|k| {
            let new = !seen.contains(k);
            seen.push(*k);
            new
        });
        keys
    }
}

/// The main port's field and default, from its role's row.
impl MainPort {
    /// The topology field of the port and its default.
    pub fn field(self) -> (&'static str, u16) {
        match self {
            MainPort::Role(r) => (
                r.profile().tiup_port.unwrap_or_default(),
                r.profile().default_port,
            ),
            MainPort::Other(field, port) => (field, port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::role::roles;

    #[test]
    fn every_role_has_its_row_in_order() {
        for (i, r) in Role::ALL.into_iter().enumerate() {
            assert_eq!(PROFILES[i].role, r, "PROFILES[{i}]");
            assert!(roles(r.component()).contains(&r), "{r:?}");
            assert_eq!(Role::parse(r.component(), r.as_str()), Some(r));
        }
        for c in Component::ALL {
            assert_eq!(Role::default_for(c).component(), c);
        }
        assert!(lookup(Component::Tidb, "peer").is_none());
    }

    /// The `--flags` an etcd row names: its keys, its list, its file's client keys.
    fn etcd_flags_named() -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in PROFILES.iter().filter(|p| p.component == Component::Etcd) {
            let c = p.config.client;
            let keys = [
                p.server.ca,
                p.server.cert,
                p.server.key,
                p.list,
                c.ca,
                c.cert,
                c.key,
            ];
            for word in keys.iter().flat_map(|k| k.key.split_whitespace()) {
                let flag = word.trim_end_matches(|ch: char| !ch.is_ascii_alphanumeric());
                if flag.starts_with("--") && !out.iter().any(|f| f == flag) {
                    out.push(flag.to_string());
                }
            }
        }
        out
    }

    #[test]
    fn etcd_flags_are_listed_with_their_release() {
        let named = etcd_flags_named();
        assert!(
            named.contains(&"--peer-cert-allowed-cn".to_string()),
            "{named:?}"
        );
        for f in &named {
            assert!(
                ETCD_FLAG_SINCE.iter().any(|(flag, _)| flag == f),
                "{f} is named by the table but not in ETCD_FLAG_SINCE"
            );
        }
        // No etcd release has a client CN flag: the advice must not invent one.
        assert!(!named
            .iter()
            .any(|f| f == "--cert-allowed-cn" || f == "--client-cert-allowed-cn"));
    }

    /// `3.4.23` -> (3, 4).
    fn major_minor(v: &str) -> Option<(u32, u32)> {
        let mut it = v.trim().trim_start_matches('v').split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    }

    #[test]
    fn etcd_flags_exist_in_the_installed_etcd() {
        let Some(bin) = tlsaudit_testkit::require_tool("etcd") else {
            return;
        };
        let run = |arg: &str| {
            let out = std::process::Command::new(&bin).arg(arg).output().unwrap();
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        };
        let version = run("--version");
        let installed = version
            .lines()
            .find_map(|l| l.strip_prefix("etcd Version:"))
            .and_then(major_minor)
            .unwrap_or_else(|| panic!("no version in {version:?}"));
        let help = run("--help");
        let flags: Vec<&str> = help
            .split_whitespace()
            .filter(|w| w.starts_with("--"))
            .collect();
        for name in etcd_flags_named() {
            let since = ETCD_FLAG_SINCE
                .iter()
                .find(|(f, _)| *f == name)
                .and_then(|(_, v)| major_minor(v))
                .unwrap();
            if since <= installed {
                assert!(
                    flags.contains(&name.as_str()),
                    "etcd {installed:?} has no {name}, which the table names"
                );
            } else {
                eprintln!("note: {name} is etcd {since:?}+, not in the installed {installed:?}");
            }
        }
    }
}
