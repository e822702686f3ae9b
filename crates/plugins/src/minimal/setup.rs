//! Parses `minimal` (no arguments, no block).

use std::sync::Arc;

use cairn_core::{SetupCtx, SetupError};

use super::Minimal;

/// `minimal` takes nothing.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    for d in ctx.directives {
        if !d.args.is_empty() {
            return Err(d.arg_count_error());
        }
        if let Some(opt) = d.block.first() {
            return Err(opt.unknown_property());
        }
    }
    ctx.add_plugin(Arc::new(Minimal));
    Ok(())
}
