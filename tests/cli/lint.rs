//! Static lint: every finding code has a case that triggers it and one that does not, on the
//! fixture topologies and component configs with a TLS folder minted at test time.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use tlsaudit_testkit::cli;
use tlsaudit_testkit::pki;

use std::path::{Path, PathBuf};

use pki::{fixture, Leaf};
use tlsaudit_engine::audit::{Finding, Severity};
use tlsaudit_engine::lint::{lint, LintOptions};
use tlsaudit_engine::tiup::{Cluster, ConfigArg, ConfigKind, TiupOptions};

const PROD_HOSTS: &[(&str, &[&str])] = &[
    ("pd", &["10.0.1.11", "10.0.1.12", "10.0.1.13"]),
    ("tidb", &["10.0.1.21", "10.0.1.22"]),
    ("tikv", &["10.0.1.31", "10.0.1.32", "10.0.1.33"]),
    ("tiflash", &["10.0.1.41"]),
    ("cdc", &["10.0.1.51"]),
    ("tiproxy", &["10.0.1.61"]),
];

const LOCAL: &[(&str, &[&str])] = &[
    ("pd", &[]),
    ("tidb", &[]),
    ("tikv", &[]),
    ("tiflash", &[]),
    ("cdc", &[]),
];

const COMPONENT_FILES: [&str; 6] = [
    "tidb.toml",
    "tikv.toml",
    "pd.toml",
    "tiflash.toml",
    "tiflash-learner.toml",
    "ticdc.toml",
];

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write a file (creating folders).
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A fixture's text, edited.
    fn fixture_edited(&self, fixture_rel: &str, rel: &str, from: &str, to: &str) -> PathBuf {
        let text = std::fs::read_to_string(fixture(fixture_rel)).unwrap();
        assert!(text.contains(from), "{fixture_rel} contains {from:?}");
        self.write(rel, &text.replacen(from, to, 1))
    }

    /// The prod TLS folder at `tls/`.
    fn prod_tls(&self) -> PathBuf {
        let d = self.path("tls");
        pki::tiup_tls_dir(&d, "prod", PROD_HOSTS);
        d
    }

    /// The six component configs copied to `cfg/`, with their TLS files at `cfg/tls/`.
    fn components(&self) -> (Vec<PathBuf>, pki::Ca) {
        let ca = pki::tiup_tls_dir(&self.path("cfg/tls"), "prod", LOCAL);
        let files = COMPONENT_FILES
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(fixture(&format!("components/{f}"))).unwrap();
                self.write(&format!("cfg/{f}"), &text)
            })
            .collect();
        (files, ca)
    }
}

fn topo(t: &Path, tls: Option<&Path>) -> TiupOptions {
    TiupOptions {
        topology: Some(t.to_path_buf()),
        tls_dir: tls.map(Path::to_path_buf),
        ..Default::default()
    }
}

fn configs(files: &[PathBuf]) -> TiupOptions {
    TiupOptions {
        component_configs: files
            .iter()
            .map(|f| ConfigArg::file(None, f.clone()))
            .collect(),
        ..Default::default()
    }
}

fn run(opts: &TiupOptions) -> Vec<Finding> {
    let cluster = Cluster::load(opts).unwrap();
    lint(&cluster, &LintOptions::default())
}

fn codes(f: &[Finding]) -> Vec<&'static str> {
    f.iter().map(|f| f.code.as_str()).collect()
}

fn find<'a>(f: &'a [Finding], code: &str) -> &'a Finding {
    f.iter()
        .find(|x| x.code.as_str() == code)
        .unwrap_or_else(|| panic!("no {code} in {f:#?}"))
}

fn has(f: &[Finding], code: &str) -> bool {
    f.iter().any(|x| x.code.as_str() == code)
}

// ---- clean baselines: nothing triggers ----

#[test]
fn clean_topology_has_only_the_not_audited_note() {
    let s = Setup::new();
    let tls = s.prod_tls();
    let f = run(&topo(&fixture("tiup/prod.yaml"), Some(&tls)));
    assert_eq!(
        codes(&f),
        ["EXPORTER_PLAINTEXT", "TOPOLOGY_SECTION_NOT_AUDITED"],
        "{f:#?}"
    );
    assert!(f.iter().all(|x| x.severity == Severity::Info));
    assert!(f[1].evidence.contains("monitoring_servers"), "{f:#?}");
}

#[test]
fn clean_component_configs_have_no_findings() {
    let s = Setup::new();
    let (files, _) = s.components();
    let f = run(&configs(&files));
    assert!(f.is_empty(), "{f:#?}");
}

// ---- each code: triggers / does not ----

#[test]
fn tls_disabled() {
    let f = run(&topo(&fixture("tiup/plain.yaml"), None));
    let t = find(&f, "TLS_DISABLED");
    assert_eq!(t.severity, Severity::Critical);
    assert!(t.source.as_deref().unwrap().contains("global.enable_tls"));
    let s = Setup::new();
    let tls = s.prod_tls();
    assert!(!has(
        &run(&topo(&fixture("tiup/prod.yaml"), Some(&tls))),
        "TLS_DISABLED"
    ));
}

#[test]
fn http_url_with_tls() {
    let s = Setup::new();
    let (mut files, _) = s.components();
    files[1] = s.fixture_edited(
        "components/tikv.toml",
        "cfg/tikv.toml",
        "https://127.0.0.1:2379",
        "http://127.0.0.1:2379",
    );
    let f = run(&configs(&files));
    let h = find(&f, "HTTP_URL_WITH_TLS");
    assert_eq!(h.severity, Severity::Critical);
    assert!(
        h.source
            .as_deref()
            .unwrap()
            .ends_with("tikv.toml:10:1: pd.endpoints"),
        "{h:?}"
    );
    // The same URL in a topology without TLS is not this finding.
    let p = s.fixture_edited(
        "tiup/plain.yaml",
        "plain.yaml",
        "tikv_servers:\n  - host: 10.0.2.31\n",
        "tikv_servers:\n  - host: 10.0.2.31\n    config:\n      pd.endpoints: [\"http://10.0.2.11:2379\"]\n",
    );
    assert!(!has(&run(&topo(&p, None)), "HTTP_URL_WITH_TLS"));
    // https with TLS: clean (see clean_component_configs_have_no_findings).
}

