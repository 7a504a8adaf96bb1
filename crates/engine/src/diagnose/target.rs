//! The target of a diagnosis: where to probe and what the tool knows of the endpoint
//! (component, role, allow-list, version), and the component guessed from a default port.

use crate::probe::Protocol;
use crate::profile::{Component, Profile, Role, Version};
use crate::tiup::ListLayer;

/// What a TiUP topology says of the target's instance: the cluster's name, TiUP's node ID
/// and where the instance's allow-list is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TiupTarget {
    pub cluster: String,
    /// `host:port`, for `tiup cluster reload -N`.
    pub node: String,
    pub layer: ListLayer,
}

/// Where to probe, and what the tool knows about the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The inventory endpoint name, when the target came from the inventory.
    pub endpoint: Option<String>,
    /// `host:port`.
    pub address: String,
    pub server_name: Option<String>,
    pub protocol: Protocol,
    pub path: Option<String>,
    pub component: Option<Component>,
    pub role: Option<Role>,
    /// True when the component was guessed from the port number.
    pub component_guessed: bool,
    /// The allow-list the inventory declares (empty: none declared).
    pub declared_allowed_cn: Vec<String>,
    pub version: Option<Version>,
    /// Set when the target is an instance of a TiUP topology.
    pub tiup: Option<TiupTarget>,
}

impl Target {
    /// A bare `host:port` target, speaking `protocol`.
    pub fn address(address: impl Into<String>, protocol: Protocol) -> Target {
        Target {
            endpoint: None,
            address: address.into(),
            server_name: None,
            protocol,
            path: None,
            component: None,
            role: None,
            component_guessed: false,
            declared_allowed_cn: Vec::new(),
            version: None,
            tiup: None,
        }
    }

    /// The component's profile, when the component (and role) are known.
    pub fn profile(&self) -> Option<&'static Profile> {
        let c = self.component?;
        Some(self.role.unwrap_or_else(|| Role::default_for(c)).profile())
    }

    /// The name the verdict uses for the server: `TiKV (tikv-1)`, or the address.
    pub fn server_label(&self) -> String {
        let who = self
            .component
            .filter(|c| *c != Component::Generic)
            .map(|c| c.title().to_string());
        match (who, &self.endpoint) {
            (Some(w), Some(e)) => format!("{w} ({e})"),
            (Some(w), None) => format!("{w} at {}", self.address),
            (None, Some(e)) => format!("{e} ({})", self.address),
            (None, None) => self.address.clone(),
        }
    }
}

/// The component whose default port this is (first role that uses it).
pub fn guess_component(port: u16) -> Option<(Component, Role)> {
    Role::ALL
        .into_iter()
        .filter(|r| !matches!(r.component(), Component::Generic | Component::Etcd))
        .find(|r| r.profile().default_port == port)
        .map(|r| (r.component(), r))
}

pub(super) fn port_of(address: &str) -> Option<u16> {
    address.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}
