//! `tlsaudit rotate`: new leaf certificates from the same CA (new keys, the same CNs and SANs),
//! and the rolling order: one instance at a time, PD first, TiUP's client last, with the check
//! to run after each step. The CA does not change, so no component needs a restart: Go
//! components (PD, TiDB, TiCDC) re-read certificate and key at every handshake, TiKV and the
//! TiFlash proxy when the file's mtime changes, for new connections.

use std::path::PathBuf;

use super::fix::node_id;
use super::init::{check_out, issue_instance, mkdir, write_pem, InitOptions, InstanceFiles};
use crate::error::InputError;
use crate::pki::mint::Ca;
use crate::tiup::Cluster;

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
}

/// What `rotate` wrote, in the order to roll it out.
#[derive(Debug, Clone)]
pub struct RotateOutput {
    pub cluster: String,
    pub out: PathBuf,
    pub instances: Vec<InstanceFiles>,
    pub steps: Vec<Step>,
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
    for inst in order {
        let files = issue_instance(inst, &ca, &opts.out, opts.days, opts.force)?;
        steps.push(Step {
            instance: inst.name.clone(),
            node: node_id(inst),
            host: inst.host.clone(),
            deploy_dir: inst.deploy_dir.clone(),
            cert: files.cert.clone(),
            key: files.key.clone(),
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
    });
    Ok(RotateOutput {
        cluster: cluster.name.clone(),
        out: opts.out.clone(),
        instances,
        steps,
    })
}
