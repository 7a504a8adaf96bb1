//! What each component kind and role does with TLS, from the components' own source (see
//! `docs/tidb.md`): default port, wire protocol, when a client certificate is requested, where the
//! Common Name allow-list is enforced, and the config key that holds the list.

use serde::{Deserialize, Serialize};

use crate::probe::Protocol;

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
    Generic,
}

impl Component {
    pub const ALL: [Component; 8] = [
        Component::Pd,
        Component::Tikv,
        Component::Tidb,
        Component::Tiflash,
        Component::Ticdc,
        Component::Tiproxy,
        Component::Etcd,
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
            Component::Generic => "generic",
        }
    }

    /// The component an identity name or certificate CN stands for (TiUP names certificates
    /// after the component; TiCDC's is `cdc`).
    pub fn from_identity_name(name: &str) -> Option<Component> {
        match name {
            "pd" => Some(Component::Pd),
            "tikv" => Some(Component::Tikv),
            "tidb" => Some(Component::Tidb),
            "tiflash" => Some(Component::Tiflash),
            "cdc" | "ticdc" => Some(Component::Ticdc),
            "tiproxy" => Some(Component::Tiproxy),
            _ => None,
        }
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

/// One component role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub component: Component,
    pub role: &'static str,
    pub default_port: u16,
    pub protocol: Protocol,
    pub path: Option<&'static str>,
    pub cert_policy: CertPolicy,
    pub enforcement: Enforcement,
    pub cn_match: CnMatch,
    /// The component's own config file.
    pub config_file: &'static str,
    /// The table and key of the allow-list in that file.
    pub list_key: &'static str,
    /// Paths the allow-list does not cover.
    pub exempt_paths: &'static [&'static str],
    /// The list is enforced only with at least this many entries (PD 2379 since v8.4: 2).
    pub min_entries: usize,
}

const TIKV_STATUS_EXEMPT: &[&str] = &["/metrics", "/status", "/config", "/debug/pprof/profile"];

/// The roles of a component, first the default.
pub fn roles(component: Component) -> &'static [&'static str] {
    match component {
        Component::Pd => &["client", "peer"],
        Component::Tikv => &["grpc", "status"],
        Component::Tidb => &["status", "sql"],
        Component::Tiflash => &["grpc", "proxy", "proxy-status", "metrics"],
        Component::Ticdc => &["server"],
        Component::Tiproxy => &["api", "sql"],
        Component::Etcd => &["client", "peer"],
        Component::Generic => &["tls"],
    }
}

