//! How a planted scenario is run and judged: its lab started, its inventory or TiUP topology
//! written (templates filled with the lab's paths and ports), then every face asked about the
//! same cell (the report model, `diagnose`, the dashboard model, `fix`), and their answers
//! compared with the scenario's expectation and with each other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use serde_json::Value;
use tlsaudit::tui::{self, App, Catalog, View};
use tlsaudit_engine::audit::{Auditor, Plan, Severity, Verdict};
use tlsaudit_engine::diagnose::{self, Diagnosis, Request};
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_engine::pki::mint::Ca;
use tlsaudit_lab::{Lab, LabSpec};

/// What a scenario is described by.
pub enum Input {
    /// A `tlsaudit.toml` (template).
    Inventory(String),
    /// A TiUP `prod.yaml` (template), read with the lab's TLS folder.
    Topology(String),
}

/// The finding a scenario must raise first (most severe, then by code, endpoint, identity).
pub struct Top {
    pub code: &'static str,
    pub severity: Severity,
    /// Endpoint name (template: topology names carry ports).
    pub endpoint: Option<&'static str>,
    pub identity: Option<&'static str>,
}

/// One planted scenario.
pub struct Scenario {
    /// What is planted, in one line (docs/judgment.md lists them).
    pub planted: &'static str,
    pub lab: LabSpec,
    /// Extra identities issued by the lab's CA before the inputs are written: (file name, CN).
    pub issue: &'static [(&'static str, &'static str)],
    pub input: Input,
    pub top: Top,
    /// The cell every face is asked about: (identity, endpoint template), and its verdict.
    pub cell: (&'static str, &'static str, Verdict),
    /// Other cells whose verdict the report and the dashboard must agree on.
    pub also: &'static [(&'static str, &'static str, Verdict)],
    /// Strings the top finding's title must contain.
    pub title_has: &'static [&'static str],
    /// Strings the fix must contain: the top finding's fix or `fix`'s output (templates).
    pub fix_has: &'static [&'static str],
    /// Strings no fix may propose: findings' fixes, diagnose's advice, `fix`'s edits.
    pub forbidden: &'static [&'static str],
    /// Strings `fix`'s whole output must not contain.
    pub fix_lacks: &'static [&'static str],
    /// Finding codes that must not be raised.
    pub absent: &'static [&'static str],
}

/// Defaults for the optional parts of a scenario.
pub const NONE: &[&str] = &[];

/// A running scenario: its lab, folder and filled templates.
struct Bench {
    lab: Lab,
    dir: tempfile::TempDir,
    issued: BTreeMap<String, (PathBuf, PathBuf)>,
    tls: Option<PathBuf>,
}

