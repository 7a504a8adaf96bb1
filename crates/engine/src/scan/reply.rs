//! The server's answer to one hello, read from the socket and parsed with tls-parser: the
//! ServerHello (or HelloRetryRequest) with its version, suite and group, the certificate chain
//! when a TLS 1.0-1.2 handshake sends it in the clear, or an alert, or what else came back
//! (nothing, a reset, bytes that are not TLS). Records are reassembled before the handshake
//! messages are parsed (a message may span records, a record hold several), within a cap on
//! the bytes read.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tls_parser::{
    parse_tls_message_handshake, parse_tls_raw_record, parse_tls_server_hello_extensions,
    TlsExtension, TlsMessage, TlsMessageHandshake, TlsRecordType, TlsServerHelloContents,
};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The most bytes read for one answer: a ServerHello and a chain fit in far less.
const MAX_ANSWER: usize = 64 * 1024;

/// The random of a HelloRetryRequest (RFC 8446, 4.1.3): SHA-256 of "HelloRetryRequest".
#[cfg(test)]
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// What the server picked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Picked {
    /// The version negotiated (`supported_versions` when present, else the hello's).
    pub version: u16,
    pub suite: u16,
    /// The group: the key share (TLS 1.3) or the curve of the ServerKeyExchange (ECDHE).
    pub group: Option<u16>,
    /// The certificates of a TLS 1.0-1.2 handshake, leaf first (empty otherwise).
    pub chain: Vec<Vec<u8>>,
}

/// How a hello was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Hello(Picked),
    /// A fatal alert (its description: 40 handshake_failure, 70 protocol_version, ...).
    Alert(u8),
    /// The server closed the connection without a word.
    Closed,
    Reset(String),
    /// No answer within the deadline.
    Timeout,
    /// Bytes that are not a TLS answer to a hello, in words.
    NotTls(String),
    /// No connection (refused, unresolved, a local failure), in words.
    NoConnection(Failure, String),
}

/// The class of a failed answer, for a scan that could not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    Refused,
    Unresolved,
    Reset,
    Timeout,
    NotTls,
    /// The server broke the rules of the exchange (a suite it was not offered, a loop).
    Protocol,
    /// This host failed (out of descriptors, no route): nothing about the endpoint.
    Local,
}

/// Read the answer to a hello within `deadline`; `chain`: go on to the ServerHelloDone (TLS
/// 1.0-1.2: the Certificate and the ServerKeyExchange's curve) instead of stopping at the
/// ServerHello.
pub async fn read_answer<R: AsyncRead + Unpin>(
    r: &mut R,
    deadline: Duration,
    chain: bool,
) -> Answer {
    let mut p = Progress::default();
    match tokio::time::timeout(deadline, read(r, &mut p, chain)).await {
        Ok(a) => a,
        // A ServerHello came, the rest did not: the answer stands without the chain.
        Err(_) => p.picked.take().map_or(Answer::Timeout, Answer::Hello),
    }
}

/// What has been read of an answer so far.
#[derive(Default)]
struct Progress {
    buf: Vec<u8>,
    handshake: Vec<u8>,
    picked: Option<Picked>,
}

async fn read<R: AsyncRead + Unpin>(r: &mut R, p: &mut Progress, chain: bool) -> Answer {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(done) = step(p, chain) {
            return done;
        }
        if p.buf.len() > MAX_ANSWER {
            return Answer::NotTls(format!(
                "more than {MAX_ANSWER} bytes without a ServerHello"
            ));
        }
        match r.read(&mut chunk).await {
            Ok(0) if p.picked.is_none() && !p.buf.is_empty() => {
                return Answer::NotTls(format!(
                    "the server closed the connection inside a record ({})",
                    not_tls(&p.buf)
                ));
            }
            Ok(0) => return p.picked.take().map_or(Answer::Closed, Answer::Hello),
            Ok(n) => p.buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                return match p.picked.take() {
                    Some(picked) => Answer::Hello(picked),
                    None => Answer::Reset(e.to_string()),
                }
            }
        }
    }
}

