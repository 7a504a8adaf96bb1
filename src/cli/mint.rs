//! `tlsaudit mint`: on the CA host, issue once the identities the audit otherwise mints at run
//! time (which needs the CA key wherever it runs): the outsiders `foreign` (a throwaway CA, a
//! CN on the lists) and `unlisted` (the cluster CA, a CN no list names), and per-component
//! identities (the CN TiUP gives the component), with a validity chosen here. It writes each
//! certificate and key (keys 0600, never printed) and prints the inventory entries that use
//! them, outsiders declared `expect = "refuse"`, so that vantage hosts audit with no CA key.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use tlsaudit_engine::error::InputError;
use tlsaudit_engine::inventory::Inventory;
use tlsaudit_engine::pki::mint::{self, Ca, Issued};
use tlsaudit_engine::profile::{minted_name, Component};
/// Text from an input made inert for a terminal: the one sanitizer.
use tlsaudit_report::sanitize::inert_owned as inert;

use crate::cli::input::{self, TidbInputFlags};
use crate::cli::output::emit;

/// `tlsaudit mint --config tlsaudit.toml --out DIR`, or `--topology meta.yaml`, or `--ca
/// ca.crt --ca-key ca.pem`.
#[derive(Debug, clap::Args)]
pub struct MintArgs {
    /// The folder to write the certificates and keys into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// An inventory (tlsaudit.toml): its [cluster] ca and ca_key sign, the unlisted CN avoids
    /// its lists, --all-components takes its components.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["topology", "tls_dir"])]
    pub config: Option<PathBuf>,
    /// A TiUP topology.yaml or meta.yaml, with its TLS folder (ca.crt, and the CA key in
    /// ca.pem), instead of an inventory.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// TiUP's TLS folder (default with a meta.yaml: the tls folder beside it).
    #[arg(long, value_name = "DIR", requires = "topology")]
    pub tls_dir: Option<PathBuf>,
    /// The CA certificate (default: the inventory's or the TLS folder's).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The CA's private key (default: the inventory's ca_key, or the TLS folder's ca.pem).
    /// Read here only: the audits that use what is minted need no CA key.
    #[arg(long, value_name = "FILE")]
    pub ca_key: Option<PathBuf>,
    /// Also mint an identity for this component, with the CN TiUP gives it (repeatable:
    /// --component tikv --component pd).
    #[arg(long = "component", value_name = "COMPONENT", value_parser = parse_component)]
    pub components: Vec<Component>,
    /// Also mint an identity for every component of the inventory or topology.
    #[arg(long)]
    pub all_components: bool,
    /// Do not mint the foreign identity.
    #[arg(long)]
    pub no_foreign: bool,
    /// Do not mint the unlisted identity.
    #[arg(long)]
    pub no_unlisted: bool,
    /// Validity in days. The audit warns 30 days (expiry_warning_days) before a component
    /// identity expires; mint again with --force before then.
    #[arg(long, value_name = "DAYS", default_value = "90", value_parser = clap::value_parser!(u16).range(1..=365))]
    pub days: u16,
    /// Where the files will be on the vantage hosts, for the paths of the printed entries
    /// (default: --out, absolute).
    #[arg(long, value_name = "DIR")]
    pub host_dir: Option<String>,
    /// Where the keys will be on the vantage hosts, if not beside the certificates, e.g.
    /// /run/credentials/tlsaudit.service for the systemd unit's LoadCredential= (default:
    /// the certificates' folder).
    #[arg(long, value_name = "DIR")]
    pub host_key_dir: Option<String>,
    /// Replace the files of an earlier mint (to renew them).
    #[arg(long)]
    pub force: bool,
}

/// `--component`: a component TiUP deploys, by its name or TiUP's (`ticdc` or `cdc`).
fn parse_component(s: &str) -> Result<Component, String> {
    Component::from_identity_name(s).ok_or_else(|| {
        let names: Vec<&str> = Component::ALL
            .into_iter()
            .filter(|c| c.tiup_name().is_some())
            .map(Component::as_str)
            .collect();
        format!(
            "{s:?} is not a component TiUP deploys; use one of {}",
            names.join(", ")
        )
    })
}

/// What an identity minted here stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Foreign,
    Unlisted,
    Component(Component),
}

/// One identity to mint: its inventory name, CN and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Planned {
    name: String,
    cn: String,
    kind: Kind,
}

/// The inventory names of the outsiders (the audit reserves `foreign` and `unlisted`).
const FOREIGN_NAME: &str = "foreign-ca";
const UNLISTED_NAME: &str = "unlisted-cn";

/// Where the CA is, and what the inputs say of the cluster: the allow-lists' entries and the
/// components TiUP deploys present (empty from `--ca` alone).
#[derive(Debug, Default)]
struct Source {
    ca: Option<PathBuf>,
    ca_key: Option<PathBuf>,
    listed: Vec<String>,
    components: Vec<Component>,
}

