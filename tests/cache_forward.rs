//! `cache` in front of `forward` in the real `cairn` binary, with real upstreams: other
//! `cairn` processes on 127.0.0.1 serving a zone file and logging every query they answer
//! (which is how the tests count what reached them). Serving stale answers once every
//! upstream is gone, in `immediate` and `verify` mode, with the configured RESPONSE_TTL;
//! prefetch refreshing a popular name before it expires; and failover between two
//! upstreams seen through the cache (a dead one, one answering SERVFAIL).

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

const ZONE: &str = "$ORIGIN example.org.
$TTL 300
@       IN SOA ns1.example.org. admin.example.org. 7 7200 3600 1209600 300
@       IN NS  ns1.example.org.
ns1     IN A   192.0.2.1
www     IN A   192.0.2.10
popular IN A   192.0.2.20
rare    IN A   192.0.2.30
";

/// An upstream: example.org from a zone file, every answered query logged.
fn upstream_with(www: &str) -> Server {
    Server::start_files(
        "example.org {\n    log\n    file db.example.org\n}\n",
        &[("db.example.org", &ZONE.replace("192.0.2.10", www))],
    )
}

fn upstream() -> Server {
    upstream_with("192.0.2.10")
}

/// Answers for `name` (type A) the upstream has given so far.
fn seen(up: &Server, name: &str) -> usize {
    up.stdout_lines_with(&format!("\"A IN {name} "))
}

/// A front whose Corefile has `{CACHE}` and `{FORWARD}` lines filled in, and a metrics port.
struct Front {
    srv: Server,
    metrics: u16,
}

impl Front {
    fn start(cache: &str, forward: &str) -> Front {
        let metrics = free_port();
        let srv = Server::start(&format!(
            ".:{{PORT}} {{\n    prometheus 127.0.0.1:{metrics}\n    {cache}\n    {forward}\n}}\n"
        ));
        Front { srv, metrics }
    }

    fn ask(&self, tcp: bool, name: &str) -> Message {
        let q = query(name, RecordType::A);
        if tcp {
            self.srv.query_tcp(&q)
        } else {
            self.srv.query_udp(&q)
        }
    }

    /// A cache counter of this front's listener (`type` for hits and entries); 0 while the
    /// series does not exist yet (a label combination appears on first use).
    fn cache_metric(&self, family: &str, kind: Option<&str>) -> f64 {
        let kind = kind.map(|k| format!("type=\"{k}\",")).unwrap_or_default();
        let series = format!(
            "coredns_cache_{family}{{server=\"dns://:{}\",{kind}zones=\".\",view=\"\"}}",
            self.srv.port
        );
        let (status, body) = http_get(self.metrics, "/metrics");
        assert_eq!(status, 200);
        metric_sample(&body, &series).unwrap_or(0.0)
    }

    fn metrics_body(&self) -> String {
        http_get(self.metrics, "/metrics").1
    }
}

