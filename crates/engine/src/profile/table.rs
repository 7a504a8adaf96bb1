//! What each component kind and role does with TLS, from the components' own source (see
//! `docs/tidb.md`): default port, wire protocol, when a client certificate is requested, where the
//! Common Name allow-list is enforced, and the config key that holds the list; what TiUP calls
//! each component, its topology section and ports, and its place in TiUP's reload order
//! ([`TIUP`]); and the names of the identities the audit mints for components.

use serde::{Deserialize, Serialize};

use super::protocol::Protocol;

/// The names of the identities the audit can add, in the order it adds them: the fixed ones,
/// then one per component the inventory's options mint (`AuditOptions::minted`,
/// [`minted_name`]). No inventory identity may take these names.
pub const EXTRA_NAMES: [&str; 3] = ["anonymous", "foreign", "unlisted"];

/// The name of the identity minted for a component: the CN TiUP gives its certificate.
pub fn minted_name(component: Component) -> &'static str {
    component.cert_name()
}

/// A component kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    Pd,
    Tikv,
    Tidb,
    Tiflash,
    Ticdc,
    Tiproxy,
    Etcd,
    /// TiUP's monitoring agents on every host (`monitored`): node_exporter and
    /// blackbox_exporter, plaintext HTTP even with `enable_tls`.
    Exporter,
    Generic,
}

impl Component {
    pub const ALL: [Component; 9] = [
        Component::Pd,
        Component::Tikv,
        Component::Tidb,
        Component::Tiflash,
        Component::Ticdc,
        Component::Tiproxy,
        Component::Etcd,
        Component::Exporter,
        Component::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Component::Pd => "pd",
            Component::Tikv => "tikv",
            Component::Tidb => "tidb",
            Component::Tiflash => "tiflash",
            Component::Ticdc => "ticdc",
            Component::Tiproxy => "tiproxy",
            Component::Etcd => "etcd",
            Component::Exporter => "exporter",
            Component::Generic => "generic",
        }
    }

    /// The display name operators use.
    pub fn title(self) -> &'static str {
        match self {
            Component::Pd => "PD",
            Component::Tikv => "TiKV",
            Component::Tidb => "TiDB",
            Component::Tiflash => "TiFlash",
            Component::Ticdc => "TiCDC",
            Component::Tiproxy => "TiProxy",
            Component::Etcd => "etcd",
            Component::Exporter => "exporter",
            Component::Generic => "generic",
        }
    }

    /// The name TiUP gives the component's certificate files (`<name>.crt`) and their CN: its
    /// TiUP name ([`TiupServers::name`], `cdc` for TiCDC), else the component's name.
    pub fn cert_name(self) -> &'static str {
        self.tiup_name().unwrap_or(self.as_str())
    }

    /// The component an identity name or certificate CN stands for: a component TiUP deploys,
    /// by its TiUP name (`cdc`) or its own (`ticdc`).
    pub fn from_identity_name(name: &str) -> Option<Component> {
        TIUP.iter()
            .filter_map(|t| t.servers.map(|s| (t.component, s.name)))
            .find(|(c, tiup)| *tiup == name || c.as_str() == name)
            .map(|(c, _)| c)
    }

    /// The component's section in a TiUP topology; `None` for those TiUP does not deploy
    /// (etcd, generic).
    pub fn tiup(self) -> Option<&'static TiupSection> {
        TIUP.iter().find(|t| t.component == self)
    }

    /// TiUP's name of the component's instances ([`TiupServers::name`]).
    pub fn tiup_name(self) -> Option<&'static str> {
        self.tiup().and_then(|t| t.servers).map(|s| s.name)
    }

    /// The component's place in TiUP's rolling reload order ([`reload_order`]).
    pub fn reload_rank(self) -> Option<u8> {
        self.tiup().and_then(|t| t.servers).map(|s| s.reload)
    }
}

impl std::str::FromStr for Component {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Component::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown component {s:?}; use one of {}",
                    Component::ALL.map(Component::as_str).join(", ")
                )
            })
    }
}

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

