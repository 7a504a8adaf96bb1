//! `tlsaudit scan HOST:PORT`: the TLS hygiene of one endpoint, without an inventory: the
//! versions it accepts, the cipher suites of each (IANA names) and whether it keeps its own
//! order, the groups, the served certificate's key and signature, and the findings with their
//! fixes (named for the component when `--component` says which). Table or JSON; exit 0 when
//! nothing is wrong, 1 on a finding or when the endpoint could not be scanned.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tlsaudit_engine::error::InputError;
use tlsaudit_engine::finding::Finding;
use tlsaudit_engine::probe;
use tlsaudit_engine::probe::limits::{Gate, Pacer};
use tlsaudit_engine::profile::Component;
use tlsaudit_engine::scan::{self, ScanLimits, ScanResult, ScanSpec, Served, VersionScan};

use tlsaudit_report::sanitize::inert;

use crate::cli::input::parse_duration;
use crate::cli::output::{emit, emit_json, TextOrJson};

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// The endpoint, HOST:PORT.
    pub address: String,
    /// How TLS starts on the port.
    #[arg(long, value_enum, default_value = "tls")]
    pub protocol: StartTls,
    /// The component serving the endpoint, for the fixes (pd, tikv, tidb, tiflash, ticdc,
    /// tiproxy, etcd, generic).
    #[arg(long, value_name = "NAME", value_parser = parse_component)]
    pub component: Option<Component>,
    /// Deadline of each connection (connect, hello, answer), e.g. 3s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Deadline of the whole scan.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub deadline: Duration,
    /// Start at most N connections per second (a server in production logs each refused
    /// hello; a scan makes 15 to 80 of them).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: Option<u32>,
    /// The server name to send (SNI), when the address is an IP address; a host name in the
    /// address is sent by default.
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Output format: the table (text) or JSON.
    #[arg(long, value_enum, default_value = "text", ignore_case = true)]
    pub format: TextOrJson,
}

/// `--protocol`: how TLS starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StartTls {
    /// At once (TLS, HTTPS and gRPC ports).
    #[value(alias = "http", alias = "grpc")]
    Tls,
    /// After the MySQL SSLRequest (TiDB 4000, TiProxy 6000, MySQL, MariaDB).
    Mysql,
}

/// `--component`: a component's name as the inventory spells it.
fn parse_component(s: &str) -> Result<Component, String> {
    Component::ALL
        .iter()
        .copied()
        .find(|c| c.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| {
            let names: Vec<&str> = Component::ALL.iter().map(|c| c.as_str()).collect();
            format!("unknown component {s:?} (one of {})", names.join(", "))
        })
}

/// The JSON of `scan --format json`: the scan and its findings.
#[derive(Serialize)]
struct ScanOutput<'a> {
    scan: &'a ScanResult,
    findings: &'a [Finding],
}

/// One version's lines of the table.
fn version_lines(out: &mut String, v: &VersionScan) {
    let state = if v.accepted {
        "accepted"
    } else {
        "not accepted"
    };
    let order = match v.server_order {
        Some(true) => "; server order",
        Some(false) => "; client order",
        None => "",
    };
    let _ = write!(out, "{:<8} {state}{order}", v.version.name());
    if let Some(note) = v.note.as_deref() {
        let _ = write!(out, " ({})", inert(note));
    }
    out.push('\n');
    for s in &v.suites {
        let w: Vec<&str> = s.weaknesses.iter().map(|w| w.words()).collect();
        let judged = match s.weaknesses.iter().any(|w| w.is_insecure()) {
            true => format!("  INSECURE: {}", w.join(", ")),
            false if !w.is_empty() => format!("  weak: {}", w.join(", ")),
            false => String::new(),
        };
        let _ = writeln!(out, "  {}{judged}", inert(&s.name));
    }
    if !v.groups.is_empty() {
        let _ = writeln!(out, "  groups: {}", inert(&v.groups.join(", ")));
    }
}

/// The table: a head line, the versions, the chain, the findings. What the server or the
/// command line said passes the terminal sanitizer.
fn table(r: &ScanResult, findings: &[Finding]) -> String {
    let mut out = format!(
        "scan {} ({}): {} connections, {} ms{}\n",
        inert(&r.address),
        r.protocol,
        r.connections,
        r.elapsed_ms,
        if r.complete {
            ""
        } else {
            ", stopped early (budget or deadline)"
        }
    );
    let _ = writeln!(out, "summary: {}\n", inert(&r.summary()));
    if r.failure.is_none() {
        r.versions.iter().for_each(|v| version_lines(&mut out, v));
    }
    for c in &r.certificates {
        let _ = writeln!(
            out,
            "certificate: {}: {}, {}",
            inert(&c.subject),
            inert(&c.public_key),
            inert(&c.signature_algorithm)
        );
    }
    if findings.is_empty() {
        out.push_str("\nno findings\n");
    }
    for f in findings {
        let _ = write!(
            out,
            "\n{} {}: {}\n  evidence: {}\n  fix: {}\n",
            f.severity.as_str(),
            f.code,
            inert(&f.title),
            inert(&f.evidence),
            inert(&f.fix)
        );
    }
    out
}

/// `tlsaudit scan`: exit 0 when nothing is wrong, 1 on a finding or a failed scan.
pub async fn run(args: ScanArgs) -> Result<u8, InputError> {
    probe::validate_address(&args.address)
        .map_err(|e| InputError::usage(e, "give the endpoint as HOST:PORT, e.g. 10.0.1.11:4000"))?;
    let spec = ScanSpec {
        mysql: args.protocol == StartTls::Mysql,
        server_name: args.server_name.clone(),
        ..ScanSpec::new(args.address.clone())
    };
    // The scan has at most four connections open at once (one per version).
    let gate = args.rate.map(|r| Gate {
        pacer: Some(Arc::new(Pacer::new(r))),
        ..Gate::of(4)
    });
    let limits = ScanLimits {
        timeout: args.timeout,
        deadline: args.deadline,
        gate,
        ..ScanLimits::default()
    };
    let result = scan::scan(&spec, &limits).await;
    let served = Served {
        component: args.component,
        sql: spec.mysql,
    };
    let findings = scan::findings(&result, served);
    match args.format {
        TextOrJson::Json => emit_json(
            &ScanOutput {
                scan: &result,
                findings: &findings,
            },
            "scan",
        ),
        TextOrJson::Text => emit(&table(&result, &findings)),
    }
    Ok(u8::from(result.failure.is_some() || !findings.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlsaudit_engine::scan::result::CertSeen;

    #[test]
    fn what_the_server_sent_is_inert_in_the_table() {
        let r = ScanResult {
            finished_at: None,
            address: "h:1".into(),
            protocol: "tls".into(),
            versions: Vec::new(),
            certificates: vec![CertSeen {
                subject: "CN=\u{1b}]8;;http://x\u{7}evil\u{1b}[2J".into(),
                public_key: "RSA 2048".into(),
                signature_algorithm: "sha256WithRSAEncryption".into(),
                self_signed: false,
            }],
            connections: 1,
            elapsed_ms: 1,
            complete: true,
            failure: None,
        };
        let t = table(&r, &[]);
        assert!(!t.contains('\u{1b}') && !t.contains('\u{7}'), "{t:?}");
        assert!(t.contains("evil"), "{t}");
    }
}
