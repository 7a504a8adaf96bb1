//! `tlsaudit init`, `fix` and `rotate`: the command-line side of [`tlsaudit_engine::remedy`]
//! (arguments and the text people read).

use std::fmt::Write;
use std::path::{Path, PathBuf};

use tlsaudit_engine::error::InputError;
use tlsaudit_engine::remedy::{self, CaSource, InitOptions, InitOutput};
use tlsaudit_engine::tiup::{shell_quote, Cluster, TiupOptions};
/// Text from a topology made inert for a terminal: the one sanitizer.
use tlsaudit_report::sanitize::inert_owned as inert;

use crate::cli::input::{self, TidbInputFlags};
use crate::cli::output::emit;

/// `tlsaudit init --topology topology.yaml --out DIR`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// TiUP topology.yaml (or a cluster's meta.yaml): the instances to issue certificates for.
    #[arg(long, value_name = "FILE")]
    pub topology: PathBuf,
    /// The folder to write into (must be empty unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Reuse this CA certificate (with --ca-key), e.g. TiUP's tls/ca.crt.
    #[arg(
        long,
        value_name = "FILE",
        requires = "ca_key",
        conflicts_with = "new_ca"
    )]
    pub ca_cert: Option<PathBuf>,
    /// The key of --ca-cert (TiUP: tls/ca.pem).
    #[arg(long, value_name = "FILE", requires = "ca_cert")]
    pub ca_key: Option<PathBuf>,
    /// Make a new CA (the default without --ca-cert).
    #[arg(long)]
    pub new_ca: bool,
    /// Validity of the instance and client certificates, in days.
    #[arg(long, value_name = "DAYS", default_value = "730", value_parser = clap::value_parser!(u16).range(1..=3650))]
    pub days: u16,
    /// Where each instance's tls folder will be on its host, for the paths in the TOML files
    /// (`{name}` is replaced by the instance name), e.g. /tidb-deploy/{name}/tls. Default: the
    /// folder written here.
    #[arg(long, value_name = "DIR")]
    pub host_dir: Option<String>,
    /// The cluster name (default: meta.yaml's folder or the topology file's name); the client
    /// certificate's CN is NAME-client.
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// The cluster version, e.g. v8.5.0 (PD before v8.4 takes one CN).
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub cluster_version: Option<tlsaudit_engine::profile::Version>,
    /// Replace files in --out.
    #[arg(long)]
    pub force: bool,
}

fn parse_version(s: &str) -> Result<tlsaudit_engine::profile::Version, String> {
    tlsaudit_engine::profile::Version::parse(s)
        .ok_or_else(|| format!("{s:?} is not a version; use e.g. v8.5.0"))
}

/// A path as one word of a printed command line (shell-quoted).
fn path_word(p: &std::path::Path) -> String {
    shell_quote(&p.display().to_string())
}

