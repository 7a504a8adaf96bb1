//! TiUP topology (`topology.yaml`) and cluster metadata (`meta.yaml`: `user`, `tidb_version`,
//! `topology`).
//!
//! Like TiUP (which reads it with `yaml.UnmarshalStrict`), an unknown top-level section or
//! `server_configs` section is an error; a section TiUP knows but tlsaudit does not audit
//! (`tispark_masters`, `monitoring_servers`, ...) is a note in the findings. An unknown key
//! inside a known section (a `global` or instance field, a key of a component's TLS tables) is
//! an `UNKNOWN_KEY` finding with a "did you mean"; a value of the wrong type is an error. Every
//! error of the file is reported in one run (up to [`crate::error::MAX_ERRORS`]).
//!
//! The files, bottom up: `ctx` (the errors and notes collected, value readers), `spec` (the
//! sections and fields TiUP knows, each audited section's spec derived from the component
//! table), `layer` (config layers and what they set), `sections` (`meta.yaml`, the section
//! names, `global`, `server_configs`, `component_versions`), `advertise` (the `advertise_*`
//! fields), `instance` (the instances of the audited sections), `monitored` (TiUP's
//! monitoring agents); this file reads a topology with them.

mod advertise;
mod ctx;
mod instance;
mod layer;
mod monitored;
mod sections;
mod spec;

use std::path::{Path, PathBuf};

use self::ctx::Ctx;
use self::instance::{read_instances, ExporterHosts, Inherited};
use self::monitored::monitored;
use self::sections::{
    check_sections, read_component_versions, read_global, read_server_configs, split_meta,
};
use super::tree::{self, Entry, Value};
use super::{Instance, Located};
use crate::error::InputError;
use crate::finding::Finding;
use crate::profile::Version;

pub(crate) use self::layer::is_url_key;

/// A parsed topology.
#[derive(Debug, Clone)]
pub struct Topology {
    pub path: PathBuf,
    /// A `meta.yaml` (it has `topology:`).
    pub is_meta: bool,
    /// The cluster name a `meta.yaml` implies: its folder's name.
    pub meta_name: Option<String>,
    pub version: Option<Version>,
    pub tls: Option<Located<bool>>,
    pub instances: Vec<Instance>,
    pub notes: Vec<Finding>,
}

