//! The endpoint roles of the components ([`Role`]) and their names: which roles each component
//! has ([`roles`], the default first) and what each is called within its component (`grpc`,
//! `proxy-status`). What a role does with TLS is its row of the table (`table.rs`).

use serde::Serialize;

use super::component::Component;
use Component as C;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_is_found_by_its_name_in_its_component() {
        for c in Component::ALL {
            for r in roles(c) {
                assert_eq!(Role::parse(c, r.as_str()), Some(*r), "{c:?}");
            }
            assert_eq!(Role::default_for(c), roles(c)[0]);
        }
        assert_eq!(Role::parse(C::Tidb, "peer"), None);
    }
}
