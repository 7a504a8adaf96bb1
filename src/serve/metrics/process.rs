//! The standard process metrics every Prometheus client library exports
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
//! `process_open_fds`, `process_max_fds`, `process_start_time_seconds`), which
//! `prometheus-client` has no collector for: read from `/proc/self` on Linux, refreshed each
//! round, absent elsewhere.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// Clock ticks per second of the times in `/proc/<pid>/stat`: the kernel's `USER_HZ`, 100 on
/// every architecture Rust targets on Linux (what Prometheus' own procfs reader assumes too).
const USER_HZ: f64 = 100.0;

/// What `/proc/self/stat` says of this process.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stat {
    /// User plus system CPU time, in seconds.
    cpu_seconds: f64,
    /// When the process started, in clock ticks after boot.
    start_ticks: u64,
}

/// `/proc/<pid>/stat`'s fields after the command name (which may hold spaces and parentheses:
/// the fields start after its last `)`).
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0]: utime is field 14, stime 15, starttime 22.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let ticks = field(14)? + field(15)?;
    Some(Stat {
        #[allow(clippy::cast_precision_loss)]
        cpu_seconds: ticks as f64 / USER_HZ,
        start_ticks: field(22)?,
    })
}

/// The boot time (Unix seconds) in `/proc/stat`'s `btime` line.
fn boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// A `/proc/<pid>/status` size line (`VmRSS:    1234 kB`) in bytes.
fn status_bytes(status: &str, key: &str) -> Option<i64> {
    let line = status.lines().find_map(|l| l.strip_prefix(key))?;
    let kb = line.strip_prefix(':')?.trim().strip_suffix("kB")?.trim();
    kb.parse::<i64>().ok()?.checked_mul(1024)
}

/// Open file descriptors: the entries of `/proc/self/fd` (less the one reading it).
fn open_fds() -> Option<i64> {
    let n = std::fs::read_dir("/proc/self/fd").ok()?.count();
    i64::try_from(n.saturating_sub(1)).ok()
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The process series and the CPU time they last saw (the counter moves by the difference).
pub struct Process {
    cpu: Counter<f64, AtomicU64>,
    cpu_seen: f64,
    resident: Gauge,
    virtual_memory: Gauge,
    open_fds: Gauge,
    max_fds: Gauge,
}

impl Process {
    /// Register the process series in `registry` (no prefix: the standard names); `None`,
    /// and nothing registered, where `/proc/self/stat` cannot be read (not Linux).
    pub fn register(registry: &mut Registry) -> Option<Process> {
        let stat = parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()
            .as_deref()
            .and_then(boot_time);
        let p = Process {
            cpu: Counter::default(),
            cpu_seen: 0.0,
            resident: Gauge::default(),
            virtual_memory: Gauge::default(),
            open_fds: Gauge::default(),
            max_fds: Gauge::default(),
        };
        registry.register_with_unit(
            "process_cpu",
            "Total user and system CPU time spent in seconds",
            Unit::Seconds,
            p.cpu.clone(),
        );
        registry.register_with_unit(
            "process_resident_memory",
            "Resident memory size in bytes",
            Unit::Bytes,
            p.resident.clone(),
        );
        registry.register_with_unit(
            "process_virtual_memory",
            "Virtual memory size in bytes",
            Unit::Bytes,
            p.virtual_memory.clone(),
        );
        registry.register(
            "process_open_fds",
            "Number of open file descriptors",
            p.open_fds.clone(),
        );
        registry.register(
            "process_max_fds",
            "Maximum number of open file descriptors (the soft limit)",
            p.max_fds.clone(),
        );
        if let Some(boot) = boot {
            let start = FloatGauge::default();
            #[allow(clippy::cast_precision_loss)]
            start.set(boot as f64 + stat.start_ticks as f64 / USER_HZ);
            registry.register_with_unit(
                "process_start_time",
                "Start time of the process since unix epoch in seconds",
                Unit::Seconds,
                start,
            );
        }
        Some(p)
    }

    /// Read the process's figures again (a value that cannot be read keeps its last one).
    pub fn refresh(&mut self) {
        if let Some(stat) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .as_deref()
            .and_then(parse_stat)
        {
            if stat.cpu_seconds > self.cpu_seen {
                self.cpu.inc_by(stat.cpu_seconds - self.cpu_seen);
                self.cpu_seen = stat.cpu_seconds;
            }
        }
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            if let Some(b) = status_bytes(&status, "VmRSS") {
                self.resident.set(b);
            }
            if let Some(b) = status_bytes(&status, "VmSize") {
                self.virtual_memory.set(b);
            }
        }
        if let Some(n) = open_fds() {
            self.open_fds.set(n);
        }
        if let Ok((soft, _)) = rlimit::Resource::NOFILE.get() {
            self.max_fds.set(i64::try_from(soft).unwrap_or(i64::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_count_after_the_last_parenthesis() {
        // A command name with a space and a ')' of its own; utime 250, stime 50, start 12345.
        let text = "4242 (tls (a) b) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 9 0 12345 123456789 3000 18446744073709551615";
        let s = parse_stat(text).unwrap();
        assert!((s.cpu_seconds - 3.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.start_ticks, 12345);
        assert_eq!(parse_stat("4242 (x) S 1 2"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn boot_time_and_status_sizes() {
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(boot_time("cpu 1\n"), None);
        let status = "Name:\ttlsaudit\nVmSize:\t  20480 kB\nVmRSS:\t    1024 kB\n";
        assert_eq!(status_bytes(status, "VmRSS"), Some(1024 * 1024));
        assert_eq!(status_bytes(status, "VmSize"), Some(20480 * 1024));
        assert_eq!(status_bytes(status, "VmSwap"), None);
        assert_eq!(status_bytes("VmRSS:\tlots kB\n", "VmRSS"), None);
    }

    #[test]
    fn registered_under_the_standard_names_and_refreshed() {
        let mut registry = Registry::default();
        let Some(mut p) = Process::register(&mut registry) else {
            return; // not Linux
        };
        p.refresh();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_virtual_memory_bytes ",
            "process_open_fds ",
            "process_max_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(text.lines().any(|l| l.starts_with(name)), "{name}: {text}");
        }
        assert!(
            !text.contains("process_resident_memory_bytes 0\n"),
            "{text}"
        );
    }
}
