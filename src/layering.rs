//! The CLI crate's layering (the rule in `lib.rs`'s doc), checked: every `crate::`, `super::`
//! and `self::` path of every source file (a `use` line, a group `use crate::{a::.., b::..}`
//! over several lines, or a path inline in the code) is resolved to the module it names, and
//! that module's [`Unit`] must be one the file's unit may use ([`forbidden`]).
//!
//! Not checked, by decision: test code (an item under `#[cfg(test)]` may use anything to set
//! up its fixtures), comments and literals, and paths relative to a child module (`mod.rs`
//! naming its own files, which are of its unit). `main.rs` is another crate: it reaches the
//! library through `tlsaudit::cli::main`, and the command files are private to `cli`.
//!
//! Simpler than the engine's (`crates/engine/src/layering.rs`): no order of files, only who
//! may use whom. Both read the sources with the scanner of the test kit
//! (`tlsaudit_testkit::layering`); this file holds the CLI crate's rule.

use std::collections::BTreeSet;
use std::path::Path;

use tlsaudit_testkit::layering::{
    declared_modules, module_of, modules_of, references, source_files, ModPath,
};

/// The front ends: the top-level modules besides `cli`.
const FRONT_ENDS: &[&str] = &["tui", "serve", "progress", "demo"];

/// The front ends that may use another (from, to): none today. An entry here is documented in
/// `lib.rs` too.
const FRONT_END_USES: &[(&str, &str)] = &[];

/// The files of `cli/` every command shares, which the front ends may use too.
const SHARED: &[&str] = &["input", "output"];

/// What a module is, for the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Unit {
    /// `lib.rs`.
    Root,
    /// `cli/mod.rs`: parses, dispatches, exit codes.
    Dispatch,
    /// `cli/args.rs`: `Cli` and `Command`.
    Args,
    /// `cli/input.rs` or `cli/output.rs`.
    Shared(String),
    /// A command file of `cli/`.
    Command(String),
    /// A front end, with its submodules.
    FrontEnd(String),
    /// Not classified (a new top-level module): the test of the lists fails on it.
    Unknown(String),
}

fn unit(m: &[String]) -> Unit {
    match m {
        [] => Unit::Root,
        [c] if c == "cli" => Unit::Dispatch,
        [c, a, ..] if c == "cli" && a == "args" => Unit::Args,
        [c, s, ..] if c == "cli" && SHARED.contains(&s.as_str()) => Unit::Shared(s.clone()),
        [c, f, ..] if c == "cli" => Unit::Command(f.clone()),
        [f, ..] if FRONT_ENDS.contains(&f.as_str()) => Unit::FrontEnd(f.clone()),
        [f, ..] => Unit::Unknown(f.clone()),
    }
}

/// Why a module of unit `from` may not use one of unit `to`, if it may not.
fn forbidden(from: &Unit, to: &Unit) -> Option<&'static str> {
    use Unit::{Args, Command, Dispatch, FrontEnd, Root, Shared};
    match (from, to) {
        _ if from == to => None,
        (Root | Dispatch, _) | (_, Root) | (Args, Command(_)) => None,
        (_, Command(_)) => Some("only cli/mod.rs and cli/args.rs use the command files"),
        (_, Args) => Some("only cli/mod.rs uses cli::args"),
        (_, Dispatch) => Some("cli/mod.rs is the top: only main.rs calls it"),
        (Shared(_), _) => {
            Some("cli::input and cli::output are the bottom: they use no other module of the crate")
        }
        (Args, _) => Some("cli::args names only the command files' argument structs"),
        (FrontEnd(f), FrontEnd(g)) => (!FRONT_END_USES.contains(&(f.as_str(), g.as_str())))
            .then_some("front ends do not use each other (FRONT_END_USES lists the exceptions)"),
        _ => None,
    }
}

/// The references of one file (`rel`: its path under `src`, with `/`) against the rule, as
/// `file:line: path: why`.
fn violations(rel: &str, src: &str, modules: &BTreeSet<ModPath>) -> Vec<String> {
    let from = unit(&module_of(rel));
    references(rel, src, modules)
        .into_iter()
        .filter_map(|r| {
            let why = forbidden(&from, &unit(&r.module))?;
            Some(format!("src/{rel}:{}: {}: {why}", r.line, r.text))
        })
        .collect()
}

/// The library's files (relative to `src`) and their text: not `main.rs` (the binary), nor
/// this test-only one.
fn library_files() -> Vec<(String, String)> {
    source_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
        .into_iter()
        .filter(|(rel, _)| rel != "main.rs" && rel != "layering.rs")
        .collect()
}

