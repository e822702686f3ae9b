use cairn_core::setup::{SetupCtx, SetupError};

pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    Err(ctx.first().error("the kubernetes plugin is not built yet"))
}
