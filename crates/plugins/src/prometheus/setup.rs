//! Parses `prometheus [ADDRESS] { runtime_metrics; tls CONFIG }`.

use std::sync::Arc;

use cairn_core::{SetupCtx, SetupError};
use cairn_corefile::{Directive, Token};

use super::{families, MetricsPage, Prometheus, DEFAULT_ADDR, PATH};
use crate::health::endpoint::{address_arg, first_route};

/// Parses the `prometheus` line: the address and the token to blame for it.
pub fn parse(d: &Directive) -> Result<(String, Token), SetupError> {
    let (addr, at) = address_arg("prometheus", &d.name, &d.args, DEFAULT_ADDR)?;
    for opt in &d.block {
        match opt.name.text.as_str() {
            // Swaps Go's runtime collector for the full runtime/metrics set: nothing to do
            // in a Rust process, accepted so that CoreDNS Corefiles load.
            "runtime_metrics" => {
                if !opt.args.is_empty() {
                    return Err(opt.arg_count_error());
                }
            }
            "tls" => {
                if opt.args.len() != 1 {
                    return Err(opt.arg_count_error());
                }
                return Err(
                    opt.error("plugin/prometheus: tls (metrics over HTTPS) is not supported yet")
                );
            }
            other => return Err(opt.error(format!("plugin/prometheus: unknown option: {other}"))),
        }
    }
    Ok((addr, at))
}

/// Once per block: adds the counting handler for the block's zones and the `/metrics`
/// endpoint (one per address).
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    if let Some(extra) = ctx.directives.get(1) {
        return Err(
            extra.error("plugin/prometheus: this plugin can only be used once per Server Block")
        );
    }
    let (addr, at) = parse(ctx.first())?;
    families::init_process_wide();
    ctx.add_plugin(Arc::new(Prometheus::new(ctx.block.zones.clone())));
    if first_route(ctx, PATH, &addr) {
        ctx.add_http(addr, PATH, Arc::new(MetricsPage), at);
    }
    // Once the instance serves: replace the previous instance's `coredns_plugin_enabled`
    // series with one per plugin of every block that uses prometheus (as CoreDNS).
    ctx.on_installed(
        "prometheus",
        Box::new(|blocks| {
            families::reset_enabled();
            for b in blocks.iter().filter(|b| b.plugins.contains(&"prometheus")) {
                families::record_enabled(&b.server, &b.zones, &b.plugins);
            }
        }),
    );
    Ok(())
}
