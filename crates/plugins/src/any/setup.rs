//! Parses `any`.

use cairn_core::{SetupCtx, SetupError};

/// Not implemented yet: refuses the directive.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    Err(ctx.first().error("plugin/any: not implemented yet"))
}