#[test]
fn ca_mismatch() {
    let s = Setup::new();
    let (mut files, _) = s.components();
    let other = pki::ca();
    s.write("cfg/tls/other-ca.crt", &other.cert_pem);
    files[1] = s.fixture_edited(
        "components/tikv.toml",
        "cfg/tikv.toml",
        "ca-path = \"tls/ca.crt\"",
        "ca-path = \"tls/other-ca.crt\"",
    );
    let f = run(&configs(&files));
    let m = find(&f, "CA_MISMATCH");
    assert_eq!(m.severity, Severity::Critical);
    assert!(m.evidence.contains("other-ca.crt"), "{m:?}");
    assert!(m.fix.contains("same ca.crt"), "{m:?}");
    // A copy of the same CA under another name is the same CA.
    let text = std::fs::read_to_string(s.path("cfg/tls/ca.crt")).unwrap();
    s.write("cfg/tls/other-ca.crt", &text);
    assert!(!has(&run(&configs(&files)), "CA_MISMATCH"));
}

#[test]
fn pd_own_cn_not_listed() {
    let s = Setup::new();
    let tls = s.prod_tls();
    let p = s.fixture_edited(
        "tiup/prod.yaml",
        "prod.yaml",
        "      - pd\n      - tidb\n",
        "      - tidb\n",
    );
    let f = run(&topo(&p, Some(&tls)));
    let m = find(&f, "PD_OWN_CN_NOT_LISTED");
    assert_eq!(m.severity, Severity::Critical);
    let src = m.source.as_deref().unwrap();
    assert!(
        src.ends_with("prod.yaml:26:5: server_configs.pd security.cert-allowed-cn"),
        "{src}"
    );
    assert_eq!(m.endpoint.as_deref(), Some("pd-10.0.1.11-2379"));
    assert!(m.fix.contains("\"pd\""), "{m:?}");
    // From a pd.toml, PD's CN comes from its own certificate.
    let (mut files, _) = s.components();
    assert!(!has(&run(&configs(&files)), "PD_OWN_CN_NOT_LISTED"));
    files[2] = s.fixture_edited(
        "components/pd.toml",
        "cfg/pd.toml",
        "[\"pd\", \"tidb\",",
        "[\"tidb\",",
    );
    assert!(has(&run(&configs(&files)), "PD_OWN_CN_NOT_LISTED"));
}

#[test]
fn pd_multiple_cn_before_v8_4() {
    let meta = fixture("tiup/clusters/legacy/meta.yaml");
    let f = run(&topo(&meta, None));
    let m = find(&f, "PD_MULTIPLE_CN_BEFORE_V8_4");
    assert_eq!(m.severity, Severity::Critical);
    assert!(m.title.contains("v8.1"), "{m:?}");
    assert!(m
        .source
        .as_deref()
        .unwrap()
        .contains("meta.yaml:27:7: server_configs.pd"));
    let mut opts = topo(&meta, None);
    opts.version = tlsaudit_engine::profile::Version::parse("v8.5.0");
    assert!(!has(&run(&opts), "PD_MULTIPLE_CN_BEFORE_V8_4"));
}

#[test]
fn pd_single_cn_client_port() {
    let s = Setup::new();
    let (mut files, _) = s.components();
    files[2] = s.fixture_edited(
        "components/pd.toml",
        "cfg/pd.toml",
        "[\"pd\", \"tidb\", \"tikv\", \"tiflash\", \"cdc\", \"prod-client\"]",
        "[\"pd\"]",
    );
    let f = run(&configs(&files));
    let m = find(&f, "PD_SINGLE_CN_CLIENT_PORT");
    assert_eq!(m.severity, Severity::Warning);
    assert!(m
        .source
        .as_deref()
        .unwrap()
        .ends_with("pd.toml:17:1: security.cert-allowed-cn"));
    // Several CNs: enforced on 2379 (v8.4+), no finding (clean baseline).
}

#[test]
fn tiup_client_not_listed() {
    let s = Setup::new();
    let tls = s.prod_tls();
    let p = s.fixture_edited(
        "tiup/prod.yaml",
        "prod.yaml",
        "security.cluster-verify-cn: [\"tidb\", \"prod-client\", \"tiproxy\", \"pd\"]",
        "security.cluster-verify-cn: [\"tidb\", \"tiproxy\", \"pd\"]",
    );
    let f = run(&topo(&p, Some(&tls)));
    let m = find(&f, "TIUP_CLIENT_NOT_LISTED");
    assert_eq!(m.severity, Severity::Warning);
    assert!(m.title.contains("prod-client"), "{m:?}");
    assert!(m.evidence.contains("Down"), "{m:?}");
    assert_eq!(m.endpoint.as_deref(), Some("tidb-10.0.1.21-10080"));
    // The instance override on 10.0.1.22 lists it: one finding only.
    assert_eq!(
        f.iter()
            .filter(|x| x.code.as_str() == "TIUP_CLIENT_NOT_LISTED")
            .count(),
        1
    );
}

