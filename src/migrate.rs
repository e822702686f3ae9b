//! kube-dns ConfigMap to Corefile: what kubeadm did when it replaced kube-dns with CoreDNS,
//! for clusters that still carry a `kube-system/kube-dns` ConfigMap.
//!
//! kube-dns read three keys, each holding JSON text: `upstreamNameservers` (the servers for
//! names outside the cluster), `stubDomains` (servers per domain) and `federations`. kubeadm
//! translated the first two into its default Corefile and extra server blocks, and the rules
//! are kept here (see the spec's section 6):
//!
//! - `upstreamNameservers` become the targets of `forward .`; without the key, the node's
//!   `/etc/resolv.conf` is used;
//! - each stub domain becomes a `<domain>:53` block with `errors`, `cache 30`, `loop` and a
//!   `forward .` to its servers;
//! - servers given by host name are left out with a warning, because `forward` takes
//!   addresses; ports are kept.
//!
//! Where kubeadm produced a Corefile that cannot start, the translation does better: an
//! upstream list left empty falls back to `/etc/resolv.conf` (kubeadm wrote `forward .` with
//! no target), stub blocks come out sorted by domain instead of in Go's random map order, and
//! a server entry or domain that is not valid is an error naming it. `federations` cannot be
//! translated at all (the `federation` plugin left CoreDNS in 1.6.3 and Cairn has no
//! equivalent): they are reported as a warning and left out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use serde_json::Value;

/// The default cluster domain (`-dns.domain`).
pub const DEFAULT_DOMAIN: &str = "cluster.local";

/// Upstream when the ConfigMap names none.
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The keys kube-dns reads.
const KEYS: [&str; 3] = ["stubDomains", "upstreamNameservers", "federations"];

/// A translated ConfigMap: the Corefile text and what the operator should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub corefile: String,
    /// One line each, for standard error.
    pub warnings: Vec<String>,
}

/// Why a ConfigMap could not be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrateError {
    #[error("the kube-dns ConfigMap is not valid YAML: {0}")]
    Yaml(String),
    #[error("{0}")]
    Shape(String),
    #[error("{key}: {message}")]
    Key { key: &'static str, message: String },
    #[error(
        "invalid cluster domain {0:?} (-dns.domain): expected a DNS name such as cluster.local"
    )]
    Domain(String),
}

fn key_error(key: &'static str, message: impl Into<String>) -> MigrateError {
    MigrateError::Key {
        key,
        message: message.into(),
    }
}

/// Translates a kube-dns ConfigMap (a whole `ConfigMap` object as `kubectl get -o yaml` prints
/// it, or just its `data` map) into a Corefile for the cluster domain `domain`.
pub fn migrate(yaml: &str, domain: &str) -> Result<Migration, MigrateError> {
    let domain = normalise_domain(domain).ok_or_else(|| MigrateError::Domain(domain.into()))?;
    let data = config_data(yaml)?;
    let mut warnings = Vec::new();
    if !KEYS.iter().any(|k| data.contains_key(*k)) {
        warnings.push(format!(
            "the ConfigMap sets none of {}: the default Corefile is printed",
            KEYS.join(", ")
        ));
    }
    for key in data.keys() {
        if !KEYS.contains(&key.as_str()) {
            warnings.push(format!("key {key:?} is not a kube-dns setting; ignored"));
        }
    }

    let upstreams = match data.get("upstreamNameservers") {
        None | Some(Value::Null) => vec![RESOLV_CONF.to_string()],
        Some(v) => {
            let listed = string_list("upstreamNameservers", v)?;
            if listed.len() > 3 {
                warnings.push(format!(
                    "upstreamNameservers: kube-dns accepts at most 3 servers and would have \
                     ignored this ConfigMap; all {} are kept",
                    listed.len()
                ));
            }
            let kept = addresses_only("upstreamNameservers", &listed, &mut warnings)?;
            if kept.is_empty() {
                warnings.push(format!(
                    "upstreamNameservers: no server address is left; forwarding to the \
                     servers of {RESOLV_CONF} instead"
                ));
                vec![RESOLV_CONF.to_string()]
            } else {
                kept
            }
        }
    };

    let mut stubs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(v) = data.get("stubDomains").filter(|v| !v.is_null()) {
        for (name, servers) in string_map("stubDomains", v)? {
            let stub = normalise_domain(&name).ok_or_else(|| {
                key_error(
                    "stubDomains",
                    format!("{name:?} is not a valid domain name"),
                )
            })?;
            let servers = match &servers {
                Value::Array(_) => string_list("stubDomains", &servers)?,
                _ => {
                    return Err(key_error(
                        "stubDomains",
                        format!("the servers of {name:?} must be a list of addresses"),
                    ))
                }
            };
            let kept = addresses_only("stubDomains", &servers, &mut warnings)?;
            if kept.is_empty() {
                warnings.push(format!(
                    "stubDomains: {name} has no server address left; no server block is \
                     written for it"
                ));
                continue;
            }
            if stubs.insert(stub.clone(), kept).is_some() {
                return Err(key_error(
                    "stubDomains",
                    format!("{stub} is listed twice (names differ only in case or a final dot)"),
                ));
            }
        }
    }

    if let Some(v) = data.get("federations").filter(|v| !v.is_null()) {
        warnings.push(federation_warning(v, &domain));
    }

    Ok(Migration {
        corefile: render(&domain, &upstreams, &stubs),
        warnings,
    })
}

