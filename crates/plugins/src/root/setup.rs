//! Parses `root PATH`.

use std::io::ErrorKind;

use cairn_core::{SetupCtx, SetupError};

/// `root PATH`: exactly one argument, no block. A later `root` line replaces an earlier one.
///
/// A relative PATH is taken from the Corefile's directory, like every other relative file name
/// in Cairn. A PATH that does not exist yet is accepted with a warning (the directory may be
/// mounted later); one that exists but cannot be examined is an error.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    for d in ctx.directives {
        if let Some(opt) = d.block.first() {
            return Err(opt.unknown_property());
        }
        let [arg] = d.args.as_slice() else {
            return Err(d.arg_count_error());
        };
        let path = ctx.config_dir.join(&arg.text);
        match std::fs::metadata(&path) {
            Ok(meta) if !meta.is_dir() => {
                cairn_core::warning!("root", "Root path is not a directory: {}", path.display())
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                cairn_core::warning!("root", "Root path does not exist: {}", path.display())
            }
            Err(e) => {
                return Err(arg.error(format!(
                    "plugin/root: unable to access root path '{}': {e}",
                    path.display()
                )))
            }
        }
        ctx.settings.root = Some(path);
    }
    Ok(())
}
