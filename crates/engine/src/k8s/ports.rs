//! The endpoints of a TiDB Operator cluster's pods: per component, the roles the operator
//! serves with TLS between components, their ports, and the `spec.<component>.config` key that
//! holds each one's allow-list (flattened, as [`super::tc::Member::lists`] keys them).

use crate::profile::Component;

/// One served port of a component's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodPort {
    pub component: Component,
    /// The role's name in an inventory (`client`, `peer`, `grpc`, `status`, ...).
    pub role: &'static str,
    pub port: u16,
    /// The dotted key of the allow-list in `spec.<component>.config`.
    pub list_key: &'static str,
}

const fn p(component: Component, role: &'static str, port: u16, list_key: &'static str) -> PodPort {
    PodPort {
        component,
        role,
        port,
        list_key,
    }
}

/// The ports TLS between components covers (`spec.tlsCluster`): the SQL ports (TiDB 4000,
/// TiProxy 6000) are `tlsClient`'s, client-facing, and left out. TiCDC serves on 8301 under the
/// operator (8300 under TiUP).
pub const POD_PORTS: &[PodPort] = &[
    p(Component::Pd, "client", 2379, "security.cert-allowed-cn"),
    p(Component::Pd, "peer", 2380, "security.cert-allowed-cn"),
    p(Component::Tikv, "grpc", 20160, "security.cert-allowed-cn"),
    p(Component::Tikv, "status", 20180, "security.cert-allowed-cn"),
    p(
        Component::Tidb,
        "status",
        10080,
        "security.cluster-verify-cn",
    ),
    p(
        Component::Tiflash,
        "grpc",
        3930,
        "config.security.cert_allowed_cn",
    ),
    p(
        Component::Tiflash,
        "proxy",
        20170,
        "proxy.security.cert-allowed-cn",
    ),
    p(
        Component::Tiflash,
        "proxy-status",
        20292,
        "proxy.security.cert-allowed-cn",
    ),
    p(
        Component::Tiflash,
        "metrics",
        8234,
        "config.security.cert_allowed_cn",
    ),
    p(Component::Ticdc, "server", 8301, "security.cert-allowed-cn"),
    p(
        Component::Tiproxy,
        "api",
        3080,
        "security.server-http-tls.cert-allowed-cn",
    ),
];

/// The ports of one component's pods.
pub fn of(component: Component) -> impl Iterator<Item = &'static PodPort> {
    POD_PORTS.iter().filter(move |p| p.component == component)
}
