//! Parses `autopath [ZONE...] RESOLV-CONF`, where RESOLV-CONF is a file or `@plugin`.

use std::sync::Arc;

use cairn_core::wire::Name;
use cairn_core::{SetupCtx, SetupError};

use super::{init_metrics, AutoPath, SearchSource};

pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let d = ctx.first();
    if let Some(opt) = d.block.first() {
        return Err(opt.unknown_property());
    }
    let Some((resolv, zone_args)) = d.args.split_last() else {
        return Err(d.error("plugin/autopath: no resolv-conf specified"));
    };
    let source = match resolv.text.strip_prefix('@') {
        Some("") => return Err(resolv.error("plugin/autopath: no plugin named after '@'")),
        Some(plugin) => SearchSource::Plugin(plugin.to_string()),
        None => {
            let path = ctx.resolve_path(&resolv.text);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                resolv.error(format!(
                    "plugin/autopath: failed to parse {:?}: {e}",
                    resolv.text
                ))
            })?;
            let search = search_domains(&text).map_err(|e| {
                resolv.error(format!(
                    "plugin/autopath: failed to parse {:?}: {e}",
                    resolv.text
                ))
            })?;
            SearchSource::Fixed(search.into())
        }
    };
    let zones = ctx.zones_or_block(zone_args)?;
    init_metrics();
    ctx.add_plugin(Arc::new(AutoPath::new(zones, source)));
    Ok(())
}

/// The search domains of a resolv.conf text (the last `search` line, else `domain`), as
/// absolute lower-case names, followed by the root for the bare name.
pub fn search_domains(text: &str) -> Result<Vec<Name>, String> {
    let mut search: Option<Vec<&str>> = None;
    let mut domain: Option<&str> = None;
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        match words.next() {
            Some("search") => search = Some(words.collect()),
            Some("domain") => domain = words.next(),
            _ => {}
        }
    }
    let list = search.unwrap_or_else(|| domain.into_iter().collect());
    let mut out = Vec::with_capacity(list.len() + 1);
    for d in list {
        let n = Name::parse(d, Some(&Name::root()))
            .map_err(|e| format!("bad search domain '{d}': {e}"))?;
        out.push(n.to_lowercase());
    }
    out.push(Name::root());
    Ok(out)
}
