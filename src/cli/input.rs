//! What to audit and how, from the command line: the flag groups the commands share (the audit's
//! limits and scope, [`AuditFlags`]; a TiDB cluster's TiUP files, [`TidbInputFlags`]; the SQL
//! account, [`MysqlFlags`]), their value parsers, and the loading of what they name: a TiUP
//! topology or component configs into a cluster and its lint ([`load_tidb`]) or an inventory
//! ([`load_tidb_inventory`], which also reads a TiDB Operator `TidbCluster`), the audit flags applied to an inventory ([`apply`]), a plan.
//!
//! The commands and the front ends (`serve`, `tui`) read their inputs through here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tlsaudit_engine::audit::{Finding, Plan};
use tlsaudit_engine::error::InputError;
use tlsaudit_engine::inventory::rotation::Manifest;
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_engine::probe::mysql::MysqlAccount;
use tlsaudit_engine::probe::Resolve;
use tlsaudit_engine::profile::{Component, Version};
use tlsaudit_engine::tiup::{Cluster, ConfigArg, ConfigKind, TiupOptions};

/// The audit account for the SQL ports (`mysql` protocol). The password is read from the
/// environment or a file only, never from the command line.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MysqlFlags {
    /// SQL ports: log in as this account over TLS and in plaintext, to learn whether plaintext
    /// is refused (it needs no privileges). Password: TLSAUDIT_MYSQL_PASSWORD or
    /// --mysql-password-file.
    #[arg(long, value_name = "NAME")]
    pub mysql_user: Option<String>,
    /// A file holding the password of --mysql-user (one line).
    #[arg(long, value_name = "FILE", requires = "mysql_user")]
    pub mysql_password_file: Option<PathBuf>,
}

impl MysqlFlags {
    /// The audit account, with its password from the file or the environment.
    pub fn account(&self) -> Result<Option<MysqlAccount>, InputError> {
        self.mysql_user
            .as_deref()
            .map(|u| MysqlAccount::load(u, self.mysql_password_file.as_deref()))
            .transpose()
    }
}

/// Flags shared by the audit commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuditFlags {
    /// Deadline of each probe phase, e.g. 3s (overrides the inventory).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Probes in flight at once (overrides the inventory).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: Option<u32>,
    /// Do not probe without a client certificate.
    #[arg(long)]
    pub no_anonymous: bool,
    /// Do not probe with a certificate from a throwaway CA.
    #[arg(long)]
    pub no_foreign: bool,
    /// Do not mint a certificate with an unlisted CN (needs the CA key).
    #[arg(long)]
    pub no_unlisted: bool,
    /// An endpoint no probe reached is a warning, not a critical finding (by default an audit
    /// that could not see an endpoint it lists fails).
    #[arg(long)]
    pub allow_unreachable: bool,
    /// Audit only the endpoints of this component (repeatable: --component tikv --component pd).
    #[arg(long = "component", value_name = "COMPONENT")]
    pub only_component: Vec<Component>,
    /// Audit only this endpoint, by name (repeatable).
    #[arg(long = "endpoint", value_name = "NAME")]
    pub only_endpoint: Vec<String>,
    /// Probe only as this identity: an inventory name, or anonymous, foreign, unlisted
    /// (repeatable).
    #[arg(long = "identity", value_name = "NAME")]
    pub only_identity: Vec<String>,
    /// Start at most N connections per second, probes and the hygiene scan's hellos alike
    /// (for production: each is one TLS handshake, and a log line on the server when it is
    /// refused).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: Option<u32>,
    /// Do not scan the TLS versions and cipher suites each endpoint accepts (the hygiene
    /// scan: about 20 to 80 short connections per endpoint, once per address).
    #[arg(long)]
    pub no_scan: bool,
    /// How often `serve` and the dashboard repeat the hygiene scan (default 1h; the first
    /// round always scans, and a one-shot report scans once).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "no_scan")]
    pub scan_interval: Option<Duration>,
    /// The manifest `tlsaudit rotate` wrote (OUT/rotation.json): an endpoint that does not serve
    /// the certificate issued for its instance is a ROTATION_NOT_APPLIED finding.
    #[arg(long, value_name = "FILE")]
    pub expect_rotation: Option<PathBuf>,
    #[command(flatten)]
    pub resolve: ResolveFlags,
    #[command(flatten)]
    pub mysql: MysqlFlags,
}