/// Run `init`; exit 0 when everything was written.
pub fn run_init(args: &InitArgs) -> Result<u8, InputError> {
    let cluster = Cluster::load(&TiupOptions {
        topology: Some(args.topology.clone()),
        cluster_name: args.cluster_name.clone(),
        version: args.cluster_version,
        ..Default::default()
    })?;
    let ca = match (&args.ca_cert, &args.ca_key) {
        (Some(cert), Some(key)) => CaSource::Existing {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => CaSource::New,
    };
    let out = remedy::init(
        &cluster,
        &InitOptions {
            out: args.out.clone(),
            ca,
            days: i64::from(args.days),
            force: args.force,
            host_dir: args.host_dir.clone(),
        },
    )?;
    emit(&render_init(&out));
    Ok(0)
}

/// Text an operator reads: what was written, each list and why, the next steps.
pub fn render_init(o: &InitOutput) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "tlsaudit init: cluster {}, into {}",
        inert(&o.cluster),
        o.out.display()
    );
    let _ = writeln!(
        t,
        "  CA          {}{}",
        o.ca_cert.display(),
        o.ca_key.as_ref().map_or_else(
            || " (reused)".to_string(),
            |k| format!(", key {} (0600)", k.display())
        )
    );
    let _ = writeln!(
        t,
        "  client      {} (CN {})",
        o.client_cert.display(),
        inert(&o.client_cn)
    );
    for i in &o.instances {
        let _ = writeln!(
            t,
            "  {:<11} {} (CN {}, SANs {})",
            i.component.as_str(),
            i.cert.display(),
            inert(&i.cn),
            inert(&i.sans.join(", "))
        );
    }
    let _ = writeln!(t, "\nallow-lists (who needs each component):");
    for l in &o.lists {
        let _ = writeln!(
            t,
            "  {} {} = [{}]",
            l.kind.file_name(),
            l.key,
            inert(&l.cns().join(", "))
        );
        for e in &l.entries {
            let _ = writeln!(t, "      {:<16} {}", inert(&e.cn), e.why);
        }
        if let Some(n) = &l.note {
            let _ = writeln!(t, "      note: {n}");
        }
    }
    let _ = writeln!(t, "\nnext:");
    let _ = writeln!(
        t,
        "  TiUP:   merge {} with `tiup cluster edit-config {}`, then `tiup cluster reload {}`",
        o.tiup_fragment.display(),
        inert(&shell_quote(&o.cluster)),
        inert(&shell_quote(&o.cluster))
    );
    let _ = writeln!(
        t,
        "  manual: copy each <instance>/tls to the host (<deploy_dir>/tls) and merge <instance>/*.toml, then restart"
    );
    let _ = writeln!(
        t,
        "  check:  tlsaudit lint --topology <topology with the fragment> --tls-dir {}",
        inert(&o.ca_cert.parent().map_or_else(String::new, path_word))
    );
    t
}

/// `tlsaudit fix --topology topology.yaml [--from report.json] [--write]`, or
/// `tlsaudit fix --config tlsaudit.toml --from report.json [--write]`.
#[derive(Debug, clap::Args)]
pub struct FixArgs {
    /// An inventory (tlsaudit.toml) instead of a topology: patch its `allowed_cn` lists and name
    /// the component setting and the restart behind each (needs --from).
    #[arg(
        long,
        value_name = "FILE",
        requires = "from",
        conflicts_with_all = ["topology", "component_config", "tls_dir"]
    )]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub tidb: TidbInputFlags,
    /// Fix the findings of this JSON report (`tlsaudit report --format json`) instead of a
    /// lint of the inputs.
    #[arg(long, value_name = "REPORT")]
    pub from: Option<PathBuf>,
    /// Apply the patch to the topology and the --component-config files (atomically, the old
    /// ones kept as FILE.bak); never to a live cluster.
    #[arg(long)]
    pub write: bool,
}

/// The findings to fix: the report's, or a lint of the inputs.
fn issues(
    args: &FixArgs,
    lint: &[tlsaudit_engine::audit::Finding],
    cluster: &Cluster,
) -> Result<Vec<remedy::fix::Issue>, InputError> {
    let Some(path) = &args.from else {
        let cn_of = |name: &Option<String>| {
            name.as_ref().and_then(|n| {
                tlsaudit_engine::profile::Component::from_identity_name(n)
                    .map(|c| remedy::allow::cn_of(c).to_string())
                    .or_else(|| (n == "client").then(|| cluster.tiup_client_cn()).flatten())
            })
        };
        return Ok(lint
            .iter()
            .map(|f| remedy::fix::Issue {
                code: f.code.as_str().to_string(),
                endpoint: f.endpoint.clone(),
                cn: cn_of(&f.identity),
                title: f.title.clone(),
                fix: f.fix.clone(),
            })
            .collect());
    };
    report_issues(path)
}

/// One file and the list changes that edit it: its text before and after.
fn patched(
    path: &std::path::Path,
    topology: &std::path::Path,
    changes: &[remedy::fix::ListChange],
) -> Result<(String, String), InputError> {
    let before =
        tlsaudit_engine::fsutil::read_text_capped(path, tlsaudit_engine::fsutil::MAX_CONFIG)?;
    let after = remedy::patch::apply(&before, path, Some(topology), changes).map_err(|e| {
        InputError::file(
            path,
            e,
            "apply the lists printed by `tlsaudit fix` by hand (tiup cluster edit-config)",
        )
    })?;
    Ok((before, after))
}

