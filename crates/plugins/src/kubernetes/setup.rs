//! Parses `kubernetes [ZONES...] { ... }` with CoreDNS's argument rules, starts the object
//! source (API server or manifest files) as a background service, and registers the handler,
//! its readiness and the startup gate that holds listeners back until the index synced.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn_core::wire::Name;
use cairn_core::zones::Fallthrough;
use cairn_core::{duration, SetupCtx, SetupError};
use cairn_corefile::Directive;

use cairn_core::setup::Shutdown;
use cairn_k8s::{manifest, IndexConfig, ManifestSource, Selector, Store};

use super::source::{
    start_api_source, ApiSettings, ClientTls, Kubeconfig, WatchKinds, MANIFEST_POLL,
};
use super::{local_addrs, metrics, search_path, startup, Kubernetes};

/// Default TTL of generated records.
const DEFAULT_TTL: u32 = 5;
/// The resolver configuration whose search domains end every pod's search path (autopath).
const HOST_RESOLV_CONF: &str = "/etc/resolv.conf";
/// Largest `ttl` accepted.
const MAX_TTL: u32 = 3600;
/// Default `startup_timeout`.
const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(5);

/// How pod names (`<ip>.<ns>.pod.<zone>`) are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodMode {
    /// Never (NXDOMAIN).
    Disabled,
    /// Any well-formed IP label, without looking at pods.
    Insecure,
    /// Only IPs of watched pods in that namespace.
    Verified,
}

/// The parsed configuration of one `kubernetes` directive.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Zones served, lower case, in the order given.
    pub zones: Vec<Name>,
    /// Index in `zones` of the first non-reverse zone (suffix of PTR targets).
    pub primary_zone: usize,
    pub api: ApiSettings,
    /// `namespaces`: only these are served (empty = all).
    pub namespaces: Vec<String>,
    pub pods: PodMode,
    pub endpoint_pod_names: bool,
    pub ttl: u32,
    pub noendpoints: bool,
    pub fall: Fallthrough,
    pub ignore_empty_service: bool,
    /// Zones answered from ServiceImports.
    pub multicluster: Vec<Name>,
    pub zonal: bool,
    pub startup_timeout: Duration,
    /// `manifests`: read objects from these files instead of the API server.
    pub manifests: Vec<PathBuf>,
}

/// `plugin/kubernetes: <message>` at the given line.
fn err(d: &Directive, message: impl std::fmt::Display) -> SetupError {
    d.error(format!("plugin/kubernetes: {message}"))
}

/// Checks a label selector the way the watches will use it; returns the text as written.
fn selector(d: &Directive, what: &str) -> Result<String, SetupError> {
    if d.args.is_empty() {
        return Err(d.arg_count_error());
    }
    let text = d.arg_texts().join(" ");
    Selector::parse(&text).map_err(|e| {
        err(
            d,
            format_args!("unable to parse {what} selector value: '{text}': {e}"),
        )
    })?;
    Ok(text)
}

/// A non-negative integer option (`apiserver_burst`, `apiserver_max_inflight`).
fn non_negative(d: &Directive) -> Result<u32, SetupError> {
    let [arg] = d.args.as_slice() else {
        return Err(d.arg_count_error());
    };
    let name = &d.name.text;
    let value: i64 = arg
        .text
        .parse()
        .map_err(|_| err(d, format_args!("invalid {name} \"{}\"", arg.text)))?;
    if value < 0 {
        return Err(err(d, format_args!("{name} must be >= 0")));
    }
    u32::try_from(value).map_err(|_| err(d, format_args!("invalid {name} \"{}\"", arg.text)))
}

