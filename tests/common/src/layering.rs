//! The source scanner behind the layering tests of the engine (`crates/engine/src/layering.rs`)
//! and of the CLI crate (`src/layering.rs`): it finds every `crate::`, `super::` and `self::`
//! path of a source file (a `use` line, a multi-line `use crate::{a::.., b::..}` group, or a
//! path inline in the code), resolves it to the module of the crate it names ([`references`]),
//! and lists the modules a file declares ([`declared_modules`]). Each crate keeps its own rule
//! (who may name whom); this module only reads the sources.
//!
//! Skipped, by decision: test code (an item under `#[cfg(test)]` may use any module to set up
//! its fixtures), comments and doc links, string, byte and char literals (raw ones too).
//!
//! A limit: `super::` inside an inline module other than a test one is resolved as if it were
//! at the file's level.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A module path from the crate root: `["probe", "mysql", "wire"]`; the root is empty.
pub type ModPath = Vec<String>;

/// Every `.rs` file under `dir`, sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
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

/// The `.rs` files under `src` (a crate's source folder), each as its path relative to `src`
/// (with `/`) and its text, sorted by path.
pub fn source_files(src: &Path) -> Vec<(String, String)> {
    rust_files(src)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(src).expect("under the source folder");
            let rel = rel.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&p).expect("a readable source file");
            (rel, text)
        })
        .collect()
}

/// The module a file (relative to `src`, with `/`) defines: `audit/mod.rs` is `audit`,
/// `audit/drift.rs` is `audit::drift`, `lib.rs` the root.
pub fn module_of(rel: &str) -> ModPath {
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

/// Every module of a crate whose files (relative to `src`) are `files`: the files' modules and
/// their parents', the root included.
pub fn modules_of<S: AsRef<str>>(files: impl IntoIterator<Item = S>) -> BTreeSet<ModPath> {
    let mut out = BTreeSet::new();
    for f in files {
        let m = module_of(f.as_ref());
        for n in 0..=m.len() {
            out.insert(m[..n].to_vec());
        }
    }
    out
}

/// One reference of a file to a module of its crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The module named: the path resolved to an absolute one, trimmed to the longest prefix
    /// that is a known module (the root, empty, if none is).
    pub module: ModPath,
    /// The path as written (`crate::audit::Plan`, one leaf of a group with its prefix).
    pub text: String,
    /// The line of the path's last segment.
    pub line: usize,
}

/// The references of one file (`rel`: its path under `src`, with `/`; `src`: its text) to the
/// `modules` of its crate, in the order written; each module once a line, as the first path
/// that names it there. Test code, comments and literals name nothing.
pub fn references(rel: &str, src: &str, modules: &BTreeSet<ModPath>) -> Vec<Reference> {
    let from = module_of(rel);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in paths(&without_tests(&tokenize(src))) {
        let module = module_named(&absolute(&p.segments, &from), modules);
        if seen.insert((p.line, module.clone())) {
            out.push(Reference {
                module,
                text: p.segments.join("::"),
                line: p.line,
            });
        }
    }
    out
}

/// A module a file declares (`mod name;` or `mod name { .. }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModDecl {
    pub name: String,
    /// Declared `pub mod` (not `pub(crate)` nor private).
    pub public: bool,
}

/// The modules `src` declares, in order, test-only ones aside.
pub fn declared_modules(src: &str) -> Vec<ModDecl> {
    let t = without_tests(&tokenize(src));
    let word = |i: usize, w: &str| matches!(t.get(i), Some((Tok::Ident(x), _)) if x == w);
    (0..t.len())
        .filter(|&i| word(i, "mod"))
        .filter_map(|i| match t.get(i + 1) {
            Some((Tok::Ident(name), _)) => Some(ModDecl {
                name: name.clone(),
                public: i > 0 && word(i - 1, "pub"),
            }),
            _ => None,
        })
        .collect()
}

// ---- Tokens ----------------------------------------------------------------------------

/// A token of Rust source, without comments and literals: an identifier (keywords, numbers),
/// `::`, or one punctuation character.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Path,
    Punct(char),
}