#[test]
fn cert_eku() {
    let s = Setup::new();
    let (files, ca) = s.components();
    assert!(!has(&run(&configs(&files)), "CERT_EKU"));
    pki::write_pair(
        &s.path("cfg/tls"),
        "tidb",
        &ca,
        &Leaf {
            client_auth: false,
            ..Leaf::component("tidb", &[])
        },
    );
    let f = run(&configs(&files));
    let m = find(&f, "CERT_EKU");
    assert!(m.title.contains("clientAuth"), "{m:?}");
    assert_eq!(m.identity.as_deref(), Some("tidb"));
    assert!(m
        .source
        .as_deref()
        .unwrap()
        .contains("tidb.toml:20:1: security.cluster-ssl-cert"));
}

#[test]
fn cert_no_sans_and_san_mismatch() {
    let s = Setup::new();
    let (files, ca) = s.components();
    let clean = run(&configs(&files));
    assert!(!has(&clean, "CERT_NO_SANS") && !has(&clean, "CERT_SAN_MISMATCH"));
    pki::write_pair(
        &s.path("cfg/tls"),
        "tikv",
        &ca,
        &Leaf {
            sans: Vec::new(),
            ..Leaf::component("tikv", &[])
        },
    );
    pki::write_pair(
        &s.path("cfg/tls"),
        "pd",
        &ca,
        &Leaf {
            sans: vec!["localhost".into(), "10.9.9.9".into()],
            ..Leaf::component("pd", &[])
        },
    );
    let f = run(&configs(&files));
    assert!(find(&f, "CERT_NO_SANS").title.contains("tikv.crt"));
    let m = find(&f, "CERT_SAN_MISMATCH");
    assert_eq!(m.severity, Severity::Critical);
    assert!(m.title.contains("127.0.0.1"), "{m:?}");
    assert!(m.evidence.contains("IP:10.9.9.9"), "{m:?}");

    // A role certificate in the TLS folder covering none of the component's hosts: warning.
    let t = Setup::new();
    let tls = t.path("tls");
    let roles: Vec<(&str, &[&str])> = PROD_HOSTS
        .iter()
        .map(|(r, h)| (*r, if *r == "tidb" { &["10.0.9.9"][..] } else { *h }))
        .collect();
    pki::tiup_tls_dir(&tls, "prod", &roles);
    let f = run(&topo(&fixture("tiup/prod.yaml"), Some(&tls)));
    let m = find(&f, "CERT_SAN_MISMATCH");
    assert_eq!(m.severity, Severity::Warning);
    assert_eq!(m.identity.as_deref(), Some("tidb"));
}

#[test]
fn cert_expiry() {
    let s = Setup::new();
    let (files, ca) = s.components();
    let dir = s.path("cfg/tls");
    pki::write_pair(
        &dir,
        "tikv",
        &ca,
        &Leaf {
            days: 10,
            ..Leaf::component("tikv", &[])
        },
    );
    pki::write_pair(
        &dir,
        "pd",
        &ca,
        &Leaf {
            days: -1,
            ..Leaf::component("pd", &[])
        },
    );
    pki::write_pair(
        &dir,
        "cdc",
        &ca,
        &Leaf {
            days: 100,
            ..Leaf::component("cdc", &[])
        },
    );
    let f = run(&configs(&files));
    let expiring: Vec<&Finding> = f
        .iter()
        .filter(|x| x.code.as_str() == "CERT_FILE_EXPIRING")
        .collect();
    assert_eq!(expiring.len(), 1, "{f:#?}");
    assert_eq!(expiring[0].identity.as_deref(), Some("tikv"));
    assert_eq!(expiring[0].severity, Severity::Warning);
    let expired = find(&f, "CERT_FILE_EXPIRED");
    assert_eq!(expired.identity.as_deref(), Some("pd"));
    assert_eq!(expired.severity, Severity::Critical);
    // A longer threshold catches the 100-day certificate too.
    let cluster = Cluster::load(&configs(&files)).unwrap();
    let f = lint(
        &cluster,
        &LintOptions {
            expiry_warning_days: 200,
        },
    );
    assert_eq!(
        f.iter()
            .filter(|x| x.code.as_str() == "CERT_FILE_EXPIRING")
            .count(),
        2
    );
}

