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

/// Parses a Go duration (`30s`, `1m`, `1h30m`, `1.5h`, `500ms`, `0`), as CoreDNS's options do.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration \"{text}\"");
    let rest = text.strip_prefix('+').unwrap_or(text);
    if let Some(negative) = rest.strip_prefix('-') {
        if !negative.is_empty() && negative.bytes().all(|b| b == b'0' || b == b'.') {
            return Ok(Duration::ZERO);
        }
        return Err(format!("negative duration \"{text}\" is not allowed"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    let mut s = rest;
    while !s.is_empty() {
        let num_len = s
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let num = &s[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = num.parse().map_err(|_| invalid())?;
        s = &s[num_len..];
        let unit_len = s
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(s.len(), |(i, _)| i);
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("time: missing unit in duration \"{text}\"")),
            _ => {
                return Err(format!(
                    "time: unknown unit \"{unit}\" in duration \"{text}\""
                ))
            }
        };
        total += value * scale;
    }
    if !total.is_finite() || total > 9.2e9 {
        return Err(invalid());
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats a duration the way Go prints one (`1m0s`, `30s`, `1h0m0s`, `500ms`).
pub(crate) fn go_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    if d < Duration::from_secs(1) {
        let ns = d.subsec_nanos();
        let (ms, us) = (ns / 1_000_000, ns / 1_000);
        return if ms * 1_000_000 == ns {
            format!("{ms}ms")
        } else if us * 1_000 == ns {
            format!("{us}µs")
        } else {
            format!("{ns}ns")
        };
    }
    let secs = d.as_secs();
    let frac = d.subsec_nanos();
    let mut sec_text = format!("{}", secs % 60);
    if frac > 0 {
        let f = format!("{frac:09}");
        sec_text.push('.');
        sec_text.push_str(f.trim_end_matches('0'));
    }
    let (h, m) = (secs / 3600, secs / 60 % 60);
    if h > 0 {
        format!("{h}h{m}m{sec_text}s")
    } else if m > 0 {
        format!("{m}m{sec_text}s")
    } else {
        format!("{sec_text}s")
    }
}
