//! Hostile and broken peers, written here as loopback servers (raw bytes or rustls): each probe
//! ends classified within its deadline, with a bounded record.

// Test code: helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TLS 1.2 `bad_certificate` alert record.
const BAD_CERTIFICATE: [u8; 7] = [0x15, 3, 3, 0, 2, 2, 42];

/// A peer that sends its alert and resets: our next write fails, and the alert is still read
/// from the receive buffer afterwards.
#[tokio::test]
async fn an_alert_before_a_reset_survives_the_write_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut hello = [0u8; 16];
        let _ = s.read(&mut hello).await;
        s.write_all(&[0x16, 3, 3, 0, 1, 0]).await.unwrap();
        s.write_all(&BAD_CERTIFICATE).await.unwrap();
        // Unread bytes plus SO_LINGER 0: the kernel sends a reset.
        tokio::time::sleep(Duration::from_millis(50)).await;
        s.set_zero_linger().unwrap();
    });
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"first flight").await.unwrap();
    server.await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut failed = false;
    for _ in 0..10 {
        if c.write_all(b"more of the flight").await.is_err() {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(failed, "the write after the reset fails");
    let alert = tlsaudit_engine::probe::drain_alert(c, Duration::from_secs(1)).await;
    assert_eq!(alert, Some(42));
}
