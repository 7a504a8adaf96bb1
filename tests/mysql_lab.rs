//! The `mysql` probe against the embedded lab's TiDB-like SQL endpoint: TLS offered or not,
//! the TLS session with its chain, version and client certificate, 3159 before authentication
//! (plaintext refused, proved without a credential), the honest "unknown" without an account,
//! and an audit account telling `require-secure-transport` on from off. The audit, the JSON
//! report (against the schema), `diagnose`, and a scan of every output for the password.

// A test binary of its own: `the_password_appears_in_no_output_no_log_and_no_error` installs a
// global TRACE subscriber that keeps every event in memory for the rest of the process; in a
// shared binary it would capture, and slow, every other suite's events.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tlsaudit_engine::audit::{EndpointId, IdentityId};

use tlsaudit_engine::audit::{Auditor, Plan, Verdict};
use tlsaudit_engine::diagnose::{self, Cause, Request, StepStatus};
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_engine::pki::{Identity, Trust};
use tlsaudit_engine::probe::mysql::{
    AccountKind, LoginResult, MysqlAccount, PlaintextVerdict, Secret, ER_ACCESS_DENIED,
    ER_SECURE_TRANSPORT_REQUIRED,
};
use tlsaudit_engine::probe::{probe, Caller, OutcomeClass, ProbeRecord, ProbeSpec, Protocol};
use tlsaudit_lab::{EndpointSpec, Lab, LabSpec, SqlAccount, SqlConfig};

const USER: &str = "tlsaudit_audit";
/// Distinctive, so that a scan of the outputs cannot miss it.
const PASSWORD: &str = "Pw-7f3a91c2-never-shown";

fn sql(tls: bool, client_ca: bool, rst: bool) -> SqlConfig {
    SqlConfig {
        tls,
        client_ca,
        require_secure_transport: rst,
        account: Some(SqlAccount::new(USER, PASSWORD)),
    }
}

/// TiDB-like SQL endpoints: require-secure-transport on, off, without TLS, without a client CA.
fn spec() -> LabSpec {
    LabSpec::new("sqllab")
        .with(EndpointSpec::pd("pd-1", &[]))
        .with(EndpointSpec::tidb_sql("sql-strict", sql(true, true, true)))
        .with(EndpointSpec::tidb_sql("sql-lax", sql(true, true, false)))
        .with(EndpointSpec::tidb_sql(
            "sql-plain",
            sql(false, false, false),
        ))
        .with(EndpointSpec::tidb_sql("sql-noca", sql(true, false, true)))
}

struct Bench {
    lab: Lab,
    trust: Trust,
    inventory: PathBuf,
}

async fn bench() -> Bench {
    let (lab, inventory) = tlsaudit::demo::start_spec(spec()).await.unwrap();
    let trust = Trust::load(&lab.pki().ca_cert).unwrap();
    Bench {
        lab,
        trust,
        inventory,
    }
}

fn account() -> MysqlAccount {
    MysqlAccount::new(USER, Secret::new(PASSWORD))
}

impl Bench {
    fn caller(&self, name: &str) -> Caller {
        let identity = match name {
            "anonymous" => Identity::anonymous(),
            name => {
                let f = &self.lab.pki().identities[name];
                Identity::load(name, &f.cert, &f.key).unwrap()
            }
        };
        Caller::new(identity, &self.trust)
    }

    fn spec(&self, endpoint: &str, account: Option<MysqlAccount>) -> ProbeSpec {
        let ep = self.lab.endpoint(endpoint).unwrap();
        let mut spec = ProbeSpec::new(ep.addr.to_string(), Protocol::Mysql);
        spec.mysql_account = account;
        spec
    }

    async fn probe(&self, endpoint: &str, as_: &str, account: Option<MysqlAccount>) -> ProbeRecord {
        probe(
            &self.spec(endpoint, account),
            &self.caller(as_),
            &self.trust,
        )
        .await
    }
}

