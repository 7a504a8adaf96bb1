//! Who connects to whom in a working cluster (docs/tidb.md): the callers each endpoint role's
//! allow-list must admit.

use super::component::Component;
use super::role::Role;
use Component as C;

/// Why a caller component calls an endpoint role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// The cluster's own traffic.
    Cluster,
    /// TiDB Dashboard, inside PD, with PD's certificate.
    Dashboard,
}

/// Why a caller component calls an endpoint role, if it does.
pub fn need(caller: Component, callee: Role) -> Option<Need> {
    if needs(caller, callee) {
        return Some(Need::Cluster);
    }
    let dashboard = caller == C::Pd
        && matches!(
            callee,
            Role::TikvGrpc | Role::TikvStatus | Role::TidbStatus | Role::TiflashGrpc
        );
    dashboard.then_some(Need::Dashboard)
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
