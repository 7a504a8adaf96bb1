//! Against servers nobody here wrote, as one test binary: `openssl s_server`, nginx, and a real
//! Prometheus scraping `tlsaudit serve` (and hostile HTTP clients of it, and its reloads on
//! SIGHUP). One module per suite; each skips with a note when its tool is missing, except under
//! `CI=true`. (etcd and MariaDB, driven through the engine alone, are in the engine's test
//! binary, `crates/engine/tests/it`.)

mod generic_mtls;
mod openssl_interop;
mod serve_limits;
mod serve_prometheus;
mod serve_reload;