impl Bench {
    /// The template with `{ca}`, `{ca_key}`, `{tls}`, `{cert:NAME}`, `{key:NAME}`,
    /// `{addr:EP}`, `{port:EP}` and `{closed}` filled in.
    fn fill(&self, template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let tail = &rest[start..];
            let end = tail.find('}').map(|e| e + 1);
            let token = end.map(|e| &tail[1..e - 1]);
            match token.and_then(|t| self.value(t)) {
                Some(v) => {
                    out.push_str(&v);
                    rest = &tail[end.unwrap_or(1)..];
                }
                None => {
                    out.push('{');
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn value(&self, token: &str) -> Option<String> {
        let pki = self.lab.pki();
        let path = |p: &Path| p.display().to_string();
        match token.split_once(':') {
            None => match token {
                "ca" => Some(path(&pki.ca_cert)),
                "ca_key" => Some(path(&pki.ca_key)),
                "tls" => self.tls.as_deref().map(path),
                "closed" => Some(format!("127.0.0.1:{}", tlsaudit_testkit::free_port())),
                _ => None,
            },
            Some((kind, name)) => {
                let files = || {
                    self.issued.get(name).cloned().or_else(|| {
                        let f = pki.identities.get(name)?;
                        Some((f.cert.clone(), f.key.clone()))
                    })
                };
                match kind {
                    "cert" => files().map(|f| path(&f.0)),
                    "key" => files().map(|f| path(&f.1)),
                    "addr" => Some(self.lab.endpoint(name)?.addr.to_string()),
                    "port" => Some(self.lab.endpoint(name)?.addr.port().to_string()),
                    _ => None,
                }
            }
        }
    }
}

/// What the faces answered.
pub struct Faces {
    /// The report model, as JSON (`report --format json`).
    pub report: Value,
    pub diagnosis: Diagnosis,
    /// The dashboard's verdict of the cell, and its detail screen.
    pub dashboard: (Option<Verdict>, String),
    /// `fix`'s output.
    pub fix: String,
    /// Whether the input was a topology.
    pub topology: bool,
    /// CNs of the outsiders (anonymous, foreign, unlisted, `expect = "refuse"`) that no
    /// identity of the cluster shares.
    pub outsider_cns: Vec<String>,
}

/// Start the lab, write the inputs, and return the inventory the faces read.
async fn prepare(
    s: &Scenario,
) -> (
    Bench,
    Inventory,
    Vec<tlsaudit_engine::audit::Finding>,
    PathBuf,
) {
    let lab = Lab::start(s.lab.clone()).await.expect("lab starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut bench = Bench {
        lab,
        dir,
        issued: BTreeMap::new(),
        tls: None,
    };
    if !s.issue.is_empty() {
        let pki = bench.lab.pki();
        let ca = Ca::load(&pki.ca_cert, &pki.ca_key).expect("lab CA");
        for (name, cn) in s.issue {
            let leaf = ca.issue(cn, &[], false, 365).expect("issue");
            let cert = bench.dir.path().join(format!("{name}.crt"));
            let key = bench.dir.path().join(format!("{name}.key"));
            std::fs::write(&cert, leaf.cert_pem).expect("write");
            tlsaudit_testkit::pki::write_key(&key, &leaf.key_pem);
            bench.issued.insert((*name).to_string(), (cert, key));
        }
    }
    match &s.input {
        Input::Inventory(t) => {
            let path = bench.dir.path().join("tlsaudit.toml");
            std::fs::write(&path, bench.fill(t)).expect("write inventory");
            let inv = Inventory::load(&path).expect("inventory loads");
            (bench, inv, Vec::new(), path)
        }
        Input::Topology(t) => {
            bench.tls = Some(tlsaudit_testkit::tls_from_lab(&bench.lab, bench.dir.path()));
            let path = bench.dir.path().join("prod.yaml");
            std::fs::write(&path, bench.fill(t)).expect("write topology");
            let flags = tlsaudit::cli::input::TidbInputFlags {
                topology: Some(path.clone()),
                tls_dir: bench.tls.clone(),
                expiry_days: 30,
                ..Default::default()
            };
            let (inv, lint) =
                tlsaudit::cli::input::load_tidb_inventory(&flags).expect("topology loads");
            (bench, inv, lint, path)
        }
    }
}

/// Run the scenario through every face and check them.
pub async fn check(s: Scenario) {
    let (bench, inv, lint, input) = prepare(&s).await;
    let (ident, ep_t, _) = s.cell;
    let ep = bench.fill(ep_t);
    let mut plan = Plan::new(inv.clone()).expect("plan");
    plan.static_findings = lint;
    let auditor = Arc::new(Auditor::new(plan));
    let snap = auditor.run_round(None).await;
    let report = tlsaudit_report::Report::build(&auditor.plan(), &snap);
    let json = tlsaudit_report::render(
        &report,
        tlsaudit_report::Format::Json,
        &tlsaudit_report::Options::default(),
    )
    .expect("json");
    let report_path = bench.dir.path().join("report.json");
    std::fs::write(&report_path, &json).expect("write report");
    let report: Value = serde_json::from_str(&json).expect("report parses");

    // With a topology, the cluster too (where each list is set), as `diagnose --topology` has.
    let tiup = match &s.input {
        Input::Topology(_) => {
            let flags = tlsaudit::cli::input::TidbInputFlags {
                topology: Some(input.clone()),
                tls_dir: bench.tls.clone(),
                expiry_days: 30,
                ..Default::default()
            };
            Some(
                tlsaudit::cli::input::load_tidb(&flags)
                    .expect("topology loads")
                    .0,
            )
        }
        Input::Inventory(_) => None,
    };
    let req = Request {
        target: ep.clone(),
        as_identity: Some(ident.to_string()),
        inventory: Some(inv),
        tiup,
        timeout: Some(Duration::from_secs(1)),
        ..Request::default()
    };
    let diagnosis = diagnose::diagnose(&req.resolve().expect("diagnose inputs")).await;

    let dashboard = dashboard(&auditor, snap.clone(), ident, &ep);
    let topology = matches!(s.input, Input::Topology(_));
    let fix = run_fix(&bench, &input, &report_path, topology).await;
    let outsider_cns = outsider_cns(&auditor.plan());
    let faces = Faces {
        report,
        diagnosis,
        dashboard,
        fix,
        topology,
        outsider_cns,
    };
    judge(&s, &bench, &faces, ident, &ep);
    bench.lab.stop().await;
}

/// The CNs of outsider identities that no identity of the cluster carries too.
fn outsider_cns(plan: &Plan) -> Vec<String> {
    use tlsaudit_engine::audit::Standing;
    let cn = |i: &tlsaudit_engine::audit::AuditIdentity| i.caller.identity.cn().map(str::to_string);
    let ours: Vec<String> = plan
        .identities
        .iter()
        .filter(|i| i.standing() != Standing::Outsider)
        .filter_map(cn)
        .collect();
    plan.identities
        .iter()
        .filter(|i| i.standing() == Standing::Outsider)
        .filter_map(cn)
        .filter(|c| !ours.contains(c))
        .collect()
}

/// The dashboard built from the plan and the snapshot: the cell's verdict, and the detail
/// screen of the cell the findings view jumps to from its first finding.
fn dashboard(
    auditor: &Auditor,
    snap: Arc<tlsaudit_engine::audit::Snapshot>,
    ident: &str,
    ep: &str,
) -> (Option<Verdict>, String) {
    let mut app = App::new(Catalog::from_plan(&auditor.plan()), snap, false);
    app.layout = tui::Layout::ByIdentity;
    let i = app.catalog.identities.iter().position(|x| x.name == ident);
    let e = app.catalog.endpoints.iter().position(|x| x.name == ep);
    let verdict = i.zip(e).and_then(|(i, e)| app.verdict(i, e));
    app.sel_identity = i.expect("the dashboard lists the identity");
    app.sel_endpoint = e.expect("the dashboard lists the endpoint");
    app.view = View::Matrix;
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let mut terminal = Terminal::new(TestBackend::new(220, 90)).expect("terminal");
    terminal.draw(|f| tui::draw(f, &mut app)).expect("draw");
    (verdict, terminal.backend().to_string())
}

/// `tlsaudit fix` over the report: `--topology` with the TLS folder, or `--config`.
async fn run_fix(bench: &Bench, input: &Path, report: &Path, topology: bool) -> String {
    let mut args: Vec<String> = vec!["fix".into()];
    let s = |p: &Path| p.display().to_string();
    if topology {
        args.extend(["--topology".into(), s(input)]);
        if let Some(tls) = &bench.tls {
            args.extend(["--tls-dir".into(), s(tls)]);
        }
    } else {
        args.extend(["--config".into(), s(input)]);
    }
    args.extend(["--from".into(), s(report)]);
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        tlsaudit_testkit::cli(&a)
    })
    .await
    .expect("fix runs");
    assert_eq!(code, 0, "fix failed: {err}\n{out}");
    out
}

/// The lines of `fix`'s output that propose something: added lines of a patch, the fragment's
/// lists, the commands, and the fixes of what it leaves.
fn fix_proposals(fix: &str) -> Vec<&str> {
    fix.lines()
        .filter(|l| {
            let t = l.trim_start();
            (l.starts_with('+') && !l.starts_with("+++"))
                || t.starts_with("fix:")
                || t.starts_with("security.")
                || t.contains("tiup cluster")
                || t.contains(" at 127.0.0.1:")
        })
        .collect()
}

/// The advice of a diagnosis: every cause's fix and config change.
fn advice(d: &Diagnosis) -> Vec<String> {
    let mut out = Vec::new();
    for f in &d.verdict.findings {
        out.extend(f.fix.iter().cloned());
        if let Some(c) = &f.config {
            out.push(serde_json::to_string(c).unwrap_or_default());
        }
    }
    out
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// Every disagreement found, to report them all at once.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }
}

/// The report's findings as one line each, for messages.
fn listing(findings: &[Value]) -> String {
    findings
        .iter()
        .map(|x| {
            format!(
                "{} {} {} {}: {} | fix: {}",
                text(&x["severity"]),
                text(&x["code"]),
                text(&x["endpoint"]),
                text(&x["identity"]),
                text(&x["title"]),
                text(&x["fix"])
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The expected top finding: raised, and first (ties of severity and code are ordered by
/// endpoint names, which carry the lab's random ports).
fn top_finding<'a>(
    s: &Scenario,
    bench: &Bench,
    findings: &'a [Value],
    p: &mut Problems,
) -> Option<&'a Value> {
    let want_ep = s.top.endpoint.map(|e| bench.fill(e));
    let found = findings.iter().find(|x| {
        text(&x["code"]) == s.top.code
            && text(&x["severity"]) == s.top.severity.as_str()
            && x["endpoint"].as_str() == want_ep.as_deref()
            && x["identity"].as_str() == s.top.identity
    });
    let first = findings.first();
    let ties =
        |x: &Value| first.is_some_and(|f| f["code"] == x["code"] && f["severity"] == x["severity"]);
    p.check(found.is_some_and(ties), || {
        format!(
            "report: top finding should be {} {} {:?} {:?}",
            s.top.severity.as_str(),
            s.top.code,
            want_ep,
            s.top.identity
        )
    });
    found
}

/// Compare every face with the scenario and with each other.
fn judge(s: &Scenario, bench: &Bench, f: &Faces, ident: &str, ep: &str) {
    let findings = f.report["findings"].as_array().cloned().unwrap_or_default();
    let all = listing(&findings);
    let mut p = Problems::default();
    // (1) The report: its first finding, the cell's verdict.
    let top = top_finding(s, bench, &findings, &mut p);
    if let Some(top) = top {
        for t in s.title_has {
            let t = bench.fill(t);
            p.check(text(&top["title"]).contains(&t), || {
                format!("report: the top finding's title lacks {t:?}")
            });
        }
    }
    let cell_verdict = |id: &str, ep: &str| -> Option<String> {
        f.report["cells"].as_array()?.iter().find_map(|c| {
            (text(&c["identity"]) == id && text(&c["endpoint"]) == ep)
                .then(|| text(&c["verdict"]).to_string())
        })
    };
    let got = cell_verdict(ident, ep);
    p.check(got.as_deref() == Some(s.cell.2.as_str()), || {
        format!(
            "report: {ident} -> {ep} is {got:?}, should be {}",
            s.cell.2.as_str()
        )
    });
    for (id, e, v) in s.also {
        let e = bench.fill(e);
        let got = cell_verdict(id, &e);
        p.check(got.as_deref() == Some(v.as_str()), || {
            format!("report: {id} -> {e} is {got:?}, should be {}", v.as_str())
        });
    }
    for code in s.absent {
        p.check(findings.iter().all(|x| text(&x["code"]) != *code), || {
            format!("report: {code} raised")
        });
    }
    // (2) diagnose: the same verdict for the cell.
    let d = &f.diagnosis;
    p.check(d.verdict.cell == Some(s.cell.2), || {
        format!(
            "diagnose: {ident} -> {ep} is {:?} ({})",
            d.verdict.cell, d.verdict.headline
        )
    });
    // (3) the dashboard: the same verdict, and the cell's detail shows the top finding's code
    // when it is about this cell or its endpoint.
    let (dv, screen) = &f.dashboard;
    p.check(*dv == Some(s.cell.2), || {
        format!("dashboard: {ident} -> {ep} is {dv:?}")
    });
    if let Some(top) = top {
        let about_cell = top["endpoint"].as_str() == Some(ep)
            && top["identity"].as_str().is_none_or(|i| i == ident);
        let code = text(&top["code"]);
        p.check(!about_cell || screen.contains(code), || {
            format!("dashboard: the detail of {ident} -> {ep} does not show {code}")
        });
    }
    // (4) fix: its target.
    let top_fix = top.map(|t| text(&t["fix"])).unwrap_or_default();
    let fix_text = format!("{top_fix}\n{}", f.fix);
    for want in s.fix_has {
        let want = bench.fill(want);
        p.check(fix_text.contains(&want), || format!("fix: lacks {want:?}"));
    }
    for lack in s.fix_lacks {
        p.check(!f.fix.contains(lack), || format!("fix: says {lack:?}"));
    }
    proposals(s, f, &findings, &mut p);
    universal(&findings, f, &all, &mut p);
    assert!(
        p.0.is_empty(),
        "{}:\n- {}\n\nfindings:\n{all}\n\ndiagnose: {:?}: {}\n\nfix:\n{}",
        s.planted,
        p.0.join("\n- "),
        d.verdict.cell,
        d.verdict.headline,
        f.fix
    );
}

/// Nothing proposes a forbidden string or an outsider's CN: findings' fixes, cells' fixes,
/// diagnose's advice, `fix`'s edits and commands.
fn proposals(s: &Scenario, f: &Faces, findings: &[Value], p: &mut Problems) {
    let mut said: Vec<(&str, String)> = findings
        .iter()
        .map(|x| ("report", text(&x["fix"]).to_string()))
        .collect();
    if let Some(cells) = f.report["cells"].as_array() {
        said.extend(
            cells
                .iter()
                .filter_map(|c| c["fix"].as_str().map(|x| ("report cell", x.to_string()))),
        );
    }
    said.extend(advice(&f.diagnosis).into_iter().map(|x| ("diagnose", x)));
    said.extend(
        fix_proposals(&f.fix)
            .into_iter()
            .map(|x| ("fix", x.to_string())),
    );
    let banned = s
        .forbidden
        .iter()
        .map(|x| (*x).to_string())
        .chain(f.outsider_cns.iter().cloned());
    for word in banned {
        // Naming a typo to replace it is not proposing it.
        let replaced = format!("instead of \"{word}\"");
        for (face, x) in said
            .iter()
            .filter(|(_, x)| x.replace(&replaced, "").contains(&word))
        {
            p.0.push(format!("{face}: proposes {word:?}: {x}"));
        }
    }
}

/// What holds in every scenario: findings are titled by the endpoint's name, never "generic
/// tls"; a topology run never says "the inventory".
fn universal(findings: &[Value], f: &Faces, all: &str, p: &mut Problems) {
    for x in findings {
        let title = text(&x["title"]);
        p.check(!title.contains("generic tls"), || {
            format!("report: {title}")
        });
        if let Some(ep) = x["endpoint"].as_str() {
            p.check(title.contains(ep), || {
                format!("report: title without its endpoint's name: {title}")
            });
        }
    }
    if f.topology {
        let d = serde_json::to_string(&f.diagnosis.verdict).unwrap_or_default();
        for (what, t) in [
            ("report", all),
            ("diagnose", d.as_str()),
            ("fix", f.fix.as_str()),
        ] {
            p.check(!t.contains("the inventory"), || {
                format!("{what}: says \"the inventory\"")
            });
        }
    }
}