/// The tokens of `src` with their line numbers. Comments, strings (raw, byte and C ones too)
/// and char literals are dropped; lifetimes keep only their name.
fn tokenize(src: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = src.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        i: 0,
        line: 1,
        out: Vec::new(),
    };
    lexer.run();
    lexer.out
}

struct Lexer<'a> {
    chars: &'a [char],
    i: usize,
    line: usize,
    out: Vec<(Tok, usize)>,
}

impl Lexer<'_> {
    fn at(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    /// Step over one character, counting lines.
    fn bump(&mut self) {
        if self.at(0) == Some('\n') {
            self.line += 1;
        }
        self.i += 1;
    }

    /// Step over `n` characters, counting lines.
    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    fn run(&mut self) {
        while let Some(c) = self.at(0) {
            match c {
                '/' if self.at(1) == Some('/') => {
                    while self.at(0).is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                '/' if self.at(1) == Some('*') => self.block_comment(),
                '"' => self.string(false, 0),
                '\'' => self.quote(),
                ':' if self.at(1) == Some(':') => {
                    self.out.push((Tok::Path, self.line));
                    self.bump_n(2);
                }
                c if c.is_alphanumeric() || c == '_' => self.word(),
                c if c.is_whitespace() => self.bump(),
                c => {
                    self.out.push((Tok::Punct(c), self.line));
                    self.bump();
                }
            }
        }
    }

    /// A (nested) block comment, from its opening `/*`.
    fn block_comment(&mut self) {
        let mut depth = 0;
        while self.at(0).is_some() {
            if self.at(0) == Some('/') && self.at(1) == Some('*') {
                depth += 1;
                self.bump_n(2);
            } else if self.at(0) == Some('*') && self.at(1) == Some('/') {
                depth -= 1;
                self.bump_n(2);
                if depth == 0 {
                    return;
                }
            } else {
                self.bump();
            }
        }
    }

    /// A string from its opening quote, closed by a quote and `hashes` `#`; a raw one has no
    /// escapes.
    fn string(&mut self, raw: bool, hashes: usize) {
        self.bump();
        while let Some(c) = self.at(0) {
            if c == '\\' && !raw {
                self.bump_n(2);
                continue;
            }
            self.bump();
            if c == '"' && (0..hashes).all(|k| self.at(k) == Some('#')) {
                self.bump_n(hashes);
                return;
            }
        }
    }

    /// A char literal (`'x'`, `'\n'`, `'\u{..}'`), or a lifetime, whose name lexes as a word.
    fn quote(&mut self) {
        if self.at(1) == Some('\\') {
            // The quote, the backslash and the escaped character (maybe a quote), then up to
            // the closing quote (`\u{..}`).
            self.bump_n(3);
            while self.at(0).is_some_and(|c| c != '\'') {
                self.bump();
            }
            self.bump();
        } else if self.at(2) == Some('\'') {
            self.bump_n(3);
        } else {
            self.bump();
        }
    }

    /// An identifier or number; `r"`, `r#"`, `br"` and `cr"` start raw strings, `b"` and
    /// `c"` strings, `b'` a byte.
    fn word(&mut self) {
        let start = self.i;
        while self.at(0).is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.i += 1;
        }
        let word: String = self.chars[start..self.i].iter().collect();
        let hashes = (0..).take_while(|k| self.at(*k) == Some('#')).count();
        match (word.as_str(), self.at(0), self.at(hashes)) {
            ("r" | "br" | "cr", _, Some('"')) => {
                self.bump_n(hashes);
                self.string(true, hashes);
            }
            ("b" | "c", Some('"'), _) => self.string(false, 0),
            ("b", Some('\''), _) => self.quote(),
            _ => self.out.push((Tok::Ident(word), self.line)),
        }
    }
}

/// `tokens` without the items under `#[cfg(test)]` (and the attributes that follow it): test
/// code may use any module.
fn without_tests(tokens: &[(Tok, usize)]) -> Vec<(Tok, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if is_cfg_test(&tokens[i..]) {
            i = skip_item(tokens, i);
        } else {
            out.push(tokens[i].clone());
            i += 1;
        }
    }
    out
}

fn is_cfg_test(t: &[(Tok, usize)]) -> bool {
    let want = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    t.len() >= want.len() && t.iter().zip(&want).all(|((a, _), b)| a == b)
}

