//! `tlsaudit probe HOST:PORT`: one endpoint, one identity, everything the handshake revealed
//! (text or JSON); exit 0 when the probe was accepted.

use std::path::PathBuf;
use std::time::Duration;

use tlsaudit_engine::error::InputError;
use tlsaudit_engine::pki::{Identity, Trust};
use tlsaudit_engine::probe::{self, Caller, ProbeSpec, Protocol, Timeouts, TlsVersions};

use crate::cli::input::{parse_duration, MysqlFlags, ResolveFlags};
use crate::cli::output::{emit, emit_json, stdout_style, TextOrJson};

#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The endpoint, HOST:PORT.
    pub address: String,
    /// The CA certificate callers trust (TiUP: tls/ca.crt).
    #[arg(long, value_name = "FILE")]
    pub ca: PathBuf,
    /// Client certificate to present (omit for an anonymous probe).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Name to verify the server certificate for (default: the host of ADDRESS).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// What to do after the handshake.
    #[arg(long, value_enum, default_value = "tls")]
    pub protocol: Protocol,
    /// HTTP path (http) or gRPC method path (grpc).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Deadline of each phase (connect, handshake, check), e.g. 3s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// TLS versions to offer.
    #[arg(long = "tls-version", value_enum, default_value = "any")]
    pub versions: TlsVersions,
    /// ALPN protocols to offer, comma separated; "none" offers none (default by protocol).
    #[arg(long, value_name = "LIST")]
    pub alpn: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text", ignore_case = true)]
    pub format: TextOrJson,
    #[command(flatten)]
    pub resolve: ResolveFlags,
    #[command(flatten)]
    pub mysql: MysqlFlags,
}

/// `--alpn`: the list, comma separated; `none` is the empty list.
fn alpn_list(list: &str) -> Vec<String> {
    if list == "none" {
        return Vec::new();
    }
    list.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The identity of `--cert`/`--key` (named by the certificate's file), or anonymous.
fn identity(args: &ProbeArgs) -> Result<Identity, InputError> {
    match (&args.cert, &args.key) {
        (Some(c), Some(k)) => {
            let name = c
                .file_stem()
                .map_or_else(|| "client".into(), |s| s.to_string_lossy().into_owned());
            Identity::load(&name, c, k)
        }
        _ => Ok(Identity::anonymous()),
    }
}

/// `tlsaudit probe`: exit 0 when the probe was accepted, else 1.
pub async fn run(args: ProbeArgs) -> Result<u8, InputError> {
    args.resolve.apply();
    probe::validate_address(&args.address)
        .map_err(|e| InputError::usage(e, "give the endpoint as HOST:PORT, e.g. 10.0.1.11:2379"))?;
    let trust = Trust::load(&args.ca)?;
    let caller = Caller::new(identity(&args)?, &trust);
    let mut spec = ProbeSpec::new(args.address.clone(), args.protocol);
    spec.server_name = args.server_name.clone();
    spec.path = args.path.clone();
    spec.versions = args.versions;
    spec.timeouts = Timeouts::uniform(args.timeout);
    spec.mysql_account = args.mysql.account()?;
    spec.alpn = args.alpn.as_deref().map(alpn_list);
    let rec = probe::probe(&spec, &caller, &trust).await;
    match args.format {
        TextOrJson::Json => emit_json(&rec, "record"),
        TextOrJson::Text => emit(&tlsaudit_report::text::probe(&rec, stdout_style())),
    }
    Ok(u8::from(rec.outcome.class != probe::OutcomeClass::Accepted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_lists_are_comma_separated_and_none_is_empty() {
        assert_eq!(alpn_list("h2, http/1.1,,"), ["h2", "http/1.1"]);
        assert!(alpn_list("none").is_empty());
    }
}
