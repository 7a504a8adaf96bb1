//! Client-certificate verification for lab endpoints, and the per-connection note that lets
//! the verifier (shared by all connections of an endpoint) report to the connection task.
//!
//! The verifier runs synchronously inside the connection task's poll of the handshake future,
//! so a tokio task-local scoped around each connection is a cheap, race-free side channel: it
//! carries the caller's CN and the rejection reason into the connection log, and it tells the
//! socket wrapper ([`LabIo`]) to swallow the alert when an endpoint imitates gRPC C-core, which
//! closes without any alert.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// What the verifier learned about the current connection.
#[derive(Default)]
pub(crate) struct ConnNote {
    /// Leaf CN of the client certificate, if one was presented and parsed.
    cn: Cell<Option<String>>,
    /// Why the verifier refused the certificate.
    reason: Cell<Option<String>>,
    /// Drop every byte written from now on (no alert, no close_notify).
    silenced: Cell<bool>,
}

tokio::task_local! {
    pub(crate) static NOTE: ConnNote;
}

impl ConnNote {
    pub(crate) fn take_cn() -> Option<String> {
        NOTE.try_with(|n| n.cn.take()).ok().flatten()
    }
    pub(crate) fn take_reason() -> Option<String> {
        NOTE.try_with(|n| n.reason.take()).ok().flatten()
    }
    fn silenced() -> bool {
        NOTE.try_with(|n| n.silenced.get()).unwrap_or(false)
    }
    fn set_cn(cn: Option<String>) {
        let _ = NOTE.try_with(|n| n.cn.set(cn));
    }
    fn set_reason(reason: String, silence: bool) {
        let _ = NOTE.try_with(|n| {
            n.reason.set(Some(reason));
            if silence {
                n.silenced.set(true);
            }
        });
    }
}

/// The subject CN of a DER certificate (first CN attribute), if any.
pub(crate) fn leaf_cn(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}

/// Short tag for a certificate verification error, used in the connection log.
pub(crate) fn cert_error_tag(e: &Error) -> String {
    match e {
        Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => "unknown_ca".into(),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired".into(),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "not_yet_valid".into()
            }
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "bad_eku".into()
            }
            CertificateError::BadEncoding => "bad_certificate".into(),
            CertificateError::BadSignature => "bad_signature".into(),
            other => format!("invalid_certificate:{other:?}"),
        },
        Error::NoCertificatesPresented => "no_client_cert".into(),
        other => format!("{other}"),
    }
}

/// How a lab endpoint treats client certificates.
#[derive(Debug, Clone)]
pub(crate) enum VerifyMode {
    /// Require a certificate, verify it with WebPKI (rustls sends its usual alerts), then,
    /// when `allowed` is non-empty, refuse a leaf CN not in it with `bad_certificate` (42):
    /// the Go `VerifyPeerCertificate` style used by PD and TiDB.
    Alert { allowed: Vec<String> },
    /// gRPC C-core style: request a certificate; a missing one is left to the caller (checked
    /// after the handshake); a chain that does not verify aborts the handshake with no alert
    /// at all (the alert rustls would send is swallowed by [`LabIo`]).
    Silent,
    /// Go's `VerifyClientCertIfGiven` (TiDB's SQL port with `ssl-ca`): request a certificate,
    /// admit a client without one, verify one that is given (rustls sends its usual alerts).
    Optional,
}

/// A [`ClientCertVerifier`] wrapping WebPKI with the lab's policies.
pub(crate) struct LabVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    mode: VerifyMode,
}

impl fmt::Debug for LabVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LabVerifier")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl LabVerifier {
    pub(crate) fn new(inner: Arc<dyn ClientCertVerifier>, mode: VerifyMode) -> Self {
        Self { inner, mode }
    }
}

impl ClientCertVerifier for LabVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        matches!(self.mode, VerifyMode::Alert { .. })
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let cn = leaf_cn(end_entity);
        ConnNote::set_cn(cn.clone());
        let silent = matches!(self.mode, VerifyMode::Silent);
        let verified = match self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            Ok(v) => v,
            Err(e) => {
                ConnNote::set_reason(cert_error_tag(&e), silent);
                return Err(e);
            }
        };
        if let VerifyMode::Alert { allowed } = &self.mode {
            let ok = allowed.is_empty()
                || cn
                    .as_deref()
                    .is_some_and(|cn| allowed.iter().any(|a| a == cn));
            if !ok {
                ConnNote::set_reason("cn_not_allowed".into(), false);
                // Maps to the bad_certificate (42) alert, as Go's VerifyPeerCertificate does.
                return Err(Error::InvalidCertificate(CertificateError::BadEncoding));
            }
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The accepted TCP socket, with a switch (set by [`LabVerifier`] through the task-local
/// note) that silently discards writes, so a refused handshake ends with a bare TCP close.
pub(crate) struct LabIo {
    inner: TcpStream,
}

impl LabIo {
    pub(crate) fn new(inner: TcpStream) -> Self {
        Self { inner }
    }

    /// Close with a TCP RST (SO_LINGER 0), as a peer closing with unread data does.
    pub(crate) fn abort(self) {
        if let Err(e) = self.inner.set_zero_linger() {
            tracing::warn!(error = %e, "lab: SO_LINGER 0 failed; closing normally");
        }
    }
}

impl AsyncRead for LabIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for LabIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if ConnNote::silenced() {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    // A real server writes a TLS flight with one write (rustls over a socket writes it
    // vectored, Go and OpenSSL buffer it): without these, each record would be its own segment.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if ConnNote::silenced() {
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if ConnNote::silenced() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
