//! What a TiUP topology may hold: the sections and fields TiUP knows, and for each audited
//! section its spec, derived from the component table ([`crate::profile::TIUP`]: the section,
//! TiUP's name, the main port; the roles' port fields and defaults; the config files' instance
//! fields). What is the topology's alone (the generic instance fields, the `advertise_*`
//! fields) is here.

use crate::profile::{roles, Component, Role, TiupSection, TIUP};
use crate::tiup::ConfigKind;

/// Sections TiUP knows besides those of the component table: none carries instances of an
/// audited component.
const KNOWN_OTHER: [&str; 17] = [
    "global",
    "server_configs",
    "component_versions",
    "component_sources",
    "tso_servers",
    "scheduling_servers",
    "tidb_dashboard_servers",
    "pump_servers",
    "drainer_servers",
    "kvcdc_servers",
    "tispark_masters",
    "tispark_workers",
    "monitoring_servers",
    "grafana_servers",
    "alertmanager_servers",
    "tikv_worker_servers",
    "tici_meta_servers",
];

/// The fields every instance of TiUP's audited sections may have.
pub(super) const INSTANCE_FIELDS: [&str; 19] = [
    "host",
    "manage_host",
    "listen_host",
    "ssh_port",
    "imported",
    "patched",
    "ignore_exporter",
    "name",
    "deploy_dir",
    "data_dir",
    "log_dir",
    "source",
    "numa_node",
    "numa_cores",
    "resource_control",
    "arch",
    "os",
    "offline",
    "config",
];

/// The fields of `global`.
pub(super) const GLOBAL_FIELDS: [&str; 14] = [
    "user",
    "group",
    "systemd_mode",
    "ssh_port",
    "ssh_type",
    "enable_tls",
    "listen_host",
    "deploy_dir",
    "data_dir",
    "log_dir",
    "resource_control",
    "os",
    "arch",
    "custom",
];

/// The sections of `server_configs`, in TiUP's order: those of the component table's config
/// files ([`crate::profile::ConfigFile::tiup`]) and those of components not audited.
pub(super) fn server_configs() -> [&'static str; 14] {
    let tiup = |k: ConfigKind| k.config().tiup.unwrap_or_default();
    [
        tiup(ConfigKind::Tidb),
        tiup(ConfigKind::Tikv),
        tiup(ConfigKind::Pd),
        "tso",
        "scheduling",
        "tidb_dashboard",
        tiup(ConfigKind::Tiflash),
        tiup(ConfigKind::Tiproxy),
        tiup(ConfigKind::TiflashLearner),
        "pump",
        "drainer",
        tiup(ConfigKind::Ticdc),
        "kvcdc",
        "grafana",
    ]
}

/// One audited section.
pub(super) struct SectionSpec {
    pub(super) section: &'static str,
    pub(super) component: Component,
    /// TiUP's name of the component (certificate file names, deploy dirs, instance names).
    pub(super) role_name: &'static str,
    /// The port that names the instance (and its default deploy dir): field and default.
    pub(super) main_port: (&'static str, u16),
    /// Ports with endpoints: the field and the endpoint role (its default port is in the
    /// component table), in the component's role order.
    pub(super) ports: Vec<(&'static str, Role)>,
    /// The instance field of each config layer and its file kind (whose `server_configs` key
    /// is in the component table).
    pub(super) configs: Vec<(&'static str, ConfigKind)>,
    /// Fields of this section besides [`INSTANCE_FIELDS`], the ports and the configs.
    pub(super) fields: &'static [&'static str],
}

impl SectionSpec {
    /// The spec of a section of the component table, if it lists instances.
    fn of(t: &TiupSection) -> Option<SectionSpec> {
        let servers = t.servers?;
        let c = t.component;
        Some(SectionSpec {
            section: t.section,
            component: c,
            role_name: servers.name,
            main_port: servers.main_port.field(),
            ports: roles(c)
                .iter()
                .filter_map(|r| r.profile().tiup_port.map(|f| (f, *r)))
                .collect(),
            configs: ConfigKind::ALL
                .into_iter()
                .filter(|k| k.component() == c)
                .filter_map(|k| k.config().tiup_field.map(|f| (f, k)))
                .collect(),
            fields: other_fields(c),
        })
    }
}

/// The audited sections, in the component table's order (the order instances are read).
pub(super) fn specs() -> Vec<SectionSpec> {
    TIUP.iter().filter_map(SectionSpec::of).collect()
}

/// The names of the audited sections.
pub(super) fn audited() -> Vec<&'static str> {
    specs().iter().map(|s| s.section).collect()
}

/// Every section TiUP knows: the component table's (`monitored` too), then the others.
pub(super) fn known() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = audited();
    all.extend(
        TIUP.iter()
            .filter(|t| t.servers.is_none())
            .map(|t| t.section),
    );
    all.extend(KNOWN_OTHER);
    all
}

