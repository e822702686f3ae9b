use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cairn_core::metrics::registry;
use cairn_core::setup::Shutdown;
use cairn_core::testing::{lines, on_the_wire, query, run, setup, StubNext};
use cairn_core::wire::{Name, RType, Rcode};
use cairn_core::Chain;

use super::hostsfile::{self, HostsMap};
use super::metrics::Metrics;
use super::reload::Source;
use super::table::reverse_name;
use super::Hosts;
use crate::registry::spec;

/// The hosts file of CoreDNS's own tests, with some extra lines.
const HOSTS: &str = "
127.0.0.1 localhost localhost.domain
::1 localhost localhost.domain
10.0.0.1 example.org
::FFFF:10.0.0.2 example.com
10.0.0.3 fallthrough-example.org
1.2.3.4 aa.example.com
5.6.7.8 *.apps.example.com
fe80::1%lo0 v6.example.org   # zone dropped
123.123.123 bogus.example.org
10.0.0.9
not-an-ip odin.example.org
	10.0.0.7	Tabs.Example.ORG	alias.example.org
";

/// A fresh directory for one test.
fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cairn-hosts-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sets `hosts` up in a `.` block with `HOSTS` as `hosts` in a fresh directory, followed by a
/// stub that answers REFUSED (so "went to the next plugin" shows as REFUSED).
fn hosts_chain(tag: &str, directive: &str) -> (Chain, Arc<StubNext>) {
    let dir = temp_dir(tag);
    std::fs::write(dir.join("hosts"), HOSTS).unwrap();
    let s = setup(spec("hosts"), &format!(". {{\n{directive}\n}}"), Some(dir)).unwrap();
    let next = StubNext::new(Rcode::REFUSED);
    (s.chain_with(next.clone()), next)
}

/// Asks and returns (rcode, AA, answer lines) as a client sees them.
fn ask(chain: &Chain, name: &str, qtype: RType) -> (Rcode, bool, Vec<String>) {
    let (req, result) = run(chain, query(name, qtype));
    let msg = on_the_wire(&req, &result.unwrap());
    (msg.rcode, msg.flags.aa, lines(&msg.answer))
}

fn ptr_name(ip: &str) -> String {
    reverse_name(ip.parse::<IpAddr>().unwrap()).to_string()
}

type Case<'a> = (&'a str, RType, Rcode, bool, Vec<String>);

fn check(chain: &Chain, cases: Vec<Case<'_>>) {
    for (name, qtype, rcode, aa, answers) in cases {
        assert_eq!(
            ask(chain, name, qtype),
            (rcode, aa, answers),
            "{name} {qtype}"
        );
    }
}

fn rr(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join("\t")
}