/// Consume the whole records in the buffer; an answer once one is known.
fn step(p: &mut Progress, chain: bool) -> Option<Answer> {
    loop {
        // A record starts with its type (20 to 24) and version 3.x: anything else is not TLS.
        if matches!(p.buf[..], [t, ..] if !(20..=24).contains(&t))
            || matches!(p.buf[..], [_, v, ..] if v != 3)
        {
            return Some(Answer::NotTls(not_tls(&p.buf)));
        }
        let (rest, record) = match parse_tls_raw_record(&p.buf) {
            Ok(ok) => ok,
            Err(tls_parser::Err::Incomplete(_)) => return None,
            Err(_) => return Some(Answer::NotTls(not_tls(&p.buf))),
        };
        let (kind, data) = (record.hdr.record_type, record.data.to_vec());
        let used = p.buf.len() - rest.len();
        p.buf.drain(..used);
        match kind {
            TlsRecordType::Alert if p.picked.is_none() => {
                return Some(Answer::Alert(data.get(1).copied().unwrap_or(0)));
            }
            TlsRecordType::Handshake => {
                p.handshake.extend_from_slice(&data);
                if let Some(done) = messages(p, chain) {
                    return Some(done);
                }
            }
            // A change_cipher_spec (TLS 1.3 compatibility) or a late alert: the answer is
            // already known or still to come.
            _ if p.picked.is_some() => return p.picked.take().map(Answer::Hello),
            TlsRecordType::ChangeCipherSpec => {}
            _ => {
                return Some(Answer::NotTls(format!(
                    "a {kind:?} record before the ServerHello"
                )))
            }
        }
    }
}

/// Parse the whole handshake messages reassembled so far (a partial one is kept).
fn messages(p: &mut Progress, chain: bool) -> Option<Answer> {
    let buf = std::mem::take(&mut p.handshake);
    let mut at = 0;
    let out = loop {
        match parse_tls_message_handshake(&buf[at..]) {
            Ok((rest, msg)) => {
                at = buf.len() - rest.len();
                if let Some(done) = on_message(p, &msg, chain) {
                    break Some(done);
                }
            }
            Err(tls_parser::Err::Incomplete(_)) => break None,
            Err(_) if p.picked.is_some() => break p.picked.take().map(Answer::Hello),
            Err(_) => {
                break Some(Answer::NotTls(
                    "a handshake message that does not parse".into(),
                ))
            }
        }
    };
    p.handshake = buf[at..].to_vec();
    out
}

/// One handshake message: the ServerHello, the Certificate, the ServerKeyExchange's curve.
fn on_message(p: &mut Progress, msg: &TlsMessage<'_>, chain: bool) -> Option<Answer> {
    let TlsMessage::Handshake(hs) = msg else {
        return None;
    };
    match (hs, p.picked.as_mut()) {
        (TlsMessageHandshake::ServerHello(sh), None) => {
            let picked = server_hello(sh);
            let tls13 = picked.version == 0x0304;
            p.picked = Some(picked);
            (!chain || tls13).then(|| p.picked.take().map(Answer::Hello))?
        }
        (TlsMessageHandshake::Certificate(c), Some(picked)) => {
            picked.chain = c.cert_chain.iter().map(|c| c.data.to_vec()).collect();
            None
        }
        (TlsMessageHandshake::ServerKeyExchange(kx), Some(picked)) => {
            // ECParameters: curve_type named_curve (3), then the curve (RFC 8422, 5.4).
            if let [3, a, b, ..] = kx.parameters {
                picked.group = Some(u16::from_be_bytes([*a, *b]));
            }
            None
        }
        (TlsMessageHandshake::ServerDone(_), Some(_)) => p.picked.take().map(Answer::Hello),
        (_, None) => Some(Answer::NotTls(
            "a handshake message before the ServerHello".into(),
        )),
        _ => None,
    }
}