/// Reads the directive's zones and block. Pure parsing: nothing is started.
pub(crate) fn parse_options(ctx: &SetupCtx<'_>) -> Result<Options, SetupError> {
    if let Some(d) = ctx.directives.get(1) {
        return Err(d.error("this plugin can only be used once per Server Block"));
    }
    let d = ctx.first();
    let zones = ctx.zones_or_block(&d.args)?;
    let Some(primary_zone) = zones
        .iter()
        .position(|z| !super::name::is_reverse(z.wire()) && !is_reverse_apex(z))
    else {
        return Err(err(d, "non-reverse zone name must be used"));
    };

    let mut o = Options {
        zones,
        primary_zone,
        api: ApiSettings {
            endpoint: None,
            tls: None,
            kubeconfig: None,
            qps: 0.0,
            burst: 0,
            max_inflight: 0,
            label_selector: None,
            namespace_selector: None,
            watch: WatchKinds {
                endpoint_slices: true,
                pods: false,
                service_imports: false,
            },
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        },
        namespaces: Vec::new(),
        pods: PodMode::Disabled,
        endpoint_pod_names: false,
        ttl: DEFAULT_TTL,
        noendpoints: false,
        fall: Fallthrough::none(),
        ignore_empty_service: false,
        multicluster: Vec::new(),
        zonal: false,
        startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        manifests: Vec::new(),
    };

    for opt in &d.block {
        let args = &opt.args;
        match opt.name.text.as_str() {
            "endpoint_pod_names" => {
                if !args.is_empty() {
                    return Err(opt.arg_count_error());
                }
                o.endpoint_pod_names = true;
            }
            "pods" => {
                let [mode] = args.as_slice() else {
                    return Err(opt.arg_count_error());
                };
                o.pods = match mode.text.as_str() {
                    "disabled" => PodMode::Disabled,
                    "insecure" => PodMode::Insecure,
                    "verified" => PodMode::Verified,
                    other => {
                        return Err(err(
                            opt,
                            format_args!(
                                "wrong value for pods: {other}, must be one of: disabled, verified, insecure"
                            ),
                        ))
                    }
                };
            }
            "namespaces" => {
                if args.is_empty() {
                    return Err(opt.arg_count_error());
                }
                for a in args {
                    if !o.namespaces.contains(&a.text) {
                        o.namespaces.push(a.text.clone());
                    }
                }
            }
            "endpoint" => {
                let Some(first) = args.first() else {
                    return Err(opt.arg_count_error());
                };
                if args.len() > 1 {
                    cairn_core::warning!(
                        "kubernetes",
                        "Multiple endpoints have been deprecated, only the first specified endpoint '{}' is used",
                        first.text
                    );
                }
                o.api.endpoint = Some(first.text.clone());
            }
            "tls" => {
                let [cert, key, ca] = args.as_slice() else {
                    return Err(opt.arg_count_error());
                };
                o.api.tls = Some(ClientTls {
                    cert: PathBuf::from(&cert.text),
                    key: PathBuf::from(&key.text),
                    ca: PathBuf::from(&ca.text),
                });
            }
            "labels" => o.api.label_selector = Some(selector(opt, "label")?),
            "namespace_labels" => {
                o.api.namespace_selector = Some(selector(opt, "namespace_label")?);
            }
            "fallthrough" => o.fall = Fallthrough::parse(args)?,
            "ttl" => {
                let Some(t) = args.first() else {
                    return Err(opt.arg_count_error());
                };
                let ttl: i64 = t
                    .text
                    .parse()
                    .map_err(|_| err(opt, format_args!("invalid ttl \"{}\"", t.text)))?;
                o.ttl = u32::try_from(ttl)
                    .ok()
                    .filter(|v| *v <= MAX_TTL)
                    .ok_or_else(|| {
                        err(opt, format_args!("ttl must be in range [0, 3600]: {ttl}"))
                    })?;
            }
            "noendpoints" => {
                if !args.is_empty() {
                    return Err(opt.arg_count_error());
                }
                o.noendpoints = true;
            }
            "zonal" => {
                if !args.is_empty() {
                    return Err(opt.arg_count_error());
                }
                o.zonal = true;
            }
            "ignore" => {
                // `ignore` alone is accepted and does nothing, as in CoreDNS.
                if let Some(what) = args.first() {
                    if what.text != "empty_service" {
                        return Err(err(
                            opt,
                            format_args!("unable to parse ignore value: '{}'", what.text),
                        ));
                    }
                    o.ignore_empty_service = true;
                }
            }
            "kubeconfig" => {
                let (path, context) = match args.as_slice() {
                    [path] => (path, None),
                    [path, context] => (path, Some(context.text.clone())),
                    _ => return Err(opt.arg_count_error()),
                };
                o.api.kubeconfig = Some(Kubeconfig {
                    path: PathBuf::from(&path.text),
                    context,
                });
            }
            "multicluster" => {
                o.multicluster = if args.is_empty() {
                    Vec::new()
                } else {
                    ctx.zones_or_block(args)?
                };
            }
            "startup_timeout" => {
                let Some(t) = args.first() else {
                    return Err(opt.arg_count_error());
                };
                let nanos = duration::parse(&t.text).map_err(|e| {
                    err(
                        opt,
                        format_args!("failed to parse startup_timeout: {}, {e}", t.text),
                    )
                })?;
                let nanos = u64::try_from(nanos)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        err(
                            opt,
                            format_args!("startup_timeout must be positive: {}", t.text),
                        )
                    })?;
                o.startup_timeout = Duration::from_nanos(nanos);
            }
            "apiserver_qps" => {
                let [q] = args.as_slice() else {
                    return Err(opt.arg_count_error());
                };
                let qps: f32 = q
                    .text
                    .parse()
                    .map_err(|_| err(opt, format_args!("invalid apiserver_qps \"{}\"", q.text)))?;
                if qps.is_nan() || qps < 0.0 {
                    return Err(err(opt, "apiserver_qps must be >= 0"));
                }
                o.api.qps = qps;
            }
            "apiserver_burst" => o.api.burst = non_negative(opt)?,
            "apiserver_max_inflight" => o.api.max_inflight = non_negative(opt)?,
            "manifests" => {
                if args.is_empty() {
                    return Err(opt.arg_count_error());
                }
                o.manifests
                    .extend(args.iter().map(|a| ctx.resolve_path(&a.text)));
            }
            _ => return Err(opt.unknown_property()),
        }
    }

    if !o.namespaces.is_empty() && o.api.namespace_selector.is_some() {
        return Err(err(d, "namespaces and namespace_labels cannot both be set"));
    }
    for mc in &o.multicluster {
        if !o.zones.iter().any(|z| z == mc) {
            let zones: Vec<String> = o.zones.iter().map(ToString::to_string).collect();
            return Err(err(
                d,
                format_args!(
                    "is not authoritative for the multicluster zone {mc} (authoritative zones: [{}])",
                    zones.join(" ")
                ),
            ));
        }
    }
    if o.zonal && o.noendpoints {
        return Err(err(
            d,
            "zonal requires the endpoint cache; remove noendpoints",
        ));
    }
    o.api.watch = WatchKinds {
        endpoint_slices: !o.noendpoints,
        pods: o.pods == PodMode::Verified,
        service_imports: !o.multicluster.is_empty(),
    };
    o.api.startup_timeout = o.startup_timeout;
    Ok(o)
}

