//! The built `tlsaudit` binary from the outside, as one test binary: the command line
//! (`--help`, bad input, conventions, `lint`, `explain`, `--dry-run`, `fix` on a topology,
//! `mint`, hostile names in the inputs) and what every output carries (the report formats, the
//! table, output files and links, key hygiene, terminal safety, the HTML report in a browser).
//! One module per suite; they share [`report_model`], report models built by hand.

mod cli_conventions;
mod cli_help;
mod cli_input;
mod dry_run;
mod evidence;
mod explain;
mod fix_layer;
mod hostile_names;
mod k8s_manifests;
mod key_material;
mod lint;
mod mint;
mod output_files;
mod output_links;
mod report_browser;
mod report_formats;
mod report_model;
mod report_table;
mod terminal_safety;

/// A TiUP topology whose second TiKV sets its own list, with the typo `tibd` for `tidb`.
pub(crate) const TYPO_TOPOLOGY: &str = "global:
  user: tidb
  deploy_dir: /tidb-deploy
  enable_tls: true
server_configs:
  tikv:
    security.cert-allowed-cn: [\"tidb\", \"tikv\", \"pd\", \"prod-client\"]
pd_servers:
  - host: 10.0.1.11
tidb_servers:
  - host: 10.0.1.21
tikv_servers:
  - host: 10.0.1.31
  - host: 10.0.1.32
    config:
      security.cert-allowed-cn: [\"tibd\", \"tikv\", \"pd\", \"prod-client\"]
";
