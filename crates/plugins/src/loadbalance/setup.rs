//! Parses `loadbalance [round_robin | weighted WEIGHTFILE] { reload DURATION; prefer CIDR... }`.
//!
//! As in CoreDNS, several `loadbalance` lines in a block make one handler, later lines
//! overriding the policy of earlier ones. `prefer` goes with `round_robin` (or no policy);
//! the block of `weighted` takes only `reload`.

use std::sync::Arc;
use std::time::Duration;

use cairn_core::duration;
use cairn_core::{SetupCtx, SetupError};
use cairn_corefile::Directive;

use super::order::Subnet;
use super::weights::{LoadError, WeightFile};
use super::{LoadBalance, Policy};
use cairn_core::random::Random;

/// How often the weight file is read again unless `reload` says otherwise.
const DEFAULT_RELOAD: Duration = Duration::from_secs(30);

/// What one line asked for.
enum Parsed {
    RoundRobin,
    Weighted { file: String, reload: Duration },
}

/// Sets up `loadbalance`.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let mut policy = None;
    let mut prefer = Vec::new();
    let mut at = ctx.first();
    for d in ctx.directives {
        at = d;
        match parse_line(d, &mut prefer)? {
            Parsed::RoundRobin => policy = Some(Parsed::RoundRobin),
            Parsed::Weighted { file, reload } => {
                // As in CoreDNS, a weighted line replaces everything set before it.
                prefer.clear();
                policy = Some(Parsed::Weighted { file, reload });
            }
        }
    }
    let policy = match policy {
        Some(Parsed::Weighted { file, reload }) => {
            let mut source = WeightFile::new(ctx.resolve_path(&file));
            match source.load() {
                Ok(_) => {}
                Err(LoadError::Open(e)) if !reload.is_zero() => {
                    cairn_core::warning!(
                        "loadbalance",
                        "Failed to open weight file:{e}. Will try again in {}",
                        duration::format_std(reload)
                    );
                }
                Err(LoadError::Open(e) | LoadError::Parse(e)) => return Err(at.error(e)),
            }
            let table = source.table.clone();
            if !reload.is_zero() {
                ctx.add_service(
                    "loadbalance",
                    Box::new(move |shutdown| Box::pin(source.run(reload, shutdown))),
                );
            }
            Policy::Weighted(table)
        }
        _ => Policy::RoundRobin,
    };
    ctx.add_plugin(Arc::new(LoadBalance::new(policy, prefer, Random::new())));
    Ok(())
}

/// Reads one `loadbalance` line; `prefer` networks are added to `prefer`.
fn parse_line(d: &Directive, prefer: &mut Vec<Subnet>) -> Result<Parsed, SetupError> {
    let Some(first) = d.args.first() else {
        parse_prefer_block(d, prefer)?;
        return Ok(Parsed::RoundRobin);
    };
    match first.text.as_str() {
        "round_robin" => {
            if d.args.len() > 1 {
                return Err(d.args[1].error(format!("unknown property for {}", first.text)));
            }
            parse_prefer_block(d, prefer)?;
            Ok(Parsed::RoundRobin)
        }
        "weighted" => {
            let file = match &d.args[1..] {
                [] => return Err(first.error("missing weight file argument")),
                [file] => file.text.clone(),
                [_, extra, ..] => return Err(extra.error("unexpected argument(s)")),
            };
            let mut reload = DEFAULT_RELOAD;
            for opt in &d.block {
                match opt.name.text.as_str() {
                    "reload" => {
                        let t = match opt.args.as_slice() {
                            [] => return Err(opt.error("reload duration value is missing")),
                            [t] => t,
                            [_, extra, ..] => return Err(extra.error("unexpected argument")),
                        };
                        reload = duration::parse_std(&t.text).ok().flatten().ok_or_else(|| {
                            t.error(format!("invalid reload duration '{}'", t.text))
                        })?;
                    }
                    _ => return Err(opt.unknown_property()),
                }
            }
            Ok(Parsed::Weighted { file, reload })
        }
        other => Err(first.error(format!("unknown policy: {other}"))),
    }
}

/// The block of `round_robin` (or of no policy): `prefer CIDR...` lines.
fn parse_prefer_block(d: &Directive, prefer: &mut Vec<Subnet>) -> Result<(), SetupError> {
    for opt in &d.block {
        match opt.name.text.as_str() {
            "prefer" => {
                for t in &opt.args {
                    let net = Subnet::parse(&t.text).ok_or_else(|| {
                        t.error(format!("invalid CIDR \"{}\": invalid CIDR address", t.text))
                    })?;
                    prefer.push(net);
                }
            }
            _ => return Err(opt.unknown_property()),
        }
    }
    Ok(())
}
