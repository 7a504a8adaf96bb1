//! THE table of TiDB component facts, from the components' own source (see `docs/tidb.md`):
//! what each component kind and endpoint role does with TLS, what TiUP calls each component,
//! and the names of the identities the audit mints. The audit, the TiUP import, the lint and
//! diagnose read it. Its files are private (but `protocol`) and every item is re-exported here,
//! at one path: `profile::Role`, `profile::PROFILES`.
//!
//! Where each kind of fact lives, the files bottom to top (none imports one above it, nor this
//! file):
//! - `protocol`: what an endpoint speaks after the handshake ([`Protocol`]);
//! - `component`: the component kinds and their names ([`Component`]);
//! - `version`: component versions, for rules that changed ([`Version`],
//!   [`PD_CLIENT_LIST_SINCE`]);
//! - `role`: the endpoint roles, their names and which component has which ([`Role`],
//!   [`roles`]);
//! - `needs`: who connects to whom and why ([`need()`], [`Need`], [`needs()`] for the cluster's
//!   own links, [`dashboard_features`] for TiDB Dashboard's);
//! - `tiup`: the TiUP facts: topology sections, TiUP names and certificate CNs, the port that
//!   names an instance, the rolling reload order ([`TIUP`], [`reload_order`]);
//! - `minted`: the names of the identities the audit adds ([`EXTRA_NAMES`], [`minted_name`]);
//! - `config`: the config files, their TLS keys and how a key is spelled ([`ConfigFile`],
//!   [`ConfigKey`], [`TIKV_TOML`], ...);
//! - `table`: THE table, one row per role ([`PROFILES`], [`Profile`], [`lookup`]), with its
//!   policy columns ([`CertPolicy`], [`Enforcement`], [`CnMatch`]) and what the other files'
//!   types read from the rows;
//! - `policy`: how an endpoint treats callers given its list, version and path ([`Policy`],
//!   [`ClientAuth`]).

mod component;
mod config;
mod minted;
mod needs;
mod policy;
pub mod protocol;
mod role;
mod table;
mod tiup;
mod version;

pub use component::Component;
pub use config::{
    ConfigFile, ConfigKey, TlsKeys, ETCD_FLAGS, EXPORTER_FLAGS, GENERIC_CONFIG, PD_TOML,
    TICDC_TOML, TIDB_TOML, TIFLASH_LEARNER_TOML, TIFLASH_TOML, TIKV_TOML, TIPROXY_TOML,
};
pub use minted::{minted_name, EXTRA_NAMES};
pub use needs::{dashboard_features, need, needs, Need};
pub use policy::{ClientAuth, Policy};
pub use protocol::Protocol;
pub use role::{roles, Role};
pub use table::{lookup, CertPolicy, CnMatch, Enforcement, Profile, ETCD_FLAG_SINCE, PROFILES};
pub use tiup::{reload_order, MainPort, TiupSection, TiupServers, TIUP};
pub use version::{Version, PD_CLIENT_LIST_SINCE};
