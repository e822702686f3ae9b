//! Parses `ready [ADDRESS] { monitor until-ready|continuously }`.

use std::sync::Arc;

use cairn_core::{SetupCtx, SetupError};
use cairn_corefile::{Directive, Token};

use super::{Monitor, ReadyPage, DEFAULT_ADDR, PATH};
use crate::health::endpoint::{address_arg, first_route};

/// Parses the `ready` line: address, the token to blame for it, and the monitor mode.
pub fn parse(d: &Directive) -> Result<(String, Token, Monitor), SetupError> {
    let (addr, at) = address_arg("ready", &d.name, &d.args, DEFAULT_ADDR)?;
    let mut monitor = Monitor::default();
    for opt in &d.block {
        match opt.name.text.as_str() {
            "monitor" => {
                let [arg] = opt.args.as_slice() else {
                    return Err(opt.arg_count_error());
                };
                monitor = match arg.text.as_str() {
                    "until-ready" => Monitor::UntilReady,
                    "continuously" => Monitor::Continuously,
                    other => {
                        return Err(arg.error(format!(
                            "plugin/ready: monitor type '{other}' not supported"
                        )))
                    }
                };
            }
            _ => return Err(opt.unknown_property()),
        }
    }
    Ok((addr, at, monitor))
}

/// Once per block. Blocks naming the same address share the first one's endpoint (and its
/// monitor mode); every endpoint reports the whole instance.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    if let Some(extra) = ctx.directives.get(1) {
        return Err(extra.error("plugin/ready: this plugin can only be used once per Server Block"));
    }
    let (addr, at, monitor) = parse(ctx.first())?;
    if first_route(ctx, PATH, &addr) {
        let page = Arc::new(ReadyPage::new(ctx.readiness(), monitor));
        ctx.add_http(addr, PATH, page, at);
    }
    Ok(())
}
