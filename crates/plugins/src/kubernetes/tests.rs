//! Conformance tables for `kubernetes`, run through the plugin in-process. The tables
//! (CoreDNS's plugin/kubernetes test vectors and the examples of the compat spec, one query
//! per row: rcode, AA, and the answer, authority and additional sections record by record)
//! live in tests/fixtures/kubernetes/conformance.rs, shared with
//! tests/kubernetes_conformance.rs, which runs them against the real server. The rest of
//! this file checks what a table cannot: option parsing, setup, sources, metrics, transfers
//! and the autopath search path.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cairn_core::testing::{
    check_reply, lines, normalize_line, on_the_wire, query, run, setup, with_setup_ctx, Expected,
    StubNext,
};
use cairn_core::wire::{Name, RType, Rcode};
use cairn_core::{Chain, Plugin, SetupError};
use cairn_k8s::{manifest, Change, Object, Store};

use super::setup::{index_config, parse_options, Options};
use super::{Kubernetes, PodMode};
use crate::registry::spec;

include!("../../../../tests/fixtures/kubernetes/conformance.rs");

impl Q {
    fn rtype(self) -> RType {
        RType::from_mnemonic(self.mnemonic()).expect("a known mnemonic")
    }
}

impl Rc {
    fn rcode(self) -> Rcode {
        Rcode(self.code())
    }
}

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Parses the `kubernetes` directive of a one-block Corefile.
fn options(corefile: &str) -> Result<Options, SetupError> {
    with_setup_ctx(
        "kubernetes",
        corefile,
        Some(PathBuf::from("/etc/cairn")),
        |ctx| parse_options(ctx),
    )
    .map(|(options, _)| options)
}

/// The objects of a multi-document YAML text.
fn objects(name: &str, yaml: &str) -> Vec<Object> {
    manifest::parse_str(name, yaml).unwrap_or_else(|e| panic!("fixture: {e}"))
}

/// A plugin over a store holding `yaml`, followed by a stub that answers REFUSED.
struct Fixture {
    plugin: Arc<Kubernetes>,
    chain: Chain,
    next: Arc<StubNext>,
}

impl Fixture {
    fn new(corefile: &str, manifest: Manifest) -> Fixture {
        Fixture::build(corefile, manifest, true, &[])
    }

    /// The setup of a shared table.
    fn for_table(t: &Table) -> Fixture {
        Fixture::build(t.corefile, t.manifest, t.synced, t.local)
    }

    /// Builds a table's setup and runs all its rows.
    fn check_table(t: &Table) -> Fixture {
        let f = Fixture::for_table(t);
        f.check(t);
        f
    }

    fn build(corefile: &str, manifest: Manifest, synced: bool, local: &[&str]) -> Fixture {
        let opts = options(corefile).unwrap_or_else(|e| panic!("{e}\n{corefile}"));
        let (store, mut writer) = Store::new(index_config(&opts));
        let objects = objects(manifest.name, manifest.yaml);
        if synced {
            manifest::apply_all(&mut writer, objects);
        } else {
            // Every kind listed but none marked synced: what a slow API start looks like.
            for kind in writer.config().kinds().iter() {
                let list = objects
                    .iter()
                    .filter(|o| o.kind() == kind)
                    .cloned()
                    .collect();
                writer.apply(Change::Replace(kind, list));
            }
            writer.publish();
        }
        let local: Vec<IpAddr> = local.iter().map(|s| s.parse().expect("ip")).collect();
        let plugin = Arc::new(Kubernetes::new(&opts, store, local));
        let next = StubNext::new(Rcode::REFUSED);
        let chain = Chain::new(vec![plugin.clone() as Arc<dyn Plugin>, next.clone()]);
        Fixture {
            plugin,
            chain,
            next,
        }
    }

    fn serial(&self) -> u32 {
        self.plugin.store().load().modified()
    }

