//! `reload`: applies an edited Corefile without a restart.
//!
//! Operators edit the Corefile (in Kubernetes, the `coredns` ConfigMap that kubelet swaps
//! into the pod) and expect the change to take effect without sending a signal. The plugin
//! is a background service of the running instance: every period it reads the Corefile and
//! its imports again through the server's [`ConfigSource`] (the same loader the binary uses),
//! hashes the parsed configuration, and when the hash differs from the running one asks the
//! binary for the reload it performs on SIGUSR1. There is one reload path for both
//! triggers: the new configuration is validated and built beside the running one, swapped in
//! on the existing sockets, and a bad one leaves the old one serving.
//!
//! The watcher belongs to its instance: a successful reload stops it and the new instance
//! starts its own (or none, when the new Corefile has no `reload`). A configuration that
//! failed is remembered and not tried again until the text changes once more, so a broken
//! edit is counted and logged once, not every period.
//!
//! There is no query handler: `reload` adds nothing to the chain.

mod fingerprint;
mod metrics;
mod setup;
#[cfg(test)]
mod tests;

use std::time::Duration;

use cairn_core::config_source::{ConfigSource, ReloadError};
use cairn_core::setup::Shutdown;

pub use fingerprint::sha512_hex;
pub use setup::{parse, setup, ReloadConfig};

use metrics::Metrics;

/// How long a Corefile that failed to read or parse is given before it is read again.
const REREAD_AFTER: Duration = Duration::from_millis(250);

/// What one check of the Corefile concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// Same configuration as the running one or the last one tried: nothing to do.
    Unchanged,
    /// A new configuration with this hash is ready to be applied.
    Changed(String),
    /// The Corefile could not be read or parsed (a new error: it was logged and counted).
    Broken,
}

/// Polls the configuration of one instance and asks for reloads.
pub(crate) struct Watcher {
    source: ConfigSource,
    period: Duration,
    /// [`cairn_corefile::Corefile::digest_hex`] of the instance's configuration, so the
    /// binary can tell a request from a replaced instance.
    digest: String,
    /// SHA-512 of the running configuration.
    running: String,
    /// What the last check looked at: a configuration hash, or the text of a read error.
    last: String,
    metrics: Metrics,
}

impl Watcher {
    pub(crate) fn new(
        source: ConfigSource,
        period: Duration,
        digest: String,
        running: String,
        metrics: Metrics,
    ) -> Watcher {
        Watcher {
            source,
            period,
            digest,
            last: running.clone(),
            running,
            metrics,
        }
    }

    /// Interprets one read of the Corefile.
    pub(crate) fn check(&mut self, loaded: Result<String, String>) -> Check {
        match loaded {
            Ok(hash) => {
                if hash == self.last {
                    return Check::Unchanged;
                }
                self.last.clone_from(&hash);
                // Back to the running configuration (after a broken edit): nothing to apply.
                if hash == self.running {
                    return Check::Unchanged;
                }
                Check::Changed(hash)
            }
            Err(e) => {
                let key = format!("error: {e}");
                if key == self.last {
                    return Check::Unchanged;
                }
                self.last = key;
                self.failed(&e);
                Check::Broken
            }
        }
    }

    fn failed(&self, why: &str) {
        cairn_core::error!("reload", "Corefile changed but reload failed: {why}");
        self.metrics.failed.inc();
    }

    /// Reads and hashes the Corefile on the blocking pool (file IO). A Corefile that does not
    /// read or parse is read once more a moment later, so a file caught in the middle of a
    /// non-atomic write (an editor truncating, then writing) is not reported as broken.
    async fn read(&self) -> Result<String, String> {
        let once = || {
            let source = self.source.clone();
            async move {
                tokio::task::spawn_blocking(move || source.load().map(|cf| sha512_hex(&cf)))
                    .await
                    .unwrap_or_else(|e| Err(format!("reading the Corefile failed: {e}")))
            }
        };
        match once().await {
            Ok(hash) => Ok(hash),
            Err(_) => {
                tokio::time::sleep(REREAD_AFTER).await;
                once().await
            }
        }
    }

    /// The service: checks every period until the instance is shut down or replaced.
    pub(crate) async fn run(mut self, mut shutdown: Shutdown) {
        let start = tokio::time::Instant::now() + self.period;
        let mut tick = tokio::time::interval_at(start, self.period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.wait() => return,
            }
            let loaded = tokio::select! {
                loaded = self.read() => loaded,
                () = shutdown.wait() => return,
            };
            let Check::Changed(_) = self.check(loaded) else {
                continue;
            };
            // A reload replaces this instance and fires its shutdown before the answer comes
            // back; whatever the answer then, this watcher has nothing left to do.
            let outcome = tokio::select! {
                outcome = self.source.reload(&self.digest) => outcome,
                () = shutdown.wait() => return,
            };
            match outcome {
                Ok(_) | Err(ReloadError::Closed) => return,
                Err(ReloadError::Failed(why)) => self.failed(&why),
            }
        }
    }
}