#[test]
fn answers_from_file_and_inline() {
    let (chain, next) = hosts_chain(
        "answers",
        " hosts hosts {\n  10.0.0.1 inline.example.org\n  10.0.0.4 example.org\n }",
    );
    let ok = Rcode::NOERROR;
    let ptr_v6 = ptr_name("::1");
    check(
        &chain,
        vec![
            (
                "example.org.",
                RType::A,
                ok,
                true,
                vec![
                    rr("example.org. 3600 IN A 10.0.0.1"),
                    rr("example.org. 3600 IN A 10.0.0.4"),
                ],
            ),
            (
                "Example.ORG.",
                RType::A,
                ok,
                true,
                vec![
                    rr("Example.ORG. 3600 IN A 10.0.0.1"),
                    rr("Example.ORG. 3600 IN A 10.0.0.4"),
                ],
            ),
            (
                "example.com.",
                RType::A,
                ok,
                true,
                vec![rr("example.com. 3600 IN A 10.0.0.2")],
            ),
            (
                "localhost.",
                RType::AAAA,
                ok,
                true,
                vec![rr("localhost. 3600 IN AAAA ::1")],
            ),
            (
                "localhost.domain.",
                RType::A,
                ok,
                true,
                vec![rr("localhost.domain. 3600 IN A 127.0.0.1")],
            ),
            (
                "v6.example.org.",
                RType::AAAA,
                ok,
                true,
                vec![rr("v6.example.org. 3600 IN AAAA fe80::1")],
            ),
            (
                "tabs.example.org.",
                RType::A,
                ok,
                true,
                vec![rr("tabs.example.org. 3600 IN A 10.0.0.7")],
            ),
            (
                "inline.example.org.",
                RType::A,
                ok,
                true,
                vec![rr("inline.example.org. 3600 IN A 10.0.0.1")],
            ),
            // Known name, other type: NODATA, authoritative, no SOA.
            ("example.org.", RType::AAAA, ok, true, vec![]),
            ("example.org.", RType::MX, ok, true, vec![]),
            ("v6.example.org.", RType::A, ok, true, vec![]),
            // Unknown names: SERVFAIL (CoreDNS quirk 14), without AA.
            (
                "missing.example.org.",
                RType::A,
                Rcode::SERVFAIL,
                false,
                vec![],
            ),
            (
                "bogus.example.org.",
                RType::A,
                Rcode::SERVFAIL,
                false,
                vec![],
            ),
            (
                "odin.example.org.",
                RType::A,
                Rcode::SERVFAIL,
                false,
                vec![],
            ),
            (
                "missing.example.org.",
                RType::TXT,
                Rcode::SERVFAIL,
                false,
                vec![],
            ),
            // Wildcards: one label below the owner, never the owner itself.
            (
                "web.apps.example.com.",
                RType::A,
                ok,
                true,
                vec![rr("web.apps.example.com. 3600 IN A 5.6.7.8")],
            ),
            ("web.apps.example.com.", RType::AAAA, ok, true, vec![]),
            (
                "apps.example.com.",
                RType::A,
                Rcode::SERVFAIL,
                false,
                vec![],
            ),
            (
                "a.web.apps.example.com.",
                RType::A,
                Rcode::SERVFAIL,
                false,
                vec![],
            ),
            (
                "aa.example.com.",
                RType::A,
                ok,
                true,
                vec![rr("aa.example.com. 3600 IN A 1.2.3.4")],
            ),
            // PTR from file and inline, in that order.
            (
                "1.0.0.10.in-addr.arpa.",
                RType::PTR,
                ok,
                true,
                vec![
                    rr("1.0.0.10.in-addr.arpa. 3600 IN PTR example.org."),
                    rr("1.0.0.10.in-addr.arpa. 3600 IN PTR inline.example.org."),
                ],
            ),
            (
                "7.0.0.10.IN-ADDR.ARPA.",
                RType::PTR,
                ok,
                true,
                vec![
                    rr("7.0.0.10.IN-ADDR.ARPA. 3600 IN PTR tabs.example.org."),
                    rr("7.0.0.10.IN-ADDR.ARPA. 3600 IN PTR alias.example.org."),
                ],
            ),
            (
                "2.0.0.10.in-addr.arpa.",
                RType::PTR,
                ok,
                true,
                vec![rr("2.0.0.10.in-addr.arpa. 3600 IN PTR example.com.")],
            ),
            (
                &ptr_v6,
                RType::PTR,
                ok,
                true,
                vec![
                    rr(&format!("{ptr_v6} 3600 IN PTR localhost.")),
                    rr(&format!("{ptr_v6} 3600 IN PTR localhost.domain.")),
                ],
            ),
        ],
    );
    assert_eq!(next.calls(), 0, "nothing went to the next plugin");
    // PTR misses (unknown address, wildcard-only address, a forward name) always go on.
    check(
        &chain,
        vec![
            (
                "99.0.0.10.in-addr.arpa.",
                RType::PTR,
                Rcode::REFUSED,
                false,
                vec![],
            ),
            (
                "8.7.6.5.in-addr.arpa.",
                RType::PTR,
                Rcode::REFUSED,
                false,
                vec![],
            ),
            ("example.org.", RType::PTR, Rcode::REFUSED, false, vec![]),
        ],
    );
    assert_eq!(next.calls(), 3);
}

#[test]
fn zones_limit_names_but_not_ptr() {
    let (chain, next) = hosts_chain("zones", " hosts hosts example.org");
    check(
        &chain,
        vec![
            (
                "example.org.",
                RType::A,
                Rcode::NOERROR,
                true,
                vec![rr("example.org. 3600 IN A 10.0.0.1")],
            ),
            (
                "missing.example.org.",
                RType::A,
                Rcode::SERVFAIL,
                false,
                vec![],
            ),
            // Out of zone: passed on.
            ("example.com.", RType::A, Rcode::REFUSED, false, vec![]),
            ("localhost.", RType::AAAA, Rcode::REFUSED, false, vec![]),
            // Reverse names are answered although in-addr.arpa is not a zone of the plugin...
            (
                "1.0.0.10.in-addr.arpa.",
                RType::PTR,
                Rcode::NOERROR,
                true,
                vec![rr("1.0.0.10.in-addr.arpa. 3600 IN PTR example.org.")],
            ),
            // ...but names outside the zones were dropped from the data, PTRs included.
            (
                "2.0.0.10.in-addr.arpa.",
                RType::PTR,
                Rcode::REFUSED,
                false,
                vec![],
            ),
        ],
    );
    assert_eq!(next.calls(), 3);
}

