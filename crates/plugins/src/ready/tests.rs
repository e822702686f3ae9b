use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cairn_core::setup::{HttpHandler, HttpResponse, Readiness};
use cairn_core::testing::setup;
use cairn_core::{Next, Plugin, Request, Served};

use super::{Monitor, ReadyPage};
use crate::health::tests::setup_blocks;
use crate::registry::spec;

/// A plugin whose readiness the test switches.
struct Flag {
    name: &'static str,
    ready: AtomicBool,
}

impl Flag {
    fn new(name: &'static str, ready: bool) -> Arc<Flag> {
        Arc::new(Flag {
            name,
            ready: AtomicBool::new(ready),
        })
    }
    fn set(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}

impl Plugin for Flag {
    fn name(&self) -> &'static str {
        self.name
    }
    fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a> {
        next.run(req)
    }
    fn ready(&self) -> Option<bool> {
        Some(self.ready.load(Ordering::SeqCst))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn status(page: &ReadyPage) -> (u16, String) {
    let HttpResponse { status, body, .. } = page.get();
    (status, body)
}

fn ok() -> (u16, String) {
    (200, "OK".to_string())
}

fn not_ready(list: &str) -> (u16, String) {
    (503, list.to_string())
}

#[test]
fn nothing_to_wait_for_is_ready() {
    let s = setup(spec("ready"), ". {\n ready\n}", None).unwrap();
    assert!(s.plugins.is_empty(), "ready is no query handler");
    let route = &s.parts.http[0];
    assert_eq!((route.addr.as_str(), route.path), (":8181", "/ready"));
    let resp = route.handler.get();
    assert_eq!(
        resp,
        HttpResponse {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: "OK".into()
        }
    );
}

#[test]
fn registered_route_reports_the_instance() {
    let s = setup(spec("ready"), ". {\n ready 127.0.0.1:0\n}", None).unwrap();
    let k8s = Flag::new("kubernetes", false);
    s.parts.readiness.register(k8s.clone());
    let route = &s.parts.http[0];
    assert_eq!(route.addr, "127.0.0.1:0");
    let resp = route.handler.get();
    assert_eq!((resp.status, resp.body.as_str()), (503, "kubernetes"));
    k8s.set(true);
    assert_eq!(route.handler.get().status, 200);
}

#[test]
fn until_ready_latches_each_plugin() {
    let readiness = Arc::new(Readiness::default());
    let k8s = Flag::new("kubernetes", false);
    let erratic = Flag::new("erratic", true);
    let zeta = Flag::new("zeta", false);
    for p in [&k8s, &erratic, &zeta] {
        readiness.register(p.clone());
    }
    let page = ReadyPage::new(readiness, Monitor::UntilReady);
    assert_eq!(status(&page), not_ready("kubernetes,zeta"));
    // erratic was ready at the first probe: it is never asked again.
    erratic.set(false);
    assert_eq!(status(&page), not_ready("kubernetes,zeta"));
    k8s.set(true);
    assert_eq!(status(&page), not_ready("zeta"));
    k8s.set(false);
    assert_eq!(status(&page), not_ready("zeta"));
    zeta.set(true);
    assert_eq!(status(&page), ok());
    zeta.set(false);
    assert_eq!(status(&page), ok(), "never flips back");
}

#[test]
fn continuously_asks_every_time() {
    let readiness = Arc::new(Readiness::default());
    let k8s = Flag::new("kubernetes", false);
    let erratic = Flag::new("erratic", false);
    readiness.register(k8s.clone());
    readiness.register(erratic.clone());
    let page = ReadyPage::new(readiness, Monitor::Continuously);
    assert_eq!(status(&page), not_ready("erratic,kubernetes"));
    k8s.set(true);
    erratic.set(true);
    assert_eq!(status(&page), ok());
    k8s.set(false);
    assert_eq!(status(&page), not_ready("kubernetes"));
}

#[test]
fn shutting_down_is_unavailable() {
    let readiness = Arc::new(Readiness::default());
    let page = ReadyPage::new(readiness.clone(), Monitor::UntilReady);
    assert_eq!(status(&page), ok());
    readiness.set_shutting_down();
    assert_eq!(status(&page), not_ready("Shutting down"));
}

#[test]
fn monitor_option_is_used() {
    let s = setup(
        spec("ready"),
        ". {\n ready :0 {\n  monitor continuously\n }\n}",
        None,
    )
    .unwrap();
    let k8s = Flag::new("kubernetes", true);
    s.parts.readiness.register(k8s.clone());
    let h = &s.parts.http[0].handler;
    assert_eq!(h.get().status, 200);
    k8s.set(false);
    assert_eq!(h.get().status, 503);

    let s = setup(
        spec("ready"),
        ". {\n ready :0 {\n  monitor until-ready\n }\n}",
        None,
    )
    .unwrap();
    let k8s = Flag::new("kubernetes", true);
    s.parts.readiness.register(k8s.clone());
    let h = &s.parts.http[0].handler;
    assert_eq!(h.get().status, 200);
    k8s.set(false);
    assert_eq!(h.get().status, 200);
}

#[test]
fn same_address_in_two_blocks_is_served_once() {
    let (parts, _) = setup_blocks(
        "ready",
        "a.org {\n ready\n}\nb.org {\n ready\n}\nc.org {\n ready :8182\n}",
    )
    .unwrap();
    let got: Vec<_> = parts
        .http
        .iter()
        .map(|r| (r.addr.as_str(), r.path))
        .collect();
    assert_eq!(got, vec![(":8181", "/ready"), (":8182", "/ready")]);
}

#[test]
fn setup_errors_name_file_and_line() {
    for (corefile, line, contains) in [
        (". {\n ready localhost\n}", 2, "missing port in address"),
        (". {\n ready :8181 :8182\n}", 2, "Wrong argument count"),
        (
            ". {\n ready {\n  monitor sometimes\n }\n}",
            3,
            "monitor type 'sometimes' not supported",
        ),
        (". {\n ready {\n  monitor\n }\n}", 3, "Wrong argument count"),
        (
            ". {\n ready {\n  other\n }\n}",
            3,
            "unknown property 'other'",
        ),
        (
            ". {\n ready\n ready :8182\n}",
            3,
            "can only be used once per Server Block",
        ),
    ] {
        let err = setup(spec("ready"), corefile, None).err().unwrap();
        assert_eq!(err.line, line, "{corefile}: {err}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("Corefile:{line} - Error during parsing:")),
            "{text}"
        );
        assert!(text.contains(contains), "{corefile}: {text}");
    }
}
