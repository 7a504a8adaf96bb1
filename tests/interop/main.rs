//! Against servers nobody here wrote, as one test binary: `openssl s_server`, nginx and a Go
//! crypto/tls server (the three also scanned by `tlsaudit scan` and sslyze side by side), a
//! real Prometheus scraping `tlsaudit serve` (and hostile HTTP clients of it, its reloads on
//! SIGHUP, days of uptime under libfaketime, and its hygiene scan at its own interval), and a
//! real Alertmanager delivering the shipped alerts. One module per suite; each skips with a
//! note when its tool is missing,
//! except under `CI=true`. (etcd and MariaDB, driven through the engine alone, are in the
//! engine's test binary, `crates/engine/tests/it`.)

mod generic_mtls;
mod hygiene;
mod hygiene_faces;
mod openssl_interop;
mod serve_alerts;
mod serve_clock;
mod serve_limits;
mod serve_prometheus;
mod serve_reload;
mod serve_scan;