/// The profile of a component role; `None` for a role the component does not have.
pub fn lookup(component: Component, role: &str) -> Option<Profile> {
    use CertPolicy::*;
    use Component as C;
    use Enforcement::*;
    let p = |role: &'static str,
             port: u16,
             protocol: Protocol,
             path: Option<&'static str>,
             cert_policy: CertPolicy,
             enforcement: Enforcement,
             config_file: &'static str,
             list_key: &'static str| Profile {
        component,
        role,
        default_port: port,
        protocol,
        path,
        cert_policy,
        enforcement,
        cn_match: CnMatch::Leaf,
        config_file,
        list_key,
        exempt_paths: &[],
        min_entries: 1,
    };
    let profile = match (component, role) {
        (C::Pd, "client") => Profile {
            min_entries: 2,
            ..p(
                "client",
                2379,
                Protocol::Tls,
                None,
                Always,
                Handshake,
                "pd.toml",
                "[security] cert-allowed-cn",
            )
        },
        (C::Pd, "peer") => p(
            "peer",
            2380,
            Protocol::Tls,
            None,
            Always,
            Handshake,
            "pd.toml",
            "[security] cert-allowed-cn",
        ),
        (C::Tikv, "grpc") => p(
            "grpc",
            20160,
            Protocol::Grpc,
            None,
            Always,
            GrpcStatus,
            "tikv.toml",
            "[security] cert-allowed-cn",
        ),
        (C::Tikv, "status") => Profile {
            exempt_paths: TIKV_STATUS_EXEMPT,
            ..p(
                "status",
                20180,
                Protocol::Http,
                Some("/engine_type"),
                WithList,
                HttpStatus,
                "tikv.toml",
                "[security] cert-allowed-cn",
            )
        },
        (C::Tidb, "status") => p(
            "status",
            10080,
            Protocol::Http,
            Some("/status"),
            WithList,
            Handshake,
            "tidb.toml",
            "[security] cluster-verify-cn",
        ),
        (C::Tiflash, "grpc") => p(
            "grpc",
            3930,
            Protocol::Grpc,
            None,
            Always,
            GrpcStatus,
            "tiflash.toml",
            "[security] cert_allowed_cn",
        ),
        (C::Tiflash, "proxy") => p(
            "proxy",
            20170,
            Protocol::Grpc,
            None,
            Always,
            GrpcStatus,
            "tiflash-learner.toml",
            "[security] cert-allowed-cn",
        ),
        (C::Tiflash, "proxy-status") => Profile {
            exempt_paths: TIKV_STATUS_EXEMPT,
            ..p(
                "proxy-status",
                20292,
                Protocol::Http,
                Some("/engine_type"),
                WithList,
                HttpStatus,
                "tiflash-learner.toml",
                "[security] cert-allowed-cn",
            )
        },
        (C::Tiflash, "metrics") => p(
            "metrics",
            8234,
            Protocol::Tls,
            None,
            Always,
            Handshake,
            "tiflash.toml",
            "[security] cert_allowed_cn",
        ),
        (C::Ticdc, "server") => Profile {
            cn_match: CnMatch::AnyInChain,
            ..p(
                "server",
                8300,
                Protocol::Http,
                Some("/status"),
                WithList,
                Handshake,
                "ticdc.toml",
                "[security] cert-allowed-cn",
            )
        },
        (C::Tiproxy, "api") => p(
            "api",
            3080,
            Protocol::Tls,
            None,
            WithList,
            Handshake,
            "tiproxy.toml",
            "[security.server-http-tls] cert-allowed-cn",
        ),
        (C::Tidb, "sql") => p(
            "sql",
            4000,
            Protocol::Mysql,
            None,
            Optional,
            Handshake,
            "tidb.toml",
            "[security] ssl-ca",
        ),
        (C::Tiproxy, "sql") => p(
            "sql",
            6000,
            Protocol::Mysql,
            None,
            Optional,
            Handshake,
            "tiproxy.toml",
            "[security.server-tls] ca",
        ),
        (C::Etcd, "client") => p(
            "client",
            2379,
            Protocol::Tls,
            None,
            Always,
            Handshake,
            "etcd flags",
            "--client-cert-allowed-hostname / --cert-allowed-cn",
        ),
        (C::Etcd, "peer") => p(
            "peer",
            2380,
            Protocol::Tls,
            None,
            Always,
            Handshake,
            "etcd flags",
            "--peer-cert-allowed-cn",
        ),
        (C::Generic, "tls") => p(
            "tls",
            443,
            Protocol::Tls,
            None,
            WithList,
            Handshake,
            "the server's config",
            "its client CN allow-list",
        ),
        _ => return None,
    };
    Some(profile)
}

/// A `major.minor` version, for rules that changed (PD v8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32);

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim().trim_start_matches('v');
        let mut it = s.split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next().map_or(Some(0), |m| m.parse().ok())?;
        Some(Version(major, minor))
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
    /// The policy for a configured allow-list (empty = none) and an optional component version.
    pub fn policy(
        &self,
        allowed_cn: &[String],
        version: Option<Version>,
        path: Option<&str>,
    ) -> Policy {
        let has_list = !allowed_cn.is_empty();
        let requires_cert = match self.cert_policy {
            CertPolicy::Always => true,
            CertPolicy::WithList => has_list,
            CertPolicy::Optional => false,
        };
        let mut not_enforced_because = None;
        if has_list {
            if self.component == Component::Pd && self.role == "client" {
                match version {
                    Some(v) if v < Version(8, 4) => {
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

/// Whether a caller component needs to reach an endpoint for the cluster to work. A needed caller
/// missing from the allow-list is an outage by configuration.
pub fn needs(caller: Component, callee: Component, role: &str) -> bool {
    use Component as C;
    matches!(
        (caller, callee, role),
        (
            C::Tidb | C::Tikv | C::Tiflash | C::Ticdc | C::Tiproxy,
            C::Pd,
            "client"
        ) | (C::Tidb | C::Tikv | C::Tiflash | C::Ticdc, C::Tikv, "grpc")
            | (C::Tidb, C::Tiflash, "grpc")
            | (C::Pd, C::Pd, _)
            | (C::Tiflash, C::Tiflash, "proxy")
            | (C::Tiproxy, C::Tidb, "status" | "sql")
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
    fn every_role_has_a_profile() {
        for c in Component::ALL {
            for r in roles(c) {
                assert!(lookup(c, r).is_some(), "{c:?} {r}");
            }
        }
        assert!(lookup(Component::Tidb, "peer").is_none());
        assert_eq!(Version::parse("v8.4.0"), Some(Version(8, 4)));
    }
}
