//! A TiDB Operator cluster audited end to end with no Kubernetes: stand-in lab servers on
//! loopback serve certificates whose SANs are the pods' DNS names, `--resolve` points those
//! names at them, and `report --tidbcluster --k8s-secrets` runs the built binary. The
//! operator's documented setup (every certificate `commonName: TiDB`) gives K8S_SHARED_CN and
//! open cells; certificates per component with matching lists come out clean.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use rcgen::{Issuer, KeyPair};
use tlsaudit_lab::{EndpointSpec, Lab, LabSpec};
use tlsaudit_testkit::cli;
use tlsaudit_testkit::pki::{self, fixture, Ca, Leaf};

const CLUSTER: &str = "basic-tls";
const NAMESPACE: &str = "tidb-cluster";

/// The pod DNS name of a component's first pod.
fn pod(component: &str) -> String {
    format!("{CLUSTER}-{component}-0.{CLUSTER}-{component}-peer.{NAMESPACE}.svc")
}

/// The stand-ins: (lab endpoint, component, port the pod serves).
const STAND_INS: &[(&str, &str, u16)] = &[
    ("pd-client", "pd", 2379),
    ("pd-peer", "pd", 2380),
    ("tikv-grpc", "tikv", 20160),
    ("tikv-status", "tikv", 20180),
    ("tidb-status", "tidb", 10080),
];

/// The lab's CA as an issuer, to sign certificates the lab's endpoints trust.
fn lab_ca(lab: &Lab) -> Ca {
    let cert_pem = std::fs::read_to_string(&lab.pki().ca_cert).unwrap();
    let key_pem = std::fs::read_to_string(&lab.pki().ca_key).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&cert_pem, KeyPair::from_pem(&key_pem).unwrap()).unwrap();
    Ca {
        issuer,
        cert_pem,
        key_pem,
    }
}

/// A dry run lists every pod's endpoints by DNS name (the CA given with `--ca`, no Secrets).
#[test]
fn a_dry_run_lists_the_pods_by_dns_name() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, pki::ca().cert_pem).unwrap();
    let (code, out, err) = cli(&[
        "report",
        "--tidbcluster",
        fixture("k8s/basic-tls.yaml").to_str().unwrap(),
        "--ca",
        ca.to_str().unwrap(),
        "--dry-run",
    ]);
    assert_eq!(code, 0, "{err}");
    for c in ["pd", "tikv", "tidb"] {
        assert!(out.contains(&pod(c)), "{out}");
    }
}

/// A certificate as cert-manager issues it for the operator: `cn`, server and client auth, SANs
/// the pod names only (no localhost, no 127.0.0.1: the probe must verify the pod name).
fn leaf(cn: &str, sans: &[String]) -> Leaf {
    Leaf {
        cn: cn.into(),
        sans: sans.to_vec(),
        server_auth: true,
        client_auth: true,
        days: 90,
    }
}

/// One Secret as a pod mounts it: `<dir>/<secret>/tls.crt`, `tls.key`, `ca.crt`.
fn secret(dir: &Path, name: &str, ca: &Ca, leaf: &Leaf) -> (PathBuf, PathBuf) {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    let (c, k) = pki::issue(ca, leaf);
    std::fs::write(folder.join("tls.crt"), c).unwrap();
    pki::write_key(&folder.join("tls.key"), &k);
    std::fs::write(folder.join("ca.crt"), &ca.cert_pem).unwrap();
    (folder.join("tls.crt"), folder.join("tls.key"))
}

/// Stand-ins enforcing `lists` (pd, tikv, tidb), serving each component's Secret, which has
/// the Common Name `cns(component)`; the Secrets under `dir`. Returns the lab and the
/// `--resolve` arguments.
async fn stand_ins(dir: &Path, lists: [&[&str]; 3], cn: fn(&str) -> String) -> (Lab, Vec<String>) {
    let [pd, kv, db] = lists;
    let mut lab = Lab::start(
        LabSpec::new(CLUSTER)
            .with(EndpointSpec::pd("pd-client", pd))
            .with(EndpointSpec::pd("pd-peer", pd).with_role("peer"))
            .with(EndpointSpec::tikv_grpc("tikv-grpc", kv))
            .with(EndpointSpec::tikv_status("tikv-status", kv))
            .with(EndpointSpec::tidb_status("tidb-status", db)),
    )
    .await
    .unwrap();
    let ca = lab_ca(&lab);
    let mut resolves = Vec::new();
    for component in ["pd", "tikv", "tidb"] {
        let sans = vec![
            pod(component),
            format!("{CLUSTER}-{component}-peer.{NAMESPACE}.svc"),
        ];
        let name = format!("{CLUSTER}-{component}-cluster-secret");
        let (cert, key) = secret(dir, &name, &ca, &leaf(&cn(component), &sans));
        for (endpoint, c, port) in STAND_INS.iter().filter(|s| s.1 == component) {
            let spec = lab
                .spec(endpoint)
                .unwrap()
                .clone()
                .with_server_files(&cert, &key);
            lab.reconfigure(spec).unwrap();
            let at = lab.endpoint(endpoint).unwrap().addr;
            resolves.push(format!("{}:{port}:{at}", pod(c)));
        }
    }
    let client = leaf(&cn("client"), &[]);
    secret(
        dir,
        &format!("{CLUSTER}-cluster-client-secret"),
        &ca,
        &client,
    );
    (lab, resolves)
}

