//! This process's own TCP sockets (Linux): the file descriptors of `/proc/self/fd` that are
//! sockets, matched by inode with `/proc/net/tcp` and `/proc/net/tcp6`.
//!
//! A leak check must count only the sockets of the test at hand: the other tests of the same
//! binary run in parallel threads of the same process, so a plain count of `/proc/self/fd`
//! moves with whatever they happen to hold open at that moment.

use std::collections::HashSet;

/// One TCP socket this process holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnSocket {
    /// The socket's inode (unique while it lives, not reused soon after).
    pub inode: String,
    pub local_port: u16,
    pub remote_port: u16,
    /// The kernel's state code (`0A` = LISTEN, `01` = ESTABLISHED, ...).
    pub state: String,
}

fn own_socket_inodes() -> HashSet<String> {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn port(hex_addr: &str) -> u16 {
    hex_addr
        .rsplit(':')
        .next()
        .and_then(|p| u16::from_str_radix(p, 16).ok())
        .unwrap_or(0)
}

/// Every TCP socket (IPv4 and IPv6) this process holds a descriptor for.
pub fn own_tcp_sockets() -> Vec<OwnSocket> {
    let inodes = own_socket_inodes();
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && inodes.contains(f[9]) {
                out.push(OwnSocket {
                    inode: f[9].to_string(),
                    local_port: port(f[1]),
                    remote_port: port(f[2]),
                    state: f[3].to_string(),
                });
            }
        }
    }
    out
}

/// This process's sockets with one end on one of `ports`.
pub fn own_sockets_on(ports: &[u16]) -> Vec<OwnSocket> {
    own_tcp_sockets()
        .into_iter()
        .filter(|s| ports.contains(&s.local_port) || ports.contains(&s.remote_port))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_a_connection_from_both_ends_and_forgets_it_when_closed() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        let c = std::net::TcpStream::connect(("127.0.0.1", p)).unwrap();
        let (s, _) = l.accept().unwrap();
        let seen = own_sockets_on(&[p]);
        // The listener, the client half (remote port p), the server half (local port p).
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(seen.iter().any(|s| s.state == "0A" && s.local_port == p));
        drop((c, s, l));
        assert!(own_sockets_on(&[p]).is_empty());
    }
}
