//! The kubernetes plugin's metrics, with CoreDNS's names, help texts, labels and buckets.
//!
//! - `coredns_kubernetes_dns_programming_duration_seconds`: how long an endpoint change took
//!   from the EndpointSlice controller's trigger time to being answerable here. The index
//!   measures each sample when it publishes the change; the plugin only owns the family and
//!   feeds it from the writer's observer.
//! - `coredns_kubernetes_rest_client_*`: CoreDNS exports client-go's request metrics; Cairn's
//!   API client reports the same facts through [`cairn_k8s::RequestObserver`], and
//!   [`RestClientMetrics`] counts them the way client-go does: every request in
//!   `requests_total{code,method,host}` (`code` is the HTTP status, `<error>` without a
//!   response), the duration of every request but watches in `request_duration_seconds`
//!   (client-go times lists and gets, not watches), and every wait on the rate limit in
//!   `rate_limiter_duration_seconds`.
//!
//! All of this runs on the source task, never on the query path.

use std::sync::Arc;
use std::time::Duration;

use cairn_core::metrics::{registry, Counter, Family, Histogram, DEF_BUCKETS};
use cairn_k8s::{FinishedRequest, ProgrammingSample, RequestObserver, RequestOutcome, Writer};

/// Metric name, as CoreDNS exports it.
pub(crate) const PROGRAMMING_DURATION: &str = "coredns_kubernetes_dns_programming_duration_seconds";

/// CoreDNS's buckets: 0.001 s doubling 20 times (0.001 ... 524.288).
pub(crate) const PROGRAMMING_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
    8.192, 16.384, 32.768, 65.536, 131.072, 262.144, 524.288,
];

/// The histogram family (shared across reloads by name).
pub(crate) fn programming_duration() -> Arc<Family<Histogram>> {
    registry().histogram(
        PROGRAMMING_DURATION,
        "Histogram of the time (in seconds) it took to program a dns instance.",
        &["service_kind"],
        PROGRAMMING_BUCKETS,
    )
}

/// Makes `writer` observe every programming-latency sample into the histogram. A series is
/// created the first time its `service_kind` is seen, as a Prometheus vector does.
pub(crate) fn observe_programming(writer: &mut Writer) {
    let family = programming_duration();
    writer.on_programmed(move |sample: ProgrammingSample| {
        family
            .with(&[sample.service_kind.as_str()])
            .observe(sample.duration.as_secs_f64());
    });
}

/// Metric names, as CoreDNS exports them.
pub(crate) const REST_REQUEST_DURATION: &str =
    "coredns_kubernetes_rest_client_request_duration_seconds";
pub(crate) const REST_RATE_LIMITER_DURATION: &str =
    "coredns_kubernetes_rest_client_rate_limiter_duration_seconds";
pub(crate) const REST_REQUESTS: &str = "coredns_kubernetes_rest_client_requests_total";

/// client-go's `code` label for a request that got no response.
const ERROR_CODE: &str = "<error>";

/// The three `rest_client` families. They are shared by name across reloads; each API
/// source has its own [`RestClientMetrics`]. Requests are few (lists, watches, retries), so
/// each report looks its series up in the family.
pub(crate) struct RestClientMetrics {
    durations: Arc<Family<Histogram>>,
    waits: Arc<Family<Histogram>>,
    requests: Arc<Family<Counter>>,
}

impl RestClientMetrics {
    /// Registers (or finds) the families.
    pub(crate) fn new() -> Self {
        let r = registry();
        RestClientMetrics {
            durations: r.histogram(
                REST_REQUEST_DURATION,
                "Request latency in seconds. Broken down by verb and host.",
                &["verb", "host"],
                DEF_BUCKETS,
            ),
            waits: r.histogram(
                REST_RATE_LIMITER_DURATION,
                "Client side rate limiter latency in seconds. Broken down by verb and host.",
                &["verb", "host"],
                DEF_BUCKETS,
            ),
            requests: r.counter(
                REST_REQUESTS,
                "Number of HTTP requests, partitioned by status code, method, and host.",
                &["code", "method", "host"],
            ),
        }
    }
}

impl RequestObserver for RestClientMetrics {
    fn request_finished(&self, request: &FinishedRequest<'_>) {
        let code = match request.outcome {
            RequestOutcome::Status(status) => status.to_string(),
            RequestOutcome::Error => ERROR_CODE.to_owned(),
        };
        self.requests
            .with(&[code.as_str(), request.method, request.host])
            .inc();
        if !request.watch {
            self.durations
                .with(&[request.method, request.host])
                .observe(request.elapsed.as_secs_f64());
        }
    }

