//! The scenarios described by a hand-written inventory (`tlsaudit.toml`), as a security
//! reviewer would write one: etcd, generic services and TiDB components side by side.

use tlsaudit_engine::audit::{Severity, Verdict};
use tlsaudit_lab::{EndpointSpec, LabSpec, ServerCertKind};

use super::harness::{Input, Scenario, Top, NONE};

/// The version every TiDB endpoint declares.
const V: &str = "version = \"v8.5.0\"\n";
/// TiKV's list when nothing is planted: TiDB, PD (TiDB Dashboard), TiKV and TiUP's client.
const KV: &[&str] = &["tidb", "pd", "tikv", "prod-client"];

/// The inventory's head: the lab's CA and its key, short deadlines.
fn head() -> String {
    "[cluster]\nname = \"prod\"\nca = \"{ca}\"\nca_key = \"{ca_key}\"\n\n[probe]\ntimeout = \"1s\"\n\n"
        .to_string()
}

/// `[identities.NAME]` from the lab's (or an issued) certificate `file`, with `extra` lines.
fn id(name: &str, file: &str, extra: &str) -> String {
    format!("[identities.{name}]\ncert = \"{{cert:{file}}}\"\nkey = \"{{key:{file}}}\"\n{extra}\n")
}

/// The component identities of the lab, named as their CNs.
fn components() -> String {
    ["tidb", "tikv", "pd", "client"]
        .iter()
        .map(|n| id(n, n, ""))
        .collect()
}

/// An `[[endpoints]]` entry for the lab endpoint `name`, with `extra` lines.
fn ep(name: &str, component: &str, role: &str, extra: &str) -> String {
    format!(
        "[[endpoints]]\nname = \"{name}\"\ncomponent = \"{component}\"\nrole = \"{role}\"\naddress = \"{{addr:{name}}}\"\n{extra}\n"
    )
}

/// `allowed_cn = [...]` and the version line.
fn listed(cns: &[&str]) -> String {
    let items: Vec<String> = cns.iter().map(|c| format!("\"{c}\"")).collect();
    format!("allowed_cn = [{}]\n{V}", items.join(", "))
}

/// The intruder: a certificate of the cluster CA the inventory declares an outsider.
fn intruder() -> String {
    id("intruder", "intruder", "expect = \"refuse\"\n")
}

const INTRUDER: &[(&str, &str)] = &[("intruder", "Intruder")];

fn lab() -> LabSpec {
    LabSpec::new("prod")
}

fn inventory(parts: &[String]) -> Input {
    Input::Inventory(format!("{}{}", head(), parts.concat()))
}

/// Issue 26, item 1: etcd's peer port enforces `--peer-cert-allowed-cn PD-Server`, the inventory
/// states no list: the list is learned (LIST_UNSTATED, a warning), nobody is blamed, and nothing
/// advises admitting the intruder.
pub fn etcd_peer_enforces_an_unstated_list() -> Scenario {
    Scenario {
        planted: "etcd's peer port enforces a list (PD-Server) the inventory does not state; an intruder certificate of the cluster CA",
        lab: lab().with(
            EndpointSpec::pd("etcd-peer", &["PD-Server"])
                .with_component("etcd")
                .with_role("peer"),
        ),
        issue: &[("intruder", "Intruder"), ("pd-server", "PD-Server")],
        input: inventory(&[
            id("pd", "pd-server", "component = \"pd\"\n"),
            intruder(),
            ep("etcd-peer", "etcd", "peer", ""),
        ]),
        top: Top {
            code: "LIST_UNSTATED",
            severity: Severity::Warning,
            endpoint: Some("etcd-peer"),
            identity: None,
        },
        cell: ("intruder", "etcd-peer", Verdict::Enforced),
        also: &[("pd", "etcd-peer", Verdict::Secure)],
        title_has: &["does not state"],
        fix_has: &["allowed_cn = [\"PD-Server\"]"],
        forbidden: &["Intruder", "--cert-allowed-cn"],
        fix_lacks: NONE,
        absent: &["CALLER_BLOCKED", "NO_ALLOW_LIST", "CALLER_NOT_LISTED"],
    }
}

