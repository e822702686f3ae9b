//! Parses `forward FROM TO... { ... }` lines, builds one handler per line (in Corefile
//! order, so a `next` rcode hands over to the following line) and registers each one's
//! health-check service.
//!
//! Every mistake is a setup error at the line of the offending token; the TO files and host
//! names are read here, once, so a reload is what picks up a changed resolv.conf.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_rustls::TlsConnector;

use cairn_core::duration;
use cairn_core::wire::{Name, Rcode};
use cairn_core::{SetupCtx, SetupError};
use cairn_corefile::{Directive, Token};

use super::health::{self, HealthCheck};
use super::metrics::ForwardMetrics;
use super::policy::{Policy, PolicyKind};
use super::pool::TlsDial;
use super::target::{self, Entry, Target};
use super::tls::{self, TlsFiles};
use super::upstream::{ConnSettings, Upstream};
use super::{lookup, Forward};

const DEFAULT_EXPIRE: Duration = Duration::from_secs(10);
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_HC_INTERVAL: Duration = Duration::from_millis(500);
const DEFAULT_MAX_FAILS: u32 = 2;
/// Default tries per query: two passes over the upstreams.
const ATTEMPTS_PER_UPSTREAM: u32 = 2;

/// Sets up every `forward` line of the block.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let directives = ctx.directives;
    for d in directives {
        let (forward, check) = parse(ctx, d)?;
        let forward = Arc::new(forward);
        let upstreams = forward.upstreams.clone();
        let wake = forward.wake.clone();
        let check = Arc::new(check);
        ctx.add_service(
            "forward",
            Box::new(move |shutdown| Box::pin(health::run(upstreams, check, wake, shutdown))),
        );
        ctx.add_plugin(forward);
    }
    Ok(())
}

/// The options of one `forward` line.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub from: Name,
    pub ignored: Vec<Name>,
    pub force_tcp: bool,
    pub prefer_udp: bool,
    pub expire: Duration,
    pub max_age: Duration,
    pub max_idle_conns: usize,
    pub read_timeout: Duration,
    pub max_fails: u32,
    pub max_connect_attempts: Option<u32>,
    /// The client configuration of a `tls` line (files read at parse time, so a bad file
    /// fails at its line).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub tls_servername: Option<String>,
    pub policy: PolicyKind,
    pub hc_interval: Duration,
    pub hc_recursion_desired: bool,
    pub hc_domain: Name,
    pub max_concurrent: u32,
    pub next: Vec<Rcode>,
    pub next_on_nodata: bool,
    pub failfast: bool,
    pub failover: Vec<Rcode>,
    pub source_address: Option<IpAddr>,
    pub resolver: Vec<SocketAddr>,
}

impl Options {
    fn new(from: Name) -> Options {
        Options {
            from,
            ignored: Vec::new(),
            force_tcp: false,
            prefer_udp: false,
            expire: DEFAULT_EXPIRE,
            max_age: Duration::ZERO,
            max_idle_conns: 0,
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_fails: DEFAULT_MAX_FAILS,
            max_connect_attempts: None,
            tls: None,
            tls_servername: None,
            policy: PolicyKind::Random,
            hc_interval: DEFAULT_HC_INTERVAL,
            hc_recursion_desired: true,
            hc_domain: Name::root(),
            max_concurrent: 0,
            next: Vec::new(),
            next_on_nodata: false,
            failfast: false,
            failover: Vec::new(),
            source_address: None,
            resolver: Vec::new(),
        }
    }
}

fn err(t: &Token, msg: impl std::fmt::Display) -> SetupError {
    t.error(format!("plugin/forward: {msg}"))
}

/// Parses one line and builds its handler and health checker.
pub(crate) fn parse(
    ctx: &SetupCtx<'_>,
    d: &Directive,
) -> Result<(Forward, HealthCheck), SetupError> {
    let (opts, targets) = parse_options(ctx, d)?;
    build(&opts, targets, d)
}

