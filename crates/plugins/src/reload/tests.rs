use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_core::config_source::{ConfigSource, ReloadError, ReloadOutcome, ReloadRequests};
use cairn_core::setup::{BlockInfo, BlockSettings, InstanceParts, SetupCtx, Shutdown};
use cairn_core::testing::setup as setup_one;
use cairn_corefile::{Corefile, ParseOptions};

use super::metrics::Metrics;
use super::setup::{DEFAULT_INTERVAL, DEFAULT_JITTER};
use super::{parse, sha512_hex, Check, ReloadConfig, Watcher};
use crate::registry::spec;

fn corefile(text: &str) -> Corefile {
    cairn_corefile::parse("Corefile", text, &ParseOptions::new(&["reload", "whoami"]))
        .expect("test Corefile parses")
}

fn parsed(line: &str) -> Result<ReloadConfig, String> {
    let cf = corefile(&format!(". {{\n    {line}\n}}\n"));
    parse(&cf.blocks[0].directives[0]).map_err(|e| e.to_string())
}

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn options_defaults_minimums_and_the_jitter_cap() {
    let ok = [
        ("reload", DEFAULT_INTERVAL, DEFAULT_JITTER),
        ("reload 10s", S(10), S(5)),
        ("reload 10s 1s", S(10), S(1)),
        ("reload 5s 0", S(5), S(0)),
        ("reload 5s 0s", S(5), S(0)),
        ("reload 2s", S(2), S(1)),
        ("reload 1m 10s", S(60), S(10)),
        ("reload 3s 1500ms", S(3), Duration::from_millis(1500)),
        ("reload 4s 1h", S(4), S(2)),
    ];
    for (line, interval, jitter) in ok {
        assert_eq!(
            parsed(line),
            Ok(ReloadConfig { interval, jitter }),
            "{line}"
        );
    }
}

#[test]
fn bad_options_are_located_errors() {
    let bad = [
        (
            "reload 1s",
            "plugin/reload: interval value must be greater or equal to 2s",
        ),
        (
            "reload -5s",
            "plugin/reload: interval value must be greater or equal to 2s",
        ),
        ("reload 0", "plugin/reload: interval value must be greater"),
        (
            "reload 10s 500ms",
            "plugin/reload: jitter value must be 0 or greater or equal to 1s",
        ),
        ("reload 10s -1s", "plugin/reload: jitter value must be 0"),
        (
            "reload abc",
            "plugin/reload: time: invalid duration \"abc\"",
        ),
        ("reload 10", "plugin/reload: time: missing unit in duration"),
        ("reload 10s xyz", "plugin/reload: time: invalid duration"),
        (
            "reload 10s 5s 1s",
            "plugin/reload: Wrong argument count or unexpected line ending after '1s'",
        ),
        (
            "reload {\n        every 5s\n    }",
            "unknown property 'every'",
        ),
    ];
    for (line, want) in bad {
        let err = parsed(line).expect_err(line);
        // The line of the offending token: the directive's, or the block line's.
        let at = if line.contains('\n') { 3 } else { 2 };
        let prefix = format!("Corefile:{at} - Error during parsing: ");
        assert!(err.starts_with(&prefix), "{line}: {err}");
        assert!(err.contains(want), "{line}: {err}");
    }
}

#[test]
fn the_period_stays_within_half_the_jitter_of_the_interval() {
    let c = ReloadConfig {
        interval: S(10),
        jitter: S(4),
    };
    let (low, high) = (S(8), S(12));
    let mut seen_low = false;
    let mut seen_high = false;
    for r in (0..4_000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) {
        let p = c.period(r);
        assert!(p >= low && p < high, "{p:?}");
        seen_low |= p < S(9);
        seen_high |= p > S(11);
    }
    assert!(seen_low && seen_high, "offsets cover both sides");
    assert_eq!(c.period(0), S(8));
    assert_eq!(c.period(2_000_000_000), S(10));
    assert_eq!(
        c.period(4_000_000_000 + 3_999_999_999),
        S(12) - Duration::from_nanos(1)
    );
    let fixed = ReloadConfig {
        interval: S(10),
        jitter: S(0),
    };
    assert_eq!(fixed.period(12345), S(10));
}

#[test]
fn once_per_block() {
    let err = setup_one(spec("reload"), ". {\n reload\n reload 5s\n}", None)
        .err()
        .expect("two lines are refused");
    assert_eq!(err.line, 3);
    assert!(err.message.contains("only be used once"), "{err}");
}

#[test]
fn alone_it_adds_no_handler_and_no_service() {
    let s = setup_one(spec("reload"), ". {\n reload\n}", None).unwrap();
    assert!(s.plugins.is_empty());
    assert!(s.parts.services.is_empty());
    let text = cairn_core::metrics::registry().encode();
    assert!(text.contains("coredns_reload_failed_total "), "{text}");
    assert!(
        text.contains("# TYPE coredns_reload_version_info gauge"),
        "{text}"
    );
}

