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
}

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
    fn missing_file_names_the_path() {
        let p = Path::new("/definitely/not/here.pem");
        let err = std::fs::read(p).unwrap_err();
        let e = InputError::io(p, &err);
        assert!(e
            .to_string()
            .starts_with("/definitely/not/here.pem: file not found"));
    }
}
