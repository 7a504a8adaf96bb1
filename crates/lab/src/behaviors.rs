//! What each [`Behavior`] serves: the TLS versions, ALPN protocols, client-certificate policy
//! and CN check of the component it imitates, or the fault it stands for (plaintext, silence,
//! garbage, a reset).

use std::sync::Arc;

use rustls::version::{TLS12 as V12, TLS13 as V13};
use tokio_rustls::TlsAcceptor;

use crate::grpc::{GrpcPolicy, HEALTH_CHECK_PATH};
use crate::mysql::SqlConfig;
use crate::prepare::PrepareCtx;
use crate::server::Kind;
use crate::spec::{Behavior, EndpointSpec};
use crate::verify::VerifyMode;
use crate::LabError;

const TLS12: &str = "TLSv1.2";
const TLS13: &str = "TLSv1.3";

/// The ALPN protocols an endpoint serves: `default`, or none with
/// [`EndpointSpec::without_alpn`].
fn alpn_or_none<'a>(spec: &EndpointSpec, default: Vec<&'a str>) -> Vec<&'a str> {
    if spec.negotiate_alpn {
        default
    } else {
        Vec::new()
    }
}

/// What one behaviour serves: the listener kind and the facts the endpoint reports about it.
pub(crate) struct Served {
    pub(crate) kind: Kind,
    pub(crate) protocol: &'static str,
    pub(crate) path: Option<&'static str>,
    pub(crate) tls_versions: Vec<&'static str>,
    pub(crate) alpn: Vec<&'static str>,
    pub(crate) requests_client_cert: bool,
    pub(crate) cn_check: &'static str,
    /// Replaces the server certificate's fault when set.
    pub(crate) fault: Option<String>,
}

impl Served {
    /// A behaviour that is a fault in itself: no TLS versions, no ALPN, no client certificate
    /// and no CN check.
    fn faulty(
        kind: Kind,
        protocol: &'static str,
        path: Option<&'static str>,
        fault: &str,
    ) -> Served {
        Served {
            kind,
            protocol,
            path,
            tls_versions: vec![],
            alpn: vec![],
            requests_client_cert: false,
            cn_check: "none",
            fault: Some(fault.into()),
        }
    }
}

