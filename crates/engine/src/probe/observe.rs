//! Instruments attached to one handshake: a server-certificate verifier that records the chain
//! and WebPKI's verdict instead of aborting, a client-certificate resolver that records whether
//! (and for which CAs) the server asked, a session store that notices TLS 1.3 tickets, and a
//! stream wrapper that keeps the first bytes the peer sent.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{
    ClientSessionStore, ResolvesClientCert, Tls12ClientSessionValue, Tls13ClientSessionValue,
    WebPkiServerVerifier,
};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, NamedGroup, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// What the instruments saw during one handshake.
#[derive(Debug, Default)]
pub struct Observed {
    pub chain: Vec<CertificateDer<'static>>,
    /// WebPKI's verdict; `None` when the server never sent a certificate.
    pub verdict: Option<Result<(), rustls::Error>>,
    pub cert_requested: bool,
    pub ca_hints: Vec<Vec<u8>>,
    pub ticket: bool,
    /// The first bytes the peer sent (at most [`SNIFF_LEN`]), whatever they are.
    pub first: Vec<u8>,
}

tokio::task_local! {
    /// The observer of the probe running in this task. The instruments belong to a
    /// `ClientConfig` shared by every probe of a caller (built once, not per probe), so they
    /// find the probe they serve here: rustls calls them while the probe's task polls its
    /// connection, and the probe runs inside [`CURRENT`]`.scope`.
    pub static CURRENT: Arc<Observer>;
}

/// Record into the current probe's observer; outside a probe's scope there is nothing to
/// record into.
fn record(f: impl FnOnce(&Observer)) {
    let _ = CURRENT.try_with(|o| f(o));
}

/// Shared by the instruments of one probe.
#[derive(Debug, Default)]
pub struct Observer {
    state: Mutex<Observed>,
    pub ticket_arrived: Notify,
}

impl Observer {
    pub fn lock(&self) -> MutexGuard<'_, Observed> {
        // A poisoned lock only means another instrument panicked; the data is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Records the server chain and WebPKI's verdict, then lets the handshake go on so the chain
/// and everything after it can be reported.
#[derive(Debug)]
pub struct RecordingVerifier {
    pub inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ());
        record(|o| {
            let mut st = o.lock();
            st.chain = std::iter::once(end_entity)
                .chain(intermediates.iter())
                .map(|c| c.clone().into_owned())
                .collect();
            st.verdict = Some(verdict);
        });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Presents the identity's certificate (if any) and records the server's request.
#[derive(Debug)]
pub struct RecordingResolver {
    pub key: Option<Arc<CertifiedKey>>,
}

impl ResolvesClientCert for RecordingResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        record(|o| {
            let mut st = o.lock();
            st.cert_requested = true;
            st.ca_hints = root_hint_subjects.iter().map(|s| s.to_vec()).collect();
        });
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

/// A session store that keeps nothing (every probe is a full handshake) but notices TLS 1.3
/// tickets: a server sends them only after it has accepted the client's Finished, and with it
/// the client certificate.
#[derive(Debug)]
pub struct TicketWatch;

impl ClientSessionStore for TicketWatch {
    fn set_kx_hint(&self, _: ServerName<'static>, _: NamedGroup) {}
    fn kx_hint(&self, _: &ServerName<'_>) -> Option<NamedGroup> {
        None
    }
    fn set_tls12_session(&self, _: ServerName<'static>, _: Tls12ClientSessionValue) {}
    fn tls12_session(&self, _: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        None
    }
    fn remove_tls12_session(&self, _: &ServerName<'static>) {}
    fn insert_tls13_ticket(&self, _: ServerName<'static>, _: Tls13ClientSessionValue) {
        record(|o| {
            o.lock().ticket = true;
            o.ticket_arrived.notify_one();
        });
    }
    fn take_tls13_ticket(&self, _: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        None
    }
}

/// How many of the peer's first bytes are kept to recognise a non-TLS peer.
pub const SNIFF_LEN: usize = 48;

/// A stream that keeps a copy of the first bytes read from the peer, in the running probe's
/// observer ([`Observed::first`]).
#[derive(Debug)]
pub struct Sniff<S> {
    pub inner: S,
    /// How many bytes were copied so far (none after [`SNIFF_LEN`]).
    kept: usize,
}

impl<S> Sniff<S> {
    pub fn new(inner: S) -> Self {
        Sniff { inner, kept: 0 }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Sniff<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.kept < SNIFF_LEN {
            let new = &buf.filled()[before..];
            let take = new.len().min(SNIFF_LEN - this.kept);
            if take > 0 {
                this.kept += take;
                record(|o| o.lock().first.extend_from_slice(&new[..take]));
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Sniff<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    // tokio-rustls writes a flight of TLS records with one vectored write; without these the
    // default would send each record as its own write and TCP segment.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