/// The index after the item whose attributes start at `i`: its attributes, then up to a `;`
/// outside brackets, or through the `{ .. }` block that ends it.
fn skip_item(t: &[(Tok, usize)], mut i: usize) -> usize {
    while t.get(i).is_some_and(|(k, _)| *k == Tok::Punct('#')) {
        i = after_group(t, i + 1);
    }
    let mut depth = 0usize;
    while let Some((tok, _)) = t.get(i) {
        match tok {
            Tok::Punct('(' | '[') => depth += 1,
            Tok::Punct(')' | ']') => depth = depth.saturating_sub(1),
            Tok::Punct(';') if depth == 0 => return i + 1,
            Tok::Punct('{') if depth == 0 => return after_group(t, i),
            _ => {}
        }
        i += 1;
    }
    i
}

/// The index after the bracketed group that opens at `i`.
fn after_group(t: &[(Tok, usize)], mut i: usize) -> usize {
    let mut depth = 0usize;
    while let Some((tok, _)) = t.get(i) {
        match tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

// ---- Paths -----------------------------------------------------------------------------

/// One path as written (`crate::audit::Plan`, one leaf of a group), and the line of its last
/// segment.
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
        let starts = matches!(&t[i].0, Tok::Ident(w) if w == "crate" || w == "super" || w == "self")
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
    loop {
        let Some((Tok::Ident(w), line)) = t.get(i) else {
            return i;
        };
        segments.push(w.clone());
        let line = *line;
        i += 1;
        if t.get(i).map(|(k, _)| k) != Some(&Tok::Path) {
            out.push(PathRef { segments, line });
            return i;
        }
        i += 1;
        match t.get(i).map(|(k, _)| k) {
            Some(Tok::Punct('{')) => return group(t, i + 1, &segments, out),
            Some(Tok::Punct('*')) => {
                out.push(PathRef { segments, line });
                return i + 1;
            }
            Some(Tok::Ident(_)) => {}
            _ => {
                out.push(PathRef { segments, line });
                return i;
            }
        }
    }
}

/// The trees of a `{ a::b, c, self }` group opened before `i`; the index after its `}`.
fn group(t: &[(Tok, usize)], mut i: usize, prefix: &[String], out: &mut Vec<PathRef>) -> usize {
    while let Some((tok, _)) = t.get(i) {
        match tok {
            Tok::Punct('}') => return i + 1,
            Tok::Ident(_) => {
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

/// The absolute module path `p` names, written in the file of module `from`: leading
/// `crate`, `super` and `self` resolved, inner `self` dropped.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn modules() -> BTreeSet<ModPath> {
        modules_of([
            "lib.rs",
            "error.rs",
            "pki/mod.rs",
            "pki/load.rs",
            "audit/mod.rs",
            "audit/drift.rs",
            "audit/findings.rs",
            "remedy/mod.rs",
            "probe/mod.rs",
            "probe/record.rs",
            "probe/mysql/mod.rs",
            "probe/mysql/wire.rs",
        ])
    }

    /// `(module, text, line)` of each reference.
    fn refs(rel: &str, src: &str) -> Vec<(String, String, usize)> {
        references(rel, src, &modules())
            .into_iter()
            .map(|r| (r.module.join("::"), r.text, r.line))
            .collect()
    }

    fn r(module: &str, text: &str, line: usize) -> (String, String, usize) {
        (module.into(), text.into(), line)
    }

    #[test]
    fn a_file_defines_its_module_and_the_crate_has_their_parents() {
        assert_eq!(module_of("lib.rs"), ModPath::new());
        assert_eq!(module_of("audit/mod.rs"), ["audit"]);
        assert_eq!(module_of("probe/mysql/wire.rs"), ["probe", "mysql", "wire"]);
        let m = modules_of(["lib.rs", "probe/mysql/wire.rs"]);
        let names: Vec<String> = m.iter().map(|p| p.join("::")).collect();
        assert_eq!(names, ["", "probe", "probe::mysql", "probe::mysql::wire"]);
    }

    #[test]
    fn use_lines_groups_and_inline_paths_are_read_with_their_lines() {
        let v = refs(
            "pki/load.rs",
            "use crate::error::InputError;\nuse crate::audit::Plan;\n",
        );
        assert_eq!(
            v,
            [
                r("error", "crate::error::InputError", 1),
                r("audit", "crate::audit::Plan", 2)
            ]
        );
        let v = refs(
            "pki/load.rs",
            "use crate::{\n    error::InputError,\n    audit::{Plan, Snapshot},\n};\n",
        );
        assert_eq!(
            v,
            [
                r("error", "crate::error::InputError", 2),
                r("audit", "crate::audit::Plan", 3)
            ]
        );
        let v = refs(
            "audit/mod.rs",
            "fn f() {\n    let ca = crate::remedy::certs::Ca::generate(\"t\", 1);\n}\n",
        );
        assert_eq!(v, [r("remedy", "crate::remedy::certs::Ca::generate", 2)]);
    }

    #[test]
    fn super_self_globs_and_aliases_resolve_to_modules() {
        let v = refs(
            "audit/drift.rs",
            "use super::{findings::compute, Plan};\nuse super::super::pki::*;\n",
        );
        assert_eq!(
            v,
            [
                r("audit::findings", "super::findings::compute", 1),
                r("audit", "super::Plan", 1),
                r("pki", "super::super::pki", 2)
            ]
        );
        let v = refs(
            "probe/mod.rs",
            "use self::mysql::{self, wire::Frame as F};\nfn g() { self::record::x(); }\n",
        );
        assert_eq!(
            v,
            [
                r("probe::mysql", "self::mysql::self", 1),
                r("probe::mysql::wire", "self::mysql::wire::Frame", 1),
                r("probe::record", "self::record::x", 2)
            ]
        );
        // A path that names no module of the crate names the root.
        assert_eq!(
            refs("lib.rs", "use crate::Thing;\n"),
            [r("", "crate::Thing", 1)]
        );
    }

    #[test]
    fn a_module_is_named_once_a_line() {
        let v = refs(
            "pki/load.rs",
            "fn f() { crate::audit::a(); crate::audit::b(); }\nfn g() { crate::audit::c(); }\n",
        );
        assert_eq!(
            v,
            [
                r("audit", "crate::audit::a", 1),
                r("audit", "crate::audit::c", 2)
            ]
        );
    }

    #[test]
    fn test_code_comments_and_literals_name_nothing() {
        let quiet = "// crate::audit::Plan\n/* crate::audit::Plan /* nested */ crate::x */\n\
            /// [`crate::audit`]\nconst S: &str = \"crate::audit::Plan \\\" crate::x\";\n\
            const R: &str = r#\"crate::audit::Plan \" crate::x\"#;\nconst B: &[u8] = b\"crate::x\";\n\
            const BR: &[u8] = br\"crate::x\";\nconst CS: &CStr = c\"crate::x\";\n\
            const C: char = '\"';\nconst Q: char = '\\'';\nconst U: char = '\\u{22}';\n\
            const BQ: u8 = b'\"';\nfn f<'a>(x: &'a str) -> &'a str { x }\n\
            #[cfg(test)]\nmod tests {\n    use crate::audit::Plan;\n    fn g() { crate::remedy::x(); }\n}\n\
            #[cfg(test)]\n#[allow(dead_code)]\nfn h() -> [u8; 1] { crate::audit::y(); [0] }\n\
            #[cfg(test)]\nuse crate::remedy::z;\n";
        let none: [(String, String, usize); 0] = [];
        assert_eq!(refs("probe/record.rs", quiet), none);
        // What follows them is read, on its own line.
        let after = format!("{quiet}fn k() {{ crate::audit::k(); }}\n");
        let line = after.lines().count();
        assert_eq!(
            refs("probe/record.rs", &after),
            [r("audit", "crate::audit::k", line)]
        );
    }

    #[test]
    fn declared_modules_say_which_are_public() {
        let src = "//! mod doc;\npub mod a;\nmod b;\npub(crate) mod c;\npub mod d {\n}\n\
            #[cfg(test)]\nmod tests;\n";
        let got: Vec<(String, bool)> = declared_modules(src)
            .into_iter()
            .map(|m| (m.name, m.public))
            .collect();
        let want = [("a", true), ("b", false), ("c", false), ("d", true)];
        assert_eq!(got, want.map(|(n, p)| (n.to_string(), p)));
    }
}
