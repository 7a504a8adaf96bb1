//! A component kind ([`Component`]) and its names: the name the inventory and the reports use
//! (`ticdc`) and the one operators read (`TiCDC`). What TiUP calls a component, and the CN of
//! its certificate, are TiUP facts (`tiup.rs`).

use serde::{Deserialize, Serialize};

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
    /// TiUP's monitoring agents on every host (`monitored`): node_exporter and
    /// blackbox_exporter, plaintext HTTP even with `enable_tls`.
    Exporter,
    Generic,
}

impl Component {
    pub const ALL: [Component; 9] = [
        Component::Pd,
        Component::Tikv,
        Component::Tidb,
        Component::Tiflash,
        Component::Ticdc,
        Component::Tiproxy,
        Component::Etcd,
        Component::Exporter,
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
            Component::Exporter => "exporter",
            Component::Generic => "generic",
        }
    }

    /// Whether this is one of TiDB's own components (PD, TiKV, TiDB, TiFlash, TiCDC, TiProxy):
    /// TiDB's advice (TiUP, `cert-allowed-cn`) is for these only.
    pub fn is_tidb(self) -> bool {
        matches!(
            self,
            Component::Pd
                | Component::Tikv
                | Component::Tidb
                | Component::Tiflash
                | Component::Ticdc
                | Component::Tiproxy
        )
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
            Component::Exporter => "exporter",
            Component::Generic => "generic",
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