#[test]
fn the_hash_ignores_layout_and_sees_every_token() {
    let base = sha512_hex(&corefile(". {\n    reload 5s\n    whoami\n}\n"));
    assert_eq!(base.len(), 128);
    assert!(base
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let same = sha512_hex(&corefile(
        "# comment\n.   {\n\n  reload   \"5s\"   # why\n\twhoami\n}",
    ));
    assert_eq!(base, same);
    for other in [
        ". {\n reload 6s\n whoami\n}",
        ". {\n whoami\n reload 5s\n}",
        ".:53 {\n reload 5s\n whoami\n}",
        ". {\n reload 5s\n whoami {\n }\n}",
        ". {\n reload 5s\n}\n. {\n whoami\n}",
    ] {
        assert_ne!(sha512_hex(&corefile(other)), base, "{other}");
    }
    // A known value: SHA-512 of the canonical form of an empty Corefile (a zero count).
    assert_eq!(
        sha512_hex(&corefile("")),
        super::fingerprint::hex(ring::digest::digest(&ring::digest::SHA512, &[0u8; 8]).as_ref())
    );
    assert_eq!(super::fingerprint::hex(&[0x00, 0x9f, 0xff]), "009fff");
}

/// A source whose loader returns whatever `text` holds (Err for `Err`).
fn source_of(
    text: Arc<Mutex<Result<String, String>>>,
    path: Option<PathBuf>,
) -> (ConfigSource, ReloadRequests) {
    ConfigSource::new(path, move || {
        let t = text.lock().unwrap().clone()?;
        cairn_corefile::parse("Corefile", &t, &ParseOptions::new(&["reload", "whoami"]))
            .map_err(|e| e.to_string())
    })
}

/// Sets `reload` up in every block of `text` the way the server does.
fn setup_all(text: &str, source: Option<ConfigSource>) -> InstanceParts {
    let cf = corefile(text);
    let mut parts = InstanceParts::default();
    for (index, block) in cf.blocks.iter().enumerate() {
        let directives: Vec<_> = block
            .directives
            .iter()
            .filter(|d| d.name.text == "reload")
            .cloned()
            .collect();
        if directives.is_empty() {
            continue;
        }
        let info = BlockInfo {
            index,
            keys: Vec::new(),
            zones: Vec::new(),
            port: 53,
        };
        let mut settings = BlockSettings::default();
        let mut handlers = Vec::new();
        let mut ctx = SetupCtx::new(
            &directives,
            &info,
            &mut settings,
            PathBuf::from("."),
            &mut handlers,
            &mut parts,
        )
        .with_corefile(&cf)
        .with_source(source.clone());
        super::setup(&mut ctx).expect("setup");
        assert!(handlers.is_empty());
    }
    parts
}

#[test]
fn one_watcher_per_instance_and_only_with_a_watchable_source() {
    let text = Arc::new(Mutex::new(Ok(String::new())));
    let two_blocks = "a {\n reload 5s\n}\nb {\n reload 10s\n whoami\n}\nc {\n whoami\n}";
    let (src, _requests) = source_of(text.clone(), Some(PathBuf::from("Corefile")));
    let parts = setup_all(two_blocks, Some(src));
    assert_eq!(parts.services.len(), 1);
    assert_eq!(parts.installed_hooks.len(), 1);

    // Standard input cannot be read again; no source at all (validation): no watcher.
    let (stdin, _requests) = source_of(text, None);
    for source in [Some(stdin), None] {
        let parts = setup_all(two_blocks, source);
        assert!(parts.services.is_empty());
        assert_eq!(parts.installed_hooks.len(), 1);
    }
}

#[test]
fn the_installed_hook_publishes_the_running_hash() {
    let text = ". {\n reload 3s\n whoami\n}";
    let (src, _requests) = source_of(Arc::new(Mutex::new(Ok(String::new()))), Some("C".into()));
    let parts = setup_all(text, Some(src));
    for (_, hook) in parts.installed_hooks {
        hook(&[]);
    }
    let hash = sha512_hex(&corefile(text));
    let exposition = cairn_core::metrics::registry().encode();
    assert!(
        exposition.contains(&format!(
            "coredns_reload_version_info{{hash=\"sha512\",value=\"{hash}\"}} 1\n"
        )),
        "{exposition}"
    );
    assert_eq!(
        exposition.matches("coredns_reload_version_info{").count(),
        1,
        "one series: {exposition}"
    );
}

#[test]
fn checks_skip_what_was_already_seen() {
    let (src, _requests) = source_of(Arc::new(Mutex::new(Ok(String::new()))), None);
    let mut w = Watcher::new(src, S(2), "d".into(), "running".into(), Metrics::detached());
    assert_eq!(w.check(Ok("running".into())), Check::Unchanged);
    assert_eq!(w.check(Ok("new".into())), Check::Changed("new".into()));
    // Tried (and, say, failed): not again until the text changes.
    assert_eq!(w.check(Ok("new".into())), Check::Unchanged);
    assert_eq!(w.check(Err("syntax".into())), Check::Broken);
    assert_eq!(w.check(Err("syntax".into())), Check::Unchanged);
    assert_eq!(w.check(Err("other".into())), Check::Broken);
    // Back to the running configuration: nothing to apply.
    assert_eq!(w.check(Ok("running".into())), Check::Unchanged);
    assert_eq!(w.check(Ok("new".into())), Check::Changed("new".into()));
}

async fn wait_for_request(
    requests: &mut ReloadRequests,
) -> cairn_core::config_source::ReloadRequest {
    tokio::time::timeout(Duration::from_secs(5), requests.recv())
        .await
        .expect("a reload request in time")
        .expect("the source is alive")
}

#[tokio::test]
async fn the_watcher_asks_once_per_change_counts_failures_and_stops_when_replaced() {
    let running = ". {\n reload 2s\n whoami\n}";
    let text = Arc::new(Mutex::new(Ok(running.to_string())));
    let (src, mut requests) = source_of(text.clone(), Some(PathBuf::from("Corefile")));
    let metrics = Metrics::detached();
    let failed_before = metrics.failed.get();
    let cf = corefile(running);
    let watcher = Watcher::new(
        src,
        Duration::from_millis(20),
        cf.digest_hex(),
        sha512_hex(&cf),
        metrics.clone(),
    );
    let (shutdown, trigger) = Shutdown::new();
    let task = tokio::spawn(watcher.run(shutdown));

    // Unchanged for a while: no request.
    assert!(
        tokio::time::timeout(Duration::from_millis(150), requests.recv())
            .await
            .is_err(),
        "no request while nothing changed"
    );

    // A change that fails to apply: one request, counted once, not retried.
    *text.lock().unwrap() = Ok(". {\n reload 2s\n whoami\n whoami\n}".into());
    let req = wait_for_request(&mut requests).await;
    assert_eq!(req.from_digest(), cf.digest_hex());
    req.respond(Err(ReloadError::Failed("bad plugin option".into())));
    assert!(
        tokio::time::timeout(Duration::from_millis(150), requests.recv())
            .await
            .is_err(),
        "a failed configuration is not tried again"
    );
    assert_eq!(metrics.failed.get() - failed_before, 1);

    // A syntax error is counted once as well, and never asked for.
    // (A read that fails is tried again 250 ms later before it counts.)
    *text.lock().unwrap() = Ok(". {\n reload 2s\n".into());
    assert!(
        tokio::time::timeout(Duration::from_millis(1000), requests.recv())
            .await
            .is_err(),
        "an unparsable Corefile is not sent for reload"
    );
    assert_eq!(metrics.failed.get() - failed_before, 2);

    // A good change: requested; the reload replaces the instance (shutdown) and the watcher ends.
    *text.lock().unwrap() = Ok(". {\n reload 3s\n whoami\n}".into());
    let req = wait_for_request(&mut requests).await;
    trigger.fire();
    req.respond(Ok(ReloadOutcome::Reloaded));
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the watcher stops")
        .unwrap();
    assert_eq!(metrics.failed.get() - failed_before, 2);
}

#[tokio::test]
async fn the_watcher_stops_at_shutdown_even_while_a_request_waits() {
    let text = Arc::new(Mutex::new(Ok(". {\n whoami\n}".to_string())));
    let (src, mut requests) = source_of(text, Some(PathBuf::from("Corefile")));
    let watcher = Watcher::new(
        src,
        Duration::from_millis(20),
        "d".into(),
        "something else".into(),
        Metrics::detached(),
    );
    let (shutdown, trigger) = Shutdown::new();
    let task = tokio::spawn(watcher.run(shutdown));
    // The request is taken but never answered (the owner is busy shutting down).
    let _pending = wait_for_request(&mut requests).await;
    trigger.fire();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("the watcher stops without an answer")
        .unwrap();
}

#[tokio::test]
async fn a_corefile_caught_mid_write_is_read_again_before_it_counts() {
    let running = ". {\n reload 2s\n whoami\n}";
    let cf = corefile(running);
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = reads.clone();
    // The first read sees half a file; every later one the whole (unchanged) file.
    let (src, mut requests) = ConfigSource::new(Some(PathBuf::from("Corefile")), move || {
        let text = if counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            ". {\n reload 2s\n"
        } else {
            running
        };
        cairn_corefile::parse("Corefile", text, &ParseOptions::new(&["reload", "whoami"]))
            .map_err(|e| e.to_string())
    });
    let metrics = Metrics::detached();
    let watcher = Watcher::new(
        src,
        Duration::from_millis(20),
        cf.digest_hex(),
        sha512_hex(&cf),
        metrics.clone(),
    );
    let (shutdown, trigger) = Shutdown::new();
    let task = tokio::spawn(watcher.run(shutdown));
    assert!(
        tokio::time::timeout(Duration::from_millis(600), requests.recv())
            .await
            .is_err(),
        "nothing changed, nothing to reload"
    );
    assert!(reads.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    assert_eq!(
        metrics.failed.get(),
        0,
        "the half-written read is not a failure"
    );
    trigger.fire();
    task.await.unwrap();
}
