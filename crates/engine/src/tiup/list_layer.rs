//! Where an instance's allow-list value lives: the instance's own `config` in the topology,
//! `server_configs.<section>`, a component's TOML file, or nowhere the inputs say
//! ([`ListLayer`], read by [`list_layer`]). `fix`, `diagnose` and the findings edit and name
//! that layer, never another: a list set in a TiKV instance's `config` is fixed there (a
//! `server_configs.tikv` entry would not apply to it, and would spread to every other TiKV).
//!
//! Also here: TiUP's node ID of an instance and the command that makes one instance apply the
//! file it already has ([`reload_command`]), with the values shell-quoted.

use std::path::PathBuf;

use super::{join_host_port, Cluster, Instance};
use crate::profile::Role;

/// A place in a file: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spot {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Spot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// The layer that holds an instance's allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ListLayer {
    /// The instance's own `config` in the topology (`tikv_servers[1].config`): this instance
    /// only, over `server_configs`.
    Instance {
        at: Spot,
        /// `tikv_servers`.
        section: &'static str,
        /// The instance's index in its section.
        index: usize,
        host: String,
        /// The field of the port that names the instance (`port`) and its value.
        port: (&'static str, u16),
    },
    /// `server_configs.<section>` of the topology: every instance of the component without
    /// an override of its own.
    ServerConfigs { at: Spot, section: &'static str },
    /// A component's own config file (`tikv.toml`).
    ComponentFile { at: Spot },
    /// Set in none of the inputs.
    #[default]
    Unset,
}

impl ListLayer {
    /// Where the list is set, if it is.
    pub fn at(&self) -> Option<&Spot> {
        match self {
            ListLayer::Instance { at, .. }
            | ListLayer::ServerConfigs { at, .. }
            | ListLayer::ComponentFile { at } => Some(at),
            ListLayer::Unset => None,
        }
    }

    /// Whether the layer is in the topology (an instance's `config` or `server_configs`).
    pub fn in_topology(&self) -> bool {
        matches!(
            self,
            ListLayer::Instance { .. } | ListLayer::ServerConfigs { .. }
        )
    }

    /// The TiUP path of the list in this layer: `tikv_servers[1].config.security.cert-allowed-cn`
    /// or `server_configs.tikv.security.cert-allowed-cn`; `None` for a component file.
    /// `section` is the `server_configs` section the list goes to when it is not set yet.
    pub fn tiup_key(&self, section: &str, key: &str) -> Option<String> {
        match self {
            ListLayer::Instance {
                section: s, index, ..
            } => Some(format!("{s}[{index}].config.{key}")),
            ListLayer::ServerConfigs { section: s, .. } => {
                Some(format!("server_configs.{s}.{key}"))
            }
            ListLayer::Unset => Some(format!("server_configs.{section}.{key}")),
            ListLayer::ComponentFile { .. } => None,
        }
    }

    /// The layer in words, for a fix: `the config of tikv_servers[1] (10.0.1.32:20160) at
    /// t.yaml:14:7`, `server_configs.tikv at t.yaml:4:5`, `t/tikv.toml:3:1`, `not set`.
    pub fn describe(&self) -> String {
        match self {
            ListLayer::Instance {
                at,
                section,
                index,
                host,
                port,
            } => format!(
                "the config of {section}[{index}] ({}) at {at}",
                join_host_port(host, port.1)
            ),
            ListLayer::ServerConfigs { at, section } => format!("server_configs.{section} at {at}"),
            ListLayer::ComponentFile { at } => at.to_string(),
            ListLayer::Unset => "not set".to_string(),
        }
    }
}

/// Where `instance`'s list for the endpoint role `role` is set ([`ListLayer::Unset`] for a
/// role the instance does not serve, or one no list governs).
pub fn list_layer(instance: &Instance, role: Role) -> ListLayer {
    instance
        .endpoints
        .iter()
        .find(|e| e.role == role)
        .map(|e| e.layer.clone())
        .unwrap_or_default()
}

impl Cluster {
    /// The instance and role behind an endpoint name (`tikv-10.0.1.31-20160`).
    pub fn endpoint(&self, name: &str) -> Option<(&Instance, Role)> {
        self.instances.iter().find_map(|i| {
            i.endpoints
                .iter()
                .find(|e| i.endpoint_name(e.role).as_deref() == Some(name))
                .map(|e| (i, e.role))
        })
    }

    /// Where the list of the endpoint `name` is set ([`list_layer`]), if the cluster has it.
    pub fn list_layer_of(&self, name: &str) -> Option<ListLayer> {
        self.endpoint(name).map(|(i, r)| list_layer(i, r))
    }
}

/// TiUP's node ID of an instance: `host:main port` (the last part of its name), the host alone
/// when the name has no port.
pub fn node_id(instance: &Instance) -> String {
    let port = instance.name.rsplit('-').next().unwrap_or_default();
    port.parse::<u16>().map_or_else(
        |_| instance.host.clone(),
        |p| join_host_port(&instance.host, p),
    )
}

/// A word for a POSIX shell: as it is when it holds only characters no shell treats
/// specially, else single-quoted.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@%+=,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `tiup cluster reload <name> -N <host:port>`: the command that makes one instance apply the
/// config file it already has (the file is right; the running server has not read it). The
/// name and node are shell-quoted; without a name, `<cluster>` says it is not known.
pub fn reload_command(cluster: Option<&str>, node: &str) -> String {
    format!(
        "tiup cluster reload {} -N {}",
        cluster_arg(cluster),
        shell_quote(node)
    )
}

/// `tiup cluster push <name> <local> <remote> -N <host:port>`: copy one file from the control
/// machine to one instance's host (every argument shell-quoted).
pub fn push_command(cluster: Option<&str>, local: &str, remote: &str, node: &str) -> String {
    format!(
        "tiup cluster push {} {} {} -N {}",
        cluster_arg(cluster),
        shell_quote(local),
        shell_quote(remote),
        shell_quote(node)
    )
}

/// The cluster's name as a TiUP command's argument: shell-quoted when the input says it,
/// `<cluster>` when it does not.
pub fn cluster_arg(cluster: Option<&str>) -> String {
    cluster.map_or_else(|| "<cluster>".to_string(), shell_quote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_commands_quote_what_a_shell_would_read() {
        assert_eq!(
            reload_command(Some("prod"), "10.0.1.31:20160"),
            "tiup cluster reload prod -N 10.0.1.31:20160"
        );
        assert_eq!(
            reload_command(Some("a b'c"), "[::1]:20160"),
            r"tiup cluster reload 'a b'\''c' -N '[::1]:20160'"
        );
        assert_eq!(
            reload_command(None, "h:1"),
            "tiup cluster reload <cluster> -N h:1"
        );
        assert_eq!(
            push_command(Some("prod"), "out/a b.crt", "/d/tls/tikv.crt", "h:1"),
            "tiup cluster push prod 'out/a b.crt' /d/tls/tikv.crt -N h:1"
        );
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn layers_name_their_tiup_key() {
        let at = Spot {
            file: PathBuf::from("t.yaml"),
            line: 14,
            column: 7,
        };
        let inst = ListLayer::Instance {
            at: at.clone(),
            section: "tikv_servers",
            index: 1,
            host: "10.0.1.32".into(),
            port: ("port", 20160),
        };
        assert_eq!(
            inst.tiup_key("tikv", "security.cert-allowed-cn").as_deref(),
            Some("tikv_servers[1].config.security.cert-allowed-cn")
        );
        assert_eq!(
            inst.describe(),
            "the config of tikv_servers[1] (10.0.1.32:20160) at t.yaml:14:7"
        );
        let sc = ListLayer::ServerConfigs {
            at,
            section: "tikv",
        };
        assert_eq!(
            sc.tiup_key("tikv", "k").as_deref(),
            Some("server_configs.tikv.k")
        );
        assert_eq!(
            ListLayer::Unset.tiup_key("cdc", "k").as_deref(),
            Some("server_configs.cdc.k")
        );
        assert!(!ListLayer::Unset.in_topology() && sc.in_topology());
    }
}