/// Parses one line into its options and upstream addresses (files read, names resolved).
pub(crate) fn parse_options(
    ctx: &SetupCtx<'_>,
    d: &Directive,
) -> Result<(Options, Vec<Target>), SetupError> {
    let [from_tok, tos @ ..] = d.args.as_slice() else {
        return Err(d.arg_count_error());
    };
    if tos.is_empty() {
        return Err(d.arg_count_error());
    }
    let from = normalize(from_tok)?;
    let mut o = Options::new(from);
    for opt in &d.block {
        parse_option(ctx, opt, &mut o)?;
    }
    if !o.max_age.is_zero() && o.max_age < o.expire {
        return Err(d.error(format!(
            "plugin/forward: max_age ({}) must not be less than expire ({})",
            duration::format_std(o.max_age),
            duration::format_std(o.expire)
        )));
    }

    let base = match &ctx.settings.root {
        Some(root) => root.clone(),
        None => ctx.config_dir.clone(),
    };
    let mut entries: Vec<(Entry, &Token)> = Vec::new();
    for t in tos {
        if let Some(e) = target::classify(&t.text, &base).map_err(|m| err(t, m))? {
            entries.push((e, t));
        }
    }
    let last = d.args.last().unwrap_or(&d.name);
    target::check_count(entries.len()).map_err(|m| err(last, m))?;
    let mut targets = Vec::new();
    for (e, t) in &entries {
        let expanded =
            target::expand(e, |host| lookup::lookup(host, &o.resolver)).map_err(|m| err(t, m))?;
        if let (Some(global), Some(own)) = (
            &o.tls_servername,
            expanded.iter().find_map(|x| x.server_name.as_ref()),
        ) {
            return Err(err(
                t,
                format!(
                    "both forward ('{global}') and proxy level ('{own}') TLS servernames are set for upstream proxy '{}'",
                    t.text
                ),
            ));
        }
        target::merge(&mut targets, expanded);
    }
    target::check_total(&targets).map_err(|m| err(last, m))?;
    Ok((o, targets))
}

/// Builds the handler from parsed options.
pub(crate) fn build(
    o: &Options,
    targets: Vec<Target>,
    d: &Directive,
) -> Result<(Forward, HealthCheck), SetupError> {
    let settings = ConnSettings {
        expire: o.expire,
        max_age: o.max_age,
        max_idle: o.max_idle_conns,
        read_timeout: o.read_timeout,
        source: o.source_address,
    };
    let connector = if targets.iter().any(|t| t.tls) {
        let config = match &o.tls {
            Some(c) => c.clone(),
            // `tls://` without a `tls` line: the system's CAs, no client certificate.
            None => TlsFiles::default()
                .client_config()
                .map_err(|m| d.error(format!("plugin/forward: {m}")))?,
        };
        Some(TlsConnector::from(config))
    } else {
        None
    };
    let mut upstreams = Vec::with_capacity(targets.len());
    for t in &targets {
        let tls = match (&connector, t.tls) {
            (Some(c), true) => {
                let configured = o.tls_servername.as_deref().or(t.server_name.as_deref());
                let name = tls::server_name(configured, t.addr.ip())
                    .map_err(|m| d.error(format!("plugin/forward: {m}")))?;
                Some(TlsDial {
                    connector: c.clone(),
                    name,
                })
            }
            _ => None,
        };
        upstreams.push(Arc::new(Upstream::new(t.addr, tls, settings)));
    }
    let n = u32::try_from(upstreams.len()).unwrap_or(u32::MAX);
    let forward = Forward {
        from: o.from.clone(),
        ignored: o.ignored.clone(),
        upstreams: upstreams.into(),
        policy: Policy::new(o.policy),
        force_tcp: o.force_tcp,
        prefer_udp: o.prefer_udp,
        max_fails: o.max_fails,
        max_connect_attempts: o
            .max_connect_attempts
            .unwrap_or(ATTEMPTS_PER_UPSTREAM.saturating_mul(n)),
        failfast: o.failfast,
        failover: o.failover.clone(),
        next_rcodes: o.next.clone(),
        next_on_nodata: o.next_on_nodata,
        max_concurrent: o.max_concurrent,
        concurrent: AtomicU32::new(0),
        metrics: ForwardMetrics::new(),
        wake: Arc::new(Notify::new()),
    };
    let check = HealthCheck {
        interval: o.hc_interval,
        recursion_desired: o.hc_recursion_desired,
        domain: o.hc_domain.clone(),
        tcp: o.force_tcp,
    };
    Ok((forward, check))
}

