//! A `TidbCluster` and its Secrets turned into an inventory: every pod's endpoints by DNS
//! name, each with the allow-list its component's config states, and one identity per Secret.
//! The inventory is written as `tlsaudit.toml` text and read by the inventory's own parser, so
//! that it is held to the same checks as one written by hand.

use std::fmt::Write as _;
use std::path::Path;

use super::ports;
use super::secrets::Secrets;
use super::tc::TidbCluster;

/// A TOML string literal.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn q_path(p: &Path) -> String {
    q(&p.display().to_string())
}

/// The inventory text of the cluster: its CA, the Secrets' identities, every pod's endpoints.
pub fn inventory_text(tc: &TidbCluster, secrets: &Secrets, ca: &Path) -> String {
    let mut t = format!("[cluster]\nname = {}\nca = {}\n\n", q(&tc.name), q_path(ca));
    for id in &secrets.identities {
        let _ = writeln!(t, "[identities.{}]", q(&id.secret));
        let _ = writeln!(t, "cert = {}\nkey = {}", q_path(&id.cert), q_path(&id.key));
        if let Some(c) = id.component {
            let _ = writeln!(t, "component = {}", q(c.as_str()));
        }
        t.push('\n');
    }
    for m in &tc.members {
        for ordinal in 0..m.replicas {
            let host = tc.pod_name(m.key, ordinal);
            for p in ports::of(m.component) {
                let _ = writeln!(t, "[[endpoints]]");
                let _ = writeln!(
                    t,
                    "name = {}",
                    q(&format!("{}-{}-{ordinal} {}", tc.name, m.key, p.role))
                );
                let _ = writeln!(
                    t,
                    "component = {}\nrole = {}",
                    q(m.component.as_str()),
                    q(p.role)
                );
                let _ = writeln!(t, "address = {}", q(&format!("{host}:{}", p.port)));
                if let Some(v) = tc.version.as_deref().filter(|v| v.starts_with('v')) {
                    let _ = writeln!(t, "version = {}", q(v));
                }
                if let Some(list) = m.list(p.list_key) {
                    let items: Vec<String> = list.iter().map(|c| q(c)).collect();
                    let _ = writeln!(t, "allowed_cn = [{}]", items.join(", "));
                }
                let _ = writeln!(
                    t,
                    "labels = {{ namespace = {}, component = {} }}",
                    q(&tc.namespace),
                    q(m.key)
                );
                t.push('\n');
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;

    #[test]
    fn every_pod_port_becomes_an_endpoint_with_its_list() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/k8s");
        let tc = TidbCluster::load(&dir.join("per-component.yaml")).unwrap();
        let text = inventory_text(&tc, &Secrets::default(), Path::new("/ca.crt"));
        let inv = Inventory::parse(&text, &dir.join("per-component.yaml")).unwrap();
        // 3 PD x 2, 3 TiKV x 2, 2 TiDB x 1, 1 TiFlash x 4, 1 TiCDC, 1 TiProxy.
        assert_eq!(inv.endpoints.len(), 6 + 6 + 2 + 4 + 1 + 1);
        let ep = |name: &str| inv.endpoints.iter().find(|e| e.name == name).unwrap();
        let kv = ep("prod-tikv-1 grpc");
        assert_eq!(
            kv.address,
            "prod-tikv-1.prod-tikv-peer.tidb.svc.cluster.local:20160"
        );
        assert!(kv.allowed_cn.contains(&"prod-client".to_string()));
        assert_eq!(ep("prod-tidb-0 status").allowed_cn.len(), 4);
        assert_eq!(ep("prod-tiflash-0 proxy").allowed_cn.len(), 3);
        assert_eq!(
            ep("prod-ticdc-0 server").address,
            "prod-ticdc-0.prod-ticdc-peer.tidb.svc.cluster.local:8301"
        );
        assert!(ep("prod-ticdc-0 server").allowed_cn.is_empty());
    }
}
