//! Against a real Go peer: etcd (Debian's `etcd-server`, 3.4) configured like PD's peer port
//! (`--peer-client-cert-auth`, `--peer-cert-allowed-cn`, peer TLS with the lab PKI), on
//! 127.0.0.1 with its data in a temp dir. Its peer port is probed through an `Inventory` and
//! the audit: the allowed CN is `secure`, another CN from the same CA `enforced`.
//!
//! Without an `etcd` binary (PATH or `ETCD_BIN`) the test prints a note and skips, except under
//! `CI=true`, where it fails; `.ci/run` installs `etcd-server`.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tlsaudit_engine::audit::{EndpointId, IdentityId};
use tlsaudit_testkit::{free_port, poll};

use tlsaudit_engine::audit::{Auditor, Plan, Verdict};
use tlsaudit_engine::inventory::{AuditOptions, Endpoint, IdentityEntry, Inventory};
use tlsaudit_engine::probe::Protocol;
use tlsaudit_engine::profile::{self, Component};
use tlsaudit_lab::{Lab, LabSpec};

/// A running etcd, killed and reaped on drop; its data dir goes with it.
struct Etcd {
    child: Child,
    peer_port: u16,
    _data: tempfile::TempDir,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_etcd(bin: &Path, lab: &Lab, allowed_cn: &str) -> Etcd {
    let pki = lab.pki();
    let pd = &pki.identities["pd"];
    let mut last = String::new();
    for _ in 0..5 {
        let data = tempfile::tempdir().unwrap();
        let (client, peer) = (free_port(), free_port());
        let peer_url = format!("https://127.0.0.1:{peer}");
        let client_url = format!("http://127.0.0.1:{client}");
        let log = data.path().join("etcd.log");
        let mut child = Command::new(bin)
            .args(["--name", "tlsaudit"])
            .arg("--data-dir")
            .arg(data.path().join("data"))
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("tlsaudit={peer_url}")])
            .args(["--initial-cluster-state", "new"])
            .arg("--peer-cert-file")
            .arg(&pd.cert)
            .arg("--peer-key-file")
            .arg(&pd.key)
            .arg("--peer-trusted-ca-file")
            .arg(&pki.ca_cert)
            .arg("--peer-client-cert-auth")
            .args(["--peer-cert-allowed-cn", allowed_cn])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("etcd starts");
        // Ok(true): listening; Ok(false): etcd exited (its port was taken: try another).
        let up = poll(Duration::from_secs(15), Duration::from_millis(50), || {
            if let Ok(Some(_)) = child.try_wait() {
                return Ok(false);
            }
            if TcpStream::connect(("127.0.0.1", peer)).is_ok() {
                Ok(true)
            } else {
                Err("not listening")
            }
        });
        if up == Ok(true) {
            return Etcd {
                child,
                peer_port: peer,
                _data: data,
            };
        }
        let _ = child.kill();
        let _ = child.wait();
        last = std::fs::read_to_string(&log).unwrap_or_default();
    }
    panic!("etcd did not listen on its peer port; its log:\n{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_peer_port_enforces_its_allowed_cn() {
    let Some(bin) = tlsaudit_testkit::require_tool("etcd") else {
        return;
    };
    let lab = Lab::start(LabSpec::new("x")).await.unwrap();
    let etcd = start_etcd(&bin, &lab, "pd");
    let pki = lab.pki();
    let id = |name: &str, component: Option<Component>| IdentityEntry {
        name: name.to_string(),
        cert: pki.identities[name].cert.clone(),
        key: pki.identities[name].key.clone(),
        component,
        outsider: false,
    };
    let profile = profile::Role::EtcdPeer.profile();
    let inv = Inventory {
        origin: tlsaudit_engine::inventory::Origin::Inventory,
        source: None,
        cluster: "x".into(),
        ca: pki.ca_cert.clone(),
        ca_key: Some(pki.ca_key.clone()),
        identities: vec![id("pd", None), id("tidb", None), id("client", None)],
        endpoints: vec![Endpoint {
            name: "etcd-peer".into(),
            component: Component::Etcd,
            role: profile::Role::EtcdPeer,
            address: format!("127.0.0.1:{}", etcd.peer_port),
            server_name: None,
            protocol: Protocol::Tls,
            path: None,
            allowed_cn: vec!["pd".into()],
            list_at: None,
            version: None,
            profile,
            labels: std::collections::BTreeMap::new(),
            client_auth: None,
            needed_by: Vec::new(),
            cert_file: None,
            ca_file: None,
            rotation: None,
        }],
        options: AuditOptions::default(),
    };
    let auditor = Auditor::new(Plan::new(inv).unwrap());
    let snap = auditor.run_round(None).await;
    let verdict = |name: &str| {
        let i = snap.identity_names.iter().position(|n| n == name).unwrap();
        let c = snap.cell(IdentityId(i), EndpointId(0));
        (
            c.verdict,
            c.record
                .as_ref()
                .map(|r| format!("{}: {}", r.outcome.class, r.outcome.summary)),
        )
    };
    for (name, want) in [
        ("pd", Verdict::Secure),
        ("tidb", Verdict::Enforced),
        ("client", Verdict::Enforced),
        ("unlisted", Verdict::Enforced),
        ("anonymous", Verdict::Enforced),
        ("foreign", Verdict::Enforced),
    ] {
        let (got, what) = verdict(name);
        eprintln!(
            "etcd peer, {name}: {got:?} ({})",
            what.as_deref().unwrap_or("-")
        );
        assert_eq!(got, Some(want), "{name}: {what:?}");
    }
    drop(etcd);
    lab.stop().await;
}
