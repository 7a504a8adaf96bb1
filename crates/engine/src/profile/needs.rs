//! Who connects to whom in a working cluster (docs/tidb.md), and why: the callers each endpoint
//! role's allow-list must admit ([`need`]). A caller needed by the cluster itself ([`Need::Cluster`]:
//! raft, timestamps, reads) is an outage when refused; PD is also a caller through TiDB Dashboard,
//! which runs inside PD and calls the other components with PD's certificate
//! ([`Need::Dashboard`]): refused, the cluster keeps working and Dashboard pages break
//! ([`dashboard_features`]).

use serde::Serialize;

use super::component::Component;
use super::role::Role;
use Component as C;

/// Why a caller component calls an endpoint role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// The cluster needs the link (raft, timestamps, reads and writes): refused, it is an
    /// outage.
    Cluster,
    /// TiDB Dashboard, which runs inside PD, calls the endpoint with PD's certificate: refused,
    /// the cluster works and the Dashboard pages of [`dashboard_features`] break.
    Dashboard,
}

/// Whether and why a caller component calls an endpoint role (who connects to whom,
/// docs/tidb.md). `None`: the caller has no business there.
pub fn need(caller: Component, callee: Role) -> Option<Need> {
    if cluster_needs(caller, callee) {
        Some(Need::Cluster)
    } else if caller == C::Pd && !dashboard_features(callee).is_empty() {
        Some(Need::Dashboard)
    } else {
        None
    }
}

/// Whether the cluster needs the caller to reach the endpoint role ([`Need::Cluster`] only): a
/// needed caller missing from the allow-list is an outage by configuration. Dashboard links
/// ([`Need::Dashboard`]) are not counted here; [`need`] tells them apart.
pub fn needs(caller: Component, callee: Role) -> bool {
    need(caller, callee) == Some(Need::Cluster)
}

/// The cluster's own links.
fn cluster_needs(caller: Component, callee: Role) -> bool {
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

/// The TiDB Dashboard pages that break when the endpoint role's allow-list lacks PD's CN
/// (Dashboard runs inside PD and calls with PD's certificate, tidb-dashboard's
/// `pkg/apiserver/{logsearch,profiling,debugapi}`); empty where Dashboard does not call the
/// role. Top SQL and Continuous Profiling are collected by ng-monitoring with its own
/// certificate, and the SQL pages go through TiDB's SQL port, which has no CN list: neither
/// depends on PD's CN.
pub fn dashboard_features(callee: Role) -> &'static str {
    match callee {
        // The Diagnostics gRPC service (SearchLog), served on TiKV's and TiFlash's gRPC ports.
        Role::TikvGrpc => "Search Logs (TiKV logs and slow logs)",
        Role::TiflashGrpc => "Search Logs (TiFlash logs)",
        // The status ports exempt GET /debug/pprof/profile (the CPU profile) from the list.
        Role::TikvStatus => "Instance Profiling (TiKV heap profiles)",
        Role::TiflashProxyStatus => "Instance Profiling (TiFlash heap profiles)",
        Role::TidbStatus => "Instance Profiling and Debug API (TiDB)",
        // Profiled by Dashboard releases of 2024 and later.
        Role::TicdcServer => "Instance Profiling (TiCDC)",
        Role::TiproxyApi => "Instance Profiling (TiProxy)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tikv_needs_the_tiflash_learner() {
        assert!(needs(Component::Tikv, Role::TiflashProxy));
        assert!(needs(Component::Tiflash, Role::TiflashProxy));
        assert!(!needs(Component::Tidb, Role::TiflashProxy));
        assert!(needs(Component::Tidb, Role::TikvGrpc));
        assert!(needs(Component::Tidb, Role::TidbStatus));
        assert!(!needs(Component::Tikv, Role::TidbStatus));
    }

    #[test]
    fn pd_calls_through_dashboard_and_that_is_no_outage() {
        for role in [
            Role::TikvGrpc,
            Role::TikvStatus,
            Role::TidbStatus,
            Role::TiflashGrpc,
            Role::TiflashProxyStatus,
        ] {
            assert_eq!(need(Component::Pd, role), Some(Need::Dashboard), "{role:?}");
            assert!(!needs(Component::Pd, role), "{role:?}");
            assert!(!dashboard_features(role).is_empty(), "{role:?}");
        }
        assert!(dashboard_features(Role::TikvGrpc).contains("Search Logs"));
        assert!(dashboard_features(Role::TidbStatus).contains("Instance Profiling"));
        // PD's own ports stay cluster needs; nobody else calls through Dashboard.
        assert_eq!(need(Component::Pd, Role::PdPeer), Some(Need::Cluster));
        assert_eq!(need(Component::Tidb, Role::TikvStatus), None);
        assert_eq!(need(Component::Pd, Role::TidbSql), None);
        assert_eq!(need(Component::Pd, Role::TiflashMetrics), None);
        assert_eq!(need(Component::Pd, Role::NodeExporter), None);
        // A need is a need whatever its reason.
        for caller in Component::ALL {
            for role in Role::ALL {
                assert_eq!(
                    need(caller, role) == Some(Need::Cluster),
                    needs(caller, role)
                );
            }
        }
        assert_eq!(
            serde_json::to_string(&Need::Dashboard).unwrap(),
            "\"dashboard\""
        );
    }
}
