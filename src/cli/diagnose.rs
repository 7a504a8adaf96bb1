//! `tlsaudit diagnose TARGET`: why one link fails, as a step-by-step trace, variant handshakes,
//! the cause and the fix (text or JSON), over an inventory, a TiUP topology or loose files.

use std::path::PathBuf;
use std::time::Duration;

use tlsaudit_engine::diagnose::Request;
use tlsaudit_engine::error::InputError;
use tlsaudit_engine::probe::Protocol;
use tlsaudit_engine::profile::{Component, Version};

use crate::cli::input::{load_tidb, parse_duration, parse_version};
use crate::cli::input::{MysqlFlags, ResolveFlags, TidbInputFlags};
use crate::cli::output::{emit, emit_json, stdout_style, TextOrJson};

#[derive(Debug, clap::Args)]
pub struct DiagnoseArgs {
    /// HOST:PORT, or the name of an endpoint in the inventory (--config).
    pub target: String,
    /// The inventory identity to call as (default: the first one); needs an inventory.
    #[arg(long = "as", value_name = "IDENTITY")]
    pub as_identity: Option<String>,
    /// The inventory (tlsaudit.toml); default ./tlsaudit.toml when --ca is not given.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["ca", "cert", "key"])]
    pub config: Option<PathBuf>,
    /// The CA certificate callers trust (without --config).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate to present (without --config).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Name to verify the server certificate for (default: the host of the address).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// What to do after the handshake (default: the inventory's, or by the port number).
    #[arg(long, value_enum)]
    pub protocol: Option<Protocol>,
    /// HTTP path (http) or gRPC method path (grpc).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// The component behind the address (pd, tikv, tidb, tiflash, ticdc, tiproxy), for the
    /// config keys in the verdict (default: the inventory's, or guessed from the port).
    #[arg(long, value_name = "COMPONENT")]
    pub component: Option<Component>,
    /// The component's role (client, peer, grpc, status, ...).
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// Deadline of each phase of each handshake, e.g. 3s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text", ignore_case = true)]
    pub format: TextOrJson,
    /// A TiUP topology (meta.yaml) instead of an inventory: TARGET is then one of its endpoint
    /// names (as `report --topology` names them) and --as one of its identities.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["config", "ca", "cert", "key"])]
    pub topology: Option<PathBuf>,
    /// With --topology: the TLS folder (TiUP's `tls/` on the control machine).
    #[arg(long, value_name = "DIR", requires = "topology")]
    pub tls_dir: Option<PathBuf>,
    /// With --topology: the cluster version when meta.yaml does not say.
    #[arg(long, value_name = "VERSION", value_parser = parse_version, requires = "topology")]
    pub cluster_version: Option<Version>,
    /// Do not scan the TLS versions and cipher suites the target accepts.
    #[arg(long)]
    pub no_scan: bool,
    #[command(flatten)]
    pub resolve: ResolveFlags,
    #[command(flatten)]
    pub mysql: MysqlFlags,
}

/// The engine's request from the arguments; with `--topology`, the cluster's inventory read
/// from it (as `report --topology` reads it).
fn request(args: DiagnoseArgs) -> Result<Request, InputError> {
    let mysql_account = args.mysql.account()?;
    let (inventory, tiup) = match &args.topology {
        Some(t) => {
            let flags = TidbInputFlags {
                topology: Some(t.clone()),
                tls_dir: args.tls_dir.clone(),
                cluster_version: args.cluster_version,
                expiry_days: 30,
                ..TidbInputFlags::default()
            };
            // The cluster too: where each instance's list is set, for the fixes.
            let (cluster, _) = load_tidb(&flags)?;
            let (inventory, _) = cluster.inventory(tlsaudit_engine::inventory::AuditOptions {
                expiry_warning_days: flags.expiry_days,
                ..Default::default()
            })?;
            (Some(inventory), Some(cluster))
        }
        None => (None, None),
    };
    Ok(Request {
        target: args.target,
        as_identity: args.as_identity,
        config: args.config,
        ca: args.ca,
        cert: args.cert,
        key: args.key,
        server_name: args.server_name,
        protocol: args.protocol,
        path: args.path,
        component: args.component,
        role: args.role,
        timeout: args.timeout,
        mysql_account,
        inventory,
        tiup,
        no_scan: args.no_scan,
    })
}

/// `tlsaudit diagnose`: the exit code is the diagnosis's (0 when the link works).
pub async fn run(args: DiagnoseArgs) -> Result<u8, InputError> {
    args.resolve.apply();
    let format = args.format;
    let inputs = request(args)?.resolve()?;
    let d = tlsaudit_engine::diagnose::diagnose(&inputs).await;
    match format {
        TextOrJson::Json => emit_json(&d, "diagnosis"),
        TextOrJson::Text => emit(&tlsaudit_report::diagnose::render(&d, stdout_style())),
    }
    Ok(d.exit_code())
}
