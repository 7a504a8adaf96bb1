//! A closed set of names as the report carries it: [`Named::Known`] for a name this version
//! knows (a [`Component`], a [`Protocol`], a finding [`Code`], a [`Severity`], an
//! [`IdentityKind`]), [`Named::Other`] for one it does not, as a report written by a newer
//! version may carry. Both serialize to the name itself, so a report read and written back keeps
//! every name, known or not.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tlsaudit_engine::audit::{Code, IdentityKind, Severity};
use tlsaudit_engine::probe::Protocol;
use tlsaudit_engine::profile::Component;

/// A type whose values have stable names in the report.
pub trait Term: Copy + Sized + 'static {
    /// The name the report writes.
    fn name(self) -> &'static str;
    /// The value of a name, if this version knows it.
    fn from_name(s: &str) -> Option<Self>;
}

/// A known value, or the name of one this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Named<T> {
    Known(T),
    Other(String),
}

impl<T: Term> Named<T> {
    /// The value of a name: known, or kept as written.
    pub fn parse(s: &str) -> Named<T> {
        T::from_name(s).map_or_else(|| Named::Other(s.to_string()), Named::Known)
    }

    /// The name, as the report writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Named::Known(t) => t.name(),
            Named::Other(s) => s,
        }
    }

    /// The value, when this version knows it.
    pub fn known(&self) -> Option<T> {
        match self {
            Named::Known(t) => Some(*t),
            Named::Other(_) => None,
        }
    }
}

impl<T> Default for Named<T> {
    /// An empty name: what a report that lacks the field reads as.
    fn default() -> Self {
        Named::Other(String::new())
    }
}

impl<T> From<T> for Named<T> {
    fn from(t: T) -> Self {
        Named::Known(t)
    }
}

impl<T: Term + PartialEq> PartialEq<T> for Named<T> {
    fn eq(&self, other: &T) -> bool {
        self.known().is_some_and(|t| t == *other)
    }
}

impl<T: Term> fmt::Display for Named<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<T: Term> Serialize for Named<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de, T: Term> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Named::parse(&s))
    }
}

impl Named<Severity> {
    /// Whether a finding of this severity reaches `fail_on` (the exit code of `report` and
    /// `merge`). A severity this version does not know is not assumed harmless: it does.
    pub fn reaches(&self, fail_on: Severity) -> bool {
        self.known().is_none_or(|s| s >= fail_on)
    }
}

impl Term for Component {
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn from_name(s: &str) -> Option<Self> {
        Component::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Every protocol, for reading names.
const PROTOCOLS: [Protocol; 4] = [
    Protocol::Tls,
    Protocol::Http,
    Protocol::Grpc,
    Protocol::Mysql,
];

impl Term for Protocol {
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn from_name(s: &str) -> Option<Self> {
        PROTOCOLS.into_iter().find(|p| p.as_str() == s)
    }
}

impl Term for Code {
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn from_name(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// Every severity, most severe first.
pub const SEVERITIES: [Severity; 3] = [Severity::Critical, Severity::Warning, Severity::Info];

impl Term for Severity {
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn from_name(s: &str) -> Option<Self> {
        SEVERITIES.into_iter().find(|v| v.as_str() == s)
    }
}

/// Every identity kind.
const IDENTITY_KINDS: [IdentityKind; 5] = [
    IdentityKind::Configured,
    IdentityKind::Anonymous,
    IdentityKind::Foreign,
    IdentityKind::Unlisted,
    IdentityKind::Minted,
];

impl Term for IdentityKind {
    fn name(self) -> &'static str {
        match self {
            IdentityKind::Configured => "configured",
            IdentityKind::Anonymous => "anonymous",
            IdentityKind::Foreign => "foreign",
            IdentityKind::Unlisted => "unlisted",
            IdentityKind::Minted => "minted",
        }
    }
    fn from_name(s: &str) -> Option<Self> {
        IDENTITY_KINDS.into_iter().find(|k| k.name() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are the engine's own serde names, so the report's strings do not change.
    #[test]
    fn names_are_the_engines() {
        for c in Component::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
        for p in PROTOCOLS {
            assert_eq!(serde_json::to_value(p).unwrap(), p.name());
        }
        for s in SEVERITIES {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
        for k in IDENTITY_KINDS {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
        for c in Code::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
            assert_eq!(Named::<Code>::parse(c.as_str()), Named::Known(*c));
        }
    }

    #[test]
    fn unknown_names_are_kept_and_written_back() {
        let n: Named<Component> = serde_json::from_str("\"tiflow\"").unwrap();
        assert_eq!(n, Named::Other("tiflow".into()));
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"tiflow\"");
        let k: Named<Code> = serde_json::from_str("\"CN_NOT_ENFORCED\"").unwrap();
        assert_eq!(k, Code::CnNotEnforced);
        let s: Named<Severity> = serde_json::from_str("\"fatal\"").unwrap();
        assert!(s.reaches(Severity::Critical));
        assert!(!Named::Known(Severity::Warning).reaches(Severity::Critical));
    }
}
