//! A custom build of Cairn with one extra plugin, the Rust form of CoreDNS's custom builds.
//!
//! `hello` answers TXT queries with "hello" and passes everything else on. It is inserted into
//! the table just before `whoami`, so that is where it runs in every chain.
//!
//! Run: `cargo run --example custom_plugin -- 1053` then `dig @127.0.0.1 -p 1053 TXT x.test`.

use std::sync::Arc;

use cairn_core::setup::PluginSpec;
use cairn_core::wire::{RData, RType, Record};
use cairn_core::{Next, Plugin, Request, Served, SetupCtx, SetupError};

struct Hello;

impl Plugin for Hello {
    fn name(&self) -> &'static str {
        "hello"
    }

    fn serve<'a>(&'a self, mut req: Box<Request>, next: Next<'a>) -> Served<'a> {
        if req.qtype() != RType::TXT {
            return next.run(req);
        }
        let mut m = req.reply();
        m.flags.aa = true;
        m.answer
            .push(Record::new(req.qname(), 0, RData::txt(&["hello"])));
        Served::reply(req, m)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    if let Some(extra) = ctx.first().args.first() {
        return Err(extra.error("hello takes no arguments"));
    }
    ctx.add_plugin(Arc::new(Hello));
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(1053), |p| p.parse())?;
    let mut table = cairn_plugins::registry::table();
    let at = table
        .iter()
        .position(|(n, _)| *n == "whoami")
        .unwrap_or(table.len());
    let spec = PluginSpec {
        name: "hello",
        setup,
        once: true,
    };
    table.insert(at, ("hello", Some(spec)));
    let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
    let text = format!("test:{port} {{\n    hello\n    whoami\n}}\n");
    let corefile = cairn_corefile::parse(
        "Corefile",
        &text,
        &cairn_corefile::ParseOptions::new(&names),
    )?;
    let opts = cairn_server::Options {
        dns_port: 53,
        table,
        config_dir: ".".into(),
    };
    cairn_server::Server::validate(&corefile, &opts)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let server = cairn_server::Server::start(&corefile, opts).await?;
        println!(
            "serving test. on {:?} with the hello plugin; Ctrl-C stops",
            server.dns_addrs()
        );
        tokio::signal::ctrl_c().await?;
        server.shutdown().await;
        anyhow::Ok(())
    })
}
