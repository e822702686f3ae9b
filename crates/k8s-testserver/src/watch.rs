//! WATCH streams. Each open watch is a task that writes newline-terminated JSON events into
//! the response body: the initial ADDED objects or the replayed history first, then live
//! events from its queue in the store, BOOKMARKs on a timer, until `timeoutSeconds`, the client
//! leaves, or the store closes its queue (compaction, outage, or a queue that overflowed).
//!
//! Selectors apply per watcher, as in kube-apiserver's watch cache: an object that starts to
//! match is sent as ADDED, one that stops matching as DELETED (its previous content with the
//! event's version).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;
use tokio::time::{interval_at, sleep_until, Instant};

use crate::api::{expired_message, status};
use crate::body::ResponseBody;
use crate::object::StoredObject;
use crate::params::{QueryParams, VersionMatch};
use crate::resources::RESOURCES;
use crate::selector::{FieldSelector, LabelSelector};
use crate::server::Shared;
use crate::store::{Event, EventKind, WatchFrom, WatchItem, WatchStart};

/// Bytes gathered before a chunk is handed to the connection.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks buffered between the watch task and the connection.
const BODY_CHUNKS: usize = 8;

/// Which objects of a kind one watcher sees.
pub(crate) struct WatchFilter {
    pub resource: usize,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl WatchFilter {
    fn matches(&self, object: &StoredObject) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| ns == object.namespace)
            && self.labels.matches(&object.labels)
            && self.fields.matches(object)
    }

    /// The event this watcher is sent for a change, if any.
    fn translate(&self, event: &Event) -> Option<(&'static str, Bytes)> {
        let now = self.matches(&event.object);
        match event.kind {
            EventKind::Added => now.then(|| ("ADDED", event.object.json.clone())),
            EventKind::Deleted => now.then(|| ("DELETED", event.object.json.clone())),
            EventKind::Modified => {
                let before = event.previous.as_deref().is_some_and(|p| self.matches(p));
                match (before, now) {
                    (true, true) => Some(("MODIFIED", event.object.json.clone())),
                    (false, true) => Some(("ADDED", event.object.json.clone())),
                    (true, false) => event.previous.as_deref().map(|previous| {
                        let left = previous.with_resource_version(event.resource_version);
                        ("DELETED", left.json)
                    }),
                    (false, false) => None,
                }
            }
        }
    }
}

fn push_event(out: &mut Vec<u8>, kind: &str, object: &[u8]) {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
}

fn push_bookmark(out: &mut Vec<u8>, resource: usize, resource_version: u64, initial_end: bool) {
    let kind = &RESOURCES[resource];
    let annotations = if initial_end {
        ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}"
    } else {
        ""
    };
    let object = format!(
        "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{resource_version}\",\"creationTimestamp\":null{annotations}}}}}",
        kind.kind, kind.api_version
    );
    push_event(out, "BOOKMARK", object.as_bytes());
}