/// `--resolve`, for every command that connects.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ResolveFlags {
    /// Dial NAME:PORT at ADDR (curl's form; ADDR may be IP:PORT), still verifying the server
    /// certificate for NAME: pod DNS names from a bastion (repeatable).
    #[arg(long = "resolve", value_name = "NAME:PORT:ADDR", value_parser = Resolve::parse)]
    pub resolve: Vec<Resolve>,
}

impl ResolveFlags {
    /// Make every later connection of this process follow them.
    pub fn apply(&self) {
        tlsaudit_engine::probe::add_resolves(&self.resolve);
    }
}

/// Where a TiDB cluster's description comes from (instead of a tlsaudit.toml).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TidbInputFlags {
    /// TiUP topology.yaml, or a cluster's meta.yaml
    /// (~/.tiup/storage/cluster/clusters/NAME/meta.yaml).
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// TiUP's TLS folder: ca.crt, ca.pem (the CA key), client.crt and client.pem, and any
    /// ROLE.crt/ROLE.pem (default with a meta.yaml: the tls folder beside it).
    #[arg(long, value_name = "DIR")]
    pub tls_dir: Option<PathBuf>,
    /// A component config: tidb.toml, tikv.toml, pd.toml, tiflash.toml, tiflash-learner.toml,
    /// ticdc.toml (or COMPONENT=FILE; COMPONENT@INSTANCE=FILE binds it to one instance, by node
    /// ID, address or TiUP name; a folder holds one per instance as DIR/INSTANCE/conf/*.toml).
    /// Repeatable.
    #[arg(long = "component-config", value_name = "FILE")]
    pub component_config: Vec<String>,
    /// The CA callers trust (default: ca.crt in --tls-dir).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The cluster name (default: meta.yaml's folder, the client certificate's CN
    /// NAME-client, or the topology file's name).
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// The cluster version, e.g. v8.5.0, for rules that changed (default: meta.yaml's
    /// tidb_version).
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub cluster_version: Option<Version>,
    /// Certificate files expiring within this many days are a warning.
    #[arg(long, value_name = "DAYS", default_value = "30")]
    pub expiry_days: u32,
    /// A TiDB Operator cluster: `kubectl get tc NAME -o yaml` (pingcap.com/v1alpha1), instead
    /// of a topology; its pods are audited by their DNS names.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["topology", "component_config"])]
    pub tidbcluster: Option<PathBuf>,
    /// The --tidbcluster's Secrets as a pod mounts them: one folder per Secret
    /// (<cluster>-<component>-cluster-secret/tls.crt, tls.key, ca.crt; the client's too).
    /// Default: /etc/tlsaudit/secrets when it exists (the shipped Job's mounts).
    #[arg(long, value_name = "DIR", requires = "tidbcluster")]
    pub k8s_secrets: Option<PathBuf>,
    /// cert-manager Certificate manifests of the --tidbcluster (kubectl get certificate -o
    /// yaml), linted for usages, dnsNames and renewal (repeatable).
    #[arg(long = "manifest", value_name = "FILE", requires = "tidbcluster")]
    pub manifests: Vec<PathBuf>,
}

impl TidbInputFlags {
    /// Whether a TiDB input was given (a topology, a component config, or a TidbCluster).
    pub fn is_given(&self) -> bool {
        self.topology.is_some() || !self.component_config.is_empty() || self.tidbcluster.is_some()
    }
}

/// A duration such as `5s` or `500ms`, more than zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 5s, 500ms)"))?;
    if d.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(d)
}

