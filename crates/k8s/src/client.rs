//! The Kubernetes API client, built from the kubernetes plugin's connection options.
//!
//! CoreDNS reaches the API server in one of three ways and Cairn keeps the same precedence:
//! `kubeconfig FILE [CONTEXT]` (the given context, else the file's current one) wins over
//! `endpoint URL` (with the optional `tls CERT KEY CACERT`; a plain `http://` URL needs no TLS),
//! and with neither the in-cluster service account is used (`KUBERNETES_SERVICE_HOST`/`PORT`,
//! the mounted token and CA). Everything that can be checked before the first connection
//! (files readable, PEM parseable, the context present, the URL well formed) is checked in
//! [`build_client`], and its errors name what failed, so a bad Corefile fails at setup.
//!
//! `apiserver_qps`, `apiserver_burst` and `apiserver_max_inflight` become [`RequestLimits`].
//! They are applied by the API source ([`crate::api`]) rather than in the HTTP stack, because
//! only the source knows that the pages of one listing belong together: it paces the requests
//! its watchers make with a token bucket (QPS, burst) before every list page, watch start and
//! retry, and lets at most `max_inflight` kinds list at the same time. Those are the only
//! requests Cairn makes.
//!
//! With a [`RequestObserver`] in the settings, the client is built with
//! [`RequestMetricsLayer`] around kube-rs's HTTP stack, so every round trip is reported (the
//! plugin turns the reports into CoreDNS's `coredns_kubernetes_rest_client_*` metrics).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::header::{HeaderValue, USER_AGENT};
use kube::client::ClientBuilder;
use kube::config::{InClusterError, KubeConfigOptions, Kubeconfig, KubeconfigError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::request_metrics::{request_host, HostObserver, RequestMetricsLayer, RequestObserver};

/// Client certificate, key and CA bundle for an explicit `endpoint` (`tls CERT KEY CACERT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM client certificate (chain).
    pub cert: PathBuf,
    /// PEM private key of the client certificate.
    pub key: PathBuf,
    /// PEM CA certificate(s) that signed the API server's certificate.
    pub ca: PathBuf,
}

/// How to reach the API server, as the Corefile says, and who hears about the requests.
#[derive(Clone, Default)]
pub struct ClientSettings {
    /// `endpoint URL` (only the first URL; `https://` or `http://`).
    pub endpoint: Option<String>,
    /// `tls CERT KEY CACERT`: used with `endpoint`, ignored otherwise (as in CoreDNS).
    pub tls: Option<TlsFiles>,
    /// `kubeconfig FILE [CONTEXT]`; takes precedence over `endpoint`.
    pub kubeconfig: Option<(PathBuf, Option<String>)>,
    /// `apiserver_qps`: sustained requests per second; 0 = unlimited.
    pub qps: f32,
    /// `apiserver_burst`: requests allowed at once above the rate (with `qps` > 0).
    pub burst: u32,
    /// `apiserver_max_inflight`: kinds listing at the same time; 0 = unlimited.
    pub max_inflight: u32,
    /// Told about every request the client makes and every wait on the rate limit; `None`
    /// builds the client without the reporting layer.
    pub observer: Option<Arc<dyn RequestObserver>>,
}

impl fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSettings")
            .field("endpoint", &self.endpoint)
            .field("tls", &self.tls)
            .field("kubeconfig", &self.kubeconfig)
            .field("qps", &self.qps)
            .field("burst", &self.burst)
            .field("max_inflight", &self.max_inflight)
            .field(
                "observer",
                &self.observer.as_ref().map(|_| "RequestObserver"),
            )
            .finish()
    }
}

impl ClientSettings {
    /// Where the client connects, in words: for logs and error messages.
    pub fn origin(&self) -> String {
        match (&self.kubeconfig, &self.endpoint) {
            (Some((path, Some(context))), _) => {
                format!("kubeconfig {} (context {context})", path.display())
            }
            (Some((path, None)), _) => format!("kubeconfig {}", path.display()),
            (None, Some(endpoint)) => format!("endpoint {endpoint}"),
            (None, None) => "in-cluster service account".to_owned(),
        }
    }

