//! How an endpoint treats callers ([`Policy`]): whether it requires a client certificate, by its
//! row's [`CertPolicy`] or its own `client_auth` ([`ClientAuth`]), and whether its configured
//! allow-list is enforced (PD's client port before v8.4 and with one entry, paths a list does
//! not cover).

use serde::Serialize;

use super::role::Role;
use super::table::{CertPolicy, Profile};
use super::version::{Version, PD_CLIENT_LIST_SINCE};

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
        let not_enforced_because = self.why_not_enforced(allowed_cn, version, path);
        Policy {
            requires_cert,
            list_enforced: has_list && not_enforced_because.is_none(),
            not_enforced_because,
        }
    }

    /// Why a configured list is not enforced on this endpoint, if it is not: the path is one
    /// the list does not cover, or PD's client port does not apply it (before v8.4, or with too
    /// few entries). `None` without a list.
    fn why_not_enforced(
        &self,
        allowed_cn: &[String],
        version: Option<Version>,
        path: Option<&str>,
    ) -> Option<String> {
        if allowed_cn.is_empty() {
            return None;
        }
        self.exempt_path(path)
            .or_else(|| self.pd_client_port(allowed_cn.len(), version))
    }

    /// Why the list does not cover `path` (its query aside), if it does not.
    fn exempt_path(&self, path: Option<&str>) -> Option<String> {
        let p = path?;
        let p = p.split('?').next().unwrap_or(p);
        self.exempt_paths.contains(&p).then(|| {
            format!(
                "{} serves {p} to every certificate; the allow-list covers the other paths",
                self.component.title()
            )
        })
    }

    /// Why PD's client port does not apply a list of `entries` CNs, if it does not.
    fn pd_client_port(&self, entries: usize, version: Option<Version>) -> Option<String> {
        if self.role != Role::PdClient {
            return None;
        }
        match version {
            Some(v) if v < PD_CLIENT_LIST_SINCE => Some(
                "PD before v8.4 applies cert-allowed-cn only to its peer port, not to the client port 2379".to_string(),
            ),
            _ if entries < self.min_entries => Some(
                "PD (v8.4+) enforces cert-allowed-cn on its client port 2379 only when the list has more than one entry".to_string(),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::component::Component;
    use crate::profile::table::lookup;

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
}