#[test]
fn every_module_uses_only_what_the_rule_allows() {
    let files = library_files();
    let modules = modules_of(files.iter().map(|(r, _)| r));
    let found: Vec<String> = files
        .iter()
        .flat_map(|(rel, text)| violations(rel, text, &modules))
        .collect();
    assert!(
        found.is_empty(),
        "{} reference(s) against the layering (lib.rs's doc, layering.rs):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn every_module_is_classified_and_the_doc_says_the_front_ends() {
    let files = library_files();
    for (rel, _) in &files {
        let m = module_of(rel);
        assert!(
            !matches!(unit(&m), Unit::Unknown(_)),
            "src/{rel}: a top-level module that is neither cli nor a front end (FRONT_ENDS)"
        );
    }
    let text = |name: &str| &files.iter().find(|(r, _)| r == name).expect(name).1;
    let doc: Vec<&str> = text("lib.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .flat_map(str::split_whitespace)
        .collect();
    let names: Vec<String> = FRONT_ENDS.iter().map(|f| format!("`{f}`")).collect();
    let said = format!("The front ends ({})", names.join(", "));
    assert!(
        doc.join(" ").contains(&said),
        "lib.rs's doc must say {said:?}"
    );
    // Only the shared files of cli are public: the command files and args are private.
    let public: BTreeSet<String> = declared_modules(text("cli/mod.rs"))
        .into_iter()
        .filter_map(|m| m.public.then_some(m.name))
        .collect();
    let shared: BTreeSet<String> = SHARED.iter().map(|s| (*s).to_string()).collect();
    assert_eq!(public, shared, "cli/mod.rs's public modules");
}

#[test]
fn a_reference_against_the_rule_is_reported_with_file_and_line() {
    let modules = modules_of([
        "lib.rs",
        "cli/mod.rs",
        "cli/args.rs",
        "cli/input.rs",
        "cli/output.rs",
        "cli/report.rs",
        "cli/diff.rs",
        "tui/mod.rs",
        "tui/saved.rs",
        "tui/app/mod.rs",
        "serve/mod.rs",
        "progress.rs",
    ]);
    let check = |rel: &str, src: &str| violations(rel, src, &modules);

    // A front end naming a command file, args, the dispatcher, another front end.
    let v = check(
        "tui/saved.rs",
        "use crate::cli::output::write;\nuse crate::cli::report::ReportArgs;\n",
    );
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].starts_with("src/tui/saved.rs:2: crate::cli::report::ReportArgs: only cli/mod.rs"),
        "{v:?}"
    );
    let v = check(
        "serve/mod.rs",
        "use crate::{\n    cli::input::apply,\n    cli::{args::Cli, main},\n    tui::run,\n};\n",
    );
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(
        v[0].contains(":3: crate::cli::args::Cli: only cli/mod.rs uses cli::args"),
        "{v:?}"
    );
    assert!(
        v[1].contains(":3: crate::cli::main: cli/mod.rs is the top"),
        "{v:?}"
    );
    assert!(
        v[2].contains(":4: crate::tui::run: front ends do not use each other"),
        "{v:?}"
    );
    // A command naming another inline; the shared files naming what is above them.
    let v = check("cli/diff.rs", "fn f() {\n    super::report::run();\n}\n");
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].contains("src/cli/diff.rs:2: super::report::run: "),
        "{v:?}"
    );
    let v = check(
        "cli/output.rs",
        "use super::input::apply;\nuse crate::tui::App;\n",
    );
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].contains("are the bottom"), "{v:?}");

    // Allowed: nothing. (Test code, comments and literals name nothing: the scanner's tests.)
    let quiet = "use crate::cli::input::{self, TidbInputFlags as T};\nuse super::app::App;\n\
        use crate::cli::output;\n";
    assert_eq!(check("tui/saved.rs", quiet), Vec::<String>::new());
    let dispatch = "use args::Cli;\nfn f() { super::cli::report::run(); crate::tui::run(); }\n";
    assert_eq!(check("cli/mod.rs", dispatch), Vec::<String>::new());
    let args = "use super::report::ReportArgs;\nuse super::diff::DiffArgs;\n";
    assert_eq!(check("cli/args.rs", args), Vec::<String>::new());
    let command = "use crate::cli::input;\nuse crate::progress::Progress;\nuse crate::tui;\n";
    assert_eq!(check("cli/report.rs", command), Vec::<String>::new());
}
