//! The wiring of one endpoint: its server certificate (generated or loaded), the lab's client
//! certificate verifier, the rustls server configuration, and [`prepare`], which turns an
//! [`EndpointSpec`] into what the accept loop serves and what the endpoint reports.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use crate::handle::LabEndpoint;
use crate::pki::{self, Material};
use crate::server::Kind;
use crate::spec::EndpointSpec;
use crate::verify::{LabVerifier, VerifyMode};
use crate::LabError;

/// An endpoint ready to serve: what it reports, and what its accept loop serves.
pub(crate) struct Prepared {
    pub(crate) endpoint: LabEndpoint,
    pub(crate) kind: Kind,
}

fn server_config(
    provider: &Arc<CryptoProvider>,
    versions: &[&'static SupportedProtocolVersion],
    verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    cert: &pki::CertAndKey,
    alpn: &[&str],
) -> Result<Arc<ServerConfig>, LabError> {
    let builder =
        ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(versions)?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(cert.chain.clone(), cert.key())?;
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    // Like Go's crypto/tls and OpenSSL, send (stateless) TLS 1.3 session tickets after the
    // client's Finished. Nothing is cached server side, and the prober never resumes, so every
    // probe still gets a full handshake and a full client-certificate check.
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
    config.send_tls13_tickets = 1;
    Ok(Arc::new(config))
}

/// The inputs every behaviour shares when it builds the server side of one endpoint.
pub(crate) struct PrepareCtx<'a> {
    pub(crate) spec: &'a EndpointSpec,
    material: &'a Material,
    provider: &'a Arc<CryptoProvider>,
    roots: &'a Arc<RootCertStore>,
}

impl PrepareCtx<'_> {
    /// The server certificate of the endpoint.
    fn cert(&self) -> Result<&pki::CertAndKey, LabError> {
        if let Some((cert, _)) = &self.spec.server_files {
            return self
                .material
                .loaded
                .get(cert)
                .ok_or_else(|| LabError::Spec(format!("{} is not loaded", cert.display())));
        }
        let cert_key = (self.spec.component.clone(), self.spec.server_cert);
        self.material.servers.get(&cert_key).ok_or_else(|| {
            LabError::Spec(format!(
                "no server certificate for endpoint {}",
                self.spec.name
            ))
        })
    }

    /// A lab client-certificate verifier over the lab roots.
    pub(crate) fn lab_verifier(
        &self,
        mode: VerifyMode,
    ) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, LabError> {
        let webpki =
            WebPkiClientVerifier::builder_with_provider(self.roots.clone(), self.provider.clone())
                .build()?;
        let v: Arc<dyn rustls::server::danger::ClientCertVerifier> =
            Arc::new(LabVerifier::new(webpki, mode));
        Ok(v)
    }

    /// A server configuration with the endpoint's certificate.
    pub(crate) fn config(
        &self,
        versions: &[&'static SupportedProtocolVersion],
        verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
        alpn: &[&str],
    ) -> Result<Arc<ServerConfig>, LabError> {
        server_config(self.provider, versions, verifier, self.cert()?, alpn)
    }
}

/// Build what endpoint `spec` serves at `addr`, and the endpoint as the lab reports it.
pub(crate) fn prepare(
    spec: &EndpointSpec,
    addr: SocketAddr,
    material: &Material,
    provider: &Arc<CryptoProvider>,
    roots: &Arc<RootCertStore>,
) -> Result<Prepared, LabError> {
    let ctx = PrepareCtx {
        spec,
        material,
        provider,
        roots,
    };
    let allowed = spec.behavior.allowed_cn().to_vec();
    let mut fault = if spec.behavior.is_tls() {
        spec.server_cert.fault().map(str::to_owned)
    } else {
        None
    };
    let served = ctx.served()?;
    if let Some(behavior_fault) = served.fault {
        fault = Some(behavior_fault);
    }
    if !spec.negotiate_alpn && spec.behavior.is_tls() && fault.is_none() {
        fault =
            Some("negotiates no ALPN (gRPC callers refuse: missing selected ALPN property)".into());
    }
    Ok(Prepared {
        endpoint: LabEndpoint {
            name: spec.name.clone(),
            component: spec.component.clone(),
            role: spec.role.clone(),
            addr,
            server_name: "localhost".to_owned(),
            allowed_cn: allowed,
            protocol: served.protocol,
            path: served.path.map(str::to_owned),
            fault,
            tls_versions: served.tls_versions,
            alpn: served.alpn.into_iter().map(str::to_owned).collect(),
            requests_client_cert: served.requests_client_cert,
            cn_check: served.cn_check,
        },
        kind: served.kind,
    })
}
