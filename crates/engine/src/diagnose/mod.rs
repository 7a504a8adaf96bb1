//! `tlsaudit diagnose`: why does this one link fail? A step-by-step trace of one probe
//! (resolution and connect, is it TLS, the handshake, the server's certificate, our side and
//! the server's answer), then variant probes that each change one thing (no certificate,
//! another identity, one TLS version, other ALPN, another server name), and from the
//! differences a verdict that names the cause, the component's config key and file, and the
//! texts the real components print for it.
//!
//! Every variant is a real handshake: a [`probe::probe`] call against the target.
//!
//! The files, bottom to top: `cause` (the causes, their fixes and log texts), `target` (where
//! to probe), `caller` (the identities loaded), `inputs` (the request resolved), `variant` (the
//! variant probes, planned and run), `resolution` (name resolution, measured), `steps` (the
//! trace), `diagnosis` (the result and its verdict's types), `analyze` (the rules that name the
//! causes), and here the diagnosis that runs them in order.

pub mod analyze;
pub mod caller;
pub mod cause;
pub mod diagnosis;
pub mod inputs;
pub mod resolution;
pub mod steps;
pub mod target;
pub mod variant;

use crate::probe;

pub use caller::{load_caller, KeyMismatch};
pub use cause::{Cause, LogText};
pub use diagnosis::{CauseFinding, ConfigChange, Diagnosis, LinkVerdict, Side, TargetInfo};
pub use inputs::{Inputs, Request};
pub use resolution::Resolution;
pub use steps::{Step, StepStatus};
pub use target::{guess_component, Target, TiupTarget};
/// The hygiene scan of the target, unless switched off: as the audit scans an endpoint, each
/// connection within the probes' handshake budget.
async fn scan_target(inputs: &Inputs) -> Option<crate::scan::ScanResult> {
    if !inputs.scan {
        return None;
    }
    let t = &inputs.target;
    let spec = crate::scan::ScanSpec::probed(&t.address, t.protocol, t.server_name.as_deref());
    let limits = crate::scan::ScanLimits::within(inputs.timeouts, None);
    Some(crate::scan::scan(&spec, &limits).await)
}

pub use variant::{
    admitted, base_spec, observed, plan_variants, reached_tls, run_variants, Variant, VariantPlan,
    VariantRun,
};

/// Diagnose one link: baseline probe and variants, beside them the hygiene scan of the target
/// (the versions and suites it accepts, which no rustls handshake can see), trace, verdict.
pub async fn diagnose(inputs: &Inputs) -> Diagnosis {
    let resolution = resolution::resolve(&inputs.target.address, inputs.timeouts.connect).await;
    let spec = base_spec(inputs);
    let probes = async {
        let baseline = probe::probe(&spec, &inputs.caller, &inputs.trust).await;
        let plans = plan_variants(inputs, &baseline);
        let variants = run_variants(plans, &inputs.trust).await;
        (baseline, variants)
    };
    let ((baseline, variants), scan) = tokio::join!(probes, scan_target(inputs));
    let verdict = analyze::verdict(inputs, &baseline, &variants, scan.as_ref());
    let steps = steps::steps(inputs, &spec, &resolution, &baseline, &variants);
    let hygiene = scan.as_ref().map_or_else(Vec::new, |s| {
        crate::scan::findings(
            s,
            crate::scan::Served::of(inputs.target.component, inputs.target.protocol),
        )
    });
    Diagnosis {
        scan,
        hygiene,
        target: TargetInfo::new(&inputs.target, spec.server_name()),
        identity: inputs.caller.report().as_ref().clone(),
        key_mismatch: inputs.key_mismatch.clone(),
        resolution,
        steps,
        baseline,
        variants,
        verdict,
    }
}
