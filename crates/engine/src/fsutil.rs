//! Writing output files safely: the one atomic write every command uses (reports, diffs, the
//! dashboard's export, the demo's inventory, `fix --write`).
//!
//! A file is written to a temporary file in the same folder (created with `O_EXCL`, so it is
//! never an existing file or a planted symlink), flushed to disk, then renamed over the target:
//! a reader sees the old content or the new, never half of it, and a failed write leaves
//! nothing behind. A target that is a symlink is refused rather than followed (`rename`
//! would replace the link, and writing through it could change a file elsewhere).
//! [`write_new`] never replaces an existing file at all.
//!
//! And the one bounded read every input goes through ([`read_capped`], [`read_text_capped`]):
//! only a regular file is read (a device such as `/dev/zero` would never end, a FIFO would
//! hang until a writer came), and never more than a documented size: [`MAX_PEM`] for
//! certificates, keys and password files, [`MAX_CONFIG`] for configs and topologies,
//! [`MAX_REPORT`] for reports read back (`report --from`, `merge`, `diff`); [`read_stdin_capped`]
//! bounds standard input (`explain -`) the same way.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::InputError;

/// Why an output file could not be written. Displayed as `cannot write <path>: <reason>; <fix>`.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}", message(self))]
    Symlink(PathBuf),
    #[error("{}", message(self))]
    Directory(PathBuf),
    #[error("{}", message(self))]
    Exists(PathBuf),
    #[error("{}", message(self))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl WriteError {
    pub fn path(&self) -> &Path {
        match self {
            WriteError::Symlink(p) | WriteError::Directory(p) | WriteError::Exists(p) => p,
            WriteError::Io { path, .. } => path,
        }
    }

    /// `cannot write <path>: <reason>` and what to do about it.
    pub fn problem_and_fix(&self) -> (String, String) {
        use std::io::ErrorKind;
        let (reason, fix) = match self {
            WriteError::Symlink(_) => (
                "it is a symlink".to_string(),
                "name the file it points to, or remove the link".to_string(),
            ),
            WriteError::Directory(_) => (
                "it is a directory".to_string(),
                "name a file inside it".to_string(),
            ),
            WriteError::Exists(_) => (
                "it already exists".to_string(),
                "choose another name".to_string(),
            ),
            WriteError::Io { path, source } => match source.kind() {
                ErrorKind::NotFound => (
                    format!("the folder {} does not exist", folder(path).display()),
                    "create it or choose another path".to_string(),
                ),
                ErrorKind::PermissionDenied => (
                    format!("permission denied in {}", folder(path).display()),
                    "choose a folder you can write to".to_string(),
                ),
                _ => (
                    source.to_string(),
                    "check the folder and the disk".to_string(),
                ),
            },
        };
        (
            format!("cannot write {}: {reason}", self.path().display()),
            fix,
        )
    }
}

fn message(e: &WriteError) -> String {
    let (problem, fix) = e.problem_and_fix();
    format!("{problem}; {fix}")
}

/// An output write error as an input error (exit code 2).
impl From<WriteError> for InputError {
    fn from(e: WriteError) -> Self {
        let (problem, fix) = e.problem_and_fix();
        InputError::usage(problem, fix)
    }
}

fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Refuse a target that is a symlink or a directory (checked without following links).
fn check_target(path: &Path) -> Result<Option<std::fs::Metadata>, WriteError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(WriteError::Symlink(path.to_path_buf())),
        Ok(m) if m.is_dir() => Err(WriteError::Directory(path.to_path_buf())),
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(WriteError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A temporary file next to `path`, created exclusively; removed on drop unless kept.
struct Temp {
    path: PathBuf,
    keep: bool,
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Write `data` into a new temporary file beside `path` and flush it to disk; created with
/// `mode` when given (a key is 0600 from its first byte, never wider for a moment), else with
/// the mode of the file it replaces (`like`).
fn write_temp(
    path: &Path,
    data: &[u8],
    like: Option<&std::fs::Metadata>,
    mode: Option<u32>,
) -> Result<Temp, WriteError> {
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut attempt = 0u32;
    let (file, temp) = loop {
        let candidate = folder(path).join(format!(
            ".{name}.{}.{attempt}.tlsaudit-tmp",
            std::process::id()
        ));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        if let Some(mode) = mode {
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
        }
        match opts.open(&candidate) {
            Ok(f) => {
                break (
                    f,
                    Temp {
                        path: candidate,
                        keep: false,
                    },
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(io(e)),
        }
    };
    let mut file = file;
    file.write_all(data).map_err(io)?;
    if let Some(m) = like.filter(|_| mode.is_none()) {
        // Keep the mode of the file being replaced (a report someone made private stays so).
        file.set_permissions(m.permissions()).map_err(io)?;
    }
    file.sync_all().map_err(io)?;
    Ok(temp)
}

/// Flush the folder's entry for a renamed file (best effort: not every system allows it).
fn sync_folder(path: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(folder(path)) {
        let _ = d.sync_all();
    }
}

/// Replace (or create) `path` with `data` atomically. Refuses a symlink or a directory. A
/// device or a FIFO (`-o /dev/null`) is written to in place: renaming over it would replace
/// the device node.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), WriteError> {
    replace_atomic(path, data, None)
}

/// [`write_atomic`] of a file created with `mode` whatever the file it replaces had (a private
/// key: 0600).
pub fn write_atomic_mode(path: &Path, data: &[u8], mode: u32) -> Result<(), WriteError> {
    replace_atomic(path, data, Some(mode))
}

fn replace_atomic(path: &Path, data: &[u8], mode: Option<u32>) -> Result<(), WriteError> {
    let existing = check_target(path)?;
    if existing.as_ref().is_some_and(|m| !m.file_type().is_file()) {
        let io = |source| WriteError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io)?;
        return f.write_all(data).and_then(|()| f.flush()).map_err(io);
    }
    let mut temp = write_temp(path, data, existing.as_ref(), mode)?;
    std::fs::rename(&temp.path, path).map_err(|source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    temp.keep = true;
    sync_folder(path);
    Ok(())
}

/// Create `path` with `data` atomically; never replaces anything ([`WriteError::Exists`] when
/// something, even a dangling symlink, has the name). The complete file appears at once: the
/// temporary file is hard-linked to the name, which fails if the name is taken.
pub fn write_new(path: &Path, data: &[u8]) -> Result<(), WriteError> {
    create_new(path, data, None)
}

/// [`write_new`] of a file created with `mode` (a private key: 0600).
pub fn write_new_mode(path: &Path, data: &[u8], mode: u32) -> Result<(), WriteError> {
    create_new(path, data, Some(mode))
}

fn create_new(path: &Path, data: &[u8], mode: Option<u32>) -> Result<(), WriteError> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(WriteError::Exists(path.to_path_buf()));
    }
    let temp = write_temp(path, data, None, mode)?;
    match std::fs::hard_link(&temp.path, path) {
        Ok(()) => {
            sync_folder(path);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(WriteError::Exists(path.to_path_buf()))
        }
        Err(source) => Err(WriteError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// [`write_new`] under `stem.ext`, or `stem-2.ext`, `stem-3.ext`... when taken: the path
/// written.
pub fn write_new_numbered(
    folder: &Path,
    stem: &str,
    ext: &str,
    data: &[u8],
) -> Result<PathBuf, WriteError> {
    let mut n = 1u32;
    loop {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        };
        let path = folder.join(name);
        match write_new(&path, data) {
            Err(WriteError::Exists(_)) if n < 1000 => n += 1,
            r => return r.map(|()| path),
        }
    }
}

/// The most bytes read from a certificate, key, CA bundle or password file: 1 MiB (a CA
/// bundle of a few hundred certificates; a key is a few kilobytes).
pub const MAX_PEM: u64 = 1 << 20;
/// The most bytes read from a config, an inventory, a topology or standard input: 16 MiB.
pub const MAX_CONFIG: u64 = 16 << 20;
/// The most bytes read from a JSON report read back: 512 MiB (a fleet's report of 100,000
/// endpoints x 2 identities is a few hundred megabytes).
pub const MAX_REPORT: u64 = 512 << 20;

/// `1 MiB`, `16 MiB`: a cap in words.
pub fn size_words(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// The bytes of the regular file `path`, at most `limit` of them. A device, a FIFO, a socket
/// or a directory is refused before it is opened (opening a FIFO blocks until a writer comes;
/// `/dev/zero` never ends); a file larger than `limit` is refused without being read whole.
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let meta = std::fs::metadata(path).map_err(|e| InputError::io(path, &e))?;
    check_regular(path, &meta)?;
    let file = std::fs::File::open(path).map_err(|e| InputError::io(path, &e))?;
    // The file opened may not be the one looked at (replaced in between): look again.
    let meta = file.metadata().map_err(|e| InputError::io(path, &e))?;
    check_regular(path, &meta)?;
    if meta.len() > limit {
        return Err(too_large(path, limit));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // A file that grows while read (or a /proc file, whose size says 0) stops at the cap.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::io(path, &e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(path, limit));
    }
    Ok(bytes)
}

/// The text of the regular file `path` (UTF-8), at most `limit` bytes; as [`read_capped`].
pub fn read_text_capped(path: &Path, limit: u64) -> Result<String, InputError> {
    String::from_utf8(read_capped(path, limit)?).map_err(|_| {
        InputError::file(
            path,
            "is not UTF-8 text",
            "check that it is the file meant (a text file)",
        )
    })
}

/// Standard input as text, at most `limit` bytes (`what` names it in the error).
pub fn read_stdin_capped(limit: u64, what: &str) -> Result<String, InputError> {
    read_reader_capped(std::io::stdin().lock(), limit, what)
}

/// What `reader` yields as text, at most `limit` bytes; `what` names it in the error.
pub fn read_reader_capped(reader: impl Read, limit: u64, what: &str) -> Result<String, InputError> {
    let mut bytes = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::usage(format!("cannot read {what}: {e}"), "check the input"))?;
    if bytes.len() as u64 > limit {
        return Err(InputError::usage(
            format!("{what} is larger than {}, the most read", size_words(limit)),
            "pass a smaller input (the text to explain, not a whole log)",
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| InputError::usage(format!("{what} is not UTF-8 text"), "pass text"))
}

/// A regular file, or the error that says what it is instead.
fn check_regular(path: &Path, meta: &std::fs::Metadata) -> Result<(), InputError> {
    let t = meta.file_type();
    if t.is_file() {
        return Ok(());
    }
    let what = if t.is_dir() {
        "is a directory, not a file"
    } else if is_fifo(&t) {
        "is a FIFO (named pipe), not a regular file"
    } else {
        "is a device or a socket, not a regular file"
    };
    Err(InputError::file(
        path,
        what,
        "name a regular file (copy what it holds into one)",
    ))
}

#[cfg(unix)]
fn is_fifo(t: &std::fs::FileType) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(t)
}

#[cfg(not(unix))]
fn is_fifo(_: &std::fs::FileType) -> bool {
    false
}

fn too_large(path: &Path, limit: u64) -> InputError {
    InputError::file(
        path,
        format!(
            "is larger than {}, the most read from such a file",
            size_words(limit)
        ),
        "check that it is the file meant",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("tlsaudit-tmp"))
            .collect()
    }

    #[test]
    fn creates_and_replaces_keeping_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_atomic(&p, b"one").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(leftovers(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_mode_given_is_the_files_whatever_it_replaces() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.pem");
        write_new_mode(&key, b"one", 0o600).unwrap();
        assert_eq!(mode(&key), 0o600);
        assert!(matches!(
            write_new_mode(&key, b"two", 0o600),
            Err(WriteError::Exists(_))
        ));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic_mode(&key, b"two", 0o600).unwrap();
        assert_eq!(
            (std::fs::read(&key).unwrap(), mode(&key)),
            (b"two".to_vec(), 0o600)
        );
        assert!(leftovers(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("out.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = write_atomic(&link, b"evil").unwrap_err();
        assert!(matches!(e, WriteError::Symlink(_)));
        assert!(e
            .to_string()
            .starts_with(&format!("cannot write {}: it is a symlink", link.display())));
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        // A dangling link is refused too (it would create a file elsewhere).
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(matches!(
            write_atomic(&dangling, b"x"),
            Err(WriteError::Symlink(_))
        ));
        assert!(!dir.path().join("nowhere").exists());
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_missing_folder_or_a_directory_says_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing").join("r.json");
        let e = write_atomic(&p, b"x").unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("cannot write {}:", p.display())),
            "{text}"
        );
        assert!(text.contains("does not exist"), "{text}");
        let e = write_atomic(dir.path(), b"x").unwrap_err();
        assert!(matches!(e, WriteError::Directory(_)));
        let input: InputError = write_atomic(&p, b"x").unwrap_err().into();
        assert!(input.to_string().starts_with("cannot write "));
    }

    #[cfg(unix)]
    #[test]
    fn a_device_is_written_in_place_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        write_atomic(Path::new("/dev/null"), b"discarded").unwrap();
        let m = std::fs::symlink_metadata("/dev/null").unwrap();
        assert!(m.file_type().is_char_device());
    }

    #[test]
    fn write_new_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("export.json");
        write_new(&p, b"first").unwrap();
        assert!(matches!(
            write_new(&p, b"second"),
            Err(WriteError::Exists(_))
        ));
        assert_eq!(std::fs::read(&p).unwrap(), b"first");
        let q = write_new_numbered(dir.path(), "export", "json", b"second").unwrap();
        assert_eq!(q, dir.path().join("export-2.json"));
        assert_eq!(std::fs::read(&p).unwrap(), b"first");
        assert_eq!(std::fs::read(&q).unwrap(), b"second");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_device_and_a_fifo_are_refused_at_once() {
        let t = std::time::Instant::now();
        let e = read_capped(Path::new("/dev/zero"), MAX_PEM)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/dev/zero: is a device"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("key.pem");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = read_capped(&fifo, MAX_PEM).unwrap_err().to_string();
        assert!(e.contains("is a FIFO"), "{e}");
        let e = read_capped(dir.path(), MAX_PEM).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn reads_stop_at_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'a'; 2048]).unwrap();
        assert_eq!(read_capped(&p, 2048).unwrap().len(), 2048);
        let e = read_capped(&p, 1024).unwrap_err().to_string();
        assert!(e.contains("is larger than 1024 bytes"), "{e}");
        let e = read_reader_capped(std::io::repeat(b'x'), MAX_CONFIG, "standard input")
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than 16 MiB"), "{e}");
        assert_eq!(read_text_capped(&p, MAX_PEM).unwrap().len(), 2048);
    }
}