/// An endpoint's own client-certificate policy (`client_auth` in the inventory), overriding its
/// profile's: a plain mTLS service (nginx with `ssl_verify_client on`, a gRPC server) says
/// `required` without having a CN list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// A client certificate from the CA is required (nginx `ssl_verify_client on`,
    /// `openssl s_server -Verify`).
    Required,
    /// A certificate is asked for and verified when sent; callers without one are admitted
    /// (nginx `ssl_verify_client optional`, `openssl s_server -verify`).
    Optional,
    /// No client certificate is asked for.
    None,
}

impl ClientAuth {
    pub const ALL: [ClientAuth; 3] = [ClientAuth::Required, ClientAuth::Optional, ClientAuth::None];

    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::Required => "required",
            ClientAuth::Optional => "optional",
            ClientAuth::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<ClientAuth> {
        ClientAuth::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The profile's certificate policy this statement stands for.
    pub fn cert_policy(self) -> CertPolicy {
        match self {
            ClientAuth::Required => CertPolicy::Always,
            ClientAuth::Optional => CertPolicy::Optional,
            ClientAuth::None => CertPolicy::Never,
        }
    }
}

impl std::fmt::Display for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
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

/// A config key: its table and its name. Renders the spelling of the component's TOML file
/// (`[security] cert-allowed-cn`) and the dotted spelling of a TiUP topology
/// (`security.cert-allowed-cn`, under `server_configs.<component>`). A key with an empty table is
/// a command-line flag (etcd).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConfigKey {
    pub table: &'static str,
    pub key: &'static str,
}

impl ConfigKey {
    const fn new(table: &'static str, key: &'static str) -> ConfigKey {
        ConfigKey { table, key }
    }

    /// As written in the component's TOML file: `[security] cert-allowed-cn`.
    pub fn toml(self) -> String {
        if self.table.is_empty() {
            self.key.to_string()
        } else {
            format!("[{}] {}", self.table, self.key)
        }
    }

    /// As written in a TiUP topology: `security.cert-allowed-cn`.
    pub fn dotted(self) -> String {
        if self.table.is_empty() {
            self.key.to_string()
        } else {
            format!("{}.{}", self.table, self.key)
        }
    }
}

impl std::fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.toml())
    }
}

/// The CA, certificate and key settings of one TLS context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TlsKeys {
    pub ca: ConfigKey,
    pub cert: ConfigKey,
    pub key: ConfigKey,
}

impl TlsKeys {
    const fn new(
        table: &'static str,
        ca: &'static str,
        cert: &'static str,
        key: &'static str,
    ) -> TlsKeys {
        TlsKeys {
            ca: ConfigKey::new(table, ca),
            cert: ConfigKey::new(table, cert),
            key: ConfigKey::new(table, key),
        }
    }
}

/// A component's config file: where it is, what TiUP calls it, and its TLS keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConfigFile {
    /// `tikv.toml`.
    pub file: &'static str,
    /// The section in a TiUP topology's `server_configs` (the component's TiUP name, but
    /// `tiflash-learner`).
    pub tiup: Option<&'static str>,
    /// The field of a TiUP topology instance that holds this file's settings: `config`
    /// (TiFlash's learner: `learner_config`).
    #[serde(skip)]
    pub tiup_field: Option<&'static str>,
    /// What the component presents and trusts when it calls other components.
    pub client: TlsKeys,
    /// The other keys of its TLS tables, by table, besides `client` and the endpoints' `server`
    /// and `list` keys: a key of a known table that is in none of them is an unknown key (a
    /// lint finding), a name of a sub-table (`encryption`) is known too.
    #[serde(skip)]
    pub other_keys: &'static [(&'static str, &'static [&'static str])],
}

