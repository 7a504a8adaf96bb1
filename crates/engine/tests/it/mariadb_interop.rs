//! Against a real MySQL-protocol server: Debian's `mariadb-server` (10.11), started by the
//! test on 127.0.0.1 with its own data directory (`mariadb-install-db`) and port, with the lab
//! PKI: the `tidb` certificate as the server's, the lab CA as the client CA (`ssl-ca`).
//! Three servers: `require_secure_transport` ON, the same OFF, and one without TLS.
//!
//! MariaDB checks `require_secure_transport` after authentication and answers a plaintext
//! login 1045 whether the account exists or not; so without an audit account ON and OFF look
//! the same ("unknown; give an audit account to be sure"), and with one they are told apart.
//!
//! Without `mariadbd` and `mariadb-install-db` (PATH, /usr/sbin, or `MARIADBD_BIN`) the test
//! prints a note and passes; CI installs `mariadb-server`.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tlsaudit_engine::audit::{EndpointId, IdentityId};

use tlsaudit_engine::audit::{Auditor, Plan, Severity, Verdict};
use tlsaudit_engine::inventory::{AuditOptions, Endpoint, IdentityEntry, Inventory};
use tlsaudit_engine::pki::{Identity, Trust};
use tlsaudit_engine::probe::mysql::{
    AccountKind, LoginResult, MysqlAccount, PlaintextVerdict, Secret, ER_ACCESS_DENIED,
};
use tlsaudit_engine::probe::{probe, Caller, OutcomeClass, ProbeRecord, ProbeSpec, Protocol};
use tlsaudit_engine::profile::{self, Component};
use tlsaudit_lab::{Lab, LabSpec};

const USER: &str = "tlsaudit";
const PASSWORD: &str = "Maria-pw-5b1e08d4";
/// An account whose plugin the probe does not speak (MariaDB's ed25519).
const ED_USER: &str = "tlsaudit_ed";