    /// The request pacing these settings ask for.
    pub fn request_limits(&self) -> RequestLimits {
        RequestLimits {
            qps: self.qps,
            burst: self.burst,
            max_inflight: self.max_inflight,
        }
    }
}

/// Why the client could not be built. Each variant says which option or file failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig file could not be read or understood.
    #[error("kubeconfig {}: {source}", path.display())]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// What kube-rs found wrong.
        source: KubeconfigError,
    },
    /// The requested context is not in the kubeconfig file.
    #[error("kubeconfig {}: no context named {context}", path.display())]
    NoSuchContext {
        /// The file.
        path: PathBuf,
        /// The context asked for.
        context: String,
    },
    /// No context was given and the file has no `current-context`.
    #[error("kubeconfig {}: no current-context set and no context given", path.display())]
    NoCurrentContext {
        /// The file.
        path: PathBuf,
    },
    /// The `endpoint` URL is unusable.
    #[error("endpoint {endpoint}: {reason}")]
    Endpoint {
        /// The URL as written.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `tls` file could not be read.
    #[error("tls {what} {}: {source}", path.display())]
    TlsRead {
        /// `certificate`, `key` or `CA`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `tls` file holds no usable PEM data.
    #[error("tls {what} {}: {reason}", path.display())]
    TlsContent {
        /// `certificate`, `key` or `CA`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Neither `endpoint` nor `kubeconfig` was given and the in-cluster configuration
    /// (environment, service-account files) is not there.
    #[error("no endpoint or kubeconfig given, and no in-cluster configuration: {0}")]
    InCluster(#[source] InClusterError),
    /// kube-rs refused the configuration when building the HTTP client (TLS setup, proxy).
    #[error("{origin}: {source}")]
    Build {
        /// [`ClientSettings::origin`].
        origin: String,
        /// The kube-rs error.
        source: kube::Error,
    },
}

/// The `User-Agent` Cairn sends, shaped like CoreDNS's (`CoreDNS/1.12.0 ... (linux/amd64/...)`).
pub fn user_agent() -> String {
    format!(
        "Cairn/{} ({}/{})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Builds the kube-rs configuration for `settings` (kubeconfig, else endpoint, else
/// in-cluster), with Cairn's user agent. [`build_client`] is this plus the HTTP client.
///
/// # Errors
/// A [`ClientError`] naming the option or file that is unusable.
pub async fn build_config(settings: &ClientSettings) -> Result<kube::Config, ClientError> {
    let mut config = match (&settings.kubeconfig, &settings.endpoint) {
        (Some((path, context)), _) => kubeconfig_config(path, context.as_deref()).await?,
        (None, Some(endpoint)) => endpoint_config(endpoint, settings.tls.as_ref())?,
        (None, None) => kube::Config::incluster().map_err(ClientError::InCluster)?,
    };
    // Cannot fail: the text is ASCII without control characters.
    if let Ok(agent) = HeaderValue::from_str(&user_agent()) {
        config.headers.push((USER_AGENT, agent));
    }
    Ok(config)
}

/// Builds the API client for `settings`. Nothing is sent to the server yet: an unreachable
/// or refusing server shows up later, as watch errors. With an observer in the settings,
/// every request the client makes is reported to it ([`RequestMetricsLayer`]).
///
/// # Errors
/// As [`build_config`], plus kube-rs refusing the TLS or proxy setup ([`ClientError::Build`]).
pub async fn build_client(settings: &ClientSettings) -> Result<kube::Client, ClientError> {
    build_observed_client(settings)
        .await
        .map(|(client, _)| client)
}

/// [`build_client`], and the settings' observer bound to the API server's host, for the
/// API source to report its rate-limit waits through.
pub(crate) async fn build_observed_client(
    settings: &ClientSettings,
) -> Result<(kube::Client, Option<HostObserver>), ClientError> {
    let config = build_config(settings).await?;
    let host = request_host(&config.cluster_url);
    let build_error = |source| ClientError::Build {
        origin: settings.origin(),
        source,
    };
    let builder = ClientBuilder::try_from(config).map_err(build_error)?;
    Ok(match &settings.observer {
        None => (builder.build(), None),
        Some(observer) => {
            let layer = RequestMetricsLayer::new(Arc::clone(observer), &host);
            let client = builder.with_layer(&layer).build();
            (client, Some(HostObserver::new(Arc::clone(observer), &host)))
        }
    })
}

/// Reads a kubeconfig and picks the context (the one given, else the current one), checking
/// that it exists.
fn read_kubeconfig(
    path: &Path,
    context: Option<&str>,
) -> Result<(Kubeconfig, String), ClientError> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(|source| ClientError::Kubeconfig {
        path: path.to_path_buf(),
        source,
    })?;
    let context = match context {
        Some(context) => context.to_owned(),
        None => match kubeconfig.current_context.as_deref() {
            Some(current) if !current.is_empty() => current.to_owned(),
            _ => {
                return Err(ClientError::NoCurrentContext {
                    path: path.to_path_buf(),
                })
            }
        },
    };
    if !kubeconfig
        .contexts
        .iter()
        .any(|named| named.name == context)
    {
        return Err(ClientError::NoSuchContext {
            path: path.to_path_buf(),
            context,
        });
    }
    Ok((kubeconfig, context))
}

/// Checks what can be checked without the network or a runtime: the kubeconfig file and
/// context, the endpoint URL and `tls` files, or the in-cluster environment and files. The
/// plugin calls it at setup so that these mistakes are Corefile errors, as in CoreDNS.
///
/// # Errors
/// The [`ClientError`] [`build_client`] would give for the same settings.
pub fn check_settings(settings: &ClientSettings) -> Result<(), ClientError> {
    match (&settings.kubeconfig, &settings.endpoint) {
        (Some((path, context)), _) => read_kubeconfig(path, context.as_deref()).map(|_| ()),
        (None, Some(endpoint)) => endpoint_config(endpoint, settings.tls.as_ref()).map(|_| ()),
        (None, None) => kube::Config::incluster()
            .map(|_| ())
            .map_err(ClientError::InCluster),
    }
}

async fn kubeconfig_config(
    path: &Path,
    context: Option<&str>,
) -> Result<kube::Config, ClientError> {
    let kubeconfig_error = |source| ClientError::Kubeconfig {
        path: path.to_path_buf(),
        source,
    };
    let (kubeconfig, context) = read_kubeconfig(path, context)?;
    let cluster_has_proxy = kubeconfig_cluster_proxy(&kubeconfig, &context);
    let options = KubeConfigOptions {
        context: Some(context),
        ..KubeConfigOptions::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(kubeconfig_error)?;
    if !cluster_has_proxy {
        // kube-rs also takes `HTTPS_PROXY` from the environment, but this build has no proxy
        // support and would refuse to start; connect directly instead.
        config.proxy_url = None;
    }
    Ok(config)
}

/// True when the cluster of `context` names its own `proxy-url`.
fn kubeconfig_cluster_proxy(kubeconfig: &Kubeconfig, context: &str) -> bool {
    let cluster_name = kubeconfig
        .contexts
        .iter()
        .find(|named| named.name == context)
        .and_then(|named| named.context.as_ref())
        .map(|context| context.cluster.as_str());
    kubeconfig
        .clusters
        .iter()
        .filter(|named| Some(named.name.as_str()) == cluster_name)
        .filter_map(|named| named.cluster.as_ref())
        .any(|cluster| cluster.proxy_url.as_deref().is_some_and(|p| !p.is_empty()))
}

fn endpoint_config(endpoint: &str, tls: Option<&TlsFiles>) -> Result<kube::Config, ClientError> {
    let endpoint_error = |reason: String| ClientError::Endpoint {
        endpoint: endpoint.to_owned(),
        reason,
    };
    let uri: hyper::Uri = endpoint
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| endpoint_error(e.to_string()))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        Some(other) => {
            return Err(endpoint_error(format!(
                "scheme {other} is not http or https"
            )))
        }
        None => {
            return Err(endpoint_error(
                "no scheme (use https://HOST:PORT)".to_owned(),
            ))
        }
    };
    if uri.host().is_none_or(str::is_empty) {
        return Err(endpoint_error("no host".to_owned()));
    }
    let mut config = kube::Config::new(uri);
    if let (true, Some(tls)) = (https, tls) {
        config.root_cert = Some(read_ca(&tls.ca)?);
        check_identity(&tls.cert, &tls.key)?;
        config.auth_info.client_certificate = Some(utf8_path("certificate", &tls.cert)?);
        config.auth_info.client_key = Some(utf8_path("key", &tls.key)?);
    }
    Ok(config)
}

fn read_tls_file(what: &'static str, path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|source| ClientError::TlsRead {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn tls_content(what: &'static str, path: &Path, reason: impl fmt::Display) -> ClientError {
    ClientError::TlsContent {
        what,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The CA bundle as DER certificates, each checked to be a usable trust anchor.
fn read_ca(path: &Path) -> Result<Vec<Vec<u8>>, ClientError> {
    let pem = read_tls_file("CA", path)?;
    let mut roots = rustls::RootCertStore::empty();
    let mut ders = Vec::new();
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let certificate = certificate.map_err(|e| tls_content("CA", path, e))?;
        roots
            .add(certificate.clone())
            .map_err(|e| tls_content("CA", path, e))?;
        ders.push(certificate.to_vec());
    }
    if ders.is_empty() {
        return Err(tls_content("CA", path, "no PEM CERTIFICATE block"));
    }
    Ok(ders)
}

/// Checks that the certificate and key files hold PEM a TLS client can present.
fn check_identity(cert: &Path, key: &Path) -> Result<(), ClientError> {
    let pem = read_tls_file("certificate", cert)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_content("certificate", cert, e))?;
    if certificates.is_empty() {
        return Err(tls_content("certificate", cert, "no PEM CERTIFICATE block"));
    }
    let pem = read_tls_file("key", key)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| tls_content("key", key, e))?;
    Ok(())
}

fn utf8_path(what: &'static str, path: &Path) -> Result<String, ClientError> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| tls_content(what, path, "the path is not valid UTF-8"))
}

// ---------------------------------------------------------------------------------------
// Request pacing

/// Client-go's burst when only a rate is given (`rest.DefaultBurst`).
const DEFAULT_BURST: u32 = 10;

/// `apiserver_qps`, `apiserver_burst` and `apiserver_max_inflight`: how the API source paces
/// its requests. Zero (the default) means unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RequestLimits {
    /// Sustained requests per second; 0 (or not a positive number) = no rate limit.
    pub qps: f32,
    /// Requests allowed at once above the rate; 0 with a rate = 10, client-go's default.
    pub burst: u32,
    /// Kinds listing at the same time; 0 = unlimited.
    pub max_inflight: u32,
}

impl RequestLimits {
    /// No limit at all.
    pub const UNLIMITED: RequestLimits = RequestLimits {
        qps: 0.0,
        burst: 0,
        max_inflight: 0,
    };

    /// True when nothing is limited.
    pub fn is_unlimited(&self) -> bool {
        !self.has_rate() && self.max_inflight == 0
    }

    fn has_rate(&self) -> bool {
        self.qps.is_finite() && self.qps > 0.0
    }

    /// The shared pacer for these limits, or `None` when nothing is limited.
    pub fn limiter(&self) -> Option<Arc<RequestLimiter>> {
        if self.is_unlimited() {
            return None;
        }
        let bucket = self.has_rate().then(|| {
            let burst = if self.burst == 0 {
                DEFAULT_BURST
            } else {
                self.burst
            };
            Mutex::new(TokenBucket::new(f64::from(self.qps), f64::from(burst)))
        });
        let lists =
            (self.max_inflight > 0).then(|| Arc::new(Semaphore::new(self.max_inflight as usize)));
        Some(Arc::new(RequestLimiter { bucket, lists }))
    }
}

/// Paces API requests: shared by every watcher of one source.
#[derive(Debug)]
pub struct RequestLimiter {
    bucket: Option<Mutex<TokenBucket>>,
    lists: Option<Arc<Semaphore>>,
}

impl RequestLimiter {
    /// A pacer that never waits: where nothing is limited but the waits are still reported
    /// (as zero, the way client-go's always-present limiter reports them).
    pub(crate) fn unlimited() -> RequestLimiter {
        RequestLimiter {
            bucket: None,
            lists: None,
        }
    }

    /// Waits until one more request is allowed by the rate limit.
    pub async fn request(&self) {
        let Some(bucket) = &self.bucket else {
            return;
        };
        loop {
            let wait = bucket
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(Instant::now());
            match wait {
                None => return,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Waits for a listing slot (`max_inflight`); the slot is held until the permit drops.
    /// `None` when listings are not limited.
    pub async fn list_slot(&self) -> Option<OwnedSemaphorePermit> {
        let lists = self.lists.as_ref()?;
        // The semaphore is never closed, so acquiring only fails if it were.
        Arc::clone(lists).acquire_owned().await.ok()
    }
}

/// A token bucket: `capacity` tokens, refilled at `rate` per second, starting full.
#[derive(Debug)]
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    updated: Option<Instant>,
}

impl TokenBucket {
    fn new(rate: f64, capacity: f64) -> Self {
        let capacity = capacity.max(1.0);
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            updated: None,
        }
    }

    /// Takes a token at `now`, or says how long until one is there.
    fn take(&mut self, now: Instant) -> Option<Duration> {
        if let Some(updated) = self.updated {
            let elapsed = now.saturating_duration_since(updated).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        }
        self.updated = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("cairn-k8s-client-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: one
  cluster: {server: \"https://one.example:6443\"}
- name: two
  cluster: {server: \"http://127.0.0.1:8080\"}
users:
- name: u
  user: {token: abc}
contexts:
- name: first
  context: {cluster: one, user: u, namespace: kube-system}
- name: second
  context: {cluster: two, user: u}
current-context: first
";

    #[tokio::test]
    async fn kubeconfig_uses_the_given_or_current_context_and_wins_over_endpoint() {
        let path = scratch_dir("kubeconfig").join("config");
        std::fs::write(&path, KUBECONFIG).unwrap();
        let cases: &[(Option<&str>, &str)] = &[
            (None, "https://one.example:6443/"),
            (Some("first"), "https://one.example:6443/"),
            (Some("second"), "http://127.0.0.1:8080/"),
        ];
        for (context, url) in cases {
            let settings = ClientSettings {
                kubeconfig: Some((path.clone(), context.map(str::to_owned))),
                endpoint: Some("https://ignored.example".to_owned()),
                ..ClientSettings::default()
            };
            let config = build_config(&settings).await.unwrap();
            assert_eq!(config.cluster_url.to_string(), *url, "context {context:?}");
        }

        let settings = ClientSettings {
            kubeconfig: Some((path.clone(), Some("third".to_owned()))),
            ..ClientSettings::default()
        };
        let error = build_config(&settings).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("kubeconfig {}: no context named third", path.display())
        );

        let no_current = path.with_file_name("no-current");
        std::fs::write(
            &no_current,
            KUBECONFIG.replace("current-context: first\n", ""),
        )
        .unwrap();
        let settings = ClientSettings {
            kubeconfig: Some((no_current.clone(), None)),
            ..ClientSettings::default()
        };
        assert!(matches!(
            build_config(&settings).await,
            Err(ClientError::NoCurrentContext { path }) if path == no_current
        ));

        let missing = path.with_file_name("missing");
        let settings = ClientSettings {
            kubeconfig: Some((missing.clone(), None)),
            ..ClientSettings::default()
        };
        let error = build_config(&settings).await.unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("kubeconfig {}: ", missing.display())),
            "{error}"
        );
    }

    #[tokio::test]
    async fn endpoint_urls_are_checked_and_carry_the_user_agent() {
        let settings = ClientSettings {
            endpoint: Some("http://127.0.0.1:8080".to_owned()),
            ..ClientSettings::default()
        };
        let config = build_config(&settings).await.unwrap();
        assert_eq!(config.cluster_url.to_string(), "http://127.0.0.1:8080/");
        assert!(config.root_cert.is_none());
        let agent = config
            .headers
            .iter()
            .find(|(name, _)| name == USER_AGENT)
            .map(|(_, value)| value.to_str().unwrap().to_owned());
        assert_eq!(agent, Some(user_agent()));
        assert!(user_agent().starts_with(&format!("Cairn/{} (", env!("CARGO_PKG_VERSION"))));

        let bad: &[(&str, &str)] = &[
            (
                "ftp://host",
                "endpoint ftp://host: scheme ftp is not http or https",
            ),
            (
                "host:6443",
                "endpoint host:6443: no scheme (use https://HOST:PORT)",
            ),
            ("/path", "endpoint /path: no scheme (use https://HOST:PORT)"),
        ];
        for (endpoint, message) in bad {
            let settings = ClientSettings {
                endpoint: Some((*endpoint).to_owned()),
                ..ClientSettings::default()
            };
            let error = build_config(&settings).await.unwrap_err();
            assert_eq!(error.to_string(), *message);
        }
    }

    #[tokio::test]
    async fn tls_files_are_read_and_checked_with_their_names() {
        let dir = scratch_dir("tls");
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "not a certificate\n").unwrap();
        let missing = dir.join("missing.pem");
        let settings = |ca: &Path| ClientSettings {
            endpoint: Some("https://127.0.0.1:6443".to_owned()),
            tls: Some(TlsFiles {
                cert: garbage.clone(),
                key: garbage.clone(),
                ca: ca.to_path_buf(),
            }),
            ..ClientSettings::default()
        };
        let error = build_config(&settings(&missing))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!("tls CA {}: ", missing.display())),
            "{error}"
        );
        let error = build_config(&settings(&garbage))
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            format!("tls CA {}: no PEM CERTIFICATE block", garbage.display())
        );
        // Over plain HTTP the files are not used at all.
        let mut plain = settings(&missing);
        plain.endpoint = Some("http://127.0.0.1:8080".to_owned());
        assert!(build_config(&plain).await.is_ok());
    }

    #[test]
    fn token_bucket_allows_the_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(2.0, 3.0);
        for _ in 0..3 {
            assert_eq!(bucket.take(start), None);
        }
        let wait = bucket.take(start).unwrap();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        // Half a second later one token is back, and only one.
        let later = start + Duration::from_millis(500);
        assert_eq!(bucket.take(later), None);
        assert!(bucket.take(later).is_some());
        // Long idle time refills to the capacity, not beyond.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(bucket.take(much_later), None);
        }
        assert!(bucket.take(much_later).is_some());
    }

    #[test]
    fn limits_of_zero_mean_unlimited() {
        assert!(RequestLimits::UNLIMITED.limiter().is_none());
        assert!(RequestLimits::default().is_unlimited());
        let nan = RequestLimits {
            qps: f32::NAN,
            ..RequestLimits::default()
        };
        assert!(nan.limiter().is_none());
        let rate_only = RequestLimits {
            qps: 5.0,
            ..RequestLimits::default()
        };
        let limiter = rate_only.limiter().unwrap();
        let bucket = limiter.bucket.as_ref().unwrap().lock().unwrap();
        assert_eq!(bucket.capacity, f64::from(DEFAULT_BURST));
        assert!(limiter.lists.is_none());
    }

    #[tokio::test]
    async fn list_slots_are_bounded_by_max_inflight() {
        let limits = RequestLimits {
            max_inflight: 2,
            ..RequestLimits::default()
        };
        let limiter = limits.limiter().unwrap();
        let first = limiter.list_slot().await.unwrap();
        let _second = limiter.list_slot().await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(50), limiter.list_slot()).await;
        assert!(third.is_err(), "a third slot while two are held");
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(1), limiter.list_slot()).await;
        assert!(matches!(third, Ok(Some(_))));
        // The rate limit is off: requests never wait.
        tokio::time::timeout(Duration::from_millis(50), limiter.request())
            .await
            .unwrap();
    }
}
