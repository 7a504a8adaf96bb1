//! An embedded mutual-TLS "cluster" on loopback that imitates the TLS behaviour of TiDB
//! components (PD, TiKV, TiDB, TiFlash), plus endpoints with planted faults.
//!
//! [`Lab::start`] generates a throw-away PKI (ECDSA P-256) into a temporary directory, binds
//! one listener per [`EndpointSpec`] on `127.0.0.1:0` and serves until [`Lab::stop`] or drop.
//! Every accepted connection is counted and its outcome logged as a [`ConnEvent`].
//!
//! Endpoint behaviours (see `docs/tidb.md#how-each-component-checks-certificates`; rustls picks
//! the alerts except where noted):
//! - [`EndpointSpec::pd`]: TLS 1.3 only, ALPN `h2`/`http/1.1`, client cert required
//!   (none: `certificate_required`; foreign CA: `unknown_ca`; expired: `certificate_expired`;
//!   no clientAuth EKU: `unsupported_certificate`), a verified leaf CN missing from a
//!   non-empty allow-list gets `bad_certificate` (42), which a TLS 1.3 client only sees on its
//!   first read. Then gRPC over h2 (no CN check) or HTTP/1.1 (`GET` anything: 200 JSON).
//! - [`EndpointSpec::tikv_grpc`] / [`EndpointSpec::tiflash_grpc`]: TLS 1.2/1.3, gRPC C-core
//!   imitation that never sends an alert for a refused client. A chain that fails WebPKI
//!   (foreign CA, expired, no clientAuth EKU) aborts the handshake with the alert swallowed
//!   (TLS 1.3 client: handshake done, then EOF; TLS 1.2 client: EOF inside the handshake).
//!   A missing certificate, or a client not offering `h2` (the handshake then negotiates no
//!   ALPN instead of failing), gets a bare close right after the handshake. Calls:
//!   `grpc.health.v1.Health/Check` answers SERVING, or status 16 with TiKV's message / status
//!   7 "common name check is failed" for an unlisted CN (checked on every call); any other
//!   method answers 12.
//! - [`EndpointSpec::tikv_status`]: TLS 1.2 only, no ALPN, HTTP/1.1. With an allow-list: cert
//!   required, and `403 certificate role error` for an unlisted CN except on `/metrics`,
//!   `/status`, `/config`, `/debug/pprof/profile`. Without: no CertificateRequest, all 200.
//! - [`EndpointSpec::tidb_status`]: TLS 1.2/1.3, ALPN `http/1.1`, `GET /status` 200 JSON;
//!   CertificateRequest (and handshake-level CN check) only when `verify_cn` is non-empty.
//! - [`EndpointSpec::go_tls12`]: a Go `crypto/tls` HTTPS port limited to TLS 1.2 (TiDB and PD
//!   on older settings): an unlisted CN gets `bad_certificate` in the handshake, then a TCP
//!   reset (Go closes with the client's flight unread). Not part of [`LabSpec::standard`].
//! - [`EndpointSpec::tidb_sql`]: TiDB's SQL port (MySQL protocol): `CLIENT_SSL` in the
//!   greeting only with TLS configured, TLS 1.2/1.3 after an SSLRequest, a client certificate
//!   asked for with a client CA and verified only when given; `3159` to a plaintext login
//!   before authentication with `require-secure-transport`; `mysql_native_password` logins to
//!   the configured account, `1045` for anyone else (see [`SqlConfig`]).
//! - [`EndpointSpec::plaintext_http`]: plain HTTP; a TLS record gets Go's `400 Bad Request`.
//! - [`EndpointSpec::silent`], [`EndpointSpec::garbage`], [`EndpointSpec::reset`]: no
//!   answer, 64 non-TLS bytes (first 0x9f), TCP RST.
//!
//! - [`EndpointSpec::without_alpn`]: the endpoint negotiates no ALPN (a Go server without
//!   `NextProtos`); gRPC endpoints then serve HTTP/2 by prior knowledge.
//! - [`ServerCertKind::CnOnly`] / [`ServerCertKind::NoServerEku`]: a legacy server certificate
//!   without SANs, and one without the `serverAuth` EKU.
//!
//! - [`ServerCertKind::Reissued`]: a good certificate re-issued (new key, later notAfter), and
//!   [`Lab::reconfigure`]: change a running endpoint's allow-list or certificate on the same
//!   address, as a config change plus a reload would.
//!
//! TLS session resumption is disabled on every endpoint: each probe gets a full handshake.

mod behaviors;
mod error;
mod grpc;
mod handle;
mod http;
mod mysql;
mod pki;
mod prepare;
mod server;
mod spec;
mod verify;

#[cfg(test)]
mod tests;

pub use error::LabError;
pub use grpc::{percent_encode_grpc_message, HEALTH_CHECK_PATH};
pub use handle::{ConnEvent, Lab, LabEndpoint};
pub use mysql::{SqlAccount, SqlConfig};
pub use pki::{IdentityFiles, LabPki};
pub use spec::{Behavior, EndpointSpec, LabSpec, ServerCertKind};