fn find(name: &str) -> Option<PathBuf> {
    let dirs = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .collect::<Vec<_>>();
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn binaries() -> Option<(PathBuf, PathBuf)> {
    let server = std::env::var_os("MARIADBD_BIN")
        .map(PathBuf::from)
        .or_else(|| find("mariadbd"))?;
    let install = server
        .parent()
        .map(|d| d.join("mariadb-install-db"))
        .filter(|p| p.is_file())
        .or_else(|| find("mariadb-install-db"))?;
    Some((server, install))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn user_args() -> Vec<String> {
    if is_root() {
        vec!["--user=root".to_string()]
    } else {
        Vec::new()
    }
}

/// A data directory made by mariadb-install-db, copied for each server.
fn install(bin: &Path, dir: &Path) -> PathBuf {
    let data = dir.join("template");
    let out = Command::new(bin)
        .arg("--no-defaults")
        .args(user_args())
        .arg(format!("--datadir={}", data.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mariadb-install-db failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    data
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// TLS, a client CA, require_secure_transport ON.
    On,
    /// TLS, a client CA, require_secure_transport OFF.
    Off,
    /// No TLS at all.
    NoTls,
}

/// A running mariadbd, killed and reaped on drop; its data dir goes with it.
struct Mariadb {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(bin: &Path, template: &Path, lab: &Lab, mode: Mode) -> Mariadb {
    let pki = lab.pki();
    let server = &pki.identities["tidb"];
    let mut last = String::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let copied = Command::new("cp")
            .arg("-a")
            .arg(template)
            .arg(&data)
            .status()
            .unwrap();
        assert!(copied.success());
        // The accounts, created at start; the file stays in the test's temp dir.
        let init = dir.path().join("init.sql");
        std::fs::write(
            &init,
            format!(
                "CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';\n\
                 INSTALL SONAME 'auth_ed25519';\n\
                 CREATE USER IF NOT EXISTS '{ED_USER}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('{PASSWORD}');\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = dir.path().join("err.log");
        let mut cmd = Command::new(bin);
        cmd.arg("--no-defaults")
            .args(user_args())
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", dir.path().join("sock").display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg(format!("--log-error={}", log.display()))
            .arg(format!("--init-file={}", init.display()))
            .args([
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
                "--max-connections=200",
            ]);
        match mode {
            Mode::On | Mode::Off => {
                cmd.arg(format!("--ssl-ca={}", pki.ca_cert.display()))
                    .arg(format!("--ssl-cert={}", server.cert.display()))
                    .arg(format!("--ssl-key={}", server.key.display()))
                    .arg(format!(
                        "--require-secure-transport={}",
                        if mode == Mode::On { "ON" } else { "OFF" }
                    ));
            }
            Mode::NoTls => {
                cmd.arg("--skip-ssl");
            }
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd starts");
        // Ok(true): ready; Ok(false): mariadbd exited (its port was taken: try another).
        let up = tlsaudit_testkit::poll(Duration::from_secs(30), Duration::from_millis(50), || {
            if let Ok(Some(_)) = child.try_wait() {
                return Ok(false);
            }
            let ready = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("ready for connections");
            if ready && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                Ok(true)
            } else {
                Err("not ready")
            }
        });
        if up == Ok(true) {
            return Mariadb {
                child,
                port,
                _dir: dir,
            };
        }
        let _ = child.kill();
        let _ = child.wait();
        last = std::fs::read_to_string(&log).unwrap_or_default();
    }
    panic!("mariadbd ({mode:?}) did not come up; its log:\n{last}");
}

struct Probe<'a> {
    lab: &'a Lab,
    trust: Trust,
}

impl Probe<'_> {
    async fn run(&self, port: u16, as_: &str, account: Option<MysqlAccount>) -> ProbeRecord {
        let identity = match as_ {
            "anonymous" => Identity::anonymous(),
            name => {
                let f = &self.lab.pki().identities[name];
                Identity::load(name, &f.cert, &f.key).unwrap()
            }
        };
        let mut spec = ProbeSpec::new(format!("127.0.0.1:{port}"), Protocol::Mysql);
        spec.mysql_account = account;
        let rec = probe(&spec, &Caller::new(identity, &self.trust), &self.trust).await;
        let m = rec.mysql.as_ref();
        eprintln!(
            "mariadb :{port} as {as_}: {} ({}); plaintext {:?}: {}",
            rec.outcome.class,
            rec.outcome.summary,
            m.map(|m| m.plaintext),
            m.map_or("-", |m| m.plaintext_detail.as_str())
        );
        assert!(!serde_json::to_string(&rec).unwrap().contains(PASSWORD));
        rec
    }
}

fn account() -> MysqlAccount {
    MysqlAccount::new(USER, Secret::new(PASSWORD))
}

fn plaintext(rec: &ProbeRecord) -> PlaintextVerdict {
    rec.mysql.as_ref().unwrap().plaintext
}

#[allow(clippy::too_many_lines)] // one server setup, many observations
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_tls_and_require_secure_transport() {
    let Some((server_bin, install_bin)) = binaries() else {
        assert!(
            !tlsaudit_testkit::in_ci(),
            "mariadbd is required under CI=true (.ci/run installs mariadb-server)"
        );
        eprintln!("note: mariadbd is not installed (apt-get install mariadb-server); skipping the MariaDB interop test");
        return;
    };
    let lab = Lab::start(LabSpec::new("maria")).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let template = tokio::task::block_in_place(|| install(&install_bin, work.path()));
    let (on, off, none) = tokio::task::block_in_place(|| {
        (
            start(&server_bin, &template, &lab, Mode::On),
            start(&server_bin, &template, &lab, Mode::Off),
            start(&server_bin, &template, &lab, Mode::NoTls),
        )
    });
    let p = Probe {
        lab: &lab,
        trust: Trust::load(&lab.pki().ca_cert).unwrap(),
    };

    // TLS offered: the version, the chain (the lab's tidb certificate), a client certificate
    // asked for (ssl-ca), the made-up user's 1045 inside TLS.
    for port in [on.port, off.port] {
        let rec = p.run(port, "anonymous", None).await;
        assert_eq!(
            rec.outcome.class,
            OutcomeClass::Accepted,
            "{:#?}",
            rec.outcome
        );
        let tls = rec.tls.as_ref().unwrap();
        assert!(tls.version.starts_with("TLSv1."), "{}", tls.version);
        assert!(tls.client_cert_requested);
        assert_eq!(rec.server_chain[0].common_name.as_deref(), Some("tidb"));
        assert!(rec.server_verification.as_ref().unwrap().trusted);
        let m = rec.mysql.as_ref().unwrap();
        assert!(m.tls_offered);
        assert!(m.server_version.contains("MariaDB"), "{}", m.server_version);
        assert!(m.tls_login.as_ref().unwrap().is_error(ER_ACCESS_DENIED));
        // Without an account: the honest "unknown", ON and OFF alike.
        assert!(m
            .plaintext_login
            .as_ref()
            .unwrap()
            .is_error(ER_ACCESS_DENIED));
        assert_eq!(m.plaintext, PlaintextVerdict::Unknown);
        assert!(m
            .plaintext_detail
            .starts_with("unknown; give an audit account to be sure"));
        // A client certificate: verified against the client CA.
        let rec = p.run(port, "tidb", None).await;
        assert_eq!(rec.outcome.class, OutcomeClass::Accepted);
        assert!(rec.tls.as_ref().unwrap().client_cert_sent);
        let rec = p.run(port, "foreign", None).await;
        assert!(
            rec.outcome.class == OutcomeClass::CertRejected,
            "{:#?}",
            rec.outcome
        );
    }
    // TLS 1.2 too.
    let mut spec = ProbeSpec::new(format!("127.0.0.1:{}", on.port), Protocol::Mysql);
    spec.versions = tlsaudit_engine::probe::TlsVersions::Tls12;
    let rec = probe(
        &spec,
        &Caller::new(Identity::anonymous(), &p.trust),
        &p.trust,
    )
    .await;
    assert_eq!(rec.tls.as_ref().unwrap().version, "TLSv1.2");

    // With the audit account, ON and OFF are told apart.
    let rec = p.run(on.port, "anonymous", Some(account())).await;
    let m = rec.mysql.as_ref().unwrap();
    assert_eq!(m.account, AccountKind::Audit);
    assert_eq!(m.tls_login.as_ref().unwrap().result, LoginResult::Ok);
    assert!(m
        .plaintext_login
        .as_ref()
        .unwrap()
        .is_error(ER_ACCESS_DENIED));
    assert_eq!(m.plaintext, PlaintextVerdict::Refused);
    let rec = p.run(off.port, "anonymous", Some(account())).await;
    let m = rec.mysql.as_ref().unwrap();
    assert_eq!(m.tls_login.as_ref().unwrap().result, LoginResult::Ok);
    assert_eq!(m.plaintext_login.as_ref().unwrap().result, LoginResult::Ok);
    assert_eq!(m.plaintext, PlaintextVerdict::Accepted);

    // An account with a plugin the probe does not speak (the server switches to it): never
    // "accepted", and the TLS session still counts.
    let ed = MysqlAccount::new(ED_USER, Secret::new(PASSWORD));
    let rec = p.run(off.port, "anonymous", Some(ed)).await;
    assert_eq!(rec.outcome.class, OutcomeClass::Accepted);
    let m = rec.mysql.as_ref().unwrap();
    let tls_login = m.tls_login.as_ref().unwrap();
    assert_eq!(
        tls_login.result,
        LoginResult::UnsupportedAuth,
        "{tls_login:?}"
    );
    assert_eq!(tls_login.auth_switch.as_deref(), Some("client_ed25519"));
    assert_eq!(plaintext(&rec), PlaintextVerdict::Unknown);

    // Without TLS.
    let rec = p.run(none.port, "tidb", None).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::Plaintext,
        "{:#?}",
        rec.outcome
    );
    assert!(!rec.mysql.as_ref().unwrap().tls_offered);
    assert_eq!(plaintext(&rec), PlaintextVerdict::NoTls);
    let rec = p.run(none.port, "anonymous", Some(account())).await;
    assert_eq!(
        rec.mysql
            .as_ref()
            .unwrap()
            .plaintext_login
            .as_ref()
            .unwrap()
            .result,
        LoginResult::Ok
    );

    // The audit over the three, with and without the account.
    let pki = lab.pki();
    let endpoint = |name: &str, port: u16| Endpoint {
        name: name.into(),
        component: Component::Generic,
        role: profile::Role::GenericTls,
        address: format!("127.0.0.1:{port}"),
        server_name: Some("localhost".into()),
        protocol: Protocol::Mysql,
        path: None,
        allowed_cn: Vec::new(),
        list_at: None,
        version: None,
        profile: profile::Role::GenericTls.profile(),
        labels: Default::default(),
        client_auth: None,
        needed_by: Vec::new(),
        cert_file: None,
        ca_file: None,
        rotation: None,
    };
    let inventory = |account: Option<MysqlAccount>| Inventory {
        origin: tlsaudit_engine::inventory::Origin::Inventory,
        source: None,
        cluster: "maria".into(),
        ca: pki.ca_cert.clone(),
        ca_key: Some(pki.ca_key.clone()),
        identities: vec![IdentityEntry {
            name: "tidb".into(),
            cert: pki.identities["tidb"].cert.clone(),
            key: pki.identities["tidb"].key.clone(),
            component: None,
            outsider: false,
        }],
        endpoints: vec![
            endpoint("maria-on", on.port),
            endpoint("maria-off", off.port),
            endpoint("maria-notls", none.port),
        ],
        options: AuditOptions {
            mysql_account: account,
            ..AuditOptions::default()
        },
    };
    let codes =
        |snap: &tlsaudit_engine::audit::Snapshot| -> Vec<(&'static str, Option<String>, Severity)> {
            snap.findings
                .iter()
                .map(|f| (f.code.as_str(), f.endpoint.clone(), f.severity))
                .collect()
        };
    let auditor = Auditor::new(Plan::new(inventory(None)).unwrap());
    let snap = auditor.run_round(None).await;
    let c = codes(&snap);
    eprintln!("without an account: {c:?}");
    for ep in ["maria-on", "maria-off"] {
        assert!(
            c.iter()
                .any(|(code, e, _)| *code == "SQL_PLAINTEXT_UNKNOWN" && e.as_deref() == Some(ep)),
            "{c:?}"
        );
    }
    assert!(c
        .iter()
        .any(|(code, e, _)| *code == "SQL_TLS_NOT_OFFERED" && e.as_deref() == Some("maria-notls")));
    assert!(!c
        .iter()
        .any(|(code, _, _)| *code == "SQL_PLAINTEXT_ACCEPTED"));
    assert_eq!(
        snap.cell(IdentityId(0), EndpointId(0)).verdict,
        Some(Verdict::Secure)
    );
    assert_eq!(
        snap.cell(IdentityId(0), EndpointId(2)).verdict,
        Some(Verdict::Unencrypted)
    );

    let auditor = Auditor::new(Plan::new(inventory(Some(account()))).unwrap());
    let snap = auditor.run_round(None).await;
    let c = codes(&snap);
    eprintln!("with the audit account: {c:?}");
    // No SQL finding at the port that requires TLS; the hygiene scan (through STARTTLS) finds
    // what Debian's MariaDB accepts by default: CBC suites with SHA-1 MACs, a warning.
    assert!(
        !c.iter()
            .any(|(code, e, _)| e.as_deref() == Some("maria-on") && code.starts_with("SQL_")),
        "{c:?}"
    );
    assert!(
        c.iter().any(|(code, e, sev)| *code == "CIPHER_SUITE_WEAK"
            && e.as_deref() == Some("maria-on")
            && *sev == Severity::Warning),
        "{c:?}"
    );
    let scan = snap.scans[0].as_deref().expect("the SQL port is scanned");
    assert_eq!(scan.protocol, "mysql");
    assert!(
        scan.accepted()
            .contains(&tlsaudit_engine::scan::Version::Tls12),
        "{scan:?}"
    );
    assert!(c
        .iter()
        .any(|(code, e, sev)| *code == "SQL_PLAINTEXT_ACCEPTED"
            && e.as_deref() == Some("maria-off")
            && *sev == Severity::Warning));
    assert!(!c
        .iter()
        .any(|(code, _, _)| *code == "SQL_PLAINTEXT_UNKNOWN"));
    assert!(!format!("{:?}", auditor.plan().inventory).contains(PASSWORD));

    drop((on, off, none));
    lab.stop().await;
}
