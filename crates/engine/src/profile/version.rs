//! Component versions, for the rules that changed between releases (PD v8.4 and its client
//! port's list).

/// The PD version that applies `cert-allowed-cn` to its client port too (with more than one
/// entry); before it, the list guards the peer port only and holds one CN.
pub const PD_CLIENT_LIST_SINCE: Version = Version(8, 4);

/// A `major.minor` version, for rules that changed (PD v8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32);

impl Version {
    /// What a development build is taken for: newer than every release (rules that changed
    /// apply in their newest form).
    pub const NEWEST: Version = Version(u32::MAX, 0);

    /// `v8.5.0`, `8.5`, `v8.5.0-alpha`; the development names TiUP writes (`nightly`, `master`,
    /// `latest`) are [`Version::NEWEST`].
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        if ["nightly", "master", "latest"]
            .iter()
            .any(|d| s.eq_ignore_ascii_case(d))
        {
            return Some(Version::NEWEST);
        }
        let s = s.trim_start_matches('v');
        let mut it = s.split(['.', '-']);
        let major = it.next()?.parse().ok()?;
        let minor = it.next().map_or(Some(0), |m| m.parse().ok())?;
        Some(Version(major, minor))
    }

    /// Whether this is a development build (`nightly`), not a release.
    pub fn is_development(self) -> bool {
        self == Version::NEWEST
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_development() {
            f.pad("nightly (taken as the newest)")
        } else {
            f.pad(&format!("v{}.{}", self.0, self.1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_releases_and_development_builds() {
        assert_eq!(Version::parse("v8.4.0"), Some(Version(8, 4)));
        assert_eq!(Version::parse("v8.5.0-alpha"), Some(Version(8, 5)));
        assert_eq!(Version::parse("9"), Some(Version(9, 0)));
        for dev in ["nightly", "Nightly", "master", "latest"] {
            let v = Version::parse(dev).unwrap();
            assert!(v.is_development() && v > Version(8, 4), "{dev}");
        }
        assert_eq!(Version::parse("banana"), None);
    }
}