    /// Runs every case of a table; all failures are reported together.
    fn check(&self, t: &Table) {
        let mut failures = Vec::new();
        for (i, c) in t.cases.iter().enumerate() {
            if let Err(e) = self.check_one(c) {
                failures.push(format!(
                    "{} case {i} ({} {}): {e}",
                    t.name,
                    c.qname,
                    c.qtype.mnemonic()
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }

    fn check_one(&self, c: &Case) -> Result<(), String> {
        let calls = self.next.calls();
        let (req, result) = run(&self.chain, query(c.qname, c.qtype.rtype()));
        let msg = result.map_err(|e| format!("error {e}"))?;
        if self.next.calls() != calls {
            return Err("the query went to the next plugin".into());
        }
        // Sections as the plugin built them; tests/kubernetes_conformance.rs compares the
        // same rows as a client receives them.
        let want = Expected {
            rcode: c.rcode.rcode(),
            answer: c.answer,
            authority: c.authority,
            additional: c.additional,
        };
        check_reply(&req, &msg, &want, self.serial())
    }
}

// ---------------------------------------------------------------------------------------------
// handler_test.go: services, endpoints, SRV, TXT, ExternalName
// ---------------------------------------------------------------------------------------------

#[test]
fn services_endpoints_and_srv() {
    Fixture::check_table(&SERVICES_ENDPOINTS_AND_SRV);
}

/// The spec's examples and the quirks of section 3.5/3.6 that CoreDNS's tables leave out.
#[test]
fn spec_examples_and_quirks() {
    Fixture::check_table(&SPEC_EXAMPLES_AND_QUIRKS);
    Fixture::check_table(&EXTERNAL_NAME_WITHOUT_SERVER);
}

#[test]
fn zone_transfers_are_refused_without_transfer() {
    let f = Fixture::new(TESTNS_ONLY, HANDLER);
    for qtype in [RType::AXFR, RType::IXFR] {
        let (_req, result) = run(&f.chain, query("cluster.local.", qtype));
        let msg = result.unwrap();
        assert_eq!(msg.rcode, Rcode::REFUSED);
        assert!(msg.answer.is_empty() && msg.authority.is_empty());
    }
    assert_eq!(f.next.calls(), 0);
}

#[test]
fn names_outside_the_zones_go_to_the_next_plugin() {
    let f = Fixture::new(TESTNS_ONLY, HANDLER);
    let (_req, result) = run(&f.chain, query("example.org.", RType::A));
    assert_eq!(result.unwrap().rcode, Rcode::REFUSED, "the stub's answer");
    assert_eq!(f.next.calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// handler_case_test.go, handler_ignore_emptyservice_test.go
// ---------------------------------------------------------------------------------------------

#[test]
fn query_case_is_preserved() {
    Fixture::check_table(&QUERY_CASE);
}

#[test]
fn ignore_empty_service() {
    Fixture::check_table(&IGNORE_EMPTY_SERVICE);
}

// ---------------------------------------------------------------------------------------------
// handler_pod_*_test.go
// ---------------------------------------------------------------------------------------------

#[test]
fn pods_disabled() {
    Fixture::check_table(&PODS_DISABLED);
}

#[test]
fn pods_insecure() {
    Fixture::check_table(&PODS_INSECURE);
}

#[test]
fn pods_verified() {
    let f = Fixture::check_table(&PODS_VERIFIED);
    assert_eq!(
        f.plugin
            .client_namespace("10.240.0.1".parse().unwrap())
            .as_deref(),
        Some("podns")
    );
    assert_eq!(
        f.plugin.client_namespace("10.240.0.2".parse().unwrap()),
        None
    );
    // Without `pods verified` there is no client namespace for autopath.
    let insecure = Fixture::new(
        "cluster.local {\n kubernetes {\n  pods insecure\n }\n}",
        HANDLER,
    );
    assert_eq!(
        insecure
            .plugin
            .client_namespace("10.240.0.1".parse().unwrap()),
        None
    );
}

// ---------------------------------------------------------------------------------------------
// Startup: not yet synced, fallthrough
// ---------------------------------------------------------------------------------------------

#[test]
fn before_sync_name_errors_are_servfail() {
    let f = Fixture::for_table(&BEFORE_SYNC);
    assert!(!f.plugin.store().is_synced());
    assert_eq!(f.plugin.ready(), Some(false));
    f.check(&BEFORE_SYNC);
    let synced = Fixture::new(TESTNS_ONLY, HANDLER);
    assert_eq!(synced.plugin.ready(), Some(true));
}

#[test]
fn fallthrough_comes_before_the_unsynced_servfail() {
    let f = Fixture::for_table(&FALLTHROUGH_BEFORE_SYNC);
    let (_req, result) = run(&f.chain, query("svc0.testns.svc.cluster.local.", RType::A));
    assert_eq!(
        result.unwrap().rcode,
        Rcode::REFUSED,
        "the next plugin answered"
    );
    assert_eq!(f.next.calls(), 1);
    // NODATA is never passed on.
    f.check(&FALLTHROUGH_BEFORE_SYNC);
}

#[test]
fn fallthrough_zones_limit_what_is_passed_on() {
    let f = Fixture::for_table(&FALLTHROUGH_ZONES);
    let (_req, result) = run(&f.chain, query("4.3.2.1.in-addr.arpa.", RType::PTR));
    assert_eq!(result.unwrap().rcode, Rcode::REFUSED);
    assert_eq!(f.next.calls(), 1);
    f.check(&FALLTHROUGH_ZONES);
}

// ---------------------------------------------------------------------------------------------
// reverse_test.go
// ---------------------------------------------------------------------------------------------

#[test]
fn ptr_answers() {
    Fixture::check_table(&PTR_ANSWERS);
}

#[test]
fn ptr_respects_namespaces_and_endpoint_pod_names() {
    Fixture::check_table(&PTR_NAMESPACES_AND_ENDPOINT_POD_NAMES);
}

#[test]
fn ptr_targets_use_the_primary_zone() {
    Fixture::check_table(&PTR_PRIMARY_ZONE);
}

// ---------------------------------------------------------------------------------------------
// zonal_test.go
// ---------------------------------------------------------------------------------------------

#[test]
fn zonal_names() {
    Fixture::check_table(&ZONAL_NAMES);
    Fixture::check_table(&ZONAL_OFF);
}

// ---------------------------------------------------------------------------------------------
// handler_test.go: TestMultiClusterServeDNS
// ---------------------------------------------------------------------------------------------

#[test]
fn multicluster_zone() {
    Fixture::check_table(&MULTICLUSTER_ZONE);
}

// ---------------------------------------------------------------------------------------------
// ns_test.go, kubernetes_apex_test.go
// ---------------------------------------------------------------------------------------------

#[test]
fn name_servers_from_the_services_backed_by_this_server() {
    Fixture::check_table(&NAME_SERVERS);
}

#[test]
fn apex_with_local_addresses_only() {
    Fixture::check_table(&APEX_LOCAL_ADDRESSES);
}

// ---------------------------------------------------------------------------------------------
// TTL, SOA serial
// ---------------------------------------------------------------------------------------------

#[test]
fn ttl_option_sets_record_and_soa_ttls() {
    Fixture::check_table(&TTL_30);
    // The SOA's own TTL is capped at 300, its minimum is the ttl.
    Fixture::check_table(&TTL_3600);
}

#[test]
fn soa_serial_is_the_last_change_time() {
    let f = Fixture::new(TESTNS_ONLY, HANDLER);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let serial = u64::from(f.serial());
    assert!(
        serial + 60 >= now && serial <= now + 1,
        "serial {serial}, now {now}"
    );
}

// ---------------------------------------------------------------------------------------------
// setup_test.go, setup_ttl_test.go: option parsing
// ---------------------------------------------------------------------------------------------

/// Corefile blocks that must parse, with a check of what they set.
#[test]
fn options_that_parse() {
    let block = |body: &str| format!("coredns.local {{\n kubernetes {body}\n}}");
    let o = options(&block("coredns.local test.local")).unwrap();
    assert_eq!(o.zones.len(), 2);
    assert_eq!(o.pods, PodMode::Disabled);
    assert_eq!(o.ttl, 5);
    assert_eq!(o.startup_timeout, Duration::from_secs(5));
    assert!(!o.fall.is_enabled());

    let o = options(&block(
        "{\n endpoint http://localhost:9090 http://localhost:9091\n}",
    ))
    .unwrap();
    assert_eq!(o.api.endpoint.as_deref(), Some("http://localhost:9090"));
    assert!(!o.api.in_cluster());

    let o = options(&block("{\n namespaces demo test\n}")).unwrap();
    assert_eq!(o.namespaces, ["demo", "test"]);

    let o = options(&block(
        "{\n labels environment in (production, staging, qa),application=nginx\n}",
    ))
    .unwrap();
    assert_eq!(
        o.api.label_selector.as_deref(),
        Some("environment in (production, staging, qa),application=nginx")
    );
    let o = options(&block("{\n namespace_labels istio-injection=enabled\n}")).unwrap();
    assert_eq!(
        o.api.namespace_selector.as_deref(),
        Some("istio-injection=enabled")
    );

    for (mode, want) in [
        ("disabled", PodMode::Disabled),
        ("insecure", PodMode::Insecure),
        ("verified", PodMode::Verified),
    ] {
        let o = options(&block(&format!("{{\n pods {mode}\n}}"))).unwrap();
        assert_eq!(o.pods, want);
        assert_eq!(o.api.watch.pods, want == PodMode::Verified);
    }

    let o = options(&block("{\n fallthrough ip6.arpa inaddr.arpa foo.com\n}")).unwrap();
    assert!(o
        .fall
        .through(Name::parse("x.foo.com.", None).unwrap().wire()));
    assert!(!o
        .fall
        .through(Name::parse("x.coredns.local.", None).unwrap().wire()));

    let o = options(&block(
        "{\n kubeconfig file context\n startup_timeout 1s\n}",
    ))
    .unwrap();
    let kc = o.api.kubeconfig.unwrap();
    assert_eq!(kc.path, PathBuf::from("file"));
    assert_eq!(kc.context.as_deref(), Some("context"));
    assert_eq!(o.startup_timeout, Duration::from_secs(1));
    assert!(options(&block("{\n kubeconfig file\n}"))
        .unwrap()
        .api
        .kubeconfig
        .is_some());

    let o = options(&block(
        "{\n tls cert key cacert\n endpoint https://10.0.0.1:6443\n}",
    ))
    .unwrap();
    assert_eq!(o.api.tls.unwrap().ca, PathBuf::from("cacert"));

    assert!(
        options(&block("{\n endpoint_pod_names\n}"))
            .unwrap()
            .endpoint_pod_names
    );
    let o = options(&block("{\n noendpoints\n}")).unwrap();
    assert!(o.noendpoints && !o.api.watch.endpoint_slices);
    assert!(
        options(&block("{\n ignore empty_service\n}"))
            .unwrap()
            .ignore_empty_service
    );
    // `ignore` alone is accepted and does nothing.
    assert!(
        !options(&block("{\n ignore\n}"))
            .unwrap()
            .ignore_empty_service
    );
    assert!(options(&block("{\n zonal\n}")).unwrap().zonal);

    let o = options(&block(
        "coredns.local clusterset.local {\n multicluster clusterset.local\n}",
    ))
    .unwrap();
    assert_eq!(
        o.multicluster,
        [Name::parse("clusterset.local.", None).unwrap()]
    );
    assert!(o.api.watch.service_imports);
    assert!(options(&block("{\n multicluster\n}"))
        .unwrap()
        .multicluster
        .is_empty());

    let o = options(&block(
        "{\n apiserver_qps 50\n apiserver_burst 100\n apiserver_max_inflight 25\n}",
    ))
    .unwrap();
    assert_eq!(
        (o.api.qps, o.api.burst, o.api.max_inflight),
        (50.0, 100, 25)
    );

    for (ttl, want) in [("0", 0), ("30", 30), ("3600", 3600)] {
        assert_eq!(
            options(&block(&format!("{{\n ttl {ttl}\n}}"))).unwrap().ttl,
            want
        );
    }

    let o = options(&block("{\n manifests cluster.yaml /abs/more.yaml\n}")).unwrap();
    assert_eq!(
        o.manifests,
        [
            PathBuf::from("/etc/cairn/cluster.yaml"),
            PathBuf::from("/abs/more.yaml")
        ]
    );

    // Zones from the block keys; the first non-reverse zone is primary.
    let o = options("10.0.0.0/24 cluster.local {\n kubernetes\n}").unwrap();
    assert_eq!(
        o.zones[o.primary_zone],
        Name::parse("cluster.local.", None).unwrap()
    );
}

/// Corefile blocks that must fail, with a piece of the message; every error names the line.
#[test]
fn options_that_fail() {
    let cases: &[(&str, &str)] = &[
        (
            "{\n endpoint\n}",
            "Wrong argument count or unexpected line ending",
        ),
        (
            "{\n namespaces\n}",
            "Wrong argument count or unexpected line ending",
        ),
        (
            "{\n labels\n}",
            "Wrong argument count or unexpected line ending",
        ),
        (
            "{\n labels environment in (production, qa\n}",
            "unable to parse label selector",
        ),
        (
            "{\n namespace_labels a in (b\n}",
            "unable to parse namespace_label selector",
        ),
        ("{\n pods giant_seed\n}", "wrong value for pods: giant_seed"),
        ("{\n pods\n}", "Wrong argument count"),
        (
            "{\n kubeconfig\n}",
            "Wrong argument count or unexpected line ending after",
        ),
        (
            "{\n kubeconfig file context extraarg\n}",
            "Wrong argument count or unexpected line ending after",
        ),
        ("{\n tls cert key\n}", "Wrong argument count"),
        ("{\n endpoint_pod_names x\n}", "Wrong argument count"),
        ("{\n noendpoints x\n}", "Wrong argument count"),
        ("{\n zonal x\n}", "Wrong argument count"),
        ("{\n ignore foo\n}", "unable to parse ignore value: 'foo'"),
        ("{\n ttl\n}", "Wrong argument count"),
        ("{\n ttl -1\n}", "ttl must be in range [0, 3600]: -1"),
        ("{\n ttl 3601\n}", "ttl must be in range [0, 3600]: 3601"),
        ("{\n ttl abc\n}", "invalid ttl"),
        ("{\n startup_timeout\n}", "Wrong argument count"),
        (
            "{\n startup_timeout 5\n}",
            "failed to parse startup_timeout",
        ),
        ("{\n apiserver_qps -1\n}", "apiserver_qps must be >= 0"),
        ("{\n apiserver_burst -1\n}", "apiserver_burst must be >= 0"),
        (
            "{\n apiserver_max_inflight -1\n}",
            "apiserver_max_inflight must be >= 0",
        ),
        ("{\n apiserver_qps\n}", "Wrong argument count"),
        (
            "{\n namespaces foo bar\n namespace_labels istio-injection=enabled\n}",
            "namespaces and namespace_labels cannot both be set",
        ),
        (
            "{\n multicluster clusterset.local\n}",
            "is not authoritative for the multicluster zone clusterset.local.",
        ),
        (
            "{\n zonal\n noendpoints\n}",
            "zonal requires the endpoint cache",
        ),
        ("{\n manifests\n}", "Wrong argument count"),
        // Removed options are unknown properties now.
        ("{\n upstream\n}", "unknown property 'upstream'"),
        ("{\n resyncperiod 10s\n}", "unknown property 'resyncperiod'"),
        ("{\n transfer to *\n}", "unknown property 'transfer'"),
        ("{\n bogus\n}", "unknown property 'bogus'"),
    ];
    for (body, want) in cases {
        let corefile = format!("coredns.local {{\n kubernetes {body}\n}}");
        let err = options(&corefile).expect_err(&corefile);
        let text = err.to_string();
        assert!(text.contains(want), "{corefile}\n-> {text}\nwant {want}");
        assert!(text.starts_with("Corefile:"), "{text}");
        assert!(err.line >= 2, "{text}");
    }
    let err = options("in-addr.arpa ip6.arpa {\n kubernetes\n}").expect_err("reverse only");
    assert!(
        err.to_string()
            .contains("non-reverse zone name must be used"),
        "{err}"
    );
    assert_eq!(err.line, 2);
    let err = options("cluster.local {\n kubernetes\n kubernetes\n}").expect_err("twice");
    assert!(err.to_string().contains("only be used once"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Setup: sources, startup gate, metrics
// ---------------------------------------------------------------------------------------------

/// A fresh directory for fixture files.
fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "cairn-kubernetes-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn setup_with_manifests_serves_the_files() {
    let dir = temp_dir("manifests");
    std::fs::write(dir.join("cluster.yaml"), HANDLER.yaml).unwrap();
    let s = setup(
        spec("kubernetes"),
        "cluster.local in-addr.arpa {\n kubernetes {\n  manifests cluster.yaml\n }\n}",
        Some(dir.clone()),
    )
    .unwrap();
    assert_eq!(s.plugins.len(), 1);
    assert_eq!(s.parts.services.len(), 1, "the manifest watcher");
    assert_eq!(s.parts.startup_gates.len(), 1);
    let k = s.plugins[0]
        .as_any()
        .downcast_ref::<Kubernetes>()
        .expect("a Kubernetes plugin");
    assert_eq!(k.ready(), Some(true), "the files are read at setup");
    assert_eq!(k.ttl(), 5);
    assert_eq!(k.zones().len(), 2);
    let chain = s.chain_with(StubNext::new(Rcode::REFUSED));
    let (req, result) = run(&chain, query("svc1.testns.svc.cluster.local.", RType::A));
    let wire = on_the_wire(&req, &result.unwrap());
    assert_eq!(
        lines(&wire.answer),
        ["svc1.testns.svc.cluster.local.\t5\tIN\tA\t10.0.0.1"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn setup_errors_name_the_line() {
    let dir = temp_dir("errors");
    let err = setup(
        spec("kubernetes"),
        "cluster.local {\n kubernetes {\n  manifests missing.yaml\n }\n}",
        Some(dir.clone()),
    )
    .err()
    .expect("a missing manifest is an error");
    assert!(err.to_string().contains("missing.yaml"), "{err}");
    assert_eq!(err.line, 2);

    std::fs::write(dir.join("bad.yaml"), "kind: Service\nmetadata: [oops\n").unwrap();
    let err = setup(
        spec("kubernetes"),
        "cluster.local {\n kubernetes {\n  manifests bad.yaml\n }\n}",
        Some(dir.clone()),
    )
    .err()
    .expect("a broken manifest is an error");
    assert!(err.to_string().contains("bad.yaml"), "{err}");

    // Without `manifests`, `endpoint` or `kubeconfig` the source is the in-cluster API
    // server; outside a cluster that is a setup error, as in CoreDNS.
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() {
        let err = setup(spec("kubernetes"), "cluster.local {\n kubernetes\n}", None)
            .err()
            .expect("no in-cluster configuration here");
        assert!(
            err.to_string().contains("no in-cluster configuration"),
            "{err}"
        );
    }
    // A kubeconfig that does not exist is one too.
    let err = setup(
        spec("kubernetes"),
        "cluster.local {\n kubernetes {\n  kubeconfig /nonexistent/kubeconfig\n }\n}",
        None,
    )
    .err()
    .expect("missing kubeconfig");
    assert!(err.to_string().contains("/nonexistent/kubeconfig"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn startup_gate_waits_for_sync_or_the_timeout() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (store, mut writer) = Store::new(cairn_k8s::IndexConfig::default());
    let started = std::time::Instant::now();
    rt.block_on(super::startup::gate(
        store.clone(),
        Duration::from_millis(120),
    ));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(120), "{waited:?}");
    assert!(!store.is_synced());

    manifest::apply_all(&mut writer, Vec::new());
    let started = std::time::Instant::now();
    rt.block_on(super::startup::gate(store.clone(), Duration::from_secs(30)));
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn programming_latency_is_observed() {
    let (_store, mut writer) = Store::new(cairn_k8s::IndexConfig::default());
    super::metrics::observe_programming(&mut writer);
    let family = super::metrics::programming_duration();
    let before = family.with(&["headless_with_selector"]).count();
    let stamp = "2024-01-01T00:00:00Z";
    let yaml = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: h, namespace: ns}}\nspec: {{clusterIP: None}}\n---\n\
         apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: h-1\n  namespace: ns\n  \
         labels: {{kubernetes.io/service-name: h}}\n  annotations: {{endpoints.kubernetes.io/last-change-trigger-time: \"{stamp}\"}}\n\
         addressType: IPv4\nendpoints:\n- addresses: [10.1.1.1]\n"
    );
    for object in objects("programming", &yaml) {
        writer.apply(Change::Upsert(object));
    }
    writer.publish();
    assert_eq!(family.with(&["headless_with_selector"]).count(), before + 1);
    let text = cairn_core::metrics::registry().encode();
    assert!(
        text.contains("coredns_kubernetes_dns_programming_duration_seconds_bucket{service_kind=\"headless_with_selector\",le=\"524.288\"}"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// xfr_test.go: the cluster zone as a transfer lists it
// ---------------------------------------------------------------------------------------------

impl Fixture {
    /// The records `transfer` would send for `zone`, as lines, in order.
    fn transfer(&self, zone: &str) -> Option<Vec<String>> {
        let zone = Name::parse(zone, None).expect("zone");
        let records = self.plugin.transferer()?.transfer(&zone)?;
        Some(lines(&records).iter().map(|l| normalize_line(l)).collect())
    }

    /// Checks a transfer against a zone text (one record per line, `SERIAL` for the serial;
    /// the closing SOA is the `transfer` plugin's and is not listed).
    fn check_transfer(&self, zone: &str, want: &str) {
        let serial = self.serial().to_string();
        let want: Vec<String> = want
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| normalize_line(&l.replace("SERIAL", &serial)))
            .collect();
        let got = self.transfer(zone).expect("authoritative");
        if got != want {
            let first = got
                .iter()
                .zip(&want)
                .position(|(g, w)| g != w)
                .unwrap_or(got.len().min(want.len()));
            panic!(
                "transfer of {zone} differs at record {first}\n got  {:#?}\n want {:#?}",
                got.get(first..),
                want.get(first..)
            );
        }
    }
}

/// CoreDNS's expected cluster zone (xfr_test.go) for its test cluster, plus the
/// `portless` service our fixture adds (an A record and no SRV).
const TRANSFERRED_ZONE: &str = "
cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. SERIAL 7200 1800 86400 5
cluster.local. 5 IN NS ns.dns.cluster.local.
ns.dns.cluster.local. 5 IN A 10.0.0.10
external.testns.svc.cluster.local. 5 IN CNAME ext.interwebs.test.
external-to-service.testns.svc.cluster.local. 5 IN CNAME svc1.testns.svc.cluster.local.
hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.2
172-0-0-2.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.2
_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 16 80 172-0-0-2.hdls1.testns.svc.cluster.local.
hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.3
172-0-0-3.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.3
_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 16 80 172-0-0-3.hdls1.testns.svc.cluster.local.
hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.4
dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.4
_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 16 80 dup-name.hdls1.testns.svc.cluster.local.
hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.5
dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.5
_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 16 80 dup-name.hdls1.testns.svc.cluster.local.
hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::1
5678-abcd--1.hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::1
_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 16 80 5678-abcd--1.hdls1.testns.svc.cluster.local.
hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::2
5678-abcd--2.hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::2
_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 16 80 5678-abcd--2.hdls1.testns.svc.cluster.local.
hdlsprtls.testns.svc.cluster.local. 5 IN A 172.0.0.20
172-0-0-20.hdlsprtls.testns.svc.cluster.local. 5 IN A 172.0.0.20
kubedns.kube-system.svc.cluster.local. 5 IN A 10.0.0.10
kubedns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 kubedns.kube-system.svc.cluster.local.
_dns._udp.kubedns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 kubedns.kube-system.svc.cluster.local.
portless.testns.svc.cluster.local. 5 IN A 10.0.0.4
svc-dual-stack.testns.svc.cluster.local. 5 IN A 10.0.0.3
svc-dual-stack.testns.svc.cluster.local. 5 IN AAAA 10::3
svc-dual-stack.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc-dual-stack.testns.svc.cluster.local.
_http._tcp.svc-dual-stack.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc-dual-stack.testns.svc.cluster.local.
svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1
svc1.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc1.testns.svc.cluster.local.
_http._tcp.svc1.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc1.testns.svc.cluster.local.
svc6.testns.svc.cluster.local. 5 IN AAAA 1234:abcd::1
svc6.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc6.testns.svc.cluster.local.
_http._tcp.svc6.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc6.testns.svc.cluster.local.
svcempty.testns.svc.cluster.local. 5 IN A 10.0.0.1
svcempty.testns.svc.cluster.local. 5 IN SRV 0 100 80 svcempty.testns.svc.cluster.local.
_http._tcp.svcempty.testns.svc.cluster.local. 5 IN SRV 0 100 80 svcempty.testns.svc.cluster.local.
";

#[test]
fn transfer_lists_the_cluster_zone_as_coredns() {
    let f = Fixture::build(
        "cluster.local {\n kubernetes {\n  namespaces testns kube-system\n }\n}",
        HANDLER,
        true,
        &["10.0.0.10"],
    );
    f.check_transfer("cluster.local.", TRANSFERRED_ZONE);
    // The zone's own spelling does not matter; other zones are not this plugin's.
    assert!(f.transfer("Cluster.Local.").is_some());
    assert!(f.transfer("example.com.").is_none());
    assert!(f.transfer("svc.cluster.local.").is_none());
}

#[test]
fn transfer_respects_namespaces_and_endpoint_pod_names() {
    let f = Fixture::build(
        "cluster.local {\n kubernetes {\n  namespaces kube-system\n  ttl 30\n }\n}",
        HANDLER,
        true,
        &["10.0.0.10"],
    );
    f.check_transfer(
        "cluster.local.",
        "
cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. SERIAL 7200 1800 86400 30
cluster.local. 30 IN NS ns.dns.cluster.local.
ns.dns.cluster.local. 30 IN A 10.0.0.10
kubedns.kube-system.svc.cluster.local. 30 IN A 10.0.0.10
kubedns.kube-system.svc.cluster.local. 30 IN SRV 0 100 53 kubedns.kube-system.svc.cluster.local.
_dns._udp.kubedns.kube-system.svc.cluster.local. 30 IN SRV 0 100 53 kubedns.kube-system.svc.cluster.local.
",
    );
}

#[test]
fn transfer_name_servers_are_listed_once_with_all_their_addresses() {
    // Dual stack with no Service of its own: one NS name, both addresses as glue.
    let f = Fixture::build(
        "cluster.local {\n kubernetes {\n  namespaces nothing-here\n }\n}",
        HANDLER,
        true,
        &["10.0.0.10", "fd00::10"],
    );
    f.check_transfer(
        "cluster.local.",
        "
cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. SERIAL 7200 1800 86400 5
cluster.local. 5 IN NS ns.dns.cluster.local.
ns.dns.cluster.local. 5 IN A 10.0.0.10
ns.dns.cluster.local. 5 IN AAAA fd00::10
",
    );
}

#[test]
fn transfer_of_a_multicluster_zone_lists_service_imports() {
    let f = Fixture::build(
        "clusterset.local {\n kubernetes {\n  namespaces testns\n  multicluster clusterset.local\n }\n}",
        MULTICLUSTER,
        true,
        &["10.0.0.10"],
    );
    f.check_transfer(
        "clusterset.local.",
        "
clusterset.local. 5 IN SOA ns.dns.clusterset.local. hostmaster.clusterset.local. SERIAL 7200 1800 86400 5
clusterset.local. 5 IN NS ns.dns.clusterset.local.
ns.dns.clusterset.local. 5 IN A 10.0.0.10
hdls1.testns.svc.clusterset.local. 5 IN A 172.0.0.2
172-0-0-2.hdls1.testns.svc.clusterset.local. 5 IN A 172.0.0.2
_http._tcp.hdls1.testns.svc.clusterset.local. 5 IN SRV 0 16 80 172-0-0-2.hdls1.testns.svc.clusterset.local.
hdls1.testns.svc.clusterset.local. 5 IN A 172.0.0.3
172-0-0-3.hdls1.testns.svc.clusterset.local. 5 IN A 172.0.0.3
_http._tcp.hdls1.testns.svc.clusterset.local. 5 IN SRV 0 16 80 172-0-0-3.hdls1.testns.svc.clusterset.local.
hdls1.testns.svc.clusterset.local. 5 IN A 172.0.0.4
dup-name.hdls1.testns.svc.clusterset.local. 5 IN A 172.0.0.4
_http._tcp.hdls1.testns.svc.clusterset.local. 5 IN SRV 0 16 80 dup-name.hdls1.testns.svc.clusterset.local.
hdls1.testns.svc.clusterset.local. 5 IN A 172.0.0.5
dup-name.hdls1.testns.svc.clusterset.local. 5 IN A 172.0.0.5
_http._tcp.hdls1.testns.svc.clusterset.local. 5 IN SRV 0 16 80 dup-name.hdls1.testns.svc.clusterset.local.
hdls1.testns.svc.clusterset.local. 5 IN AAAA 5678:abcd::1
5678-abcd--1.hdls1.testns.svc.clusterset.local. 5 IN AAAA 5678:abcd::1
_http._tcp.hdls1.testns.svc.clusterset.local. 5 IN SRV 0 16 80 5678-abcd--1.hdls1.testns.svc.clusterset.local.
hdls1.testns.svc.clusterset.local. 5 IN AAAA 5678:abcd::2
5678-abcd--2.hdls1.testns.svc.clusterset.local. 5 IN AAAA 5678:abcd::2
_http._tcp.hdls1.testns.svc.clusterset.local. 5 IN SRV 0 16 80 5678-abcd--2.hdls1.testns.svc.clusterset.local.
hdlsprtls.testns.svc.clusterset.local. 5 IN A 172.0.0.20
172-0-0-20.hdlsprtls.testns.svc.clusterset.local. 5 IN A 172.0.0.20
svc-dual-stack.testns.svc.clusterset.local. 5 IN A 10.0.0.3
svc-dual-stack.testns.svc.clusterset.local. 5 IN AAAA 10::3
svc-dual-stack.testns.svc.clusterset.local. 5 IN SRV 0 100 80 svc-dual-stack.testns.svc.clusterset.local.
_http._tcp.svc-dual-stack.testns.svc.clusterset.local. 5 IN SRV 0 100 80 svc-dual-stack.testns.svc.clusterset.local.
svc1.testns.svc.clusterset.local. 5 IN A 10.0.0.1
svc1.testns.svc.clusterset.local. 5 IN SRV 0 100 80 svc1.testns.svc.clusterset.local.
_http._tcp.svc1.testns.svc.clusterset.local. 5 IN SRV 0 100 80 svc1.testns.svc.clusterset.local.
",
    );
}

// ---------------------------------------------------------------------------------------------
// autopath_test.go (kubernetes side): the search path of a client pod
// ---------------------------------------------------------------------------------------------

/// A plugin over `yaml` with `host_search` as this host's search domains.
fn with_host_search(corefile: &str, yaml: &str, host_search: &[&str]) -> Arc<Kubernetes> {
    let opts = options(corefile).unwrap_or_else(|e| panic!("{e}"));
    let (store, mut writer) = Store::new(index_config(&opts));
    manifest::apply_all(&mut writer, objects("fixture", yaml));
    let mut k = Kubernetes::new(&opts, store, Vec::new());
    k.host_search = host_search
        .iter()
        .map(|d| Name::parse(d, None).expect("domain"))
        .collect();
    Arc::new(k)
}

fn search_path_of(k: &Kubernetes, qname: &str, client: &str) -> Option<Vec<String>> {
    use cairn_core::{request::Proto, testing::query_from, AutoPather};
    let req = query_from(qname, RType::A, client.parse().expect("addr"), Proto::Udp);
    k.search_path(&req)
        .map(|p| p.iter().map(|n| n.to_string()).collect())
}

#[test]
fn search_path_comes_from_the_client_pods_namespace() {
    const VERIFIED: &str = "cluster.local {\n kubernetes {\n  pods verified\n }\n}";
    let k = with_host_search(VERIFIED, HANDLER.yaml, &["corp.example.", "example."]);
    // Pod `foo` in `podns` has 10.240.0.1.
    assert_eq!(
        search_path_of(&k, "db.podns.svc.cluster.local.", "10.240.0.1:5353").unwrap(),
        [
            "podns.svc.cluster.local.",
            "svc.cluster.local.",
            "cluster.local.",
            "corp.example.",
            "example.",
            "."
        ]
    );
    // The same list is shared by the next query from that namespace.
    use cairn_core::{request::Proto, testing::query_from, AutoPather};
    let ask = || {
        let req = query_from(
            "x.cluster.local.",
            RType::A,
            "10.240.0.1:1".parse().unwrap(),
            Proto::Udp,
        );
        k.search_path(&req).expect("a path")
    };
    assert!(Arc::ptr_eq(&ask(), &ask()));
    // An IPv4-mapped client address is the same pod.
    assert!(search_path_of(&k, "x.cluster.local.", "[::ffff:10.240.0.1]:1").is_some());
    // No pod with that address, or a name outside the zones: no search path.
    assert_eq!(search_path_of(&k, "x.cluster.local.", "10.240.0.9:1"), None);
    assert_eq!(search_path_of(&k, "example.com.", "10.240.0.1:1"), None);

    // Only `pods verified` knows the client's pod.
    for mode in ["insecure", "disabled"] {
        let corefile = format!("cluster.local {{\n kubernetes {{\n  pods {mode}\n }}\n}}");
        let k = with_host_search(&corefile, HANDLER.yaml, &[]);
        assert_eq!(
            search_path_of(&k, "x.cluster.local.", "10.240.0.1:1"),
            None,
            "{mode}"
        );
    }
}

#[test]
fn search_path_in_the_root_zone() {
    let k = with_host_search(
        ". {\n kubernetes . {\n  pods verified\n }\n}",
        HANDLER.yaml,
        &[],
    );
    assert_eq!(
        search_path_of(&k, "x.podns.svc.", "10.240.0.1:1").unwrap(),
        ["podns.svc.", "svc.", "."]
            .iter()
            .chain(&["."])
            .copied()
            .collect::<Vec<_>>()
    );
}

#[test]
fn autopath_at_kubernetes_walks_the_pods_search_path() {
    const COREFILE: &str = "cluster.local {\n kubernetes {\n  pods verified\n }\n}";
    let k = with_host_search(COREFILE, HANDLER.yaml, &[]);
    let autopath = Arc::new(crate::autopath::AutoPath::new(
        vec![Name::parse("cluster.local.", None).unwrap()],
        crate::autopath::SearchSource::Plugin("kubernetes".into()),
    ));
    let next = StubNext::new(Rcode::NXDOMAIN);
    let chain = Chain::new(vec![autopath, k as Arc<dyn Plugin>, next]);
    use cairn_core::{request::Proto, testing::query_from};
    let ask = |qname: &str, client: &str| {
        let req = query_from(qname, RType::A, client.parse().unwrap(), Proto::Udp);
        let (req, result) = run(&chain, req);
        let m = result.expect("a reply");
        (on_the_wire(&req, &m), m)
    };
    // The pod in podns asks for svc1.testns as its resolver would first try it.
    let (wire, m) = ask("svc1.testns.podns.svc.cluster.local.", "10.240.0.1:1");
    assert_eq!(wire.rcode, Rcode::NOERROR);
    assert_eq!(
        lines(&m.answer)
            .iter()
            .map(|l| normalize_line(l))
            .collect::<Vec<_>>(),
        [
            "svc1.testns.podns.svc.cluster.local. 5 IN CNAME svc1.testns.svc.cluster.local.",
            "svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"
        ]
    );
    assert_eq!(
        wire.question
            .as_ref()
            .map(|q| q.name.to_string())
            .as_deref(),
        Some("svc1.testns.podns.svc.cluster.local.")
    );
    // From an address no pod has, the query is answered as asked: NXDOMAIN.
    let (wire, m) = ask("svc1.testns.podns.svc.cluster.local.", "10.9.9.9:1");
    assert_eq!(wire.rcode, Rcode::NXDOMAIN);
    assert!(m.answer.is_empty());
}