#[test]
fn fallthrough_scopes() {
    let (all, _) = hosts_chain("fall-all", " hosts hosts {\n  fallthrough\n }");
    let (net, _) = hosts_chain("fall-net", " hosts hosts {\n  fallthrough example.net\n }");
    let (unsupported, _) = hosts_chain(
        "fall-unsupported",
        " hosts hosts {\n  fallthrough\n  fallthrough_unsupported\n }",
    );
    let (unsupported_net, _) = hosts_chain(
        "fall-unsupported-net",
        " hosts hosts {\n  fallthrough example.net\n  fallthrough_unsupported\n }",
    );
    let go_on = (Rcode::REFUSED, false, vec![]);
    let nodata = (Rcode::NOERROR, true, vec![]);
    let servfail = (Rcode::SERVFAIL, false, vec![]);
    for (chain, name, qtype, want) in [
        (&all, "missing.example.org.", RType::A, go_on.clone()),
        (&all, "example.org.", RType::TXT, nodata.clone()),
        (&all, "example.org.", RType::AAAA, nodata.clone()),
        (&net, "missing.example.org.", RType::A, servfail.clone()),
        (&net, "missing.example.net.", RType::A, go_on.clone()),
        (&unsupported, "example.org.", RType::TXT, go_on.clone()),
        (&unsupported, "example.org.", RType::HTTPS, go_on.clone()),
        (&unsupported, "example.org.", RType::AAAA, nodata.clone()),
        (
            &unsupported,
            "missing.example.org.",
            RType::TXT,
            go_on.clone(),
        ),
        (&unsupported_net, "example.org.", RType::TXT, nodata.clone()),
        (
            &unsupported_net,
            "missing.example.org.",
            RType::TXT,
            servfail.clone(),
        ),
    ] {
        assert_eq!(ask(chain, name, qtype), want, "{name} {qtype}");
    }
}

#[test]
fn options_ttl_and_no_reverse() {
    let (chain, _) = hosts_chain("options", " hosts hosts {\n  ttl 300\n  no_reverse\n }");
    check(
        &chain,
        vec![
            (
                "example.org.",
                RType::A,
                Rcode::NOERROR,
                true,
                vec![rr("example.org. 300 IN A 10.0.0.1")],
            ),
            (
                "1.0.0.10.in-addr.arpa.",
                RType::PTR,
                Rcode::REFUSED,
                false,
                vec![],
            ),
        ],
    );
    let (chain, _) = hosts_chain("ttl", " hosts hosts {\n  ttl 60\n }");
    check(
        &chain,
        vec![(
            "1.0.0.10.in-addr.arpa.",
            RType::PTR,
            Rcode::NOERROR,
            true,
            vec![rr("1.0.0.10.in-addr.arpa. 60 IN PTR example.org.")],
        )],
    );
}

#[test]
fn inline_only_when_the_file_is_missing() {
    let dir = temp_dir("inline-only");
    let s = setup(
        spec("hosts"),
        "example.org {\n hosts does-not-exist {\n  10.1.1.1 a.example.org\n  fd00::1 a.example.org\n  10.1.1.2 outside.example.net\n }\n}",
        Some(dir),
    )
    .unwrap();
    let chain = s.chain_with(StubNext::new(Rcode::REFUSED));
    check(
        &chain,
        vec![
            (
                "a.example.org.",
                RType::AAAA,
                Rcode::NOERROR,
                true,
                vec![rr("a.example.org. 3600 IN AAAA fd00::1")],
            ),
            (
                "1.1.1.10.in-addr.arpa.",
                RType::PTR,
                Rcode::NOERROR,
                true,
                vec![rr("1.1.1.10.in-addr.arpa. 3600 IN PTR a.example.org.")],
            ),
            // Not under the block's zone: dropped, and its PTR too.
            (
                "2.1.1.10.in-addr.arpa.",
                RType::PTR,
                Rcode::REFUSED,
                false,
                vec![],
            ),
        ],
    );
}

