//! The engine and the lab from the outside, as one test binary (no CLI): one probe per outcome
//! class against the lab, hostile peers written here, many concurrent handshakes at the lab, and
//! real third-party servers (etcd, MariaDB) probed and audited. One module per suite.

mod etcd_interop;
mod hostile;
mod lab_smoke;
mod mariadb_interop;
mod probe_lab;