/// The fields of a component's section that are neither ports nor configs.
fn other_fields(component: Component) -> &'static [&'static str] {
    match component {
        Component::Pd => &["advertise_client_addr", "advertise_peer_addr"],
        Component::Tidb => &["advertise_address"],
        Component::Tikv => &["advertise_addr", "advertise_status_addr"],
        Component::Tiflash => &["http_port", "tmp_path"],
        Component::Ticdc => &["gc-ttl", "tz", "ticdc_cluster_id"],
        _ => &[],
    }
}

/// The `advertise_*` fields of a section: the field, the endpoint roles it sets the address
/// of, and whether it holds a host only (TiDB's `advertise_address`) rather than `host:port` or
/// a URL.
pub(super) fn advertise_fields(
    component: Component,
) -> &'static [(&'static str, &'static [Role], bool)] {
    match component {
        Component::Pd => &[
            ("advertise_client_addr", &[Role::PdClient], false),
            ("advertise_peer_addr", &[Role::PdPeer], false),
        ],
        Component::Tidb => &[(
            "advertise_address",
            &[Role::TidbStatus, Role::TidbSql],
            true,
        )],
        Component::Tikv => &[
            ("advertise_addr", &[Role::TikvGrpc], false),
            ("advertise_status_addr", &[Role::TikvStatus], false),
        ],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specs as TiUP has them, written out: the table must give exactly these.
    #[test]
    fn the_specs_derived_from_the_table_are_tiups() {
        type Row<'a> = (
            &'a str,
            &'a str,
            (&'a str, u16),
            Vec<(&'a str, Role)>,
            Vec<&'a str>,
        );
        let want: Vec<Row<'_>> = vec![
            (
                "pd_servers",
                "pd",
                ("client_port", 2379),
                vec![("client_port", Role::PdClient), ("peer_port", Role::PdPeer)],
                vec!["config"],
            ),
            (
                "tidb_servers",
                "tidb",
                ("port", 4000),
                vec![("status_port", Role::TidbStatus), ("port", Role::TidbSql)],
                vec!["config"],
            ),
            (
                "tikv_servers",
                "tikv",
                ("port", 20160),
                vec![("port", Role::TikvGrpc), ("status_port", Role::TikvStatus)],
                vec!["config"],
            ),
            (
                "tiflash_servers",
                "tiflash",
                ("tcp_port", 9000),
                vec![
                    ("flash_service_port", Role::TiflashGrpc),
                    ("flash_proxy_port", Role::TiflashProxy),
                    ("flash_proxy_status_port", Role::TiflashProxyStatus),
                    ("metrics_port", Role::TiflashMetrics),
                ],
                vec!["config", "learner_config"],
            ),
            (
                "cdc_servers",
                "cdc",
                ("port", 8300),
                vec![("port", Role::TicdcServer)],
                vec!["config"],
            ),
            (
                "tiproxy_servers",
                "tiproxy",
                ("port", 6000),
                vec![
                    ("status_port", Role::TiproxyApi),
                    ("port", Role::TiproxySql),
                ],
                vec!["config"],
            ),
        ];
        let got: Vec<Row<'_>> = specs()
            .into_iter()
            .map(|s| {
                let configs = s.configs.iter().map(|c| c.0).collect();
                (s.section, s.role_name, s.main_port, s.ports, configs)
            })
            .collect();
        assert_eq!(got, want);
        let learner = &specs()[3].configs[1];
        assert_eq!(learner.1, ConfigKind::TiflashLearner);
    }

    #[test]
    fn every_config_file_has_its_server_configs_section() {
        let sections = server_configs();
        for k in ConfigKind::ALL {
            let s = k.config().tiup.unwrap_or_default();
            assert!(sections.contains(&s), "{k:?}: {s:?}");
        }
        assert_eq!(&sections[..3], ["tidb", "tikv", "pd"]);
        assert!(sections.contains(&"cdc"));
        let known = known();
        assert!(known.contains(&"monitored") && known.contains(&"global"));
        let mut unique = known.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), known.len());
    }
}
