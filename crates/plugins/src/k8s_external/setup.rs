//! Parses `k8s_external [ZONES...] { apex APEX; ttl TTL; headless; fallthrough [ZONES...] }`
//! with CoreDNS's argument rules, and checks once the instance serves that every block using
//! it also has `kubernetes` (the handler itself finds that plugin in its chain).

use std::sync::Arc;

use cairn_core::setup::InstalledBlock;
use cairn_core::wire::{Name, NameBuf};
use cairn_core::zones::Fallthrough;
use cairn_core::{SetupCtx, SetupError};
use cairn_corefile::Directive;

use super::K8sExternal;

/// Default TTL of every record.
const DEFAULT_TTL: u32 = 5;
/// Largest `ttl` accepted.
const MAX_TTL: u32 = 3600;
/// Default label under which the zone's own name server lives.
const DEFAULT_APEX: &str = "dns";

/// The parsed configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// Zones served, lower case, in the order given (the first names PTR targets).
    pub zones: Vec<Name>,
    /// `apex`: the relative name (wire labels, lower case, no root) holding `ns1`.
    pub apex: Vec<u8>,
    pub ttl: u32,
    pub headless: bool,
    pub fall: Fallthrough,
}

/// `plugin/k8s_external: <message>` at the given line.
fn err(d: &Directive, message: impl std::fmt::Display) -> SetupError {
    d.error(format!("plugin/k8s_external: {message}"))
}

/// The wire labels (lower case, without the root) of a relative name such as `dns`.
fn apex_labels(text: &str) -> Option<Vec<u8>> {
    let text = text.strip_suffix('.').unwrap_or(text);
    let mut buf = NameBuf::new();
    buf.push_text(text, Some(&Name::root())).ok()?;
    let wire = buf.wire();
    let labels = &wire[..wire.len() - 1];
    if labels.is_empty() {
        return None;
    }
    Some(labels.to_ascii_lowercase())
}

/// Reads every `k8s_external` line of the block. As in CoreDNS the lines accumulate: the
/// options of all of them apply, the zones of the last one win.
pub(crate) fn parse_options(ctx: &SetupCtx<'_>) -> Result<Options, SetupError> {
    let mut o = Options {
        zones: Vec::new(),
        apex: apex_labels(DEFAULT_APEX).unwrap_or_default(),
        ttl: DEFAULT_TTL,
        headless: false,
        fall: Fallthrough::none(),
    };
    for d in ctx.directives {
        o.zones = ctx
            .zones_or_block(&d.args)?
            .iter()
            .map(Name::to_lowercase)
            .collect();
        for opt in &d.block {
            let args = &opt.args;
            match opt.name.text.as_str() {
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
                "apex" => {
                    let Some(a) = args.first() else {
                        return Err(opt.arg_count_error());
                    };
                    o.apex = apex_labels(&a.text)
                        .ok_or_else(|| err(opt, format_args!("invalid apex \"{}\"", a.text)))?;
                }
                "headless" => o.headless = true,
                "fallthrough" => o.fall = Fallthrough::parse(args)?,
                _ => return Err(opt.unknown_property()),
            }
        }
    }
    Ok(o)
}

/// Logs, once an instance serves, every block that uses `k8s_external` without
/// `kubernetes`: those blocks answer SERVFAIL in the external zones.
fn report_missing_kubernetes(blocks: &[InstalledBlock]) {
    for b in blocks {
        if b.plugins.contains(&"k8s_external") && !b.plugins.contains(&"kubernetes") {
            let zones: Vec<String> = b.zones.iter().map(ToString::to_string).collect();
            cairn_core::error!(
                "k8s_external",
                "kubernetes plugin not loaded in the server block of {} on {}: every query in its zones fails (SERVFAIL)",
                zones.join(" "),
                b.server
            );
        }
    }
}

/// Sets up `k8s_external`: parses and adds the handler.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let options = parse_options(ctx)?;
    let handler = K8sExternal::new(options)
        .ok_or_else(|| err(ctx.first(), "a zone is too long for its apex names"))?;
    ctx.on_installed("k8s_external", Box::new(report_missing_kubernetes));
    ctx.add_plugin(Arc::new(handler));
    Ok(())
}