    fn limiter_waited(&self, verb: &str, host: &str, waited: Duration) {
        self.waits.with(&[verb, host]).observe(waited.as_secs_f64());
    }
}

/// The observer the API source reports to.
pub(crate) fn rest_client_observer() -> Arc<dyn RequestObserver> {
    Arc::new(RestClientMetrics::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(outcome: RequestOutcome, watch: bool, millis: u64) -> FinishedRequest<'static> {
        FinishedRequest {
            method: "GET",
            host: "rest-metrics.test:6443",
            outcome,
            elapsed: Duration::from_millis(millis),
            watch,
        }
    }

    /// The exposition lines of one family.
    fn lines(name: &str) -> Vec<String> {
        registry()
            .encode()
            .lines()
            .filter(|line| line.starts_with(name))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn rest_client_series_follow_client_go() {
        let metrics = RestClientMetrics::new();
        let ok = metrics
            .requests
            .with(&["200", "GET", "rest-metrics.test:6443"])
            .get();
        let failed = metrics
            .requests
            .with(&["<error>", "GET", "rest-metrics.test:6443"])
            .get();
        let timed = metrics
            .durations
            .with(&["GET", "rest-metrics.test:6443"])
            .count();
        let waited = metrics
            .waits
            .with(&["GET", "rest-metrics.test:6443"])
            .count();

        // A list, a watch, a failure, and a second list through the cached handles.
        metrics.request_finished(&finished(RequestOutcome::Status(200), false, 30));
        metrics.request_finished(&finished(RequestOutcome::Status(200), true, 5));
        metrics.request_finished(&finished(RequestOutcome::Error, false, 3000));
        metrics.request_finished(&finished(RequestOutcome::Status(200), false, 70));
        metrics.limiter_waited("GET", "rest-metrics.test:6443", Duration::from_millis(400));

        let requests = &metrics.requests;
        assert_eq!(
            requests
                .with(&["200", "GET", "rest-metrics.test:6443"])
                .get(),
            ok + 3
        );
        assert_eq!(
            requests
                .with(&["<error>", "GET", "rest-metrics.test:6443"])
                .get(),
            failed + 1
        );
        // Watches are counted but not timed, as in client-go.
        assert_eq!(
            metrics
                .durations
                .with(&["GET", "rest-metrics.test:6443"])
                .count(),
            timed + 3
        );
        assert_eq!(
            metrics
                .waits
                .with(&["GET", "rest-metrics.test:6443"])
                .count(),
            waited + 1
        );

        // Names, label order, the Prometheus default buckets.
        let durations = lines(REST_REQUEST_DURATION);
        assert!(
            durations.iter().any(|l| l.starts_with(
                "coredns_kubernetes_rest_client_request_duration_seconds_bucket{verb=\"GET\",host=\"rest-metrics.test:6443\",le=\"0.005\"}"
            )),
            "{durations:?}"
        );
        let bounds: Vec<&str> = durations
            .iter()
            .filter(|l| l.contains("_bucket{") && l.contains("rest-metrics.test:6443"))
            .filter_map(|l| l.split("le=\"").nth(1)?.split('"').next())
            .collect();
        assert_eq!(
            bounds,
            [
                "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
                "+Inf"
            ]
        );
        assert!(lines(REST_RATE_LIMITER_DURATION).iter().any(|l| l.starts_with(
            "coredns_kubernetes_rest_client_rate_limiter_duration_seconds_count{verb=\"GET\",host=\"rest-metrics.test:6443\"}"
        )));
        assert!(lines(REST_REQUESTS).iter().any(|l| l.starts_with(
            "coredns_kubernetes_rest_client_requests_total{code=\"<error>\",method=\"GET\",host=\"rest-metrics.test:6443\"}"
        )));
        let text = registry().encode();
        for help in [
            "# HELP coredns_kubernetes_rest_client_request_duration_seconds Request latency in seconds. Broken down by verb and host.",
            "# TYPE coredns_kubernetes_rest_client_request_duration_seconds histogram",
            "# HELP coredns_kubernetes_rest_client_rate_limiter_duration_seconds Client side rate limiter latency in seconds. Broken down by verb and host.",
            "# HELP coredns_kubernetes_rest_client_requests_total Number of HTTP requests, partitioned by status code, method, and host.",
            "# TYPE coredns_kubernetes_rest_client_requests_total counter",
        ] {
            assert!(text.lines().any(|l| l == help), "{help}");
        }
    }
}
