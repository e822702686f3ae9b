//! Health checks, and the background service that runs them and sweeps the pools.
//!
//! As in CoreDNS, checks are in-band: a failed exchange asks for a check of that upstream
//! (unless `max_fails` is 0), and the check repeats every `health_check` interval (0.5 s by
//! default) until the upstream answers. A check is a `<domain> IN NS` query (the root unless
//! `domain` is given, RD set unless `no_rec`) over the upstream's transport (UDP, TCP with
//! `force_tcp`, TLS for DoT) with a 1 s timeout, on a fresh connection; any reply counts as
//! healthy, SERVFAIL and REFUSED included. Each failed check counts in
//! `coredns_proxy_healthcheck_failures_total`; an upstream with more consecutive failures
//! than `max_fails` is down until a check succeeds.
//!
//! The query path only flips a flag and wakes the service; the checks run in the service
//! task, which stops with its configuration (reload or shutdown) and closes the idle pooled
//! connections on its way out.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::Notify;

use cairn_core::setup::Shutdown;
use cairn_core::wire::{encode, Message, Name, QuestionRef, RType, CLASS_IN};

use super::policy::random_id;
use super::pool::{dial, Received, Slot};
use super::upstream::Upstream;

/// Timeout of one check (dial, write and read each).
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// Floor between two checks of one upstream (`health_check 0` would otherwise spin).
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// How upstreams are checked.
#[derive(Debug, Clone)]
pub struct HealthCheck {
    pub interval: Duration,
    pub recursion_desired: bool,
    pub domain: Name,
    /// Check plain-DNS upstreams over TCP (`force_tcp`).
    pub tcp: bool,
}

impl HealthCheck {
    /// One check of `u`: `Ok` when any DNS reply came back.
    pub async fn check(&self, u: &Upstream) -> Result<(), String> {
        let slot = if u.is_tls() || self.tcp {
            Slot::Stream
        } else {
            Slot::Udp
        };
        let mut conn = dial(u.addr, slot, u.tls(), u.source(), CHECK_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        let id = random_id();
        let mut probe = Message {
            id,
            ..Message::default()
        };
        probe.flags.rd = self.recursion_desired;
        let question = QuestionRef {
            name: self.domain.wire(),
            qtype: RType::NS,
            qclass: CLASS_IN,
        };
        tokio::time::timeout(
            CHECK_TIMEOUT,
            conn.send(|buf| {
                encode(&probe, Some(question), None, 512, buf);
            }),
        )
        .await
        .map_err(|_| "write: i/o timeout".to_string())?
        .map_err(|e| e.to_string())?;
        match tokio::time::timeout(CHECK_TIMEOUT, conn.recv(id, 65535)).await {
            Ok(Ok(Received::Reply(_) | Received::Oversize)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("read: i/o timeout".to_string()),
        }
    }

    /// Checks `u` until it answers, counting each failure; then marks it up.
    pub async fn probe(&self, u: &Upstream) {
        loop {
            match self.check(u).await {
                Ok(()) => {
                    u.health_ok();
                    return;
                }
                Err(_) => {
                    u.health_failed();
                    tokio::time::sleep(self.interval.max(MIN_INTERVAL)).await;
                }
            }
        }
    }
}

/// Asks for a check of `u` unless one is already running or asked for.
pub fn request_check(u: &Upstream, wake: &Notify) {
    if !u.probing.swap(true, Ordering::AcqRel) {
        wake.notify_one();
    }
}

/// The service of one `forward`: runs the checks asked for and sweeps idle connections,
/// until `shutdown`.
pub async fn run(
    upstreams: Arc<[Arc<super::upstream::Upstream>]>,
    check: Arc<HealthCheck>,
    wake: Arc<Notify>,
    mut shutdown: Shutdown,
) {
    let mut running = vec![false; upstreams.len()];
    let mut probes = FuturesUnordered::new();
    let sweep_every = upstreams
        .iter()
        .map(|u| u.pool.sweep_interval())
        .min()
        .unwrap_or(Duration::from_secs(10));
    let mut sweep = tokio::time::interval(sweep_every);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A check may have been asked for before the service started.
    wake.notify_one();
    loop {
        tokio::select! {
            () = shutdown.wait() => break,
            () = wake.notified() => {}
            Some(i) = probes.next(), if !probes.is_empty() => running[i] = false,
            _ = sweep.tick() => {
                for u in upstreams.iter() {
                    u.pool.sweep();
                }
            }
        }
        for (i, u) in upstreams.iter().enumerate() {
            if u.probing.load(Ordering::Acquire) && !running[i] {
                running[i] = true;
                let (u, check) = (u.clone(), check.clone());
                probes.push(async move {
                    check.probe(&u).await;
                    // A failure after this point asks (and wakes us) again.
                    u.probing.store(false, Ordering::Release);
                    i
                });
            }
        }
    }
    for u in upstreams.iter() {
        u.pool.clear();
    }
}
