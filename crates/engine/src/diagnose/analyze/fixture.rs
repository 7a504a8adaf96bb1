//! Hand-built diagnoses for the rules' tests: the inputs, the baseline record and the variant
//! runs are the types the real probes produce, filled in by hand, so each rule is judged
//! without a network. Certificates are real (a throw-away CA issues them) so that the
//! callers' pre-flight checks are the real ones.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::audit::Expected;
use crate::pki::load::{certs_from_pem, CertRole};
use crate::pki::mint::Ca;
use crate::pki::{CertSummary, Identity, Trust};
use crate::probe::{
    AlertEvidence, Caller, Evidence, Outcome, OutcomeClass, Phase, ProbeRecord, Protocol,
    ServerVerification, TargetReport, Timeouts, Timings, TlsParams, UntrustedReason,
};
use crate::profile::Component;

use super::super::{observed, Inputs, LinkVerdict, Target, Variant, VariantRun};

/// Where every hand-built probe went.
pub const ADDRESS: &str = "127.0.0.1:20160";
/// The issuer of the server leaves [`leaf`] makes.
pub const LEAF_ISSUER: &str = "CN=t cluster CA";

/// One diagnosis to judge: its inputs, the baseline probe and the variants.
pub struct Case {
    ca: Ca,
    pub inputs: Inputs,
    pub base: ProbeRecord,
    pub variants: Vec<VariantRun>,
    /// The hygiene scan of the target, when the case has one.
    pub scan: Option<crate::scan::ScanResult>,
}

impl Case {
    /// A caller with the CN `cn` (`None`: no certificate) probing `component` over
    /// `protocol`; the baseline ends `class` in `phase`, with nothing else observed.
    pub fn new(
        component: Option<Component>,
        protocol: Protocol,
        cn: Option<&str>,
        class: OutcomeClass,
        phase: Phase,
    ) -> Case {
        let ca = Ca::generate("t", 1).unwrap();
        let der = certs_from_pem(&ca.pem, Path::new("ca.crt"), CertRole::Ca).unwrap();
        let trust = Trust::from_der(der).unwrap();
        let caller = match cn {
            Some(cn) => caller(&ca, &trust, cn),
            None => Caller::new(Identity::anonymous(), &trust),
        };
        let mut target = Target::address(ADDRESS, protocol);
        target.component = component;
        let inputs = Inputs {
            target,
            trust,
            caller,
            key_mismatch: None,
            others: Vec::new(),
            cluster: None,
            origin: crate::inventory::Origin::Inventory,
            timeouts: Timeouts::uniform(Duration::from_secs(1)),
            notes: Vec::new(),
            mysql_account: None,
            scan: false,
            expected: None,
        };
        let base = record(&inputs, &inputs.caller, class, phase);
        Case {
            ca,
            inputs,
            base,
            variants: Vec::new(),
            scan: None,
        }
    }

    /// A caller of the cluster CA with the CN `cn`.
    pub fn caller(&self, cn: &str) -> Caller {
        caller(&self.ca, &self.inputs.trust, cn)
    }

    /// A caller with the CN `cn` from a CA the cluster does not trust.
    pub fn foreign_caller(&self, cn: &str) -> Caller {
        let other = Ca::generate("foreign", 1).unwrap();
        caller(&other, &self.inputs.trust, cn)
    }

    /// A record of `caller` against the target, ending `class` in `phase`.
    pub fn record(&self, caller: &Caller, class: OutcomeClass, phase: Phase) -> ProbeRecord {
        record(&self.inputs, caller, class, phase)
    }

    /// Add a variant run of the baseline's caller, ending `class` (in the check phase).
    pub fn variant(&mut self, id: Variant, class: OutcomeClass) -> &mut ProbeRecord {
        let rec = self.record(&self.inputs.caller, class, Phase::Check);
        self.push_variant(id, rec)
    }

    /// Add a variant run as another identity of the cluster CA, ending `class`.
    pub fn identity_variant(&mut self, cn: &str, class: OutcomeClass) -> &mut ProbeRecord {
        let other = self.caller(cn);
        let rec = self.record(&other, class, Phase::Check);
        self.push_variant(Variant::As(cn.to_string()), rec)
    }

    fn push_variant(&mut self, id: Variant, rec: ProbeRecord) -> &mut ProbeRecord {
        self.variants.push(VariantRun {
            label: format!("variant {id}"),
            id,
            outcome: rec.outcome.class,
            authorization: rec.outcome.authorization,
            observed: observed(&rec),
            summary: rec.outcome.summary.clone(),
            record: rec,
        });
        let last = self.variants.len() - 1;
        &mut self.variants[last].record
    }

