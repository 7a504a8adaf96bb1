//! The components' config files ([`ConfigFile`], one constant each: [`TIKV_TOML`], ...): where
//! each one's TLS settings are ([`TlsKeys`]) and how a key ([`ConfigKey`]) is spelled in the
//! file and in a TiUP topology. The keys each endpoint serves with and its allow-list's key are
//! in its row of the table (`Profile::server`, `Profile::list`), which
//! [`ConfigFile::known_keys`] reads (in `table.rs`).

use serde::Serialize;

use super::tiup::{PD_TIUP, TICDC_TIUP, TIDB_TIUP, TIFLASH_TIUP, TIKV_TIUP, TIPROXY_TIUP};

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
    pub(super) const fn new(table: &'static str, key: &'static str) -> ConfigKey {
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
    pub(super) const fn new(
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

#[cfg(test)]
mod tests {
    use crate::profile::role::Role;

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
}