/// `in-addr.arpa.` and `ip6.arpa.` themselves are reverse zones too.
fn is_reverse_apex(zone: &Name) -> bool {
    let w = zone.wire();
    w == b"\x07in-addr\x04arpa\x00" || w == b"\x03ip6\x04arpa\x00"
}

/// The index configuration the options ask for.
pub(crate) fn index_config(o: &Options) -> IndexConfig {
    // Both selectors were checked while parsing; an unparsable one cannot reach here.
    let parse = |text: &Option<String>| {
        text.as_deref()
            .and_then(|t| Selector::parse(t).ok())
            .unwrap_or_else(Selector::everything)
    };
    IndexConfig {
        labels: parse(&o.api.label_selector),
        namespace_labels: parse(&o.api.namespace_selector),
        pods: o.pods == PodMode::Verified,
        all_pod_ips: false,
        endpoints: !o.noendpoints,
        zones: o.zonal,
        multicluster: !o.multicluster.is_empty(),
    }
}

/// Sets up `kubernetes` (once per block): parses, starts the source, adds the handler and
/// the startup gate.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let options = parse_options(ctx)?;
    let d = ctx.first();
    let (store, mut writer) = Store::new(index_config(&options));
    metrics::observe_programming(&mut writer);

    if options.manifests.is_empty() {
        let (source_shutdown, trigger) = Shutdown::new();
        let source = start_api_source(options.api.clone(), writer, source_shutdown)
            .map_err(|e| err(d, e))?;
        ctx.add_service(
            "kubernetes",
            Box::new(move |mut shutdown: Shutdown| {
                Box::pin(async move {
                    let stop = async move {
                        shutdown.wait().await;
                        trigger.fire();
                    };
                    tokio::join!(source, stop);
                })
            }),
        );
    } else {
        // Read the files once now, so a missing or broken manifest is a Corefile error;
        // the service then keeps them in step.
        let objects = manifest::load(&options.manifests).map_err(|e| err(d, e))?;
        manifest::apply_all(&mut writer, objects);
        let source = ManifestSource {
            paths: options.manifests.clone(),
            interval: MANIFEST_POLL,
        };
        ctx.add_service(
            "kubernetes",
            Box::new(move |mut shutdown: Shutdown| {
                Box::pin(async move {
                    source
                        .run(writer, async move { shutdown.wait().await }, |e| {
                            cairn_core::warning!("kubernetes", "{e}");
                        })
                        .await;
                })
            }),
        );
    }

    ctx.add_startup_gate(
        "kubernetes",
        startup::gate(store.clone(), options.startup_timeout),
    );
    let bind: Vec<String> = ctx
        .settings
        .bind
        .iter()
        .flat_map(|l| l.addrs.clone())
        .collect();
    let except: Vec<String> = ctx
        .settings
        .bind
        .iter()
        .flat_map(|l| l.except.clone())
        .collect();
    let local = local_addrs::local_ips(&bind, &except);
    let mut plugin = Kubernetes::new(&options, store, local);
    plugin.host_search = search_path::host_search_domains(Path::new(HOST_RESOLV_CONF));
    ctx.add_plugin(Arc::new(plugin));
    Ok(())
}
