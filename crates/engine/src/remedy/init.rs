//! `tlsaudit init`: the cluster's PKI and its `[security]` sections from a TiUP topology.
//!
//! Layout of the output folder:
//! - `tls/`: TiUP's folder on the control machine (`~/.tiup/storage/cluster/clusters/<name>/tls`):
//!   `ca.crt`, `ca.pem` (the CA key, only for a new CA), `client.crt`, `client.pem`.
//! - `<instance>/tls/`: what goes to `<deploy_dir>/tls` on the instance's host, as TiUP lays it
//!   out: `ca.crt`, `<role>.crt`, `<role>.pem`.
//! - `<instance>/<file>.toml`: the instance's `[security]` settings (paths, allow-list).
//! - `tiup-server-configs.yaml`: the allow-lists as a TiUP `server_configs` fragment.
//!
//! The lists hold who needs each file's endpoints ([`allow::allow_lists`]) and PD's CN where TiDB
//! Dashboard, which runs inside PD, calls with PD's certificate ([`profile::Need::Dashboard`]).
//! TiUP's monitoring agents (node_exporter, blackbox_exporter) get no certificate: they serve
//! plaintext and call nothing.

use std::path::{Path, PathBuf};

use super::allow::{self, AllowList};
use super::render::{self, Setting, Value};
use crate::error::InputError;
use crate::pki::mint::Ca;
use crate::profile::{self, roles, CertPolicy, Component, Need, Role};
use crate::tiup::{Cluster, ConfigKind, Instance};

/// Where the CA comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    New,
    Existing { cert: PathBuf, key: PathBuf },
}

/// What `init` does.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub out: PathBuf,
    pub ca: CaSource,
    /// Validity of the leaf certificates, in days.
    pub days: i64,
    /// Replace files that exist.
    pub force: bool,
    /// Where each instance's `tls/` folder will be on its host (`{name}` is replaced by the
    /// instance name); default: the folder written here.
    pub host_dir: Option<String>,
}

/// The files of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFiles {
    pub name: String,
    pub component: Component,
    pub cn: String,
    pub sans: Vec<String>,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub configs: Vec<PathBuf>,
}

/// What `init` wrote.
#[derive(Debug, Clone)]
pub struct InitOutput {
    pub cluster: String,
    pub out: PathBuf,
    pub ca_cert: PathBuf,
    /// The CA key written (a new CA only).
    pub ca_key: Option<PathBuf>,
    pub client_cn: String,
    pub client_cert: PathBuf,
    pub instances: Vec<InstanceFiles>,
    pub lists: Vec<AllowList>,
    pub tiup_fragment: PathBuf,
}

/// The SANs of an instance: its host, every address it serves on, `localhost`, `127.0.0.1`.
pub fn sans_of(instance: &Instance) -> Vec<String> {
    let mut sans: Vec<String> = Vec::new();
    let hosts = std::iter::once(instance.host.clone())
        .chain(
            instance
                .endpoints
                .iter()
                .map(|e| crate::probe::host_of(&e.address).to_string()),
        )
        .chain(["localhost".to_string(), "127.0.0.1".to_string()]);
    for h in hosts {
        let h = h.trim_start_matches('[').trim_end_matches(']').to_string();
        if !h.is_empty() && !sans.contains(&h) {
            sans.push(h);
        }
    }
    sans
}

/// The cluster must have instances, the folder must not be a symlink (files are never written
/// through a link), and it must be empty unless `force`.
pub(crate) fn check_out(cluster: &Cluster, opts: &InitOptions) -> Result<(), InputError> {
    if cluster.instances.is_empty() {
        let src = cluster.topology.clone().unwrap_or_default();
        return Err(InputError::file(
            &src,
            "declares no instance",
            "give a topology with pd_servers, tikv_servers, tidb_servers, ...",
        ));
    }
    refuse_symlink(&opts.out)?;
    refuse_symlink(&opts.out.join("tls"))?;
    let busy = std::fs::read_dir(&opts.out).is_ok_and(|mut d| d.next().is_some());
    if busy && !opts.force {
        return Err(InputError::file(
            &opts.out,
            "is not empty",
            "choose an empty --out folder, or pass --force to replace the files in it",
        ));
    }
    Ok(())
}

