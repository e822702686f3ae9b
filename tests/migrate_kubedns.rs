//! `cairn -migrate-kubedns`: a kube-dns ConfigMap in, the equivalent Corefile out (warnings
//! on standard error), and that Corefile accepted by `cairn -validate` as far as the plugins
//! implemented today can tell.

mod common;

use std::time::Duration;

use common::*;

const CONFIG_MAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: kube-dns
  namespace: kube-system
data:
  stubDomains: |
    {"acme.local": ["1.2.3.4", "ns.acme.local"], "corp.example": ["10.0.0.53:5353", "[2001:db8::53]:53"]}
  upstreamNameservers: |
    ["8.8.8.8", "8.8.4.4"]
  federations: myfed=example.com
"#;

const EXPECTED: &str = ".:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . 8.8.8.8 8.8.4.4
    cache 30
    loop
    reload
    loadbalance
}

acme.local:53 {
    errors
    cache 30
    loop
    forward . 1.2.3.4
}

corp.example:53 {
    errors
    cache 30
    loop
    forward . 10.0.0.53:5353 [2001:db8::53]:53
}
";

fn run(args: &[&str], dir: &TempDir, stdin: Option<&str>) -> (i32, String, String) {
    let (status, out, err, _) = run_cairn(args, dir.path(), stdin, Duration::from_secs(10));
    let code = status
        .and_then(|s| s.code())
        .expect("cairn exits by itself");
    (code, out, err)
}

#[test]
fn a_config_map_file_becomes_a_corefile_with_warnings() {
    let dir = TempDir::new("migrate");
    let cm = dir.write("kube-dns.yaml", CONFIG_MAP);
    let (code, out, err) = run(&["-migrate-kubedns", &cm.to_string_lossy()], &dir, None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, EXPECTED);
    let warnings: Vec<&str> = err.lines().collect();
    assert_eq!(warnings.len(), 2, "{err}");
    assert!(
        warnings[0].starts_with("[WARNING] stubDomains: ns.acme.local is a host name"),
        "{err}"
    );
    assert!(
        warnings[1].starts_with("[WARNING] federations (myfed=example.com) are not translated"),
        "{err}"
    );

    // What the implemented plugins can check, they accept: no syntax error, no bad option.
    // Directives still being written (forward, cache, loop, loadbalance) are refused as not
    // supported yet, and kubernetes wants a cluster; nothing else may be reported.
    let corefile = dir.write("Corefile", &out);
    let (_, _, errors) = run(
        &["-validate", "-conf", &corefile.to_string_lossy()],
        &dir,
        None,
    );
    for line in errors.lines() {
        assert!(
            line.contains("not supported by Cairn yet")
                || line.contains("plugin/kubernetes: no endpoint or kubeconfig given"),
            "the translated Corefile has an error: {line}\n{out}"
        );
    }
}

#[test]
fn standard_input_and_the_cluster_domain_flag() {
    let dir = TempDir::new("migrate");
    let data = "upstreamNameservers: '[\"1.1.1.1\"]'\n";
    let (code, out, err) = run(
        &["-migrate-kubedns", "-", "-dns.domain=corp.internal"],
        &dir,
        Some(data),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    assert!(
        out.contains("    kubernetes corp.internal in-addr.arpa ip6.arpa {\n"),
        "{out}"
    );
    assert!(out.contains("    forward . 1.1.1.1\n"), "{out}");
}

#[test]
fn a_bad_config_map_is_an_error_and_prints_nothing() {
    let dir = TempDir::new("migrate");
    let cm = dir.write(
        "kube-dns.yaml",
        "kind: ConfigMap\ndata:\n  stubDomains: '{\"a.com\": [\"10.0.0.1:99999\"]}'\n",
    );
    let (code, out, err) = run(&["-migrate-kubedns", &cm.to_string_lossy()], &dir, None);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("stubDomains: \"10.0.0.1:99999\": the port"),
        "{err}"
    );

    let (code, _, err) = run(&["-migrate-kubedns", "missing.yaml"], &dir, None);
    assert_eq!(code, 1);
    assert!(err.contains("reading missing.yaml"), "{err}");

    let (code, _, err) = run(&["-dns.domain", "corp.internal"], &dir, None);
    assert_eq!(code, 1);
    assert!(err.contains("only used with -migrate-kubedns"), "{err}");
}
