//! The startup gate: the server opens its listeners (or swaps a reload in) only once the
//! index has synced, or `startup_timeout` has passed, logging like CoreDNS meanwhile.

use std::sync::Arc;
use std::time::Duration;

use cairn_core::setup::BoxFuture;
use cairn_k8s::Store;

/// How often the wait is reported.
const LOG_EVERY: Duration = Duration::from_millis(500);

/// Waits for `store` to sync, at most `timeout`.
pub(crate) fn gate(store: Arc<Store>, timeout: Duration) -> BoxFuture {
    Box::pin(async move {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if store.wait_synced(left.min(LOG_EVERY)).await {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                cairn_core::warning!("kubernetes", "starting server with unsynced Kubernetes API");
                return;
            }
            cairn_core::info!(
                "kubernetes",
                "waiting for Kubernetes API before starting server"
            );
        }
    })
}
