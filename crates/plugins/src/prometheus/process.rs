//! The `process_*` families every Prometheus client exports, read from `/proc` at scrape
//! time (Linux only; elsewhere nothing is emitted). Names, types and help texts are those of
//! the Go client, so the CPU, memory and file-descriptor panels of CoreDNS dashboards work.

use std::fmt::Write as _;
use std::sync::Arc;

use cairn_core::metrics::{fmt_float, registry, Collect};

/// Clock ticks per second of `/proc/<pid>/stat` times. Linux reports them in USER_HZ, which
/// is 100 on every supported architecture (the Go client assumes the same).
const USER_HZ: f64 = 100.0;

/// Registers the collector (once per process; a second call replaces it with an equal one).
pub fn register() {
    registry().register("process", Arc::new(ProcessCollector));
}

/// Reads process statistics at scrape time.
pub struct ProcessCollector;

/// The values read from `/proc`; each is `None` when its source is unavailable.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<f64>,
    pub max_fds: Option<f64>,
    pub virtual_memory: Option<f64>,
    pub virtual_memory_max: Option<f64>,
    pub resident_memory: Option<f64>,
    pub start_time: Option<f64>,
}

/// Fields of `/proc/self/stat` after the command name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub utime: u64,
    pub stime: u64,
    pub starttime: u64,
    pub vsize: u64,
}

/// Parses `/proc/<pid>/stat` text. The command name is in parentheses and may contain
/// spaces or parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state): utime = 14, stime = 15, starttime = 22, vsize = 23.
    Some(Stat {
        utime: f.get(11)?.parse().ok()?,
        stime: f.get(12)?.parse().ok()?,
        starttime: f.get(19)?.parse().ok()?,
        vsize: f.get(20)?.parse().ok()?,
    })
}

/// The soft limit of a `/proc/<pid>/limits` row (`Max open files`, `Max address space`);
/// `unlimited` reads as 2^64-1 like the Go client reports it.
pub fn parse_limit(text: &str, row: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with(row))?;
    let soft = line[row.len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(u64::MAX as f64);
    }
    soft.parse::<u64>().ok().map(|v| v as f64)
}

/// A `Key:   value kB` row of `/proc/<pid>/status`, in bytes.
pub fn parse_status_kb(text: &str, key: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    Some((kb * 1024) as f64)
}

/// The boot time (`btime`) from `/proc/stat`, in seconds since the epoch.
pub fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

impl ProcessStats {
    /// Reads the current process's statistics.
    pub fn read() -> ProcessStats {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let stat = read("/proc/self/stat").and_then(|t| parse_stat(&t));
        let limits = read("/proc/self/limits");
        let status = read("/proc/self/status");
        let btime = read("/proc/stat").and_then(|t| parse_btime(&t));
        ProcessStats {
            cpu_seconds: stat.map(|s| (s.utime + s.stime) as f64 / USER_HZ),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as f64),
            max_fds: limits
                .as_deref()
                .and_then(|t| parse_limit(t, "Max open files")),
            virtual_memory: stat.map(|s| s.vsize as f64),
            virtual_memory_max: limits
                .as_deref()
                .and_then(|t| parse_limit(t, "Max address space")),
            resident_memory: status.as_deref().and_then(|t| parse_status_kb(t, "VmRSS:")),
            start_time: match (stat, btime) {
                (Some(s), Some(b)) => Some(b as f64 + s.starttime as f64 / USER_HZ),
                _ => None,
            },
        }
    }

    /// Appends the exposition text of the values present.
    pub fn encode(&self, out: &mut String) {
        let rows: [(&str, &str, &str, Option<f64>); 7] = [
            (
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
                self.cpu_seconds,
            ),
            (
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                self.max_fds,
            ),
            (
                "process_open_fds",
                "gauge",
                "Number of open file descriptors.",
                self.open_fds,
            ),
            (
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                self.resident_memory,
            ),
            (
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                self.start_time,
            ),
            (
                "process_virtual_memory_bytes",
                "gauge",
                "Virtual memory size in bytes.",
                self.virtual_memory,
            ),
            (
                "process_virtual_memory_max_bytes",
                "gauge",
                "Maximum amount of virtual memory available in bytes.",
                self.virtual_memory_max,
            ),
        ];
        for (name, kind, help, value) in rows {
            let Some(v) = value else { continue };
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            out.push_str(name);
            out.push(' ');
            fmt_float(v, out);
            out.push('\n');
        }
    }
}

impl Collect for ProcessCollector {
    fn encode(&self, out: &mut String) {
        ProcessStats::read().encode(out);
    }
}