#[tokio::test]
async fn tls_session_recorded_and_plaintext_refused_before_authentication() {
    let b = bench().await;
    let rec = b.probe("sql-strict", "anonymous", None).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::Accepted,
        "{:#?}",
        rec.outcome
    );
    assert!(
        rec.outcome.summary.contains("1045"),
        "{}",
        rec.outcome.summary
    );
    assert_eq!(rec.target.protocol, "mysql");
    // The TLS session: version, chain, a client certificate asked for (ssl-ca set).
    let tls = rec.tls.as_ref().unwrap();
    assert!(tls.version == "TLSv1.3" || tls.version == "TLSv1.2");
    assert!(tls.client_cert_requested && !tls.client_cert_sent);
    assert_eq!(tls.alpn, None);
    assert_eq!(rec.server_chain[0].common_name.as_deref(), Some("tidb"));
    assert!(rec.server_verification.as_ref().unwrap().trusted);
    let m = rec.mysql.as_ref().unwrap();
    assert!(m.tls_offered);
    assert!(m.server_version.contains("TiDB"));
    assert_eq!(m.account, AccountKind::MadeUp);
    assert!(m.tls_login.as_ref().unwrap().is_error(ER_ACCESS_DENIED));
    // 3159 answers the made-up user in plaintext: proof without any credential.
    assert!(m
        .plaintext_login
        .as_ref()
        .unwrap()
        .is_error(ER_SECURE_TRANSPORT_REQUIRED));
    assert_eq!(m.plaintext, PlaintextVerdict::Refused);
    let events = b
        .lab
        .wait_events("sql-strict", 2, Duration::from_secs(2))
        .await;
    let decisions: Vec<&str> = events.iter().map(|e| e.decision.as_str()).collect();
    assert!(decisions.contains(&"sql_error:1045"), "{decisions:?}");
    assert!(decisions.contains(&"sql_error:3159"), "{decisions:?}");
    assert!(events
        .iter()
        .any(|e| e.decision == "sql_error:1045" && e.tls_version.is_some()));

    // TLS 1.2 only, and a client certificate: presented and accepted.
    let mut spec = b.spec("sql-strict", None);
    spec.versions = tlsaudit_engine::probe::TlsVersions::Tls12;
    let rec = probe(&spec, &b.caller("tidb"), &b.trust).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::Accepted,
        "{:#?}",
        rec.outcome
    );
    let tls = rec.tls.as_ref().unwrap();
    assert_eq!(tls.version, "TLSv1.2");
    assert!(tls.client_cert_sent);
    assert!(rec
        .outcome
        .summary
        .contains("accepted our client certificate"));
    let events = b
        .lab
        .wait_events("sql-strict", 4, Duration::from_secs(2))
        .await;
    assert!(events
        .iter()
        .any(|e| e.client_cn.as_deref() == Some("tidb")));
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_and_none_requested_without_a_client_ca() {
    let b = bench().await;
    let rec = b.probe("sql-strict", "foreign", None).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::CertRejected,
        "{:#?}",
        rec.outcome
    );
    let rec = b.probe("sql-noca", "tidb", None).await;
    assert_eq!(rec.outcome.class, OutcomeClass::Accepted);
    assert!(!rec.tls.as_ref().unwrap().client_cert_requested);
}

#[tokio::test]
async fn without_an_account_a_1045_in_plaintext_is_unknown_never_accepted() {
    let b = bench().await;
    let rec = b.probe("sql-lax", "anonymous", None).await;
    assert_eq!(rec.outcome.class, OutcomeClass::Accepted);
    let m = rec.mysql.as_ref().unwrap();
    assert!(m
        .plaintext_login
        .as_ref()
        .unwrap()
        .is_error(ER_ACCESS_DENIED));
    assert_eq!(m.plaintext, PlaintextVerdict::Unknown);
    assert!(
        m.plaintext_detail
            .starts_with("unknown; give an audit account to be sure"),
        "{}",
        m.plaintext_detail
    );
    assert!(
        !m.plaintext_detail.contains("accepted"),
        "{}",
        m.plaintext_detail
    );
}

