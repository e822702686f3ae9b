//! Parses `cache [TTL] [ZONES...] { success; denial; prefetch; serve_stale;
//! serve_stale_policy; servfail; disable; keepttl }` with CoreDNS's defaults and limits, and
//! registers the handler.

use std::sync::Arc;
use std::time::Duration;

use cairn_core::duration;
use cairn_core::wire::Name;
use cairn_core::{SetupCtx, SetupError};
use cairn_corefile::{Directive, Token};

use super::Cache;

/// Default capacity of each of the two caches.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;
/// Longest positive TTL by default (seconds).
const MAX_TTL: u32 = 3600;
/// Longest negative TTL by default (seconds).
const MAX_NEGATIVE_TTL: u32 = 1800;
/// Shortest TTL by default, both caches (seconds).
const MIN_TTL: u32 = 5;
/// SERVFAIL may be cached at most this long (RFC 2308 7.1).
const MAX_SERVFAIL: Duration = Duration::from_secs(300);
/// Longest wait between failed refreshes of a stale entry.
const MAX_STALE_RECHECK: Duration = Duration::from_secs(300);

/// The cache's settings.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub zones: Vec<Name>,
    pub success_capacity: usize,
    pub success_max: u32,
    pub success_min: u32,
    pub denial_capacity: usize,
    pub denial_max: u32,
    pub denial_min: u32,
    /// How long SERVFAIL/NOTIMP replies are kept (0: not at all).
    pub servfail: Duration,
    /// Hits that make an entry worth refreshing (0: no prefetch).
    pub prefetch: u32,
    /// Longest gap between hits that still counts as a run.
    pub prefetch_window: Duration,
    /// Refresh once less than this percentage of the TTL is left.
    pub prefetch_percentage: u32,
    /// How long expired entries are still served (0: not at all).
    pub stale_up_to: Duration,
    /// `serve_stale ... verify`: ask again before serving stale.
    pub verify_stale: bool,
    /// How long a verification may take before stale data is served (0: as long as it takes).
    pub verify_timeout: Duration,
    /// TTL of stale answers (0: 0, or the stored TTL with `keepttl`).
    pub stale_ttl: u32,
    /// After a failed refresh of a stale entry, no new one for this long (0: no limit).
    pub stale_recheck: Duration,
    /// `serve_stale_policy prefer_positive`.
    pub prefer_positive: bool,
    /// Zones whose positive answers are not cached.
    pub disable_success: Vec<Name>,
    /// Zones whose negative answers are not cached.
    pub disable_denial: Vec<Name>,
    /// Serve the stored TTL instead of the remaining one.
    pub keepttl: bool,
}

impl Config {
    /// CoreDNS's defaults for `zones`.
    pub(crate) fn new(zones: Vec<Name>) -> Config {
        Config {
            zones,
            success_capacity: DEFAULT_CAPACITY,
            success_max: MAX_TTL,
            success_min: MIN_TTL,
            denial_capacity: DEFAULT_CAPACITY,
            denial_max: MAX_NEGATIVE_TTL,
            denial_min: MIN_TTL,
            servfail: Duration::from_secs(u64::from(MIN_TTL)),
            prefetch: 0,
            prefetch_window: Duration::from_secs(60),
            prefetch_percentage: 10,
            stale_up_to: Duration::ZERO,
            verify_stale: false,
            verify_timeout: Duration::ZERO,
            stale_ttl: 0,
            stale_recheck: Duration::ZERO,
            prefer_positive: false,
            disable_success: Vec::new(),
            disable_denial: Vec::new(),
            keepttl: false,
        }
    }

