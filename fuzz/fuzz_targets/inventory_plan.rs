//! An inventory (tlsaudit.toml) of arbitrary TOML read and turned into an audit plan: the CA and
//! identities it names are loaded, the extra identities minted, the expectations computed. The
//! files it can name (`ca.crt`, `ca.pem`, `tidb.crt`, `tidb.pem`, `tikv.crt`, `tikv.pem`) exist
//! in a directory made once per run, so mutated inventories reach the plan.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use tlsaudit_engine::audit::Plan;
use tlsaudit_engine::inventory::Inventory;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("writes the fuzz PKI");
}

/// A CA and two component certificates on disk, for the run's lifetime.
fn pki_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "fuzz CA");
        let ca_cert = ca.self_signed(&ca_key).expect("CA");
        write(dir.path(), "ca.crt", &ca_cert.pem());
        write(dir.path(), "ca.pem", &ca_key.serialize_pem());
        let issuer = Issuer::new(ca, ca_key);
        for name in ["tidb", "tikv"] {
            let key = KeyPair::generate().expect("key");
            let mut p = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
            p.distinguished_name.push(DnType::CommonName, name);
            p.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            let cert = p.signed_by(&key, &issuer).expect("leaf");
            write(dir.path(), &format!("{name}.crt"), &cert.pem());
            write(dir.path(), &format!("{name}.pem"), &key.serialize_pem());
        }
        dir
    })
    .path()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = pki_dir().join("tlsaudit.toml");
    if let Ok(inventory) = Inventory::parse(text, &path) {
        if let Ok(plan) = Plan::new(inventory) {
            let _ = plan.endpoints().len();
        }
    }
});
