//! What the API client tells its owner about the requests it makes: every HTTP round trip
//! (method, API-server host, status or transport error, how long it took) and every wait on
//! the client-side rate limit.
//!
//! CoreDNS exports client-go's request metrics (`coredns_kubernetes_rest_client_*`). This
//! crate plays client-go's part for Cairn but must not depend on the metrics registry of
//! `cairn-core`, so it reports through a [`RequestObserver`] the plugin implements and hands
//! over in [`crate::ClientSettings::observer`].
//!
//! The round trips are seen by [`RequestMetricsLayer`], a `tower` layer put around the whole
//! kube-rs HTTP stack. Being outside kube-rs's stack, it sees one request per call of the
//! client: kube-rs's own retries of `429`/`503`/`504` happen inside it and are reported once,
//! with the last status and the time of all attempts. A request is finished:
//! - for a watch (`watch=true` in the query), when the response headers arrive: the stream
//!   that follows lasts minutes and is not part of the request;
//! - for anything else, when the response body has been read to its end (or dropped), as
//!   client-go's request latency includes reading the body;
//! - on a transport error (connection refused, TLS failure, timeout), at the error;
//! - when the caller drops the request before the response, as an error (client-go sees a
//!   cancelled context as an error too).
//!
//! The waits are reported by the API source's pacing ([`crate::api`]), which knows when a
//! request is held back by `apiserver_qps`/`apiserver_burst`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use hyper::{Method, Request, Response, Uri};
use tokio::time::Instant;

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestOutcome {
    /// The API server answered with this HTTP status.
    Status(u16),
    /// No response: the connection, TLS or HTTP exchange failed, or the request was dropped.
    Error,
}

/// One request the client made, as it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinishedRequest<'a> {
    /// The HTTP method in upper case (`GET`), client-go's `verb`.
    pub method: &'a str,
    /// The API server as the configuration names it: `host:port` (or `host` when the URL has
    /// no port), IPv6 addresses in brackets; client-go's `host`.
    pub host: &'a str,
    /// The status, or a transport error.
    pub outcome: RequestOutcome,
    /// From sending the request to the response headers (watches) or to the end of the
    /// response body (everything else), or to the error.
    pub elapsed: Duration,
    /// True for a watch request (`watch=true`): its `elapsed` ends at the headers.
    pub watch: bool,
}

/// Hears about the client's requests. Implementations must be cheap: they run on the tasks
/// of the API source (never on the DNS query path), once per request.
pub trait RequestObserver: Send + Sync {
    /// A request finished (see [`FinishedRequest`]).
    fn request_finished(&self, request: &FinishedRequest<'_>);

    /// The API source held a request back for `waited` before sending it, to keep within
    /// the client-side rate limit (zero when nothing had to wait).
    fn limiter_waited(&self, verb: &str, host: &str, waited: Duration);
}

/// The `verb` of every request the API source's watchers make (lists and watches).
pub(crate) const WATCHER_VERB: &str = "GET";

/// The API server's `host[:port]` in a URL, as client-go reports it (`url.URL.Host`): the
/// authority without user information.
pub fn request_host(url: &Uri) -> String {
    let authority = url.authority().map_or("", |a| a.as_str());
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .to_owned()
}

/// An observer together with the host its client talks to: what the layer and the pacing
/// report through.
#[derive(Clone)]
pub(crate) struct HostObserver {
    observer: Arc<dyn RequestObserver>,
    host: Arc<str>,
}

impl fmt::Debug for HostObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostObserver")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl HostObserver {
    pub(crate) fn new(observer: Arc<dyn RequestObserver>, host: &str) -> Self {
        HostObserver {
            observer,
            host: Arc::from(host),
        }
    }

    pub(crate) fn limiter_waited(&self, verb: &str, waited: Duration) {
        self.observer.limiter_waited(verb, &self.host, waited);
    }

    fn finished(&self, method: &Method, outcome: RequestOutcome, elapsed: Duration, watch: bool) {
        self.observer.request_finished(&FinishedRequest {
            method: method.as_str(),
            host: &self.host,
            outcome,
            elapsed,
            watch,
        });
    }
}

