//! The API-server source of the index: kube-rs watchers feeding one [`Writer`].
//!
//! One `kube::runtime::watcher` per kind (compat spec §3.2), deserializing straight into the
//! slim types of [`crate::objects`] so a full object is never kept:
//!
//! | kind | when | selector |
//! | --- | --- | --- |
//! | Services | always | `labels` |
//! | EndpointSlices | unless `noendpoints`; with `multicluster` only, just the MCS-labelled ones | `labels` |
//! | Namespaces | always | `namespace_labels` |
//! | Pods | `pods verified` | `labels`, and not Succeeded/Failed/Unknown |
//! | ServiceImports | `multicluster` | `namespace_labels` (as CoreDNS passes it) |
//!
//! The watchers run with bookmarks and kube-rs's default backoff. Their streams are merged
//! into one loop because the writer has a single owner: it applies every event that is ready,
//! then publishes once, so a burst of events costs one snapshot.
//!
//! A (re)list is buffered and applied as one [`Change::Replace`] when the watcher says the
//! list is complete: a relist, including the one after `410 Gone`, swaps the kind's objects
//! atomically and no name goes missing meanwhile. Stream errors are reported and the loop
//! goes on: the watcher retries with backoff while the index keeps its last content, which is
//! what keeps answers flowing during an API-server outage.
//!
//! A source made by [`ApiSource::connect`] with a [`crate::RequestObserver`] reports how long
//! each paced request waited for the rate limit (see [`crate::request_metrics`]).

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::stream::{self, select_all, Stream, StreamExt};
use futures_util::FutureExt;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Resource;
use serde::de::DeserializeOwned;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use crate::client::{
    build_observed_client, ClientError, ClientSettings, RequestLimiter, RequestLimits,
};
use crate::index::{Change, IndexConfig, KindSet, Writer};
use crate::objects::{
    EndpointSlice, Kind, Namespace, Object, Pod, Service, ServiceImport, LABEL_MCS_SERVICE_NAME,
};
use crate::request_metrics::{HostObserver, WATCHER_VERB};

/// The field selector of the Pod watch: pods that are or may become running.
pub const POD_FIELD_SELECTOR: &str =
    "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown";

/// Objects per LIST page (kube-rs's and client-go's default).
const PAGE_SIZE: u32 = 500;

/// Most events applied before a publish, so a long burst still becomes visible in steps.
const MAX_BATCH: usize = 4096;

/// What to watch and how to pace it.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchConfig {
    /// `labels`: server-side selector of the Services, EndpointSlices and Pods watches.
    pub label_selector: Option<String>,
    /// `namespace_labels`: server-side selector of the Namespaces (and ServiceImports) watch.
    pub namespace_label_selector: Option<String>,
    /// Watch Pods (`pods verified`).
    pub watch_pods: bool,
    /// Watch EndpointSlices (false with `noendpoints`).
    pub watch_endpoints: bool,
    /// Watch ServiceImports and multicluster EndpointSlices (`multicluster`).
    pub watch_service_imports: bool,
    /// `apiserver_qps`, `apiserver_burst`, `apiserver_max_inflight`.
    pub limits: RequestLimits,
}

impl Default for WatchConfig {
    /// CoreDNS's defaults: Services, EndpointSlices and Namespaces, no selectors, no limits.
    fn default() -> Self {
        WatchConfig {
            label_selector: None,
            namespace_label_selector: None,
            watch_pods: false,
            watch_endpoints: true,
            watch_service_imports: false,
            limits: RequestLimits::UNLIMITED,
        }
    }
}

impl WatchConfig {
    /// The watches an index with `config` needs, with the index's selectors sent to the
    /// server (the index applies them again, which costs nothing when they already held).
    pub fn for_index(config: &IndexConfig) -> WatchConfig {
        let selector = |text: String| (!text.is_empty()).then_some(text);
        WatchConfig {
            label_selector: selector(config.labels.to_string()),
            namespace_label_selector: selector(config.namespace_labels.to_string()),
            watch_pods: config.pods,
            watch_endpoints: config.endpoints,
            watch_service_imports: config.multicluster,
            limits: RequestLimits::UNLIMITED,
        }
    }

    /// The kinds watched: the same set as [`IndexConfig::kinds`] for the same options.
    pub fn kinds(&self) -> KindSet {
        let mut kinds = KindSet::EMPTY.with(Kind::Service).with(Kind::Namespace);
        if self.watch_endpoints || self.watch_service_imports {
            kinds.insert(Kind::EndpointSlice);
        }
        if self.watch_pods {
            kinds.insert(Kind::Pod);
        }
        if self.watch_service_imports {
            kinds.insert(Kind::ServiceImport);
        }
        kinds
    }

