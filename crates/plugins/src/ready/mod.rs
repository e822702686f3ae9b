//! `ready`: an HTTP endpoint (`/ready`) that answers `200 OK` once every plugin able to
//! report readiness says it is ready, and `503` with the sorted, comma-separated names of
//! those that are not.
//!
//! Kubernetes uses it as the readiness probe: a pod whose cluster index is not synced yet
//! gets no traffic. In the default `until-ready` mode a plugin that reported ready once is
//! never asked again, so the endpoint never flips back to 503 (CoreDNS behaves the same;
//! operators rely on it not taking pods out of rotation during API outages). `continuously`
//! asks every time.

mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use std::sync::{Arc, Mutex};

use cairn_core::setup::{HttpHandler, HttpResponse, Readiness};

/// The path, fixed as in CoreDNS.
pub const PATH: &str = "/ready";
/// The address used when none is given.
pub const DEFAULT_ADDR: &str = ":8181";

/// How often plugins are asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Monitor {
    /// A plugin that was ready once is not asked again (the default).
    #[default]
    UntilReady,
    /// Every probe asks every plugin.
    Continuously,
}

/// Serves `/ready` for one instance.
pub struct ReadyPage {
    readiness: Arc<Readiness>,
    monitor: Monitor,
    /// `until-ready` only: plugins that were not ready at every probe so far (`None` before
    /// the first probe). A plugin missing from one probe's not-ready list was ready then and
    /// stays ready for good.
    pending: Mutex<Option<Vec<&'static str>>>,
}

impl ReadyPage {
    /// A page for an instance's readiness registry.
    pub fn new(readiness: Arc<Readiness>, monitor: Monitor) -> Self {
        ReadyPage {
            readiness,
            monitor,
            pending: Mutex::new(None),
        }
    }

    /// Names of the plugins to report as not ready, sorted.
    fn not_ready(&self) -> Vec<&'static str> {
        match self.monitor {
            Monitor::Continuously => self.readiness.not_ready(),
            Monitor::UntilReady => {
                let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                match pending.as_mut() {
                    Some(names) if names.is_empty() => Vec::new(),
                    Some(names) => {
                        let now = self.readiness.not_ready();
                        names.retain(|n| now.contains(n));
                        names.clone()
                    }
                    None => {
                        let now = self.readiness.not_ready();
                        *pending = Some(now.clone());
                        now
                    }
                }
            }
        }
    }
}

impl HttpHandler for ReadyPage {
    fn get(&self) -> HttpResponse {
        if self.readiness.is_shutting_down() {
            return unavailable("Shutting down".to_string());
        }
        let names = self.not_ready();
        if names.is_empty() {
            return HttpResponse::ok("OK");
        }
        let list = names.join(",");
        cairn_core::info!("ready", "Plugins not ready: {list:?}");
        unavailable(list)
    }
}

fn unavailable(body: String) -> HttpResponse {
    HttpResponse {
        status: 503,
        content_type: "text/plain; charset=utf-8",
        body,
    }
}