impl ConfigFile {
    /// A key of this file in a TiUP topology: `server_configs.tikv.security.cert-allowed-cn`.
    pub fn tiup_key(&self, key: ConfigKey) -> Option<String> {
        self.tiup
            .filter(|_| !key.table.is_empty())
            .map(|t| format!("server_configs.{t}.{}", key.dotted()))
    }

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

/// `[security]` keys of TiKV's code (TiKV, the TiFlash proxy) besides the paths and the list.
const TIKV_SECURITY_OTHER: &[(&str, &[&str])] = &[(
    "security",
    &[
        "redact-info-log",
        "encryption",
        "override-ssl-target",
        "cipher-file",
    ],
)];
/// The options of each TiProxy TLS table.
const TIPROXY_TLS_OPTIONS: &[&str] = &[
    "ca",
    "cert",
    "key",
    "auto-certs",
    "skip-ca",
    "cert-allowed-cn",
    "min-tls-version",
    "rsa-key-size",
    "auto-expire-duration",
];

const SECURITY_PATHS: TlsKeys = TlsKeys::new("security", "ca-path", "cert-path", "key-path");

pub const PD_TOML: ConfigFile = ConfigFile {
    file: "pd.toml",
    tiup: PD_TIUP.tiup_name(),
    tiup_field: Some("config"),
    client: TlsKeys::new("security", "cacert-path", "cert-path", "key-path"),
    other_keys: &[("security", &["redact-info-log", "encryption"])],
};
pub const TIKV_TOML: ConfigFile = ConfigFile {
    file: "tikv.toml",
    tiup: TIKV_TIUP.tiup_name(),
    tiup_field: Some("config"),
    client: SECURITY_PATHS,
    other_keys: TIKV_SECURITY_OTHER,
};
pub const TIDB_TOML: ConfigFile = ConfigFile {
    file: "tidb.toml",
    tiup: TIDB_TIUP.tiup_name(),
    tiup_field: Some("config"),
    client: TlsKeys::new(
        "security",
        "cluster-ssl-ca",
        "cluster-ssl-cert",
        "cluster-ssl-key",
    ),
    other_keys: &[(
        "security",
        &[
            "skip-grant-table",
            "require-secure-transport",
            "auto-tls",
            "tls-version",
            "rsa-key-size",
            "secure-bootstrap",
            "session-token-signing-cert",
            "session-token-signing-key",
            "spilled-file-encryption-method",
            "enable-sem",
            "sem-config",
            "auth-token-jwks",
            "auth-token-refresh-interval",
            "disconnect-on-expired-password",
        ],
    )],
};
pub const TIFLASH_TOML: ConfigFile = ConfigFile {
    file: "tiflash.toml",
    tiup: TIFLASH_TIUP.tiup_name(),
    tiup_field: Some("config"),
    client: TlsKeys::new("security", "ca_path", "cert_path", "key_path"),
    other_keys: &[("security", &["redact_info_log"])],
};
pub const TIFLASH_LEARNER_TOML: ConfigFile = ConfigFile {
    file: "tiflash-learner.toml",
    tiup: Some("tiflash-learner"),
    tiup_field: Some("learner_config"),
    client: SECURITY_PATHS,
    other_keys: TIKV_SECURITY_OTHER,
};
pub const TICDC_TOML: ConfigFile = ConfigFile {
    file: "ticdc.toml",
    tiup: TICDC_TIUP.tiup_name(),
    tiup_field: Some("config"),
    client: SECURITY_PATHS,
    other_keys: &[(
        "security",
        &["mtls", "client-user-required", "client-allowed-user"],
    )],
};
pub const TIPROXY_TOML: ConfigFile = ConfigFile {
    file: "tiproxy.toml",
    tiup: TIPROXY_TIUP.tiup_name(),
    tiup_field: Some("config"),
    client: TlsKeys::new("security.cluster-tls", "ca", "cert", "key"),
    other_keys: &[
        ("security", &["require-backend-tls"]),
        ("security.server-tls", TIPROXY_TLS_OPTIONS),
        ("security.server-http-tls", TIPROXY_TLS_OPTIONS),
        ("security.cluster-tls", TIPROXY_TLS_OPTIONS),
        ("security.sql-tls", TIPROXY_TLS_OPTIONS),
    ],
};
pub const ETCD_FLAGS: ConfigFile = ConfigFile {
    file: "etcd flags",
    tiup: None,
    tiup_field: None,
    client: TlsKeys::new("", "--trusted-ca-file", "--cert-file", "--key-file"),
    other_keys: &[],
};
/// TiUP's monitoring agents: started with command-line flags, no TLS settings in TiUP.
pub const EXPORTER_FLAGS: ConfigFile = ConfigFile {
    file: "the exporter's flags (TiUP's monitored section)",
    tiup: None,
    tiup_field: None,
    client: TlsKeys::new(
        "",
        "web config client_ca_file",
        "web config cert_file",
        "web config key_file",
    ),
    other_keys: &[],
};
pub const GENERIC_CONFIG: ConfigFile = ConfigFile {
    file: "the server's config",
    tiup: None,
    tiup_field: None,
    client: TlsKeys::new("", "its CA file", "its certificate file", "its key file"),
    other_keys: &[],
};

/// One endpoint role of a component. The role implies the component; it serialises as the
/// role's short name (`grpc`), the component travelling beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    PdClient,
    PdPeer,
    TikvGrpc,
    TikvStatus,
    TidbStatus,
    TidbSql,
    TiflashGrpc,
    TiflashProxy,
    TiflashProxyStatus,
    TiflashMetrics,
    TicdcServer,
    TiproxyApi,
    TiproxySql,
    EtcdClient,
    EtcdPeer,
    /// node_exporter (`monitored.node_exporter_port`, 9100).
    NodeExporter,
    /// blackbox_exporter (`monitored.blackbox_exporter_port`, 9115).
    BlackboxExporter,
    GenericTls,
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

use CertPolicy::{Always, Never, Optional, WithList};
use Component as C;
use Enforcement::{GrpcStatus, Handshake, HttpStatus};

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
    row(
        C::Etcd,
        Role::EtcdClient,
        (2379, None),
        Protocol::Tls,
        None,
        Always,
        Handshake,
        ETCD_FLAGS,
        ConfigKey::new("", "--client-cert-allowed-hostname / --cert-allowed-cn"),
    ),
    row(
        C::Etcd,
        Role::EtcdPeer,
        (2380, None),
        Protocol::Tls,
        None,
        Always,
        Handshake,
        ETCD_FLAGS,
        ConfigKey::new("", "--peer-cert-allowed-cn"),
    ),
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

impl Role {
    pub const ALL: [Role; 18] = [
        Role::PdClient,
        Role::PdPeer,
        Role::TikvGrpc,
        Role::TikvStatus,
        Role::TidbStatus,
        Role::TidbSql,
        Role::TiflashGrpc,
        Role::TiflashProxy,
        Role::TiflashProxyStatus,
        Role::TiflashMetrics,
        Role::TicdcServer,
        Role::TiproxyApi,
        Role::TiproxySql,
        Role::EtcdClient,
        Role::EtcdPeer,
        Role::NodeExporter,
        Role::BlackboxExporter,
        Role::GenericTls,
    ];

