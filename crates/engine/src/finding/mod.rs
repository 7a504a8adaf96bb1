//! Findings: what is wrong, with a stable code, a severity, the evidence and a fix in the
//! operator's words naming the config key and file. The bottom of the engine's findings: the
//! TiUP import's notes, the lint and the audit all build theirs here, through
//! [`Finding::new`] and its builder methods, and nothing here knows who made one.

pub mod code;

use serde::Serialize;

pub use code::{Code, Severity};

/// One finding, as every report and the dashboard show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Finding {
    /// Stable code, e.g. `CN_NOT_ENFORCED`.
    pub code: Code,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// One sentence: what is wrong.
    pub title: String,
    /// What was observed.
    pub evidence: String,
    /// What to change, naming the key and file.
    pub fix: String,
    /// The file and key a static finding comes from (`tikv.toml: security.cert-allowed-cn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// In a merged report (`tlsaudit merge`): the vantage points that saw this finding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vantages: Vec<String>,
}

impl Finding {
    /// A finding of `code` at `severity`: what is wrong (`title`), what was observed
    /// (`evidence`) and what to change (`fix`). The optional parts (the endpoint, the identity,
    /// the source, the vantage points) are added with the builder methods below.
    pub fn new(
        code: Code,
        severity: Severity,
        title: impl Into<String>,
        evidence: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            code,
            severity,
            endpoint: None,
            identity: None,
            title: title.into(),
            evidence: evidence.into(),
            fix: fix.into(),
            source: None,
            vantages: Vec::new(),
        }
    }

    /// The endpoint the finding is about, by name (`None` leaves it unset).
    #[must_use]
    pub fn endpoint(mut self, name: impl Into<Option<String>>) -> Finding {
        self.endpoint = name.into();
        self
    }

    /// The identity (caller) the finding is about, by name (`None` leaves it unset).
    #[must_use]
    pub fn identity(mut self, name: impl Into<Option<String>>) -> Finding {
        self.identity = name.into();
        self
    }

    /// The file and key a static finding comes from (`None` leaves it unset).
    #[must_use]
    pub fn source(mut self, source: impl Into<Option<String>>) -> Finding {
        self.source = source.into();
        self
    }

    /// The vantage points that saw the finding (a merged report).
    #[must_use]
    pub fn vantages(mut self, vantages: Vec<String>) -> Finding {
        self.vantages = vantages;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_sets_only_what_it_is_given() {
        let bare = Finding::new(Code::NoAllowList, Severity::Info, "t", "e", "f");
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            serde_json::json!({
                "code": "NO_ALLOW_LIST", "severity": "info",
                "title": "t", "evidence": "e", "fix": "f"
            })
        );
        let full = bare
            .clone()
            .endpoint("pd-1".to_string())
            .identity(Some("tidb".to_string()))
            .source(None)
            .vantages(vec!["a".into()]);
        assert_eq!(full.endpoint.as_deref(), Some("pd-1"));
        assert_eq!(full.identity.as_deref(), Some("tidb"));
        assert_eq!(full.source, None);
        assert_eq!(full.vantages, ["a"]);
    }
}