/// Issue 26, item 2: the identity `tidb` carries a certificate of another CA; TiKV (which TiDB
/// needs) refuses it: our certificate's fault, critical, never `enforced`.
pub fn wrong_ca_component_identity() -> Scenario {
    Scenario {
        planted: "the identity tidb holds a certificate from another CA; TiKV refuses it",
        lab: lab().with(EndpointSpec::tikv_grpc("tikv", KV)),
        issue: NONE_ISSUED,
        input: inventory(&[
            id("tidb", "foreign", ""),
            id("pd", "pd", ""),
            ep("tikv", "tikv", "grpc", &listed(KV)),
        ]),
        top: Top {
            code: "IDENTITY_INVALID",
            severity: Severity::Critical,
            endpoint: None,
            identity: Some("tidb"),
        },
        cell: ("tidb", "tikv", Verdict::BadIdentity),
        also: &[("pd", "tikv", Verdict::Secure)],
        title_has: &["tidb"],
        fix_has: &["from the cluster CA"],
        forbidden: NONE,
        fix_lacks: NONE,
        absent: NONE,
    }
}

const NONE_ISSUED: &[(&str, &str)] = &[];

/// Issue 26, items 3 and 4: a port answering bytes that are not TLS is unencrypted, titled by
/// its name, with generic advice.
pub fn garbage_port_is_unencrypted() -> Scenario {
    Scenario {
        planted: "a generic port answers bytes that are not TLS",
        lab: lab().with(EndpointSpec::garbage("legacy-api")),
        issue: NONE_ISSUED,
        input: inventory(&[components(), ep("legacy-api", "generic", "tls", "")]),
        top: Top {
            code: "PLAINTEXT_ENDPOINT",
            severity: Severity::Critical,
            endpoint: Some("legacy-api"),
            identity: None,
        },
        cell: ("tidb", "legacy-api", Verdict::Unencrypted),
        also: &[("anonymous", "legacy-api", Verdict::Unencrypted)],
        title_has: &["legacy-api"],
        fix_has: &["configure TLS on the server"],
        forbidden: &["tiup", "[security]"],
        fix_lacks: NONE,
        absent: &["PROTOCOL_ERROR", "PARTIAL_TLS"],
    }
}

/// Issue 26, item 3: a port that accepts TCP and never answers says so (no TLS answer within
/// the deadline), not "could not be reached".
pub fn silent_port_answers_no_tls() -> Scenario {
    Scenario {
        planted: "a generic port accepts TCP and never answers",
        lab: lab().with(EndpointSpec::silent("queue")),
        issue: NONE_ISSUED,
        input: inventory(&[id("tidb", "tidb", ""), ep("queue", "generic", "tls", "")]),
        top: Top {
            code: "UNREACHABLE",
            severity: Severity::Critical,
            endpoint: Some("queue"),
            identity: None,
        },
        cell: ("tidb", "queue", Verdict::Unreachable),
        also: NONE_CELLS,
        title_has: &["queue", "no TLS answer"],
        fix_has: NONE,
        forbidden: &["tiup"],
        fix_lacks: NONE,
        absent: NONE,
    }
}

const NONE_CELLS: &[(&str, &str, Verdict)] = &[];

/// Issue 26, item 5: one nginx speaks plaintext beside TiDB components under TLS: no
/// PARTIAL_TLS, and advice without TiUP.
pub fn nginx_plaintext_beside_tls_components() -> Scenario {
    Scenario {
        planted: "an nginx-like generic endpoint speaks plaintext HTTP beside TiKV under TLS",
        lab: lab()
            .with(EndpointSpec::tikv_grpc("tikv", KV))
            .with(EndpointSpec::plaintext_http("nginx")),
        issue: NONE_ISSUED,
        input: inventory(&[
            components(),
            ep("tikv", "tikv", "grpc", &listed(KV)),
            ep("nginx", "generic", "tls", ""),
        ]),
        top: Top {
            code: "PLAINTEXT_ENDPOINT",
            severity: Severity::Critical,
            endpoint: Some("nginx"),
            identity: None,
        },
        cell: ("tidb", "nginx", Verdict::Unencrypted),
        also: &[("tidb", "tikv", Verdict::Secure)],
        title_has: &["nginx"],
        fix_has: &["configure TLS on the server"],
        forbidden: &["tiup", "tikv.toml"],
        fix_lacks: NONE,
        absent: &["PARTIAL_TLS"],
    }
}