    /// The role's facts.
    pub fn profile(self) -> &'static Profile {
        &PROFILES[self as usize]
    }

    pub fn component(self) -> Component {
        self.profile().component
    }

    /// The role's short name within its component: `client`, `grpc`, `proxy-status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PdClient | Role::EtcdClient => "client",
            Role::PdPeer | Role::EtcdPeer => "peer",
            Role::TikvGrpc | Role::TiflashGrpc => "grpc",
            Role::TikvStatus | Role::TidbStatus => "status",
            Role::TiflashProxy => "proxy",
            Role::TiflashProxyStatus => "proxy-status",
            Role::TiflashMetrics => "metrics",
            Role::TicdcServer => "server",
            Role::TidbSql | Role::TiproxySql => "sql",
            Role::TiproxyApi => "api",
            Role::NodeExporter => "node",
            Role::BlackboxExporter => "blackbox",
            Role::GenericTls => "tls",
        }
    }

    /// The role of a component by its short name.
    pub fn parse(component: Component, name: &str) -> Option<Role> {
        roles(component)
            .iter()
            .copied()
            .find(|r| r.as_str() == name)
    }

    /// The component's default role.
    pub fn default_for(component: Component) -> Role {
        roles(component)[0]
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The roles of a component, first the default.
pub fn roles(component: Component) -> &'static [Role] {
    match component {
        C::Pd => &[Role::PdClient, Role::PdPeer],
        C::Tikv => &[Role::TikvGrpc, Role::TikvStatus],
        C::Tidb => &[Role::TidbStatus, Role::TidbSql],
        C::Tiflash => &[
            Role::TiflashGrpc,
            Role::TiflashProxy,
            Role::TiflashProxyStatus,
            Role::TiflashMetrics,
        ],
        C::Ticdc => &[Role::TicdcServer],
        C::Tiproxy => &[Role::TiproxyApi, Role::TiproxySql],
        C::Etcd => &[Role::EtcdClient, Role::EtcdPeer],
        C::Exporter => &[Role::NodeExporter, Role::BlackboxExporter],
        C::Generic => &[Role::GenericTls],
    }
}

