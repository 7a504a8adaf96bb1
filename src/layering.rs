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
//! may use whom.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

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

/// A module path from the crate root: `["cli", "input"]`; the root is empty.
type ModPath = Vec<String>;

/// The module a file (relative to `src`, with `/`) defines: `tui/mod.rs` is `tui`,
/// `cli/report.rs` is `cli::report`, `lib.rs` the root.
fn module_of(rel: &str) -> ModPath {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

// ---- Tokens ----------------------------------------------------------------------------

/// A token of Rust source, without comments and literals: a word (identifiers, keywords,
/// numbers), `::`, or one punctuation character; with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Path,
    Punct(char),
}

/// The tokens of `src` with their lines. Comments, strings (raw and byte ones too) and char
/// literals are dropped; a lifetime keeps only its name.
fn tokenize(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut lexer = Lexer {
        c: &c,
        out: Vec::new(),
        line: 1,
    };
    let mut i = 0;
    while i < c.len() {
        let next = lexer.token(i);
        lexer.line += c[i..next.min(c.len())]
            .iter()
            .filter(|&&ch| ch == '\n')
            .count();
        i = next;
    }
    lexer.out
}

/// The characters being read, the tokens so far, and the line of the next one.
struct Lexer<'a> {
    c: &'a [char],
    out: Vec<(Tok, usize)>,
    line: usize,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.c.get(i).copied()
    }

    /// Read the token (or comment, or literal) at `i`; the index after it.
    fn token(&mut self, i: usize) -> usize {
        let at = |k: usize| self.at(i + k);
        match (at(0), at(1), at(2)) {
            (Some('/'), Some('/'), _) => self.until(i, |ch| ch == '\n'),
            (Some('/'), Some('*'), _) => self.block_comment(i),
            (Some('"'), ..) => self.string_end(i, false, 0),
            // A char literal: an escape (up to its closing quote), or one character.
            (Some('\''), Some('\\'), _) => self.until(i + 3, |ch| ch == '\'') + 1,
            (Some('\''), _, Some('\'')) => i + 3,
            (Some(':'), Some(':'), _) => {
                self.out.push((Tok::Path, self.line));
                i + 2
            }
            (Some(ch), ..) if ch.is_alphanumeric() || ch == '_' => self.word(i),
            (Some(ch), ..) => {
                // A lifetime's quote is dropped, its name is a word.
                if !ch.is_whitespace() && ch != '\'' {
                    self.out.push((Tok::Punct(ch), self.line));
                }
                i + 1
            }
            (None, ..) => i + 1,
        }
    }

    /// The first index from `i` whose character is `stop`, or the end.
    fn until(&self, mut i: usize, stop: impl Fn(char) -> bool) -> usize {
        while self.at(i).is_some_and(|ch| !stop(ch)) {
            i += 1;
        }
        i
    }

    /// The index after the (nested) block comment that opens at `i`.
    fn block_comment(&self, mut i: usize) -> usize {
        let mut depth = 0;
        while let Some(ch) = self.at(i) {
            match (ch, self.at(i + 1)) {
                ('/', Some('*')) => (depth, i) = (depth + 1, i + 2),
                ('*', Some('/')) if depth == 1 => return i + 2,
                ('*', Some('/')) => (depth, i) = (depth - 1, i + 2),
                _ => i += 1,
            }
        }
        i
    }

    /// The index after the string whose opening quote is at `i`, closed by a quote and
    /// `hashes` `#`; a raw one has no escapes.
    fn string_end(&self, mut i: usize, raw: bool, hashes: usize) -> usize {
        i += 1;
        while let Some(ch) = self.at(i) {
            i += if ch == '\\' && !raw { 2 } else { 1 };
            if ch == '"' && (0..hashes).all(|k| self.at(i + k) == Some('#')) {
                return i + hashes;
            }
        }
        i
    }

    /// A word at `i`; `r"`, `r#"` and `br"` start raw strings, `b"` and `b'` byte literals.
    fn word(&mut self, start: usize) -> usize {
        let i = self.until(start, |ch| !(ch.is_alphanumeric() || ch == '_'));
        let word: String = self.c[start..i].iter().collect();
        let hashes = (0..).take_while(|k| self.at(i + k) == Some('#')).count();
        match (word.as_str(), self.at(i), self.at(i + hashes)) {
            ("r" | "br", _, Some('"')) => self.string_end(i + hashes, true, hashes),
            // The literal is read next, as a string or a char.
            ("b", Some('"' | '\''), _) => i,
            _ => {
                self.out.push((Tok::Word(word), self.line));
                i
            }
        }
    }
}