/// A name that is a symlink (to anything, or dangling) is refused: never written through.
fn refuse_symlink(path: &Path) -> Result<(), InputError> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(crate::fsutil::WriteError::Symlink(path.to_path_buf()).into());
    }
    Ok(())
}

pub(crate) fn mkdir(dir: &Path) -> Result<(), InputError> {
    std::fs::create_dir_all(dir).map_err(|e| InputError::io(dir, &e))
}

/// Write a file through the one atomic write ([`crate::fsutil`]); a private one is created 0600
/// (never wider, even for a moment). An existing file is replaced only with `force`; a symlink
/// (even dangling) never is.
pub(crate) fn write_pem(
    path: &Path,
    text: &str,
    private: bool,
    force: bool,
) -> Result<(), InputError> {
    refuse_symlink(path)?;
    let exists = path.exists();
    if exists && !force {
        return Err(InputError::file(
            path,
            "already exists",
            "choose another --out folder, or pass --force to replace the files",
        ));
    }
    let mode = if private { 0o600 } else { 0o644 };
    let written = if exists {
        crate::fsutil::write_atomic_mode(path, text.as_bytes(), mode)
    } else {
        crate::fsutil::write_new_mode(path, text.as_bytes(), mode)
    };
    written.map_err(InputError::from)
}

/// Run `init` on a cluster read from a topology.
pub fn init(cluster: &Cluster, opts: &InitOptions) -> Result<InitOutput, InputError> {
    check_out(cluster, opts)?;
    let ca = match &opts.ca {
        CaSource::New => Ca::generate(&cluster.name, 10)?,
        CaSource::Existing { cert, key } => Ca::load(cert, key)?,
    };
    let tls = opts.out.join("tls");
    mkdir(&tls)?;
    let ca_cert = tls.join("ca.crt");
    write_pem(&ca_cert, &ca.pem, false, opts.force)?;
    let ca_key = match &ca.new_key_pem {
        Some(k) => {
            let p = tls.join("ca.pem");
            write_pem(&p, k, true, opts.force)?;
            Some(p)
        }
        None => None,
    };
    let client_cn = format!("{}-client", cluster.name);
    let client = ca.issue(&client_cn, &[], false, opts.days)?;
    let client_cert = tls.join("client.crt");
    write_pem(&client_cert, &client.cert_pem, false, opts.force)?;
    write_pem(&tls.join("client.pem"), &client.key_pem, true, opts.force)?;

    let lists = with_dashboard(cluster, allow::allow_lists(cluster, &client_cn));
    let mut instances = Vec::new();
    for inst in cluster
        .instances
        .iter()
        .filter(|i| takes_certificate(i.component))
    {
        instances.push(write_instance(inst, &ca, &lists, opts)?);
    }
    let fragment = opts.out.join("tiup-server-configs.yaml");
    let header = vec![
        format!(
            "tlsaudit init, cluster {}: the CN allow-lists for TiUP.",
            cluster.name
        ),
        format!(
            "Merge under server_configs with `tiup cluster edit-config {}`,",
            crate::tiup::shell_quote(&cluster.name)
        ),
        format!(
            "then `tiup cluster reload {}` (TiUP sets the certificate paths itself",
            crate::tiup::shell_quote(&cluster.name)
        ),
        "with global.enable_tls: true).".to_string(),
    ];
    write_pem(
        &fragment,
        &render::tiup_fragment(&header, &lists),
        false,
        opts.force,
    )?;
    Ok(InitOutput {
        cluster: cluster.name.clone(),
        out: opts.out.clone(),
        ca_cert,
        ca_key,
        client_cn,
        client_cert,
        instances,
        lists,
        tiup_fragment: fragment,
    })
}

/// Whether a component's instances get a certificate: one of its endpoints asks for client
/// certificates (TLS). TiUP's monitoring agents never do: they serve plaintext HTTP even with
/// `enable_tls`, and call no component.
pub fn takes_certificate(component: Component) -> bool {
    roles(component)
        .iter()
        .any(|r| r.profile().cert_policy != CertPolicy::Never)
}

