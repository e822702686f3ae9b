//! Parses `reload [INTERVAL] [JITTER]`, picks this instance's check period and registers the
//! watcher (one per instance, whatever the number of blocks using `reload`).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

use cairn_core::duration;
use cairn_core::{SetupCtx, SetupError};
use cairn_corefile::{Directive, Token};

use super::metrics::Metrics;
use super::{sha512_hex, Watcher};

/// Default time between checks.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Default spread of the check period between instances.
pub const DEFAULT_JITTER: Duration = Duration::from_secs(15);
/// Shortest interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_secs(2);
/// Shortest non-zero jitter accepted.
pub const MIN_JITTER: Duration = Duration::from_secs(1);

/// The options of one `reload` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadConfig {
    pub interval: Duration,
    /// Already capped at half the interval; zero = no jitter.
    pub jitter: Duration,
}

impl ReloadConfig {
    /// The check period: the interval moved by `random` (any u64) to a point of
    /// [-jitter/2, +jitter/2), chosen once per (re)load so that replicas started together
    /// spread their checks.
    pub fn period(&self, random: u64) -> Duration {
        let jitter = u64::try_from(self.jitter.as_nanos()).unwrap_or(u64::MAX);
        if jitter == 0 {
            return self.interval;
        }
        let offset = random % jitter;
        let half = jitter / 2;
        if offset >= half {
            self.interval + Duration::from_nanos(offset - half)
        } else {
            self.interval - Duration::from_nanos(half - offset)
        }
    }
}

fn error(t: &Token, msg: impl std::fmt::Display) -> SetupError {
    t.error(format!("plugin/reload: {msg}"))
}

fn parse_duration(t: &Token) -> Result<i64, SetupError> {
    duration::parse(&t.text).map_err(|e| error(t, e))
}

/// Parses one `reload` line.
pub fn parse(d: &Directive) -> Result<ReloadConfig, SetupError> {
    if d.args.len() > 2 {
        let e = d.arg_count_error();
        return Err(SetupError {
            message: format!("plugin/reload: {}", e.message),
            ..e
        });
    }
    if let Some(opt) = d.block.first() {
        return Err(opt.unknown_property());
    }
    let min_interval = i64::try_from(MIN_INTERVAL.as_nanos()).unwrap_or(i64::MAX);
    let min_jitter = i64::try_from(MIN_JITTER.as_nanos()).unwrap_or(i64::MAX);
    let interval = match d.args.first() {
        Some(t) => parse_duration(t)?,
        None => i64::try_from(DEFAULT_INTERVAL.as_nanos()).unwrap_or(i64::MAX),
    };
    if interval < min_interval {
        return Err(error(
            d.args.first().unwrap_or(&d.name),
            format!(
                "interval value must be greater or equal to {}",
                duration::format_std(MIN_INTERVAL)
            ),
        ));
    }
    let mut jitter = match d.args.get(1) {
        Some(t) => parse_duration(t)?,
        None => i64::try_from(DEFAULT_JITTER.as_nanos()).unwrap_or(i64::MAX),
    };
    if jitter != 0 && jitter < min_jitter {
        return Err(error(
            d.args.get(1).unwrap_or(&d.name),
            format!(
                "jitter value must be 0 or greater or equal to {}",
                duration::format_std(MIN_JITTER)
            ),
        ));
    }
    jitter = jitter.min(interval / 2);
    let nanos = |n: i64| Duration::from_nanos(u64::try_from(n).unwrap_or(0));
    Ok(ReloadConfig {
        interval: nanos(interval),
        jitter: nanos(jitter),
    })
}

/// Sets up `reload`: once per block; across blocks one watcher per instance, configured by
/// the last block that uses the plugin (as CoreDNS, whose single watcher takes the last
/// setup's interval).
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    if let Some(extra) = ctx.directives.get(1) {
        return Err(error(
            &extra.name,
            "this plugin can only be used once per Server Block",
        ));
    }
    let config = parse(ctx.first())?;
    let metrics = Metrics::new();
    let Some(corefile) = ctx.corefile() else {
        // Set up on its own (a unit test of one block): there is no configuration to watch.
        return Ok(());
    };
    let running = sha512_hex(corefile);
    let watchable = ctx.source().filter(|s| s.path().is_some()).cloned();

    let installed_metrics = metrics.clone();
    let installed_hash = running.clone();
    let watched = watchable.is_some();
    ctx.on_installed(
        "reload",
        Box::new(move |_| {
            cairn_core::info!("reload", "Running configuration SHA512 = {installed_hash}");
            installed_metrics.set_version(&installed_hash);
            if !watched {
                cairn_core::warning!(
                    "reload",
                    "the Corefile was not read from a file (standard input or built in); changes cannot be detected"
                );
            }
        }),
    );

    if let Some(source) = watchable {
        let period = config.period(RandomState::new().hash_one(running.as_str()));
        let watcher = Watcher::new(source, period, corefile.digest_hex(), running, metrics);
        ctx.replace_service(
            "reload",
            Box::new(move |shutdown| Box::pin(watcher.run(shutdown))),
        );
    }
    Ok(())
}