    /// The `zones` metric label: the zones joined by commas.
    pub(crate) fn zones_label(&self) -> String {
        self.zones
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Sets up `cache` (once per block).
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let config = parse(ctx)?;
    ctx.add_plugin(Arc::new(Cache::new(config)));
    Ok(())
}

/// Reads the directive into a [`Config`].
pub(crate) fn parse(ctx: &SetupCtx<'_>) -> Result<Config, SetupError> {
    if let Some(d) = ctx.directives.get(1) {
        return Err(d.error("plugin/cache: this plugin can only be used once per Server Block"));
    }
    let d = ctx.first();
    let mut args = &d.args[..];
    let mut ttl = None;
    if let Some(first) = args.first() {
        // A number first is the TTL; anything else is a zone.
        if let Ok(n) = first.text.parse::<i64>() {
            ttl = Some(positive_ttl(first, n)?);
            args = &args[1..];
        }
    }
    let mut c = Config::new(ctx.zones_or_block(args)?);
    if let Some(t) = ttl {
        c.success_max = t;
        c.denial_max = t;
    }
    let mut stale_seen = false;
    let mut policy_seen = false;
    for opt in &d.block {
        match opt.name.text.as_str() {
            "success" => {
                let (cap, max, min) = capacity_line(opt)?;
                c.success_capacity = cap;
                c.success_max = max.unwrap_or(c.success_max);
                c.success_min = min.unwrap_or(c.success_min);
            }
            "denial" => {
                let (cap, max, min) = capacity_line(opt)?;
                c.denial_capacity = cap;
                c.denial_max = max.unwrap_or(c.denial_max);
                c.denial_min = min.unwrap_or(c.denial_min);
            }
            "prefetch" => prefetch_line(opt, &mut c)?,
            "serve_stale" => {
                stale_seen = true;
                serve_stale_line(opt, &mut c)?;
            }
            "serve_stale_policy" => {
                if policy_seen {
                    return Err(
                        opt.error("plugin/cache: serve_stale_policy can only be specified once")
                    );
                }
                policy_seen = true;
                let [policy] = opt.args.as_slice() else {
                    return Err(opt.arg_count_error());
                };
                if !policy.text.eq_ignore_ascii_case("prefer_positive") {
                    return Err(policy.error(format!(
                        "plugin/cache: invalid serve_stale_policy: {}",
                        policy.text
                    )));
                }
                c.prefer_positive = true;
            }
            "servfail" => {
                let [t] = opt.args.as_slice() else {
                    return Err(opt.arg_count_error());
                };
                let d = go_duration(t, "servfail")?;
                if d > MAX_SERVFAIL {
                    return Err(t.error(
                        "plugin/cache: caching SERVFAIL responses over 5 minutes is not permitted",
                    ));
                }
                c.servfail = d;
            }
            "disable" => {
                let Some((which, zones)) = opt.args.split_first() else {
                    return Err(opt.arg_count_error());
                };
                let zones = if zones.is_empty() {
                    vec![Name::root()]
                } else {
                    ctx.zones_or_block(zones)?
                };
                match which.text.as_str() {
                    "success" => c.disable_success = zones,
                    "denial" => c.disable_denial = zones,
                    _ => return Err(which.error(
                        "plugin/cache: cache type for disable must be \"success\" or \"denial\"",
                    )),
                }
            }
            "keepttl" => {
                if !opt.args.is_empty() {
                    return Err(opt.arg_count_error());
                }
                c.keepttl = true;
            }
            _ => return Err(opt.unknown_property()),
        }
    }
    if policy_seen && !stale_seen {
        return Err(d.error("plugin/cache: serve_stale_policy requires serve_stale"));
    }
    Ok(c)
}

/// A TTL argument that must be at least 1 second.
fn positive_ttl(t: &Token, n: i64) -> Result<u32, SetupError> {
    if n <= 0 {
        return Err(t.error(format!(
            "plugin/cache: cache TTL can not be zero or negative: {n}"
        )));
    }
    u32::try_from(n).map_err(|_| t.error(format!("plugin/cache: cache TTL too large: {n}")))
}

fn integer(t: &Token, what: &str) -> Result<i64, SetupError> {
    t.text.parse::<i64>().map_err(|_| {
        t.error(format!(
            "plugin/cache: {what} must be an integer, not '{}'",
            t.text
        ))
    })
}

/// `success|denial CAPACITY [TTL [MINTTL]]`.
fn capacity_line(opt: &Directive) -> Result<(usize, Option<u32>, Option<u32>), SetupError> {
    if opt.args.is_empty() || opt.args.len() > 3 {
        return Err(opt.arg_count_error());
    }
    let cap_token = &opt.args[0];
    let cap = integer(cap_token, "cache capacity")?;
    let cap = usize::try_from(cap).map_err(|_| {
        cap_token.error(format!(
            "plugin/cache: cache capacity can not be negative: {cap}"
        ))
    })?;
    let max = match opt.args.get(1) {
        Some(t) => Some(positive_ttl(t, integer(t, "cache TTL")?)?),
        None => None,
    };
    let min = match opt.args.get(2) {
        Some(t) => {
            let n = integer(t, "cache min TTL")?;
            if n < 0 {
                return Err(t.error(format!(
                    "plugin/cache: cache min TTL can not be negative: {n}"
                )));
            }
            Some(
                u32::try_from(n)
                    .map_err(|_| t.error(format!("plugin/cache: cache min TTL too large: {n}")))?,
            )
        }
        None => None,
    };
    Ok((cap, max, min))
}

/// A Go duration that must not be negative.
fn go_duration(t: &Token, what: &str) -> Result<Duration, SetupError> {
    duration::parse_std(&t.text)
        .map_err(|e| t.error(format!("plugin/cache: invalid {what} duration: {e}")))?
        .ok_or_else(|| {
            t.error(format!(
                "plugin/cache: invalid negative duration for {what}: {}",
                t.text
            ))
        })
}

/// `prefetch AMOUNT [DURATION [PERCENTAGE%]]`.
fn prefetch_line(opt: &Directive, c: &mut Config) -> Result<(), SetupError> {
    if opt.args.is_empty() || opt.args.len() > 3 {
        return Err(opt.arg_count_error());
    }
    let amount_token = &opt.args[0];
    let amount = integer(amount_token, "prefetch amount")?;
    c.prefetch = u32::try_from(amount).map_err(|_| {
        amount_token.error(format!(
            "plugin/cache: prefetch amount should be positive: {amount}"
        ))
    })?;
    if let Some(t) = opt.args.get(1) {
        c.prefetch_window = go_duration(t, "prefetch")?;
    }
    if let Some(t) = opt.args.get(2) {
        let Some(number) = t.text.strip_suffix('%') else {
            return Err(t.error(format!(
                "plugin/cache: last character of percentage should be `%`, but is: '{}'",
                t.text.chars().last().unwrap_or(' ')
            )));
        };
        let pct: i64 = number.parse().map_err(|_| {
            t.error(format!(
                "plugin/cache: invalid prefetch percentage '{}'",
                t.text
            ))
        })?;
        if !(10..=90).contains(&pct) {
            return Err(t.error(format!(
                "plugin/cache: percentage should fall in range [10, 90]: {pct}"
            )));
        }
        c.prefetch_percentage = pct as u32;
    }
    Ok(())
}

/// `serve_stale [DURATION [immediate [RESPONSE_TTL [FAILURE_RECHECK]] |
/// verify [VERIFY_TIMEOUT [RESPONSE_TTL [FAILURE_RECHECK]]]]]`. A later line replaces an
/// earlier one.
fn serve_stale_line(opt: &Directive, c: &mut Config) -> Result<(), SetupError> {
    let args = &opt.args;
    if args.len() > 5 {
        return Err(opt.arg_count_error());
    }
    c.stale_up_to = Duration::from_secs(3600);
    c.stale_ttl = 0;
    c.stale_recheck = Duration::ZERO;
    c.verify_stale = false;
    c.verify_timeout = Duration::ZERO;
    if let Some(t) = args.first() {
        c.stale_up_to = go_duration(t, "serve_stale")?;
    }
    let Some(mode) = args.get(1) else {
        return Ok(());
    };
    match mode.text.to_ascii_lowercase().as_str() {
        "immediate" => {}
        "verify" => c.verify_stale = true,
        _ => {
            return Err(mode.error(format!(
                "plugin/cache: invalid value for serve_stale refresh mode: {}",
                mode.text
            )))
        }
    }
    let mut rest = &args[2..];
    if c.verify_stale {
        if let Some((t, more)) = rest.split_first() {
            c.verify_timeout = go_duration(t, "serve_stale verify timeout")?;
            rest = more;
        }
    } else if rest.len() > 2 {
        return Err(opt.arg_count_error());
    }
    if let Some(t) = rest.first() {
        let d = go_duration(t, "serve_stale response TTL")?;
        if d.subsec_nanos() != 0 {
            return Err(t.error(
                "plugin/cache: serve_stale response TTL must be a whole number of seconds",
            ));
        }
        c.stale_ttl = u32::try_from(d.as_secs()).map_err(|_| {
            t.error("plugin/cache: serve_stale response TTL exceeds the DNS TTL range")
        })?;
    }
    if let Some(t) = rest.get(1) {
        let d = go_duration(t, "serve_stale failure recheck")?;
        if d > MAX_STALE_RECHECK {
            return Err(
                t.error("plugin/cache: serve_stale failure recheck cannot exceed 5 minutes")
            );
        }
        c.stale_recheck = d;
    }
    Ok(())
}