fn stream_response(chunks: mpsc::Receiver<Bytes>) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::Stream(chunks));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn bad_request(message: &str) -> Response<ResponseBody> {
    let body = serde_json::to_vec(&status(400, "BadRequest", message)).unwrap_or_default();
    let mut response = Response::new(ResponseBody::Whole(Some(Bytes::from(body))));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// How one watch runs, from its query parameters.
struct WatchOptions {
    bookmarks: bool,
    initial_end_bookmark: bool,
    timeout: Option<Duration>,
    bookmark_interval: Duration,
}

/// Registers the watcher and starts its task; the response streams what the task writes.
pub(crate) fn start(
    shared: &Arc<Shared>,
    filter: WatchFilter,
    params: &QueryParams,
    requested_version: Option<u64>,
) -> Response<ResponseBody> {
    let streaming_list = params.send_initial_events == Some(true);
    if streaming_list && !params.allow_bookmarks {
        return bad_request("sendInitialEvents requires setting allowWatchBookmarks=true");
    }
    if streaming_list && params.resource_version_match != Some(VersionMatch::NotOlderThan) {
        return bad_request(
            "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        );
    }
    if !streaming_list && params.resource_version_match.is_some() {
        return bad_request(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        );
    }
    let from = match (params.send_initial_events, requested_version) {
        (Some(true), _) => WatchFrom::Now {
            initial_events: true,
        },
        (Some(false), None) => WatchFrom::Now {
            initial_events: false,
        },
        (None, None) => WatchFrom::Now {
            initial_events: true,
        },
        (_, Some(version)) => WatchFrom::After(version),
    };
    let namespace = filter.namespace.clone();
    let (sender, chunks) = mpsc::channel(BODY_CHUNKS);
    match shared
        .store
        .watch(filter.resource, namespace.as_deref(), from)
    {
        Err(expired) => {
            // kube-apiserver answers 200 and reports the expiry as the stream's only event.
            let document = status(410, "Expired", &expired_message(&expired));
            let mut out = Vec::new();
            push_event(
                &mut out,
                "ERROR",
                &serde_json::to_vec(&document).unwrap_or_default(),
            );
            // The channel is empty and has room: this cannot fail.
            let _ = sender.try_send(Bytes::from(out));
        }
        Ok(watch_start) => {
            let options = WatchOptions {
                bookmarks: params.allow_bookmarks,
                initial_end_bookmark: streaming_list,
                timeout: params.timeout,
                bookmark_interval: shared.bookmark_interval,
            };
            tokio::spawn(run(shared.clone(), filter, options, watch_start, sender));
        }
    }
    stream_response(chunks)
}

/// Sends what has been gathered; `false` once the client is gone.
async fn flush(body: &mpsc::Sender<Bytes>, out: &mut Vec<u8>) -> bool {
    if out.is_empty() {
        return true;
    }
    let chunk = Bytes::from(std::mem::replace(out, Vec::with_capacity(CHUNK_BYTES)));
    body.send(chunk).await.is_ok()
}

/// Removes the watcher from the store however its task ends.
struct Registration {
    shared: Arc<Shared>,
    resource: usize,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.store.unregister(self.resource, self.id);
    }
}

async fn run(
    shared: Arc<Shared>,
    filter: WatchFilter,
    options: WatchOptions,
    start: WatchStart,
    body: mpsc::Sender<Bytes>,
) {
    let WatchStart {
        id,
        resource_version: start_version,
        initial,
        replay,
        mut queue,
    } = start;
    let registration = Registration {
        shared,
        resource: filter.resource,
        id,
    };
    let store = &registration.shared.store;
    let resource = filter.resource;
    let mut out = Vec::with_capacity(CHUNK_BYTES);
    for object in initial.iter().filter(|o| filter.matches(o)) {
        push_event(&mut out, "ADDED", &object.json);
        if out.len() >= CHUNK_BYTES && !flush(&body, &mut out).await {
            return;
        }
    }
    drop(initial);
    if options.initial_end_bookmark {
        push_bookmark(&mut out, resource, start_version, true);
    }
    for event in &replay {
        if let Some((kind, object)) = filter.translate(event) {
            push_event(&mut out, kind, &object);
        }
        if out.len() >= CHUNK_BYTES && !flush(&body, &mut out).await {
            return;
        }
    }
    drop(replay);
    if !flush(&body, &mut out).await {
        return;
    }

    let deadline = options.timeout.map(|t| Instant::now() + t);
    let timeout = async {
        match deadline {
            Some(deadline) => sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(timeout);
    let interval = options.bookmark_interval.max(Duration::from_millis(10));
    let mut bookmark_timer = interval_at(Instant::now() + interval, interval);
    loop {
        tokio::select! {
            item = queue.recv() => {
                let Some(mut item) = item else { break };
                loop {
                    match item {
                        WatchItem::Event(event) => {
                            if let Some((kind, object)) = filter.translate(&event) {
                                push_event(&mut out, kind, &object);
                            }
                        }
                        WatchItem::Bookmark(version) => {
                            if options.bookmarks {
                                push_bookmark(&mut out, resource, version, false);
                            }
                        }
                    }
                    if out.len() >= CHUNK_BYTES {
                        break;
                    }
                    match queue.try_recv() {
                        Ok(next) => item = next,
                        Err(_) => break,
                    }
                }
                if !flush(&body, &mut out).await {
                    break;
                }
            }
            _ = bookmark_timer.tick(), if options.bookmarks => {
                store.queue_bookmark(resource, id);
            }
            () = &mut timeout => break,
            () = body.closed() => break,
        }
    }
}
