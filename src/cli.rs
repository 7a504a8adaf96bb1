//! Command line: clap definitions and the commands. `main.rs` only calls [`main`].

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::InputError;
use crate::pki::{Identity, Trust};
use crate::probe::{self, Caller, ProbeSpec, Protocol, Timeouts, TlsVersions};
use crate::report::text::{self, Style};

#[derive(Debug, Parser)]
#[command(
    name = "tlsaudit",
    version,
    about = "Audit mutual-TLS clusters (TiDB, etcd): which links are encrypted, which callers are authorized, and why not",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe one endpoint with one identity and show everything the handshake revealed.
    Probe(ProbeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

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
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 5s, 500ms)"))?;
    if d.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(d)
}

/// Parse arguments, run, and map the result to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<u8, InputError> {
    match cli.command {
        Command::Probe(args) => run_probe(args).await,
    }
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
pub fn emit(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes()).and_then(|_| out.flush());
}

async fn run_probe(args: ProbeArgs) -> Result<u8, InputError> {
    probe::validate_address(&args.address)
        .map_err(|e| InputError::usage(e, "give the endpoint as HOST:PORT, e.g. 10.0.1.11:2379"))?;
    let trust = Trust::load(&args.ca)?;
    let identity = match (&args.cert, &args.key) {
        (Some(c), Some(k)) => {
            let name = c
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "client".into());
            Identity::load(&name, c, k)?
        }
        _ => Identity::anonymous(),
    };
    let caller = Caller::new(identity, &trust);
    let mut spec = ProbeSpec::new(args.address.clone(), args.protocol);
    spec.server_name = args.server_name.clone();
    spec.path = args.path.clone();
    spec.versions = args.versions;
    spec.timeouts = Timeouts::uniform(args.timeout);
    spec.alpn = args.alpn.as_deref().map(|list| {
        if list == "none" {
            Vec::new()
        } else {
            list.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        }
    });
    let rec = probe::probe(&spec, &caller, &trust).await;
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&rec) {
            Ok(j) => emit(&format!("{j}\n")),
            Err(e) => eprintln!("error: cannot serialize the record: {e}"),
        },
        Format::Text => emit(&text::probe(&rec, Style::detect())),
    }
    Ok(if rec.outcome.class == probe::OutcomeClass::Accepted {
        0
    } else {
        1
    })
}