impl Source {
    fn of(inv: &Inventory) -> Source {
        let mut components: Vec<Component> = inv
            .endpoints
            .iter()
            .map(|e| e.component)
            .filter(|c| c.tiup_name().is_some())
            .collect();
        components.sort();
        components.dedup();
        Source {
            ca: Some(inv.ca.clone()),
            ca_key: inv.ca_key.clone(),
            listed: inv
                .endpoints
                .iter()
                .flat_map(|e| e.allowed_cn.iter().cloned())
                .collect(),
            components,
        }
    }
}

/// Read the inventory or the topology, if given.
fn source(args: &MintArgs) -> Result<Source, InputError> {
    if let Some(config) = &args.config {
        return Ok(Source::of(&Inventory::load(config)?));
    }
    if args.topology.is_some() {
        let (inv, _) = input::load_tidb_inventory(&TidbInputFlags {
            topology: args.topology.clone(),
            tls_dir: args.tls_dir.clone(),
            ca: args.ca.clone(),
            ..Default::default()
        })?;
        return Ok(Source::of(&inv));
    }
    Ok(Source::default())
}

/// The CN the foreign identity carries: one the lists name (TiDB's if listed), so that only
/// the CA check can refuse it.
fn foreign_cn(listed: &[String]) -> String {
    let tidb = minted_name(Component::Tidb);
    if listed.is_empty() || listed.iter().any(|c| c == tidb) {
        tidb.to_string()
    } else {
        listed[0].clone()
    }
}

/// The identities to mint, in the order they are printed.
fn plan(args: &MintArgs, src: &Source) -> Result<Vec<Planned>, InputError> {
    if args.all_components && args.config.is_none() && args.topology.is_none() {
        return Err(InputError::usage(
            "--all-components needs the cluster's components",
            "give --config tlsaudit.toml or --topology meta.yaml, or name them: --component tikv --component pd",
        ));
    }
    let mut out = Vec::new();
    if !args.no_foreign {
        out.push(Planned {
            name: FOREIGN_NAME.into(),
            cn: foreign_cn(&src.listed),
            kind: Kind::Foreign,
        });
    }
    if !args.no_unlisted {
        out.push(Planned {
            name: UNLISTED_NAME.into(),
            cn: mint::unlisted_cn(src.listed.iter().map(String::as_str)),
            kind: Kind::Unlisted,
        });
    }
    let mut components = args.components.clone();
    if args.all_components {
        components.extend(&src.components);
    }
    for c in components {
        let name = minted_name(c).to_string();
        if !out.iter().any(|p| p.name == name) {
            out.push(Planned {
                cn: name.clone(),
                name,
                kind: Kind::Component(c),
            });
        }
    }
    if out.is_empty() {
        return Err(InputError::usage(
            "nothing to mint",
            "drop --no-foreign or --no-unlisted, or add --component NAME or --all-components",
        ));
    }
    Ok(out)
}

/// The CA that signs `unlisted` and the components' identities (not needed for `foreign`
/// alone).
fn cluster_ca(args: &MintArgs, src: &Source, plan: &[Planned]) -> Result<Option<Ca>, InputError> {
    if plan.iter().all(|p| p.kind == Kind::Foreign) {
        return Ok(None);
    }
    let ca = args.ca.clone().or_else(|| src.ca.clone());
    let key = args.ca_key.clone().or_else(|| src.ca_key.clone());
    match (ca, key) {
        (Some(ca), Some(key)) => Ca::load(&ca, &key).map(Some),
        (None, _) => Err(InputError::usage(
            "mint needs the cluster CA to issue the unlisted and the components' identities",
            "give --ca ca.crt --ca-key ca.pem, or --config tlsaudit.toml (its [cluster] ca and ca_key), or --topology with TiUP's TLS folder; --no-unlisted mints the foreign identity alone",
        )),
        (Some(ca), None) => Err(InputError::file(
            &ca,
            "is given without its key",
            "give --ca-key (TiUP keeps it in tls/ca.pem on the control machine); mint runs where the CA key is",
        )),
    }
}

/// The certificate and key files of one identity in `dir`.
fn files(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    )
}

/// Issue every planned identity (in memory: nothing is written before all are issued).
fn issue(plan: &[Planned], ca: Option<&Ca>, days: i64) -> Result<Vec<Issued>, InputError> {
    plan.iter()
        .map(|p| match (p.kind, ca) {
            (Kind::Foreign, _) => mint::foreign(&p.cn, days),
            (Kind::Unlisted, Some(ca)) => ca.issue(&p.cn, &[], false, days),
            // The CN and both usages TiUP gives the component's certificate; no SANs, as the
            // audit's own minted identities (etcd's peer port matches SANs when there are any).
            (Kind::Component(_), Some(ca)) => ca.issue(&p.cn, &[], true, days),
            (_, None) => Err(InputError::usage(
                "no CA to sign with",
                "report this as a bug",
            )),
        })
        .collect()
}