/// A cluster version such as `v8.5.0`.
pub fn parse_version(s: &str) -> Result<Version, String> {
    Version::parse(s).ok_or_else(|| format!("{s:?} is not a version (e.g. v8.5.0)"))
}

/// `--vantage NAME`: 1 to 64 letters, digits, `-`, `_` or `.` (a label value and a file name).
pub fn check_vantage(v: &str) -> Result<(), InputError> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(InputError::usage(
            format!("--vantage {v:?} is not a usable name"),
            "use 1 to 64 letters, digits, '-', '_' or '.', e.g. --vantage rack-a",
        ))
    }
}

/// The audit flags over an inventory's options: limits, probes left out, the scope, the SQL
/// account.
pub fn apply(flags: &AuditFlags, inv: &mut Inventory) -> Result<(), InputError> {
    flags.resolve.apply();
    if let Some(t) = flags.timeout {
        inv.set_timeout(t);
    }
    if let Some(c) = flags.concurrency {
        inv.options.concurrency = c as usize;
    }
    inv.options.anonymous &= !flags.no_anonymous;
    inv.options.foreign &= !flags.no_foreign;
    inv.options.unlisted &= !flags.no_unlisted;
    inv.options.allow_unreachable |= flags.allow_unreachable;
    if let Some(r) = flags.rate {
        inv.options.rate = Some(r);
    }
    if let Some(d) = flags.scan_interval {
        inv.options.scan = Some(d);
    }
    if flags.no_scan {
        inv.options.scan = None;
    }
    if let Some(path) = &flags.expect_rotation {
        // Before the scope: an instance outside it is left out by the scope, not unmatched.
        let notes = Manifest::load(path)?.apply(inv, path);
        inv.options.scope_notes.extend(notes);
    }
    inv.restrict(&tlsaudit_engine::inventory::Scope {
        components: flags.only_component.clone(),
        endpoints: flags.only_endpoint.clone(),
        identities: flags.only_identity.clone(),
    })?;
    if let Some(account) = flags.mysql.account()? {
        inv.options.mysql_account = Some(account);
    }
    Ok(())
}

/// The plan of an inventory with the audit flags applied, carrying the static findings of its
/// inputs (a TiDB cluster's lint; none for an inventory file).
pub fn plan(
    mut inv: Inventory,
    static_findings: Vec<Finding>,
    flags: &AuditFlags,
) -> Result<Plan, InputError> {
    apply(flags, &mut inv)?;
    let mut plan = Plan::new(inv)?;
    plan.static_findings.extend(static_findings);
    Ok(plan)
}

/// `--component-config [COMPONENT[@INSTANCE]=]FILE`: the config kind and the instance it is
/// bound to when named, and the file (or a folder of per-instance files).
fn component_config(c: &str) -> Result<ConfigArg, InputError> {
    let Some((k, p)) = c.split_once('=').filter(|(k, _)| !k.contains('/')) else {
        return Ok(ConfigArg::file(None, PathBuf::from(c)));
    };
    let (k, instance) = match k.split_once('@') {
        Some((k, i)) if !i.is_empty() => (k, Some(i.to_string())),
        Some(_) => {
            return Err(InputError::usage(
                format!("--component-config {c}: no instance after @"),
                "name it as tikv@10.0.1.17:20160=tikv.toml (a node ID, an address or a TiUP instance name)",
            ))
        }
        None => (k, None),
    };
    let kind = ConfigKind::from_name(k).map_err(|names| {
        InputError::usage(
            format!("--component-config {c}: unknown component {k:?}"),
            format!("{names}, as in tikv=/path/tikv.toml or tikv@10.0.1.17:20160=/path/tikv.toml"),
        )
    })?;
    Ok(ConfigArg {
        kind: Some(kind),
        path: PathBuf::from(p),
        instance,
    })
}

