use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cairn_core::metrics::registry;
use cairn_core::setup::{BindLine, InstalledBlock, Shutdown};
use cairn_core::testing::{query, query_bytes, run, setup, with_setup_ctx, StubNext};
use cairn_core::wire::{Name, RType, Rcode, CLASS_IN};
use cairn_core::{Chain, Plugin, Proto, Request, Served};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use super::probe::{self, Schedule};
use super::target::{label_addr, Listen, Target};
use super::{Loop, MAX_SEEN};
use crate::registry::spec;

fn name(text: &str) -> Name {
    Name::parse(text, None).expect("test name")
}

fn setup_err(corefile: &str) -> String {
    match setup(spec("loop"), corefile, None) {
        Ok(_) => panic!("{corefile:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

/// The `loop` handler a one-block Corefile sets up.
fn loop_of(corefile: &str) -> Arc<dyn Plugin> {
    let s = setup(spec("loop"), corefile, None).expect("sets up");
    assert_eq!(s.plugins.len(), 1);
    s.plugins[0].clone()
}

fn as_loop(p: &Arc<dyn Plugin>) -> &Loop {
    p.as_any().downcast_ref::<Loop>().expect("a Loop")
}

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

#[test]
fn arguments_a_block_and_a_second_line_are_located_errors() {
    for (corefile, want) in [
        (
            ". {\n    loop 3\n}\n",
            "Corefile:2 - Error during parsing: plugin/loop: Wrong argument count or unexpected line ending after '3'",
        ),
        (
            ". {\n    loop {\n        max 3\n    }\n}\n",
            "Corefile:3 - Error during parsing: unknown property 'max'",
        ),
        (
            ". {\n    loop\n    loop\n}\n",
            "Corefile:3 - Error during parsing: plugin/loop: this plugin can only be used once per Server Block",
        ),
    ] {
        assert_eq!(setup_err(corefile), want, "{corefile:?}");
    }
    assert!(spec("loop").once, "the server refuses a second line too");
}

#[test]
fn the_probe_name_is_two_random_numbers_under_the_first_zone() {
    let mut seen = Vec::new();
    for (corefile, zone) in [
        (". {\n loop\n}\n", "."),
        ("Example.ORG:53 example.net {\n loop\n}\n", "example.org."),
        ("10.0.0.0/24 {\n loop\n}\n", "0.0.10.in-addr.arpa."),
    ] {
        let p = loop_of(corefile);
        let l = as_loop(&p);
        assert_eq!(l.zone(), &name(zone), "{corefile:?}");
        let text = l.qname().to_string();
        let suffix = if zone == "." { "" } else { zone };
        let labels = text
            .strip_suffix(suffix)
            .unwrap_or_else(|| panic!("{text} is not under {zone}"));
        let numbers: Vec<&str> = labels.trim_end_matches('.').split('.').collect();
        assert_eq!(numbers.len(), 2, "{text}");
        for n in numbers {
            let v: u64 = n.parse().unwrap_or_else(|_| panic!("{n} in {text}"));
            assert!(v < 1 << 62, "{text}");
        }
        seen.push(text);
    }
    // Fresh randomness every time: the same block twice gets two names.
    let a = as_loop(&loop_of(". {\n loop\n}\n")).qname().clone();
    let b = as_loop(&loop_of(". {\n loop\n}\n")).qname().clone();
    assert_ne!(a, b);
}

#[test]
fn a_zone_too_long_for_the_probe_turns_detection_off() {
    let long = format!(
        "{}.{}.{}.{}.",
        "a".repeat(60),
        "b".repeat(60),
        "c".repeat(60),
        "d".repeat(60)
    );
    let s = setup(spec("loop"), &format!("{long} {{\n loop\n}}\n"), None).expect("sets up");
    let l = as_loop(&s.plugins[0]);
    assert!(!l.is_checking());
    assert_eq!(s.plugins[0].ready(), Some(true));
    assert!(s.parts.services.is_empty());
}

#[test]
fn registers_a_probe_service_and_a_hook_per_block() {
    let s = setup(spec("loop"), "example.org:1053 {\n loop\n}\n", None).expect("sets up");
    let names: Vec<&str> = s.parts.services.iter().map(|s| s.name).collect();
    assert_eq!(names, ["loop"]);
    let hooks: Vec<&str> = s.parts.installed_hooks.iter().map(|(n, _)| *n).collect();
    assert_eq!(hooks, ["loop#0"]);
    // Not ready until the first exchange; registered with `ready` because it reports.
    assert_eq!(s.plugins[0].ready(), Some(false));
}

#[test]
fn a_block_on_port_zero_is_not_probed() {
    let ((), s) = with_setup_ctx("loop", ". {\n loop\n}\n", None, |ctx| {
        let block = cairn_core::setup::BlockInfo {
            port: 0,
            ..ctx.block.clone()
        };
        let mut settings = ctx.settings.clone();
        let mut handlers = Vec::new();
        let mut parts = cairn_core::setup::InstanceParts::default();
        let mut inner = cairn_core::SetupCtx::new(
            ctx.directives,
            &block,
            &mut settings,
            ctx.config_dir.clone(),
            &mut handlers,
            &mut parts,
        );
        super::setup(&mut inner)?;
        assert!(parts.services.is_empty());
        assert_eq!(handlers.len(), 1);
        assert_eq!(handlers[0].ready(), Some(true));
        assert!(!as_loop(&handlers[0]).is_checking());
        Ok(())
    })
    .expect("sets up");
    drop(s);
}

// ---------------------------------------------------------------------------------------------
// Where the probe goes
// ---------------------------------------------------------------------------------------------

fn bind(addrs: &[&str], except: &[&str]) -> BindLine {
    BindLine {
        addrs: addrs.iter().map(ToString::to_string).collect(),
        except: except.iter().map(ToString::to_string).collect(),
    }
}

fn installed(server: &str, zones: &[&str], plugins: &[&'static str]) -> InstalledBlock {
    InstalledBlock {
        server: server.into(),
        zones: zones.iter().map(|z| name(z)).collect(),
        plugins: plugins.to_vec(),
    }
}

#[test]
fn the_target_is_the_first_listen_address_as_coredns_prints_it() {
    let zone = name(".");
    for (lines, want_to, want_text) in [
        (vec![], "127.0.0.1:53", ":53"),
        (
            vec![bind(&["10.0.0.1", "10.0.0.2"], &[])],
            "10.0.0.1:53",
            "10.0.0.1:53",
        ),
        (vec![bind(&["::1"], &[])], "[::1]:53", "[::1]:53"),
        (vec![bind(&["0.0.0.0"], &[])], "127.0.0.1:53", "0.0.0.0:53"),
        (vec![bind(&["::"], &[])], "[::1]:53", "[::]:53"),
        (
            vec![bind(&["10.0.0.1", "10.0.0.2"], &["10.0.0.1"])],
            "10.0.0.2:53",
            "10.0.0.2:53",
        ),
        (
            vec![bind(&["10.0.0.1"], &["10.0.0.1"]), bind(&["10.0.0.3"], &[])],
            "10.0.0.3:53",
            "10.0.0.3:53",
        ),
    ] {
        let t = Target::of_block(&lines, 53);
        let (to, text) = t.resolve(&[], &zone).expect("known at setup");
        assert_eq!(to, want_to.parse::<SocketAddr>().unwrap(), "{lines:?}");
        assert_eq!(text, want_text, "{lines:?}");
    }
}

#[test]
fn an_interface_bind_takes_the_address_the_server_opened() {
    let zone = name("example.org.");
    let t = Target::of_block(&[bind(&["eth0"], &[])], 1053);
    assert_eq!(t.listen, Listen::Interface);
    let blocks = [
        // Another block, another port, a block without loop: none of them.
        installed("dns://192.0.2.9:1053", &["example.org."], &["whoami"]),
        installed(
            "dns://192.0.2.8:53",
            &["example.org."],
            &["loop", "forward"],
        ),
        installed(
            "dns://192.0.2.7:1053",
            &["example.net."],
            &["loop", "forward"],
        ),
        installed(
            "dns://192.0.2.1:1053",
            &["example.org."],
            &["loop", "forward"],
        ),
    ];
    let (to, text) = t.resolve(&blocks, &zone).expect("found");
    assert_eq!(to, "192.0.2.1:1053".parse::<SocketAddr>().unwrap());
    assert_eq!(text, "192.0.2.1:1053");
    assert_eq!(t.resolve(&blocks[..3], &zone), None);
}

#[test]
fn server_labels_parse_back_to_addresses() {
    assert_eq!(label_addr("dns://:53"), Some((None, 53)));
    assert_eq!(
        label_addr("dns://10.0.0.1:1053"),
        Some((Some("10.0.0.1".parse::<IpAddr>().unwrap()), 1053))
    );
    assert_eq!(
        label_addr("dns://[::1]:53"),
        Some((Some("::1".parse::<IpAddr>().unwrap()), 53))
    );
    assert_eq!(label_addr("dns://nonsense"), None);
    assert_eq!(label_addr("dns://host:53"), None);
}

// ---------------------------------------------------------------------------------------------
// Counting, with a stub next
// ---------------------------------------------------------------------------------------------

/// A handler for `zone` with a chain `loop -> stub`, already past its first exchange.
fn counting(zone: &str) -> (Arc<Loop>, Chain, Arc<StubNext>) {
    let zone = name(zone);
    let qname = probe::random_name(&zone).unwrap();
    let l = Arc::new(Loop::new(zone, qname));
    l.exchanged();
    let next = StubNext::new(Rcode::NOERROR);
    let chain = Chain::new(vec![l.clone() as Arc<dyn Plugin>, next.clone()]);
    (l, chain, next)
}

fn rcode_of(chain: &Chain, req: Box<Request>) -> Rcode {
    let (_, result) = run(chain, req);
    result.expect("a reply").rcode
}

fn metric_line(name: &str, zone: &str) -> Option<String> {
    let prefix = format!("{name}{{server=\"dns://:53\",zone=\"{zone}\"}} ");
    registry()
        .encode()
        .lines()
        .find(|l| l.starts_with(&prefix))
        .map(str::to_string)
}

#[test]
fn the_third_probe_is_a_loop_and_the_zone_gets_servfail() {
    let zone = "count-three.example.";
    let (l, chain, next) = counting(zone);
    let probe = l.qname().to_string();
    assert_eq!(l.ready(), Some(true));
    for i in 1..=MAX_SEEN {
        assert_eq!(
            rcode_of(&chain, query(&probe, RType::HINFO)),
            Rcode::NOERROR
        );
        assert_eq!(next.calls(), i as usize, "passed on");
        assert!(!l.is_looping());
    }
    assert_eq!(metric_line("cairn_loop_detections_total", zone), None);

    // The third time: detected, answered here, not passed on.
    assert_eq!(
        rcode_of(&chain, query(&probe, RType::HINFO)),
        Rcode::SERVFAIL
    );
    assert_eq!(next.calls(), 2);
    assert!(l.is_looping());
    assert_eq!(l.ready(), Some(false));
    assert_eq!(
        metric_line("cairn_loop_detections_total", zone).as_deref(),
        Some(
            format!("cairn_loop_detections_total{{server=\"dns://:53\",zone=\"{zone}\"}} 1")
                .as_str()
        )
    );
    assert_eq!(
        metric_line("cairn_loop_detected", zone).as_deref(),
        Some(format!("cairn_loop_detected{{server=\"dns://:53\",zone=\"{zone}\"}} 1").as_str())
    );

    // Every name of the zone now fails at once; other zones still go on.
    for q in [
        query(&probe, RType::HINFO),
        query("www.count-three.example.", RType::A),
        query("COUNT-THREE.example.", RType::SOA),
    ] {
        assert_eq!(rcode_of(&chain, q), Rcode::SERVFAIL);
    }
    assert_eq!(next.calls(), 2);
    assert_eq!(
        rcode_of(&chain, query("www.example.org.", RType::A)),
        Rcode::NOERROR
    );
    assert_eq!(next.calls(), 3);
    // Detected once: more probes are not counted again.
    assert!(metric_line("cairn_loop_detections_total", zone)
        .unwrap()
        .ends_with(" 1"));

    // The configuration goes away: the condition is lowered, the count stays.
    drop(chain);
    drop(l);
    assert!(metric_line("cairn_loop_detected", zone)
        .unwrap()
        .ends_with(" 0"));
    assert!(metric_line("cairn_loop_detections_total", zone)
        .unwrap()
        .ends_with(" 1"));
}

#[test]
fn only_hinfo_for_exactly_the_probe_name_counts() {
    let (l, chain, next) = counting("only-probe.example.");
    let probe = l.qname().to_string();
    let child = format!("x.{probe}");
    let parent = l.zone().to_string();
    for _ in 0..5 {
        for q in [
            query(&probe, RType::A),
            query(&probe, RType::TXT),
            query(&child, RType::HINFO),
            query(&parent, RType::HINFO),
            query("1.2.only-probe.example.", RType::HINFO),
        ] {
            assert_eq!(rcode_of(&chain, q), Rcode::NOERROR);
        }
    }
    assert_eq!(l.seen(), 0);
    assert!(!l.is_looping());
    assert_eq!(next.calls(), 25);
    // Letter case does not matter (the name is compared in lower case).
    let mixed = format!(
        "{}ONLY-PROBE.Example.",
        probe.strip_suffix("only-probe.example.").unwrap()
    );
    for _ in 0..3 {
        let _ = rcode_of(&chain, query(&mixed, RType::HINFO));
    }
    assert!(l.is_looping());
}

#[test]
fn a_new_exchange_starts_counting_afresh() {
    let (l, chain, _next) = counting("afresh.example.");
    let probe = l.qname().to_string();
    for _ in 0..3 {
        for _ in 0..MAX_SEEN {
            assert_eq!(
                rcode_of(&chain, query(&probe, RType::HINFO)),
                Rcode::NOERROR
            );
        }
        l.reset_seen();
    }
    assert!(!l.is_looping());
}

#[test]
fn after_probing_nothing_is_counted_and_everything_passes() {
    let (l, chain, next) = counting("after.example.");
    let probe = l.qname().to_string();
    l.stop_checking();
    for _ in 0..10 {
        assert_eq!(
            rcode_of(&chain, query(&probe, RType::HINFO)),
            Rcode::NOERROR
        );
    }
    assert_eq!(next.calls(), 10);
    assert_eq!(l.seen(), 0);
    assert!(!l.is_looping());
    assert_eq!(l.ready(), Some(true));
}

#[test]
fn a_loop_found_stays_when_probing_ends() {
    let (l, chain, _next) = counting("stays.example.");
    let probe = l.qname().to_string();
    for _ in 0..3 {
        let _ = rcode_of(&chain, query(&probe, RType::HINFO));
    }
    l.stop_checking();
    l.exchanged();
    assert!(l.is_looping());
    assert_eq!(l.ready(), Some(false));
}

#[test]
fn readiness_follows_the_phase() {
    let zone = name("phase.example.");
    let l = Loop::new(zone.clone(), probe::random_name(&zone).unwrap());
    assert_eq!(l.ready(), Some(false), "probing");
    l.exchanged();
    assert_eq!(l.ready(), Some(true), "one exchange done");
    l.stop_checking();
    assert_eq!(l.ready(), Some(true), "off");
}

// ---------------------------------------------------------------------------------------------
// The probe service, against in-test UDP responders
// ---------------------------------------------------------------------------------------------

/// Short timings so the tests finish in well under a second.
const FAST: Schedule = Schedule {
    attempt_timeout: Duration::from_millis(200),
    retry_every: Duration::from_millis(20),
    give_up_after: Duration::from_millis(600),
    grace: Duration::from_millis(50),
    max_unseen: 3,
};

/// What an in-test responder does with each datagram.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Serve it through the chain once, like the server itself.
    Serve,
    /// Serve it through the chain three times (the query came back twice), then answer.
    Loop,
    /// Answer NOERROR without the chain (another configuration answered).
    Bypass,
}

/// A UDP responder on 127.0.0.1 serving through `chain`; returns its address and a count
/// of datagrams received.
async fn responder(chain: Chain, how: Behaviour) -> (SocketAddr, Arc<AtomicUsize>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let got = Arc::new(AtomicUsize::new(0));
    let counter = got.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let times = match how {
                Behaviour::Serve => 1,
                Behaviour::Loop => 3,
                Behaviour::Bypass => 0,
            };
            let mut req = Box::new(Request::from_query(&buf[..n], from, Proto::Udp).unwrap());
            let mut msg = req.reply_rcode(Rcode::NOERROR);
            for _ in 0..times {
                req = Box::new(Request::from_query(&buf[..n], from, Proto::Udp).unwrap());
                match chain.run(req) {
                    Served::Ready(r, result) => {
                        req = r;
                        msg = result.unwrap();
                    }
                    Served::Pending(_) => panic!("the stub chain answers at once"),
                }
            }
            let mut out = Vec::new();
            req.encode_reply(&msg, &mut out);
            let _ = sock.send_to(&out, from).await;
        }
    });
    (addr, got)
}

