//! Parses `bufsize [SIZE]`.

use std::sync::Arc;

use cairn_core::{SetupCtx, SetupError};

use super::Bufsize;

/// The size without an argument: the DNS Flag Day 2020 recommendation.
pub const DEFAULT_SIZE: u16 = 1232;
/// Smallest accepted size (RFC 6891: values below 512 are treated as 512).
pub const MIN_SIZE: u16 = 512;
/// Largest accepted size.
pub const MAX_SIZE: u16 = 4096;

/// `bufsize [SIZE]`, SIZE in 512..=4096, no block. Only the first `bufsize` line of a block
/// counts, as in CoreDNS.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let d = ctx.first();
    if let Some(opt) = d.block.first() {
        return Err(opt.unknown_property());
    }
    let size = match d.args.as_slice() {
        [] => DEFAULT_SIZE,
        [arg] => arg
            .text
            .parse::<i64>()
            .ok()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| (MIN_SIZE..=MAX_SIZE).contains(n))
            .ok_or_else(|| {
                arg.error(format!(
                    "plugin/bufsize: SIZE must be a number from {MIN_SIZE} to {MAX_SIZE}, got '{}'",
                    arg.text
                ))
            })?,
        _ => return Err(d.arg_count_error()),
    };
    for extra in &ctx.directives[1..] {
        cairn_core::warning!(
            "bufsize",
            "{}:{}: only the first bufsize line of a server block is used; ignoring this one",
            extra.name.file,
            extra.name.line
        );
    }
    ctx.add_plugin(Arc::new(Bufsize { size }));
    Ok(())
}