#[tokio::test]
async fn an_audit_account_tells_require_secure_transport_on_from_off() {
    let b = bench().await;
    // Off: the account logs in over TLS and in plaintext.
    let rec = b.probe("sql-lax", "anonymous", Some(account())).await;
    assert_eq!(rec.outcome.class, OutcomeClass::Accepted);
    assert!(rec
        .outcome
        .summary
        .starts_with("logged in as tlsaudit_audit over TLS"));
    let m = rec.mysql.as_ref().unwrap();
    assert_eq!(m.account, AccountKind::Audit);
    assert_eq!(m.tls_login.as_ref().unwrap().result, LoginResult::Ok);
    assert_eq!(m.plaintext_login.as_ref().unwrap().result, LoginResult::Ok);
    assert_eq!(m.plaintext, PlaintextVerdict::Accepted);
    // On: over TLS only.
    let rec = b.probe("sql-strict", "anonymous", Some(account())).await;
    let m = rec.mysql.as_ref().unwrap();
    assert_eq!(m.tls_login.as_ref().unwrap().result, LoginResult::Ok);
    assert_eq!(m.plaintext, PlaintextVerdict::Refused);
    let events = b
        .lab
        .wait_events("sql-lax", 2, Duration::from_secs(2))
        .await;
    let decisions: Vec<&str> = events.iter().map(|e| e.decision.as_str()).collect();
    assert!(decisions.contains(&"sql_login:tls"), "{decisions:?}");
    assert!(decisions.contains(&"sql_login:plaintext"), "{decisions:?}");
    // A wrong password: refused over TLS too, so the comparison is unknown.
    let wrong = MysqlAccount::new(USER, Secret::new("wrong"));
    let rec = b.probe("sql-lax", "anonymous", Some(wrong)).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::Accepted,
        "TLS was accepted"
    );
    let m = rec.mysql.as_ref().unwrap();
    assert!(m.tls_login.as_ref().unwrap().is_error(ER_ACCESS_DENIED));
    assert_eq!(m.plaintext, PlaintextVerdict::Unknown);
}

#[tokio::test]
async fn tls_not_offered() {
    let b = bench().await;
    let rec = b.probe("sql-plain", "tidb", None).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::Plaintext,
        "{:#?}",
        rec.outcome
    );
    assert!(rec.tls.is_none() && rec.server_chain.is_empty());
    assert_eq!(
        rec.evidence
            .peer_protocol
            .map(tlsaudit_engine::probe::PeerProtocol::as_str),
        Some("mysql")
    );
    let m = rec.mysql.as_ref().unwrap();
    assert!(!m.tls_offered);
    assert_eq!(m.plaintext, PlaintextVerdict::NoTls);
    let rec = b.probe("sql-plain", "anonymous", Some(account())).await;
    let m = rec.mysql.as_ref().unwrap();
    assert_eq!(m.plaintext_login.as_ref().unwrap().result, LoginResult::Ok);
}

#[tokio::test]
async fn probing_a_tls_port_as_mysql_says_it_is_not_mysql() {
    let b = bench().await;
    let mut spec = b.spec("pd-1", None);
    spec.timeouts = tlsaudit_engine::probe::Timeouts::uniform(Duration::from_millis(300));
    let rec = probe(&spec, &b.caller("tidb"), &b.trust).await;
    assert_eq!(
        rec.outcome.class,
        OutcomeClass::Timeout,
        "{:#?}",
        rec.outcome
    );
    assert!(rec.outcome.summary.contains("no MySQL greeting"));
    assert!(rec.mysql.is_none());
}