/// PD's CN added, first, to every list that governs an endpoint TiDB Dashboard calls with PD's
/// certificate (Search Logs, Instance Profiling: [`profile::dashboard_features`]), when the
/// cluster has PD and the list lacks it.
pub fn with_dashboard(cluster: &Cluster, mut lists: Vec<AllowList>) -> Vec<AllowList> {
    if !cluster
        .instances
        .iter()
        .any(|i| i.component == Component::Pd)
    {
        return lists;
    }
    let pd = allow::cn_of(Component::Pd);
    for list in &mut lists {
        let pages: Vec<String> = list
            .kind
            .roles()
            .into_iter()
            .filter(|r| profile::need(Component::Pd, *r) == Some(Need::Dashboard))
            .map(|r| {
                format!(
                    "{} {}: {}",
                    r.component().title(),
                    r,
                    profile::dashboard_features(r)
                )
            })
            .collect();
        if pages.is_empty() || list.entries.iter().any(|e| e.cn == pd) {
            continue;
        }
        list.entries.insert(
            0,
            super::allow::Entry {
                cn: pd.to_string(),
                why: format!(
                    "TiDB Dashboard (inside PD) calls with PD's certificate: {}",
                    pages.join("; ")
                ),
            },
        );
    }
    lists
}

/// Issue an instance's certificate and write its `tls/` folder (CA, certificate, key 0600).
pub fn issue_instance(
    inst: &Instance,
    ca: &Ca,
    out: &Path,
    days: i64,
    force: bool,
) -> Result<InstanceFiles, InputError> {
    let cn = allow::cn_of(inst.component).to_string();
    let sans = sans_of(inst);
    let issued = ca.issue(&cn, &sans, true, days)?;
    let tls = out.join(&inst.name).join("tls");
    mkdir(&tls)?;
    let cert = tls.join(format!("{cn}.crt"));
    let key = tls.join(format!("{cn}.pem"));
    write_pem(&tls.join("ca.crt"), &ca.pem, false, force)?;
    write_pem(&cert, &issued.cert_pem, false, force)?;
    write_pem(&key, &issued.key_pem, true, force)?;
    Ok(InstanceFiles {
        name: inst.name.clone(),
        component: inst.component,
        cn,
        sans,
        cert,
        key,
        configs: Vec::new(),
    })
}

/// Issue an instance's certificate and write its folder and config files.
fn write_instance(
    inst: &Instance,
    ca: &Ca,
    lists: &[AllowList],
    opts: &InitOptions,
) -> Result<InstanceFiles, InputError> {
    let mut files = issue_instance(inst, ca, &opts.out, opts.days, opts.force)?;
    let dir = opts.out.join(&inst.name);
    let tls = dir.join("tls");
    let remote = match &opts.host_dir {
        Some(t) => t.replace("{name}", &inst.name),
        None => std::path::absolute(&tls)
            .unwrap_or_else(|_| tls.clone())
            .display()
            .to_string(),
    };
    for kind in allow::kinds_of(inst.component) {
        let path = dir.join(kind.file_name());
        let settings = security_settings(kind, &remote, &files.cn, lists);
        let header = vec![
            format!(
                "tlsaudit init: the TLS settings of {} ({})",
                inst.name,
                kind.file_name()
            ),
            format!(
                "certificate CN {}, SANs {}",
                files.cn,
                files.sans.join(", ")
            ),
        ];
        write_pem(
            &path,
            &render::toml_file(&header, &settings),
            false,
            opts.force,
        )?;
        files.configs.push(path);
    }
    Ok(files)
}

