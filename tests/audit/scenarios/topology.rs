//! The scenarios described by a TiUP topology and its TLS folder, as a TiDB SRE runs the tool
//! on the control machine: the fix names TiUP's commands with the cluster's real name and edits
//! the layer that holds the value.

use tlsaudit_engine::audit::{Severity, Verdict};
use tlsaudit_lab::{EndpointSpec, LabSpec, SqlConfig};

use super::harness::{Input, Scenario, Top, NONE};

const PD: &[&str] = &["pd", "tidb", "tikv", "prod-client"];
const KV: &[&str] = &["tidb", "pd", "tikv", "prod-client"];
const DB: &[&str] = &["tidb", "pd", "prod-client"];

/// A YAML flow list.
fn flow(cns: &[&str]) -> String {
    format!("[{}]", tlsaudit_testkit::yaml_list(cns))
}

/// A lab of one PD, the given TiKVs (name, list its servers run with) and one TiDB.
fn lab(tikvs: &[(&str, &[&str])]) -> LabSpec {
    let sql = SqlConfig {
        tls: true,
        client_ca: false,
        require_secure_transport: true,
        account: None,
    };
    let mut spec = LabSpec::new("prod")
        .with(EndpointSpec::pd("pd", PD))
        .with(EndpointSpec::pd("pd-peer", PD).with_role("peer"))
        .with(EndpointSpec::tidb_sql("tidb", sql))
        .with(EndpointSpec::tidb_status("tidb-status", DB));
    for (name, list) in tikvs {
        spec = spec
            .with(EndpointSpec::tikv_grpc(*name, list))
            .with(EndpointSpec::tikv_status(format!("{name}-status"), list));
    }
    spec
}

/// The topology: `server_configs` (the TiKV list when given), PD, the TiKVs (each with its
/// instance `config` lines) and TiDB.
fn topology(kv_list: Option<&[&str]>, tikvs: &[(&str, &str)]) -> Input {
    let mut t = format!(
        "global:\n  user: tidb\n  enable_tls: true\nserver_configs:\n  pd:\n    security.cert-allowed-cn: {}\n  tidb:\n    security.cluster-verify-cn: {}\n",
        flow(PD),
        flow(DB)
    );
    if let Some(l) = kv_list {
        t.push_str(&format!(
            "  tikv:\n    security.cert-allowed-cn: {}\n",
            flow(l)
        ));
    }
    t.push_str("pd_servers:\n  - host: 127.0.0.1\n    client_port: {port:pd}\n    peer_port: {port:pd-peer}\n");
    t.push_str("tikv_servers:\n");
    for (name, config) in tikvs {
        t.push_str(&format!(
            "  - host: 127.0.0.1\n    port: {{port:{name}}}\n    status_port: {{port:{name}-status}}\n{config}"
        ));
    }
    t.push_str("tidb_servers:\n  - host: 127.0.0.1\n    port: {port:tidb}\n    status_port: {port:tidb-status}\n");
    Input::Topology(t)
}

/// An instance `config` override of the TiKV list.
fn instance_list(cns: &[&str]) -> String {
    format!(
        "    config:\n      security.cert-allowed-cn: {}\n",
        flow(cns)
    )
}

const TYPO: &[&str] = &["tibd", "pd", "tikv", "prod-client"];

/// Issue 26, item 7: the list is set in a TiKV instance's `config` override with a typo (`tibd`):
/// the fix edits that override (fragment and diff alike) and replaces the typo.
pub fn typo_in_instance_override() -> Scenario {
    Scenario {
        planted: "TiKV's list is set in its instance config override, with the typo tibd for tidb",
        lab: lab(&[("tikv", TYPO)]),
        issue: &[],
        input: topology(None, &[("tikv", &instance_list(TYPO))]),
        top: Top {
            code: "CALLER_NOT_LISTED",
            severity: Severity::Critical,
            endpoint: Some("tikv-127.0.0.1-{port:tikv}"),
            identity: Some("tidb"),
        },
        cell: ("tidb", "tikv-127.0.0.1-{port:tikv}", Verdict::Blocked),
        also: &[("pd", "tikv-127.0.0.1-{port:tikv}", Verdict::Secure)],
        title_has: NONE,
        fix_has: &[
            "+      security.cert-allowed-cn: [\"tidb\", \"pd\", \"tikv\", \"prod-client\"]",
            "tiup cluster reload prod",
        ],
        forbidden: &["tibd", "<cluster>"],
        fix_lacks: &["server_configs:\n  tikv:"],
        absent: NONE,
    }
}

