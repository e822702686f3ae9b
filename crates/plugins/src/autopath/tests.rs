use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cairn_core::testing::{query_from, run, setup};
use cairn_core::wire::{Message, Name, RData, RType, Rcode, Record};
use cairn_core::{AutoPather, Chain, Next, Plugin, Proto, Request, Served};

use super::setup::search_domains;
use super::{AutoPath, SearchSource};
use crate::registry::spec;

fn name(s: &str) -> Name {
    Name::parse(s, None).unwrap()
}

/// Gives clients from 10.0.0.1 the search path of namespace ns1; nobody else has one.
struct FakeCluster;

impl AutoPather for FakeCluster {
    fn search_path(&self, req: &Request) -> Option<Arc<[Name]>> {
        (req.client.ip().to_string() == "10.0.0.1").then(|| {
            vec![
                name("ns1.svc.cluster.local."),
                name("svc.cluster.local."),
                name("cluster.local."),
                Name::root(),
            ]
            .into()
        })
    }
}

impl Plugin for FakeCluster {
    fn name(&self) -> &'static str {
        "kubernetes"
    }
    fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a> {
        next.run(req)
    }
    fn auto_pather(&self) -> Option<&dyn AutoPather> {
        Some(self)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Knows a few names (A 192.0.2.1); NXDOMAIN for the rest. Counts the queries it sees.
struct Names {
    known: Vec<&'static str>,
    calls: AtomicUsize,
}

impl Plugin for Names {
    fn name(&self) -> &'static str {
        "names"
    }
    fn serve<'a>(&'a self, mut req: Box<Request>, _next: Next<'a>) -> Served<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let asked = req.qname_lower.to_string();
        let mut m = req.reply();
        if self.known.contains(&asked.as_str()) {
            m.answer.push(Record::new(
                req.qname(),
                30,
                RData::A([192, 0, 2, 1].into()),
            ));
        } else {
            m.rcode = Rcode::NXDOMAIN;
        }
        Served::reply(req, m)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn backend() -> Arc<Names> {
    Arc::new(Names {
        known: vec![
            "example.com.",
            "svc-a.ns1.svc.cluster.local.",
            "svc-b.svc.cluster.local.",
        ],
        calls: AtomicUsize::new(0),
    })
}

fn chain(source: SearchSource, names: Arc<Names>) -> Chain {
    Chain::new(vec![
        Arc::new(AutoPath::new(vec![Name::root()], source)),
        Arc::new(FakeCluster),
        names,
    ])
}

fn ask(c: &Chain, qname: &str, client: &str) -> (Box<Request>, Message) {
    let req = query_from(
        qname,
        RType::A,
        client.parse::<SocketAddr>().unwrap(),
        Proto::Udp,
    );
    let (req, result) = run(c, req);
    (req, result.expect("a reply"))
}

fn answer_lines(m: &Message) -> Vec<String> {
    m.answer.iter().map(|r| r.to_string()).collect()
}

#[test]
fn external_name_is_found_behind_a_cname_from_the_name_asked() {
    let names = backend();
    let c = chain(SearchSource::Plugin("kubernetes".into()), names.clone());
    let (req, m) = ask(&c, "Example.COM.ns1.svc.cluster.local.", "10.0.0.1:5000");
    assert_eq!(m.rcode, Rcode::NOERROR);
    assert_eq!(
        answer_lines(&m),
        [
            "Example.COM.ns1.svc.cluster.local.\t30\tIN\tCNAME\tExample.COM.",
            "Example.COM.\t30\tIN\tA\t192.0.2.1",
        ]
    );
    // The question goes back to the name asked.
    assert_eq!(
        req.qname().to_string(),
        "Example.COM.ns1.svc.cluster.local."
    );
    // ns1.svc, svc, cluster.local, then the bare name.
    assert_eq!(names.calls.load(Ordering::SeqCst), 4);
}

#[test]
fn a_name_found_at_the_first_step_has_no_cname() {
    let c = chain(SearchSource::Plugin("kubernetes".into()), backend());
    let (_, m) = ask(&c, "svc-a.ns1.svc.cluster.local.", "10.0.0.1:5000");
    assert_eq!(
        answer_lines(&m),
        ["svc-a.ns1.svc.cluster.local.\t30\tIN\tA\t192.0.2.1"]
    );
    let (_, m) = ask(&c, "svc-b.ns1.svc.cluster.local.", "10.0.0.1:5000");
    assert_eq!(
        answer_lines(&m),
        [
            "svc-b.ns1.svc.cluster.local.\t30\tIN\tCNAME\tsvc-b.svc.cluster.local.",
            "svc-b.svc.cluster.local.\t30\tIN\tA\t192.0.2.1",
        ]
    );
}

#[test]
fn when_nothing_exists_the_first_answer_is_returned() {
    let names = backend();
    let c = chain(SearchSource::Plugin("kubernetes".into()), names.clone());
    let (req, m) = ask(&c, "nothing.ns1.svc.cluster.local.", "10.0.0.1:5000");
    assert_eq!(m.rcode, Rcode::NXDOMAIN);
    assert!(m.answer.is_empty());
    assert_eq!(req.qname().to_string(), "nothing.ns1.svc.cluster.local.");
    assert_eq!(names.calls.load(Ordering::SeqCst), 4);
}

#[test]
fn no_walk_without_a_search_path_or_outside_it() {
    let names = backend();
    let c = chain(SearchSource::Plugin("kubernetes".into()), names.clone());
    // Unknown client: one query, passed through.
    let (_, m) = ask(&c, "example.com.ns1.svc.cluster.local.", "10.0.0.2:5000");
    assert_eq!(m.rcode, Rcode::NXDOMAIN);
    assert_eq!(names.calls.load(Ordering::SeqCst), 1);
    // A name not below the first search domain: passed through.
    let (_, m) = ask(&c, "example.com.", "10.0.0.1:5000");
    assert_eq!(m.answer.len(), 1);
    assert_eq!(names.calls.load(Ordering::SeqCst), 2);
    // The first search domain itself: passed through.
    let _ = ask(&c, "ns1.svc.cluster.local.", "10.0.0.1:5000");
    assert_eq!(names.calls.load(Ordering::SeqCst), 3);
    // A plugin name that is not in the chain: no search path.
    let c = chain(SearchSource::Plugin("etcd".into()), names.clone());
    let _ = ask(&c, "example.com.ns1.svc.cluster.local.", "10.0.0.1:5000");
    assert_eq!(names.calls.load(Ordering::SeqCst), 4);
}

#[test]
fn resolv_conf_search_lines() {
    let got: Vec<String> = search_domains(
        "nameserver 10.0.0.10\nsearch Default.svc.cluster.local svc.cluster.local # comment\noptions ndots:5\n",
    )
    .unwrap()
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(
        got,
        ["default.svc.cluster.local.", "svc.cluster.local.", "."]
    );
    let got: Vec<String> = search_domains("domain example.org\n")
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(got, ["example.org.", "."]);
    assert_eq!(search_domains("").unwrap(), vec![Name::root()]);
}

#[test]
fn setup_reads_a_file_or_a_plugin_and_reports_errors() {
    let dir = std::env::temp_dir().join(format!("cairn-autopath-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("resolv.conf"), "search a.example b.example\n").unwrap();
    let s = setup(
        spec("autopath"),
        ". {\n autopath resolv.conf\n}",
        Some(dir.clone()),
    )
    .unwrap();
    let a = s.plugins[0].as_any().downcast_ref::<AutoPath>().unwrap();
    assert_eq!(
        a.source,
        SearchSource::Fixed(vec![name("a.example."), name("b.example."), Name::root()].into())
    );
    let s = setup(
        spec("autopath"),
        "cluster.local {\n autopath example.org @kubernetes\n}",
        None,
    )
    .unwrap();
    let a = s.plugins[0].as_any().downcast_ref::<AutoPath>().unwrap();
    assert_eq!(a.source, SearchSource::Plugin("kubernetes".into()));
    assert_eq!(a.zones, vec![name("example.org.")]);
    for (corefile, want) in [
        (". {\n autopath\n}", "no resolv-conf specified"),
        (
            ". {\n autopath missing.conf\n}",
            "failed to parse \"missing.conf\"",
        ),
        (". {\n autopath @\n}", "no plugin named after '@'"),
    ] {
        let e = match setup(spec("autopath"), corefile, Some(dir.clone())) {
            Ok(_) => panic!("accepted {corefile}"),
            Err(e) => e,
        };
        assert_eq!(e.line, 2, "{corefile}: {e}");
        assert!(e.to_string().contains(want), "{corefile}: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