fn inventory(b: &Bench) -> Inventory {
    Inventory::load(&b.inventory).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_judges_sql_ports_and_the_report_validates() {
    let b = bench().await;
    let inv = inventory(&b);
    let roles: Vec<(&str, &str)> = inv
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e.role.as_str()))
        .collect();
    assert!(roles.contains(&("sql-strict", "sql")), "{roles:?}");
    let auditor = Auditor::new(Plan::new(inv).unwrap());
    let snap = auditor.run_round(None).await;
    let e = |n: &str| snap.endpoint_names.iter().position(|x| x == n).unwrap();
    let i = |n: &str| snap.identity_names.iter().position(|x| x == n).unwrap();
    let v = |id: &str, ep: &str| {
        snap.cell(IdentityId(i(id)), EndpointId(e(ep)))
            .verdict
            .unwrap()
    };
    assert_eq!(v("tidb", "sql-strict"), Verdict::Secure);
    assert_eq!(v("anonymous", "sql-strict"), Verdict::Secure);
    assert_eq!(v("foreign", "sql-strict"), Verdict::Enforced);
    // Without a client CA the foreign certificate is never asked for: not a finding.
    assert_eq!(v("foreign", "sql-noca"), Verdict::Secure);
    assert_eq!(v("tidb", "sql-plain"), Verdict::Unencrypted);
    let codes: Vec<(&str, Option<&str>)> = snap
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.endpoint.as_deref()))
        .collect();
    // TLS not offered where the cluster's own links use TLS: critical.
    let f = snap
        .findings
        .iter()
        .find(|f| f.code.as_str() == "SQL_TLS_NOT_OFFERED")
        .unwrap();
    assert_eq!(f.endpoint.as_deref(), Some("sql-plain"));
    assert_eq!(f.severity, tlsaudit_engine::audit::Severity::Critical);
    assert!(f.fix.contains("ssl-cert"), "{}", f.fix);
    assert!(
        codes.contains(&("SQL_PLAINTEXT_UNKNOWN", Some("sql-lax"))),
        "{codes:?}"
    );
    assert!(!codes
        .iter()
        .any(|(c, _)| *c == "PLAINTEXT_ENDPOINT" || *c == "PARTIAL_TLS"));
    assert!(
        !codes.iter().any(|(_, e)| *e == Some("sql-strict")),
        "{codes:?}"
    );

    // With the audit account, "unknown" becomes "accepted".
    let mut inv = inventory(&b);
    inv.options.mysql_account = Some(account());
    let auditor = Auditor::new(Plan::new(inv).unwrap());
    let snap = auditor.run_round(None).await;
    let f = snap
        .findings
        .iter()
        .find(|f| f.code.as_str() == "SQL_PLAINTEXT_ACCEPTED")
        .unwrap();
    assert_eq!(f.endpoint.as_deref(), Some("sql-lax"));
    assert!(f.fix.contains("require-secure-transport"), "{}", f.fix);
    assert!(!snap
        .findings
        .iter()
        .any(|f| f.code.as_str() == "SQL_PLAINTEXT_UNKNOWN"));

    // The JSON report carries the SQL ports and validates against the published schema.
    let json = tlsaudit_report::Report::build(&auditor.plan(), &snap)
        .to_json()
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/report.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let ep = value["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "sql-strict")
        .unwrap();
    assert_eq!(ep["protocol"], "mysql");
    assert_eq!(ep["role"], "sql");
    assert!(json.contains("\"plaintext\": \"refused\""));
    assert!(!json.contains(PASSWORD));

    // The table shows them.
    let table = tlsaudit_report::table::render(
        &tlsaudit_report::Doc::audit(&auditor.plan(), &snap),
        tlsaudit_report::text::Style::plain(),
        tlsaudit_report::table::DEFAULT_WIDTH,
    );
    assert!(table.contains("TiDB sql"), "{table}");
    assert!(!table.contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_knows_sql_ports() {
    let b = bench().await;
    let request = |target: &str, account: Option<MysqlAccount>| Request {
        target: target.to_string(),
        config: Some(b.inventory.clone()),
        as_identity: Some("tidb".into()),
        timeout: Some(Duration::from_secs(3)),
        mysql_account: account,
        ..Request::default()
    };
    let d = diagnose::diagnose(&request("sql-plain", None).resolve().unwrap()).await;
    assert_eq!(d.causes(), [Cause::SqlTlsNotOffered], "{:#?}", d.verdict);
    let f = d.finding(Cause::SqlTlsNotOffered).unwrap();
    assert_eq!(f.config.as_ref().unwrap().file, "tidb.toml");
    assert!(f.config.as_ref().unwrap().key.contains("ssl-cert"));

    let d = diagnose::diagnose(&request("sql-lax", Some(account())).resolve().unwrap()).await;
    assert!(d.verdict.works, "{:#?}", d.verdict);
    let step = d
        .steps
        .iter()
        .find(|s| s.title.starts_with("SQL logins"))
        .unwrap();
    assert_eq!(step.status, StepStatus::Warn);
    assert!(
        d.verdict
            .notes
            .iter()
            .any(|n| n.contains("ACCEPTS plaintext")),
        "{:#?}",
        d.verdict
    );
    // No ALPN variants for MySQL; the variants do not repeat the plaintext login.
    assert!(!d.variants.iter().any(|v| v.id.is_alpn()));
    assert!(d
        .variants
        .iter()
        .all(|v| v.record.mysql.as_ref().unwrap().plaintext == PlaintextVerdict::NotTested));

    // By port number: 4000 is TiDB's SQL port.
    assert_eq!(
        diagnose::guess_component(4000),
        Some((
            tlsaudit_engine::profile::Component::Tidb,
            tlsaudit_engine::profile::Role::TidbSql
        ))
    );
    assert_eq!(
        diagnose::guess_component(6000),
        Some((
            tlsaudit_engine::profile::Component::Tiproxy,
            tlsaudit_engine::profile::Role::TiproxySql
        ))
    );
}

// ---- The password never shows: every output of the binary, and the logs ----

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
}

fn run(args: &[&str], env_password: bool, file: Option<&Path>) -> Output {
    let mut cmd = bin();
    cmd.args(args).env("NO_COLOR", "1").env("RUST_LOG", "trace");
    if let Some(f) = file {
        cmd.arg("--mysql-password-file").arg(f);
    }
    if env_password {
        cmd.env("TLSAUDIT_MYSQL_PASSWORD", PASSWORD);
    } else {
        cmd.env_remove("TLSAUDIT_MYSQL_PASSWORD");
    }
    // Off the runtime's worker: the lab serves the binary from the other tasks.
    let out = tokio::task::block_in_place(|| cmd.stdin(Stdio::null()).output().unwrap());
    // The password is never an argument.
    assert!(!args.iter().any(|a| a.contains(PASSWORD)));
    out
}

fn assert_clean(what: &str, out: &Output) {
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(PASSWORD),
            "{what}: the password is in {name}:\n{text}"
        );
        // Nor a part of it.
        assert!(!text.contains("never-shown"), "{what}: {name}");
    }
}

