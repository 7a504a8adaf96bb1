//! The TiUP facts of the components ([`TIUP`]): each one's topology section, the name TiUP
//! gives its instances and certificates, the port that names an instance, and its place in
//! TiUP's rolling reload order ([`reload_order`]). The ports of a component's roles are in its
//! rows of the table (`Profile::tiup_port`, `Profile::default_port`), read by
//! [`MainPort::field`] (in `table.rs`).

use super::component::Component;
use super::role::Role;
use Component as C;

/// A component's section in a TiUP topology (`topology.yaml`, `meta.yaml`'s `topology`): the
/// TiUP facts of the component. The ports of its instances are its roles'
/// ([`Profile::tiup_port`](crate::profile::Profile::tiup_port),
/// [`Profile::default_port`](crate::profile::Profile::default_port)).
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

/// The sections of [`TIUP`], by name: the config files take their TiUP names from them.
pub(super) const PD_TIUP: TiupSection =
    TiupSection::servers(C::Pd, "pd_servers", "pd", MainPort::Role(Role::PdClient), 0);
pub(super) const TIDB_TIUP: TiupSection = TiupSection::servers(
    C::Tidb,
    "tidb_servers",
    "tidb",
    MainPort::Role(Role::TidbSql),
    4,
);
pub(super) const TIKV_TIUP: TiupSection = TiupSection::servers(
    C::Tikv,
    "tikv_servers",
    "tikv",
    MainPort::Role(Role::TikvGrpc),
    1,
);
pub(super) const TIFLASH_TIUP: TiupSection = TiupSection::servers(
    C::Tiflash,
    "tiflash_servers",
    "tiflash",
    MainPort::Other("tcp_port", 9000),
    2,
);
pub(super) const TICDC_TIUP: TiupSection = TiupSection::servers(
    C::Ticdc,
    "cdc_servers",
    "cdc",
    MainPort::Role(Role::TicdcServer),
    3,
);
pub(super) const TIPROXY_TIUP: TiupSection = TiupSection::servers(
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

/// What TiUP calls the components it deploys, from [`TIUP`].
impl Component {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::role::roles;

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
}
