//! The audit account of a SQL port: a user name and a password that never prints ([`Secret`]),
//! read from a file or from the environment, never from the command line. The password leaves
//! the engine only as the `mysql_native_password` scramble ([`super::wire::login`]).

use std::path::Path;

use crate::error::InputError;

/// The environment variable holding the audit account's password.
pub const PASSWORD_ENV: &str = "TLSAUDIT_MYSQL_PASSWORD";

/// A password that never prints (`Debug` shows `Secret(..)`, there is no `Display` and no
/// `Serialize`) and is wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(zeroize::Zeroizing::new(s.into()))
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// An audit account: a MySQL user that needs no privilege at all (it only logs in). With one,
/// the probe logs in over TLS and in plaintext and compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlAccount {
    pub user: String,
    pub(super) password: Secret,
}

impl MysqlAccount {
    pub fn new(user: impl Into<String>, password: Secret) -> MysqlAccount {
        MysqlAccount {
            user: user.into(),
            password,
        }
    }

    /// `--mysql-user NAME` with its password from `password_file` (one line; a trailing line
    /// break is dropped), else from `TLSAUDIT_MYSQL_PASSWORD`. Never from the command line;
    /// errors never quote the file's content.
    pub fn load(user: &str, password_file: Option<&Path>) -> Result<MysqlAccount, InputError> {
        if user.is_empty() {
            return Err(InputError::usage(
                "--mysql-user is empty",
                "give the audit account's user name",
            ));
        }
        let password = match password_file {
            Some(path) => {
                let bytes = crate::fsutil::read_capped(path, crate::fsutil::MAX_PEM)?;
                let mut text = String::from_utf8(bytes).map_err(|_| {
                    InputError::file(
                        path,
                        "is not UTF-8 text",
                        "write the password on one line, as UTF-8",
                    )
                })?;
                if text.ends_with('\n') {
                    text.pop();
                    if text.ends_with('\r') {
                        text.pop();
                    }
                }
                let secret = Secret::new(text);
                if secret.expose().contains('\n') {
                    return Err(InputError::file(
                        path,
                        "holds more than one line",
                        "write only the password, on one line",
                    ));
                }
                secret
            }
            None => match std::env::var(PASSWORD_ENV) {
                Ok(v) => Secret::new(v),
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(InputError::usage(
                        format!("{PASSWORD_ENV} is not valid UTF-8"),
                        "set it to the audit account's password",
                    ))
                }
                Err(std::env::VarError::NotPresent) => {
                    return Err(InputError::usage(
                        format!("--mysql-user {user} needs the account's password"),
                        format!("set {PASSWORD_ENV}, or give --mysql-password-file FILE (never on the command line)"),
                    ))
                }
            },
        };
        Ok(MysqlAccount::new(user, password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let a = MysqlAccount::new("audit", Secret::new("hunter2-xyz"));
        let shown = format!("{a:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("audit"));
    }

    #[test]
    fn password_file_drops_one_line_break() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "pa ss\r\n").unwrap();
        let a = MysqlAccount::load("audit", Some(&p)).unwrap();
        assert_eq!(a.password.expose(), "pa ss");
        std::fs::write(&p, "one\ntwo\n").unwrap();
        let e = MysqlAccount::load("audit", Some(&p))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("one") || e.contains("one line"), "{e}");
        assert!(!e.contains("two"), "{e}");
    }
}