async fn probe_against(
    zone: &str,
    how: Option<Behaviour>,
) -> (Arc<Loop>, Arc<StubNext>, Arc<AtomicUsize>) {
    let (l, chain, next) = counting(zone);
    // Back to "probing": the service moves it on.
    l.phase.store(super::PROBING, Ordering::SeqCst);
    let (to, got) = match how {
        Some(how) => responder(chain, how).await,
        None => {
            // A port nobody listens on: every exchange is refused.
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            (s.local_addr().unwrap(), Arc::new(AtomicUsize::new(0)))
        }
    };
    let (tx, rx) = oneshot::channel();
    tx.send((to, to.to_string())).unwrap();
    let (shutdown, _trigger) = Shutdown::new();
    tokio::time::timeout(
        Duration::from_secs(5),
        probe::run(l.clone(), rx, shutdown, FAST),
    )
    .await
    .expect("the service ends by itself");
    (l, next, got)
}

#[tokio::test]
async fn an_answered_probe_ends_probing_without_a_loop() {
    let (l, next, got) = probe_against("answered.example.", Some(Behaviour::Serve)).await;
    assert_eq!(got.load(Ordering::SeqCst), 1, "one exchange was enough");
    assert_eq!(next.calls(), 1);
    assert!(!l.is_looping());
    assert!(!l.is_checking());
    assert_eq!(l.ready(), Some(true));
}