    /// The watcher parameters of each watched kind: selectors, bookmarks (kube-rs's
    /// default), pages of [`PAGE_SIZE`].
    pub fn watches(&self) -> Vec<(Kind, watcher::Config)> {
        let watch = |labels: Option<&String>| {
            let mut watch = watcher::Config::default().page_size(PAGE_SIZE);
            if let Some(labels) = labels {
                watch = watch.labels(labels);
            }
            watch
        };
        self.kinds()
            .iter()
            .map(|kind| {
                let config = match kind {
                    Kind::Service => watch(self.label_selector.as_ref()),
                    Kind::EndpointSlice => watch(self.endpoint_slice_selector().as_ref()),
                    Kind::Pod => watch(self.label_selector.as_ref()).fields(POD_FIELD_SELECTOR),
                    Kind::Namespace | Kind::ServiceImport => {
                        watch(self.namespace_label_selector.as_ref())
                    }
                };
                (kind, config)
            })
            .collect()
    }

    /// The label selector of the EndpointSlices watch. With `multicluster` but without
    /// endpoints only the imported slices are wanted: those carrying the MCS service label.
    fn endpoint_slice_selector(&self) -> Option<String> {
        if self.watch_endpoints {
            return self.label_selector.clone();
        }
        Some(match &self.label_selector {
            Some(labels) => format!("{labels},{LABEL_MCS_SERVICE_NAME}"),
            None => LABEL_MCS_SERVICE_NAME.to_owned(),
        })
    }
}

/// What the source tells its owner (the plugin logs errors, tracks readiness).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceEvent {
    /// The first complete list of this kind is in the index (published).
    Synced(Kind),
    /// A later complete list (after an expired watch or a failure) replaced the kind's
    /// objects in the index (published).
    Relisted(Kind),
    /// A list or watch request of this kind failed; the watcher retries with backoff and
    /// the index keeps its content.
    Error {
        /// The kind whose watcher failed.
        kind: Kind,
        /// The error and its causes, for the log.
        message: String,
    },
}

impl std::fmt::Display for SourceEvent {
    /// A log line's text: `Failed to watch Service: list failed: 401 Unauthorized`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceEvent::Synced(kind) => write!(f, "{kind} synced"),
            SourceEvent::Relisted(kind) => write!(f, "{kind} relisted"),
            SourceEvent::Error { kind, message } => write!(f, "Failed to watch {kind}: {message}"),
        }
    }
}

/// The API-server source: a client and what to watch with it.
#[derive(Clone)]
pub struct ApiSource {
    /// The client, from [`crate::client::build_client`].
    pub client: kube::Client,
    /// What to watch.
    pub config: WatchConfig,
    /// Hears of the waits on the rate limit.
    observer: Option<HostObserver>,
}

impl Debug for ApiSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSource")
            .field("config", &self.config)
            .field("observer", &self.observer)
            .finish_non_exhaustive()
    }
}

/// One watcher event, tagged with its kind, objects already turned into [`Object`]s.
type KindEvent = (Kind, Result<Event<Object>, watcher::Error>);
type KindStream = Pin<Box<dyn Stream<Item = KindEvent> + Send>>;

impl ApiSource {
    /// A source watching with `config` through `client`.
    pub fn new(client: kube::Client, config: WatchConfig) -> Self {
        ApiSource {
            client,
            config,
            observer: None,
        }
    }

    /// Builds the client for `settings` and a source watching with `config` through it. The
    /// settings' observer, if any, hears of every request (see [`crate::build_client`]) and
    /// of every wait for the rate limit; with an observer the waits are reported even when
    /// nothing is limited (as zero).
    ///
    /// # Errors
    /// As [`crate::build_client`].
    pub async fn connect(
        settings: &ClientSettings,
        config: WatchConfig,
    ) -> Result<Self, ClientError> {
        let (client, observer) = build_observed_client(settings).await?;
        Ok(ApiSource {
            client,
            config,
            observer,
        })
    }

