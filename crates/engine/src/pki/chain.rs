//! Server chains, interned: every identity probing an endpoint sees the same chain, and so does
//! every round until the certificates change. A `ChainCache` parses a chain once and hands out
//! one shared `Arc` of its summaries, keyed by the chain's fingerprint (SHA-256 over the DER of
//! each certificate, in order). The CA names of a server's certificate request are shared the
//! same way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rustls_pki_types::CertificateDer;

use super::summary::{summarize_or_placeholder, CertSummary};

/// The certificates a server sent, leaf first, as summaries. Shared between the records that
/// saw the same chain; serializes as a plain array.
pub type ServerChain = Arc<[CertSummary]>;

/// The fingerprint of a chain: SHA-256 over each certificate's DER length and bytes, in order.
type ChainKey = [u8; 32];

fn chain_key(chain: &[CertificateDer<'_>]) -> ChainKey {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for cert in chain {
        ctx.update(&(cert.len() as u64).to_be_bytes());
        ctx.update(cert.as_ref());
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(ctx.finish().as_ref());
    key
}

/// Parsed server chains by fingerprint, shared by every probe of an audit (across rounds).
/// Bounded by [`ChainCache::evict_unreferenced`], which the auditor calls after each round:
/// a chain no record refers to any more is dropped.
#[derive(Debug, Default)]
pub struct ChainCache {
    chains: Mutex<HashMap<ChainKey, ServerChain>>,
    /// The CA names servers send with their certificate request, by their DER: an endpoint
    /// sends the same list to every caller, so each list is decoded once.
    hints: Mutex<HashMap<Vec<Vec<u8>>, CaHints>>,
    /// Each held chain's certificates as DER, by their SHA-256 (the summaries' `sha256`): for
    /// the evidence bundle, which carries what the servers served.
    ders: Mutex<HashMap<String, Arc<[u8]>>>,
}

/// The acceptable-CA names of a certificate request, decoded; shared like the chains.
pub type CaHints = Arc<[String]>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a probe panicked while holding it; the map is still valid.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ChainCache {
    pub fn new() -> ChainCache {
        ChainCache::default()
    }

    /// The names of a certificate request's CA list (`raw`: each name's DER), decoded by
    /// `name` once per distinct list and shared. An empty list is not cached.
    pub fn ca_hints(&self, raw: &[Vec<u8>], name: impl Fn(&[u8]) -> String) -> CaHints {
        if raw.is_empty() {
            return Arc::from(Vec::new());
        }
        if let Some(found) = lock(&self.hints).get(raw) {
            return found.clone();
        }
        let decoded: CaHints = raw.iter().map(|dn| name(dn)).collect();
        lock(&self.hints)
            .entry(raw.to_vec())
            .or_insert(decoded)
            .clone()
    }

    /// The summaries of `chain`, parsed once: a chain seen before (by any probe of this cache)
    /// comes back as the same `Arc`. An empty chain is not cached.
    pub fn intern(&self, chain: &[CertificateDer<'_>]) -> ServerChain {
        if chain.is_empty() {
            return Arc::from(Vec::new());
        }
        let key = chain_key(chain);
        if let Some(found) = lock(&self.chains).get(&key) {
            return found.clone();
        }
        // Parsed outside the lock; when two probes race, the first one stored wins so that
        // both records share it.
        let parsed: ServerChain = chain
            .iter()
            .map(|c| summarize_or_placeholder(c.as_ref()).with_sans_capped())
            .collect();
        let mut ders = lock(&self.ders);
        for (summary, der) in parsed.iter().zip(chain) {
            ders.entry(summary.sha256.clone())
                .or_insert_with(|| Arc::from(der.as_ref()));
        }
        drop(ders);
        lock(&self.chains).entry(key).or_insert(parsed).clone()
    }

    /// The DER of a certificate of a held chain, by its SHA-256.
    pub fn der(&self, sha256: &str) -> Option<Arc<[u8]>> {
        lock(&self.ders).get(sha256).cloned()
    }

    /// Drop the chains only this cache still holds (no record refers to them); returns how
    /// many were dropped.
    pub fn evict_unreferenced(&self) -> usize {
        lock(&self.hints).retain(|_, hints| Arc::strong_count(hints) > 1);
        let mut map = lock(&self.chains);
        let before = map.len();
        map.retain(|_, chain| Arc::strong_count(chain) > 1);
        let held: std::collections::HashSet<&str> = map
            .values()
            .flat_map(|c| c.iter().map(|s| s.sha256.as_str()))
            .collect();
        lock(&self.ders).retain(|sha, _| held.contains(sha.as_str()));
        before - map.len()
    }

    /// How many distinct chains are held.
    pub fn len(&self) -> usize {
        lock(&self.chains).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    fn cert(cn: &str) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![format!("{cn}.example")]).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, cn.to_string());
        p.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn the_same_chain_is_parsed_once_and_shared() {
        let cache = ChainCache::new();
        let (a, b) = (cert("pd"), cert("tikv"));
        let first = cache.intern(&[a.clone(), b.clone()]);
        let second = cache.intern(&[a.clone(), b.clone()]);
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(cache.der(&first[0].sha256).as_deref(), Some(a.as_ref()));
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].common_name.as_deref(), Some("pd"));
        assert_eq!(first[0].sha256, crate::pki::summary::sha256_hex(&a));
        // Another order, or another chain, is another entry.
        let swapped = cache.intern(&[b.clone(), a.clone()]);
        assert!(!Arc::ptr_eq(&first, &swapped));
        assert_eq!(swapped[0].common_name.as_deref(), Some("tikv"));
        let leaf_only = cache.intern(std::slice::from_ref(&a));
        assert_eq!(leaf_only.len(), 1);
        assert_eq!(cache.len(), 3);
        assert!(cache.intern(&[]).is_empty());
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn ca_hints_are_decoded_once_and_evicted_with_the_last_holder() {
        let cache = ChainCache::new();
        let decoded = std::sync::atomic::AtomicUsize::new(0);
        let name = |dn: &[u8]| {
            decoded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            String::from_utf8_lossy(dn).into_owned()
        };
        let raw = vec![b"CN=a".to_vec(), b"CN=b".to_vec()];
        let first = cache.ca_hints(&raw, name);
        let second = cache.ca_hints(&raw, name);
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(&*first, &["CN=a".to_string(), "CN=b".to_string()]);
        assert_eq!(decoded.load(std::sync::atomic::Ordering::Relaxed), 2);
        assert!(cache.ca_hints(&[], name).is_empty());
        drop((first, second));
        cache.evict_unreferenced();
        cache.ca_hints(&raw, name);
        assert_eq!(decoded.load(std::sync::atomic::Ordering::Relaxed), 4);
    }

    #[test]
    fn chains_nobody_holds_are_evicted() {
        let cache = ChainCache::new();
        let (a, b) = (cert("pd"), cert("tikv"));
        let kept = cache.intern(std::slice::from_ref(&a));
        let dropped = cache.intern(std::slice::from_ref(&b));
        let gone = dropped[0].sha256.clone();
        drop(dropped);
        assert_eq!(cache.evict_unreferenced(), 1);
        assert_eq!(cache.len(), 1);
        assert!(cache.der(&gone).is_none(), "its DER goes with it");
        assert!(cache.der(&kept[0].sha256).is_some());
        // The kept chain is still the shared one; the evicted one is parsed anew.
        assert!(Arc::ptr_eq(&kept, &cache.intern(std::slice::from_ref(&a))));
        drop(kept);
        assert_eq!(cache.evict_unreferenced(), 1);
        assert!(cache.is_empty());
        assert_eq!(cache.intern(&[b])[0].common_name.as_deref(), Some("tikv"));
    }

    #[test]
    fn an_unparsable_certificate_keeps_its_place() {
        let cache = ChainCache::new();
        let junk = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
        let chain = cache.intern(&[cert("pd"), junk]);
        assert_eq!(chain.len(), 2);
        assert!(chain[1].parse_error.is_some());
    }
}