/// Create `--out` (never through a symlink) and check that no file would be replaced without
/// `--force`, before anything is written.
fn prepare_out(args: &MintArgs, plan: &[Planned]) -> Result<(), InputError> {
    if std::fs::symlink_metadata(&args.out).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(tlsaudit_engine::fsutil::WriteError::Symlink(args.out.clone()).into());
    }
    std::fs::create_dir_all(&args.out).map_err(|e| InputError::io(&args.out, &e))?;
    for p in plan {
        let (cert, key) = files(&args.out, &p.name);
        mint::check_target(&cert, args.force)?;
        mint::check_target(&key, args.force)?;
    }
    Ok(())
}

/// Run `mint`: issue, write, print the inventory entries; exit 0.
pub fn run(args: &MintArgs) -> Result<u8, InputError> {
    let src = source(args)?;
    let plan = plan(args, &src)?;
    let ca = cluster_ca(args, &src, &plan)?;
    let issued = issue(&plan, ca.as_ref(), i64::from(args.days))?;
    prepare_out(args, &plan)?;
    for (p, i) in plan.iter().zip(&issued) {
        let (cert, key) = files(&args.out, &p.name);
        i.write(&cert, &key, args.force)?;
    }
    let host_dir = match &args.host_dir {
        Some(d) => PathBuf::from(d),
        None => std::fs::canonicalize(&args.out).map_err(|e| InputError::io(&args.out, &e))?,
    };
    emit(&render(args, &plan, &issued, &host_dir));
    Ok(0)
}

/// A TOML basic string (quotes, backslashes and controls escaped).
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The `[identities.NAME]` entries that use the files, as they will be on the vantage hosts:
/// the certificates in `host_dir`, the keys in `key_dir`.
fn snippet(plan: &[Planned], host_dir: &Path, key_dir: &Path) -> String {
    let mut t = String::new();
    for p in plan {
        let (cert, _) = files(host_dir, &p.name);
        let (_, key) = files(key_dir, &p.name);
        let _ = writeln!(t, "[identities.{}]", p.name);
        let _ = writeln!(t, "cert = {}", toml_str(&cert.display().to_string()));
        let _ = writeln!(t, "key = {}", toml_str(&key.display().to_string()));
        match p.kind {
            Kind::Component(c) => {
                let _ = writeln!(t, "component = {}", toml_str(c.as_str()));
            }
            Kind::Foreign | Kind::Unlisted => {
                let _ = writeln!(t, "expect = \"refuse\"");
            }
        }
        let _ = writeln!(t);
    }
    t
}

/// What each identity is, in words.
fn what(p: &Planned) -> &'static str {
    match p.kind {
        Kind::Foreign => "a throwaway CA (discarded), a CN on the lists: an outsider",
        Kind::Unlisted => "the cluster CA, a CN no list names: an outsider",
        Kind::Component(_) => "the cluster CA, the CN TiUP gives the component",
    }
}

/// The text an operator reads: what was written, the entries, what to switch off, when to
/// renew.
fn render(args: &MintArgs, plan: &[Planned], issued: &[Issued], host_dir: &Path) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let until = issued
        .iter()
        .map(|i| i.not_after)
        .min()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default();
    let mut t = String::new();
    let _ = writeln!(
        t,
        "tlsaudit mint: {} identit{} valid {} days (until {until}), into {}",
        plan.len(),
        if plan.len() == 1 { "y" } else { "ies" },
        args.days,
        inert(&args.out.display().to_string())
    );
    for p in plan {
        let (cert, key) = files(&args.out, &p.name);
        let _ = writeln!(
            t,
            "  {:<12} CN {:<20} {}\n  {:<12} {} and {} (0600)",
            p.name,
            inert(&p.cn),
            what(p),
            "",
            inert(&cert.display().to_string()),
            inert(&key.display().to_string())
        );
    }
    let _ = writeln!(
        t,
        "\n# add to the inventory (tlsaudit.toml) of each vantage host, with the files copied to {}:\n",
        inert(&host_dir.display().to_string())
    );
    let key_dir = args
        .host_key_dir
        .as_ref()
        .map_or_else(|| host_dir.to_path_buf(), PathBuf::from);
    t.push_str(&snippet(plan, host_dir, &key_dir));
    write_next(&mut t, plan, until.as_str());
    t
}