    /// Keeps `writer`'s index in step with the API server until `shutdown` completes.
    /// `report` hears of every first sync, relist and error, after the corresponding
    /// publish.
    pub async fn run(
        self,
        mut writer: Writer,
        shutdown: impl Future<Output = ()>,
        report: impl Fn(SourceEvent) + Send + Sync,
    ) {
        let mut events = select_all(self.streams());
        let mut state = MergeState::default();
        let mut reports = Vec::new();
        tokio::pin!(shutdown);
        loop {
            let first = tokio::select! {
                biased;
                () = &mut shutdown => return,
                event = events.next() => event,
            };
            // The watchers never end; `None` would mean there is nothing left to watch.
            let Some(first) = first else { return };
            state.apply(&mut writer, first, &mut reports);
            for _ in 1..MAX_BATCH {
                match events.next().now_or_never() {
                    Some(Some(event)) => state.apply(&mut writer, event, &mut reports),
                    _ => break,
                }
            }
            writer.publish();
            for event in reports.drain(..) {
                report(event);
            }
        }
    }

    /// One event stream per watched kind.
    fn streams(&self) -> Vec<KindStream> {
        let limiter = match (self.config.limits.limiter(), &self.observer) {
            (None, Some(_)) => Some(Arc::new(RequestLimiter::unlimited())),
            (limiter, _) => limiter,
        };
        let pacing = limiter.map(|limiter| Pacing {
            limiter,
            observer: self.observer.clone(),
        });
        self.config
            .watches()
            .into_iter()
            .map(|(kind, watch)| {
                let client = self.client.clone();
                let pacing = pacing.clone();
                match kind {
                    Kind::Service => kind_stream(kind, Api::<Service>::all(client), watch, pacing),
                    Kind::EndpointSlice => {
                        kind_stream(kind, Api::<EndpointSlice>::all(client), watch, pacing)
                    }
                    Kind::Pod => kind_stream(kind, Api::<Pod>::all(client), watch, pacing),
                    Kind::Namespace => {
                        kind_stream(kind, Api::<Namespace>::all(client), watch, pacing)
                    }
                    Kind::ServiceImport => {
                        kind_stream(kind, Api::<ServiceImport>::all(client), watch, pacing)
                    }
                }
            })
            .collect()
    }
}

/// The watcher of one kind, with kube-rs's default backoff after errors, paced by `pacing`.
fn kind_stream<K>(
    kind: Kind,
    api: Api<K>,
    config: watcher::Config,
    pacing: Option<Pacing>,
) -> KindStream
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
    Object: From<K>,
{
    let events = watcher::watcher(api, config)
        .default_backoff()
        .map(|event| event.map(into_object_event));
    match pacing {
        None => events.map(move |event| (kind, event)).boxed(),
        Some(pacing) => paced(events.boxed(), pacing)
            .map(move |event| (kind, event))
            .boxed(),
    }
}

fn into_object_event<K>(event: Event<K>) -> Event<Object>
where
    Object: From<K>,
{
    match event {
        Event::Apply(object) => Event::Apply(object.into()),
        Event::Delete(object) => Event::Delete(object.into()),
        Event::Init => Event::Init,
        Event::InitApply(object) => Event::InitApply(object.into()),
        Event::InitDone => Event::InitDone,
    }
}

type ObjectEvents = Pin<Box<dyn Stream<Item = Result<Event<Object>, watcher::Error>> + Send>>;

/// Which request the watcher makes when it is polled next, as far as its events tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NextRequest {
    /// None: it reads an open watch stream or hands out a listed object.
    Nothing,
    /// The first page of a list (after `Init`).
    List,
    /// Maybe the next page of a list (after a full page of objects).
    Page,
    /// A watch (after `InitDone`), or a retry after an error.
    Other,
}

/// The limiter shared by a source's watchers, and who hears of the waits.
#[derive(Clone)]
struct Pacing {
    limiter: Arc<RequestLimiter>,
    observer: Option<HostObserver>,
}

impl Pacing {
    /// Waits for the rate limit and reports how long that took.
    async fn rate(&self) {
        let started = Instant::now();
        self.limiter.request().await;
        if let Some(observer) = &self.observer {
            observer.limiter_waited(WATCHER_VERB, started.elapsed());
        }
    }
}

struct Paced {
    events: ObjectEvents,
    pacing: Pacing,
    next: NextRequest,
    listed: u32,
    list_slot: Option<OwnedSemaphorePermit>,
}