/// Issue 26, item 8: the topology lists pd, the running TiKV refuses it (its config was never
/// reloaded): the topology is right, the fix is `tiup cluster reload prod -N host:port`.
pub fn drift_topology_lists_pd() -> Scenario {
    let running = &["tidb", "tikv", "prod-client"];
    Scenario {
        planted: "the topology lists pd in TiKV's list; the running TiKV refuses pd (not reloaded)",
        lab: lab(&[("tikv", running)]),
        issue: &[],
        input: topology(Some(KV), &[("tikv", "")]),
        top: Top {
            code: "CALLER_BLOCKED",
            severity: Severity::Warning,
            endpoint: Some("tikv-127.0.0.1-{port:tikv}"),
            identity: Some("pd"),
        },
        cell: ("pd", "tikv-127.0.0.1-{port:tikv}", Verdict::Blocked),
        also: &[("pd", "tikv-127.0.0.1-{port:tikv-status}", Verdict::Blocked)],
        title_has: &["the topology lists it"],
        fix_has: &["tiup cluster reload prod -N 127.0.0.1:{port:tikv}"],
        forbidden: &["<cluster>", "edit-config", "pd.toml"],
        fix_lacks: NONE,
        absent: &["CALLER_NOT_LISTED"],
    }
}

/// Issue 26, item 4: from a topology, findings speak of "the topology" (never "the
/// inventory"): here a TiKV enforcing a list the topology does not state.
pub fn topology_names_the_topology() -> Scenario {
    Scenario {
        planted: "the topology states no TiKV list; the running TiKV enforces one",
        lab: lab(&[("tikv", KV)]),
        issue: &[],
        input: topology(None, &[("tikv", "")]),
        top: Top {
            code: "LIST_UNSTATED",
            severity: Severity::Warning,
            endpoint: Some("tikv-127.0.0.1-{port:tikv}"),
            identity: None,
        },
        cell: ("unlisted", "tikv-127.0.0.1-{port:tikv}", Verdict::Enforced),
        also: &[("tidb", "tikv-127.0.0.1-{port:tikv}", Verdict::Secure)],
        title_has: &["the topology does not state"],
        fix_has: &["state the list in the topology"],
        forbidden: &["<cluster>"],
        fix_lacks: NONE,
        absent: &["CALLER_BLOCKED", "NO_ALLOW_LIST"],
    }
}

/// A combination: tikv-1's instance override has the typo `tibd`, and tikv-2 has not applied
/// the topology's list (it refuses pd): the fix corrects the override and reloads tikv-2.
pub fn typo_plus_drift() -> Scenario {
    let running = &["tidb", "tikv", "prod-client"];
    Scenario {
        planted: "tikv-1's instance override has the typo tibd; tikv-2 runs without pd although the topology lists it",
        lab: lab(&[("tikv-1", TYPO), ("tikv-2", running)]),
        issue: &[],
        input: topology(Some(KV), &[("tikv-1", &instance_list(TYPO)), ("tikv-2", "")]),
        top: Top {
            code: "CALLER_NOT_LISTED",
            severity: Severity::Critical,
            endpoint: Some("tikv-127.0.0.1-{port:tikv-1}"),
            identity: Some("tidb"),
        },
        cell: ("pd", "tikv-127.0.0.1-{port:tikv-2}", Verdict::Blocked),
        also: &[("tidb", "tikv-127.0.0.1-{port:tikv-1}", Verdict::Blocked)],
        title_has: NONE,
        fix_has: &[
            "+      security.cert-allowed-cn: [\"tidb\", \"pd\", \"tikv\", \"prod-client\"]",
            "tiup cluster reload prod -N 127.0.0.1:{port:tikv-2}",
        ],
        forbidden: &["tibd", "<cluster>"],
        fix_lacks: &["server_configs:\n  tikv:\n    security.cert-allowed-cn: [\"tibd\""],
        absent: NONE,
    }
}