#[tokio::test]
async fn a_probe_that_comes_back_three_times_is_a_loop() {
    let zone = "looped.example.";
    let (l, next, got) = probe_against(zone, Some(Behaviour::Loop)).await;
    assert_eq!(got.load(Ordering::SeqCst), 1, "the service stops at once");
    assert_eq!(next.calls(), 2, "the third copy was not passed on");
    assert!(l.is_looping());
    assert_eq!(l.ready(), Some(false));
    assert!(metric_line("cairn_loop_detections_total", zone)
        .unwrap()
        .ends_with(" 1"));
}

#[tokio::test]
async fn replies_to_probes_the_plugin_never_saw_are_retried_a_few_times() {
    let (l, next, got) = probe_against("bypass.example.", Some(Behaviour::Bypass)).await;
    assert_eq!(got.load(Ordering::SeqCst), FAST.max_unseen as usize);
    assert_eq!(next.calls(), 0);
    assert!(!l.is_checking());
    assert_eq!(l.ready(), Some(true));
}

#[tokio::test]
async fn an_unreachable_listener_is_retried_until_the_deadline() {
    let started = tokio::time::Instant::now();
    let (l, _next, _got) = probe_against("unreachable.example.", None).await;
    assert!(started.elapsed() >= FAST.give_up_after);
    assert!(!l.is_checking());
    assert!(!l.is_looping());
    assert_eq!(l.ready(), Some(true));
}