/// Run `fix`: print the patch and the commands; `--write` applies it to the topology and the
/// component config files.
pub fn run_fix(args: &FixArgs) -> Result<u8, InputError> {
    if let Some(config) = &args.config {
        return run_fix_inventory(args, config);
    }
    let Some(topology) = args.tidb.topology.clone() else {
        return Err(InputError::usage(
            "fix needs the TiUP topology or the inventory the lists are set in",
            "pass --topology topology.yaml (or the cluster's meta.yaml), or --config \
             tlsaudit.toml with --from report.json",
        ));
    };
    let (cluster, lint) = input::load_tidb(&args.tidb)?;
    let issues = issues(args, &lint, &cluster)?;
    let plan = remedy::fix::plan(&cluster, &issues);
    let mut t = render_fix(&cluster, &plan);
    // Each file the changes edit (the topology first), from the one edit description.
    let mut files: Vec<PathBuf> = vec![topology.clone()];
    for c in &plan.lists {
        if let Some(f) = remedy::patch::file_of(c, Some(&topology)) {
            if !files.contains(&f) {
                files.push(f);
            }
        }
    }
    for path in &files {
        let (before, after) = patched(path, &topology, &plan.lists)?;
        let name = path.display().to_string();
        let diff = remedy::edit::unified_diff(&name, &name, &before, &after);
        if !diff.is_empty() {
            let lines: Vec<String> = diff.lines().map(inert).collect();
            let _ = writeln!(t, "\npatch of {name}:\n{}", lines.join("\n"));
        }
        if args.write && before != after {
            let bak = remedy::edit::write_with_backup(path, &after)?;
            let _ = writeln!(t, "wrote {name} (the old one is {})", bak.display());
        }
    }
    emit(&t);
    Ok(0)
}

/// The findings of a JSON report as `fix` reads them, each with its identity's CN.
fn report_issues(path: &std::path::Path) -> Result<Vec<remedy::fix::Issue>, InputError> {
    let doc = tlsaudit_report::Report::load(path)?;
    Ok(doc
        .findings
        .iter()
        .map(|f| remedy::fix::Issue {
            code: f.code.as_str().to_string(),
            endpoint: f.endpoint.clone(),
            cn: f.identity.as_ref().and_then(|i| {
                doc.identities
                    .iter()
                    .find(|d| &d.name == i)
                    .and_then(|d| d.cn.clone())
            }),
            title: f.title.clone(),
            fix: f.fix.clone(),
        })
        .collect())
}

/// `fix --config`: the report's findings as a patch of the inventory's lists, the component
/// settings they stand for and the restarts; `--write` patches the inventory.
fn run_fix_inventory(args: &FixArgs, config: &std::path::Path) -> Result<u8, InputError> {
    let inv = tlsaudit_engine::inventory::Inventory::load(config)?;
    let Some(from) = &args.from else {
        return Err(InputError::usage(
            "fix --config needs the findings of an audit of that inventory",
            "pass --from report.json (`tlsaudit report --config FILE --format json -o report.json`)",
        ));
    };
    let issues = report_issues(from)?;
    let plan = remedy::inventory::plan(&inv, &issues);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "tlsaudit fix: cluster {}: {} finding(s) fixed by this patch, {} not",
        inert(&inv.cluster),
        plan.fixed.len(),
        plan.not_fixed.len()
    );
    for i in &plan.fixed {
        let _ = writeln!(t, "  fixes {} {}", i.code, inert(&i.title));
    }
    let before =
        tlsaudit_engine::fsutil::read_text_capped(config, tlsaudit_engine::fsutil::MAX_CONFIG)?;
    let after = remedy::inventory::patch(&before, config, &plan.lists)?;
    let name = config.display().to_string();
    let diff = remedy::edit::unified_diff(&name, &name, &before, &after);
    if !diff.is_empty() {
        let lines: Vec<String> = diff.lines().map(inert).collect();
        let _ = writeln!(t, "\npatch of {name}:\n{}", lines.join("\n"));
    }
    let _ = writeln!(t, "\napply, server by server:");
    for (n, c) in remedy::inventory::commands(&plan, config, from)
        .iter()
        .enumerate()
    {
        let _ = writeln!(t, "  {}. {}", n + 1, inert(c));
    }
    write_not_fixed(&mut t, &plan.not_fixed);
    if args.write && before != after {
        let bak = remedy::edit::write_with_backup(config, &after)?;
        let _ = writeln!(t, "\nwrote {name} (the old one is {})", bak.display());
    }
    emit(&t);
    Ok(0)
}