impl Topology {
    pub fn load(path: &Path) -> Result<Topology, InputError> {
        let text = crate::fsutil::read_text_capped(path, crate::fsutil::MAX_CONFIG)?;
        Topology::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Topology, InputError> {
        let ctx = Ctx::new(path);
        let root = tree::parse_yaml(text, path)?;
        let (is_meta, body, version) = split_meta(&ctx, &root)?;
        let entries: &[Entry] = match &body.value {
            Value::Map(m) => m,
            Value::Null => &[],
            _ => {
                return Err(ctx.err(
                    body.pos,
                    "topology must be a mapping",
                    "see `tiup cluster template`",
                ))
            }
        };
        check_sections(&ctx, entries);
        let global = read_global(&ctx, entries);
        let inherited = Inherited {
            global: &global,
            globals: &read_server_configs(&ctx, entries),
            versions: &read_component_versions(entries),
            version,
        };
        let mut exporter_hosts = ExporterHosts::default();
        let mut instances = read_instances(&ctx, entries, &inherited, &mut exporter_hosts);
        instances.extend(monitored(&ctx, entries, &exporter_hosts, global.tls.value));
        InputError::collect(ctx.errors.take())?;
        Ok(Topology {
            path: path.to_path_buf(),
            is_meta,
            meta_name: is_meta.then(|| meta_name(path)).flatten(),
            version,
            tls: Some(global.tls),
            instances,
            notes: ctx.notes.take(),
        })
    }
}

/// The cluster name a `meta.yaml` implies: the name of its folder.
fn meta_name(path: &Path) -> Option<String> {
    path.canonicalize().ok().and_then(|p| {
        p.parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Code, Severity};
    use crate::profile::Role;

    const TOPO: &str = r#"
global:
  user: tidb
  deploy_dir: /tidb-deploy
  enable_tls: true
server_configs:
  pd:
    security.cert-allowed-cn: ["pd", "tidb", "tikv"]
  tidb:
    security:
      cluster-verify-cn: [tidb, prod-client]
pd_servers:
  - host: 10.0.1.11
  - host: 10.0.1.12
    client_port: 12379
    config:
      security.cert-allowed-cn: ["pd"]
tidb_servers:
  - host: 10.0.1.21
tikv_servers:
  - host: 10.0.1.31
    status_port: 20181
tiflash_servers:
  - host: 10.0.1.41
cdc_servers:
  - host: 10.0.1.51
tiproxy_servers:
  - host: 10.0.1.61
monitoring_servers:
  - host: 10.0.1.99
"#;

    #[test]
    fn a_host_with_an_escape_sequence_is_refused_with_its_position() {
        let text = TOPO.replace(
            "  - host: 10.0.1.21",
            "  - host: \"10.0.1.21\\e]2;PWNED\\a\"",
        );
        let e = Topology::parse(&text, Path::new("/c/prod.yaml")).unwrap_err();
        let m = e.to_string();
        assert!(m.starts_with("/c/prod.yaml:19:11: "), "{m}");
        assert!(m.contains("host holds the control character U+001B"), "{m}");
        assert!(!m.contains('\x1b'));
        let bidi = TOPO.replace("  - host: 10.0.1.31", "  - host: 10.0.1.31\u{202e}");
        let m = Topology::parse(&bidi, Path::new("/c/prod.yaml"))
            .unwrap_err()
            .to_string();
        assert!(m.contains("U+202E"), "{m}");
    }

    #[test]
    fn instances_ports_and_lists() {
        let t = Topology::parse(TOPO, Path::new("/c/prod.yaml")).unwrap();
        assert!(t.tls.as_ref().unwrap().value);
        assert_eq!(t.instances.len(), 7);
        let pd1 = &t.instances[0];
        assert_eq!(pd1.endpoints[0].address, "10.0.1.11:2379");
        assert_eq!(pd1.endpoints[1].address, "10.0.1.11:2380");
        assert_eq!(
            pd1.endpoints[0].list.as_ref().unwrap().value,
            ["pd", "tidb", "tikv"]
        );
        assert!(pd1.endpoints[0]
            .list
            .as_ref()
            .unwrap()
            .source
            .starts_with("/c/prod.yaml:8:5: server_configs.pd security.cert-allowed-cn"));
        let pd2 = &t.instances[1];
        assert_eq!(pd2.endpoints[0].address, "10.0.1.12:12379");
        assert_eq!(pd2.endpoints[0].list.as_ref().unwrap().value, ["pd"]);
        assert!(pd2.security[0].tiup_managed);
        assert_eq!(
            pd2.security[0].cert.as_ref().unwrap().value,
            PathBuf::from("/tidb-deploy/pd-12379/tls/pd.crt")
        );
        let tidb = &t.instances[2];
        assert_eq!(tidb.endpoints.len(), 2);
        assert_eq!(tidb.endpoints[0].address, "10.0.1.21:10080");
        // The SQL port (`port`, default 4000): no allow-list governs it.
        assert_eq!(
            (tidb.endpoints[1].role, tidb.endpoints[1].address.as_str()),
            (Role::TidbSql, "10.0.1.21:4000")
        );
        assert!(tidb.endpoints[1].list.is_none());
        assert_eq!(
            tidb.endpoints[0].list.as_ref().unwrap().value,
            ["tidb", "prod-client"]
        );
        let tikv = &t.instances[3];
        assert_eq!(tikv.endpoints[1].address, "10.0.1.31:20181");
        let tiflash = &t.instances[4];
        let roles: Vec<&str> = tiflash.endpoints.iter().map(|e| e.role.as_str()).collect();
        assert_eq!(roles, ["grpc", "proxy", "proxy-status", "metrics"]);
        assert_eq!(t.instances[5].endpoints[0].address, "10.0.1.51:8300");
        assert_eq!(t.instances[6].endpoints[0].address, "10.0.1.61:3080");
        assert_eq!(t.notes[0].code, Code::TopologySectionNotAudited);
    }

    fn err(text: &str) -> String {
        Topology::parse(text, Path::new("t.yaml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn unknown_sections_are_errors_with_a_suggestion() {
        let e = err("global:\n  enable_tls: true\ntikv_server:\n  - host: a\n");
        assert!(e.starts_with("t.yaml:3:1: unknown topology section"), "{e}");
        assert!(e.contains("did you mean tikv_servers"), "{e}");
        let e = err("server_configs:\n  tikvv: {}\n");
        assert!(e.starts_with("t.yaml:2:3: "), "{e}");
        assert!(e.contains("did you mean tikv"), "{e}");
        // A misspelled field is a finding, not an error.
        for field in ["client-port", "clientport"] {
            let text = format!("pd_servers:\n  - host: a\n    {field}: 1\n");
            let t = Topology::parse(&text, Path::new("t.yaml")).unwrap();
            let f = &t.notes[0];
            assert_eq!((f.code, f.severity), (Code::UnknownKey, Severity::Critical));
            assert!(f.fix.starts_with("did you mean client_port"), "{f:?}");
            assert_eq!(
                f.source.as_deref(),
                Some(format!("t.yaml:3:5: pd_servers[0].{field}").as_str())
            );
        }
        let e = err("pd_servers:\n  - client_port: 1\n");
        assert!(e.contains("has no host"), "{e}");
        let e = err("pd_servers:\n  - host: a\n    client_port: 70000\n");
        assert!(e.starts_with("t.yaml:3:18: "), "{e}");
    }

    #[test]
    fn meta_yaml_has_version_and_topology() {
        let text = format!(
            "user: tidb\ntidb_version: v8.1.0\nlast_ops_ver: x\ntopology:\n{}",
            TOPO.lines().map(|l| format!("  {l}\n")).collect::<String>()
        );
        let t = Topology::parse(&text, Path::new("meta.yaml")).unwrap();
        assert!(t.is_meta);
        assert_eq!(t.version, Some(Version(8, 1)));
        assert_eq!(t.instances[0].version, Some(Version(8, 1)));
    }
}
