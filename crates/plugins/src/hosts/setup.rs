//! Parses `hosts [FILE [ZONES...]] { INLINE; ttl; no_reverse; reload; fallthrough;
//! fallthrough_unsupported }`, reads the file once and registers the reload service.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn_core::zones::Fallthrough;
use cairn_core::{SetupCtx, SetupError};

use super::metrics::Metrics;
use super::reload::Source;
use super::{hostsfile, Hosts};
use cairn_core::duration;

/// Default hosts file.
const DEFAULT_PATH: &str = "/etc/hosts";

/// Parsed `hosts` options.
struct Options {
    ttl: u32,
    auto_reverse: bool,
    reload: Duration,
    fall: Fallthrough,
    fallthrough_unsupported: bool,
    inline: Vec<String>,
}

/// Sets up `hosts` (once per block).
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    if let Some(d) = ctx.directives.get(1) {
        return Err(d.error("this plugin can only be used once per Server Block"));
    }
    let d = ctx.first();
    let (path, label, zone_args) = match d.args.split_first() {
        None => (
            PathBuf::from(DEFAULT_PATH),
            DEFAULT_PATH.to_string(),
            &[][..],
        ),
        Some((file, rest)) => {
            let path = ctx.resolve_path(&file.text);
            // The metric label is the path as CoreDNS holds it: joined with `root` if set,
            // otherwise as written.
            let label = if Path::new(&file.text).is_absolute() || ctx.settings.root.is_some() {
                path.display().to_string()
            } else {
                file.text.clone()
            };
            match std::fs::metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    cairn_core::warning!("hosts", "File does not exist: {label}");
                }
                Err(e) => {
                    return Err(file.error(format!("unable to access hosts file '{label}': {e}")))
                }
                Ok(m) if m.is_dir() => {
                    cairn_core::warning!("hosts", "Hosts file \"{label}\" is a directory");
                }
                Ok(_) => {}
            }
            (path, label, rest)
        }
    };
    let zones = ctx.zones_or_block(zone_args)?;
    let opts = parse_block(d)?;

    let inline = hostsfile::parse(&opts.inline.join("\n"), &zones, opts.auto_reverse);
    let mut source = Source::new(
        path,
        zones.clone(),
        opts.auto_reverse,
        inline,
        Metrics::new(&label),
    );
    source.refresh();
    let table = source.table.clone();
    if !opts.reload.is_zero() {
        let period = opts.reload;
        ctx.add_service(
            "hosts",
            Box::new(move |shutdown| Box::pin(source.run(period, shutdown))),
        );
    }
    ctx.add_plugin(Arc::new(Hosts {
        zones,
        table,
        ttl: opts.ttl,
        fall: opts.fall,
        fallthrough_unsupported: opts.fallthrough_unsupported,
    }));
    Ok(())
}

/// Reads the block: options, and any other line (before `fallthrough`) as a hosts line.
fn parse_block(d: &cairn_corefile::Directive) -> Result<Options, SetupError> {
    let mut o = Options {
        ttl: 3600,
        auto_reverse: true,
        reload: Duration::from_secs(5),
        fall: Fallthrough::none(),
        fallthrough_unsupported: false,
        inline: Vec::new(),
    };
    let mut fall_seen = false;
    for opt in &d.block {
        match opt.name.text.as_str() {
            "fallthrough" => {
                o.fall = Fallthrough::parse(&opt.args)?;
                fall_seen = true;
            }
            "fallthrough_unsupported" => {
                if !opt.args.is_empty() {
                    return Err(opt.arg_count_error());
                }
                o.fallthrough_unsupported = true;
            }
            "no_reverse" => o.auto_reverse = false,
            "ttl" => {
                let Some(t) = opt.args.first() else {
                    return Err(opt.error("ttl needs a time in second"));
                };
                let ttl: i64 = t
                    .text
                    .parse()
                    .map_err(|_| t.error("ttl needs a number of second"))?;
                o.ttl = u32::try_from(ttl)
                    .ok()
                    .filter(|v| (1..=65535).contains(v))
                    .ok_or_else(|| t.error("ttl provided is invalid"))?;
            }
            "reload" => {
                let [t] = opt.args.as_slice() else {
                    return Err(opt.error("reload needs a duration (zero seconds to disable)"));
                };
                let nanos = duration::parse(&t.text)
                    .map_err(|_| t.error(format!("invalid duration for reload '{}'", t.text)))?;
                let nanos = u64::try_from(nanos).map_err(|_| {
                    t.error(format!("invalid negative duration for reload '{}'", t.text))
                })?;
                o.reload = Duration::from_nanos(nanos);
            }
            _ if fall_seen || opt.has_block => return Err(opt.unknown_property()),
            _ => {
                let mut line = opt.name.text.clone();
                for a in &opt.args {
                    line.push(' ');
                    line.push_str(&a.text);
                }
                o.inline.push(line);
            }
        }
    }
    if o.fallthrough_unsupported && !fall_seen {
        return Err(d.error("fallthrough_unsupported requires fallthrough"));
    }
    Ok(o)
}
