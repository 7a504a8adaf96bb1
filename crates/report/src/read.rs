//! A JSON report read back (`report --from`, `tui --from`, `tlsaudit merge`, `tlsaudit diff`,
//! `report --baseline`): any `tlsaudit.report/v1` document, into the one [`Report`] model, so
//! that every writer renders a saved or merged report exactly as it renders a round.
//!
//! Unknown fields are ignored (a newer writer may add some) and missing ones default (an older
//! writer may lack some). The cells are put back in the writers' order (identity-major over the
//! endpoint and identity lists), a cell the document lacks becomes "not probed" (so no writer
//! can index past the matrix), and the summary is counted again from what was read. What is
//! written back is written by this version: `schema` and `tool` are this library's.

use std::collections::HashMap;
use std::path::Path;

use tlsaudit_engine::error::InputError;

use crate::model::{Cell, Report, Summary, Tool, SCHEMA};

/// What to give instead of a file that is not a report.
const FIX: &str = "give a JSON report written by `tlsaudit report --format json`, `tlsaudit merge` or `tlsaudit serve` (/report.json)";

impl Report {
    /// Read a report from a file. Errors name the file and say what to give instead.
    pub fn load(path: &Path) -> Result<Report, InputError> {
        let text =
            tlsaudit_engine::fsutil::read_text_capped(path, tlsaudit_engine::fsutil::MAX_REPORT)?;
        Report::parse(&text, &path.display().to_string())
    }

