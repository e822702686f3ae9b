//! Parses `file DBFILE [ZONES...] { reload DURATION; reload_by_mtime; fallthrough [ZONES...] }`
//! and loads the zones.
//!
//! All `file` lines of a block make one handler. As in CoreDNS, a `reload` or
//! `reload_by_mtime` setting carries over to the `file` lines after it, and a zone file that
//! does not exist yet is only a warning when reloading is on (the zone answers SERVFAIL until
//! the file appears); a file that exists but does not parse fails the setup.

use std::sync::Arc;
use std::time::Duration;

use cairn_core::zones::Fallthrough;
use cairn_core::{SetupCtx, SetupError};

use super::{reload, File, ZoneSlot};

/// Registers the `file` handler for this block.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let mut slots = Vec::new();
    let mut fall = Fallthrough::none();
    let mut interval = Duration::from_secs(60);
    let mut by_mtime = false;
    for d in ctx.directives {
        let Some((file_tok, zone_args)) = d.args.split_first() else {
            return Err(d.arg_count_error());
        };
        let origins = ctx.zones_or_block(zone_args)?;
        let path = ctx.resolve_path(&file_tok.text);
        for opt in &d.block {
            match opt.name.text.as_str() {
                "fallthrough" => fall = Fallthrough::parse(&opt.args)?,
                "reload" => {
                    let Some(t) = opt.args.first() else {
                        return Err(opt.error("plugin/file: reload duration value is expected"));
                    };
                    interval = parse_duration(&t.text)
                        .map_err(|e| t.error(format!("plugin/file: {e}")))?;
                }
                "reload_by_mtime" => by_mtime = true,
                // Still accepted and ignored by CoreDNS's file plugin.
                "upstream" => {}
                _ => return Err(opt.unknown_property()),
            }
        }
        if let Err(e) = std::fs::File::open(&path) {
            if interval.is_zero() {
                return Err(file_tok.error(format!("plugin/file: open {}: {e}", path.display())));
            }
            cairn_core::warning!(
                "file",
                "Failed to open \"open {}: {e}\": trying again in {}",
                path.display(),
                go_duration(interval)
            );
            for origin in origins {
                slots.push(Arc::new(ZoneSlot::new(
                    origin,
                    path.clone(),
                    interval,
                    by_mtime,
                    None,
                )));
            }
            continue;
        }
        for origin in origins {
            let zone = reload::load(&origin, &path)
                .map_err(|e| file_tok.error(format!("plugin/file: {e}")))?;
            slots.push(Arc::new(ZoneSlot::new(
                origin,
                path.clone(),
                interval,
                by_mtime,
                Some(zone),
            )));
        }
    }
    for slot in &slots {
        if !slot.reload.is_zero() {
            ctx.add_service("file", reload::service(slot.clone()));
        }
    }
    ctx.add_plugin(Arc::new(File::new(slots, fall)));
    Ok(())
}

/// Parses a Go duration (`30s`, `1m`, `1h30m`, `1.5h`, `500ms`, `0`), as CoreDNS's options do;
/// negative values are refused.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    match cairn_core::duration::parse_std(text) {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(format!("negative duration \"{text}\" is not allowed")),
        Err(e) => Err(e.to_string()),
    }
}

/// Formats a duration the way Go prints one (`1m0s`, `30s`, `1h0m0s`, `500ms`).
pub(crate) fn go_duration(d: Duration) -> String {
    cairn_core::duration::format_std(d)
}
