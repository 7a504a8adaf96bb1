//! The TLS hygiene scan (`endpoints[].scan`) as the faces show it: the endpoints that carry a
//! scan, in the report's order, and the words and judgments every face draws from them (the
//! table's and Markdown's one line, Markdown's columns, the HTML section's marks). The scan's own
//! methods ([`ScanResult::summary`], [`ScanResult::accepted`], [`ScanResult::weakest_suite`])
//! and the engine's judgment of a suite, a key and a signature are used as they are: nothing
//! here judges anew.

use tlsaudit_engine::scan::{ScanResult, VersionScan};

use crate::model::{Endpoint, Report};

/// One endpoint and its scan.
#[derive(Debug, Clone, Copy)]
pub struct Scanned<'a> {
    pub endpoint: &'a Endpoint,
    pub scan: &'a ScanResult,
}

/// The endpoints that carry a scan, in the report's order (endpoints sharing an address each
/// carry it, and each is listed). Empty for a report written with `--no-scan` or before the scan.
pub fn scanned(r: &Report) -> Vec<Scanned<'_>> {
    r.endpoints
        .iter()
        .filter_map(|endpoint| {
            Some(Scanned {
                endpoint,
                scan: endpoint.scan.as_ref()?,
            })
        })
        .collect()
}

impl Scanned<'_> {
    /// The one line of the table and the Markdown list: the scan's summary (`TLS 1.2, TLS 1.3;
    /// no weak suite`, `not scanned: ...`), and `(incomplete)` when the scan stopped early.
    pub fn line(&self) -> String {
        let mut line = self.scan.summary();
        if self.incomplete() {
            line.push_str(" (incomplete)");
        }
        line
    }

    /// The weakest suite accepted, `none weak`, or `-` when the scan could not run.
    pub fn weakest(&self) -> String {
        match (&self.scan.failure, self.scan.weakest_suite()) {
            (Some(_), _) => "-".to_string(),
            (None, Some(s)) => s.to_string(),
            (None, None) => "none weak".to_string(),
        }
    }

    /// Stopped by its connection budget or deadline (a scan that could not run at all is a
    /// failure, not incomplete).
    pub fn incomplete(&self) -> bool {
        !self.scan.complete && self.scan.failure.is_none()
    }

    /// Why the scan is partial or missing, in one sentence; `None` for a whole scan.
    pub fn note(&self) -> Option<String> {
        let s = self.scan;
        if let Some(f) = &s.failure {
            return Some(format!("The scan could not run: {}.", f.detail));
        }
        self.incomplete().then(|| {
            format!(
                "The scan stopped early (its connection budget or deadline): {} connections in {} ms; versions and suites not asked about are missing.",
                s.connections, s.elapsed_ms
            )
        })
    }

    /// Whether the endpoint needs a look: something found, or a scan partial or failed.
    pub fn concern(&self) -> bool {
        self.scan.worst().is_some() || self.scan.failure.is_some() || self.incomplete()
    }
}

/// Whether a version's server keeps its own order, in words.
pub fn order_words(v: &VersionScan) -> &'static str {
    match v.server_order {
        Some(true) => "server order enforced",
        Some(false) => "client order (the server follows the client's preference)",
        None => "order not known (fewer than two suites)",
    }
}
