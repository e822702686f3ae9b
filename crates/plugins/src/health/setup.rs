//! Parses `health [ADDRESS] { lameduck DURATION }` and registers the endpoint, the
//! self-probe and the lameduck pause.

use std::sync::Arc;
use std::time::Duration;

use cairn_core::{SetupCtx, SetupError};

use super::endpoint::{address_arg, first_route, split_host_port};
use cairn_core::duration;

use super::{probe, HealthPage, DEFAULT_ADDR, PATH};

/// One `health` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    pub addr: String,
    /// Zero when not set (or set to zero or a negative value: no pause).
    pub lameduck: Duration,
}

/// Parses one `health` directive line.
pub fn parse(
    d: &cairn_corefile::Directive,
) -> Result<(HealthConfig, cairn_corefile::Token), SetupError> {
    let (addr, at) = address_arg("health", &d.name, &d.args, DEFAULT_ADDR)?;
    let mut lameduck = Duration::ZERO;
    for opt in &d.block {
        match opt.name.text.as_str() {
            "lameduck" => {
                let [arg] = opt.args.as_slice() else {
                    return Err(opt.arg_count_error());
                };
                let parsed = duration::parse(&arg.text).map_err(|e| {
                    arg.error(format!(
                        "plugin/health: unable to parse lameduck duration value: '{}' : {e}",
                        arg.text
                    ))
                })?;
                // A negative lameduck means none, as in CoreDNS.
                lameduck = u64::try_from(parsed).map_or(Duration::ZERO, Duration::from_nanos);
            }
            _ => return Err(opt.unknown_property()),
        }
    }
    Ok((HealthConfig { addr, lameduck }, at))
}

/// `health` may appear in several blocks (each line gets its endpoint; the same address
/// twice is served once). It adds no query handler.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let mut parsed = Vec::with_capacity(ctx.directives.len());
    for d in ctx.directives {
        parsed.push(parse(d)?);
    }
    let metrics = probe::metrics();
    for (cfg, at) in parsed {
        if first_route(ctx, PATH, &cfg.addr) {
            ctx.add_http(cfg.addr.clone(), PATH, Arc::new(HealthPage), at);
            // The probe needs the real port; with `:0` the server picks one we do not learn,
            // so such an endpoint (used in tests) is not probed.
            let port = split_host_port(&cfg.addr).map(|(_, p)| p).unwrap_or(0);
            if port != 0 {
                let target = probe::target(&cfg.addr);
                let m = metrics.clone();
                ctx.add_service(
                    "health",
                    Box::new(move |shutdown| Box::pin(probe::run(target, m, shutdown))),
                );
            }
        }
        if !cfg.lameduck.is_zero() {
            let pause = cfg.lameduck;
            ctx.on_shutdown(
                "health",
                Box::new(move || {
                    Box::pin(async move {
                        cairn_core::info!(
                            "health",
                            "Going into lameduck mode for {}",
                            duration::format_std(pause)
                        );
                        tokio::time::sleep(pause).await;
                    })
                }),
            );
        }
    }
    Ok(())
}
