//! Component rules through the whole audit: PD's single-entry list, TiDB status without
//! cluster-verify-cn, TiKV status exempt paths, endpoints with no list, unreachable endpoints.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use tlsaudit_engine::audit::{Auditor, Plan, Severity, Verdict};
use tlsaudit_engine::audit::{EndpointId, IdentityId};
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_lab::{EndpointSpec, LabSpec};

async fn audit(spec: LabSpec, edit: impl Fn(String) -> String) -> (tlsaudit_lab::Lab, Auditor) {
    let (lab, config) = tlsaudit::demo::start_spec(spec).await.unwrap();
    let text = edit(std::fs::read_to_string(&config).unwrap());
    std::fs::write(&config, text).unwrap();
    let inv = Inventory::load(&config).unwrap();
    let auditor = Auditor::new(Plan::new(inv).unwrap());
    auditor.run_round(None).await;
    (lab, auditor)
}

fn verdict(a: &Auditor, id: &str, ep: &str) -> Verdict {
    let s = a.snapshot();
    let i = s.identity_names.iter().position(|n| n == id).unwrap();
    let e = s.endpoint_names.iter().position(|n| n == ep).unwrap();
    s.cell(IdentityId(i), EndpointId(e)).verdict.unwrap()
}

fn codes(a: &Auditor) -> Vec<(String, Option<String>)> {
    a.snapshot()
        .findings
        .iter()
        .map(|f| (f.code.to_string(), f.endpoint.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pd_single_entry_list_is_not_enforced_by_design() {
    // The running PD enforces nothing; the inventory states a one-entry list, which PD (v8.4+)
    // does not apply to port 2379: the outsider gets in (open), and the finding is the list's
    // having no effect (a warning with its fix), not an unenforced list (critical).
    let spec = LabSpec::new("r").with(EndpointSpec::pd("pd-1", &[]));
    let (lab, a) = audit(spec, |t| {
        t.replace(
            "role = \"client\"\n",
            "role = \"client\"\nallowed_cn = [\"pd\"]\n",
        )
    })
    .await;
    assert_eq!(verdict(&a, "client", "pd-1"), Verdict::Secure);
    assert_eq!(verdict(&a, "unlisted", "pd-1"), Verdict::Open);
    assert_eq!(verdict(&a, "anonymous", "pd-1"), Verdict::Enforced);
    assert!(
        codes(&a).contains(&("LIST_NOT_ENFORCED_BY_DESIGN".into(), Some("pd-1".into()))),
        "{:?}",
        codes(&a)
    );
    assert!(!codes(&a).contains(&("CN_NOT_ENFORCED".into(), Some("pd-1".into()))));
    lab.stop().await;

    // The same list with two entries is in force: the unlisted CN must be refused, and the lab
    // (enforcing nothing) admits it: open.
    let spec = LabSpec::new("r").with(EndpointSpec::pd("pd-1", &[]));
    let (lab, a) = audit(spec, |t| {
        t.replace(
            "role = \"client\"\n",
            "role = \"client\"\nallowed_cn = [\"pd\", \"tidb\"]\n",
        )
    })
    .await;
    assert_eq!(verdict(&a, "unlisted", "pd-1"), Verdict::Open);
    assert_eq!(verdict(&a, "tidb", "pd-1"), Verdict::Secure);
    assert!(codes(&a).contains(&("CN_NOT_ENFORCED".into(), Some("pd-1".into()))));
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_list_admits_every_certificate_and_says_so() {
    let spec = LabSpec::new("r")
        .with(EndpointSpec::tikv_grpc("tikv-open", &[]))
        .with(EndpointSpec::tidb_status("tidb-open", &[]));
    let (lab, a) = audit(spec, |t| t).await;
    // TiKV gRPC always wants a certificate, but any CN passes: the outsider with a
    // certificate of the cluster CA gets in (open), which TiDB's guide sets the list against.
    assert_eq!(verdict(&a, "unlisted", "tikv-open"), Verdict::Open);
    assert_eq!(verdict(&a, "tidb", "tikv-open"), Verdict::Secure);
    assert_eq!(verdict(&a, "foreign", "tikv-open"), Verdict::Enforced);
    assert_eq!(verdict(&a, "anonymous", "tikv-open"), Verdict::Enforced);
    // TiDB status without cluster-verify-cn asks for no certificate at all: outsiders get in.
    assert_eq!(verdict(&a, "anonymous", "tidb-open"), Verdict::Open);
    assert_eq!(verdict(&a, "foreign", "tidb-open"), Verdict::Open);
    let snap = a.snapshot();
    let no_list = |ep: &str| {
        snap.findings
            .iter()
            .find(|f| f.code.as_str() == "NO_ALLOW_LIST" && f.endpoint.as_deref() == Some(ep))
            .cloned()
            .unwrap()
    };
    let f = no_list("tikv-open");
    // A warning (not critical: no list was stated), whose fix lists the needed callers only.
    assert_eq!(f.severity, tlsaudit_engine::audit::Severity::Warning);
    assert!(f.title.contains("unlisted"), "{}", f.title);
    assert!(
        f.fix.contains("\"tidb\"") && f.fix.contains("\"tikv\""),
        "{}",
        f.fix
    );
    assert!(!f.fix.contains("tlsaudit-unlisted"), "{}", f.fix);
    assert_eq!(
        no_list("tidb-open").severity,
        tlsaudit_engine::audit::Severity::Warning
    );
    // No critical finding: nothing stated was broken.
    assert!(snap
        .findings
        .iter()
        .all(|f| f.severity != tlsaudit_engine::audit::Severity::Critical));
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tikv_status_exempt_path_admits_everyone() {
    let spec = LabSpec::new("r").with(EndpointSpec::tikv_status("kv-status", &["tidb"]));
    let (lab, a) = audit(spec, |t| {
        t.replace(
            "role = \"status\"\n",
            "role = \"status\"\npath = \"/metrics\"\n",
        )
    })
    .await;
    assert_eq!(verdict(&a, "pd", "kv-status"), Verdict::Secure);
    assert_eq!(verdict(&a, "unlisted", "kv-status"), Verdict::Secure);
    assert_eq!(verdict(&a, "anonymous", "kv-status"), Verdict::Enforced);
    lab.stop().await;
    let spec = LabSpec::new("r").with(EndpointSpec::tikv_status("kv-status", &["tidb"]));
    let (lab, a) = audit(spec, |t| t).await;
    // TiDB Dashboard (in PD) reads TiKV's status port: a list without PD breaks its pages.
    assert_eq!(verdict(&a, "pd", "kv-status"), Verdict::Blocked);
    assert_eq!(verdict(&a, "tidb", "kv-status"), Verdict::Secure);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_fails_the_gate_unless_allowed() {
    let spec = LabSpec::new("r").with(EndpointSpec::pd("pd-1", &["pd", "tidb", "tikv", "tiflash"]));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let add_gone = move |t: String| {
        format!("{t}[[endpoints]]\nname = \"gone\"\ncomponent = \"pd\"\naddress = \"127.0.0.1:{port}\"\n")
    };
    let (lab, a) = audit(spec, add_gone).await;
    assert_eq!(verdict(&a, "tidb", "gone"), Verdict::Unreachable);
    let unreachable: Vec<_> = a
        .snapshot()
        .findings
        .iter()
        .filter(|f| f.code.to_string() == "UNREACHABLE")
        .map(|f| (f.endpoint.clone(), f.severity))
        .collect();
    assert_eq!(
        unreachable,
        vec![(Some("gone".to_string()), Severity::Critical)]
    );
    // Through the binary: the gate fails by default, and passes with --allow-unreachable (the
    // only critical finding is the unreachable endpoint).
    let config = lab.dir().join("tlsaudit.toml");
    let run = move |extra: &[&str]| {
        let mut c = tlsaudit_testkit::bin();
        c.args(["report", "--format", "json", "--config"])
            .arg(&config)
            .args(extra);
        c.output().unwrap()
    };
    let (strict, lenient) =
        tokio::task::spawn_blocking(move || (run(&[]), run(&["--allow-unreachable"])))
            .await
            .unwrap();
    assert_eq!(
        strict.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&strict.stderr)
    );
    assert_eq!(
        lenient.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&lenient.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&lenient.stdout).unwrap();
    let sev = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "UNREACHABLE")
        .map(|f| f["severity"].clone());
    assert_eq!(sev, Some(serde_json::json!("warning")));
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_whose_key_is_not_its_certificates_is_a_finding_not_a_caller() {
    let spec = LabSpec::new("r").with(EndpointSpec::tikv_grpc("kv", &["tidb", "tikv"]));
    // tikv's key replaced by tidb's: the pair cannot form an identity.
    let (lab, a) = audit(spec, |t| t.replace("tikv.pem\"", "tidb.pem\"")).await;
    let snap = a.snapshot();
    assert!(!snap.identity_names.iter().any(|n| n == "tikv"));
    let f = snap
        .findings
        .iter()
        .find(|f| f.code.as_str() == "IDENTITY_INVALID")
        .expect("IDENTITY_INVALID");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.identity.as_deref(), Some("tikv"));
    assert!(f.title.contains("does not belong"), "{}", f.title);
    // The other identities are audited as usual.
    assert_eq!(verdict(&a, "tidb", "kv"), Verdict::Secure);
    lab.stop().await;
}
