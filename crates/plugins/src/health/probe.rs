//! The self-probe: once a second `health` fetches its own `/health` and records how long it
//! took. A local request that gets slow is the earliest sign that the process cannot keep up
//! with its load, which is why CoreDNS exports it; dashboards chart the same two series.
//!
//! The request is a hand-written HTTP/1.0 GET over a plain TCP connection: the answer is
//! tiny and only its arrival matters, so an HTTP client library would be dead weight.

use std::time::{Duration, Instant};

use cairn_core::metrics::{registry, Counter, Histogram, SLIM_TIME_BUCKETS};
use cairn_core::setup::Shutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one probe may take, as in CoreDNS.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Time between probes.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// A probe slower than this is logged.
const SLOW: Duration = Duration::from_secs(1);

/// The two series `health` exports (no labels: overload is a process symptom).
#[derive(Clone)]
pub struct ProbeMetrics {
    pub duration: Histogram,
    pub failures: Counter,
}

/// Registers (or finds) the health families and their single series.
pub fn metrics() -> ProbeMetrics {
    let r = registry();
    ProbeMetrics {
        duration: r
            .histogram(
                "coredns_health_request_duration_seconds",
                "Histogram of the time (in seconds) each request took.",
                &[],
                SLIM_TIME_BUCKETS,
            )
            .with(&[]),
        failures: r
            .counter(
                "coredns_health_request_failures_total",
                "The number of times the health check failed.",
                &[],
            )
            .with(&[]),
    }
}

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("timeout after {0:?}")]
    Timeout(Duration),
    #[error("not an HTTP response")]
    NotHttp,
}

/// Where to probe: the listen address with an empty host replaced by `localhost` (a server
/// listening on every interface is polled on one of them, like CoreDNS does).
pub fn target(addr: &str) -> String {
    if addr.starts_with(':') {
        format!("localhost{addr}")
    } else {
        addr.to_string()
    }
}

/// One GET of `http://<target>/health`; succeeds when an HTTP status line comes back (any
/// status, like Go's client).
pub async fn probe_once(target: &str) -> Result<(), ProbeError> {
    match tokio::time::timeout(PROBE_TIMEOUT, exchange(target)).await {
        Ok(r) => r,
        Err(_) => Err(ProbeError::Timeout(PROBE_TIMEOUT)),
    }
}

async fn exchange(target: &str) -> Result<(), ProbeError> {
    let mut stream = TcpStream::connect(target).await?;
    let host = target;
    let request = format!("GET /health HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() > 16 * 1024 {
            break;
        }
    }
    if buf.starts_with(b"HTTP/") {
        Ok(())
    } else {
        Err(ProbeError::NotHttp)
    }
}

/// Probes `target` once a second until shutdown.
pub async fn run(target: String, metrics: ProbeMetrics, mut shutdown: Shutdown) {
    let url = format!("http://{target}/health");
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + PROBE_INTERVAL, PROBE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tick.tick() => {}
        }
        let start = Instant::now();
        let result = tokio::select! {
            _ = shutdown.wait() => return,
            r = probe_once(&target) => r,
        };
        let elapsed = start.elapsed();
        metrics.duration.observe(elapsed.as_secs_f64());
        match result {
            Err(e) => {
                metrics.failures.inc();
                cairn_core::warning!("health", "Local health request to {url:?} failed: {e}");
            }
            Ok(()) if elapsed > SLOW => {
                cairn_core::warning!(
                    "health",
                    "Local health request to {url:?} took more than 1s: {}",
                    cairn_core::duration::format_std(elapsed)
                );
            }
            Ok(()) => {}
        }
    }
}