/// The `data` of the ConfigMap in `yaml`.
fn config_data(yaml: &str) -> Result<serde_json::Map<String, Value>, MigrateError> {
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(yaml).map_err(|e| MigrateError::Yaml(e.to_string()))?;
    let documents: Vec<Value> = documents.into_iter().filter(|d| !d.is_null()).collect();
    let document = match documents.len() {
        0 => {
            return Err(MigrateError::Shape(
                "the file holds no YAML document".into(),
            ))
        }
        1 => documents.into_iter().next().unwrap_or(Value::Null),
        n => documents
            .into_iter()
            .find(|d| {
                d.get("kind").and_then(Value::as_str) == Some("ConfigMap")
                    && d.pointer("/metadata/name").and_then(Value::as_str) == Some("kube-dns")
            })
            .ok_or_else(|| {
                MigrateError::Shape(format!(
                    "the file holds {n} documents and none is the ConfigMap named kube-dns"
                ))
            })?,
    };
    let Value::Object(mut object) = document else {
        return Err(MigrateError::Shape(
            "expected a ConfigMap or its data: a mapping of keys".into(),
        ));
    };
    let is_config_map = object.get("kind").and_then(Value::as_str) == Some("ConfigMap");
    if let Some(kind) = object.get("kind").and_then(Value::as_str) {
        if kind != "ConfigMap" {
            return Err(MigrateError::Shape(format!(
                "expected a ConfigMap, found a {kind}"
            )));
        }
    }
    match object.remove("data") {
        Some(Value::Object(data)) => Ok(data),
        Some(Value::Null) | None if is_config_map => Ok(serde_json::Map::new()),
        Some(_) => Err(MigrateError::Shape("data must be a mapping of keys".into())),
        None if KEYS.iter().any(|k| object.contains_key(*k)) => Ok(object),
        None => Err(MigrateError::Shape(format!(
            "neither a ConfigMap nor its data: found no data, {}",
            KEYS.join(", ")
        ))),
    }
}

/// A value kube-dns stores as JSON text; also accepted as YAML written in place.
fn decoded(key: &'static str, v: &Value) -> Result<Value, MigrateError> {
    match v {
        Value::String(text) => serde_json::from_str(text)
            .map_err(|e| key_error(key, format!("invalid JSON ({e}): {text}"))),
        other => Ok(other.clone()),
    }
}

fn string_list(key: &'static str, v: &Value) -> Result<Vec<String>, MigrateError> {
    match decoded(key, v)? {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.trim().to_string()),
                other => Err(key_error(
                    key,
                    format!("expected an address, found {other}"),
                )),
            })
            .collect(),
        other => Err(key_error(key, format!("expected a list, found {other}"))),
    }
}

fn string_map(key: &'static str, v: &Value) -> Result<Vec<(String, Value)>, MigrateError> {
    match decoded(key, v)? {
        Value::Object(map) => Ok(map.into_iter().collect()),
        other => Err(key_error(key, format!("expected a mapping, found {other}"))),
    }
}