/// The findings a patch leaves, each with its fix.
fn write_not_fixed(t: &mut String, not_fixed: &[remedy::fix::Issue]) {
    if !not_fixed.is_empty() {
        let _ = writeln!(t, "\nnot fixed by this patch (do it by hand):");
        for i in not_fixed {
            let _ = writeln!(
                t,
                "  {} {}\n      fix: {}",
                i.code,
                inert(&i.title),
                inert(&i.fix)
            );
        }
    }
}

/// The plan as text: the edit-config fragment, the component files' lines, the commands,
/// what is not fixed here.
pub fn render_fix(cluster: &Cluster, plan: &remedy::fix::FixPlan) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "tlsaudit fix: cluster {}: {} finding(s) fixed by this patch, {} not",
        inert(&cluster.name),
        plan.fixed.len(),
        plan.not_fixed.len()
    );
    for i in &plan.fixed {
        let _ = writeln!(t, "  fixes {} {}", i.code, inert(&i.title));
    }
    let fragment = remedy::patch::fragment(&plan.lists);
    if !fragment.is_empty() {
        let _ = writeln!(t, "\ntiup cluster edit-config fragment:");
        let lines: Vec<String> = fragment.lines().map(inert).collect();
        let _ = writeln!(t, "{}", lines.join("\n"));
    }
    let files = remedy::patch::component_lines(&plan.lists);
    if !files.is_empty() {
        let _ = writeln!(t, "\nin the component config files:");
        for l in files {
            let _ = writeln!(t, "  {}", inert(&l));
        }
    }
    let _ = writeln!(t, "\napply, with the cluster up:");
    for (n, c) in remedy::fix::commands(cluster, plan).iter().enumerate() {
        let _ = writeln!(t, "  {}. {}", n + 1, inert(c));
    }
    write_not_fixed(&mut t, &plan.not_fixed);
    t
}

/// `tlsaudit rotate --topology topology.yaml --out DIR --ca-cert ca.crt --ca-key ca.pem`.
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// TiUP topology.yaml (or a cluster's meta.yaml): the instances to re-issue for.
    #[arg(long, value_name = "FILE")]
    pub topology: PathBuf,
    /// The folder to write into (must be empty unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The cluster's CA certificate (TiUP: tls/ca.crt); the new leaves chain to it.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: PathBuf,
    /// Its key (TiUP: tls/ca.pem).
    #[arg(long, value_name = "FILE")]
    pub ca_key: PathBuf,
    /// Validity of the new certificates, in days.
    #[arg(long, value_name = "DAYS", default_value = "730", value_parser = clap::value_parser!(u16).range(1..=3650))]
    pub days: u16,
    /// The cluster name (the client certificate's CN is NAME-client).
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// Replace files in --out.
    #[arg(long)]
    pub force: bool,
}

/// Run `rotate`: write the new certificates, print the rolling order and the checks.
pub fn run_rotate(args: &RotateArgs) -> Result<u8, InputError> {
    let cluster = Cluster::load(&TiupOptions {
        topology: Some(args.topology.clone()),
        cluster_name: args.cluster_name.clone(),
        ..Default::default()
    })?;
    let out = remedy::rotate::rotate(
        &cluster,
        &remedy::rotate::RotateOptions {
            out: args.out.clone(),
            ca_cert: args.ca_cert.clone(),
            ca_key: args.ca_key.clone(),
            days: i64::from(args.days),
            force: args.force,
        },
    )?;
    emit(&render_rotate(&out, &args.topology, &args.ca_cert));
    Ok(0)
}