/// Read the TiDB inputs and lint them.
pub fn load_tidb(flags: &TidbInputFlags) -> Result<(Cluster, Vec<Finding>), InputError> {
    if flags.tidbcluster.is_some() {
        return Err(InputError::usage(
            "this command reads a TiUP topology, not a --tidbcluster",
            "audit a TiDB Operator cluster with report --tidbcluster FILE --k8s-secrets DIR (its lint findings are in the report)",
        ));
    }
    let configs = flags
        .component_config
        .iter()
        .map(|c| component_config(c))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = TiupOptions {
        topology: flags.topology.clone(),
        tls_dir: flags.tls_dir.clone(),
        component_configs: configs,
        ca: flags.ca.clone(),
        cluster_name: flags.cluster_name.clone(),
        version: flags.cluster_version,
    };
    let cluster = Cluster::load(&opts)?;
    let findings = tlsaudit_engine::lint::lint(
        &cluster,
        &tlsaudit_engine::lint::LintOptions {
            expiry_warning_days: flags.expiry_days,
        },
    );
    Ok((cluster, findings))
}

/// Where the shipped Job and CronJob (docs/deploy/kubernetes/) mount the cluster's Secrets: in
/// such a pod, `report --tidbcluster FILE` needs no `--k8s-secrets`.
const K8S_SECRETS_MOUNT: &str = "/etc/tlsaudit/secrets";

/// `--k8s-secrets`, else `mounted` when that folder exists.
fn k8s_secrets<'a>(given: Option<&'a Path>, mounted: &'a Path) -> Option<&'a Path> {
    given.or_else(|| mounted.is_dir().then_some(mounted))
}

/// The inventory of a TiDB cluster read from its TiUP topology or component configs, with the
/// static findings of its lint (and of the import).
pub fn load_tidb_inventory(
    flags: &TidbInputFlags,
) -> Result<(Inventory, Vec<Finding>), InputError> {
    if let Some(tc) = &flags.tidbcluster {
        let mounted = Path::new(K8S_SECRETS_MOUNT);
        return tlsaudit_engine::k8s::load(
            tc,
            k8s_secrets(flags.k8s_secrets.as_deref(), mounted),
            flags.ca.as_deref(),
            &flags.manifests,
        );
    }
    let (cluster, mut findings) = load_tidb(flags)?;
    let options = tlsaudit_engine::inventory::AuditOptions {
        expiry_warning_days: flags.expiry_days,
        ..Default::default()
    };
    let (inv, notes) = cluster.inventory(options)?;
    findings.extend(notes);
    Ok((inv, findings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_positive_and_say_how_to_write_them() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0s"), Err("must be more than zero".into()));
        assert!(parse_duration("soon").is_err_and(|e| e.contains("examples: 5s")));
    }

    #[test]
    fn a_vantage_is_a_short_plain_name() {
        assert!(check_vantage("rack-a.1_b").is_ok());
        for bad in ["", "a b", "x/y", &"v".repeat(65)] {
            assert!(check_vantage(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_jobs_secrets_mount_is_the_default_only_where_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        let given = Path::new("/given");
        assert_eq!(k8s_secrets(Some(given), dir.path()), Some(given));
        assert_eq!(k8s_secrets(None, dir.path()), Some(dir.path()));
        let absent = dir.path().join("absent");
        assert_eq!(k8s_secrets(None, &absent), None);
    }

    #[test]
    fn a_component_config_may_name_its_component() {
        let plain = component_config("/etc/tikv.toml").unwrap();
        assert_eq!(
            plain,
            ConfigArg::file(None, PathBuf::from("/etc/tikv.toml"))
        );
        let named = component_config("tikv=/etc/a.toml").unwrap();
        assert!(named.kind.is_some() && named.instance.is_none());
        let bound = component_config("tikv@10.0.1.17:20160=/etc/a.toml").unwrap();
        assert_eq!(bound.instance.as_deref(), Some("10.0.1.17:20160"));
        assert_eq!(bound.path, PathBuf::from("/etc/a.toml"));
        // A `=` inside a path is no component name.
        assert!(component_config("./a=b/c.toml").unwrap().kind.is_none());
        assert!(component_config("nope=/etc/a.toml").is_err());
        assert!(component_config("tikv@=/etc/a.toml").is_err());
    }
}