/// The settings of one config file: the files the component calls others with, the files each
/// endpoint serves with where they differ, the allow-list, and for the SQL port TLS required.
pub fn security_settings(
    kind: ConfigKind,
    remote: &str,
    cn: &str,
    lists: &[AllowList],
) -> Vec<Setting> {
    let file = |name: &str| Value::Str(format!("{}/{name}", remote.trim_end_matches('/')));
    let mut out = Vec::new();
    let mut push = |key: crate::profile::ConfigKey, value: Value| {
        let s = Setting {
            table: key.table.to_string(),
            key: key.key.to_string(),
            value,
        };
        if !out
            .iter()
            .any(|o: &Setting| o.table == s.table && o.key == s.key)
        {
            out.push(s);
        }
    };
    let client = kind.config().client;
    push(client.ca, file("ca.crt"));
    push(client.cert, file(&format!("{cn}.crt")));
    push(client.key, file(&format!("{cn}.pem")));
    let roles = Role::ALL
        .into_iter()
        .filter(|r| r.profile().config == *kind.config());
    for role in roles {
        let p = role.profile();
        if p.cert_policy != CertPolicy::Optional {
            push(p.server.ca, file("ca.crt"));
        }
        push(p.server.cert, file(&format!("{cn}.crt")));
        push(p.server.key, file(&format!("{cn}.pem")));
        if role == Role::TidbSql {
            push(
                crate::profile::ConfigKey {
                    table: "security",
                    key: "require-secure-transport",
                },
                Value::Bool(true),
            );
        }
    }
    if let Some(l) = lists.iter().find(|l| l.kind == kind) {
        let items = l
            .entries
            .iter()
            .map(|e| (e.cn.clone(), e.why.clone()))
            .collect();
        push(l.key, Value::List(items));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiup::TiupOptions;

    /// A cluster of every audited TiUP component and the monitoring agents, and `init`'s
    /// output for it.
    fn run_init(dir: &Path, topology: &str) -> InitOutput {
        let p = dir.join("prod.yaml");
        std::fs::write(&p, topology).unwrap();
        let cluster = Cluster::load(&TiupOptions {
            topology: Some(p),
            ..Default::default()
        })
        .unwrap();
        init(
            &cluster,
            &InitOptions {
                out: dir.join("out"),
                ca: CaSource::New,
                days: 1,
                force: false,
                host_dir: None,
            },
        )
        .unwrap()
    }

    const FULL: &str = "global:\n  enable_tls: true\nmonitored:\n  node_exporter_port: 9100\n\
         pd_servers:\n  - host: 10.0.1.1\ntikv_servers:\n  - host: 10.0.1.2\n\
         tidb_servers:\n  - host: 10.0.1.3\ntiflash_servers:\n  - host: 10.0.1.4\n\
         cdc_servers:\n  - host: 10.0.1.5\n";

    fn list(o: &InitOutput, kind: ConfigKind) -> Vec<String> {
        o.lists.iter().find(|l| l.kind == kind).unwrap().cns()
    }

    #[test]
    fn lists_admit_pd_where_dashboard_calls() {
        let dir = tempfile::tempdir().unwrap();
        let o = run_init(dir.path(), FULL);
        assert_eq!(
            list(&o, ConfigKind::Tikv),
            ["pd", "tikv", "tidb", "tiflash", "cdc", "prod-client"]
        );
        assert_eq!(list(&o, ConfigKind::Tidb), ["pd", "tidb", "prod-client"]);
        assert_eq!(list(&o, ConfigKind::Tiflash), ["pd", "tidb"]);
        assert_eq!(
            list(&o, ConfigKind::TiflashLearner),
            ["pd", "tikv", "tiflash"]
        );
        assert_eq!(list(&o, ConfigKind::Ticdc), ["pd", "prod-client"]);
        // PD's own list is the cluster's: PD once.
        assert_eq!(
            list(&o, ConfigKind::Pd)
                .iter()
                .filter(|c| *c == "pd")
                .count(),
            1
        );
        let kv = o.lists.iter().find(|l| l.kind == ConfigKind::Tikv).unwrap();
        assert!(
            kv.entries[0].why.contains("Search Logs")
                && kv.entries[0].why.contains("Instance Profiling"),
            "{kv:?}"
        );
        // The files say it too.
        let tidb = o.instances.iter().find(|i| i.component == Component::Tidb);
        let text = std::fs::read_to_string(&tidb.unwrap().configs[0]).unwrap();
        assert!(text.contains("cluster-verify-cn"), "{text}");
        assert!(text.contains("\"pd\""), "{text}");
    }

    #[test]
    fn without_pd_no_dashboard_entry() {
        let dir = tempfile::tempdir().unwrap();
        let o = run_init(
            dir.path(),
            "tikv_servers:\n  - host: 10.0.1.2\ntidb_servers:\n  - host: 10.0.1.3\n",
        );
        assert_eq!(list(&o, ConfigKind::Tikv), ["tikv", "tidb", "prod-client"]);
    }

    #[test]
    fn monitoring_agents_get_no_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let o = run_init(dir.path(), FULL);
        assert!(!takes_certificate(Component::Exporter));
        assert!(takes_certificate(Component::Tidb) && takes_certificate(Component::Pd));
        assert_eq!(o.instances.len(), 5, "{:?}", o.instances);
        assert!(o
            .instances
            .iter()
            .all(|i| i.component != Component::Exporter));
        for entry in std::fs::read_dir(dir.path().join("out")).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(!name.to_string_lossy().starts_with("monitored"), "{name:?}");
        }
    }
}
