//! What the MySQL exchange showed, as the probe record carries it (`ProbeRecord::mysql`): the
//! greeting's facts, the answers to the logins inside TLS and in plaintext, and what they prove
//! about plaintext. Plain data: it imports nothing of the probe.

use serde::Serialize;

/// How a login ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginResult {
    /// An OK packet: logged in.
    Ok,
    /// An error packet (`code`, `message`).
    Error,
    /// The server switched to an authentication plugin the probe does not speak.
    UnsupportedAuth,
    /// The server closed the connection without an answer.
    Closed,
    /// The answer was not MySQL protocol.
    ProtocolError,
}

/// The server's answer to one login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LoginAnswer {
    pub result: LoginResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The plugin of an AuthSwitchRequest, when the server sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_switch: Option<String>,
}

impl LoginAnswer {
    pub(crate) fn new(result: LoginResult) -> LoginAnswer {
        LoginAnswer {
            result,
            code: None,
            sql_state: None,
            message: None,
            auth_switch: None,
        }
    }

    /// An answer that is not MySQL protocol, in `words`.
    pub(crate) fn protocol_error(words: &str) -> LoginAnswer {
        LoginAnswer {
            message: Some(words.to_string()),
            ..LoginAnswer::new(LoginResult::ProtocolError)
        }
    }

    pub fn is_error(&self, code: u16) -> bool {
        self.result == LoginResult::Error && self.code == Some(code)
    }

    /// `OK`, `error 1045 (28000): Access denied ...`.
    pub fn describe(&self) -> String {
        match self.result {
            LoginResult::Ok => "OK (logged in)".to_string(),
            LoginResult::Error => format!(
                "error {}{}: {}",
                self.code.unwrap_or(0),
                self.sql_state
                    .as_ref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default(),
                self.message.as_deref().unwrap_or("")
            ),
            LoginResult::UnsupportedAuth => format!(
                "a switch to the authentication plugin {}, which tlsaudit does not speak",
                self.auth_switch.as_deref().unwrap_or("?")
            ),
            LoginResult::Closed => "the connection closed without an answer".to_string(),
            LoginResult::ProtocolError => self
                .message
                .clone()
                .unwrap_or_else(|| "an answer that is not MySQL protocol".to_string()),
        }
    }
}

/// Which user the logins used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// The audit account (`--mysql-user`).
    Audit,
    /// A user that cannot exist ([`MADE_UP_USER`](super::wire::MADE_UP_USER)).
    MadeUp,
}

/// Whether the server refuses plaintext logins, and how sure that is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaintextVerdict {
    /// Proved: 3159 before authentication, or the audit account logs in over TLS only.
    Refused,
    /// Proved: a login without TLS succeeded.
    Accepted,
    /// Plaintext reached authentication and was refused there (1045): the server may refuse
    /// plaintext or not. Give an audit account to be sure.
    Unknown,
    /// The server offers no TLS: every client connects in plaintext.
    NoTls,
    /// The plaintext login could not be made (connection failed, timeout).
    NotTested,
}

impl PlaintextVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            PlaintextVerdict::Refused => "refused",
            PlaintextVerdict::Accepted => "accepted",
            PlaintextVerdict::Unknown => "unknown",
            PlaintextVerdict::NoTls => "no_tls",
            PlaintextVerdict::NotTested => "not_tested",
        }
    }
}

/// What the MySQL exchange showed; part of the probe record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MysqlReport {
    /// The version string of the greeting (`8.0.11-TiDB-v8.5.0`, `10.11.6-MariaDB...`).
    pub server_version: String,
    pub connection_id: u32,
    /// The greeting's capability flags.
    pub capabilities: u32,
    /// `CLIENT_SSL` was set: the server has a certificate loaded and offers TLS.
    pub tls_offered: bool,
    /// The authentication plugin the greeting names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_plugin: Option<String>,
    pub account: AccountKind,
    pub user: String,
    /// The answer to the login inside TLS (absent when no TLS session was reached).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_login: Option<LoginAnswer>,
    /// The answer to the same login without TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext_login: Option<LoginAnswer>,
    pub plaintext: PlaintextVerdict,
    /// Why, in words.
    pub plaintext_detail: String,
}

impl MysqlReport {
    /// The server calls itself TiDB.
    pub fn is_tidb(&self) -> bool {
        self.server_version.contains("TiDB")
    }
}