/// The profile of a component role by name; `None` for a role the component does not have.
pub fn lookup(component: Component, role: &str) -> Option<&'static Profile> {
    Role::parse(component, role).map(Role::profile)
}

/// A component's section in a TiUP topology (`topology.yaml`, `meta.yaml`'s `topology`): the
/// TiUP facts of the component. The ports of its instances are its roles'
/// ([`Profile::tiup_port`], [`Profile::default_port`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TiupSection {
    pub component: Component,
    /// `pd_servers`, `cdc_servers`; `monitored` for the monitoring agents.
    pub section: &'static str,
    /// The instances, for a section that lists them (`- host: ...`); `None` for `monitored`,
    /// which sets the agents' ports for every host of the cluster.
    pub servers: Option<TiupServers>,
}

/// The instances of a TiUP `*_servers` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TiupServers {
    /// TiUP's name of the component (its role): the certificate files `<name>.crt` and
    /// `<name>.pem` and their CN, deploy dirs `<name>-<port>`, instance names, the
    /// `server_configs` section, `tiup cluster reload -R <name>`. TiCDC's is `cdc`.
    pub name: &'static str,
    /// The port that names an instance (`pd-10.0.1.1-2379`) and its default deploy dir.
    pub main_port: MainPort,
    /// Its place in TiUP's rolling reload order, 0 first ([`reload_order`]).
    pub reload: u8,
}

/// The port that names a TiUP instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MainPort {
    /// The port of one of the component's roles (its TiUP field and default port).
    Role(Role),
    /// A port no audited endpoint serves: its field and default (TiFlash's `tcp_port`).
    Other(&'static str, u16),
}

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

impl TiupSection {
    const fn servers(
        component: Component,
        section: &'static str,
        name: &'static str,
        main_port: MainPort,
        reload: u8,
    ) -> TiupSection {
        TiupSection {
            component,
            section,
            servers: Some(TiupServers {
                name,
                main_port,
                reload,
            }),
        }
    }

    /// The TiUP name of the section's instances ([`TiupServers::name`]).
    pub const fn tiup_name(&self) -> Option<&'static str> {
        match &self.servers {
            Some(s) => Some(s.name),
            None => None,
        }
    }
}

const PD_TIUP: TiupSection =
    TiupSection::servers(C::Pd, "pd_servers", "pd", MainPort::Role(Role::PdClient), 0);
const TIDB_TIUP: TiupSection = TiupSection::servers(
    C::Tidb,
    "tidb_servers",
    "tidb",
    MainPort::Role(Role::TidbSql),
    4,
);
const TIKV_TIUP: TiupSection = TiupSection::servers(
    C::Tikv,
    "tikv_servers",
    "tikv",
    MainPort::Role(Role::TikvGrpc),
    1,
);
const TIFLASH_TIUP: TiupSection = TiupSection::servers(
    C::Tiflash,
    "tiflash_servers",
    "tiflash",
    MainPort::Other("tcp_port", 9000),
    2,
);
const TICDC_TIUP: TiupSection = TiupSection::servers(
    C::Ticdc,
    "cdc_servers",
    "cdc",
    MainPort::Role(Role::TicdcServer),
    3,
);
const TIPROXY_TIUP: TiupSection = TiupSection::servers(
    C::Tiproxy,
    "tiproxy_servers",
    "tiproxy",
    MainPort::Role(Role::TiproxySql),
    5,
);

