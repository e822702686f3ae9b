//! Where the cluster objects come from: the Kubernetes API server, or manifest files.
//!
//! Both sources feed the same index (`cairn_k8s::index`) through its `Writer` and run as a
//! background service of the instance, so the query path only ever reads snapshots. The API
//! source is configured by [`ApiSettings`] and started by [`start_api_source`], the one place
//! the kube-rs watchers are wired in; the manifest source re-reads YAML/JSON files when they
//! change, which lets Cairn serve cluster names with no cluster at all.

use std::path::PathBuf;
use std::time::Duration;

use cairn_core::setup::{BoxFuture, Shutdown};
use cairn_k8s::{check_settings, ApiSource, ClientSettings, SourceEvent, TlsFiles, WatchConfig};

use super::metrics::rest_client_observer;

/// Client certificate, key and CA for an explicit `endpoint` (`tls CERT KEY CACERT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// A kubeconfig file and, optionally, the context to use instead of its current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubeconfig {
    pub path: PathBuf,
    pub context: Option<String>,
}

/// Which object kinds the configuration needs watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchKinds {
    /// Services and Namespaces are always watched.
    /// EndpointSlices, unless `noendpoints`.
    pub endpoint_slices: bool,
    /// Pods, only with `pods verified`.
    pub pods: bool,
    /// MCS ServiceImports (and MCS-labelled EndpointSlices), only with `multicluster`.
    pub service_imports: bool,
}

/// Everything needed to talk to the API server, as the Corefile set it.
///
/// Precedence follows CoreDNS: `kubeconfig` wins over `endpoint`; without either, the
/// in-cluster service account (`KUBERNETES_SERVICE_HOST`/`PORT` and the mounted token).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings {
    /// `endpoint URL`: only the first URL is used.
    pub endpoint: Option<String>,
    /// `tls CERT KEY CACERT`, used with `endpoint`.
    pub tls: Option<ClientTls>,
    /// `kubeconfig FILE [CONTEXT]`.
    pub kubeconfig: Option<Kubeconfig>,
    /// `apiserver_qps`: client-side request rate limit; 0 = client default.
    pub qps: f32,
    /// `apiserver_burst`: client-side burst; 0 = client default.
    pub burst: u32,
    /// `apiserver_max_inflight`: concurrent API requests; 0 = unlimited.
    pub max_inflight: u32,
    /// `labels`: label selector applied server-side to Services, EndpointSlices and Pods.
    pub label_selector: Option<String>,
    /// `namespace_labels`: label selector for the Namespaces watch.
    pub namespace_selector: Option<String>,
    pub watch: WatchKinds,
    /// `startup_timeout`, for sources that want to bound their first list.
    pub startup_timeout: Duration,
}

impl ApiSettings {
    /// True when neither `endpoint` nor `kubeconfig` was given (in-cluster configuration).
    pub fn in_cluster(&self) -> bool {
        self.endpoint.is_none() && self.kubeconfig.is_none()
    }
}

/// Why a source could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The API-server source is not available in this build.
    /// The client configuration (kubeconfig, in-cluster account, TLS files) is unusable.
    #[error("{0}")]
    Config(String),
}

/// Starts the kube-rs watchers feeding `writer` (run as the plugin's background service)
/// until `shutdown`. What can be checked without the network is checked here, so that a
/// missing kubeconfig, context or in-cluster environment is a Corefile error as in CoreDNS;
/// an unreachable or refusing API server shows up later as logged watch errors, and the
/// index keeps its last content meanwhile. The client's requests and rate-limit waits feed
/// the `coredns_kubernetes_rest_client_*` metrics.
pub fn start_api_source(
    settings: ApiSettings,
    writer: cairn_k8s::index::Writer,
    mut shutdown: Shutdown,
) -> Result<BoxFuture, SourceError> {
    let mut client_settings = ClientSettings {
        endpoint: settings.endpoint.clone(),
        tls: settings.tls.as_ref().map(|t| TlsFiles {
            cert: t.cert.clone(),
            key: t.key.clone(),
            ca: t.ca.clone(),
        }),
        kubeconfig: settings
            .kubeconfig
            .as_ref()
            .map(|k| (k.path.clone(), k.context.clone())),
        qps: settings.qps,
        burst: settings.burst,
        max_inflight: settings.max_inflight,
        observer: None,
    };
    check_settings(&client_settings).map_err(|e| SourceError::Config(e.to_string()))?;
    client_settings.observer = Some(rest_client_observer());
    let watch = WatchConfig {
        label_selector: settings.label_selector.clone(),
        namespace_label_selector: settings.namespace_selector.clone(),
        watch_pods: settings.watch.pods,
        watch_endpoints: settings.watch.endpoint_slices,
        watch_service_imports: settings.watch.service_imports,
        limits: client_settings.request_limits(),
    };
    Ok(Box::pin(async move {
        let source = match ApiSource::connect(&client_settings, watch).await {
            Ok(source) => source,
            Err(e) => {
                cairn_core::error!("kubernetes", "{e}");
                shutdown.wait().await;
                return;
            }
        };
        let stop = async move { shutdown.wait().await };
        source
            .run(writer, stop, |event| match &event {
                SourceEvent::Error { .. } => cairn_core::error!("kubernetes", "{event}"),
                SourceEvent::Relisted(_) => cairn_core::info!("kubernetes", "{event}"),
                SourceEvent::Synced(_) => {}
            })
            .await;
    }))
}

/// How often manifest files are checked for changes.
pub(crate) const MANIFEST_POLL: Duration = Duration::from_secs(1);
