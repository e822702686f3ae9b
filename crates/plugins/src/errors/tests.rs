use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use cairn_core::log::Level;
use cairn_core::setup::Shutdown;
use cairn_core::testing::{query, run, setup, StubNext};
use cairn_core::wire::{RType, Rcode};
use cairn_core::{Chain, Next, Plugin, PluginError, Request, Served};

use super::consolidate::Consolidation;
use super::setup::parse;
use super::Errors;
use crate::registry::spec;

thread_local! {
    static CAPTURED: RefCell<Option<Vec<(Level, String)>>> = const { RefCell::new(None) };
}

/// Takes a line meant for the log when a test is capturing on this thread.
pub(super) fn capture(level: Level, args: fmt::Arguments<'_>) -> bool {
    CAPTURED.with(|c| match c.borrow_mut().as_mut() {
        Some(lines) => {
            lines.push((level, args.to_string()));
            true
        }
        None => false,
    })
}

/// Runs `f` and returns the lines it logged.
fn captured(f: impl FnOnce()) -> Vec<(Level, String)> {
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    f();
    CAPTURED.with(|c| c.borrow_mut().take().unwrap_or_default())
}

/// A last plugin that fails with a fixed message.
struct Fail(&'static str);

impl Plugin for Fail {
    fn name(&self) -> &'static str {
        "forward"
    }
    fn serve<'a>(&'a self, req: Box<Request>, _next: Next<'a>) -> Served<'a> {
        Served::error(req, PluginError::failed("forward", self.0))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn chain(corefile: &str, last: Option<Arc<dyn Plugin>>) -> Chain {
    let s = setup(spec("errors"), corefile, None).unwrap();
    match last {
        Some(p) => s.chain_with(p),
        None => Chain::new(s.plugins.clone()),
    }
}

const TIMEOUT: &str = "read udp 10.0.0.1:53->8.8.8.8:53: i/o timeout";

#[test]
fn logs_errors_and_passes_results_on() {
    let with_fail = chain("example.org {\n errors\n}", Some(Arc::new(Fail(TIMEOUT))));
    let alone = chain("example.org {\n errors\n}", None);
    let ok = StubNext::new(Rcode::NXDOMAIN);
    let with_ok = chain("example.org {\n errors\n}", Some(ok.clone()));
    for (chain, name, qtype, want_err, want_lines) in [
        (
            &with_fail,
            "Www.Example.ORG.",
            RType::A,
            Some("plugin/forward: read udp 10.0.0.1:53->8.8.8.8:53: i/o timeout"),
            vec!["2 www.example.org. A: plugin/forward: read udp 10.0.0.1:53->8.8.8.8:53: i/o timeout"],
        ),
        (
            &with_fail,
            "example.org.",
            RType(65280),
            Some("plugin/forward: read udp 10.0.0.1:53->8.8.8.8:53: i/o timeout"),
            vec!["2 example.org. TYPE65280: plugin/forward: read udp 10.0.0.1:53->8.8.8.8:53: i/o timeout"],
        ),
        (
            &alone,
            "example.org.",
            RType::MX,
            Some("plugin/errors: no next plugin found"),
            vec!["2 example.org. MX: plugin/errors: no next plugin found"],
        ),
        (&with_ok, "example.org.", RType::A, None, vec![]),
    ] {
        let mut out = None;
        let lines = captured(|| out = Some(run(chain, query(name, qtype))));
        let (_, result) = out.unwrap();
        match (want_err, result) {
            (Some(want), Err(e)) => assert_eq!(e.to_string(), want),
            (None, Ok(m)) => assert_eq!(m.rcode, Rcode::NXDOMAIN, "reply passed unchanged"),
            (w, r) => panic!("{name}: want error {w:?}, got {r:?}"),
        }
        let want: Vec<(Level, String)> = want_lines
            .into_iter()
            .map(|l| (Level::Error, l.to_string()))
            .collect();
        assert_eq!(lines, want, "{name}");
    }
    assert_eq!(ok.calls(), 1);
}

#[test]
fn consolidates_matching_errors() {
    let patterns = parse(&directives(
        "errors {\n consolidate 30s \".* i/o timeout$\" warning\n consolidate 5m \"^plugin/forward\"\n}",
    ))
    .unwrap();
    let errors = Errors::new(Arc::new(patterns));
    let fail_chain = |msg: &'static str| Chain::new(vec![Arc::new(Fail(msg))]);
    let timeouts = fail_chain(TIMEOUT);
    let other = fail_chain("no upstream");
    let lines = captured(|| {
        for c in [&timeouts, &timeouts, &timeouts, &other] {
            let served = errors.serve(query("example.org.", RType::A), c.as_next());
            let Served::Ready(_, result) = served else {
                panic!("ready")
            };
            assert!(result.is_err(), "errors never changes the result");
        }
    });
    // Timeouts match the first pattern (counted), "no upstream" the second (counted too).
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(
        errors.patterns.take_summary(0),
        Some((
            Some(Level::Warning),
            "3 errors like '.* i/o timeout$' occurred in last 30s".to_string()
        ))
    );
    assert_eq!(
        errors.patterns.take_summary(1),
        Some((
            Some(Level::Error),
            "1 errors like '^plugin/forward' occurred in last 5m0s".to_string()
        ))
    );
    assert_eq!(errors.patterns.take_summary(0), None, "count was reset");
    assert_eq!(
        errors.patterns.record("something else"),
        Consolidation::NoMatch
    );
}

#[test]
fn show_first_logs_the_first_at_once() {
    let patterns = parse(&directives(
        "errors {\n consolidate 1m timeout info show_first\n}",
    ))
    .unwrap();
    assert_eq!(
        patterns.record("a timeout"),
        Consolidation::LogAt(Some(Level::Info))
    );
    assert_eq!(
        patterns.take_summary(0),
        None,
        "one error: already logged, no summary"
    );
    assert_eq!(
        patterns.record("a timeout"),
        Consolidation::LogAt(Some(Level::Info))
    );
    assert_eq!(patterns.record("b timeout"), Consolidation::Counted);
    assert_eq!(patterns.record("c timeout"), Consolidation::Counted);
    assert_eq!(
        patterns.take_summary(0),
        Some((
            Some(Level::Info),
            "3 errors like 'timeout' occurred in last 1m0s".to_string()
        ))
    );

    let errors = Errors::new(Arc::new(
        parse(&directives(
            "errors {\n consolidate 1m timeout warning show_first\n}",
        ))
        .unwrap(),
    ));
    let c = Chain::new(vec![Arc::new(Fail(TIMEOUT))]);
    let lines = captured(|| {
        for _ in 0..2 {
            let _ = errors.serve(query("example.org.", RType::AAAA), c.as_next());
        }
    });
    assert_eq!(
        lines,
        vec![(
            Level::Warning,
            "2 example.org. AAAA: plugin/forward: read udp 10.0.0.1:53->8.8.8.8:53: i/o timeout"
                .to_string()
        )]
    );
}

#[test]
fn flush_service_writes_summaries_and_stops() {
    let patterns = Arc::new(
        parse(&directives(
            "errors {\n consolidate 20ms ^a warning\n consolidate 1h ^b\n}",
        ))
        .unwrap(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let lines = captured(|| {
        rt.block_on(async {
            let (shutdown, trigger) = Shutdown::new();
            let service = tokio::spawn(patterns.clone().run(shutdown));
            for _ in 0..2 {
                assert_eq!(patterns.record("a1"), Consolidation::Counted);
            }
            assert_eq!(patterns.record("b1"), Consolidation::Counted);
            // Wait for the 20ms window to close (the 1h one does not).
            let mut waited = Duration::ZERO;
            while CAPTURED.with(|c| c.borrow().as_ref().map_or(0, Vec::len)) == 0 {
                assert!(waited < Duration::from_secs(10), "no summary written");
                tokio::time::sleep(Duration::from_millis(10)).await;
                waited += Duration::from_millis(10);
            }
            assert_eq!(patterns.record("a2"), Consolidation::Counted);
            trigger.fire();
            service.await.unwrap();
            // After shutdown errors are logged directly, at their pattern's level.
            assert_eq!(
                patterns.record("b2"),
                Consolidation::LogAt(Some(Level::Error))
            );
        });
    });
    assert_eq!(
        lines,
        vec![
            (
                Level::Warning,
                "2 errors like '^a' occurred in last 20ms".to_string()
            ),
            (
                Level::Warning,
                "1 errors like '^a' occurred in last 20ms".to_string()
            ),
            (
                Level::Error,
                "1 errors like '^b' occurred in last 1h0m0s".to_string()
            ),
        ]
    );
}

#[test]
fn setup_registers_the_service_only_with_consolidate() {
    let s = setup(spec("errors"), "example.org {\n errors\n}", None).unwrap();
    assert_eq!(s.plugins.len(), 1);
    assert!(s.parts.services.is_empty());
    let s = setup(
        spec("errors"),
        "example.org {\n errors {\n  stacktrace\n  consolidate 5m \".* i/o timeout$\" warning show_first\n }\n}",
        None,
    )
    .unwrap();
    assert_eq!(s.parts.services.len(), 1);
    assert_eq!(s.parts.services[0].name, "errors");
}

#[test]
fn setup_errors() {
    for (body, line, msg) in [
        ("errors stderr", 2, "invalid log file: stderr"),
        (
            "errors a b",
            2,
            "Wrong argument count or unexpected line ending after 'b'",
        ),
        (
            "errors {\n  unknown\n }",
            3,
            "Syntax error: Unexpected token 'unknown', expecting 'Unknown field unknown'",
        ),
        (
            "errors {\n  consolidate 1m\n }",
            3,
            "Wrong argument count or unexpected line ending after '1m'",
        ),
        (
            "errors {\n  consolidate 1m a error show_first extra\n }",
            3,
            "Wrong argument count or unexpected line ending after 'extra'",
        ),
        (
            "errors {\n  consolidate 1 ^a\n }",
            3,
            "time: missing unit in duration \"1\"",
        ),
        (
            "errors {\n  consolidate 1m ^a fatal\n }",
            3,
            "unknown option in consolidate: fatal",
        ),
        (
            "errors {\n  consolidate 1m ^a info warning\n }",
            3,
            "multiple log levels specified in consolidate",
        ),
        (
            "errors {\n  consolidate 1m ^a show_first info\n }",
            3,
            "log level must come before show_first in consolidate",
        ),
        (
            "errors\n errors",
            3,
            "this plugin can only be used once per Server Block",
        ),
    ] {
        let text = format!("example.org {{\n {body}\n}}");
        let err = setup(spec("errors"), &text, None).err().expect(body);
        assert_eq!(err.line, line, "{body}: {err}");
        assert_eq!(err.message, msg, "{body}");
    }
    let long = format!(
        "example.org {{\n errors {{\n  consolidate 1m {}\n }}\n}}",
        "a".repeat(10_001)
    );
    let err = setup(spec("errors"), &long, None).err().unwrap();
    assert_eq!(err.message, "regex pattern too long: 10001 > 10000");
    let bad = "example.org {\n errors {\n  consolidate 1m \"(\"\n }\n}";
    let err = setup(spec("errors"), bad, None).err().unwrap();
    assert_eq!(err.line, 3);
    assert!(err.message.contains("unclosed group"), "{}", err.message);
}

/// The `errors` directive lines of a one-block Corefile body.
fn directives(body: &str) -> Vec<cairn_corefile::Directive> {
    let text = format!("example.org {{\n{body}\n}}");
    let names = ["errors"];
    let cf = cairn_corefile::parse(
        "Corefile",
        &text,
        &cairn_corefile::ParseOptions::new(&names),
    )
    .unwrap();
    cf.blocks[0].directives.clone()
}
