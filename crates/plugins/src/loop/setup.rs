//! Parses `loop` (no arguments, once per block) and registers the handler and its probe.
//!
//! The probe starts from the server's "installed" hook, so that it reaches this
//! configuration and not the one it replaces. The server keeps one hook per name and
//! instance, and every block with `loop` needs its own, so each block index gets its own hook
//! name (interned once per index for the life of the process: a handful of bytes).

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use cairn_core::wire::Name;
use cairn_core::{SetupCtx, SetupError};

use super::probe::{self, Schedule};
use super::target::Target;
use super::Loop;

/// Sets up `loop` for a block: the handler, and (when the block has a real port) the probe
/// service started once the configuration serves.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    if let Some(extra) = ctx.directives.get(1) {
        return Err(extra.error("plugin/loop: this plugin can only be used once per Server Block"));
    }
    let d = ctx.first();
    if !d.args.is_empty() {
        let e = d.arg_count_error();
        return Err(SetupError {
            message: format!("plugin/loop: {}", e.message),
            ..e
        });
    }
    if let Some(opt) = d.block.first() {
        return Err(opt.unknown_property());
    }

    // CoreDNS probes only the first zone of the block.
    let zone = ctx.block.zones.first().cloned().unwrap_or_else(Name::root);
    let qname = match probe::random_name(&zone) {
        Ok(n) => n,
        Err(_) => {
            // The zone leaves no room for two more labels; nothing can be probed.
            cairn_core::warning!(
                "loop",
                "zone {:?} is too long for the probe name; loop detection is off",
                zone.to_string()
            );
            let plugin = Arc::new(Loop::new(zone.clone(), zone));
            plugin.stop_checking();
            ctx.add_plugin(plugin);
            return Ok(());
        }
    };
    let plugin = Arc::new(Loop::new(zone.clone(), qname));
    ctx.add_plugin(plugin.clone());

    let port = ctx.block.port;
    if port == 0 {
        // The port is picked by the system when binding and the probe could not find it.
        plugin.stop_checking();
        return Ok(());
    }
    let target = Target::of_block(&ctx.settings.bind, port);
    let (tx, rx) = oneshot::channel();
    ctx.on_installed(
        hook_name(ctx.block.index),
        Box::new(move |installed| {
            if let Some(t) = target.resolve(installed, &zone) {
                let _ = tx.send(t);
            }
        }),
    );
    ctx.add_service(
        "loop",
        Box::new(move |shutdown| Box::pin(probe::run(plugin, rx, shutdown, Schedule::DEFAULT))),
    );
    Ok(())
}

/// `loop#<index>`: the installed-hook name of the block at `index`, one string per index for
/// the whole process.
fn hook_name(index: usize) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    while names.len() <= index {
        let name = format!("loop#{}", names.len());
        names.push(Box::leak(name.into_boxed_str()));
    }
    names[index]
}
