//! Name resolution, measured on its own before the baseline probe (whose connect time
//! includes it): the first step of the trace.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::probe;

/// Name resolution, measured on its own (the probe's connect time includes it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub host: String,
    pub addresses: Vec<String>,
    pub ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

pub(super) async fn resolve(address: &str, deadline: Duration) -> Resolution {
    let host = probe::host_of(address).to_string();
    let t = Instant::now();
    let r = tokio::time::timeout(deadline, tokio::net::lookup_host(address.to_string())).await;
    let elapsed = ms(t.elapsed());
    match r {
        Ok(Ok(addrs)) => {
            let mut addresses: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
            addresses.dedup();
            Resolution {
                host,
                addresses,
                ms: elapsed,
                error: None,
            }
        }
        Ok(Err(e)) => Resolution {
            host,
            addresses: Vec::new(),
            ms: elapsed,
            error: Some(e.to_string()),
        },
        Err(_) => Resolution {
            host,
            addresses: Vec::new(),
            ms: elapsed,
            error: Some(format!(
                "no answer within {}",
                humantime::format_duration(deadline)
            )),
        },
    }
}