/// Issue 26, item 6: TiKV states no list and admits the intruder: a warning (TiDB's guide sets
/// the list so that "other visitors are blocked"), whose fix names only the needed callers.
pub fn outsider_in_tikv_without_a_list() -> Scenario {
    Scenario {
        planted: "TiKV enforces no list and admits an intruder certificate of the cluster CA",
        lab: lab().with(EndpointSpec::tikv_grpc("tikv", &[])),
        issue: INTRUDER,
        input: inventory(&[components(), intruder(), ep("tikv", "tikv", "grpc", V)]),
        top: Top {
            code: "NO_ALLOW_LIST",
            severity: Severity::Warning,
            endpoint: Some("tikv"),
            identity: None,
        },
        cell: ("intruder", "tikv", Verdict::Open),
        also: &[
            ("tidb", "tikv", Verdict::Secure),
            ("pd", "tikv", Verdict::Secure),
        ],
        title_has: &["intruder"],
        fix_has: &["\"tidb\"", "\"pd\""],
        forbidden: &["Intruder", "intruder"],
        fix_lacks: NONE,
        absent: &["CN_NOT_ENFORCED"],
    }
}

/// Issue 26, item 6: a generic mTLS service states no list and admits the intruder: info.
pub fn outsider_in_generic_without_a_list() -> Scenario {
    Scenario {
        planted: "a generic mTLS service (client_auth = required) enforces no list and admits the intruder",
        lab: lab().with(EndpointSpec::pd("mtls-api", &[]).with_component("generic")),
        issue: INTRUDER,
        input: inventory(&[
            id("tidb", "tidb", ""),
            intruder(),
            ep("mtls-api", "generic", "tls", "client_auth = \"required\"\n"),
        ]),
        top: Top {
            code: "NO_ALLOW_LIST",
            severity: Severity::Info,
            endpoint: Some("mtls-api"),
            identity: None,
        },
        cell: ("intruder", "mtls-api", Verdict::Open),
        also: &[("anonymous", "mtls-api", Verdict::Enforced)],
        title_has: NONE,
        fix_has: &["its CN allow-list"],
        forbidden: &["Intruder", "tiup", "cert-allowed-cn"],
        fix_lacks: NONE,
        absent: &["CN_NOT_ENFORCED"],
    }
}