/// `tokens` without the items under `#[cfg(test)]` (and their other attributes).
fn without_tests(t: &[(Tok, usize)]) -> Vec<(Tok, usize)> {
    let cfg_test = ["#", "[", "cfg", "(", "test", ")", "]"];
    let is = |tok: &Tok, s: &str| match tok {
        Tok::Word(w) => w == s,
        Tok::Punct(p) => s.len() == 1 && s.starts_with(*p),
        Tok::Path => false,
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let starts = t.len() - i >= cfg_test.len()
            && t[i..].iter().zip(cfg_test).all(|((tok, _), s)| is(tok, s));
        if starts {
            i = item_end(t, i);
        } else {
            out.push(t[i].clone());
            i += 1;
        }
    }
    out
}

/// The index after the item whose attributes start at `i`: up to a `;` outside brackets, or
/// through the `{ .. }` block that ends it.
fn item_end(t: &[(Tok, usize)], mut i: usize) -> usize {
    let mut depth = 0usize;
    while let Some((tok, _)) = t.get(i) {
        i += 1;
        match tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']') => depth = depth.saturating_sub(1),
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            Tok::Punct(';') if depth == 0 => return i,
            _ => {}
        }
    }
    i
}

// ---- Paths -----------------------------------------------------------------------------

/// One path as written (one leaf of a group), with the line of its last segment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PathRef {
    segments: Vec<String>,
    line: usize,
}

/// Every path starting with `crate::`, `super::` or `self::` in `t`, groups expanded.
fn paths(t: &[(Tok, usize)]) -> Vec<PathRef> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let starts = matches!(&t[i].0, Tok::Word(w) if w == "crate" || w == "super" || w == "self")
            && t.get(i + 1).is_some_and(|(k, _)| *k == Tok::Path)
            && (i == 0 || t[i - 1].0 != Tok::Path);
        i = if starts {
            tree(t, i, &[], &mut out)
        } else {
            i + 1
        };
    }
    out
}

/// Read the path (tree) at `i` under `prefix` into `out`; the index after it.
fn tree(t: &[(Tok, usize)], mut i: usize, prefix: &[String], out: &mut Vec<PathRef>) -> usize {
    let mut segments = prefix.to_vec();
    while let Some((Tok::Word(w), line)) = t.get(i) {
        segments.push(w.clone());
        i += 1;
        let more = t.get(i).map(|(k, _)| k) == Some(&Tok::Path);
        match t.get(i + 1).map(|(k, _)| k) {
            Some(Tok::Punct('{')) if more => return group(t, i + 2, &segments, out),
            Some(Tok::Word(_)) if more => i += 1,
            _ => {
                out.push(PathRef {
                    segments,
                    line: *line,
                });
                return i + usize::from(more);
            }
        }
    }
    i
}

