//! Parses `errors [stdout] { stacktrace; consolidate DURATION REGEXP [LEVEL] [show_first] }`.

use std::sync::Arc;

use cairn_core::log::Level;
use cairn_core::{SetupCtx, SetupError};
use cairn_corefile::Directive;
use regex::Regex;

use super::consolidate::{Pattern, Patterns};
use cairn_core::duration;

use super::Errors;

/// Longest REGEXP accepted (CoreDNS's limit against huge compiled programs).
const MAX_REGEXP_LEN: usize = 10_000;

/// Registers the `errors` handler and, with `consolidate` lines, its flush service.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let patterns = Arc::new(parse(ctx.directives)?);
    if !patterns.is_empty() {
        let p = patterns.clone();
        ctx.add_service(
            "errors",
            Box::new(move |shutdown| Box::pin(p.run(shutdown))),
        );
    }
    ctx.add_plugin(Arc::new(Errors::new(patterns)));
    Ok(())
}

/// Reads the directive (once per block) into its consolidation patterns.
pub(crate) fn parse(directives: &[Directive]) -> Result<Patterns, SetupError> {
    let mut list = Vec::new();
    for (i, d) in directives.iter().enumerate() {
        if i > 0 {
            return Err(d.error("this plugin can only be used once per Server Block"));
        }
        match d.args.as_slice() {
            [] => {}
            [one] if one.text == "stdout" => {}
            [one] => return Err(one.error(format!("invalid log file: {}", one.text))),
            _ => return Err(d.arg_count_error()),
        }
        for opt in &d.block {
            match opt.name.text.as_str() {
                // Cairn's server always recovers from a panicking plugin and logs it; there is
                // no Go stack to print, so the option is accepted and has no further effect.
                "stacktrace" => {}
                "consolidate" => list.push(parse_consolidate(opt)?),
                other => {
                    return Err(opt.error(format!(
                    "Syntax error: Unexpected token '{other}', expecting 'Unknown field {other}'"
                )))
                }
            }
        }
    }
    Ok(Patterns::new(list))
}

fn parse_consolidate(d: &Directive) -> Result<Pattern, SetupError> {
    if d.args.len() < 2 || d.args.len() > 4 {
        return Err(d.arg_count_error());
    }
    let period = duration::parse(&d.args[0].text).map_err(|e| d.args[0].error(e.to_string()))?;
    // A negative period flushes at once, as a Go timer with a negative duration fires at once.
    let period = std::time::Duration::from_nanos(u64::try_from(period).unwrap_or(0));
    let re_text = &d.args[1].text;
    if re_text.len() > MAX_REGEXP_LEN {
        return Err(d.args[1].error(format!(
            "regex pattern too long: {} > {MAX_REGEXP_LEN}",
            re_text.len()
        )));
    }
    let regex = Regex::new(re_text).map_err(|e| d.args[1].error(e.to_string()))?;
    let mut level: Option<Option<Level>> = None;
    let mut show_first = false;
    for t in &d.args[2..] {
        let this = match t.text.as_str() {
            "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            "info" => Some(Level::Info),
            "debug" => None,
            "show_first" => {
                show_first = true;
                continue;
            }
            other => return Err(t.error(format!("unknown option in consolidate: {other}"))),
        };
        if level.is_some() {
            return Err(t.error("multiple log levels specified in consolidate"));
        }
        if show_first {
            return Err(t.error("log level must come before show_first in consolidate"));
        }
        level = Some(this);
    }
    Ok(Pattern::new(
        regex,
        period,
        level.unwrap_or(Some(Level::Error)),
        show_first,
    ))
}
