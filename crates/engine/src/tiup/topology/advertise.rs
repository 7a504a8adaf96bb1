//! The `advertise_*` fields of an instance: callers dial the address an instance advertises,
//! not its `host`, so each field replaces the address of its endpoints (a host alone keeps the
//! port). A URL's `http://` on a TLS cluster is the `HTTP_URL_WITH_TLS` finding, so the URLs
//! are kept with the instance's.

use super::ctx::Ctx;
use super::spec::{advertise_fields, SectionSpec};
use crate::tiup::tree::Entry;
use crate::tiup::{join_host_port, source_at, InstanceEndpoint, UrlSetting};

/// One `advertise_*` field an instance sets.
struct Advertise<'a> {
    /// The instance: `pd_servers[0]`.
    label: &'a str,
    field: &'a str,
    /// The field holds a host only (TiDB's `advertise_address`), not `host:port` or a URL.
    host_only: bool,
    entry: &'a Entry,
}

impl Advertise<'_> {
    /// What the field holds, in words.
    fn what(&self) -> &'static str {
        if self.host_only {
            "a host name or IP"
        } else {
            "host:port or a URL"
        }
    }

    fn report(&self, ctx: &Ctx<'_>, problem: String, fix: String) {
        ctx.report(ctx.err(self.entry.value.pos, problem, fix));
    }

    /// The value, trimmed; an empty or non-scalar one is an error.
    fn value(&self, ctx: &Ctx<'_>) -> Option<String> {
        let raw = self
            .entry
            .value
            .scalar_text()
            .filter(|v| !v.trim().is_empty());
        if raw.is_none() {
            let example = if self.host_only {
                "10.0.1.1"
            } else {
                "10.0.1.1:2379"
            };
            self.report(
                ctx,
                format!("{}: {} must be {}", self.label, self.field, self.what()),
                format!("write {}: {example}", self.field),
            );
        }
        raw.map(|v| v.trim().to_string())
    }

    /// The port of `host:port`, checked: none for a host alone, an error for a host-only
    /// field with one or for one that is not a port.
    fn port(
        &self,
        ctx: &Ctx<'_>,
        value: &str,
        host: &str,
        port: Option<&str>,
    ) -> Result<Option<u16>, ()> {
        let (label, field) = (self.label, self.field);
        match port {
            Some(_) if self.host_only => {
                self.report(
                    ctx,
                    format!("{label}: {field} is a host, not {value:?} (the ports are status_port and port)"),
                    format!("write {field}: {host}"),
                );
                Err(())
            }
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .map(Some)
                .ok_or_else(|| {
                    self.report(
                        ctx,
                        format!("{label}: {field} has no valid port in {value:?}"),
                        format!("write {field}: {host}:<port>"),
                    );
                }),
            None => Ok(None),
        }
    }
}

/// Callers dial the address an instance advertises, not its `host`: each `advertise_*` field
/// replaces the address of its endpoints (a host only keeps the port). A URL's `http://` on a
/// TLS cluster is the `HTTP_URL_WITH_TLS` finding.
pub(super) fn advertised(
    ctx: &Ctx<'_>,
    spec: &SectionSpec,
    label: &str,
    fields: &[Entry],
    endpoints: &mut [InstanceEndpoint],
    urls: &mut Vec<UrlSetting>,
) {
    for (field, roles, host_only) in advertise_fields(spec.component) {
        let Some(entry) = fields.iter().find(|e| e.key == *field) else {
            continue;
        };
        let adv = Advertise {
            label,
            field,
            host_only: *host_only,
            entry,
        };
        let Some(value) = adv.value(ctx) else {
            continue;
        };
        let rest = match strip_scheme(&value) {
            Some(rest) => {
                let key = format!("{label}.{field}");
                urls.push(UrlSetting {
                    source: source_at(ctx.path, entry.value.pos, &key),
                    key,
                    value: value.clone(),
                });
                rest
            }
            None => &value,
        };
        let (host, port) = split_host_port(rest.trim_end_matches('/'));
        let Ok(port) = adv.port(ctx, &value, host, port) else {
            continue;
        };
        if host.is_empty() {
            adv.report(
                ctx,
                format!("{label}: {field} has no host in {value:?}"),
                format!("write {field}: {}", adv.what()),
            );
            continue;
        }
        for ep in endpoints.iter_mut().filter(|ep| roles.contains(&ep.role)) {
            readdress(ep, host, port);
        }
    }
}

/// The value after `http://` or `https://` (any case), if it has either.
fn strip_scheme(value: &str) -> Option<&str> {
    let lower = value.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))?;
    Some(&value[value.len() - rest.len()..])
}

/// `host:port`, `[v6]:port`, or a host alone.
fn split_host_port(rest: &str) -> (&str, Option<&str>) {
    match rest.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => (v6, None),
        },
        None => match rest.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (rest, None),
        },
    }
}

/// The endpoint at the advertised host, on the advertised port or its own.
fn readdress(ep: &mut InstanceEndpoint, host: &str, port: Option<u16>) {
    let keep = ep
        .address
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok());
    if let Some(p) = port.or(keep) {
        ep.address = join_host_port(host, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_host_and_port() {
        assert_eq!(split_host_port("10.0.1.1:2379"), ("10.0.1.1", Some("2379")));
        assert_eq!(split_host_port("[::1]:2379"), ("::1", Some("2379")));
        assert_eq!(split_host_port("::1"), ("::1", None));
        assert_eq!(split_host_port("db-1"), ("db-1", None));
        assert_eq!(strip_scheme("HTTPS://Db-1:1"), Some("Db-1:1"));
        assert_eq!(strip_scheme("db-1:1"), None);
    }
}
