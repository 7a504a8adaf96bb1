//! Errors for bad input: every one names the file (or flag) and says what to do.

use std::fmt;
use std::path::{Path, PathBuf};

/// An input problem the user can fix. Displayed as one line:
/// `<file>: <problem>; <fix>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    /// A file could not be used.
    File {
        path: PathBuf,
        problem: String,
        fix: String,
    },
    /// A config file with a position (1-based line and column).
    Config {
        path: PathBuf,
        line: usize,
        column: usize,
        problem: String,
        fix: String,
    },
    /// A flag or argument is wrong.
    Usage { problem: String, fix: String },
    /// Several problems found in one pass over the inputs (at most [`MAX_ERRORS`] kept), so
    /// that one run reports them all. Displayed one per line.
    Many {
        errors: Vec<InputError>,
        /// How many more were found beyond those kept.
        more: usize,
    },
}

/// How many input errors one run reports.
pub const MAX_ERRORS: usize = 20;

impl InputError {
    pub fn file(path: &Path, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        InputError::File {
            path: path.to_path_buf(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    pub fn usage(problem: impl Into<String>, fix: impl Into<String>) -> Self {
        InputError::Usage {
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// A file could not be read: turn the io error into words and a fix.
    pub fn io(path: &Path, err: &std::io::Error) -> Self {
        use std::io::ErrorKind;
        let (problem, fix) = match err.kind() {
            ErrorKind::NotFound => (
                "file not found".to_string(),
                "check the path (relative paths resolve against the current directory or the config file's folder)",
            ),
            ErrorKind::PermissionDenied => (
                "permission denied".to_string(),
                "run as a user that can read it, or fix its mode",
            ),
            _ if path.is_dir() => (
                "is a directory, not a file".to_string(),
                "name the file inside it",
            ),
            _ => (format!("cannot read: {err}"), "check the file"),
        };
        InputError::file(path, problem, fix)
    }

    /// Every error of a pass: `Ok` for none, the error itself for one, [`InputError::Many`]
    /// (capped at [`MAX_ERRORS`], duplicates dropped) for several.
    pub fn collect(errors: Vec<InputError>) -> Result<(), InputError> {
        let mut flat: Vec<InputError> = Vec::new();
        let mut dropped: Vec<InputError> = Vec::new();
        let mut more = 0;
        for e in errors {
            let (items, extra) = match e {
                InputError::Many { errors, more } => (errors, more),
                e => (vec![e], 0),
            };
            more += extra;
            for e in items {
                if flat.contains(&e) || dropped.contains(&e) {
                    continue;
                }
                if flat.len() < MAX_ERRORS {
                    flat.push(e);
                } else {
                    dropped.push(e);
                    more += 1;
                }
            }
        }
        match flat.len() {
            0 => Ok(()),
            1 if more == 0 => Err(flat.remove(0)),
            _ => Err(InputError::Many { errors: flat, more }),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::File { path, problem, fix } => {
                write!(f, "{}: {problem}; {fix}", path.display())
            }
            InputError::Config {
                path,
                line,
                column,
                problem,
                fix,
            } => write!(f, "{}:{line}:{column}: {problem}; {fix}", path.display()),
            InputError::Usage { problem, fix } => write!(f, "{problem}; {fix}"),
            // The first line follows the caller's `error: ` prefix; the others carry their own.
            InputError::Many { errors, more } => {
                for (n, e) in errors.iter().enumerate() {
                    if n > 0 {
                        f.write_str("\nerror: ")?;
                    }
                    write!(f, "{e}")?;
                }
                let total = errors.len() + more;
                if *more > 0 {
                    write!(
                        f,
                        "\nerror: {total} input errors, the first {} shown; fix them and run again",
                        errors.len()
                    )
                } else {
                    write!(f, "\nerror: {total} input errors; fix them and run again")
                }
            }
        }
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_error_is_one_line_with_path_and_fix() {
        let e = InputError::file(Path::new("/x/ca.crt"), "is empty", "point --ca at ca.crt");
        assert_eq!(e.to_string(), "/x/ca.crt: is empty; point --ca at ca.crt");
    }

    #[test]
    fn several_errors_are_one_per_line_and_capped() {
        let e = |n: usize| InputError::Config {
            path: "t.yaml".into(),
            line: n,
            column: 1,
            problem: "bad".into(),
            fix: "fix it".into(),
        };
        assert_eq!(InputError::collect(vec![]), Ok(()));
        assert_eq!(InputError::collect(vec![e(1), e(1)]), Err(e(1)));
        let many = InputError::collect((1..=25).chain(20..=25).map(e).collect()).unwrap_err();
        let text = many.to_string();
        assert_eq!(text.lines().count(), MAX_ERRORS + 1, "{text}");
        assert!(text.starts_with("t.yaml:1:1: bad; fix it\nerror: t.yaml:2:1: bad"));
        assert!(
            text.ends_with("error: 25 input errors, the first 20 shown; fix them and run again")
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let p = Path::new("/definitely/not/here.pem");
        let err = std::fs::read(p).unwrap_err();
        let e = InputError::io(p, &err);
        assert!(e
            .to_string()
            .starts_with("/definitely/not/here.pem: file not found"));
    }
}