/// The CN check an endpoint reports: `"none"` without allowed CNs, `stage` otherwise.
fn cn_check_stage(allowed: &[String], stage: &'static str) -> &'static str {
    if allowed.is_empty() {
        "none"
    } else {
        stage
    }
}

impl PrepareCtx<'_> {
    /// PD client port: TLS 1.3 only, handshake-level CN check.
    fn pd(&self, allowed_cn: &[String]) -> Result<Served, LabError> {
        let alpn = alpn_or_none(self.spec, vec!["h2", "http/1.1"]);
        let verifier = self.lab_verifier(VerifyMode::Alert {
            allowed: allowed_cn.to_vec(),
        })?;
        let cfg = self.config(&[&V13], Some(verifier), &alpn)?;
        Ok(Served {
            kind: Kind::Pd {
                acceptor: TlsAcceptor::from(cfg),
            },
            protocol: "http",
            path: Some("/pd/api/v1/version"),
            tls_versions: vec![TLS13],
            alpn,
            requests_client_cert: true,
            cn_check: cn_check_stage(allowed_cn, "handshake"),
            fault: None,
        })
    }

    /// TiKV and TiFlash gRPC ports: silent verifier, CN check per call.
    fn grpc(&self, allowed_cn: &[String]) -> Result<Served, LabError> {
        let verifier = self.lab_verifier(VerifyMode::Silent)?;
        let served_alpn = alpn_or_none(self.spec, vec!["h2"]);
        let with_h2 = self.config(&[&V12, &V13], Some(verifier.clone()), &served_alpn)?;
        let no_alpn = self.config(&[&V12, &V13], Some(verifier), &[])?;
        let policy = match &self.spec.behavior {
            Behavior::TikvGrpc { .. } => GrpcPolicy::Tikv {
                allowed: allowed_cn.to_vec(),
            },
            _ => GrpcPolicy::Tiflash {
                allowed: allowed_cn.to_vec(),
            },
        };
        Ok(Served {
            kind: Kind::Grpc {
                with_h2,
                no_alpn,
                policy: Arc::new(policy),
                require_h2: self.spec.negotiate_alpn,
            },
            protocol: "grpc",
            path: Some(HEALTH_CHECK_PATH),
            tls_versions: vec![TLS12, TLS13],
            alpn: served_alpn,
            requests_client_cert: true,
            cn_check: cn_check_stage(allowed_cn, "application"),
            fault: None,
        })
    }

    /// TiKV status port: TLS 1.2 only, client certificate only with allowed CNs.
    fn tikv_status(&self, allowed_cn: &[String]) -> Result<Served, LabError> {
        let verifier = if allowed_cn.is_empty() {
            None
        } else {
            Some(self.lab_verifier(VerifyMode::Alert { allowed: vec![] })?)
        };
        let cfg = self.config(&[&V12], verifier, &[])?;
        Ok(Served {
            kind: Kind::TikvStatus {
                acceptor: TlsAcceptor::from(cfg),
                allowed: allowed_cn.to_vec(),
            },
            protocol: "http",
            path: Some("/engine_type"),
            tls_versions: vec![TLS12],
            alpn: vec![],
            requests_client_cert: !allowed_cn.is_empty(),
            cn_check: cn_check_stage(allowed_cn, "application"),
            fault: None,
        })
    }

    /// TiDB status port: client certificate only with `verify_cn`.
    fn tidb_status(&self, verify_cn: &[String]) -> Result<Served, LabError> {
        let verifier = if verify_cn.is_empty() {
            None
        } else {
            Some(self.lab_verifier(VerifyMode::Alert {
                allowed: verify_cn.to_vec(),
            })?)
        };
        let alpn = alpn_or_none(self.spec, vec!["http/1.1"]);
        let cfg = self.config(&[&V12, &V13], verifier, &alpn)?;
        Ok(Served {
            kind: Kind::TidbStatus {
                acceptor: TlsAcceptor::from(cfg),
            },
            protocol: "http",
            path: Some("/status"),
            tls_versions: vec![TLS12, TLS13],
            alpn,
            requests_client_cert: !verify_cn.is_empty(),
            cn_check: cn_check_stage(verify_cn, "handshake"),
            fault: None,
        })
    }

    /// Go TLS 1.2 status port: handshake-level CN check, abortive close on a refusal.
    fn go_tls12(&self, verify_cn: &[String]) -> Result<Served, LabError> {
        let verifier = self.lab_verifier(VerifyMode::Alert {
            allowed: verify_cn.to_vec(),
        })?;
        let cfg = self.config(&[&V12], Some(verifier), &[])?;
        Ok(Served {
            kind: Kind::GoTls12 {
                acceptor: TlsAcceptor::from(cfg),
            },
            protocol: "http",
            path: Some("/status"),
            tls_versions: vec![TLS12],
            alpn: vec![],
            requests_client_cert: true,
            cn_check: cn_check_stage(verify_cn, "handshake"),
            fault: None,
        })
    }

    /// TiDB SQL port: TLS optional per `config`, optional client certificate.
    fn tidb_sql(&self, config: &SqlConfig) -> Result<Served, LabError> {
        let mut fault = None;
        let acceptor = if config.tls {
            let verifier = if config.client_ca {
                Some(self.lab_verifier(VerifyMode::Optional)?)
            } else {
                None
            };
            let cfg = self.config(&[&V12, &V13], verifier, &[])?;
            Some(TlsAcceptor::from(cfg))
        } else {
            fault = Some("the SQL port offers no TLS (no ssl-cert/ssl-key)".into());
            None
        };
        if config.tls && !config.require_secure_transport {
            fault = Some(
                "require-secure-transport is off: plaintext logins reach authentication".into(),
            );
        }
        Ok(Served {
            kind: Kind::TidbSql {
                acceptor,
                config: Arc::new(config.clone()),
            },
            protocol: "mysql",
            path: None,
            tls_versions: if config.tls {
                vec![TLS12, TLS13]
            } else {
                vec![]
            },
            alpn: vec![],
            requests_client_cert: config.tls && config.client_ca,
            cn_check: "none",
            fault,
        })
    }

    /// What the endpoint's behaviour serves.
    pub(crate) fn served(&self) -> Result<Served, LabError> {
        Ok(match &self.spec.behavior {
            Behavior::Pd { allowed_cn } => self.pd(allowed_cn)?,
            Behavior::TikvGrpc { allowed_cn } | Behavior::TiflashGrpc { allowed_cn } => {
                self.grpc(allowed_cn)?
            }
            Behavior::TikvStatus { allowed_cn } => self.tikv_status(allowed_cn)?,
            Behavior::TidbStatus { verify_cn } => self.tidb_status(verify_cn)?,
            Behavior::GoTls12 { verify_cn } => self.go_tls12(verify_cn)?,
            Behavior::TidbSql(config) => self.tidb_sql(config)?,
            Behavior::PlaintextHttp => Served::faulty(
                Kind::Plaintext,
                "plaintext",
                Some("/"),
                "plaintext HTTP, no TLS",
            ),
            Behavior::Silent => Served::faulty(
                Kind::Silent,
                "tls",
                None,
                "accepts TCP and never sends a byte",
            ),
            Behavior::Garbage => Served::faulty(
                Kind::Garbage,
                "tls",
                None,
                "answers 64 bytes of non-TLS data, then closes",
            ),
            Behavior::Reset => Served::faulty(
                Kind::Reset,
                "tls",
                None,
                "accepts, then resets the connection (TCP RST)",
            ),
        })
    }
}
