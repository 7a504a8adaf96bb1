//! `tlsaudit init`: the cluster's PKI and its `[security]` sections from a TiUP topology.
//!
//! Layout of the output folder:
//! - `tls/`: TiUP's folder on the control machine (`~/.tiup/storage/cluster/clusters/<name>/tls`):
//!   `ca.crt`, `ca.pem` (the CA key, only for a new CA), `client.crt`, `client.pem`.
//! - `<instance>/tls/`: what goes to `<deploy_dir>/tls` on the instance's host, as TiUP lays it
//!   out: `ca.crt`, `<role>.crt`, `<role>.pem`.
//! - `<instance>/<file>.toml`: the instance's `[security]` settings (paths, allow-list).
//! - `tiup-server-configs.yaml`: the allow-lists as a TiUP `server_configs` fragment.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::allow::{self, AllowList};
use super::render::{self, Setting, Value};
use crate::error::InputError;
use crate::pki::mint::Ca;
use crate::profile::{CertPolicy, Component, Role};
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

/// The cluster must have instances, and the folder must be empty unless `force`.
pub(crate) fn check_out(cluster: &Cluster, opts: &InitOptions) -> Result<(), InputError> {
    if cluster.instances.is_empty() {
        let src = cluster.topology.clone().unwrap_or_default();
        return Err(InputError::file(
            &src,
            "declares no instance",
            "give a topology with pd_servers, tikv_servers, tidb_servers, ...",
        ));
    }
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

pub(crate) fn mkdir(dir: &Path) -> Result<(), InputError> {
    std::fs::create_dir_all(dir).map_err(|e| InputError::io(dir, &e))
}

/// Write a file; a private one is created 0600 (never wider, even for a moment). An existing
/// file is replaced only with `force`.
pub(crate) fn write_pem(
    path: &Path,
    text: &str,
    private: bool,
    force: bool,
) -> Result<(), InputError> {
    if path.exists() {
        if !force {
            return Err(InputError::file(
                path,
                "already exists",
                "choose another --out folder, or pass --force to replace the files",
            ));
        }
        std::fs::remove_file(path).map_err(|e| InputError::io(path, &e))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    let mut f = opts.open(path).map_err(|e| InputError::io(path, &e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.flush())
        .map_err(|e| InputError::io(path, &e))
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

    let lists = allow::allow_lists(cluster, &client_cn);
    let mut instances = Vec::new();
    for inst in &cluster.instances {
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
            cluster.name
        ),
        format!(
            "then `tiup cluster reload {}` (TiUP sets the certificate paths itself",
            cluster.name
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