/// Reports every request of the service it wraps to a [`RequestObserver`].
#[derive(Clone, Debug)]
pub struct RequestMetricsLayer {
    observer: HostObserver,
}

impl RequestMetricsLayer {
    /// A layer reporting to `observer`, naming `host` (see [`request_host`]) as the server.
    pub fn new(observer: Arc<dyn RequestObserver>, host: &str) -> Self {
        RequestMetricsLayer {
            observer: HostObserver::new(observer, host),
        }
    }
}

impl<S> tower::Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> RequestMetrics<S> {
        RequestMetrics {
            inner,
            observer: self.observer.clone(),
        }
    }
}

/// The service of [`RequestMetricsLayer`].
#[derive(Clone, Debug)]
pub struct RequestMetrics<S> {
    inner: S,
    observer: HostObserver,
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for RequestMetrics<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Unpin,
    ResBody: Body + Unpin,
{
    type Response = Response<ObservedBody<ResBody>>;
    type Error = S::Error;
    type Future = ObservedResponse<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let pending = Pending {
            observer: self.observer.clone(),
            method: request.method().clone(),
            watch: is_watch(request.uri()),
            started: Instant::now(),
        };
        ObservedResponse {
            inner: self.inner.call(request),
            pending: Some(pending),
        }
    }
}

/// True when the request is a watch (`watch=true` or `watch=1` in the query, as the API
/// server accepts).
fn is_watch(uri: &Uri) -> bool {
    uri.query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1")
    })
}

/// A request not reported yet.
struct Pending {
    observer: HostObserver,
    method: Method,
    watch: bool,
    started: Instant,
}

impl Pending {
    fn report(self, outcome: RequestOutcome) {
        self.observer
            .finished(&self.method, outcome, self.started.elapsed(), self.watch);
    }
}

/// The response future of [`RequestMetrics`].
pub struct ObservedResponse<F> {
    inner: F,
    pending: Option<Pending>,
}

impl<F> fmt::Debug for ObservedResponse<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObservedResponse")
            .field("reported", &self.pending.is_none())
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ObservedResponse<F>
where
    F: Future<Output = Result<Response<B>, E>> + Unpin,
{
    type Output = Result<Response<ObservedBody<B>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let result = ready!(Pin::new(&mut this.inner).poll(cx));
        let pending = this.pending.take();
        Poll::Ready(match result {
            Ok(response) => {
                let status = response.status().as_u16();
                let body_pending = match pending {
                    Some(pending) if pending.watch => {
                        pending.report(RequestOutcome::Status(status));
                        None
                    }
                    other => other.map(|pending| (pending, status)),
                };
                Ok(response.map(|inner| ObservedBody {
                    inner,
                    pending: body_pending,
                }))
            }
            Err(error) => {
                if let Some(pending) = pending {
                    pending.report(RequestOutcome::Error);
                }
                Err(error)
            }
        })
    }
}

impl<F> Drop for ObservedResponse<F> {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            pending.report(RequestOutcome::Error);
        }
    }
}

/// A response body that reports its request when it ends, fails or is dropped.
pub struct ObservedBody<B> {
    inner: B,
    pending: Option<(Pending, u16)>,
}

impl<B> fmt::Debug for ObservedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObservedBody")
            .field("reported", &self.pending.is_none())
            .finish_non_exhaustive()
    }
}

impl<B> ObservedBody<B> {
    fn finish(&mut self) {
        if let Some((pending, status)) = self.pending.take() {
            pending.report(RequestOutcome::Status(status));
        }
    }
}

impl<B: Body + Unpin> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            this.finish();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for ObservedBody<B> {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::sync::Mutex;

    use hyper::body::Bytes;
    use tower::{Layer, Service};

    use super::*;

