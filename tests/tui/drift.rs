//! Rotation drift end to end: a lab TiKV serving a certificate from files, an inventory naming
//! those files (`cert_file`, `ca_file`), and `tlsaudit report --format json` after each step of
//! a rotation: in sync; the file replaced without a reload; reloaded; the CA file replaced.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use tlsaudit_engine::pki::mint::Ca;
use tlsaudit_lab::{EndpointSpec, Lab, LabSpec};
use tlsaudit_testkit::cli;

/// A server certificate of `ca` for 127.0.0.1, written as `tikv.crt` / `tikv.pem` in `dir`.
fn write_server_cert(ca: &Ca, dir: &Path, days: i64) -> (PathBuf, PathBuf) {
    let issued = ca
        .issue(
            "tikv",
            &["127.0.0.1".to_string(), "localhost".to_string()],
            true,
            days,
        )
        .unwrap();
    let (cert, key) = (dir.join("tikv.crt"), dir.join("tikv.pem"));
    std::fs::write(&cert, issued.cert_pem).unwrap();
    std::fs::write(&key, issued.key_pem).unwrap();
    (cert, key)
}

/// The inventory: the lab's CA for callers, the tidb identity (and `extra`), one TiKV endpoint
/// whose files are `tikv.crt` and `ca.crt` beside the inventory.
fn write_inventory(lab: &Lab, dir: &Path, extra: &str) -> PathBuf {
    let pki = lab.pki();
    let tidb = &pki.identities["tidb"];
    let text = format!(
        "[cluster]\nname = \"drift\"\nca = {:?}\n\n[probe]\nunlisted = false\n\n\
         [identities.tidb]\ncert = {:?}\nkey = {:?}\n{extra}\n\
         [[endpoints]]\nname = \"tikv-1\"\ncomponent = \"tikv\"\nrole = \"grpc\"\naddress = \"{}\"\n\
         allowed_cn = [\"tidb\"]\ncert_file = \"tikv.crt\"\nca_file = \"ca.crt\"\n",
        pki.ca_cert.display().to_string(),
        tidb.cert.display().to_string(),
        tidb.key.display().to_string(),
        lab.endpoint("tikv-1").unwrap().addr,
    );
    let path = dir.join("tlsaudit.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `tlsaudit report --config INV --format json`: exit code and the report.
async fn report(inv: &Path) -> (i32, Value) {
    let inv = inv.display().to_string();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || cli(&["report", "--config", &inv, "--format", "json"]))
            .await
            .unwrap();
    assert!(code == 0 || code == 1, "{code}: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let errors = tlsaudit_testkit::report_schema_errors(&v);
    assert!(errors.is_empty(), "{errors:#?}");
    (code, v)
}

/// The findings of `code` in a report.
fn findings<'a>(v: &'a Value, code: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .collect()
}

fn no_drift_finding(v: &Value) {
    assert!(findings(v, "CERT_NOT_RELOADED").is_empty(), "{v:#}");
    assert!(findings(v, "CA_RESTART_REQUIRED").is_empty(), "{v:#}");
}

/// The table of the round (through the binary) lists the drift after the findings, and a saved
/// report `v` read back with `report --from` keeps it.
async fn table_and_saved_report_show_it(inv: &Path, v: &Value, dir: &Path) {
    // The table says it after the findings.
    let args = inv.display().to_string();
    let (_, table, err) = tokio::task::spawn_blocking(move || {
        cli(&["report", "--config", &args, "--format", "table"])
    })
    .await
    .unwrap();
    let at = table
        .find("rotation drift (1 endpoints):")
        .unwrap_or_else(|| panic!("{table}{err}"));
    let section = &table[at..];
    assert!(section.contains("tikv-1:"), "{section}");
    assert!(section.contains("NOT RELOADED"), "{section}");
    assert!(section.contains("days left"), "{section}");
    // A saved report read back keeps it.
    let saved = dir.join("saved.json");
    std::fs::write(&saved, serde_json::to_string(&v).unwrap()).unwrap();
    let saved = saved.display().to_string();
    let from = saved.clone();
    let (code, table, err) =
        tokio::task::spawn_blocking(move || cli(&["report", "--from", &from, "--format", "table"]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(table.contains("rotation drift (1 endpoints):"), "{table}");
    assert!(table.contains("NOT RELOADED"), "{table}");
    // The shared HTML report has the same section.
    let (code, html, err) =
        tokio::task::spawn_blocking(move || cli(&["report", "--from", &saved, "--format", "html"]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{err}");
    let at = html
        .find("<section id=\"drift\"><h2>Rotation drift (1)</h2>")
        .unwrap_or_else(|| panic!("{html}"));
    let section = &html[at..at + html[at..].find("</section>").unwrap()];
    assert!(section.contains("<code>tikv-1</code>"), "{section}");
    assert!(section.contains("NOT RELOADED"), "{section}");
}

/// A lab TiKV serving a certificate of the lab's CA from `tikv.crt` / `tikv.pem` in `dir`, with
/// `ca.crt` beside them and the inventory naming both.
struct FileLab {
    lab: Lab,
    ca: Ca,
    cert: PathBuf,
    /// The endpoint serving the files (reconfigure with it to reload them).
    spec: EndpointSpec,
    inv: PathBuf,
}

impl FileLab {
    async fn start(dir: &Path) -> FileLab {
        let mut lab =
            Lab::start(LabSpec::new("drift").with(EndpointSpec::tikv_grpc("tikv-1", &[])))
                .await
                .unwrap();
        let pki = lab.pki().clone();
        let ca = Ca::load(&pki.ca_cert, &pki.ca_key).unwrap();
        let (cert, key) = write_server_cert(&ca, dir, 30);
        std::fs::copy(&pki.ca_cert, dir.join("ca.crt")).unwrap();
        let spec = EndpointSpec::tikv_grpc("tikv-1", &["tidb"]).with_server_files(&cert, &key);
        lab.reconfigure(spec.clone()).unwrap();
        let inv = write_inventory(&lab, dir, "");
        FileLab {
            lab,
            ca,
            cert,
            spec,
            inv,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_seen_through_the_files_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    // The lab's CA issues the server's certificate; the lab serves it from the files.
    let FileLab {
        mut lab,
        ca,
        cert,
        spec,
        inv,
    } = FileLab::start(dir.path()).await;

    // (a) The server serves the file: no finding; the drift object says so.
    let (code, v) = report(&inv).await;
    assert_eq!(code, 0, "{v:#}");
    no_drift_finding(&v);
    let drift = &v["endpoints"][0]["drift"];
    assert_eq!(drift["cert"], "in_sync", "{drift:#}");
    assert_eq!(drift["ca"], "current", "{drift:#}");
    assert_eq!(drift["cert_file"], cert.display().to_string());
    assert!(
        matches!(drift["days_left"].as_i64(), Some(29 | 30)),
        "{drift:#}"
    );
    let served = drift["served"]["sha256"].clone();
    assert_eq!(served, drift["file"]["sha256"]);

    // (b) A reissued certificate replaces the file, the server is not reloaded.
    write_server_cert(&ca, dir.path(), 90);
    let (code, v) = report(&inv).await;
    assert_eq!(code, 0, "a warning: {v:#}");
    let f = findings(&v, "CERT_NOT_RELOADED");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(f[0]["endpoint"], "tikv-1");
    let title = f[0]["title"].as_str().unwrap();
    assert!(title.contains(&cert.display().to_string()), "{title}");
    assert!(
        f[0]["fix"].as_str().unwrap().contains("cert-path"),
        "{:#}",
        f[0]
    );
    let drift = &v["endpoints"][0]["drift"];
    assert_eq!(drift["cert"], "not_reloaded", "{drift:#}");
    assert_eq!(drift["served"]["sha256"], served, "still the old one");
    assert_ne!(drift["file"]["sha256"], served);
    table_and_saved_report_show_it(&inv, &v, dir.path()).await;

    // (c) The server reloads its files: nothing drifts any more.
    lab.reconfigure(spec).unwrap();
    let (code, v) = report(&inv).await;
    assert_eq!(code, 0, "{v:#}");
    no_drift_finding(&v);
    let drift = &v["endpoints"][0]["drift"];
    assert_eq!(drift["cert"], "in_sync", "{drift:#}");
    assert_ne!(drift["served"]["sha256"], served, "the reissued one");
    assert!(
        matches!(drift["days_left"].as_i64(), Some(89 | 90)),
        "{drift:#}"
    );

    // (d) A new CA replaces the CA file; the server keeps verifying against the old one.
    let new_ca = Ca::generate("drift", 1).unwrap();
    std::fs::write(dir.path().join("ca.crt"), &new_ca.pem).unwrap();
    let (code, v) = report(&inv).await;
    assert_eq!(
        code, 0,
        "a warning while no caller of the new CA is refused: {v:#}"
    );
    let f = findings(&v, "CA_RESTART_REQUIRED");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["severity"], "warning");
    assert!(
        f[0]["fix"].as_str().unwrap().contains("restart tikv-1"),
        "{:#}",
        f[0]
    );
    assert_eq!(v["endpoints"][0]["drift"]["ca"], "restart_required");

    // A caller issued by the new CA is refused by the server: the outage is here, critical.
    let issued = new_ca.identity_files("tidb", dir.path());
    let extra = format!(
        "[identities.tidb-new]\ncert = {:?}\nkey = {:?}\ncomponent = \"tidb\"\n",
        issued.0.display().to_string(),
        issued.1.display().to_string()
    );
    let inv = write_inventory(&lab, dir.path(), &extra);
    let (code, v) = report(&inv).await;
    assert_eq!(code, 1, "{v:#}");
    let f = findings(&v, "CA_RESTART_REQUIRED");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["severity"], "critical");
    assert!(
        f[0]["evidence"].as_str().unwrap().contains("tidb-new"),
        "{:#}",
        f[0]
    );
    assert_eq!(v["endpoints"][0]["drift"]["refused"][0], "tidb-new");
    lab.stop().await;
}

/// Issue a client certificate (CN `cn`) and write it beside the inventory.
trait IdentityFiles {
    fn identity_files(&self, cn: &str, dir: &Path) -> (PathBuf, PathBuf);
}

impl IdentityFiles for Ca {
    fn identity_files(&self, cn: &str, dir: &Path) -> (PathBuf, PathBuf) {
        let issued = self.issue(cn, &[], false, 30).unwrap();
        let (cert, key) = (dir.join("new-client.crt"), dir.join("new-client.pem"));
        std::fs::write(&cert, issued.cert_pem).unwrap();
        tlsaudit_testkit::pki::write_key(&key, &issued.key_pem);
        (cert, key)
    }
}

/// The dashboard's detail of a cell of an endpoint whose certificate file was replaced and not
/// reloaded, and whose CA file holds another CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_detail_shows_the_drift() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::sync::Arc;
    use tlsaudit::tui::{self, App, Catalog};
    use tlsaudit_engine::audit::{Auditor, Plan};
    use tlsaudit_engine::inventory::Inventory;

    // Under /tmp itself, so that the paths the screen shows (and where its lines wrap) have
    // the same length wherever the test runs.
    let dir = tempfile::Builder::new()
        .prefix("drift")
        .tempdir_in("/tmp")
        .unwrap();
    let lab = Lab::start(LabSpec::new("drift").with(EndpointSpec::tikv_grpc("tikv-1", &[])))
        .await
        .unwrap();
    let pki = lab.pki().clone();
    let ca = Ca::load(&pki.ca_cert, &pki.ca_key).unwrap();
    let (cert, key) = full_serial_cert(&ca, dir.path(), 60);
    let mut lab = lab;
    lab.reconfigure(EndpointSpec::tikv_grpc("tikv-1", &["tidb"]).with_server_files(&cert, &key))
        .unwrap();
    full_serial_cert(&ca, dir.path(), 90);
    std::fs::write(
        dir.path().join("ca.crt"),
        Ca::generate("drift", 1).unwrap().pem,
    )
    .unwrap();
    let inv = Inventory::load(&write_inventory(&lab, dir.path(), "")).unwrap();
    let auditor = Arc::new(Auditor::new(Plan::new(inv).unwrap()));
    auditor.run_round(None).await;
    let mut app = App::new(
        Catalog::from_plan(&auditor.plan()),
        auditor.snapshot(),
        false,
    );
    app.layout = tui::Layout::ByIdentity;
    app.sel_identity = app
        .catalog
        .identities
        .iter()
        .position(|i| i.name == "tidb")
        .unwrap();
    app.sel_endpoint = 0;
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let mut terminal = Terminal::new(TestBackend::new(120, 56)).unwrap();
    terminal.draw(|f| tui::draw(f, &mut app)).unwrap();
    let s = terminal.backend().to_string();
    assert!(s.contains("Drift"), "{s}");
    assert!(s.contains("NOT RELOADED"), "{s}");
    assert!(s.contains("RESTART REQUIRED"), "{s}");
    let filters: Vec<(String, &str)> = vec![
        (regex_escape(&dir.path().display().to_string()), "[dir]"),
        (r"127\.0\.0\.1:\d+".into(), "127.0.0.1:[port]"),
        (r"([0-9a-f]{2}:){3,}[0-9a-f]{2}".into(), "[serial]"),
        (
            r"(connect|handshake|check|total) +(\d+\.\d+|-)".into(),
            "$1 [t]",
        ),
        (
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z".into(),
            "[date]",
        ),
        (r"\d{4}-\d{2}-\d{2}".into(), "[day]"),
        (r"\d{2}:\d{2}:\d{2}".into(), "[time]"),
        (r"[0-9a-f]{64}".into(), "[sha256]"),
        (r"[0-9a-f]{16}".into(), "[sha16]"),
        (r"\b(59|60) days".into(), "[n] days"),
    ];
    let filters: Vec<(&str, &str)> = filters.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    insta::with_settings!({ filters => filters, prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("drift_detail_120x56", s);
    });
    lab.stop().await;
}

/// [`write_server_cert`], reissued until the serial has all its 20 bytes (rcgen's serial is
/// one byte shorter when it starts with a zero): the screen's lines then wrap the same way.
fn full_serial_cert(ca: &Ca, dir: &Path, days: i64) -> (PathBuf, PathBuf) {
    loop {
        let (cert, key) = write_server_cert(ca, dir, days);
        let pem = std::fs::read_to_string(&cert).unwrap();
        let der = tlsaudit_engine::pki::load::certs_from_pem(
            &pem,
            &cert,
            tlsaudit_engine::pki::CertRole::Leaf,
        )
        .unwrap();
        let serial = tlsaudit_engine::pki::summarize(der[0].as_ref())
            .unwrap()
            .serial;
        if serial.len() == 59 {
            return (cert, key);
        }
    }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// The value of `name`'s series for tikv-1 in a `/metrics` body, if it is there.
fn series(body: &str, name: &str) -> Option<String> {
    body.lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains("endpoint=\"tikv-1\""))
        .and_then(|l| l.rsplit(' ').next())
        .map(str::to_string)
}

/// Scrapes `/metrics` until `name` for tikv-1 reads `want` (rounds run every 200 ms); fails
/// with the last value after 60 s.
async fn until_series(addr: &str, name: &str, want: Option<&str>) {
    let what = format!("{name} to read {want:?}");
    let within = std::time::Duration::from_secs(60);
    let every = std::time::Duration::from_millis(100);
    tlsaudit_testkit::eventually_async(&what, within, every, || async move {
        let (_, _, body) = tlsaudit_testkit::serve::get(addr, "/metrics", None).await;
        let got = series(&body, name);
        if got.as_deref() == want {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exporter_shows_the_drift() {
    let dir = tempfile::tempdir().unwrap();
    let FileLab {
        mut lab,
        ca,
        spec,
        inv,
        ..
    } = FileLab::start(dir.path()).await;
    let inv = inv.display().to_string();
    let serve = tlsaudit_testkit::serve::serve(&["--config", &inv, "--interval", "200ms"]);
    let (nr, ca_rr) = (
        "tlsaudit_server_cert_not_reloaded",
        "tlsaudit_server_ca_restart_required",
    );

    // In sync: both series are there, at 0.
    until_series(&serve.addr, nr, Some("0")).await;
    until_series(&serve.addr, ca_rr, Some("0")).await;
    // The certificate file replaced, the server not reloaded.
    write_server_cert(&ca, dir.path(), 90);
    until_series(&serve.addr, nr, Some("1")).await;
    // Reloaded.
    lab.reconfigure(spec).unwrap();
    until_series(&serve.addr, nr, Some("0")).await;
    // A new CA in the CA file; the server still runs with the old one.
    let new_ca = Ca::generate("drift", 1).unwrap();
    std::fs::write(dir.path().join("ca.crt"), &new_ca.pem).unwrap();
    until_series(&serve.addr, ca_rr, Some("1")).await;
    // The CA file unreadable: not compared, so no series (rather than a stale 0 or 1).
    std::fs::remove_file(dir.path().join("ca.crt")).unwrap();
    until_series(&serve.addr, ca_rr, None).await;
    drop(serve);
    lab.stop().await;
}