/// The rolling order: for each instance the commands that copy its new files, reload it and
/// check it, every placeholder filled from the inputs (the TiUP folder is `--ca-cert`'s).
pub fn render_rotate(o: &remedy::rotate::RotateOutput, topology: &Path, ca_cert: &Path) -> String {
    let tls = ca_cert.parent().unwrap_or(Path::new("."));
    let audit = format!(
        "tlsaudit report --topology {} --tls-dir {}",
        path_word(topology),
        path_word(tls)
    );
    let mut t = String::new();
    let _ = writeln!(
        t,
        "tlsaudit rotate: cluster {}, {} new certificate(s) from the same CA, into {}\nwhat was issued: {} (the audit's --expect-rotation)",
        inert(&o.cluster),
        o.steps.len(),
        o.out.display(),
        o.manifest.display()
    );
    let _ = writeln!(
        t,
        "\nbefore: {} --format json -o before.json",
        inert(&audit)
    );
    let _ = writeln!(
        t,
        "the CA is unchanged: no restart; each component reads its new certificate for new connections\n(TiKV's status port only after a handshake error: the reload below covers it)"
    );
    let gate = format!(
        "{audit} --expect-rotation {} --baseline before.json --fail-on warning",
        path_word(&o.manifest)
    );
    for (n, step) in o.steps.iter().enumerate() {
        let _ = writeln!(t);
        rotate_step(&mut t, n + 1, o, step, tls);
        let scope: String = step
            .endpoints
            .iter()
            .map(|e| format!(" --endpoint {}", shell_quote(e)))
            .collect();
        let outcome = if step.node.is_empty() {
            "exit 0: the rotation is complete; exit 1: an instance does not serve its new certificate (ROTATION_NOT_APPLIED) or a finding appeared"
        } else {
            "exit 0: go on; exit 1: it does not serve its new certificate (ROTATION_NOT_APPLIED) or a finding appeared: stop and fix it first"
        };
        let _ = writeln!(
            t,
            "   check:  {}{}\n           {outcome}",
            inert(&gate),
            inert(&scope)
        );
    }
    let _ = writeln!(
        t,
        "\nat the end: {} --expect-rotation {} --format json -o after.json; tlsaudit diff before.json after.json\n(server certificates changed, no verdict changed)",
        inert(&audit),
        inert(&path_word(&o.manifest))
    );
    t
}

/// One step's copy and reload commands.
fn rotate_step(
    t: &mut String,
    n: usize,
    o: &remedy::rotate::RotateOutput,
    step: &remedy::rotate::Step,
    tls: &Path,
) {
    let cluster = Some(o.cluster.as_str());
    if step.node.is_empty() {
        let _ = writeln!(t, "{n}. TiUP's client certificate, on this machine:");
        for (file, name) in [(&step.cert, "client.crt"), (&step.key, "client.pem")] {
            let _ = writeln!(
                t,
                "   copy:   cp {} {}",
                inert(&path_word(file)),
                inert(&path_word(&tls.join(name)))
            );
        }
        return;
    }
    let _ = writeln!(t, "{n}. {} ({}):", inert(&step.instance), inert(&step.node));
    // The topology gives every instance's deploy dir (its own, or TiUP's default).
    let remote = step.deploy_dir.as_deref().unwrap_or("<deploy_dir>");
    for file in [&step.cert, &step.key] {
        let name = file
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        let push = tlsaudit_engine::tiup::push_command(
            cluster,
            &file.display().to_string(),
            &format!("{}/tls/{name}", remote.trim_end_matches('/')),
            &step.node,
        );
        let _ = writeln!(t, "   copy:   {}", inert(&push));
    }
    let _ = writeln!(
        t,
        "   reload: {}",
        inert(&tlsaudit_engine::tiup::reload_command(cluster, &step.node))
    );
}