    /// What an observer heard, owned.
    #[derive(Clone, Debug, PartialEq)]
    enum Heard {
        Finished {
            method: String,
            host: String,
            outcome: RequestOutcome,
            elapsed: Duration,
            watch: bool,
        },
        Waited(String, String, Duration),
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Heard>>);

    impl Recorder {
        fn take(&self) -> Vec<Heard> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    impl RequestObserver for Recorder {
        fn request_finished(&self, request: &FinishedRequest<'_>) {
            self.0.lock().unwrap().push(Heard::Finished {
                method: request.method.to_owned(),
                host: request.host.to_owned(),
                outcome: request.outcome,
                elapsed: request.elapsed,
                watch: request.watch,
            });
        }

        fn limiter_waited(&self, verb: &str, host: &str, waited: Duration) {
            self.0
                .lock()
                .unwrap()
                .push(Heard::Waited(verb.to_owned(), host.to_owned(), waited));
        }
    }

    /// A body of fixed chunks, each after `delay`.
    struct Chunks {
        chunks: VecDeque<&'static str>,
        delay: Duration,
        sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    }

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            if self.chunks.is_empty() {
                return Poll::Ready(None);
            }
            let delay = self.delay;
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            ready!(sleep.as_mut().poll(cx));
            self.sleep = None;
            let chunk = self.chunks.pop_front().unwrap_or_default();
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(chunk.as_bytes())))))
        }
    }

    type Reply = Result<Response<Chunks>, &'static str>;

    /// Answers after `delay` with `status` and a body of two chunks `delay` apart, or fails.
    #[derive(Clone)]
    struct Stub {
        delay: Duration,
        reply: Result<u16, &'static str>,
    }

    impl Service<Request<()>> for Stub {
        type Response = Response<Chunks>;
        type Error = &'static str;
        type Future = Pin<Box<dyn Future<Output = Reply> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            let (delay, reply) = (self.delay, self.reply);
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                let status = reply?;
                let body = Chunks {
                    chunks: VecDeque::from(["{\"items\":", "[]}"]),
                    delay,
                    sleep: None,
                };
                Ok(Response::builder().status(status).body(body).unwrap())
            })
        }
    }

    fn request(method: Method, path: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
    }

    /// Asserts that `heard` is exactly one finished request with these facts, which took at
    /// least `at_least` (the stub's delays; real time, so only a lower bound holds).
    fn assert_finished(
        heard: &[Heard],
        method: &str,
        outcome: RequestOutcome,
        at_least: Duration,
        watch: bool,
    ) {
        let [Heard::Finished {
            method: heard_method,
            host,
            outcome: heard_outcome,
            elapsed,
            watch: heard_watch,
        }] = heard
        else {
            panic!("not one finished request: {heard:?}");
        };
        assert_eq!(
            (
                heard_method.as_str(),
                host.as_str(),
                *heard_outcome,
                *heard_watch
            ),
            (method, "10.96.0.1:443", outcome, watch)
        );
        assert!(*elapsed >= at_least, "{elapsed:?} < {at_least:?}");
    }

    async fn read_body(body: &mut ObservedBody<Chunks>) {
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
        {
            frame.unwrap();
        }
    }

    const TICK: Duration = Duration::from_millis(20);

    #[tokio::test]
    async fn a_list_is_reported_once_its_body_is_read() {
        let recorder = Arc::new(Recorder::default());
        let layer = RequestMetricsLayer::new(recorder.clone(), "10.96.0.1:443");
        let mut service = layer.layer(Stub {
            delay: TICK,
            reply: Ok(200),
        });
        let response = service
            .call(request(Method::GET, "/api/v1/services?limit=500"))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        // Headers are in, the body is not: nothing reported yet.
        assert_eq!(recorder.take(), []);
        let mut body = response.into_body();
        read_body(&mut body).await;
        assert_finished(
            &recorder.take(),
            "GET",
            RequestOutcome::Status(200),
            3 * TICK,
            false,
        );
        // Reported once: neither reading on nor dropping the body reports again.
        read_body(&mut body).await;
        drop(body);
        assert_eq!(recorder.take(), []);
    }

    #[tokio::test]
    async fn a_watch_is_reported_at_its_headers() {
        let recorder = Arc::new(Recorder::default());
        let layer = RequestMetricsLayer::new(recorder.clone(), "10.96.0.1:443");
        let mut service = layer.layer(Stub {
            delay: TICK,
            reply: Ok(200),
        });
        let path = "/api/v1/namespaces?allowWatchBookmarks=true&resourceVersion=7&watch=true";
        let response = service.call(request(Method::GET, path)).await.unwrap();
        assert_finished(
            &recorder.take(),
            "GET",
            RequestOutcome::Status(200),
            TICK,
            true,
        );
        let mut body = response.into_body();
        read_body(&mut body).await;
        drop(body);
        assert_eq!(recorder.take(), [], "the stream is not reported again");
    }

    #[tokio::test]
    async fn statuses_errors_and_abandoned_requests_are_reported() {
        let recorder = Arc::new(Recorder::default());
        let layer = RequestMetricsLayer::new(recorder.clone(), "10.96.0.1:443");

        // An error status: dropping the unread body finishes the request.
        let mut forbidden = layer.layer(Stub {
            delay: TICK,
            reply: Ok(403),
        });
        let response = forbidden
            .call(request(Method::GET, "/api/v1/pods"))
            .await
            .unwrap();
        drop(response);
        assert_finished(
            &recorder.take(),
            "GET",
            RequestOutcome::Status(403),
            TICK,
            false,
        );

        // A transport error.
        let mut refused = layer.layer(Stub {
            delay: TICK,
            reply: Err("connection refused"),
        });
        let error = refused
            .call(request(Method::POST, "/api/v1/namespaces"))
            .await
            .unwrap_err();
        assert_eq!(error, "connection refused");
        assert_finished(&recorder.take(), "POST", RequestOutcome::Error, TICK, false);

        // A request dropped before its response (the caller shut down).
        let mut slow = layer.layer(Stub {
            delay: 10 * TICK,
            reply: Ok(200),
        });
        let call = slow.call(request(Method::GET, "/api/v1/services?watch=1"));
        assert!(tokio::time::timeout(TICK, call).await.is_err());
        assert_finished(&recorder.take(), "GET", RequestOutcome::Error, TICK, true);
    }

    #[test]
    fn the_host_is_the_urls_authority_without_user_information() {
        let cases = [
            ("https://10.96.0.1:443", "10.96.0.1:443"),
            ("https://127.0.0.1:6443/", "127.0.0.1:6443"),
            (
                "https://api.example.com/k8s/clusters/c-1",
                "api.example.com",
            ),
            ("https://[fd00::1]:6443", "[fd00::1]:6443"),
            ("http://user:secret@10.0.0.1:8080", "10.0.0.1:8080"),
            ("/api/v1/services", ""),
        ];
        for (url, host) in cases {
            let url: Uri = url.parse().unwrap();
            assert_eq!(request_host(&url), host, "{url}");
        }
    }

    #[test]
    fn watches_are_recognised_by_their_query() {
        let cases = [
            ("/api/v1/services?watch=true&resourceVersion=1", true),
            ("/api/v1/services?resourceVersion=1&watch=1", true),
            ("/api/v1/services?watch=false", false),
            ("/api/v1/services?limit=500", false),
            ("/api/v1/watchers", false),
            ("/api/v1/services", false),
        ];
        for (path, watch) in cases {
            let uri: Uri = path.parse().unwrap();
            assert_eq!(is_watch(&uri), watch, "{path}");
        }
    }

    #[test]
    fn limiter_waits_name_the_host() {
        let recorder = Arc::new(Recorder::default());
        let observer = HostObserver::new(recorder.clone(), "127.0.0.1:6443");
        observer.limiter_waited(WATCHER_VERB, Duration::from_millis(250));
        assert_eq!(
            recorder.take(),
            [Heard::Waited(
                "GET".to_owned(),
                "127.0.0.1:6443".to_owned(),
                Duration::from_millis(250)
            )]
        );
    }
}
