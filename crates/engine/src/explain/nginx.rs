//! nginx's error-log lines about client certificates, as `ngx_http_process_request` in nginx's
//! `src/http/ngx_http_request.c` logs them (the stream and mail modules log the same words).
//! With `ssl_verify_client on` nginx completes the TLS handshake whatever the caller sends (its
//! verify callback in `src/event/ngx_event_openssl.c` accepts every certificate and keeps
//! OpenSSL's result), then refuses the request at INFO level:
//! - `client sent no required SSL certificate`, answered HTTP 400 "No required SSL certificate
//!   was sent";
//! - `client SSL certificate verify error: (N:TEXT)`, N being OpenSSL's `X509_V_ERR_*` number
//!   and TEXT its `X509_verify_cert_error_string`, answered HTTP 400 "The SSL certificate error".
//!
//! Here the number is read and turned into its cause and fix.

use crate::diagnose::cause::Cause;
use Cause as C;

/// An nginx line, read.
pub(super) struct NginxLine {
    /// The recognised words, as in the input.
    pub matched: String,
    pub source: &'static str,
    pub meaning: String,
    pub causes: &'static [Cause],
    pub details: Vec<String>,
    /// `host:port` of the request's Host header, when it names a port.
    pub endpoint: Option<String>,
}

const NO_CERT: &str = "client sent no required ssl certificate";
const VERIFY: &str = "client ssl certificate verify error";
const SOURCE: &str = "nginx with `ssl_verify_client on` (ngx_http_request.c), at INFO";
const HANDSHAKE_DONE: &str =
    "nginx completes the TLS handshake anyway and refuses the request with HTTP 400";

/// What an OpenSSL verify error number means for a client certificate nginx checked against
/// `ssl_client_certificate`: (OpenSSL's words, what it means, the causes, the fix).
fn x509_error(n: u32) -> (&'static str, &'static str, &'static [Cause], &'static str) {
    const ISSUER: &str = "the issuer of the caller's certificate is not in `ssl_client_certificate`: the certificate comes from another CA, or the caller did not send an intermediate the file lacks";
    const ISSUE_FROM_CA: &str = "issue the caller's certificate from the CA in `ssl_client_certificate`, or add the caller's CA (and intermediates) to that file and run `nginx -s reload`";
    match n {
        2 => ("unable to get issuer certificate", ISSUER, &[C::UnknownCa, C::IncompleteChain], ISSUE_FROM_CA),
        20 => ("unable to get local issuer certificate", ISSUER, &[C::UnknownCa, C::IncompleteChain], ISSUE_FROM_CA),
        21 => ("unable to verify the first certificate",
            "the caller sent its certificate without the intermediate CA that signed it, and `ssl_client_certificate` lacks it",
            &[C::IncompleteChain, C::UnknownCa],
            "have the caller send its intermediate with its certificate, or add the intermediate to `ssl_client_certificate` (and raise `ssl_verify_depth`, 1 by default) and run `nginx -s reload`"),
        9 => ("certificate is not yet valid", "the caller's certificate (or a CA of its chain) is not valid yet: a certificate issued in the future, or clocks that disagree",
            &[C::Expired, C::ClockSkew], "check the clocks of this host and of the issuer; wait or reissue the certificate"),
        10 => ("certificate has expired", "the caller's certificate (or a CA of its chain) has expired",
            &[C::Expired, C::ClockSkew], "renew the caller's certificate and have the caller load it (reload or restart the caller)"),
        18 => ("self-signed certificate", "the caller sent a self-signed certificate that is not a CA of `ssl_client_certificate`",
            &[C::UnknownCa], "issue the caller a certificate from the CA in `ssl_client_certificate`"),
        19 => ("self-signed certificate in certificate chain", "the caller's chain ends in a root CA that is not in `ssl_client_certificate`",
            &[C::UnknownCa], ISSUE_FROM_CA),
        22 => ("certificate chain too long", "the caller's chain is longer than `ssl_verify_depth` allows (1 by default: the certificate and its issuer)",
            &[C::CertVerifyFailed, C::IncompleteChain], "raise `ssl_verify_depth` to the depth of the caller's chain and run `nginx -s reload`"),
        23 => ("certificate revoked", "the caller's certificate is on the revocation list of `ssl_crl`",
            &[C::CertVerifyFailed], "issue the caller a new certificate (this one is revoked)"),
        26 => ("unsupported certificate purpose", "the caller's certificate lacks the clientAuth extended key usage (a server-only certificate used as a client's)",
            &[C::IncompatibleEku], "reissue the caller's certificate with extendedKeyUsage clientAuth"),
        _ => ("", "OpenSSL refused the caller's certificate",
            &[C::CertVerifyFailed, C::UnknownCa], "make the caller's certificate chain to `ssl_client_certificate` and be within its validity, then try again"),
    }
}

