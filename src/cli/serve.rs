//! `tlsaudit serve`: its arguments, the checks of the address and the vantage, the plan they
//! name (an inventory, or a TiDB cluster's TiUP files as `report` reads them), then the
//! exporter ([`crate::serve::run`]) until SIGTERM or Ctrl-C. The arguments stay with the exporter
//! so that SIGHUP builds the plan again from the same files and flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tlsaudit_engine::audit::Plan;
use tlsaudit_engine::error::InputError;
use tlsaudit_engine::inventory::Inventory;

use crate::cli::input::{self, parse_duration, AuditFlags, TidbInputFlags};

/// The default address: loopback only (`--allow-remote` for others).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9819";

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to serve HTTP on. A non-loopback address also needs --allow-remote.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Allow --listen on an address other than loopback (the report names every endpoint and
    /// certificate: keep it behind your network policy).
    #[arg(long)]
    pub allow_remote: bool,
    /// The inventory file (tlsaudit.toml); or give --topology / --component-config instead.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["topology", "component_config", "tls_dir", "ca", "cluster_name", "cluster_version"]
    )]
    pub config: Option<PathBuf>,
    /// Time between the starts of rounds, e.g. 60s (a longer round delays the next).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Where this process runs (a rack, a host, a zone): the `vantage` label of every series.
    #[arg(long, value_name = "NAME", default_value = "local")]
    pub vantage: String,
    #[command(flatten)]
    pub audit: AuditFlags,
    #[command(flatten)]
    pub tidb: TidbInputFlags,
}

/// `--listen`: an IP:PORT, loopback unless `--allow-remote`.
fn check_listen(args: &ServeArgs) -> Result<SocketAddr, InputError> {
    let addr: SocketAddr = args.listen.parse().map_err(|_| {
        InputError::usage(
            format!("--listen {:?} is not an IP:PORT address", args.listen),
            "give an address and port, e.g. --listen 127.0.0.1:9819",
        )
    })?;
    if !addr.ip().is_loopback() && !args.allow_remote {
        return Err(InputError::usage(
            format!("--listen {addr} is not a loopback address"),
            "add --allow-remote to serve other hosts (the report names every endpoint and certificate), or listen on 127.0.0.1",
        ));
    }
    Ok(addr)
}

/// The plan, from an inventory or from the TiDB inputs (as `report` loads them).
fn load_plan(args: &ServeArgs) -> Result<Plan, InputError> {
    if let Some(config) = &args.config {
        return input::plan(Inventory::load(config)?, Vec::new(), &args.audit);
    }
    if !args.tidb.is_given() {
        return Err(InputError::usage(
            "serve needs something to audit",
            "give --config tlsaudit.toml (an inventory), or --topology meta.yaml [--tls-dir DIR] (a TiUP cluster)",
        ));
    }
    let (inv, findings) = input::load_tidb_inventory(&args.tidb)?;
    input::plan(inv, findings, &args.audit)
}

/// `tlsaudit serve`: exit 0 after a clean stop.
pub async fn run(args: ServeArgs) -> Result<u8, InputError> {
    input::check_vantage(&args.vantage)?;
    let listen = check_listen(&args)?;
    let plan = load_plan(&args)?;
    let settings = crate::serve::Settings {
        listen,
        vantage: args.vantage.clone(),
        interval: args.interval,
    };
    let reload: crate::serve::Reload = Arc::new(move || load_plan(&args));
    crate::serve::run(plan, settings, reload).await
}
