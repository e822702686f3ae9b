//! `health`: an HTTP endpoint that answers `200 OK` on `/health` for as long as the process
//! runs.
//!
//! Kubernetes uses it as the liveness probe, so it must not depend on anything but the
//! process being alive: it does not look at the cluster API or at plugin readiness (that is
//! `ready`'s job). Around it live two process-wide extras CoreDNS has: a self-probe that
//! measures how fast the endpoint answers (an overload signal) and `lameduck`, a pause at
//! shutdown during which DNS and `/health` keep answering so that load balancers move away
//! first.
//!
//! `endpoint` (address checks, one route per address) is
//! also used by `ready` and `prometheus`.

pub mod endpoint;
pub mod probe;
mod setup;
#[cfg(test)]
pub(crate) mod tests;

pub use setup::setup;

use cairn_core::setup::{HttpHandler, HttpResponse};

/// The path, fixed as in CoreDNS.
pub const PATH: &str = "/health";
/// The address used when none is given.
pub const DEFAULT_ADDR: &str = ":8080";

/// Serves `/health`: always `200 OK`.
pub struct HealthPage;

impl HttpHandler for HealthPage {
    fn get(&self) -> HttpResponse {
        HttpResponse::ok("OK")
    }
}
