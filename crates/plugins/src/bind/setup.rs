//! Parses `bind ADDRESS|IFACE ... { except ADDRESS|IFACE ... }`.

use cairn_core::setup::BindLine;
use cairn_core::{SetupCtx, SetupError};
use cairn_corefile::Token;

use super::address;

/// Every `bind` line adds its addresses, minus that line's `except` items (as CoreDNS), to the
/// block's listen list. No query handler.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    for d in ctx.directives {
        if d.args.is_empty() {
            return Err(d.error("plugin/bind: at least one address or interface name is expected"));
        }
        let addrs = checked(&d.args)?;
        let mut except = Vec::new();
        for opt in &d.block {
            if opt.name.text != "except" {
                return Err(opt.unknown_property());
            }
            if opt.args.is_empty() {
                return Err(opt.error(
                    "plugin/bind: at least one address or interface must be given to except",
                ));
            }
            except.extend(checked(&opt.args)?);
        }
        ctx.settings.bind.push(BindLine { addrs, except });
    }
    Ok(())
}

/// The texts of `tokens`, each an IP address or a plausible interface name.
fn checked(tokens: &[Token]) -> Result<Vec<String>, SetupError> {
    tokens
        .iter()
        .map(|t| {
            address::check(&t.text)
                .map(|()| t.text.clone())
                .map_err(|e| t.error(format!("plugin/bind: {e}")))
        })
        .collect()
}