#[test]
fn hosts_format_parsing() {
    let root = [Name::root()];
    let map = hostsfile::parse(
        "255.255.255.255\tbroadcasthost\n127.0.0.2 odin\n127.0.0.3 odin  # comment\n::2 odin\n\
         127.1.1.2 ullr ullrhost\nfe80::1%lo0 localhost\n123.123.123 loki\n321.321.321.321\n\
         010.0.0.1 leading-zero\n",
        &root,
        true,
    );
    let n = |s: &str| Name::parse(s, None).unwrap();
    assert_eq!(
        map.name4[&n("odin.")],
        [
            "127.0.0.2".parse::<std::net::Ipv4Addr>().unwrap(),
            "127.0.0.3".parse().unwrap()
        ]
    );
    assert_eq!(
        map.name6[&n("odin.")],
        ["::2".parse::<std::net::Ipv6Addr>().unwrap()]
    );
    assert_eq!(
        map.name6[&n("localhost.")],
        ["fe80::1".parse::<std::net::Ipv6Addr>().unwrap()]
    );
    assert!(!map.name4.contains_key(&n("loki.")));
    assert!(!map.name4.contains_key(&n("leading-zero.")));
    assert_eq!(
        map.addr[&"127.1.1.2".parse::<IpAddr>().unwrap()],
        [n("ullr."), n("ullrhost.")]
    );
    // 7 name-address pairs (broadcasthost, odin x3, ullr, ullrhost, localhost), each counted
    // forward and reverse.
    assert_eq!(map.len(), 14);
}

#[test]
fn reverse_names() {
    assert_eq!(ptr_name("10.0.0.1"), "1.0.0.10.in-addr.arpa.");
    assert_eq!(
        ptr_name("2001:db8::567:89ab"),
        "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
    );
}