#[test]
fn key_cert_mismatch_and_unusable_key() {
    let s = Setup::new();
    let (files, ca) = s.components();
    let dir = s.path("cfg/tls");
    let (_, other_key) = pki::issue(&ca, &Leaf::component("tikv", &[]));
    pki::write_key(&dir.join("tikv.pem"), &other_key);
    std::fs::write(
        dir.join("cdc.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    pki::set_mode(&dir.join("cdc.pem"), 0o600);
    let f = run(&configs(&files));
    let m = find(&f, "KEY_CERT_MISMATCH");
    assert_eq!(m.identity.as_deref(), Some("tikv"));
    assert!(m
        .source
        .as_deref()
        .unwrap()
        .contains("tikv.toml:18:1: security.key-path"));
    let u = find(&f, "KEY_UNUSABLE");
    assert_eq!(u.identity.as_deref(), Some("cdc"));
    assert_eq!(
        f.iter()
            .filter(|x| x.code.as_str() == "KEY_CERT_MISMATCH")
            .count(),
        1
    );
    // The CA key must be the CA's.
    let t = Setup::new();
    let tls = t.prod_tls();
    pki::write_key(&tls.join("ca.pem"), &pki::ca().key_pem);
    let f = run(&topo(&fixture("tiup/prod.yaml"), Some(&tls)));
    assert_eq!(
        find(&f, "KEY_CERT_MISMATCH").identity.as_deref(),
        Some("ca")
    );
}

#[test]
fn key_file_permissions() {
    let s = Setup::new();
    let tls = s.prod_tls();
    let opts = topo(&fixture("tiup/prod.yaml"), Some(&tls));
    assert!(!has(&run(&opts), "KEY_FILE_PERMISSIONS"));
    pki::set_mode(&tls.join("client.pem"), 0o644);
    pki::set_mode(&tls.join("tikv.pem"), 0o640);
    let f = run(&opts);
    let perms: Vec<&Finding> = f
        .iter()
        .filter(|x| x.code.as_str() == "KEY_FILE_PERMISSIONS")
        .collect();
    assert_eq!(perms.len(), 2, "{f:#?}");
    assert!(perms
        .iter()
        .any(|p| p.title.contains("every user") && p.evidence == "mode 0644"));
    assert!(perms.iter().any(|p| p.title.contains("its group")));
}

#[test]
fn unreadable_and_invalid_cert_files() {
    let s = Setup::new();
    let (mut files, _) = s.components();
    files[1] = s.fixture_edited(
        "components/tikv.toml",
        "cfg/tikv.toml",
        "cert-path = \"tls/tikv.crt\"",
        "cert-path = \"/nonexistent/tikv.crt\"",
    );
    std::fs::write(s.path("cfg/tls/cdc.crt"), "not a certificate\n").unwrap();
    let f = run(&configs(&files));
    let u = find(&f, "CERT_FILE_UNREADABLE");
    assert_eq!(u.severity, Severity::Info);
    assert!(u.title.contains("/nonexistent/tikv.crt"));
    let i = find(&f, "CERT_FILE_INVALID");
    assert_eq!(i.identity.as_deref(), Some("cdc"));
    // TiUP-managed paths on the servers are not "unreadable" findings.
    let t = Setup::new();
    let tls = t.prod_tls();
    assert!(!has(
        &run(&topo(&fixture("tiup/prod.yaml"), Some(&tls))),
        "CERT_FILE_UNREADABLE"
    ));
}

#[test]
fn topology_sections_not_audited() {
    let f = run(&topo(&fixture("tiup/tispark.yaml"), None));
    let n = find(&f, "TOPOLOGY_SECTION_NOT_AUDITED");
    assert!(n.evidence.contains("tispark_masters") && n.evidence.contains("tispark_workers"));
    assert!(n
        .source
        .as_deref()
        .unwrap()
        .contains("tispark.yaml:9:1: tispark_masters"));
    let s = Setup::new();
    let p = s.write(
        "t.yaml",
        "global:\n  enable_tls: true\npd_servers:\n  - host: 10.0.1.11\n",
    );
    assert!(!has(&run(&topo(&p, None)), "TOPOLOGY_SECTION_NOT_AUDITED"));
}

#[test]
fn address_not_dialable() {
    let s = Setup::new();
    let (mut files, _) = s.components();
    files[0] = s.fixture_edited(
        "components/tidb.toml",
        "cfg/tidb.toml",
        "advertise-address = \"127.0.0.1\"\n",
        "",
    );
    let f = run(&configs(&files));
    let n = find(&f, "ADDRESS_NOT_DIALABLE");
    assert!(n.evidence.contains("0.0.0.0"), "{n:?}");
    let cluster = Cluster::load(&configs(&files)).unwrap();
    assert!(!cluster
        .instances
        .iter()
        .any(|i| i.component == tlsaudit_engine::profile::Component::Tidb));
}

#[test]
fn component_config_matching_a_topology() {
    let s = Setup::new();
    let tls = s.prod_tls();
    let (files, _) = s.components();
    // Advertising no address of the topology: applied to all three TiKV instances.
    let mut opts = topo(&fixture("tiup/prod.yaml"), Some(&tls));
    opts.component_configs = vec![ConfigArg::file(None, files[1].clone())];
    let f = run(&opts);
    assert!(find(&f, "CONFIG_APPLIED_TO_ALL").title.contains("3 TiKV"));
    // Advertising 10.0.1.32:20161: that instance only, its list from the file.
    let one = s.fixture_edited(
        "components/tikv.toml",
        "cfg/tikv-2.toml",
        "advertise-addr = \"127.0.0.1:20160\"",
        "advertise-addr = \"10.0.1.32:20161\"",
    );
    opts.component_configs = vec![ConfigArg::file(Some(ConfigKind::Tikv), one)];
    let cluster = Cluster::load(&opts).unwrap();
    let f = lint(&cluster, &LintOptions::default());
    assert!(!has(&f, "CONFIG_APPLIED_TO_ALL"), "{f:#?}");
    let kv2 = cluster
        .instances
        .iter()
        .find(|i| i.host == "10.0.1.32")
        .unwrap();
    let list = kv2.endpoints[0].list.as_ref().unwrap();
    assert!(list.source.contains("tikv-2.toml"), "{list:?}");
    let kv1 = cluster
        .instances
        .iter()
        .find(|i| i.host == "10.0.1.31")
        .unwrap();
    assert!(kv1.endpoints[0]
        .list
        .as_ref()
        .unwrap()
        .source
        .contains("prod.yaml"));
    // A component the topology does not have.
    let mut opts = topo(&fixture("tiup/plain.yaml"), None);
    opts.component_configs = vec![ConfigArg::file(None, files[5].clone())];
    assert!(has(&run(&opts), "CONFIG_NOT_MATCHED"));
    opts.component_configs = vec![ConfigArg::file(None, files[1].clone())];
    assert!(!has(&run(&opts), "CONFIG_NOT_MATCHED"));
}

// ---- issue 10: findings a TiDB SRE can trust ----

/// The finding of `code` whose source ends with `at` (`file:line:col: key`).
fn find_at<'a>(f: &'a [Finding], code: &str, at: &str) -> &'a Finding {
    f.iter()
        .find(|x| x.code.as_str() == code && x.source.as_deref().is_some_and(|s| s.ends_with(at)))
        .unwrap_or_else(|| panic!("no {code} at {at} in {f:#?}"))
}