    /// Parse a report; `what` (a file name) names it in errors.
    pub fn parse(text: &str, what: &str) -> Result<Report, InputError> {
        // The schema first, so that another tool's JSON is named as such rather than by the
        // first field it lacks. Only that field is kept of this first pass; the document is
        // then deserialized once, straight into the model.
        #[derive(serde::Deserialize)]
        struct Head {
            schema: Option<serde_json::Value>,
        }
        let schema = match serde_json::from_str::<Head>(text) {
            Ok(head) => head.schema,
            // Valid JSON of another shape (an array, a string) has no schema field.
            Err(_) => match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => None,
                Err(e) => return Err(InputError::usage(format!("{what}: not JSON ({e})"), FIX)),
            },
        };
        match schema.as_ref().and_then(serde_json::Value::as_str) {
            Some(s) if s.starts_with("tlsaudit.report/") => {}
            Some(s) => {
                return Err(InputError::usage(
                    format!("{what}: schema {s:?} is not a tlsaudit report (expected {SCHEMA})"),
                    FIX,
                ))
            }
            None => {
                return Err(InputError::usage(
                    format!("{what}: not a tlsaudit report (no \"schema\" field)"),
                    FIX,
                ))
            }
        }
        let mut report: Report = serde_json::from_str(text)
            .map_err(|e| InputError::usage(format!("{what}: not a tlsaudit report ({e})"), FIX))?;
        report.normalize();
        Ok(report)
    }

    /// Put the cells in the writers' order, fill the holes and count the summary again; the
    /// report is then this version's to write.
    pub fn normalize(&mut self) {
        let mut by_key: HashMap<(String, String), Cell> = std::mem::take(&mut self.cells)
            .into_iter()
            .map(|c| ((c.identity.clone(), c.endpoint.clone()), c))
            .collect();
        let mut cells = Vec::with_capacity(self.identities.len() * self.endpoints.len());
        for id in &self.identities {
            for ep in &self.endpoints {
                cells.push(
                    by_key
                        .remove(&(id.name.clone(), ep.name.clone()))
                        .unwrap_or_else(|| Cell::not_probed(&id.name, &ep.name)),
                );
            }
        }
        self.cells = cells;
        self.schema = SCHEMA.to_string();
        self.tool = Tool::default();
        self.summary = Summary::of(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named::Named;
    use tlsaudit_engine::audit::Verdict;
    use tlsaudit_engine::probe::Protocol;
    use tlsaudit_engine::profile::Component;

    #[test]
    fn another_tools_json_is_named_with_the_file() {
        let e = Report::parse(r#"{"hello": 1}"#, "x.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.json") && e.contains("schema"), "{e}");
        let e = Report::parse(r#"{"schema": "tlsaudit.lint/1"}"#, "lint.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("lint.json")
                && e.contains("tlsaudit.lint/1")
                && e.contains("not a tlsaudit report"),
            "{e}"
        );
        let e = Report::parse("not json", "y.json").unwrap_err().to_string();
        assert!(e.contains("y.json: not JSON"), "{e}");
        // JSON of another shape, or a schema that is not a string: no schema field.
        for other in ["[1, 2]", "\"text\"", r#"{"schema": 7}"#] {
            let e = Report::parse(other, "o.json").unwrap_err().to_string();
            assert!(
                e.contains("o.json: not a tlsaudit report (no"),
                "{other}: {e}"
            );
        }
        let e = Report::parse(r#"{"schema": "tlsaudit.report/v1", "cells": 3}"#, "z.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("z.json") && e.contains("not a tlsaudit report"),
            "{e}"
        );
    }

    #[test]
    fn missing_cells_become_not_probed_in_matrix_order() {
        let text = r#"{"schema":"tlsaudit.report/v1","cluster":{"name":"c"},
          "endpoints":[{"name":"pd-1","component":"pd","address":"127.0.0.1:1","protocol":"tls"},
                       {"name":"kv","component":"nosuch","address":"127.0.0.1:2","protocol":"quic"}],
          "identities":[{"name":"tidb","kind":"configured"},{"name":"anonymous","kind":"anonymous"}],
          "cells":[{"identity":"anonymous","endpoint":"pd-1","verdict":"enforced",
                    "expected":{"allow":false,"needed":false,"reason":"r"}}],
          "findings":[]}"#;
        let r = Report::parse(text, "t.json").unwrap();
        assert_eq!(r.cells.len(), 4);
        let c = r.cell(1, 0);
        assert_eq!(
            (c.identity.as_str(), c.endpoint.as_str()),
            ("anonymous", "pd-1")
        );
        assert_eq!(c.verdict, Some(Verdict::Enforced));
        assert_eq!(r.cells[0].verdict, None);
        assert_eq!(r.endpoints[0].component, Component::Pd);
        assert_eq!(r.endpoints[1].component, Named::Other("nosuch".into()));
        assert_eq!(r.endpoints[0].protocol, Protocol::Tls);
        assert_eq!(r.endpoints[1].protocol.as_str(), "quic");
        assert_eq!(r.summary.verdicts["enforced"], 1);
        assert_eq!(r.summary.cells, 4);
    }

    /// An older writer's report: no vantage, no not_checked, no drift, no list key or config
    /// file, no identity component or check.
    #[test]
    fn an_older_report_reads_with_defaults() {
        let text = r#"{"schema":"tlsaudit.report/v1","tool":{"name":"tlsaudit","version":"0.0.1"},
          "started_at":null,"finished_at":"2025-01-01T00:00:00Z","cluster":{"name":"old","ca":"ca.crt"},
          "endpoints":[{"name":"pd-1","component":"pd","role":"client","address":"127.0.0.1:1","protocol":"tls"}],
          "identities":[{"name":"tidb","kind":"configured","cn":"tidb"}],
          "cells":[{"identity":"tidb","endpoint":"pd-1","verdict":"secure","outcome":"accepted",
                    "expected":{"allow":true,"needed":true,"reason":"listed"}}],
          "findings":[{"code":"NO_ALLOW_LIST","severity":"info","title":"t","evidence":"","fix":"f"}],
          "a_field_of_the_future":{"x":1}}"#;
        let r = Report::parse(text, "old.json").unwrap();
        assert_eq!(r.vantage, None);
        assert!(r.not_checked.is_empty());
        assert_eq!(r.endpoints[0].drift, None);
        assert_eq!(r.identities[0].component, None);
        assert!(r.cell(0, 0).expected.needed);
        assert_eq!(r.tool, Tool::default());
        let json = r.to_json().unwrap();
        assert!(!json.contains("a_field_of_the_future"), "{json}");
        assert_eq!(
            Report::parse(&json, "again.json")
                .unwrap()
                .to_json()
                .unwrap(),
            json
        );
    }

    /// A newer writer's names: kept as written, and written back.
    #[test]
    fn a_newer_reports_names_are_kept() {
        let text = r#"{"schema":"tlsaudit.report/v1","cluster":{"name":"new"},
          "endpoints":[{"name":"x","component":"tiflow","address":"a:1","protocol":"quic"}],
          "identities":[{"name":"robot","kind":"delegated","component":"tiflow"}],
          "findings":[{"code":"QUIC_OPEN","severity":"fatal","title":"t","fix":"f"}]}"#;
        let r = Report::parse(text, "new.json").unwrap();
        assert!(r.fails(tlsaudit_engine::audit::Severity::Critical));
        assert_eq!(r.findings[0].to_engine(), None);
        let json = r.to_json().unwrap();
        for name in [
            "\"tiflow\"",
            "\"quic\"",
            "\"delegated\"",
            "\"QUIC_OPEN\"",
            "\"fatal\"",
        ] {
            assert!(json.contains(name), "{name} in {json}");
        }
    }
}