/// The steps after the files are written.
fn write_next(t: &mut String, plan: &[Planned], until: &str) {
    let off: Vec<&str> = plan
        .iter()
        .filter_map(|p| match p.kind {
            Kind::Foreign => Some("foreign = false"),
            Kind::Unlisted => Some("unlisted = false"),
            Kind::Component(_) => None,
        })
        .collect();
    if !off.is_empty() {
        let _ = writeln!(
            t,
            "# and switch off what the audit would mint at run time (in [probe], or \
             --no-foreign / --no-unlisted):\n# [probe]\n# {}\n",
            off.join("\n# ")
        );
    }
    let _ = writeln!(
        t,
        "next:\n  remove ca_key from [cluster] (and any ca.pem from a --tls-dir) on the vantage hosts: they need no CA key\n  copy the files; keep each .key readable by the audit's user only (0600)\n  mint again with --force before {until} and restart the audits (they read the files at start): an expired outsider is refused for its date, which reads as enforced"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        args: MintArgs,
    }

    fn args(a: &[&str]) -> MintArgs {
        T::try_parse_from(std::iter::once("mint").chain(a.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn components_take_their_name_or_tiups() {
        assert_eq!(parse_component("cdc"), Ok(Component::Ticdc));
        assert_eq!(parse_component("ticdc"), Ok(Component::Ticdc));
        let e = parse_component("etcd").unwrap_err();
        assert!(e.contains("tikv") && !e.contains("etcd,"), "{e}");
    }

    #[test]
    fn the_outsiders_by_default_and_components_as_asked() {
        let src = Source {
            listed: vec!["pd".into(), "tlsaudit-unlisted".into()],
            components: vec![Component::Pd, Component::Tikv],
            ..Source::default()
        };
        let p = plan(&args(&["--out", "d", "--component", "cdc"]), &src).unwrap();
        let names: Vec<(&str, &str)> = p.iter().map(|p| (&*p.name, &*p.cn)).collect();
        assert_eq!(
            names,
            [
                ("foreign-ca", "pd"),
                ("unlisted-cn", "tlsaudit-unlistedx"),
                ("cdc", "cdc")
            ]
        );
        let p = plan(
            &args(&[
                "--out",
                "d",
                "--no-foreign",
                "--no-unlisted",
                "--config",
                "x",
                "--all-components",
                "--component",
                "pd",
            ]),
            &src,
        )
        .unwrap();
        let names: Vec<&str> = p.iter().map(|p| &*p.name).collect();
        assert_eq!(names, ["pd", "tikv"]);
    }

    #[test]
    fn nothing_to_mint_and_all_without_inputs_are_usage_errors() {
        let src = Source::default();
        let e = plan(
            &args(&["--out", "d", "--no-foreign", "--no-unlisted"]),
            &src,
        )
        .unwrap_err();
        assert!(e.to_string().contains("nothing to mint"), "{e}");
        let e = plan(&args(&["--out", "d", "--all-components"]), &src).unwrap_err();
        assert!(e.to_string().contains("--component tikv"), "{e}");
    }

    #[test]
    fn the_ca_is_needed_unless_only_foreign_is_minted() {
        let src = Source::default();
        let a = args(&["--out", "d", "--no-unlisted"]);
        assert!(cluster_ca(&a, &src, &plan(&a, &src).unwrap())
            .unwrap()
            .is_none());
        let a = args(&["--out", "d"]);
        let e = cluster_ca(&a, &src, &plan(&a, &src).unwrap()).unwrap_err();
        assert!(e.to_string().contains("--ca-key"), "{e}");
        let a = args(&["--out", "d", "--ca", "ca.crt"]);
        let e = cluster_ca(&a, &src, &plan(&a, &src).unwrap()).unwrap_err();
        assert!(e.to_string().contains("without its key"), "{e}");
    }

    #[test]
    fn the_snippet_declares_outsiders_and_quotes_paths() {
        let p = vec![
            Planned {
                name: "unlisted-cn".into(),
                cn: "tlsaudit-unlisted".into(),
                kind: Kind::Unlisted,
            },
            Planned {
                name: "cdc".into(),
                cn: "cdc".into(),
                kind: Kind::Component(Component::Ticdc),
            },
        ];
        let s = snippet(
            &p,
            Path::new("/etc/tls \"x\""),
            Path::new("/run/credentials/tlsaudit.service"),
        );
        assert!(s.contains("expect = \"refuse\""), "{s}");
        assert!(
            s.contains("[identities.cdc]") && s.contains("component = \"ticdc\""),
            "{s}"
        );
        // A path with quotes reads back as written.
        let doc: toml::Table = s.parse().unwrap();
        let ids = doc["identities"].as_table().unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(
            ids["unlisted-cn"]["cert"].as_str(),
            Some("/etc/tls \"x\"/unlisted-cn.crt")
        );
        assert_eq!(
            ids["cdc"]["key"].as_str(),
            Some("/run/credentials/tlsaudit.service/cdc.key")
        );
    }
}