/// FROM or an `except` name as a zone (CIDRs become reverse zones); all the zones it
/// stands for.
fn zones_of(t: &Token) -> Result<Vec<Name>, SetupError> {
    let unable = || err(t, format!("unable to normalize '{}'", t.text));
    let addrs = cairn_corefile::parse_key(&t.text).map_err(|_| unable())?;
    let mut out = Vec::new();
    for a in addrs {
        let n = Name::parse(&a.zone, None).map_err(|_| unable())?;
        out.push(n.to_lowercase());
    }
    if out.is_empty() {
        return Err(unable());
    }
    Ok(out)
}

/// FROM: its first zone (a CIDR expanding to several uses only the first, as CoreDNS).
fn normalize(t: &Token) -> Result<Name, SetupError> {
    let zones = zones_of(t)?;
    if zones.len() > 1 {
        cairn_core::warning!(
            "forward",
            "Unsupported CIDR notation: '{}' expands to multiple zones. Using only '{}'.",
            t.text,
            zones[0]
        );
    }
    Ok(zones[0].clone())
}

/// The single argument of an option line.
fn one_arg(opt: &Directive) -> Result<&Token, SetupError> {
    match opt.args.as_slice() {
        [t] => Ok(t),
        _ => Err(opt.arg_count_error()),
    }
}

/// An option line without arguments.
fn no_args(opt: &Directive) -> Result<(), SetupError> {
    if opt.args.is_empty() {
        Ok(())
    } else {
        Err(opt.arg_count_error())
    }
}

fn parse_duration(t: &Token, what: &str) -> Result<Duration, SetupError> {
    duration::parse_std(&t.text)
        .map_err(|e| err(t, format!("{what}: {e}")))?
        .ok_or_else(|| err(t, format!("{what} can't be negative: {}", t.text)))
}

fn parse_u32(t: &Token, what: &str) -> Result<u32, SetupError> {
    t.text.parse::<u32>().map_err(|_| {
        err(
            t,
            format!("{what}: '{}' is not a non-negative integer", t.text),
        )
    })
}

/// `RCODE...` of `next` and `failover`.
fn parse_rcodes(opt: &Directive) -> Result<Vec<Rcode>, SetupError> {
    if opt.args.is_empty() {
        return Err(opt.arg_count_error());
    }
    opt.args
        .iter()
        .map(|t| {
            rcode_from_name(&t.text)
                .ok_or_else(|| err(t, format!("{} is not a valid rcode", t.text)))
        })
        .collect()
}

/// An rcode by the names miekg/dns knows (`BADSIG` and `BADVERS` are both 16).
fn rcode_from_name(s: &str) -> Option<Rcode> {
    Rcode::from_miekg_name(&s.to_ascii_uppercase())
}