#[test]
fn cn_case_mismatch() {
    // TiUP-issued certificates: TiDB's CN is tidb, TiUP's own is <cluster>-client.
    let f = run(&topo(&fixture("tiup/cn-case.yaml"), None));
    let tidb = find_at(
        &f,
        "CN_CASE_MISMATCH",
        "cn-case.yaml:9:5: server_configs.tidb security.cluster-verify-cn",
    );
    assert_eq!(tidb.severity, Severity::Critical);
    assert!(
        tidb.title
            .contains(r#"lists "TiDB", but the certificate's CN is "tidb""#),
        "{tidb:#?}"
    );
    assert!(tidb.fix.contains(r#"write "tidb""#), "{tidb:#?}");
    let client = find_at(
        &f,
        "CN_CASE_MISMATCH",
        "cn-case.yaml:20:7: tikv_servers[0].config security.cert-allowed-cn",
    );
    assert!(client.title.contains(r#""cn-case-client""#), "{client:#?}");
    // Exact entries (tidb, tikv, pd on the TiKV list, cn-case-client on TiDB's) are not findings.
    assert_eq!(
        f.iter()
            .filter(|x| x.code.as_str() == "CN_CASE_MISMATCH")
            .count(),
        2,
        "{f:#?}"
    );

    // A real certificate: the component configs' TLS folder has tidb.crt with CN tidb.
    let s = Setup::new();
    let (files, _) = s.components();
    let edited = s.fixture_edited(
        "components/tidb.toml",
        "cfg/tidb.toml",
        r#"cluster-verify-cn = ["tidb", "prod-client", "pd"]"#,
        r#"cluster-verify-cn = ["Tidb", "prod-client", "pd"]"#,
    );
    let mut all = files.clone();
    all[0] = edited;
    let f = run(&configs(&all));
    let m = find_at(
        &f,
        "CN_CASE_MISMATCH",
        "tidb.toml:22:1: security.cluster-verify-cn",
    );
    assert!(m.evidence.contains("tidb.crt"), "{m:#?}");

    // Through the command: a critical finding, exit 1, with the place.
    let path = fixture("tiup/cn-case.yaml");
    let (code, out, err) = cli(&["lint", "--topology", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("CRITICAL CN_CASE_MISMATCH security.cluster-verify-cn lists \"TiDB\""),
        "{out}"
    );
    assert!(
        out.contains("at:   ") && out.contains("cn-case.yaml:9:5:"),
        "{out}"
    );
}

#[test]
fn unknown_keys_are_findings_with_a_suggestion() {
    let f = run(&topo(&fixture("tiup/unknown-keys.yaml"), None));
    let cases = [
        (
            "unknown-keys.yaml:10:5: server_configs.tiflash security.cert-allowed-cn",
            "did you mean security.cert_allowed_cn?",
            Severity::Critical,
        ),
        (
            "unknown-keys.yaml:13:5: server_configs.tidb security.cert-allowed-cn",
            "did you mean security.cluster-verify-cn?",
            Severity::Critical,
        ),
        (
            "unknown-keys.yaml:17:9: server_configs.tiproxy security.server_http_tls.cert-allowed-cn",
            "did you mean security.server-http-tls?",
            Severity::Warning,
        ),
        (
            "unknown-keys.yaml:21:5: pd_servers[0].clientport",
            "did you mean client_port",
            Severity::Critical,
        ),
        (
            "unknown-keys.yaml:29:7: tikv_servers[0].config security.cert-alowed-cn",
            "did you mean security.cert-allowed-cn?",
            Severity::Critical,
        ),
    ];
    for (at, fix, severity) in cases {
        let x = find_at(&f, "UNKNOWN_KEY", at);
        assert!(x.fix.starts_with(fix), "{x:#?}");
        assert_eq!(x.severity, severity, "{x:#?}");
    }
    assert_eq!(codes(&f), ["UNKNOWN_KEY"; 5], "{f:#?}");
    // The ignored port: PD is taken at its default client port, as TiUP would not.
    let cluster = Cluster::load(&topo(&fixture("tiup/unknown-keys.yaml"), None)).unwrap();
    assert_eq!(cluster.instances[0].endpoints[0].address, "10.0.4.11:2379");

    // TOML alike: the TiKV spelling in tiflash.toml.
    let f = run(&configs(&[fixture("components/tiflash-hyphen.toml")]));
    let x = find_at(
        &f,
        "UNKNOWN_KEY",
        "tiflash-hyphen.toml:9:1: security.cert-allowed-cn",
    );
    assert_eq!(x.severity, Severity::Critical);
    assert!(
        x.fix.starts_with("did you mean security.cert_allowed_cn?"),
        "{x:#?}"
    );
    assert!(x.evidence.contains("cert_allowed_cn"), "{x:#?}");

    // Through the command.
    let path = fixture("tiup/unknown-keys.yaml");
    let (code, out, err) = cli(&[
        "lint",
        "--topology",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sources: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["code"] == "UNKNOWN_KEY")
        .map(|x| x["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources.len(), 5, "{out}");
    assert!(sources
        .iter()
        .any(|s| s.ends_with("unknown-keys.yaml:21:5: pd_servers[0].clientport")));
}

#[test]
fn allow_list_emptied_on_one_instance() {
    let f = run(&topo(&fixture("tiup/instance-list-off.yaml"), None));
    let x = find_at(
        &f,
        "ALLOW_LIST_EMPTIED",
        "instance-list-off.yaml:17:7: tidb_servers[1].config security.cluster-verify-cn",
    );
    assert_eq!(x.severity, Severity::Critical);
    assert!(
        x.title.contains("[tidb, instance-list-off-client, pd]"),
        "{x:#?}"
    );
    assert!(
        x.evidence.contains("asks for no client certificate"),
        "{x:#?}"
    );
    assert_eq!(codes(&f), ["ALLOW_LIST_EMPTIED"], "{f:#?}");
    // With no list in server_configs, an empty instance list is a warning.
    let s = Setup::new();
    let t = s.fixture_edited(
        "tiup/instance-list-off.yaml",
        "t.yaml",
        "    security.cluster-verify-cn: [tidb, instance-list-off-client, pd]\n",
        "    log.level: info\n",
    );
    let f = run(&topo(&t, None));
    assert_eq!(find(&f, "ALLOW_LIST_EMPTIED").severity, Severity::Warning);
}

/// The `error: ` lines of a run that failed with exit 2.
fn errors_of(args: &[&str]) -> Vec<String> {
    let (code, out, err) = cli(args);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    err.lines()
        .map(|l| {
            l.strip_prefix("error: ")
                .unwrap_or_else(|| panic!("{l:?} in {err}"))
                .to_string()
        })
        .collect()
}

#[test]
fn every_input_error_is_reported_in_one_run() {
    let topo_path = fixture("tiup/wrong-types.yaml");
    let toml_path = fixture("components/tikv-wrong-types.toml");
    let t = topo_path.to_str().unwrap();
    let c = toml_path.to_str().unwrap();
    let lines = errors_of(&["lint", "--topology", t, "--component-config", c]);
    let expected = [
        (t, "4:15: enable_tls must be true or false, not a string"),
        (
            t,
            "8:32: security.cert-allowed-cn must be a list of CNs, not a mapping",
        ),
        (
            t,
            "10:25: security.cert-path must be a path string, not a list",
        ),
        (
            t,
            "14:5: pd_servers[1] duplicates pd_servers[0] (line 13): both use 10.0.5.11:2379",
        ),
        (t, "19:18: status_port must be a port number, not \"http\""),
        (
            t,
            "24:33: security.cert-allowed-cn must be a list of CNs, not an integer",
        ),
        (
            c,
            "6:11: security.ca-path must be a path string, not an integer",
        ),
        (
            c,
            "7:21: security.cert-allowed-cn must be a list of CNs, not a mapping",
        ),
    ];
    assert_eq!(lines.len(), expected.len() + 1, "{lines:#?}");
    for ((file, what), line) in expected.iter().zip(&lines) {
        assert!(
            line.starts_with(&format!("{file}:{what}")),
            "{line} vs {what}"
        );
        assert!(line.contains("; "), "a fix: {line}");
    }
    assert_eq!(lines[8], "8 input errors; fix them and run again");

    // A sensible cap: 30 bad ports give 20 errors and the count.
    let s = Setup::new();
    let mut text = String::from("tikv_servers:\n");
    for n in 0..30 {
        text.push_str(&format!("  - host: 10.0.9.{n}\n    port: x{n}\n"));
    }
    let many = s.write("many.yaml", &text);
    let lines = errors_of(&["lint", "--topology", many.to_str().unwrap()]);
    assert_eq!(lines.len(), 21, "{lines:#?}");
    assert!(lines[0].ends_with("many.yaml:3:11: port must be a port number, not \"x0\"; write a number from 1 to 65535"), "{}", lines[0]);
    assert_eq!(
        lines[20],
        "30 input errors, the first 20 shown; fix them and run again"
    );
}

#[test]
fn unclosed_brackets_and_quotes_name_where_they_opened() {
    let cases = [
        (
            "tiup/unclosed-brace.yaml",
            "unclosed-brace.yaml:5:13: invalid YAML: the { opened here is not closed (the reader stopped at line 6, column 3",
            "close it with '}'",
        ),
        (
            "tiup/unclosed-quote.yaml",
            "unclosed-quote.yaml:4:11: invalid YAML: the quote \" opened here is not closed",
            "close the quote",
        ),
        (
            "tiup/bad-syntax.yaml",
            "bad-syntax.yaml:6:33: invalid YAML: the [ opened here is not closed (the reader stopped at line 7, column 13: illegal placement of ':' indicator)",
            "close it with ']'",
        ),
        (
            "components/tikv-unclosed.toml",
            "tikv-unclosed.toml:5:19: invalid TOML: the [ opened here is not closed (the reader stopped at line 6, column 1",
            "close it with ']'",
        ),
        (
            "components/tidb-unclosed-quote.toml",
            "tidb-unclosed-quote.toml:4:18: invalid TOML: the quote \" opened here is not closed (the reader stopped at line 4, column 30",
            "close the quote",
        ),
    ];
    for (rel, what, fix) in cases {
        let p = fixture(rel);
        let flag = if rel.ends_with(".toml") {
            "--component-config"
        } else {
            "--topology"
        };
        let lines = errors_of(&["lint", flag, p.to_str().unwrap()]);
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].contains(what), "{} vs {what}", lines[0]);
        assert!(lines[0].ends_with(fix), "{}", lines[0]);
    }
    // A bracket in a comment or a quoted string is not taken for an open one.
    let s = Setup::new();
    let p = s.write(
        "tikv.toml",
        "# [ \"\n[security]\nca-path = \"a\\\"[b\" # {\ncert-allowed-cn = [\"x\",\n  \"y\"\nkey-path = \"k\"\n",
    );
    let lines = errors_of(&["lint", "--component-config", p.to_str().unwrap()]);
    assert!(
        lines[0].contains("tikv.toml:4:19: invalid TOML: the [ opened here"),
        "{lines:#?}"
    );
}

// ---- input errors ----

fn load_err(opts: &TiupOptions) -> String {
    Cluster::load(opts).unwrap_err().to_string()
}

#[test]
fn bad_yaml_and_toml_are_located() {
    let e = load_err(&topo(&fixture("tiup/bad-syntax.yaml"), None));
    // The unclosed bracket is named where it opened, with where the reader stopped.
    assert!(
        e.contains("bad-syntax.yaml:6:33: invalid YAML: the [ opened here is not closed (the reader stopped at line 7, column 13"),
        "{e}"
    );
    let e = load_err(&topo(&fixture("tiup/typo-section.yaml"), None));
    assert!(
        e.contains("typo-section.yaml:5:1: unknown topology section \"tikv_server\""),
        "{e}"
    );
    assert!(e.contains("did you mean tikv_servers"), "{e}");
    let e = load_err(&configs(&[fixture("components/tikv-bad-syntax.toml")]));
    assert!(e.contains("tikv-bad-syntax.toml:3:"), "{e}");
    assert!(e.contains("invalid TOML"), "{e}");
    let e = load_err(&configs(&[fixture("tiup/prod.yaml")]));
    assert!(e.contains("cannot tell which component"), "{e}");
}

// ---- the command ----

#[test]
fn lint_command_exit_codes_and_formats() {
    let s = Setup::new();
    let tls = s.prod_tls();
    let prod = fixture("tiup/prod.yaml");
    let prod = prod.to_str().unwrap();
    let tls_s = tls.to_str().unwrap();
    let (code, out, err) = cli(&["lint", "--topology", prod, "--tls-dir", tls_s]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("tlsaudit lint: cluster prod, 11 instance(s)"),
        "{out}"
    );
    assert!(
        out.contains("INFO     TOPOLOGY_SECTION_NOT_AUDITED"),
        "{out}"
    );
    let (code, _, _) = cli(&[
        "lint",
        "--topology",
        prod,
        "--tls-dir",
        tls_s,
        "--fail-on",
        "info",
    ]);
    assert_eq!(code, 1);

    let plain = fixture("tiup/plain.yaml");
    let (code, out, _) = cli(&[
        "lint",
        "--topology",
        plain.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema"], "tlsaudit.lint/1");
    assert_eq!(v["cluster"], "plain");
    let f = v["findings"].as_array().unwrap();
    let t = f.iter().find(|x| x["code"] == "TLS_DISABLED").unwrap();
    assert!(t["source"].as_str().unwrap().contains("plain.yaml"));
    assert!(t["fix"]
        .as_str()
        .unwrap()
        .contains("tiup cluster tls plain enable"));

    let typo = fixture("tiup/typo-section.yaml");
    let (code, out, err) = cli(&["lint", "--topology", typo.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("typo-section.yaml:5:1:"), "{err}");
    let (code, _, err) = cli(&["lint"]);
    assert_eq!(code, 2, "{err}");

    // Component configs alone; COMPONENT=FILE; no key material in the output.
    let (files, _) = s.components();
    let mut args: Vec<String> = vec!["lint".into()];
    for f in &files {
        args.push("--component-config".into());
        args.push(f.display().to_string());
    }
    args.push("--component-config".into());
    args.push(format!("tikv={}", files[1].display()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = cli(&argv);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 finding(s)"), "{out}");
    let (code, _, err) = cli(&["lint", "--component-config", "nope=x.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown component \"nope\""), "{err}");
    assert!(err.contains("ticdc or tiproxy, as in"), "{err}");
    for k in std::fs::read_dir(s.path("cfg/tls")).unwrap() {
        let k = k.unwrap().path();
        let text = std::fs::read_to_string(&k).unwrap();
        if text.contains("PRIVATE KEY") {
            for l in text
                .lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 16)
            {
                assert!(!out.contains(l) && !err.contains(l), "key material printed");
            }
        }
    }
}

#[test]
fn list_lacks_needed_cn() {
    let s = Setup::new();
    let tls = s.prod_tls();
    let lacks = |f: &[Finding], endpoint: &str, cn: &str| {
        f.iter()
            .filter(|x| {
                x.code.as_str() == "LIST_LACKS_NEEDED_CN"
                    && x.endpoint.as_deref() == Some(endpoint)
                    && x.identity.as_deref() == Some(cn)
            })
            .count()
    };
    // One TiKV's own list lacks tiflash (the learner's raft) and tikv (raft between stores).
    let p = s.fixture_edited(
        "tiup/prod.yaml",
        "kv.yaml",
        "cert-allowed-cn: [\"tidb\", \"tikv\", \"pd\", \"tiflash\", \"cdc\", \"prod-client\", \"br\"]",
        "cert-allowed-cn: [\"tidb\", \"pd\", \"cdc\", \"prod-client\", \"br\"]",
    );
    let f = run(&topo(&p, Some(&tls)));
    assert_eq!(lacks(&f, "tikv-10.0.1.33-20160", "tiflash"), 1, "{f:#?}");
    assert_eq!(lacks(&f, "tikv-10.0.1.33-20160", "tikv"), 1, "{f:#?}");
    let m = find(&f, "LIST_LACKS_NEEDED_CN");
    assert_eq!(m.severity, Severity::Critical);
    assert!(
        m.source
            .as_deref()
            .unwrap()
            .ends_with("kv.yaml:70:9: tikv_servers[2].config security.cert-allowed-cn"),
        "{m:#?}"
    );
    assert!(m.evidence.contains("raft"), "{m:#?}");
    assert!(
        m.evidence.contains("tls/ti"),
        "the CN comes from the file: {m:#?}"
    );
    // The other TiKVs' list has both: nothing about them; the status port needs nobody.
    assert_eq!(
        codes(&f)
            .iter()
            .filter(|c| **c == "LIST_LACKS_NEEDED_CN")
            .count(),
        2,
        "{f:#?}"
    );

    // PD's list lacks tikv.
    let p = s.fixture_edited(
        "tiup/prod.yaml",
        "pd.yaml",
        "      - tidb\n      - tikv\n",
        "      - tidb\n",
    );
    let f = run(&topo(&p, Some(&tls)));
    assert_eq!(lacks(&f, "pd-10.0.1.11-2379", "tikv"), 1, "{f:#?}");
    assert!(find(&f, "LIST_LACKS_NEEDED_CN").fix.contains("\"tikv\""));

    // TiFlash's own list lacks tidb; the CN is TiUP's when no file is at hand.
    let p = s.fixture_edited(
        "tiup/prod.yaml",
        "flash.yaml",
        "security.cert_allowed_cn: [\"tidb\", \"tikv\", \"tiflash\", \"pd\"]",
        "security.cert_allowed_cn: [\"tikv\", \"tiflash\", \"pd\"]",
    );
    let f = run(&topo(&p, None));
    assert_eq!(lacks(&f, "tiflash-10.0.1.41-3931", "tidb"), 1, "{f:#?}");
    assert!(
        find(&f, "LIST_LACKS_NEEDED_CN")
            .evidence
            .contains("TiUP issues the TiDB certificate with CN tidb"),
        "{f:#?}"
    );

    // Only components present count: without TiFlash, a TiKV list needs no tiflash.
    let t = s.write(
        "small.yaml",
        "global:\n  enable_tls: true\n\
         server_configs:\n  tikv:\n    security.cert-allowed-cn: [\"tidb\", \"tikv\", \"pd\"]\n\
         pd_servers:\n  - host: 10.0.2.1\n\
         tikv_servers:\n  - host: 10.0.2.2\n\
         tidb_servers:\n  - host: 10.0.2.3\n",
    );
    assert!(!has(&run(&topo(&t, None)), "LIST_LACKS_NEEDED_CN"));
    // With TiFlash deployed, it does.
    let t = s.write(
        "small-flash.yaml",
        "global:\n  enable_tls: true\n\
         server_configs:\n  tikv:\n    security.cert-allowed-cn: [\"tidb\", \"tikv\", \"pd\"]\n\
         pd_servers:\n  - host: 10.0.2.1\n\
         tikv_servers:\n  - host: 10.0.2.2\n\
         tidb_servers:\n  - host: 10.0.2.3\n\
         tiflash_servers:\n  - host: 10.0.2.4\n",
    );
    let f = run(&topo(&t, None));
    assert_eq!(lacks(&f, "tikv-10.0.2.2-20160", "tiflash"), 1, "{f:#?}");
    // PD's client port with one entry is not enforced: no outage to report there.
    let t = s.write(
        "pd-one.yaml",
        "global:\n  enable_tls: true\n\
         server_configs:\n  pd:\n    security.cert-allowed-cn: [\"pd\"]\n\
         pd_servers:\n  - host: 10.0.2.1\n\
         tikv_servers:\n  - host: 10.0.2.2\n",
    );
    let f = run(&topo(&t, None));
    assert!(!has(&f, "LIST_LACKS_NEEDED_CN"), "{f:#?}");
}

#[test]
fn exporter_ports_are_noted_as_plaintext_with_ignore_exporter() {
    let s = Setup::new();
    let f = run(&topo(&fixture("tiup/prod.yaml"), None));
    let x = find(&f, "EXPORTER_PLAINTEXT");
    assert_eq!(x.severity, Severity::Info);
    assert!(
        x.title
            .contains("node_exporter :9100, blackbox_exporter :9115"),
        "{x:#?}"
    );
    assert!(
        x.evidence.contains("10.0.1.11:9100, 10.0.1.11:9115"),
        "{x:#?}"
    );
    assert!(
        x.source
            .as_deref()
            .unwrap()
            .ends_with("prod.yaml:12:1: monitored"),
        "{x:#?}"
    );
    // Custom ports; a host whose only instance sets ignore_exporter runs none.
    let t = s.write(
        "mon.yaml",
        "global:\n  enable_tls: true\n\
         monitored:\n  node_exporter_port: 19100\n  blackbox_exporter_port: 19115\n\
         pd_servers:\n  - host: 10.0.3.1\n\
         tikv_servers:\n  - host: 10.0.3.2\n    ignore_exporter: true\n",
    );
    let f = run(&topo(&t, None));
    let x = find(&f, "EXPORTER_PLAINTEXT");
    assert!(x.title.contains("on 1 host(s)"), "{x:#?}");
    assert!(
        x.evidence.starts_with("10.0.3.1:19100, 10.0.3.1:19115;"),
        "{x:#?}"
    );
    assert!(x.evidence.contains("none on 10.0.3.2"), "{x:#?}");
    // Every instance opts out: nothing to note; nor without a `monitored` section (TiUP writes
    // one into every meta.yaml).
    let t = s.write(
        "none.yaml",
        "global:\n  enable_tls: true\nmonitored:\n  node_exporter_port: 9100\n\
         pd_servers:\n  - host: 10.0.3.1\n    ignore_exporter: true\n",
    );
    assert!(!has(&run(&topo(&t, None)), "EXPORTER_PLAINTEXT"));
    let t = s.write(
        "unsaid.yaml",
        "global:\n  enable_tls: true\npd_servers:\n  - host: 10.0.3.1\n",
    );
    assert!(!has(&run(&topo(&t, None)), "EXPORTER_PLAINTEXT"));
    // A bad port or flag: exit 2 with line and column.
    let t = s.write(
        "bad.yaml",
        "global:\n  enable_tls: true\n\
         monitored:\n  node_exporter_port: metrics\n\
         pd_servers:\n  - host: 10.0.3.1\n    ignore_exporter: maybe\n",
    );
    let (code, _, err) = cli(&["lint", "--topology", t.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.yaml:4:23: node_exporter_port must be a port number"),
        "{err}"
    );
    assert!(
        err.contains("bad.yaml:7:22: pd_servers[0]: ignore_exporter must be true or false"),
        "{err}"
    );
}
