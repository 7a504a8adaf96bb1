//! `tlsaudit rotate`: new leaf certificates from the same CA (new keys, the same CNs and SANs),
//! and the rolling order: one instance at a time, PD first, TiUP's client last, with the check
//! to run after each step. The CA does not change, so no component needs a restart: Go
//! components (PD, TiDB, TiCDC) re-read certificate and key at every handshake, TiKV and the
//! TiFlash proxy when the file's mtime changes, for new connections.

use std::path::PathBuf;

use super::fix::node_id;
use super::init::{check_out, issue_instance, mkdir, write_pem, InitOptions, InstanceFiles};
use crate::error::InputError;
use crate::inventory::rotation::{IssuedInstance, IssuedLeaf, Manifest, FILE_NAME, SCHEMA};
use crate::pki::load::{load_certs, CertRole};
use crate::pki::mint::Ca;
use crate::pki::summarize;
use crate::profile::Role;
use crate::tiup::{Cluster, Instance};

/// What `rotate` does.
#[derive(Debug, Clone)]
pub struct RotateOptions {
    pub out: PathBuf,
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub days: i64,
    pub force: bool,
}

/// One step of the rolling order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The instance name, or `client` for TiUP's certificate.
    pub instance: String,
    /// TiUP's node ID (`host:port`), empty for the client.
    pub node: String,
    pub host: String,
    /// The instance's deploy dir on its host, when the topology says it.
    pub deploy_dir: Option<String>,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The audit's names of the endpoints the instance serves with this certificate (for
    /// `--endpoint`), empty for the client.
    pub endpoints: Vec<String>,
}

/// What `rotate` wrote, in the order to roll it out.
#[derive(Debug, Clone)]
pub struct RotateOutput {
    pub cluster: String,
    pub out: PathBuf,
    pub instances: Vec<InstanceFiles>,
    pub steps: Vec<Step>,
    /// The manifest of what was issued (`rotation.json` in `out`), for `--expect-rotation`.
    pub manifest: PathBuf,
}

/// Issue the new certificates of every instance and of TiUP's client.
pub fn rotate(cluster: &Cluster, opts: &RotateOptions) -> Result<RotateOutput, InputError> {
    check_out(
        cluster,
        &InitOptions {
            out: opts.out.clone(),
            ca: super::init::CaSource::New,
            days: opts.days,
            force: opts.force,
            host_dir: None,
        },
    )?;
    let ca = Ca::load(&opts.ca_cert, &opts.ca_key)?;
    // The monitoring agents speak plaintext and call nothing: no certificate to rotate.
    let mut order: Vec<&crate::tiup::Instance> = cluster
        .instances
        .iter()
        .filter(|i| super::init::takes_certificate(i.component))
        .collect();
    // TiUP's reload order.
    order.sort_by_key(|i| i.component.reload_rank().unwrap_or(u8::MAX));
    let mut instances = Vec::new();
    let mut steps = Vec::new();
    let mut issued = Vec::new();
    for inst in order {
        let files = issue_instance(inst, &ca, &opts.out, opts.days, opts.force)?;
        issued.push(issued_instance(inst, &files)?);
        steps.push(Step {
            instance: inst.name.clone(),
            node: node_id(inst),
            host: inst.host.clone(),
            deploy_dir: inst.deploy_dir.clone(),
            cert: files.cert.clone(),
            key: files.key.clone(),
            endpoints: tls_endpoints(inst)
                .filter_map(|e| inst.endpoint_name(e.role))
                .collect(),
        });
        instances.push(files);
    }
    let tls = opts.out.join("tls");
    mkdir(&tls)?;
    let client = ca.issue(&format!("{}-client", cluster.name), &[], false, opts.days)?;
    let (cert, key) = (tls.join("client.crt"), tls.join("client.pem"));
    write_pem(&cert, &client.cert_pem, false, opts.force)?;
    write_pem(&key, &client.key_pem, true, opts.force)?;
    steps.push(Step {
        instance: "client".to_string(),
        node: String::new(),
        host: String::new(),
        deploy_dir: None,
        cert,
        key,
        endpoints: Vec::new(),
    });
    let manifest = write_manifest(cluster, issued, opts)?;
    Ok(RotateOutput {
        cluster: cluster.name.clone(),
        out: opts.out.clone(),
        instances,
        steps,
        manifest,
    })
}

/// The endpoints an instance serves with the certificate TiUP manages: every port but the SQL
/// port, whose certificate is the operator's own (`security.ssl-cert`).
fn tls_endpoints(inst: &Instance) -> impl Iterator<Item = &crate::tiup::InstanceEndpoint> {
    inst.endpoints
        .iter()
        .filter(|e| !matches!(e.role, Role::TidbSql | Role::TiproxySql))
}

/// One instance's entry of the manifest: its new leaf as written, and where it serves it.
fn issued_instance(inst: &Instance, files: &InstanceFiles) -> Result<IssuedInstance, InputError> {
    let leaf = summary_of(&files.cert, CertRole::Leaf)?;
    Ok(IssuedInstance {
        instance: inst.name.clone(),
        node: node_id(inst),
        host: inst.host.clone(),
        addresses: tls_endpoints(inst).map(|e| e.address.clone()).collect(),
        cert: files.cert.clone(),
        remote_dir: inst
            .deploy_dir
            .as_ref()
            .map(|d| format!("{}/tls", d.trim_end_matches('/'))),
        leaf: IssuedLeaf {
            serial: leaf.serial,
            sha256: leaf.sha256,
            not_after: leaf.not_after,
        },
    })
}

fn summary_of(
    path: &std::path::Path,
    role: CertRole,
) -> Result<crate::pki::CertSummary, InputError> {
    let der = load_certs(path, role)?;
    let first = der.first().map(|d| summarize(d.as_ref()));
    match first {
        Some(Ok(s)) => Ok(s),
        Some(Err(e)) => Err(InputError::usage(
            format!("{}: {e}", path.display()),
            "report this as a bug",
        )),
        None => Err(InputError::usage(
            format!("{}: no certificate", path.display()),
            "report this as a bug",
        )),
    }
}

/// Write `rotation.json` into the output folder.
fn write_manifest(
    cluster: &Cluster,
    instances: Vec<IssuedInstance>,
    opts: &RotateOptions,
) -> Result<PathBuf, InputError> {
    let manifest = Manifest {
        schema: SCHEMA.to_string(),
        cluster: cluster.name.clone(),
        issued_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        ca_sha256: summary_of(&opts.ca_cert, CertRole::Ca)?.sha256,
        instances,
    };
    let path = opts.out.join(FILE_NAME);
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| {
        InputError::usage(
            format!("cannot write {}: {e}", path.display()),
            "report this as a bug",
        )
    })?;
    write_pem(&path, &format!("{json}\n"), false, opts.force)?;
    Ok(path)
}