#[tokio::test]
async fn no_listener_means_no_probe_and_shutdown_stops_the_wait() {
    let zone = name("nolistener.example.");
    let l = Arc::new(Loop::new(zone.clone(), probe::random_name(&zone).unwrap()));
    let (tx, rx) = oneshot::channel::<(SocketAddr, String)>();
    drop(tx);
    let (shutdown, _trigger) = Shutdown::new();
    probe::run(l.clone(), rx, shutdown, FAST).await;
    assert!(!l.is_checking());

    let l = Arc::new(Loop::new(zone.clone(), probe::random_name(&zone).unwrap()));
    let (_tx, rx) = oneshot::channel::<(SocketAddr, String)>();
    let (shutdown, trigger) = Shutdown::new();
    trigger.fire();
    tokio::time::timeout(
        Duration::from_secs(2),
        probe::run(l.clone(), rx, shutdown, FAST),
    )
    .await
    .expect("returns on shutdown");
    assert!(
        l.is_checking(),
        "untouched: the configuration is going away"
    );
}

#[test]
fn the_probe_query_is_hinfo_in_with_rd() {
    let n = name("1.2.example.org.");
    let got = probe::query_bytes(&n, 0xBEEF);
    let mut want = query_bytes("1.2.example.org.", RType::HINFO, CLASS_IN, None);
    want[0] = 0xBE;
    want[1] = 0xEF;
    assert_eq!(got, want);
}