/// `report --tidbcluster FIXTURE --k8s-secrets DIR --resolve ...` as JSON: (exit code, report).
async fn report(tc: &str, secrets: &Path, resolves: &[String]) -> (i32, serde_json::Value) {
    let mut args: Vec<String> = [
        "report",
        "--tidbcluster",
        fixture(tc).to_str().unwrap(),
        "--k8s-secrets",
        secrets.to_str().unwrap(),
        "--format",
        "json",
    ]
    .map(String::from)
    .to_vec();
    for r in resolves {
        args.extend(["--resolve".to_string(), r.clone()]);
    }
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&a)
    })
    .await
    .unwrap();
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, v)
}

fn codes(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_shared_cn_setup_is_found_and_leaves_cells_open() {
    let dir = tempfile::tempdir().unwrap();
    let tidb: fn(&str) -> String = |_| "TiDB".to_string();
    let (lab, resolves) = stand_ins(dir.path(), [&["TiDB"], &["TiDB"], &[]], tidb).await;
    let (code, v) = report("k8s/basic-tls.yaml", dir.path(), &resolves).await;
    assert_eq!(code, 1);
    let codes = codes(&v);
    assert!(codes.contains(&"K8S_SHARED_CN".to_string()), "{codes:?}");
    let shared = &v["findings"][0];
    assert_eq!(
        (shared["code"].as_str(), shared["severity"].as_str()),
        (Some("K8S_SHARED_CN"), Some("critical"))
    );
    assert!(
        shared["fix"].as_str().unwrap().contains("commonName"),
        "{shared:#}"
    );
    // Every stand-in was reached by its pod name and its certificate verified for that name
    // (its SANs hold no loopback address): nothing unreachable or untrusted.
    let verdicts = &v["summary"]["verdicts"];
    assert_eq!(
        (
            verdicts["unreachable"].as_u64(),
            verdicts["untrusted"].as_u64()
        ),
        (Some(0), Some(0)),
        "{verdicts}"
    );
    // The example's TiDB key (cert-verify-cn) is not TiDB's: its status port admits outsiders.
    assert_eq!(verdicts["open"].as_u64(), Some(2), "{verdicts}");
    assert!(codes.contains(&"NO_ALLOW_LIST".to_string()), "{codes:?}");
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_per_component_with_their_lists_come_out_clean() {
    let dir = tempfile::tempdir().unwrap();
    let own: fn(&str) -> String = |c| {
        if c == "client" {
            format!("{CLUSTER}-client")
        } else {
            c.to_string()
        }
    };
    let lists: [&[&str]; 3] = [
        &["pd", "tikv", "tidb", "basic-tls-client"],
        &["pd", "tikv", "tidb", "basic-tls-client"],
        &["pd", "tidb", "basic-tls-client"],
    ];
    let (lab, resolves) = stand_ins(dir.path(), lists, own).await;
    let (code, v) = report("k8s/basic-tls-per-component.yaml", dir.path(), &resolves).await;
    let codes = codes(&v);
    assert!(codes.is_empty(), "{codes:?}");
    assert_eq!(code, 0, "{codes:?}");
    let verdicts = &v["summary"]["verdicts"];
    for bad in ["open", "blocked", "unreachable", "untrusted", "error"] {
        assert_eq!(verdicts[bad].as_u64(), Some(0), "{bad}: {verdicts}");
    }
    // Each component's own CN: TiKV is refused where TiDB's list does not name it.
    let cell = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["identity"] == "basic-tls-tikv-cluster-secret"
                && c["endpoint"] == "basic-tls-tidb-0 status"
        })
        .unwrap();
    assert_eq!(cell["verdict"], "enforced");
    // `probe` follows --resolve too: PD's client port by its pod name, verified for that name.
    let pd = resolves
        .iter()
        .find(|r| r.contains("-pd-"))
        .unwrap()
        .clone();
    let target = pd.splitn(3, ':').take(2).collect::<Vec<_>>().join(":");
    let secret = dir.path().join(format!("{CLUSTER}-pd-cluster-secret"));
    let args: Vec<String> = [
        "probe",
        &target,
        "--resolve",
        &pd,
        "--ca",
        &secret.join("ca.crt").display().to_string(),
        "--cert",
        &secret.join("tls.crt").display().to_string(),
        "--key",
        &secret.join("tls.key").display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&a)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    lab.stop().await;
}