/// `(20:unable to get local issuer certificate)` after the marker: the number and the words.
fn verify_error(text: &str, lower: &str) -> Option<(u32, String)> {
    let i = lower.find(VERIFY)? + VERIFY.len();
    let rest = text.get(i..)?.trim_start_matches([':', ' ']);
    let inner = rest.strip_prefix('(')?;
    let inner = &inner[..inner.find(')').unwrap_or(inner.len())];
    let (num, words) = inner.split_once(':')?;
    Some((num.trim().parse().ok()?, words.trim().to_string()))
}

/// The value nginx logs after `, client: ` / `, server: ` / `, host: "..."`.
fn field<'a>(text: &'a str, lower: &str, name: &str) -> Option<&'a str> {
    let marker = format!(", {name}: ");
    let i = lower.find(&marker)? + marker.len();
    let rest = text.get(i..)?;
    let v = if let Some(q) = rest.strip_prefix('"') {
        &q[..q.find('"').unwrap_or(q.len())]
    } else {
        &rest[..rest.find(',').unwrap_or(rest.len())]
    };
    let v = v.trim();
    (!v.is_empty()).then_some(v)
}

/// The caller, the server name and the Host header, as details; the Host as the endpoint when
/// it names a port.
fn names(text: &str, lower: &str) -> (Vec<String>, Option<String>) {
    let mut details = Vec::new();
    if let Some(c) = field(text, lower, "client") {
        details.push(format!("the caller's address: {c}"));
    }
    if let Some(s) = field(text, lower, "server") {
        details.push(format!("nginx server block: {s}"));
    }
    let host = field(text, lower, "host");
    if let Some(h) = host {
        details.push(format!("dialed (Host header): {h}"));
    }
    let endpoint = host
        .filter(|h| {
            h.rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        })
        .map(str::to_string);
    (details, endpoint)
}