/// Keeps the entries that are addresses (with an optional port), warns about host names and
/// refuses anything else.
fn addresses_only(
    key: &'static str,
    servers: &[String],
    warnings: &mut Vec<String>,
) -> Result<Vec<String>, MigrateError> {
    let mut kept = Vec::with_capacity(servers.len());
    for server in servers {
        let (host, port) = split_host_port(server)
            .ok_or_else(|| key_error(key, format!("{server:?} is not HOST or HOST:PORT")))?;
        if let Some(port) = port {
            match port.parse::<u16>() {
                Ok(p) if p > 0 => {}
                _ => {
                    return Err(key_error(
                        key,
                        format!("{server:?}: the port must be a number from 1 to 65535"),
                    ))
                }
            }
        }
        if host.parse::<IpAddr>().is_ok() {
            kept.push(server.clone());
        } else if normalise_domain(host).is_some() {
            warnings.push(format!(
                "{key}: {server} is a host name; it is left out because forward takes \
                 addresses (resolve it and list the address instead)"
            ));
        } else {
            return Err(key_error(
                key,
                format!("{server:?} is neither an address nor a host name"),
            ));
        }
    }
    Ok(kept)
}

/// `[v6]:port`, `host:port`, or a bare host (a bare IPv6 address has several colons).
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    match s.matches(':').count() {
        1 => s.split_once(':').map(|(h, p)| (h, Some(p))),
        _ => Some((s, None)),
    }
}

/// A DNS name in lower case without the final dot, or None when it is not a valid name
/// (labels of letters, digits and hyphens, 1 to 63 characters, 253 in all).
fn normalise_domain(name: &str) -> Option<String> {
    let name = name.trim().strip_suffix('.').unwrap_or(name.trim());
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    let ok = name.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    ok.then(|| name.to_ascii_lowercase())
}

/// Federation entries as kube-dns wrote them (`name=domain,...`) or as kubeadm decoded them
/// (a JSON object), for the warning.
fn federation_warning(v: &Value, cluster: &str) -> String {
    let entries: Vec<String> = match decoded("federations", v) {
        Ok(Value::Object(map)) => map
            .iter()
            .map(|(name, domain)| match domain {
                Value::String(d) => format!("{name}={d}"),
                other => format!("{name}={other}"),
            })
            .collect(),
        _ => match v {
            Value::String(text) => text
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect(),
            other => vec![other.to_string()],
        },
    };
    format!(
        "federations ({}) are not translated: the federation plugin left CoreDNS in 1.6.3 and \
         Cairn has no equivalent, so names such as <service>.<namespace>.<federation>.svc.{cluster} \
         will not resolve; serve them with another server block (for example file or forward)",
        entries.join(", ")
    )
}