/// Version, suite and group of a ServerHello (or HelloRetryRequest).
fn server_hello(sh: &TlsServerHelloContents<'_>) -> Picked {
    let mut picked = Picked {
        version: sh.version.0,
        suite: sh.cipher.0,
        ..Picked::default()
    };
    let exts = sh
        .ext
        .and_then(|e| parse_tls_server_hello_extensions(e).ok())
        .map(|(_, e)| e)
        .unwrap_or_default();
    for e in exts {
        match e {
            TlsExtension::SupportedVersions(v) if v.len() == 1 => picked.version = v[0].0,
            TlsExtension::KeyShare([a, b, ..]) => picked.group = Some(u16::from_be_bytes([*a, *b])),
            _ => {}
        }
    }
    picked
}

/// The first bytes of a non-TLS answer, escaped.
fn not_tls(buf: &[u8]) -> String {
    let head: String = buf
        .iter()
        .take(24)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    format!("the answer is not TLS: \"{head}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ServerHello record for `version` (legacy 1.2 + supported_versions for 1.3).
    fn server_hello_record(version: u16, suite: u16, group: Option<u16>) -> Vec<u8> {
        let mut ext = Vec::new();
        if version == 0x0304 {
            ext.extend_from_slice(&[0, 43, 0, 2, 3, 4]);
        }
        if let Some(g) = group {
            ext.extend_from_slice(&[0, 51, 0, 2]);
            ext.extend_from_slice(&g.to_be_bytes());
        }
        let legacy: u16 = if version == 0x0304 { 0x0303 } else { version };
        let mut body = legacy.to_be_bytes().to_vec();
        body.extend_from_slice(&HRR_RANDOM);
        body.push(0);
        body.extend_from_slice(&suite.to_be_bytes());
        body.push(0);
        body.extend_from_slice(&u16::try_from(ext.len()).unwrap().to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![2, 0];
        hs.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![22, 3, 3];
        rec.extend_from_slice(&u16::try_from(hs.len()).unwrap().to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    async fn answer(bytes: Vec<u8>, chain: bool) -> Answer {
        let mut r: &[u8] = &bytes;
        read_answer(&mut r, Duration::from_secs(1), chain).await
    }

    #[tokio::test]
    async fn a_retry_request_names_suite_and_group() {
        let a = answer(server_hello_record(0x0304, 0x1302, Some(29)), false).await;
        let Answer::Hello(p) = a else { panic!("{a:?}") };
        assert_eq!((p.version, p.suite, p.group), (0x0304, 0x1302, Some(29)));
        let a = answer(server_hello_record(0x0301, 0x000a, None), false).await;
        assert!(matches!(
            a,
            Answer::Hello(Picked {
                version: 0x0301,
                suite: 0x000a,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn a_record_split_in_two_reads_is_reassembled() {
        // The ServerHello's handshake message spans two records.
        let rec = server_hello_record(0x0303, 0xc02f, None);
        let hs = &rec[5..];
        let mut bytes = Vec::new();
        for part in [&hs[..10], &hs[10..]] {
            bytes.extend_from_slice(&[22, 3, 3]);
            bytes.extend_from_slice(&u16::try_from(part.len()).unwrap().to_be_bytes());
            bytes.extend_from_slice(part);
        }
        let a = answer(bytes, false).await;
        assert!(
            matches!(a, Answer::Hello(Picked { suite: 0xc02f, .. })),
            "{a:?}"
        );
    }

    #[tokio::test]
    async fn alerts_silence_and_garbage_are_told_apart() {
        assert_eq!(
            answer(vec![21, 3, 3, 0, 2, 2, 40], false).await,
            Answer::Alert(40)
        );
        assert_eq!(answer(Vec::new(), false).await, Answer::Closed);
        let a = answer(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), false).await;
        assert!(
            matches!(&a, Answer::NotTls(w) if w.contains("HTTP/1.1")),
            "{a:?}"
        );
        // A handshake record holding garbage.
        let a = answer(vec![22, 3, 3, 0, 4, 2, 0, 0, 9], false).await;
        assert!(matches!(a, Answer::NotTls(_) | Answer::Closed), "{a:?}");
    }
}