/// The TiUP sections of the components TiUP deploys, in the order `tiup cluster template`
/// writes them, which is the order their instances are read in. The reload order
/// (`tiup cluster reload` rolls one instance at a time): PD, TiKV, TiFlash, TiCDC, TiDB,
/// TiProxy.
pub static TIUP: [TiupSection; 7] = [
    PD_TIUP,
    TIDB_TIUP,
    TIKV_TIUP,
    TIFLASH_TIUP,
    TICDC_TIUP,
    TIPROXY_TIUP,
    TiupSection {
        component: C::Exporter,
        section: "monitored",
        servers: None,
    },
];

/// The components TiUP reloads, in its rolling order.
pub fn reload_order() -> Vec<Component> {
    let mut ranked: Vec<(u8, Component)> = TIUP
        .iter()
        .filter_map(|t| t.servers.map(|s| (s.reload, t.component)))
        .collect();
    ranked.sort_unstable();
    ranked.into_iter().map(|(_, c)| c).collect()
}

/// The PD version that applies `cert-allowed-cn` to its client port too (with more than one
/// entry); before it, the list guards the peer port only and holds one CN.
pub const PD_CLIENT_LIST_SINCE: Version = Version(8, 4);

/// A `major.minor` version, for rules that changed (PD v8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32);

impl Version {
    /// What a development build is taken for: newer than every release (rules that changed
    /// apply in their newest form).
    pub const NEWEST: Version = Version(u32::MAX, 0);

    /// `v8.5.0`, `8.5`, `v8.5.0-alpha`; the development names TiUP writes (`nightly`, `master`,
    /// `latest`) are [`Version::NEWEST`].
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        if ["nightly", "master", "latest"]
            .iter()
            .any(|d| s.eq_ignore_ascii_case(d))
        {
            return Some(Version::NEWEST);
        }
        let s = s.trim_start_matches('v');
        let mut it = s.split(['.', '-']);
        let major = it.next()?.parse().ok()?;
        let minor = it.next().map_or(Some(0), |m| m.parse().ok())?;
        Some(Version(major, minor))
    }

    /// Whether this is a development build (`nightly`), not a release.
    pub fn is_development(self) -> bool {
        self == Version::NEWEST
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_development() {
            f.pad("nightly (taken as the newest)")
        } else {
            f.pad(&format!("v{}.{}", self.0, self.1))
        }
    }
}

/// How an endpoint treats callers, given its configured list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Whether the endpoint requests (and requires) a client certificate.
    pub requires_cert: bool,
    /// Whether the list is enforced at all.
    pub list_enforced: bool,
    /// Why the list is not enforced, when it is configured but not enforced by design.
    pub not_enforced_because: Option<String>,
}

impl Profile {
    /// Whether the endpoint has a CN allow-list at all (the SQL ports have none).
    pub fn has_cn_list(&self) -> bool {
        self.cert_policy != CertPolicy::Optional
    }

    /// The policy for a configured allow-list (empty = none) and an optional component version.
    pub fn policy(
        &self,
        allowed_cn: &[String],
        version: Option<Version>,
        path: Option<&str>,
    ) -> Policy {
        self.policy_with(self.cert_policy, allowed_cn, version, path)
    }

    /// [`Profile::policy`] with another certificate policy than the profile's (an endpoint's
    /// `client_auth`).
    pub fn policy_with(
        &self,
        cert_policy: CertPolicy,
        allowed_cn: &[String],
        version: Option<Version>,
        path: Option<&str>,
    ) -> Policy {
        let has_list = !allowed_cn.is_empty();
        let requires_cert = match cert_policy {
            CertPolicy::Always => true,
            CertPolicy::WithList => has_list,
            CertPolicy::Optional | CertPolicy::Never => false,
        };
        let mut not_enforced_because = None;
        if has_list {
            if self.role == Role::PdClient {
                match version {
                    Some(v) if v < PD_CLIENT_LIST_SINCE => {
                        not_enforced_because = Some(
                            "PD before v8.4 applies cert-allowed-cn only to its peer port, not to the client port 2379".to_string(),
                        );
                    }
                    _ if allowed_cn.len() < self.min_entries => {
                        not_enforced_because = Some(
                            "PD (v8.4+) enforces cert-allowed-cn on its client port 2379 only when the list has more than one entry".to_string(),
                        );
                    }
                    _ => {}
                }
            }
            if let Some(p) = path {
                let p = p.split('?').next().unwrap_or(p);
                if self.exempt_paths.contains(&p) {
                    not_enforced_because = Some(format!(
                        "{} serves {p} to every certificate; the allow-list covers the other paths",
                        self.component.title()
                    ));
                }
            }
        }
        Policy {
            requires_cert,
            list_enforced: has_list && not_enforced_because.is_none(),
            not_enforced_because,
        }
    }
}