fn a_of(r: &Message) -> Vec<Ipv4Addr> {
    r.answers
        .iter()
        .filter_map(|rec| match &rec.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// Sleeps until `since + d`.
fn sleep_until(since: Instant, d: Duration) {
    if let Some(left) = (since + d).checked_duration_since(Instant::now()) {
        std::thread::sleep(left);
    }
}

/// Long enough for a 2-second cache entry filled now to have expired.
const EXPIRED: Duration = Duration::from_millis(2300);

// ---------------------------------------------------------------------------------------
// serve_stale
// ---------------------------------------------------------------------------------------

#[test]
fn serve_stale_immediate_answers_from_the_cache_when_every_upstream_is_down() {
    let up = upstream();
    let front = Front::start(
        "cache 2 {\n        serve_stale 1h immediate 7s\n    }",
        &format!("forward . 127.0.0.1:{}", up.port),
    );

    // Fill the cache: a positive and a negative answer, kept for 2 s.
    let filled = Instant::now();
    let r = front.ask(false, "www.example.org.");
    assert_eq!(a_of(&r), [Ipv4Addr::new(192, 0, 2, 10)], "{r}");
    assert_eq!(r.answers[0].ttl, 2, "{r}");
    let r = front.ask(false, "nope.example.org.");
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
    assert_eq!(seen(&up, "www.example.org."), 1);

    // Expired, upstream alive: `immediate` answers stale at once (RESPONSE_TTL 7) and
    // refreshes in the background; the next client gets the refreshed entry.
    sleep_until(filled, EXPIRED);
    let r = front.ask(false, "www.example.org.");
    assert_eq!(a_of(&r), [Ipv4Addr::new(192, 0, 2, 10)], "{r}");
    assert_eq!(r.answers[0].ttl, 7, "stale, with the RESPONSE_TTL: {r}");
    wait_for("the background refresh", Duration::from_secs(2), || {
        seen(&up, "www.example.org.") == 2
    });
    let r = front.ask(true, "www.example.org.");
    assert!((1..=2).contains(&r.answers[0].ttl), "refreshed: {r}");
    let refreshed = Instant::now();
    let stale_before = front.cache_metric("served_stale_total", None);
    assert_eq!(stale_before, 1.0);

    // Every upstream gone: once expired, the cache keeps answering from the stale entries,
    // over UDP and TCP, positive and negative alike.
    drop(up);
    sleep_until(refreshed, EXPIRED);
    for tcp in [false, true, false] {
        let r = front.ask(tcp, "www.example.org.");
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert_eq!(a_of(&r), [Ipv4Addr::new(192, 0, 2, 10)], "{r}");
        assert_eq!(r.answers[0].ttl, 7, "{r}");
        let r = front.ask(tcp, "nope.example.org.");
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
        assert_eq!(r.authorities[0].ttl, 7, "{r}");
    }
    assert_eq!(
        front.cache_metric("served_stale_total", None),
        stale_before + 6.0
    );
    // What was never cached fails.
    let r = front.ask(false, "rare.example.org.");
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{r}");
}

#[test]
fn serve_stale_verify_asks_the_upstream_first_and_falls_back_to_stale() {
    // With a verify timeout and a RESPONSE_TTL, and with neither (wait for the upstream
    // however long it takes; TTL 0 on stale answers).
    for (line, stale_ttl) in [
        ("serve_stale 1h verify 2s 9s", 9),
        ("serve_stale 1h verify", 0),
    ] {
        let up = upstream();
        let front = Front::start(
            &format!("cache 2 {{\n        {line}\n    }}"),
            &format!("forward . 127.0.0.1:{}", up.port),
        );
        let filled = Instant::now();
        let r = front.ask(false, "www.example.org.");
        assert_eq!(r.answers[0].ttl, 2, "{line}: {r}");
        assert_eq!(seen(&up, "www.example.org."), 1);

        // Expired, upstream alive: asked first, and its fresh answer served.
        sleep_until(filled, EXPIRED);
        let r = front.ask(true, "www.example.org.");
        assert_eq!(a_of(&r), [Ipv4Addr::new(192, 0, 2, 10)], "{line}: {r}");
        assert_eq!(r.answers[0].ttl, 2, "{line}: fresh, not stale: {r}");
        assert_eq!(seen(&up, "www.example.org."), 2, "{line}");
        assert_eq!(front.cache_metric("served_stale_total", None), 0.0);
        let refreshed = Instant::now();

        // Upstream gone: the verification fails, the stale entry is served.
        drop(up);
        sleep_until(refreshed, EXPIRED);
        for tcp in [false, true] {
            let r = front.ask(tcp, "www.example.org.");
            assert_eq!(
                r.metadata.response_code,
                ResponseCode::NoError,
                "{line}: {r}"
            );
            assert_eq!(a_of(&r), [Ipv4Addr::new(192, 0, 2, 10)], "{line}: {r}");
            assert_eq!(r.answers[0].ttl, stale_ttl, "{line}: {r}");
        }
        assert_eq!(
            front.cache_metric("served_stale_total", None),
            2.0,
            "{line}"
        );
        let r = front.ask(false, "rare.example.org.");
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::ServFail,
            "{line}: {r}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// prefetch
// ---------------------------------------------------------------------------------------

#[test]
fn prefetch_refreshes_a_popular_name_before_it_expires() {
    let up = upstream();
    // Entries live 6 s; one asked for twice is refreshed once 3 s or less are left.
    let front = Front::start(
        "cache 6 {\n        prefetch 2 1m 50%\n    }",
        &format!("forward . 127.0.0.1:{}", up.port),
    );
    let filled = Instant::now();
    let r = front.ask(false, "popular.example.org.");
    assert_eq!(r.answers[0].ttl, 6, "{r}");
    let r = front.ask(false, "rare.example.org.");
    assert_eq!(r.answers[0].ttl, 6, "{r}");
    // Two hits early on: popular.
    for tcp in [false, true] {
        let r = front.ask(tcp, "popular.example.org.");
        assert_eq!(r.answers[0].ttl, 6, "{r}");
    }
    assert_eq!(seen(&up, "popular.example.org."), 1);

    // Half the TTL gone: the next hit is answered from the cache and starts a refresh.
    sleep_until(filled, Duration::from_millis(3300));
    let r = front.ask(false, "popular.example.org.");
    assert_eq!(a_of(&r), [Ipv4Addr::new(192, 0, 2, 20)], "{r}");
    assert!(r.answers[0].ttl <= 3, "still the old entry: {r}");
    wait_for(
        "the upstream sees the prefetch",
        Duration::from_secs(2),
        || seen(&up, "popular.example.org.") == 2,
    );
    assert!(
        filled.elapsed() < Duration::from_secs(6),
        "the refresh came before the entry expired"
    );
    // The refreshed entry is served with its full TTL, without asking again.
    let r = front.ask(true, "popular.example.org.");
    assert!(r.answers[0].ttl >= 5, "refreshed: {r}");
    assert_eq!(seen(&up, "popular.example.org."), 2);
    assert_eq!(front.cache_metric("prefetch_total", None), 1.0);

    // A name asked for once more is not popular: answered from the cache, not refreshed.
    let r = front.ask(false, "rare.example.org.");
    assert!(r.answers[0].ttl <= 3, "{r}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(seen(&up, "rare.example.org."), 1);
    assert_eq!(front.cache_metric("prefetch_total", None), 1.0);
}

// ---------------------------------------------------------------------------------------
// failover
// ---------------------------------------------------------------------------------------

#[test]
fn failover_between_two_upstreams_through_the_cache() {
    let a = upstream_with("192.0.2.11");
    let b = upstream_with("192.0.2.12");
    let a_port = a.port;
    let front = Front::start(
        "cache 2",
        &format!(
            "forward . 127.0.0.1:{a_port} 127.0.0.1:{} {{\n        policy sequential\n        health_check 100ms\n    }}",
            b.port
        ),
    );
    let filled = Instant::now();
    let r = front.ask(false, "www.example.org.");
    assert_eq!(a_of(&r), [Ipv4Addr::new(192, 0, 2, 11)], "{r}");

    // The first upstream dies. Its answer stays cached until it expires; then the second
    // upstream answers, over UDP and TCP, with no failure seen by clients.
    drop(a);
    let r = front.ask(true, "www.example.org.");
    assert_eq!(a_of(&r), [Ipv4Addr::new(192, 0, 2, 11)], "cached: {r}");
    sleep_until(filled, EXPIRED);
    for tcp in [false, true] {
        let r = front.ask(tcp, "www.example.org.");
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert_eq!(a_of(&r), [Ipv4Addr::new(192, 0, 2, 12)], "{r}");
    }
    assert_eq!(
        seen(&b, "www.example.org."),
        1,
        "the second answer came from the cache"
    );
    let failures = format!(
        "coredns_proxy_healthcheck_failures_total{{proxy_name=\"forward\",to=\"127.0.0.1:{a_port}\"}}"
    );
    wait_for(
        "health checks of the dead upstream fail",
        Duration::from_secs(5),
        || metric_sample(&front.metrics_body(), &failures).is_some_and(|v| v >= 3.0),
    );

    // It comes back on its port: the health checks see it, and once the cached answer of the
    // second upstream expires the first one answers again.
    let mut back = Server::spawn_on(
        a_port,
        "example.org {\n    log\n    file db.example.org\n}\n",
        &[("db.example.org", &ZONE.replace("192.0.2.10", "192.0.2.11"))],
        &[],
        ConfSource::File,
    )
    .expect("restart the first upstream");
    back.wait_ready().expect("the first upstream answers again");
    wait_for(
        "the first upstream answers again",
        Duration::from_secs(5),
        || a_of(&front.ask(false, "www.example.org.")) == [Ipv4Addr::new(192, 0, 2, 11)],
    );
}

#[test]
fn failover_servfail_skips_an_upstream_that_fails_and_its_failure_is_not_cached() {
    let good = upstream_with("192.0.2.12");
    // An upstream that answers SERVFAIL to everything: a cairn forwarding to nowhere.
    let dead = free_port();
    let failing = Server::start(&format!(
        ".:{{PORT}} {{\n    log\n    forward . 127.0.0.1:{dead}\n}}\n"
    ));
    let failing_seen = || failing.stdout_lines_with("\"A IN www.example.org. ");
    let forward = |extra: &str| {
        format!(
            "forward . 127.0.0.1:{} 127.0.0.1:{} {{\n        policy sequential\n{extra}    }}",
            failing.port, good.port
        )
    };

    // `failover SERVFAIL`: the second upstream's answer is served, and cached.
    let front = Front::start("cache 30", &forward("        failover SERVFAIL\n"));
    for tcp in [false, true, false] {
        let r = front.ask(tcp, "www.example.org.");
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert_eq!(a_of(&r), [Ipv4Addr::new(192, 0, 2, 12)], "{r}");
    }
    assert_eq!(failing_seen(), 1);
    assert_eq!(seen(&good, "www.example.org."), 1);
    assert_eq!(front.cache_metric("hits_total", Some("success")), 2.0);

    // Without it the SERVFAIL reaches the client, and is kept for the `servfail` time (5 s by
    // default): the failing upstream is not asked again meanwhile.
    let front = Front::start("cache 30", &forward(""));
    for _ in 0..3 {
        let r = front.ask(false, "www.example.org.");
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{r}");
    }
    assert_eq!(failing_seen(), 2);
    assert_eq!(seen(&good, "www.example.org."), 1);
    assert_eq!(front.cache_metric("hits_total", Some("denial")), 2.0);
}