/// The Corefile: kubeadm's template for the cluster, then one block per stub domain.
fn render(domain: &str, upstreams: &[String], stubs: &BTreeMap<String, Vec<String>>) -> String {
    let mut out = String::with_capacity(512 + 96 * stubs.len());
    let _ = write!(
        out,
        ".:53 {{
    errors
    health {{
       lameduck 5s
    }}
    ready
    kubernetes {domain} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus :9153
    forward . {}
    cache 30
    loop
    reload
    loadbalance
}}
",
        upstreams.join(" ")
    );
    for (stub, servers) in stubs {
        let _ = write!(
            out,
            "
{stub}:53 {{
    errors
    cache 30
    loop
    forward . {}
}}
",
            servers.join(" ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kubeadm's template for `cluster.local` with this forward line, then `stubs`.
    fn expected(forward: &str, stubs: &str) -> String {
        format!(
            ".:53 {{
    errors
    health {{
       lameduck 5s
    }}
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus :9153
    forward . {forward}
    cache 30
    loop
    reload
    loadbalance
}}
{stubs}"
        )
    }

    fn stub(domain: &str, servers: &str) -> String {
        format!(
            "
{domain}:53 {{
    errors
    cache 30
    loop
    forward . {servers}
}}
"
        )
    }

    /// A ConfigMap as `kubectl get configmap kube-dns -n kube-system -o yaml` prints it.
    fn config_map(data: &[(&str, &str)]) -> String {
        let mut y = String::from(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kube-dns\n  namespace: kube-system\n",
        );
        if !data.is_empty() {
            y.push_str("data:\n");
            for (k, v) in data {
                let _ = writeln!(y, "  {k}: |\n    {v}");
            }
        }
        y
    }

    fn run(data: &[(&str, &str)]) -> Migration {
        let m = migrate(&config_map(data), DEFAULT_DOMAIN).expect("translates");
        parses(&m.corefile);
        m
    }

    /// The Corefile parses with Cairn's parser and the directive names Cairn knows.
    fn parses(text: &str) {
        let names = cairn_plugins::registry::directive_names();
        let cf =
            cairn_corefile::parse("Corefile", text, &cairn_corefile::ParseOptions::new(&names))
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
        for block in &cf.blocks {
            for key in &block.keys {
                cairn_corefile::parse_key(&key.text).expect("a valid server block key");
            }
        }
    }

    #[test]
    fn without_settings_the_upstream_is_resolv_conf() {
        // kubeadm "expect resolv.conf" and "empty call" / "missing federations data".
        let m = run(&[]);
        assert_eq!(m.corefile, expected("/etc/resolv.conf", ""));
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        assert!(m.warnings[0].contains("default Corefile"));
        let m = migrate("data:\n", DEFAULT_DOMAIN);
        assert!(
            m.is_err(),
            "a data key with nothing under it is no ConfigMap"
        );
    }

    #[test]
    fn upstream_nameservers_become_the_forward_targets() {
        // kubeadm "expect list of Name Server IP addresses" (with stub domains beside).
        let m = run(&[
            (
                "stubDomains",
                r#"{"foo.com" : ["1.2.3.4:5300"], "my.cluster.local" : ["2.3.4.5"]}"#,
            ),
            (
                "upstreamNameservers",
                r#"["8.8.8.8", "8.8.4.4", "4.4.4.4"]"#,
            ),
        ]);
        let stubs = stub("foo.com", "1.2.3.4:5300") + &stub("my.cluster.local", "2.3.4.5");
        assert_eq!(m.corefile, expected("8.8.8.8 8.8.4.4 4.4.4.4", &stubs));
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        // "no stubDomains: expect list of Name Server IP addresses".
        let m = run(&[("upstreamNameservers", r#"["8.8.8.8", "8.8.4.4"]"#)]);
        assert_eq!(m.corefile, expected("8.8.8.8 8.8.4.4", ""));
        // "IPv6: expect list of Name Server IP addresses": ports and brackets kept.
        let m = run(&[(
            "upstreamNameservers",
            r#"["[2003::1]:53", "8.8.4.4", "2003::2"]"#,
        )]);
        assert_eq!(m.corefile, expected("[2003::1]:53 8.8.4.4 2003::2", ""));
    }

    #[test]
    fn host_names_are_left_out_with_a_warning() {
        // kubeadm "Hostname present: expect NameServer to omit the hostname".
        let m = run(&[(
            "upstreamNameservers",
            r#"["service.consul", "ns.foo.com", "8.8.4.4", "ns.moo.com", "ns.bar.com:53"]"#,
        )]);
        assert_eq!(m.corefile, expected("8.8.4.4", ""));
        assert_eq!(m.warnings.len(), 5, "{:?}", m.warnings);
        assert!(m.warnings[0].contains("at most 3"), "{:?}", m.warnings);
        assert!(m.warnings[1].contains("service.consul is a host name"));
        assert!(m.warnings[4].contains("ns.bar.com:53 is a host name"));
        // kubeadm "All hostnames: return empty" gave `forward .` with no target, which no
        // server accepts; the translation falls back to resolv.conf and says so.
        let m = run(&[("upstreamNameservers", r#"["service.consul", "ns.foo.com"]"#)]);
        assert_eq!(m.corefile, expected("/etc/resolv.conf", ""));
        assert!(m.warnings.last().unwrap().contains("/etc/resolv.conf"));
        let m = run(&[("upstreamNameservers", "[]")]);
        assert_eq!(m.corefile, expected("/etc/resolv.conf", ""));
    }

    #[test]
    fn stub_domains_become_server_blocks_in_name_order() {
        // kubeadm "valid call with multiple IPs": two blocks, in either order there; sorted here.
        let m = run(&[
            (
                "stubDomains",
                r#"{"my.cluster.local" : ["2.3.4.5"], "foo.com" : ["1.2.3.4:5300","3.3.3.3"]}"#,
            ),
            ("upstreamNameservers", r#"["8.8.8.8", "8.8.4.4"]"#),
        ]);
        let stubs = stub("foo.com", "1.2.3.4:5300 3.3.3.3") + &stub("my.cluster.local", "2.3.4.5");
        assert_eq!(m.corefile, expected("8.8.8.8 8.8.4.4", &stubs));

        // "If Hostname present: Omit Hostname"; a domain with only host names gets no block
        // ("All hostname: return empty").
        let m = run(&[
            (
                "stubDomains",
                r#"{"bar.com" : ["1.2.3.4:5300","service.consul"], "my.cluster.local" : ["2.3.4.5"], "foo.com" : ["service.consul"]}"#,
            ),
            ("upstreamNameservers", r#"["8.8.8.8", "8.8.4.4"]"#),
        ]);
        let stubs = stub("bar.com", "1.2.3.4:5300") + &stub("my.cluster.local", "2.3.4.5");
        assert_eq!(m.corefile, expected("8.8.8.8 8.8.4.4", &stubs));
        assert_eq!(m.warnings.len(), 3, "{:?}", m.warnings);
        assert!(m
            .warnings
            .iter()
            .any(|w| w.contains("foo.com has no server address")));

        let m = run(&[(
            "stubDomains",
            r#"{"foo.com" : ["service.consul"], "my.cluster.local" : ["ns.foo.com"]}"#,
        )]);
        assert_eq!(m.corefile, expected("/etc/resolv.conf", ""));
        // "missing stubDomains".
        let m = run(&[("upstreamNameservers", r#"["8.8.8.8", "8.8.4.4"]"#)]);
        assert!(!m
            .corefile
            .contains(":53 {\n    errors\n    cache 30\n    loop"));
    }

    #[test]
    fn stub_domain_names_are_normalised_and_checked() {
        let m = run(&[("stubDomains", r#"{"Acme.Example.": ["10.0.0.1"]}"#)]);
        assert!(m.corefile.ends_with(&stub("acme.example", "10.0.0.1")));
        for (bad, why) in [
            (r#"{".": ["10.0.0.1"]}"#, "not a valid domain"),
            (r#"{"a b": ["10.0.0.1"]}"#, "not a valid domain"),
            (r#"{"-a.com": ["10.0.0.1"]}"#, "not a valid domain"),
            (
                r#"{"a.com": ["10.0.0.1"], "A.com.": ["10.0.0.2"]}"#,
                "listed twice",
            ),
            (r#"{"a.com": "10.0.0.1"}"#, "must be a list"),
            (r#"{"a.com": ["10.0.0.1:0"]}"#, "port must be a number"),
            (r#"{"a.com": ["10.0.0.1:99999"]}"#, "port must be a number"),
            (r#"{"a.com": ["[::1"]}"#, "not HOST or HOST:PORT"),
            (
                r#"{"a.com": ["bad_name!"]}"#,
                "neither an address nor a host name",
            ),
            (r#"["a.com"]"#, "expected a mapping"),
            (r#"{"a.com": ["10.0.0.1"]"#, "invalid JSON"),
        ] {
            let err = migrate(&config_map(&[("stubDomains", bad)]), DEFAULT_DOMAIN)
                .expect_err(bad)
                .to_string();
            assert!(err.starts_with("stubDomains: "), "{bad}: {err}");
            assert!(err.contains(why), "{bad}: {err}");
        }
        let err = migrate(
            &config_map(&[("upstreamNameservers", r#"{"a": 1}"#)]),
            DEFAULT_DOMAIN,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("upstreamNameservers: expected a list"),
            "{err}"
        );
    }

    #[test]
    fn federations_are_reported_not_translated() {
        // kubeadm's "valid call" (JSON, as kubeadm decoded it) and kube-dns's own format.
        for (value, listed) in [
            (
                r#"{"foo" : "foo.feddomain.com", "bar" : "bar.feddomain.com"}"#,
                "(bar=bar.feddomain.com, foo=foo.feddomain.com)",
            ),
            (
                "foo=foo.feddomain.com,bar=bar.feddomain.com",
                "(foo=foo.feddomain.com, bar=bar.feddomain.com)",
            ),
        ] {
            let m = run(&[
                ("federations", value),
                (
                    "stubDomains",
                    r#"{"foo.com" : ["1.2.3.4:5300","3.3.3.3"], "my.cluster.local" : ["2.3.4.5"]}"#,
                ),
                ("upstreamNameservers", r#"["8.8.8.8", "8.8.4.4"]"#),
            ]);
            assert!(!m.corefile.contains("federation"), "{}", m.corefile);
            assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
            assert!(
                m.warnings[0].starts_with("federations "),
                "{:?}",
                m.warnings
            );
            assert!(m.warnings[0].contains(listed), "{:?}", m.warnings);
            assert!(
                m.warnings[0].contains(".svc.cluster.local"),
                "{:?}",
                m.warnings
            );
        }
    }

    #[test]
    fn the_cluster_domain_is_the_kubernetes_zone() {
        let m = migrate(&config_map(&[]), "Corp.Example.").unwrap();
        assert!(m
            .corefile
            .contains("    kubernetes corp.example in-addr.arpa ip6.arpa {\n"));
        parses(&m.corefile);
        assert_eq!(
            migrate(&config_map(&[]), "bad domain"),
            Err(MigrateError::Domain("bad domain".into()))
        );
    }

    #[test]
    fn accepted_inputs_configmap_data_only_and_inline_yaml() {
        let want = expected("1.1.1.1", &stub("corp.example", "10.0.0.53"));
        // A ConfigMap with quoted JSON strings.
        let quoted = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: kube-dns
  namespace: kube-system
data:
  upstreamNameservers: '["1.1.1.1"]'
  stubDomains: '{"corp.example": ["10.0.0.53"]}'
"#;
        // Only the data map, values written as YAML rather than JSON text.
        let data_only =
            "stubDomains:\n  corp.example:\n    - 10.0.0.53\nupstreamNameservers: [1.1.1.1]\n";
        // The data: key alone; several documents with the kube-dns ConfigMap among them.
        let data_key = "data:\n  upstreamNameservers: '[\"1.1.1.1\"]'\n  stubDomains: '{\"corp.example\": [\"10.0.0.53\"]}'\n";
        let multi = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata:\n  x: y\n---\n{quoted}"
        );
        for text in [quoted, data_only, data_key, multi.as_str()] {
            let m = migrate(text, DEFAULT_DOMAIN).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(m.corefile, want, "{text}");
            assert!(m.warnings.is_empty(), "{text}: {:?}", m.warnings);
        }
        // Unknown keys are named.
        let m = run(&[("upstreamNameservers", r#"["1.1.1.1"]"#), ("extra", "1")]);
        assert_eq!(
            m.warnings,
            vec!["key \"extra\" is not a kube-dns setting; ignored"]
        );
    }

    #[test]
    fn inputs_that_are_not_a_kube_dns_config_map() {
        for (text, why) in [
            ("", "no YAML document"),
            ("- a\n- b\n", "a mapping of keys"),
            ("foo: bar\n", "neither a ConfigMap nor its data"),
            (
                "kind: Service\nmetadata:\n  name: kube-dns\n",
                "found a Service",
            ),
            ("kind: ConfigMap\ndata: [1]\n", "data must be a mapping"),
            ("a: [\n", "not valid YAML"),
            ("a: 1\n---\nb: 2\n", "none is the ConfigMap named kube-dns"),
        ] {
            let err = migrate(text, DEFAULT_DOMAIN).expect_err(text).to_string();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn host_and_port_forms() {
        for (s, want) in [
            ("1.2.3.4", Some(("1.2.3.4", None))),
            ("1.2.3.4:53", Some(("1.2.3.4", Some("53")))),
            ("[2003::1]:53", Some(("2003::1", Some("53")))),
            ("[2003::1]", Some(("2003::1", None))),
            ("2003::1", Some(("2003::1", None))),
            ("ns.example:5353", Some(("ns.example", Some("5353")))),
            ("[2003::1]x", None),
            ("", None),
        ] {
            assert_eq!(split_host_port(s), want, "{s}");
        }
    }
}
