//! Parses `transfer [ZONES...] { to ADDRESS...; source ADDRESS }`, one stanza per line.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use cairn_core::{SetupCtx, SetupError};
use cairn_corefile::Token;

use super::{Allowed, Stanza, Transfer};

/// Every `transfer` line is a stanza; `to` is required in each.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let mut stanzas = Vec::new();
    for d in ctx.directives {
        let zones = ctx.zones_or_block(&d.args)?;
        let mut to = Vec::new();
        for opt in &d.block {
            match opt.name.text.as_str() {
                "to" => {
                    if opt.args.is_empty() {
                        return Err(opt.arg_count_error());
                    }
                    for t in &opt.args {
                        to.push(parse_allowed(t)?);
                    }
                }
                // The local address NOTIFY messages are sent from; Cairn sends no NOTIFY
                // yet (see the README), so it is only checked.
                "source" => {
                    let [t] = opt.args.as_slice() else {
                        return Err(opt.arg_count_error());
                    };
                    t.text.parse::<IpAddr>().map_err(|_| {
                        t.error(format!(
                            "plugin/transfer: invalid source address '{}'",
                            t.text
                        ))
                    })?;
                }
                _ => return Err(opt.unknown_property()),
            }
        }
        if to.is_empty() {
            return Err(d.error("plugin/transfer: 'to' is required"));
        }
        stanzas.push(Stanza { zones, to });
    }
    ctx.add_plugin(Arc::new(Transfer::new(stanzas)));
    Ok(())
}

/// `*`, an IP, or IP:port (`[v6]:port`).
fn parse_allowed(t: &Token) -> Result<Allowed, SetupError> {
    let text = t.text.as_str();
    if text == "*" {
        return Ok(Allowed::Any);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Allowed::Ip(ip));
    }
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Ok(Allowed::Ip(sa.ip()));
    }
    Err(t.error(format!(
        "plugin/transfer: not an IP address or '*': '{text}'"
    )))
}
