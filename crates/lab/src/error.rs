//! The errors of starting and changing a lab.

use std::path::Path;

/// Errors starting a lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A rustls configuration was refused.
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// The [`LabSpec`](crate::LabSpec) is inconsistent (duplicate or empty names, unknown identity...).
    #[error("invalid lab spec: {0}")]
    Spec(String),
    /// The blocking PKI generation task failed.
    #[error("lab setup task failed: {0}")]
    Task(String),
}

impl LabError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        LabError::Io {
            context: format!("writing {}", path.display()),
            source,
        }
    }
}

impl From<LabError> for std::io::Error {
    fn from(e: LabError) -> Self {
        match e {
            LabError::Io { source, .. } => source,
            other => std::io::Error::other(other),
        }
    }
}