fn parse_option(ctx: &SetupCtx<'_>, opt: &Directive, o: &mut Options) -> Result<(), SetupError> {
    if opt.has_block {
        return Err(opt.unknown_property());
    }
    match opt.name.text.as_str() {
        "except" => {
            if opt.args.is_empty() {
                return Err(opt.arg_count_error());
            }
            for t in &opt.args {
                o.ignored.extend(zones_of(t)?);
            }
        }
        "force_tcp" => {
            no_args(opt)?;
            o.force_tcp = true;
        }
        "prefer_udp" => {
            no_args(opt)?;
            o.prefer_udp = true;
        }
        "expire" => o.expire = parse_duration(one_arg(opt)?, "expire")?,
        "max_age" => o.max_age = parse_duration(one_arg(opt)?, "max_age")?,
        "max_idle_conns" => {
            let t = one_arg(opt)?;
            o.max_idle_conns = t.text.parse::<usize>().map_err(|_| {
                err(
                    t,
                    format!("max_idle_conns: '{}' is not a non-negative integer", t.text),
                )
            })?;
        }
        "read_timeout" => {
            let t = one_arg(opt)?;
            let d = parse_duration(t, "read_timeout")?;
            if d.is_zero() {
                return Err(err(t, format!("read_timeout must be positive: {}", t.text)));
            }
            o.read_timeout = d;
        }
        "max_fails" => o.max_fails = parse_u32(one_arg(opt)?, "max_fails")?,
        "max_connect_attempts" => {
            o.max_connect_attempts = Some(parse_u32(one_arg(opt)?, "max_connect_attempts")?);
        }
        "health_check" => {
            let [interval, rest @ ..] = opt.args.as_slice() else {
                return Err(opt.arg_count_error());
            };
            o.hc_interval = parse_duration(interval, "health_check")?;
            o.hc_domain = Name::root();
            let mut it = rest.iter();
            while let Some(t) = it.next() {
                match t.text.as_str() {
                    "no_rec" => o.hc_recursion_desired = false,
                    "domain" => {
                        let Some(name) = it.next() else {
                            return Err(opt.arg_count_error());
                        };
                        o.hc_domain = Name::parse(&name.text, None)
                            .map_err(|_| {
                                err(
                                    name,
                                    format!("health_check: invalid domain name {}", name.text),
                                )
                            })?
                            .to_lowercase();
                    }
                    other => return Err(err(t, format!("health_check: unknown option {other}"))),
                }
            }
        }
        "tls" => {
            if opt.args.len() > 3 {
                return Err(opt.arg_count_error());
            }
            let files: Vec<PathBuf> = opt.args.iter().map(|t| ctx.resolve_path(&t.text)).collect();
            let files = TlsFiles::from_args(files).map_err(|m| err(&opt.name, m))?;
            o.tls = Some(files.client_config().map_err(|m| err(&opt.name, m))?);
        }
        "tls_servername" => o.tls_servername = Some(one_arg(opt)?.text.clone()),
        "policy" => {
            let t = one_arg(opt)?;
            o.policy = PolicyKind::from_name(&t.text)
                .ok_or_else(|| err(t, format!("unknown policy '{}'", t.text)))?;
        }
        "max_concurrent" => o.max_concurrent = parse_u32(one_arg(opt)?, "max_concurrent")?,
        "next" => o.next = parse_rcodes(opt)?,
        "next_on_nodata" => {
            no_args(opt)?;
            o.next_on_nodata = true;
        }
        "failfast_all_unhealthy_upstreams" => {
            no_args(opt)?;
            o.failfast = true;
        }
        "failover" => {
            let codes = parse_rcodes(opt)?;
            if let Some(pos) = codes.iter().position(|c| *c == Rcode::NOERROR) {
                return Err(err(&opt.args[pos], "NoError cannot be used in failover"));
            }
            o.failover = codes;
        }
        "source_address" => {
            let t = one_arg(opt)?;
            let ip: IpAddr = t
                .text
                .parse()
                .map_err(|_| err(t, format!("invalid IP address: {}", t.text)))?;
            o.source_address = Some(match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                v4 => v4,
            });
        }
        "resolver" => {
            if opt.args.is_empty() {
                return Err(opt.arg_count_error());
            }
            o.resolver = opt
                .args
                .iter()
                .map(|t| {
                    target::parse_ip_port(&t.text, 53).ok_or_else(|| {
                        err(
                            t,
                            format!("resolver must be an IP address or IP:port: {:?}", t.text),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        "doh_method" => {
            let t = one_arg(opt)?;
            if t.text != "GET" && t.text != "POST" {
                return Err(err(t, "doh_method must be either GET or POST"));
            }
        }
        _ => return Err(opt.unknown_property()),
    }
    Ok(())
}