/// Whether a caller component needs to reach an endpoint role for the cluster to work (who
/// connects to whom, docs/tidb.md). A needed caller missing from the allow-list is an outage by
/// configuration.
pub fn needs(caller: Component, callee: Role) -> bool {
    matches!(
        (caller, callee),
        (
            C::Tidb | C::Tikv | C::Tiflash | C::Ticdc | C::Tiproxy,
            Role::PdClient
        ) | (C::Tidb | C::Tikv | C::Tiflash | C::Ticdc, Role::TikvGrpc)
            // TiDB also reads the other TiDB servers' status ports (cluster tables)
            | (C::Tidb, Role::TiflashGrpc | Role::TidbStatus)
            | (C::Pd, Role::PdClient | Role::PdPeer)
            // raft to the TiFlash learner comes from TiKV and from other TiFlash stores
            | (C::Tikv | C::Tiflash, Role::TiflashProxy)
            | (C::Tiproxy, Role::TidbStatus | Role::TidbSql)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn pd_client_port_needs_two_entries_since_v8_4() {
        let pd = lookup(Component::Pd, "client").unwrap();
        assert!(!pd.policy(&list(&["pd"]), None, None).list_enforced);
        assert!(pd.policy(&list(&["pd", "tidb"]), None, None).list_enforced);
        assert!(
            !pd.policy(&list(&["pd", "tidb"]), Version::parse("v8.1.0"), None)
                .list_enforced
        );
        let peer = lookup(Component::Pd, "peer").unwrap();
        assert!(peer.policy(&list(&["pd"]), None, None).list_enforced);
    }

    #[test]
    fn tidb_status_requests_certs_only_with_verify_cn() {
        let t = lookup(Component::Tidb, "status").unwrap();
        assert!(!t.policy(&[], None, None).requires_cert);
        assert!(t.policy(&list(&["tidb"]), None, None).requires_cert);
    }

    #[test]
    fn tikv_status_exempts_metrics() {
        let t = lookup(Component::Tikv, "status").unwrap();
        assert!(
            !t.policy(&list(&["tidb"]), None, Some("/metrics"))
                .list_enforced
        );
        assert!(
            t.policy(&list(&["tidb"]), None, Some("/engine_type"))
                .list_enforced
        );
    }

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
        assert_eq!(Version::parse("v8.4.0"), Some(Version(8, 4)));
        assert_eq!(Version::parse("v8.5.0-alpha"), Some(Version(8, 5)));
        assert_eq!(Version::parse("9"), Some(Version(9, 0)));
        for dev in ["nightly", "Nightly", "master", "latest"] {
            let v = Version::parse(dev).unwrap();
            assert!(v.is_development() && v > Version(8, 4), "{dev}");
        }
        assert_eq!(Version::parse("banana"), None);
    }

    #[test]
    fn one_key_two_spellings() {
        let p = Role::TikvGrpc.profile();
        assert_eq!(p.list.toml(), "[security] cert-allowed-cn");
        assert_eq!(p.list.dotted(), "security.cert-allowed-cn");
        assert_eq!(
            p.config.tiup_key(p.list).as_deref(),
            Some("server_configs.tikv.security.cert-allowed-cn")
        );
        let api = Role::TiproxyApi.profile();
        assert_eq!(
            api.config.tiup_key(api.list).as_deref(),
            Some("server_configs.tiproxy.security.server-http-tls.cert-allowed-cn")
        );
        assert_eq!(api.server.ca.toml(), "[security.server-http-tls] ca");
        assert_eq!(api.config.client.ca.dotted(), "security.cluster-tls.ca");
        let etcd = Role::EtcdPeer.profile();
        assert_eq!(etcd.list.toml(), "--peer-cert-allowed-cn");
        assert_eq!(etcd.config.tiup_key(etcd.list), None);
    }

    #[test]
    fn the_tiup_table_is_complete() {
        let mut sections: Vec<&str> = Vec::new();
        for c in Component::ALL {
            let tiup = c.tiup();
            // TiUP deploys every component but etcd and the generic servers.
            assert_eq!(tiup.is_none(), matches!(c, C::Etcd | C::Generic), "{c:?}");
            let Some(t) = tiup else {
                assert!(roles(c).iter().all(|r| r.profile().tiup_port.is_none()));
                continue;
            };
            assert_eq!(TIUP.iter().filter(|o| o.component == c).count(), 1, "{c:?}");
            assert!(!sections.contains(&t.section), "{}", t.section);
            sections.push(t.section);
            // Every role's port has its field, once in the section.
            let fields: Vec<&str> = roles(c)
                .iter()
                .filter_map(|r| r.profile().tiup_port)
                .collect();
            assert_eq!(fields.len(), roles(c).len(), "{c:?}");
            assert!(fields
                .iter()
                .enumerate()
                .all(|(i, f)| !fields[..i].contains(f)));
            let Some(s) = t.servers else {
                assert_eq!((c, t.section), (C::Exporter, "monitored"));
                continue;
            };
            assert_eq!(t.section, format!("{}_servers", s.name));
            assert_eq!(c.cert_name(), s.name);
            assert_eq!(Component::from_identity_name(s.name), Some(c));
            assert_eq!(Component::from_identity_name(c.as_str()), Some(c));
            let (field, port) = s.main_port.field();
            assert!(!field.is_empty() && port > 0, "{c:?}");
            if let MainPort::Role(r) = s.main_port {
                assert_eq!(r.component(), c);
            }
            // The component's own config file is its server_configs section, by its name.
            let own = Role::default_for(c).profile().config;
            assert_eq!((own.tiup, own.tiup_field), (Some(s.name), Some("config")));
        }
        assert_eq!(C::Ticdc.cert_name(), "cdc");
        assert_eq!(Component::from_identity_name("exporter"), None);
        assert_eq!(Component::from_identity_name("etcd"), None);
    }

    #[test]
    fn the_reload_order_is_a_total_order_of_the_reloaded_components() {
        let reloaded: Vec<Component> = Component::ALL
            .into_iter()
            .filter(|c| c.tiup().is_some_and(|t| t.servers.is_some()))
            .collect();
        let order = reload_order();
        // Each rank once, from 0 with no gap: every reloaded component has its own place.
        let mut ranks: Vec<u8> = reloaded.iter().filter_map(|c| c.reload_rank()).collect();
        ranks.sort_unstable();
        assert_eq!(ranks, (0..).take(reloaded.len()).collect::<Vec<u8>>());
        assert_eq!(order.len(), reloaded.len());
        for (i, c) in order.iter().enumerate() {
            assert_eq!(c.reload_rank().map(usize::from), Some(i));
        }
        // TiUP's rolling order.
        assert_eq!(
            order.iter().map(|c| c.cert_name()).collect::<Vec<_>>(),
            ["pd", "tikv", "tiflash", "cdc", "tidb", "tiproxy"]
        );
        assert_eq!(C::Exporter.reload_rank(), None);
    }

    #[test]
    fn tikv_needs_the_tiflash_learner() {
        assert!(needs(Component::Tikv, Role::TiflashProxy));
        assert!(needs(Component::Tiflash, Role::TiflashProxy));
        assert!(!needs(Component::Tidb, Role::TiflashProxy));
        assert!(needs(Component::Tidb, Role::TikvGrpc));
        assert!(needs(Component::Tidb, Role::TidbStatus));
        assert!(!needs(Component::Tikv, Role::TidbStatus));
    }
}