/// The nginx line in the text, if any.
pub(super) fn nginx(text: &str, lower: &str) -> Option<NginxLine> {
    let (mut details, endpoint) = names(text, lower);
    let at = |needle: &str| {
        lower
            .find(needle)
            .and_then(|i| text.get(i..i + needle.len()))
    };
    if let Some(matched) = at(NO_CERT) {
        return Some(NginxLine {
            matched: matched.to_string(),
            source: SOURCE,
            meaning: format!(
                "nginx requires a client certificate (`ssl_verify_client on`) and the caller sent none. {HANDSHAKE_DONE} \"No required SSL certificate was sent\", so the caller sees an HTTP error, not a TLS alert. Fix: give the caller its certificate and key (curl `--cert`/`--key`, an nginx proxy's `proxy_ssl_certificate` and `proxy_ssl_certificate_key`, the client's TLS settings); where some callers are meant to come without one, use `ssl_verify_client optional` and decide on `$ssl_client_verify`."
            ),
            causes: &[C::ClientCertRequired],
            details,
            endpoint,
        });
    }
    let matched = at(VERIFY)?.to_string();
    let (meaning, causes) = match verify_error(text, lower) {
        Some((n, logged)) => {
            let (words, what, causes, fix) = x509_error(n);
            let words = if logged.is_empty() { words } else { logged.as_str() };
            details.insert(0, format!("OpenSSL verify error {n}: {words}"));
            (
                format!(
                    "nginx verified the caller's certificate against `ssl_client_certificate` and OpenSSL refused it with error {n} ({words}): {what}. {HANDSHAKE_DONE} \"The SSL certificate error\". Fix: {fix}."
                ),
                causes,
            )
        }
        None => (
            format!(
                "nginx refused the caller's certificate (a revocation or OCSP status, or a verify error it did not number). {HANDSHAKE_DONE} \"The SSL certificate error\". Fix: make the caller's certificate chain to `ssl_client_certificate`, within its validity and not revoked."
            ),
            &[C::CertVerifyFailed, C::UnknownCa][..],
        ),
    };
    Some(NginxLine {
        matched,
        source: SOURCE,
        meaning,
        causes,
        details,
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(line: &str) -> NginxLine {
        nginx(line, &line.to_ascii_lowercase()).unwrap()
    }

    #[test]
    fn no_certificate() {
        let n = read("2024/05/01 10:00:00 [info] 1234#0: *5 client sent no required SSL certificate while reading client request headers, client: 10.0.3.9, server: api.example, request: \"GET / HTTP/1.1\", host: \"10.0.3.5:8443\"");
        assert_eq!(n.matched, "client sent no required SSL certificate");
        assert_eq!(n.causes, [C::ClientCertRequired]);
        assert!(n.meaning.contains("ssl_verify_client on"), "{}", n.meaning);
        assert!(n.meaning.contains("HTTP 400"), "{}", n.meaning);
        assert!(
            n.meaning.contains("Fix: give the caller its certificate"),
            "{}",
            n.meaning
        );
        assert_eq!(n.endpoint.as_deref(), Some("10.0.3.5:8443"));
        assert!(
            n.details
                .contains(&"the caller's address: 10.0.3.9".to_string()),
            "{:?}",
            n.details
        );
    }

    #[test]
    fn verify_errors_by_number() {
        let cases: [(&str, Cause, &str); 7] = [
            (
                "(2:unable to get issuer certificate)",
                C::UnknownCa,
                "another CA",
            ),
            (
                "(20:unable to get local issuer certificate)",
                C::UnknownCa,
                "another CA",
            ),
            ("(10:certificate has expired)", C::Expired, "renew"),
            ("(18:self-signed certificate)", C::UnknownCa, "self-signed"),
            (
                "(19:self signed certificate in certificate chain)",
                C::UnknownCa,
                "root CA",
            ),
            (
                "(26:unsupported certificate purpose)",
                C::IncompatibleEku,
                "clientAuth",
            ),
            (
                "(22:certificate chain too long)",
                C::CertVerifyFailed,
                "ssl_verify_depth",
            ),
        ];
        for (err, cause, word) in cases {
            let line = format!("[info] 7#7: *1 client SSL certificate verify error: {err} while reading client request headers, client: 127.0.0.1, server: localhost");
            let n = read(&line);
            assert_eq!(n.causes[0], cause, "{err}");
            assert!(n.meaning.contains(word), "{err}: {}", n.meaning);
            assert!(
                n.meaning.contains("ssl_client_certificate"),
                "{err}: {}",
                n.meaning
            );
            assert!(n.meaning.contains("Fix: "), "{err}: {}", n.meaning);
            // OpenSSL's words as logged (1.1 spells "self signed").
            let logged = err.trim_matches(['(', ')']).split_once(':').unwrap().1;
            assert!(n.details[0].ends_with(logged), "{:?}", n.details);
            assert!(n.endpoint.is_none());
        }
        // An unnumbered error (OCSP) and an unknown number still explain.
        let n = read("client SSL certificate verify error: certificate status \"revoked\" while reading client request headers");
        assert_eq!(n.causes[0], C::CertVerifyFailed);
        let n = read("client SSL certificate verify error: (7:certificate signature failure)");
        assert!(
            n.meaning
                .contains("error 7 (certificate signature failure)"),
            "{}",
            n.meaning
        );
        assert!(nginx("an unrelated line", "an unrelated line").is_none());
    }
}