/// A tracing subscriber that keeps every event, at every level, in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[allow(clippy::too_many_lines)] // every command, every output
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_appears_in_no_output_no_log_and_no_error() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    // Global: the lab's tasks log from every worker thread. Only this test installs one.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let b = bench().await;
    let dir = tempfile::tempdir().unwrap();
    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, format!("{PASSWORD}\n")).unwrap();
    let ca = b.lab.pki().ca_cert.display().to_string();
    let config = b.inventory.display().to_string();
    let strict = b.lab.endpoint("sql-strict").unwrap().addr.to_string();
    let lax = b.lab.endpoint("sql-lax").unwrap().addr.to_string();
    let user = ["--mysql-user", USER];

    let mut outputs = Vec::new();
    for addr in [&strict, &lax] {
        for format in ["text", "json"] {
            let args = [
                &[
                    "probe",
                    addr.as_str(),
                    "--ca",
                    &ca,
                    "--protocol",
                    "mysql",
                    "--format",
                    format,
                ][..],
                &user[..],
            ]
            .concat();
            outputs.push((
                format!("probe {addr} {format} (env)"),
                run(&args, true, None),
            ));
            outputs.push((
                format!("probe {addr} {format} (file)"),
                run(&args, false, Some(&pw_file)),
            ));
        }
    }
    let out = run(
        &[
            &[
                "probe",
                lax.as_str(),
                "--ca",
                &ca,
                "--protocol",
                "mysql",
                "--format",
                "json",
            ][..],
            &user[..],
        ]
        .concat(),
        true,
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mysql"]["plaintext"], "accepted", "{v:#}");
    assert_eq!(v["mysql"]["account"], "audit");
    for format in ["json", "table"] {
        let args = [
            &["report", "--config", &config, "--format", format][..],
            &user[..],
        ]
        .concat();
        outputs.push((format!("report {format}"), run(&args, true, None)));
    }
    let report = outputs.last().unwrap().1.stdout.clone();
    assert!(String::from_utf8_lossy(&report).contains("SQL_PLAINTEXT_ACCEPTED"));
    for format in ["text", "json"] {
        let args = [
            &[
                "diagnose", "sql-lax", "--config", &config, "--format", format,
            ][..],
            &user[..],
        ]
        .concat();
        outputs.push((format!("diagnose {format}"), run(&args, true, None)));
    }
    // Errors: a missing password, an unreadable file; a password flag does not exist.
    let out = run(
        &[
            &["probe", lax.as_str(), "--ca", &ca, "--protocol", "mysql"][..],
            &user[..],
        ]
        .concat(),
        false,
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLSAUDIT_MYSQL_PASSWORD"));
    outputs.push(("no password".into(), out));
    let out = run(
        &[
            &["probe", lax.as_str(), "--ca", &ca, "--protocol", "mysql"][..],
            &user[..],
        ]
        .concat(),
        false,
        Some(&dir.path().join("missing")),
    );
    assert_eq!(out.status.code(), Some(2));
    outputs.push(("missing file".into(), out));
    let out = run(
        &["probe", lax.as_str(), "--ca", &ca, "--mysql-password", "x"],
        false,
        None,
    );
    assert_eq!(out.status.code(), Some(2), "no --mysql-password flag");
    for (what, out) in &outputs {
        assert_clean(what, out);
    }
    assert!(outputs.len() >= 14);

    // In process: the records, the specs' Debug, the lab's connection log and every trace event.
    let rec = b.probe("sql-lax", "tidb", Some(account())).await;
    let spec = b.spec("sql-lax", Some(account()));
    let texts = [
        serde_json::to_string(&rec).unwrap(),
        format!("{rec:?}"),
        format!("{spec:?}"),
        format!("{:?}", b.lab.events("sql-lax")),
        format!("{:?}", Inventory::load(&b.inventory).unwrap()),
    ];
    for t in &texts {
        assert!(!t.contains(PASSWORD), "{t}");
    }
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("lab connection"), "the logs were captured");
    assert!(!logs.contains(PASSWORD), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_sql_ports() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use tlsaudit::tui::{self, App, Catalog};

    let b = bench().await;
    let auditor = Auditor::new(Plan::new(inventory(&b)).unwrap());
    auditor.run_round(None).await;
    let mut app = App::new(
        Catalog::from_plan(&auditor.plan()),
        auditor.snapshot(),
        false,
    );
    let screen = |app: &mut App| {
        let mut terminal = Terminal::new(TestBackend::new(140, 60)).unwrap();
        terminal.draw(|f| tui::draw(f, app)).unwrap();
        terminal.backend().to_string()
    };
    let s = screen(&mut app);
    for name in ["sql-strict", "sql-lax", "sql-plain"] {
        assert!(s.contains(name), "{name} in the matrix:\n{s}");
    }
    app.sel_identity = app
        .catalog
        .identities
        .iter()
        .position(|i| i.name == "tidb")
        .unwrap();
    app.sel_endpoint = app
        .catalog
        .endpoints
        .iter()
        .position(|e| e.name == "sql-strict")
        .unwrap();
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let s = screen(&mut app);
    assert!(s.contains("TiDB sql"), "{s}");
    assert!(s.contains("TLS offered (CLIENT_SSL)"), "{s}");
    assert!(s.contains("plaintext refused"), "{s}");
    assert!(s.contains("3159"), "{s}");
    app.sel_endpoint = app
        .catalog
        .endpoints
        .iter()
        .position(|e| e.name == "sql-plain")
        .unwrap();
    let s = screen(&mut app);
    assert!(s.contains("TLS NOT offered"), "{s}");
    assert!(s.contains("SQL_TLS_NOT_OFFERED"), "{s}");
}