/// The trees of a `{ a::b, c, self }` group opened before `i`; the index after its `}`.
fn group(t: &[(Tok, usize)], mut i: usize, prefix: &[String], out: &mut Vec<PathRef>) -> usize {
    while let Some((tok, _)) = t.get(i) {
        match tok {
            Tok::Punct('}') => return i + 1,
            Tok::Word(_) => {
                i = tree(t, i, prefix, out).max(i + 1);
                // `a as b`: the alias is no path.
                while t
                    .get(i)
                    .is_some_and(|(k, _)| !matches!(k, Tok::Punct(',' | '}')))
                {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    i
}

/// The module path `p` names, written in the file of module `from`: leading `crate`,
/// `super` and `self` resolved, inner `self` dropped.
fn absolute(p: &[String], from: &[String]) -> ModPath {
    let mut base: ModPath = from.to_vec();
    let mut rest = p;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        _ => {}
    }
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend(rest.iter().filter(|s| *s != "self").cloned());
    base
}

/// The longest prefix of `p` that is a module of the crate.
fn module_named(p: &[String], modules: &BTreeSet<ModPath>) -> ModPath {
    (0..=p.len())
        .rev()
        .map(|n| p[..n].to_vec())
        .find(|m| modules.contains(m))
        .unwrap_or_default()
}

/// The references of one file (`rel`: its path under `src`, with `/`) against the rule, as
/// `file:line: path: why`.
fn violations(rel: &str, src: &str, modules: &BTreeSet<ModPath>) -> Vec<String> {
    let from = module_of(rel);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in paths(&without_tests(&tokenize(src))) {
        let to = module_named(&absolute(&p.segments, &from), modules);
        if let Some(why) = forbidden(&unit(&from), &unit(&to)) {
            if seen.insert((p.line, to.clone())) {
                let path = p.segments.join("::");
                out.push(format!("src/{rel}:{}: {path}: {why}", p.line));
            }
        }
    }
    out
}

/// Every module of the crate (the files' and their parents').
fn modules_of<'a>(files: impl IntoIterator<Item = &'a String>) -> BTreeSet<ModPath> {
    let mut out = BTreeSet::new();
    for f in files {
        let m = module_of(f);
        for n in 0..=m.len() {
            out.insert(m[..n].to_vec());
        }
    }
    out
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("the source folder is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The library's files (relative to `src`) and their text: not `main.rs` (the binary), nor
/// this test-only one.
fn library_files() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    rust_files(&src)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).expect("under src");
            let rel = rel.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&p).expect("a readable source file");
            (rel, text)
        })
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
    let public: BTreeSet<String> = tokenize(text("cli/mod.rs"))
        .windows(3)
        .filter_map(|w| match w {
            [(Tok::Word(p), _), (Tok::Word(m), _), (Tok::Word(name), _)]
                if p == "pub" && m == "mod" =>
            {
                Some(name.clone())
            }
            _ => None,
        })
        .collect();
    let shared: BTreeSet<String> = SHARED.iter().map(|s| (*s).to_string()).collect();
    assert_eq!(public, shared, "cli/mod.rs's public modules");
}

#[test]
fn a_reference_against_the_rule_is_reported_with_file_and_line() {
    let files = [
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
    ]
    .map(String::from);
    let modules = modules_of(&files);
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

    // Allowed, test code, comments, strings: nothing.
    let quiet = "use crate::cli::input::{self, TidbInputFlags as T};\nuse super::app::App;\n\
        use crate::cli::output;\n// crate::cli::report::run\n/* crate::cli::args */\n\
        const S: &str = \"crate::cli::report\";\nconst R: &str = r#\"crate::cli\"#;\n\
        const C: char = '\"';\nfn f<'a>(x: &'a str) -> &'a str { x }\n\
        #[cfg(test)]\nmod tests {\n    use crate::cli::report::ReportArgs;\n}\n";
    assert_eq!(check("tui/saved.rs", quiet), Vec::<String>::new());
    let dispatch = "use args::Cli;\nfn f() { super::cli::report::run(); crate::tui::run(); }\n";
    assert_eq!(check("cli/mod.rs", dispatch), Vec::<String>::new());
    let args = "use super::report::ReportArgs;\nuse super::diff::DiffArgs;\n";
    assert_eq!(check("cli/args.rs", args), Vec::<String>::new());
    let command = "use crate::cli::input;\nuse crate::progress::Progress;\nuse crate::tui;\n";
    assert_eq!(check("cli/report.rs", command), Vec::<String>::new());
}