/// Holds the watcher back before each poll that makes a request until the limiter allows
/// it; a listing holds one `max_inflight` slot from `Init` to `InitDone` (or an error).
/// A watch that ends on its server-side timeout is restarted inside the watcher without an
/// event, so those restarts (one per kind every few minutes) are not paced. Only the rate
/// limit's waits are reported: `max_inflight` is a concurrency bound (CoreDNS applies it in
/// the HTTP transport, outside client-go's rate limiter). After a list of an exact multiple
/// of [`PAGE_SIZE`] objects a wait is taken, and reported, for a page that is not requested.
fn paced(
    events: ObjectEvents,
    pacing: Pacing,
) -> impl Stream<Item = Result<Event<Object>, watcher::Error>> + Send {
    let state = Paced {
        events,
        pacing,
        next: NextRequest::Nothing,
        listed: 0,
        list_slot: None,
    };
    stream::unfold(state, |mut state| async move {
        match state.next {
            NextRequest::Nothing => {}
            NextRequest::List => {
                state.list_slot = state.pacing.limiter.list_slot().await;
                state.pacing.rate().await;
            }
            NextRequest::Page | NextRequest::Other => state.pacing.rate().await,
        }
        let event = state.events.next().await?;
        state.next = match &event {
            Ok(Event::Init) => {
                state.listed = 0;
                NextRequest::List
            }
            Ok(Event::InitApply(_)) => {
                state.listed += 1;
                if state.listed % PAGE_SIZE == 0 {
                    NextRequest::Page
                } else {
                    NextRequest::Nothing
                }
            }
            Ok(Event::InitDone) => {
                state.list_slot = None;
                NextRequest::Other
            }
            Ok(Event::Apply(_) | Event::Delete(_)) => NextRequest::Nothing,
            Err(_) => {
                state.list_slot = None;
                NextRequest::Other
            }
        };
        Some((event, state))
    })
}

/// The merge loop's memory: lists in progress and kinds synced once.
#[derive(Default)]
struct MergeState {
    /// Objects of a list in progress, by kind.
    listing: [Option<Vec<Object>>; Kind::ALL.len()],
    synced: KindSet,
}

impl MergeState {
    fn apply(
        &mut self,
        writer: &mut Writer,
        (kind, event): KindEvent,
        reports: &mut Vec<SourceEvent>,
    ) {
        let listing = &mut self.listing[kind as usize];
        match event {
            Ok(Event::Init) => *listing = Some(Vec::new()),
            Ok(Event::InitApply(object)) => listing.get_or_insert_with(Vec::new).push(object),
            Ok(Event::InitDone) => {
                let objects = listing.take().unwrap_or_default();
                writer.apply(Change::Replace(kind, objects));
                writer.apply(Change::Synced(kind));
                if self.synced.contains(kind) {
                    reports.push(SourceEvent::Relisted(kind));
                } else {
                    self.synced.insert(kind);
                    reports.push(SourceEvent::Synced(kind));
                }
            }
            Ok(Event::Apply(object)) => {
                writer.apply(Change::Upsert(object));
            }
            Ok(Event::Delete(object)) => {
                writer.apply(Change::Delete(object));
            }
            Err(error) => reports.push(SourceEvent::Error {
                kind,
                message: describe(&error),
            }),
        }
    }
}

/// A watcher error in a few words: what failed, then the API server's status
/// (`401 Unauthorized: ...`) or the transport error with its causes.
fn describe(error: &watcher::Error) -> String {
    let (action, cause) = match error {
        watcher::Error::InitialListFailed(cause) => ("list failed", cause),
        watcher::Error::WatchStartFailed(cause) => ("watch failed to start", cause),
        watcher::Error::WatchFailed(cause) => ("watch stream failed", cause),
        watcher::Error::WatchError(status) => {
            return format!("watch ended by the API server: {}", status_text(status));
        }
        watcher::Error::NoResourceVersion => return error.to_string(),
    };
    match cause {
        kube::Error::Api(status) => format!("{action}: {}", status_text(status)),
        other => format!("{action}: {}", error_chain(other)),
    }
}

/// `401 Unauthorized: message` (the message only when it says more than the reason).
fn status_text(status: &kube::core::Status) -> String {
    let mut text = status.code.to_string();
    for part in [&status.reason, &status.message] {
        if !part.is_empty() && !text.ends_with(part.as_str()) {
            text.push_str(if text.len() == 3 { " " } else { ": " });
            text.push_str(part);
        }
    }
    text
}

