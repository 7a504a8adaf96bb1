//! What an audit keeps in memory: every cell that saw the same server chain shares one parsed
//! copy of it (across identities, endpoints serving the same certificate, and rounds), every
//! record of an identity shares one copy of the identity, and a chain no record refers to any
//! more leaves the cache after the round.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use tlsaudit_engine::audit::{Auditor, EndpointId, IdentityId, Plan, Snapshot};
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_engine::pki::ServerChain;
use tlsaudit_lab::{EndpointSpec, LabSpec, ServerCertKind};

fn chain(snap: &Snapshot, identity: &str, endpoint: &str) -> ServerChain {
    let i = snap
        .identity_names
        .iter()
        .position(|n| n == identity)
        .unwrap();
    let e = snap
        .endpoint_names
        .iter()
        .position(|n| n == endpoint)
        .unwrap();
    let rec = snap
        .cell(IdentityId(i), EndpointId(e))
        .record
        .clone()
        .unwrap();
    assert!(!rec.server_chain.is_empty(), "({identity}, {endpoint})");
    rec.server_chain.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cells_share_one_parsed_chain_and_unreferenced_chains_are_evicted() {
    let list = ["tidb", "pd", "tikv", "tiflash"];
    let spec = LabSpec::new("memory")
        .with(EndpointSpec::pd("pd-1", &list))
        .with(EndpointSpec::pd("pd-2", &list))
        .with(EndpointSpec::tikv_grpc("tikv-1", &list))
        .with(EndpointSpec::tikv_status("tikv-1-status", &list));
    let (mut lab, config) = tlsaudit::demo::start_spec(spec).await.unwrap();
    let inv = Inventory::load(&config).unwrap();
    let auditor = Auditor::new(Plan::new(inv).unwrap());

    let first = auditor.run_round(None).await;
    let pd = chain(&first, "tidb", "pd-1");
    // Every identity probing pd-1 holds the same allocation, and so does pd-2 (the lab serves
    // one certificate per component); the anonymous caller saw it too.
    for id in ["tikv", "pd", "client", "anonymous", "foreign"] {
        assert!(Arc::ptr_eq(&pd, &chain(&first, id, "pd-1")), "{id}");
        assert!(Arc::ptr_eq(&pd, &chain(&first, id, "pd-2")), "{id}");
    }
    // The two TiKV ports serve the TiKV certificate: one chain, not the PD one.
    let tikv = chain(&first, "tidb", "tikv-1");
    assert!(Arc::ptr_eq(&tikv, &chain(&first, "pd", "tikv-1-status")));
    assert!(!Arc::ptr_eq(&pd, &tikv));
    assert_eq!(pd[0].common_name.as_deref(), Some("pd"));
    assert_eq!(tikv[0].common_name.as_deref(), Some("tikv"));
    assert_eq!(auditor.plan().chains().len(), 2);
    // One identity report per caller, too.
    let i = IdentityId(0);
    let a = first.cell(i, EndpointId(0)).record.clone().unwrap();
    let b = first.cell(i, EndpointId(2)).record.clone().unwrap();
    assert!(Arc::ptr_eq(&a.identity, &b.identity));

    // The sharing does not show in the report: the streamed JSON is the same text, with the
    // chain and the identity written out in every cell.
    let report = tlsaudit_report::Report::build(&auditor.plan(), &first);
    let text = report.to_json().unwrap();
    let mut streamed = Vec::new();
    report.write_json(&mut streamed).unwrap();
    drop(report); // it shares the round's records
    assert_eq!(String::from_utf8(streamed).unwrap(), text);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cells = value["cells"].as_array().unwrap();
    let pd_cells: Vec<&serde_json::Value> =
        cells.iter().filter(|c| c["endpoint"] == "pd-2").collect();
    assert_eq!(pd_cells.len(), first.identity_names.len());
    for c in pd_cells {
        let rec = &c["record"];
        assert_eq!(rec["server_chain"][0]["common_name"], "pd");
        assert_eq!(rec["server_chain"][0]["sha256"], pd[0].sha256.as_str());
        assert_eq!(rec["identity"]["name"], c["identity"]);
    }

    // The next round parses nothing again: the same chains come back.
    let second = auditor.run_round(None).await;
    assert!(Arc::ptr_eq(&pd, &chain(&second, "unlisted", "pd-2")));
    assert_eq!(auditor.plan().chains().len(), 2);

    // Both PD endpoints rotate their certificate: once no record refers to the old chain, the
    // round that replaced it evicts it.
    for name in ["pd-1", "pd-2"] {
        let rotated = lab
            .spec(name)
            .cloned()
            .unwrap()
            .with_server_cert(ServerCertKind::Reissued);
        lab.reconfigure(rotated).unwrap();
    }
    let old_sha = pd[0].sha256.clone();
    drop((first, second, pd, a, b));
    let third = auditor.run_round(None).await;
    let new_pd = chain(&third, "tidb", "pd-1");
    assert_ne!(new_pd[0].sha256, old_sha);
    assert!(Arc::ptr_eq(&new_pd, &chain(&third, "anonymous", "pd-2")));
    assert!(Arc::ptr_eq(&tikv, &chain(&third, "tidb", "tikv-1")));
    assert_eq!(
        auditor.plan().chains().len(),
        2,
        "the old PD chain is evicted, the new one and TiKV's are kept"
    );
    lab.stop().await;
}
