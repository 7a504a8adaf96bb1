//! `tlsaudit init`, `fix` and `rotate`: the command-line side of [`tlsaudit_engine::remedy`]
//! (arguments and the text people read).

use std::fmt::Write;
use std::path::PathBuf;

use tlsaudit_engine::error::InputError;
use tlsaudit_engine::remedy::{self, CaSource, InitOptions, InitOutput};
use tlsaudit_engine::tiup::{Cluster, TiupOptions};

/// `tlsaudit init --topology topology.yaml --out DIR`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// TiUP topology.yaml (or a cluster's meta.yaml): the instances to issue certificates for.
    #[arg(long, value_name = "FILE")]
    pub topology: PathBuf,
    /// The folder to write into (must be empty unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Reuse this CA certificate (with --ca-key), e.g. TiUP's tls/ca.crt.
    #[arg(
        long,
        value_name = "FILE",
        requires = "ca_key",
        conflicts_with = "new_ca"
    )]
    pub ca_cert: Option<PathBuf>,
    /// The key of --ca-cert (TiUP: tls/ca.pem).
    #[arg(long, value_name = "FILE", requires = "ca_cert")]
    pub ca_key: Option<PathBuf>,
    /// Make a new CA (the default without --ca-cert).
    #[arg(long)]
    pub new_ca: bool,
    /// Validity of the instance and client certificates, in days.
    #[arg(long, value_name = "DAYS", default_value = "730", value_parser = clap::value_parser!(u16).range(1..=3650))]
    pub days: u16,
    /// Where each instance's tls folder will be on its host, for the paths in the TOML files
    /// (`{name}` is replaced by the instance name), e.g. /tidb-deploy/{name}/tls. Default: the
    /// folder written here.
    #[arg(long, value_name = "DIR")]
    pub host_dir: Option<String>,
    /// The cluster name (default: meta.yaml's folder or the topology file's name); the client
    /// certificate's CN is NAME-client.
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// The cluster version, e.g. v8.5.0 (PD before v8.4 takes one CN).
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub cluster_version: Option<tlsaudit_engine::profile::Version>,
    /// Replace files in --out.
    #[arg(long)]
    pub force: bool,
}

fn parse_version(s: &str) -> Result<tlsaudit_engine::profile::Version, String> {
    tlsaudit_engine::profile::Version::parse(s)
        .ok_or_else(|| format!("{s:?} is not a version; use e.g. v8.5.0"))
}

/// Run `init`; exit 0 when everything was written.
pub fn run_init(args: &InitArgs) -> Result<u8, InputError> {
    let cluster = Cluster::load(&TiupOptions {
        topology: Some(args.topology.clone()),
        cluster_name: args.cluster_name.clone(),
        version: args.cluster_version,
        ..Default::default()
    })?;
    let ca = match (&args.ca_cert, &args.ca_key) {
        (Some(cert), Some(key)) => CaSource::Existing {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => CaSource::New,
    };
    let out = remedy::init(
        &cluster,
        &InitOptions {
            out: args.out.clone(),
            ca,
            days: i64::from(args.days),
            force: args.force,
            host_dir: args.host_dir.clone(),
        },
    )?;
    crate::cli::emit(&render_init(&out));
    Ok(0)
}

/// Text an operator reads: what was written, each list and why, the next steps.
pub fn render_init(o: &InitOutput) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "tlsaudit init: cluster {}, into {}",
        inert(&o.cluster),
        o.out.display()
    );
    let _ = writeln!(
        t,
        "  CA          {}{}",
        o.ca_cert.display(),
        o.ca_key.as_ref().map_or_else(
            || " (reused)".to_string(),
            |k| format!(", key {} (0600)", k.display())
        )
    );
    let _ = writeln!(
        t,
        "  client      {} (CN {})",
        o.client_cert.display(),
        inert(&o.client_cn)
    );
    for i in &o.instances {
        let _ = writeln!(
            t,
            "  {:<11} {} (CN {}, SANs {})",
            i.component.as_str(),
            i.cert.display(),
            inert(&i.cn),
            inert(&i.sans.join(", "))
        );
    }
    let _ = writeln!(t, "\nallow-lists (who needs each component):");
    for l in &o.lists {
        let _ = writeln!(
            t,
            "  {} {} = [{}]",
            l.kind.file_name(),
            l.key,
            inert(&l.cns().join(", "))
        );
        for e in &l.entries {
            let _ = writeln!(t, "      {:<16} {}", inert(&e.cn), e.why);
        }
        if let Some(n) = &l.note {
            let _ = writeln!(t, "      note: {n}");
        }
    }
    let _ = writeln!(t, "\nnext:");
    let _ = writeln!(
        t,
        "  TiUP:   merge {} with `tiup cluster edit-config {}`, then `tiup cluster reload {}`",
        o.tiup_fragment.display(),
        inert(&o.cluster),
        inert(&o.cluster)
    );
    let _ = writeln!(
        t,
        "  manual: copy each <instance>/tls to the host (<deploy_dir>/tls) and merge <instance>/*.toml, then restart"
    );
    let _ = writeln!(
        t,
        "  check:  tlsaudit lint --topology <topology with the fragment> --tls-dir {}",
        o.ca_cert
            .parent()
            .map_or_else(String::new, |p| p.display().to_string())
    );
    t
}

/// Text from a topology made inert for a terminal (no control characters).
fn inert(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