#[test]
fn refresh_follows_the_file_and_sets_metrics() {
    let dir = temp_dir("refresh");
    let path = dir.join("hosts");
    let label = path.display().to_string();
    std::fs::write(&path, "10.0.0.1 a b\n").unwrap();
    let root = vec![Name::root()];
    let inline = hostsfile::parse("10.0.0.2 c", &root, true);
    let mut source = Source::new(
        path.clone(),
        root.clone(),
        true,
        inline,
        Metrics::new(&label),
    );
    let table = source.table.clone();
    let v4 = |name: &str| -> Vec<String> {
        let n = Name::parse(name, None).unwrap();
        table
            .load()
            .lookup(n.wire())
            .map(|a| a.v4.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    };
    assert!(v4("a.").is_empty(), "nothing read yet");
    assert_eq!(v4("c."), ["10.0.0.2"], "inline served from the start");

    assert!(source.refresh());
    assert_eq!(v4("a."), ["10.0.0.1"]);
    assert_eq!(v4("c."), ["10.0.0.2"]);
    let entries = registry()
        .gauge("coredns_hosts_entries", "", &["hostsfile"])
        .with(&[&label]);
    assert_eq!(entries.get(), 6.0, "a, b, their PTRs, c and its PTR");
    // The timestamp is the file's modification time (a process-wide series, so other tests
    // may have set it since: only check it is a plausible time).
    let ts = registry()
        .gauge("coredns_hosts_reload_timestamp_seconds", "", &[])
        .with(&[]);
    assert!(ts.get() > 1.0e9, "{}", ts.get());

    assert!(!source.refresh(), "unchanged file is not read again");

    std::fs::write(&path, "10.0.0.9 a\n10.0.0.8 d\n").unwrap();
    assert!(source.refresh());
    assert_eq!(v4("a."), ["10.0.0.9"]);
    assert_eq!(v4("b."), Vec::<String>::new());
    assert_eq!(entries.get(), 6.0, "a, d, their PTRs, c and its PTR");

    // A vanished file keeps the last data, like CoreDNS.
    std::fs::remove_file(&path).unwrap();
    assert!(!source.refresh());
    assert_eq!(v4("d."), ["10.0.0.8"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reload_service_swaps_the_table() {
    let dir = temp_dir("service");
    std::fs::write(dir.join("hosts"), "10.0.0.1 example.org\n").unwrap();
    let mut s = setup(
        spec("hosts"),
        ". {\n hosts hosts {\n  reload 20ms\n }\n}",
        Some(dir.clone()),
    )
    .unwrap();
    assert_eq!(s.parts.services.len(), 1);
    let service = s.parts.services.remove(0);
    assert_eq!(service.name, "hosts");
    let chain = s.chain_with(StubNext::new(Rcode::REFUSED));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let (shutdown, trigger) = Shutdown::new();
        let task = tokio::spawn((service.run)(shutdown));
        assert_eq!(
            ask(&chain, "example.org.", RType::A).2,
            [rr("example.org. 3600 IN A 10.0.0.1")]
        );
        std::fs::write(
            dir.join("hosts"),
            "10.0.0.2 example.org\n10.0.0.3 new.example.org\n",
        )
        .unwrap();
        let mut waited = Duration::ZERO;
        while ask(&chain, "example.org.", RType::A).2 != [rr("example.org. 3600 IN A 10.0.0.2")] {
            assert!(waited < Duration::from_secs(10), "reload never happened");
            tokio::time::sleep(Duration::from_millis(20)).await;
            waited += Duration::from_millis(20);
        }
        assert_eq!(ask(&chain, "new.example.org.", RType::A).0, Rcode::NOERROR);
        trigger.fire();
        task.await.unwrap();
    });
    // `reload 0` registers no service.
    let s = setup(
        spec("hosts"),
        ". {\n hosts hosts {\n  reload 0\n }\n}",
        Some(dir.clone()),
    )
    .unwrap();
    assert!(s.parts.services.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn setup_reads_zones_and_options() {
    let dir = temp_dir("setup");
    let s = setup(
        spec("hosts"),
        "example.org {\n hosts /nonexistent/hosts example.net 10.0.0.0/8 {\n  fallthrough\n }\n}",
        Some(dir.clone()),
    )
    .unwrap();
    let h = s.plugins[0].as_any().downcast_ref::<Hosts>().unwrap();
    let zones: Vec<String> = h.zones.iter().map(ToString::to_string).collect();
    assert_eq!(zones, ["example.net.", "10.in-addr.arpa."]);
    assert!(h.fall.is_enabled());
    assert_eq!(h.ttl, 3600);
    let s = setup(
        spec("hosts"),
        "example.org {\n hosts /nonexistent/hosts\n}",
        None,
    )
    .unwrap();
    let h = s.plugins[0].as_any().downcast_ref::<Hosts>().unwrap();
    assert_eq!(h.zones, [Name::parse("example.org.", None).unwrap()]);
    assert!(!h.fall.is_enabled());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn setup_errors() {
    for (body, line, msg) in [
        (" hosts f {\n  ttl\n }", 3, "ttl needs a time in second"),
        (
            " hosts f {\n  ttl abc\n }",
            3,
            "ttl needs a number of second",
        ),
        (" hosts f {\n  ttl 0\n }", 3, "ttl provided is invalid"),
        (" hosts f {\n  ttl 65536\n }", 3, "ttl provided is invalid"),
        (
            " hosts f {\n  reload\n }",
            3,
            "reload needs a duration (zero seconds to disable)",
        ),
        (
            " hosts f {\n  reload 5\n }",
            3,
            "invalid duration for reload '5'",
        ),
        (
            " hosts f {\n  reload -5s\n }",
            3,
            "invalid negative duration for reload '-5s'",
        ),
        (
            " hosts f {\n  fallthrough_unsupported\n }",
            2,
            "fallthrough_unsupported requires fallthrough",
        ),
        (
            " hosts f {\n  fallthrough\n  fallthrough_unsupported x\n }",
            4,
            "Wrong argument count or unexpected line ending after 'x'",
        ),
        (
            " hosts f {\n  fallthrough\n  10.0.0.1 late.example.org\n }",
            4,
            "unknown property '10.0.0.1'",
        ),
        (
            " hosts f\n hosts g",
            3,
            "this plugin can only be used once per Server Block",
        ),
    ] {
        let dir = temp_dir("errors");
        let err = setup(spec("hosts"), &format!(". {{\n{body}\n}}"), Some(dir))
            .err()
            .expect(body);
        assert_eq!((err.line, err.message.as_str()), (line, msg), "{body}");
    }
}

#[test]
fn table_merges_sources_like_coredns() {
    let root = [Name::root()];
    let file = hostsfile::parse(
        "10.0.0.1 *.example.com\n10.0.0.2 www.example.com\nfd00::1 v6only.example.com\n",
        &root,
        true,
    );
    let inline: HostsMap = hostsfile::parse("10.0.0.3 *.example.com\n", &root, true);
    let t = super::table::Table::build(&file, &inline);
    let v4 = |name: &str| -> Vec<String> {
        let n = Name::parse(name, None).unwrap();
        t.lookup(n.wire())
            .map(|a| a.v4.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    };
    // Per source: exact name first, else wildcard; then the sources concatenated.
    assert_eq!(v4("www.example.com."), ["10.0.0.2", "10.0.0.3"]);
    assert_eq!(v4("other.example.com."), ["10.0.0.1", "10.0.0.3"]);
    assert_eq!(v4("v6only.example.com."), ["10.0.0.1", "10.0.0.3"]);
    assert_eq!(v4("*.example.com."), ["10.0.0.1", "10.0.0.3"]);
    assert!(v4("example.com.").is_empty());
    assert!(t
        .ptr(Name::parse("1.0.0.10.in-addr.arpa.", None).unwrap().wire())
        .is_none());
}