    /// The verdict the rules reach.
    pub fn verdict(&self) -> LinkVerdict {
        super::verdict(&self.inputs, &self.base, &self.variants, self.scan.as_ref())
    }

    /// The inventory expects this caller to be admitted (`allow`) or refused.
    pub fn expect(&mut self, allow: bool) {
        self.inputs.expected = Some(Expected {
            allow,
            intent: Some(if allow {
                crate::audit::Intent::MustAdmit
            } else {
                crate::audit::Intent::MustRefuse
            }),
            ..Expected::none(if allow {
                "the list names it"
            } else {
                "the list does not name it"
            })
        });
    }
}

fn caller(ca: &Ca, trust: &Trust, cn: &str) -> Caller {
    Caller::new(ca.identity(cn, cn, &[], true, 1).unwrap(), trust)
}

fn record(inputs: &Inputs, caller: &Caller, class: OutcomeClass, phase: Phase) -> ProbeRecord {
    let protocol = inputs.target.protocol;
    ProbeRecord {
        target: TargetReport {
            address: ADDRESS.into(),
            server_name: "127.0.0.1".into(),
            protocol: protocol.as_str().into(),
            path: None,
            alpn_offered: match protocol {
                Protocol::Grpc => vec!["h2".into()],
                Protocol::Http => vec!["http/1.1".into()],
                _ => Vec::new(),
            },
            check_from_alpn: None,
        },
        peer_addr: Some(ADDRESS.into()),
        identity: caller.report(),
        started_at: "2025-06-01T00:00:00Z".into(),
        timings: Timings::default(),
        tls: None,
        server_chain: Arc::from(Vec::new()),
        server_verification: None,
        outcome: Outcome {
            class,
            phase,
            summary: format!("the probe ended {class}"),
            authorization: None,
        },
        evidence: Evidence::default(),
        mysql: None,
    }
}

/// The record completed a handshake that negotiated `alpn` (the server named no CA).
pub fn with_tls(rec: &mut ProbeRecord, alpn: Option<&str>) {
    rec.tls = Some(TlsParams {
        version: "TLSv1.3".into(),
        cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
        alpn: alpn.map(str::to_string),
        key_exchange: Some("X25519".into()),
        client_cert_requested: true,
        client_cert_sent: rec.identity.cn.is_some(),
        ca_hints: Vec::new().into(),
    });
}

/// The record received the alert `name`.
pub fn with_alert(rec: &mut ProbeRecord, name: &str, code: u8) {
    rec.evidence.alert = Some(AlertEvidence {
        name: name.into(),
        code,
        received: Phase::Handshake,
    });
}

/// The server's chain did not verify, for `reason`; the server sent `leaf`.
pub fn untrusted(rec: &mut ProbeRecord, reason: UntrustedReason, leaf: CertSummary) {
    rec.server_chain = vec![leaf].into();
    rec.server_verification = Some(ServerVerification {
        trusted: false,
        server_name: rec.target.server_name.clone(),
        reason: Some(reason),
        detail: Some(format!("the chain is {}", reason.as_str())),
    });
}

/// The server's chain verified for the dialed name.
pub fn trusted(rec: &mut ProbeRecord, leaf: CertSummary) {
    rec.server_chain = vec![leaf].into();
    rec.server_verification = Some(ServerVerification {
        trusted: true,
        server_name: rec.target.server_name.clone(),
        reason: None,
        detail: None,
    });
}

/// A server leaf with the CN `cn` and the SANs `sans` (`DNS:..`, `IP:..`), issued by the
/// cluster CA.
pub fn leaf(cn: &str, sans: &[&str]) -> CertSummary {
    CertSummary {
        subject: format!("CN={cn}"),
        issuer: LEAF_ISSUER.into(),
        common_name: Some(cn.into()),
        sans: sans.iter().map(|s| (*s).to_string()).collect(),
        sans_total: None,
        serial: "01".into(),
        not_before: "2025-01-01T00:00:00Z".into(),
        not_after: "2035-01-01T00:00:00Z".into(),
        not_before_unix: 1_735_689_600,
        not_after_unix: 2_051_222_400,
        public_key: "ECDSA P-256".into(),
        signature_algorithm: "ecdsa-with-SHA256".into(),
        sha256: "00".repeat(32),
        is_ca: false,
        key_usage: vec!["digitalSignature".into()],
        extended_key_usage: vec!["serverAuth".into(), "clientAuth".into()],
        has_eku_extension: true,
        parse_error: None,
    }
}

/// The cause ids of a verdict, in order.
pub fn causes(v: &LinkVerdict) -> Vec<&'static str> {
    v.findings.iter().map(|f| f.cause.id()).collect()
}
