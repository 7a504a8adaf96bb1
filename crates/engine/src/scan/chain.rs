//! The served chain of a server that speaks only TLS 1.3, where the Certificate message is
//! encrypted: one rustls handshake whose verifier records the chain and stops the handshake
//! there (no client certificate is ever sent, nothing is trusted or judged here).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::enumerate::starttls;
use crate::pki::provider;

/// Why the handshake stops once the chain is in hand.
const RECORDED: &str = "the scan recorded the chain";

/// Records the chain and refuses it, which ends the handshake.
#[derive(Debug, Default)]
struct Grab {
    chain: Mutex<Vec<Vec<u8>>>,
}

impl ServerCertVerifier for Grab {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.as_ref().to_vec())
            .collect();
        *self
            .chain
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = chain;
        Err(rustls::Error::General(RECORDED.into()))
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(RECORDED.into()))
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(RECORDED.into()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The chain `address` serves over TLS 1.3 (after the SSLRequest with `mysql`), leaf first;
/// empty when none came within `budget`.
pub async fn tls13_chain(address: &str, mysql: bool, budget: Duration) -> Vec<Vec<u8>> {
    let grab = Arc::new(Grab::default());
    let _ = tokio::time::timeout(budget, handshake(address, mysql, budget, grab.clone())).await;
    let chain = grab
        .chain
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    chain
}

async fn handshake(address: &str, mysql: bool, budget: Duration, grab: Arc<Grab>) -> Option<()> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(grab)
        .with_no_client_auth();
    let host = crate::probe::host_of(address).to_string();
    let name = ServerName::try_from(host).ok()?;
    let mut tcp = crate::probe::connect::connect(address, budget).await.ok()?;
    if mysql {
        starttls(&mut tcp).await.ok()?;
    }
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let _ = connector.connect(name, tcp).await;
    Some(())
}