/// An error with its causes, `outer: inner: innermost`, skipping causes the outer message
/// already quotes.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::Selector;

    #[test]
    fn watch_config_follows_the_index_options() {
        let index = IndexConfig {
            labels: Selector::parse("app=web").unwrap(),
            pods: true,
            endpoints: false,
            multicluster: true,
            ..IndexConfig::default()
        };
        let watch = WatchConfig::for_index(&index);
        assert_eq!(watch.label_selector.as_deref(), Some("app=web"));
        assert_eq!(watch.namespace_label_selector, None);
        assert!(watch.watch_pods && !watch.watch_endpoints && watch.watch_service_imports);
        assert_eq!(watch.kinds(), index.kinds());
        assert_eq!(
            watch.endpoint_slice_selector().as_deref(),
            Some("app=web,multicluster.kubernetes.io/service-name")
        );

        let defaults = IndexConfig::default();
        let watch = WatchConfig::for_index(&defaults);
        assert_eq!(watch, WatchConfig::default());
        assert_eq!(watch.kinds(), defaults.kinds());
        assert_eq!(watch.endpoint_slice_selector(), None);

        let only_mcs = WatchConfig {
            watch_endpoints: false,
            watch_service_imports: true,
            ..WatchConfig::default()
        };
        assert_eq!(
            only_mcs.endpoint_slice_selector().as_deref(),
            Some("multicluster.kubernetes.io/service-name")
        );
    }

    #[test]
    fn watcher_errors_read_like_log_lines() {
        let status = |code: u16, reason: &str, message: &str| kube::core::Status {
            code,
            reason: reason.to_owned(),
            message: message.to_owned(),
            ..kube::core::Status::default()
        };
        let cases: Vec<(watcher::Error, &str)> = vec![
            (
                watcher::Error::InitialListFailed(kube::Error::Api(Box::new(status(
                    401,
                    "Unauthorized",
                    "Unauthorized",
                )))),
                "list failed: 401 Unauthorized",
            ),
            (
                watcher::Error::WatchError(Box::new(status(
                    410,
                    "Expired",
                    "too old resource version: 5 (9)",
                ))),
                "watch ended by the API server: 410 Expired: too old resource version: 5 (9)",
            ),
            (
                watcher::Error::WatchStartFailed(kube::Error::Api(Box::new(status(
                    403,
                    "Forbidden",
                    "services is forbidden",
                )))),
                "watch failed to start: 403 Forbidden: services is forbidden",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(describe(&error), text);
        }
        let event = SourceEvent::Error {
            kind: Kind::Service,
            message: "list failed: 401 Unauthorized".to_owned(),
        };
        assert_eq!(
            event.to_string(),
            "Failed to watch Service: list failed: 401 Unauthorized"
        );
    }

    #[test]
    fn each_kind_gets_its_selectors() {
        let everything = WatchConfig {
            label_selector: Some("app=web".to_owned()),
            namespace_label_selector: Some("dns=yes".to_owned()),
            watch_pods: true,
            watch_endpoints: true,
            watch_service_imports: true,
            limits: RequestLimits::UNLIMITED,
        };
        let watches = everything.watches();
        let kinds: Vec<Kind> = watches.iter().map(|(kind, _)| *kind).collect();
        assert_eq!(kinds, Kind::ALL);
        #[rustfmt::skip]
        let wanted: &[(Kind, &str, Option<&str>)] = &[
            (Kind::Service, "app=web", None),
            (Kind::EndpointSlice, "app=web", None),
            (Kind::Pod, "app=web", Some(POD_FIELD_SELECTOR)),
            (Kind::Namespace, "dns=yes", None),
            (Kind::ServiceImport, "dns=yes", None),
        ];
        for ((kind, config), (wanted_kind, labels, fields)) in watches.iter().zip(wanted) {
            assert_eq!(kind, wanted_kind);
            assert_eq!(config.label_selector.as_deref(), Some(*labels), "{kind}");
            assert_eq!(config.field_selector.as_deref(), *fields, "{kind}");
            assert!(config.bookmarks, "{kind}");
            assert_eq!(config.page_size, Some(PAGE_SIZE), "{kind}");
        }
        assert_eq!(
            POD_FIELD_SELECTOR,
            "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown"
        );

        let defaults: Vec<(Kind, Option<String>)> = WatchConfig::default()
            .watches()
            .into_iter()
            .map(|(kind, config)| (kind, config.label_selector))
            .collect();
        assert_eq!(
            defaults,
            [
                (Kind::Service, None),
                (Kind::EndpointSlice, None),
                (Kind::Namespace, None)
            ]
        );
    }

    #[test]
    fn error_chain_lists_causes_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("inner")]
        struct Inner(#[source] std::io::Error);
        #[derive(Debug, thiserror::Error)]
        #[error("quoting: {0}")]
        struct Quoting(#[source] std::io::Error);

        let io = || std::io::Error::other("refused");
        assert_eq!(error_chain(&Outer(Inner(io()))), "outer: inner: refused");
        assert_eq!(error_chain(&Quoting(io())), "quoting: refused");
    }
}