/// Issue 26, item 9: TiKV's status port lists no PD: TiDB Dashboard's pages break (a warning
/// naming them), and the fix adds `pd`.
pub fn dashboard_needs_tikv_status() -> Scenario {
    Scenario {
        planted: "TiKV's list lacks pd (TiDB Dashboard, inside PD, reads the status port)",
        lab: lab()
            .with(EndpointSpec::tikv_grpc("tikv", KV))
            .with(EndpointSpec::tikv_status(
                "tikv-status",
                &["tidb", "tikv", "prod-client"],
            )),
        issue: NONE_ISSUED,
        input: inventory(&[
            components(),
            ep("tikv", "tikv", "grpc", &listed(KV)),
            ep(
                "tikv-status",
                "tikv",
                "status",
                &listed(&["tidb", "tikv", "prod-client"]),
            ),
        ]),
        top: Top {
            code: "CALLER_NOT_LISTED",
            severity: Severity::Warning,
            endpoint: Some("tikv-status"),
            identity: Some("pd"),
        },
        cell: ("pd", "tikv-status", Verdict::Blocked),
        also: &[("pd", "tikv", Verdict::Secure)],
        title_has: &["TiDB Dashboard", "Instance Profiling"],
        fix_has: &["\"tidb\", \"tikv\", \"prod-client\", \"pd\""],
        forbidden: &["tlsaudit-unlisted"],
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// The TiDB guide's example: identities with the guide's CNs (`PD-Server`, ...).
fn guide_identities() -> String {
    [
        id("pd", "pd-server", "component = \"pd\"\n"),
        id("tikv", "tikv-server", "component = \"tikv\"\n"),
        id("tidb", "tidb-server", "component = \"tidb\"\n"),
    ]
    .concat()
}

const GUIDE: &[(&str, &str)] = &[
    ("pd-server", "PD-Server"),
    ("tikv-server", "TiKV-Server"),
    ("tidb-server", "TiDB-Server"),
];

/// The TiDB guide's example PD list, which lacks PD's own CN: PD's peers refuse each other.
pub fn guide_pd_list_lacks_pd() -> Scenario {
    let list = ["TiKV-Server", "TiDB-Server", "PD-Control"];
    Scenario {
        planted:
            "PD's cert-allowed-cn as in the TiDB guide's example, without PD's own CN (PD-Server)",
        lab: lab()
            .with(EndpointSpec::pd("pd-1", &list))
            .with(EndpointSpec::pd("pd-1-peer", &list).with_role("peer")),
        issue: GUIDE,
        input: inventory(&[
            guide_identities(),
            ep("pd-1", "pd", "client", &listed(&list)),
            ep("pd-1-peer", "pd", "peer", &listed(&list)),
        ]),
        top: Top {
            code: "CALLER_NOT_LISTED",
            severity: Severity::Critical,
            endpoint: Some("pd-1"),
            identity: Some("pd"),
        },
        cell: ("pd", "pd-1-peer", Verdict::Blocked),
        also: &[
            ("pd", "pd-1", Verdict::Blocked),
            ("tikv", "pd-1", Verdict::Secure),
        ],
        title_has: &["PD-Server"],
        fix_has: &["\"PD-Control\", \"PD-Server\"]"],
        forbidden: &["tlsaudit-unlisted"],
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// The TiDB guide's example TiKV list, which lacks `TiKV-Server`: with two TiKVs, raft between
/// them is refused.
pub fn guide_tikv_list_lacks_tikv_server() -> Scenario {
    let list = ["TiDB-Server", "PD-Server", "TiKV-Control"];
    Scenario {
        planted:
            "two TiKVs with cert-allowed-cn as in the TiDB guide's example, without TiKV-Server",
        lab: lab()
            .with(EndpointSpec::tikv_grpc("tikv-1", &list))
            .with(EndpointSpec::tikv_grpc("tikv-2", &list)),
        issue: GUIDE,
        input: inventory(&[
            guide_identities(),
            ep("tikv-1", "tikv", "grpc", &listed(&list)),
            ep("tikv-2", "tikv", "grpc", &listed(&list)),
        ]),
        top: Top {
            code: "CALLER_NOT_LISTED",
            severity: Severity::Critical,
            endpoint: Some("tikv-1"),
            identity: Some("tikv"),
        },
        cell: ("tikv", "tikv-2", Verdict::Blocked),
        also: &[
            ("tidb", "tikv-1", Verdict::Secure),
            ("pd", "tikv-2", Verdict::Secure),
        ],
        title_has: &["TiKV-Server"],
        fix_has: &["\"TiKV-Control\", \"TiKV-Server\"]"],
        forbidden: &["tlsaudit-unlisted"],
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// A combination: an etcd peer enforcing an unstated list, and TiKV without a list admitting
/// the intruder. Neither finding advises admitting it.
pub fn outsider_plus_unstated_list() -> Scenario {
    Scenario {
        planted: "an intruder admitted by TiKV without a list, and an etcd peer enforcing a list the inventory does not state",
        lab: lab()
            .with(
                EndpointSpec::pd("etcd-peer", &["PD-Server"])
                    .with_component("etcd")
                    .with_role("peer"),
            )
            .with(EndpointSpec::tikv_grpc("tikv", &[])),
        issue: &[("intruder", "Intruder"), ("pd-server", "PD-Server")],
        input: inventory(&[
            id("pd", "pd-server", "component = \"pd\"\n"),
            id("tidb", "tidb", ""),
            intruder(),
            ep("etcd-peer", "etcd", "peer", ""),
            ep("tikv", "tikv", "grpc", V),
        ]),
        top: Top {
            code: "LIST_UNSTATED",
            severity: Severity::Warning,
            endpoint: Some("etcd-peer"),
            identity: None,
        },
        cell: ("intruder", "tikv", Verdict::Open),
        also: &[("intruder", "etcd-peer", Verdict::Enforced)],
        title_has: NONE,
        fix_has: &["allowed_cn = [\"PD-Server\"]"],
        forbidden: &["Intruder"],
        fix_lacks: NONE,
        absent: &["CALLER_BLOCKED"],
    }
}

/// A combination: the identity `tidb` from another CA, and TiKV's list without TiKV's own CN
/// (raft between TiKVs): the missing caller is an outage, the identity our own fault.
pub fn wrong_ca_plus_needed_caller_missing() -> Scenario {
    let list = ["tidb", "pd", "prod-client"];
    Scenario {
        planted: "the identity tidb from another CA, and TiKV's list without tikv",
        lab: lab().with(EndpointSpec::tikv_grpc("tikv", &list)),
        issue: NONE_ISSUED,
        input: inventory(&[
            id("tidb", "foreign", ""),
            id("tikv", "tikv", ""),
            id("pd", "pd", ""),
            ep("tikv", "tikv", "grpc", &listed(&list)),
        ]),
        top: Top {
            code: "CALLER_NOT_LISTED",
            severity: Severity::Critical,
            endpoint: Some("tikv"),
            identity: Some("tikv"),
        },
        cell: ("tikv", "tikv", Verdict::Blocked),
        also: &[
            ("tidb", "tikv", Verdict::BadIdentity),
            ("pd", "tikv", Verdict::Secure),
        ],
        title_has: NONE,
        fix_has: &["allowed_cn = [\"tidb\", \"pd\", \"prod-client\", \"tikv\"]"],
        forbidden: NONE,
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// An expired identity of a component: CERT_EXPIRED, and its refusals are its own fault.
pub fn expired_component_identity() -> Scenario {
    Scenario {
        planted: "the identity tidb holds an expired certificate",
        lab: lab().with(EndpointSpec::tikv_grpc("tikv", KV)),
        issue: NONE_ISSUED,
        input: inventory(&[
            id("tidb", "expired", ""),
            id("pd", "pd", ""),
            ep("tikv", "tikv", "grpc", &listed(KV)),
        ]),
        top: Top {
            code: "CERT_EXPIRED",
            severity: Severity::Critical,
            endpoint: None,
            identity: Some("tidb"),
        },
        cell: ("tidb", "tikv", Verdict::BadIdentity),
        also: NONE_CELLS,
        title_has: &["tidb"],
        fix_has: &["issue a new certificate from the cluster CA"],
        forbidden: NONE,
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// An identity without the clientAuth EKU: IDENTITY_INVALID naming the EKU.
pub fn identity_without_client_auth() -> Scenario {
    Scenario {
        planted: "the identity tidb holds a certificate without the clientAuth EKU",
        lab: lab().with(EndpointSpec::tikv_grpc("tikv", KV)),
        issue: NONE_ISSUED,
        input: inventory(&[
            id("tidb", "noeku", ""),
            id("pd", "pd", ""),
            ep("tikv", "tikv", "grpc", &listed(KV)),
        ]),
        top: Top {
            code: "IDENTITY_INVALID",
            severity: Severity::Critical,
            endpoint: None,
            identity: Some("tidb"),
        },
        cell: ("tidb", "tikv", Verdict::BadIdentity),
        also: NONE_CELLS,
        title_has: NONE,
        fix_has: &["clientAuth"],
        forbidden: NONE,
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// The inventory states TiKV's list, the running TiKV enforces none: the intruder gets in
/// (CN_NOT_ENFORCED), and the fix restarts the server, never adds the intruder.
pub fn configured_list_not_enforced() -> Scenario {
    Scenario {
        planted:
            "the inventory states TiKV's list; the running TiKV enforces none (an intruder gets in)",
        lab: lab().with(EndpointSpec::tikv_grpc("tikv", &[])),
        issue: INTRUDER,
        input: inventory(&[
            components(),
            intruder(),
            ep("tikv", "tikv", "grpc", &listed(KV)),
        ]),
        top: Top {
            code: "CN_NOT_ENFORCED",
            severity: Severity::Critical,
            endpoint: Some("tikv"),
            identity: Some("intruder"),
        },
        cell: ("intruder", "tikv", Verdict::Open),
        also: &[
            ("unlisted", "tikv", Verdict::Open),
            ("tidb", "tikv", Verdict::Secure),
        ],
        title_has: &["Intruder"],
        fix_has: &["restart it so that it applies tikv.toml"],
        forbidden: &["Intruder"],
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// TiKV's status port runs without the list the inventory states: it asks for no certificate.
pub fn status_list_not_applied() -> Scenario {
    Scenario {
        planted: "the inventory states TiKV's status-port list; the running server asks for no certificate",
        lab: lab().with(EndpointSpec::tikv_status("tikv-status", &[])),
        issue: NONE_ISSUED,
        input: inventory(&[
            components(),
            ep("tikv-status", "tikv", "status", &listed(KV)),
        ]),
        top: Top {
            code: "ANONYMOUS_ACCEPTED",
            severity: Severity::Critical,
            endpoint: Some("tikv-status"),
            identity: Some("anonymous"),
        },
        cell: ("anonymous", "tikv-status", Verdict::Open),
        also: &[("foreign", "tikv-status", Verdict::Open), ("tidb", "tikv-status", Verdict::Secure)],
        title_has: NONE,
        fix_has: &["restart it so that it applies tikv.toml"],
        forbidden: NONE,
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// PD serves an expired certificate: every caller refuses it.
pub fn expired_server_certificate() -> Scenario {
    let list = ["pd", "tidb", "tikv", "prod-client"];
    Scenario {
        planted: "PD serves an expired certificate",
        lab: lab().with(EndpointSpec::pd("pd-1", &list).with_server_cert(ServerCertKind::Expired)),
        issue: NONE_ISSUED,
        input: inventory(&[components(), ep("pd-1", "pd", "client", &listed(&list))]),
        top: Top {
            code: "SERVER_UNTRUSTED",
            severity: Severity::Critical,
            endpoint: Some("pd-1"),
            identity: None,
        },
        cell: ("tidb", "pd-1", Verdict::Untrusted),
        also: NONE_CELLS,
        title_has: &["expired"],
        fix_has: &["renew the server certificate"],
        forbidden: NONE,
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// TiKV serves a certificate without the address callers dial in its SANs.
pub fn server_certificate_wrong_san() -> Scenario {
    Scenario {
        planted: "TiKV serves a certificate whose SANs lack the address callers dial",
        lab: lab()
            .with(EndpointSpec::tikv_grpc("tikv", KV).with_server_cert(ServerCertKind::WrongSan)),
        issue: NONE_ISSUED,
        input: inventory(&[components(), ep("tikv", "tikv", "grpc", &listed(KV))]),
        top: Top {
            code: "SERVER_UNTRUSTED",
            severity: Severity::Critical,
            endpoint: Some("tikv"),
            identity: None,
        },
        cell: ("tidb", "tikv", Verdict::Untrusted),
        also: NONE_CELLS,
        title_has: NONE,
        fix_has: &["subject alternative names"],
        forbidden: NONE,
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// A TiKV status port speaks plaintext while its gRPC port is under TLS: partial TLS among
/// TiDB's own components (the positive case of the nginx scenario).
pub fn plaintext_tidb_port_is_partial_tls() -> Scenario {
    Scenario {
        planted: "TiKV's status port speaks plaintext HTTP while its gRPC port uses TLS",
        lab: lab().with(EndpointSpec::tikv_grpc("tikv", KV)).with(
            EndpointSpec::plaintext_http("tikv-status")
                .with_component("tikv")
                .with_role("status"),
        ),
        issue: NONE_ISSUED,
        input: inventory(&[
            components(),
            ep("tikv", "tikv", "grpc", &listed(KV)),
            ep("tikv-status", "tikv", "status", &listed(KV)),
        ]),
        top: Top {
            code: "PARTIAL_TLS",
            severity: Severity::Critical,
            endpoint: None,
            identity: None,
        },
        cell: ("tidb", "tikv-status", Verdict::Unencrypted),
        also: &[("tidb", "tikv", Verdict::Secure)],
        title_has: NONE,
        fix_has: &["enable TLS on every component"],
        forbidden: NONE,
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// An endpoint nothing listens on: unreachable, critical unless allowed.
pub fn unreachable_endpoint() -> Scenario {
    Scenario {
        planted: "the inventory lists a PD address nothing listens on",
        lab: lab().with(EndpointSpec::tikv_grpc("tikv", KV)),
        issue: NONE_ISSUED,
        input: inventory(&[
            components(),
            ep("tikv", "tikv", "grpc", &listed(KV)),
            "[[endpoints]]\nname = \"pd-gone\"\ncomponent = \"pd\"\naddress = \"{closed}\"\nversion = \"v8.5.0\"\n\n".to_string(),
        ]),
        top: Top {
            code: "UNREACHABLE",
            severity: Severity::Critical,
            endpoint: Some("pd-gone"),
            identity: None,
        },
        cell: ("tidb", "pd-gone", Verdict::Unreachable),
        also: &[("tidb", "tikv", Verdict::Secure)],
        title_has: NONE,
        fix_has: &["check that the component runs"],
        forbidden: NONE,
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// TiKV's gRPC port negotiates no ALPN `h2`: real gRPC callers refuse it.
pub fn grpc_without_alpn() -> Scenario {
    Scenario {
        planted: "TiKV's gRPC port negotiates no ALPN h2",
        lab: lab().with(EndpointSpec::tikv_grpc("tikv", KV).without_alpn()),
        issue: NONE_ISSUED,
        input: inventory(&[components(), ep("tikv", "tikv", "grpc", &listed(KV))]),
        top: Top {
            code: "GRPC_NO_ALPN",
            severity: Severity::Critical,
            endpoint: Some("tikv"),
            identity: None,
        },
        cell: ("tidb", "tikv", Verdict::Secure),
        also: NONE_CELLS,
        title_has: NONE,
        fix_has: &["ALPN h2"],
        forbidden: NONE,
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// A generic mTLS service whose list lacks a caller the inventory says needs it.
pub fn needed_by_caller_blocked() -> Scenario {
    Scenario {
        planted: "a generic mTLS service lists web only; the inventory says batch needs it too",
        lab: lab().with(EndpointSpec::pd("api", &["web"]).with_component("generic")),
        issue: &[("web", "web"), ("batch", "batch")],
        input: inventory(&[
            id("web", "web", ""),
            id("batch", "batch", ""),
            ep(
                "api",
                "generic",
                "tls",
                "client_auth = \"required\"\nallowed_cn = [\"web\"]\nneeded_by = [\"batch\"]\n",
            ),
        ]),
        top: Top {
            code: "CALLER_NOT_LISTED",
            severity: Severity::Critical,
            endpoint: Some("api"),
            identity: Some("batch"),
        },
        cell: ("batch", "api", Verdict::Blocked),
        also: &[
            ("web", "api", Verdict::Secure),
            ("unlisted", "api", Verdict::Enforced),
        ],
        title_has: NONE,
        fix_has: &["allowed_cn = [\"web\", \"batch\"]"],
        forbidden: &["tiup", "tlsaudit-unlisted"],
        fix_lacks: NONE,
        absent: NONE,
    }
}

/// TiDB's status port lists no TiUP client: `tiup cluster display` shows TiDB Down (a
/// warning: a tool, not the cluster).
pub fn tiup_client_missing_from_tidb_status() -> Scenario {
    Scenario {
        planted: "TiDB's cluster-verify-cn lacks TiUP's client certificate (prod-client)",
        lab: lab().with(EndpointSpec::tidb_status("tidb-status", &["tidb", "pd"])),
        issue: NONE_ISSUED,
        input: inventory(&[
            components(),
            ep("tidb-status", "tidb", "status", &listed(&["tidb", "pd"])),
        ]),
        top: Top {
            code: "CALLER_NOT_LISTED",
            severity: Severity::Warning,
            endpoint: Some("tidb-status"),
            identity: Some("client"),
        },
        cell: ("client", "tidb-status", Verdict::Blocked),
        also: &[
            ("pd", "tidb-status", Verdict::Secure),
            ("tikv", "tidb-status", Verdict::Enforced),
        ],
        title_has: NONE,
        fix_has: &["\"tidb\", \"pd\", \"prod-client\""],
        forbidden: NONE,
        fix_lacks: NONE,
        absent: NONE,
    }
}
