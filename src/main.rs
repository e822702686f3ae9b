//! The `cairn` binary: CoreDNS's command line on top of the Cairn crates.
//!
//! Flags are CoreDNS's (`-conf`, `-dns.port`, `-pidfile`, `-plugins`, `-quiet`, `-version`),
//! accepted with one or two dashes and as `-flag value` or `-flag=value`, plus `-validate`
//! which checks a Corefile completely (every plugin's setup) without binding anything, and
//! `-migrate-kubedns` which prints the Corefile equivalent to a kube-dns ConfigMap.
//!
//! A running server reloads its Corefile on SIGUSR1 and when the `reload` plugin asks for
//! it; both go through [`reload`], the one reload path.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use cairn_core::config_source::{ConfigSource, ReloadError, ReloadOutcome};
use cairn_corefile::{Corefile, ParseOptions};
use cairn_server::{Options, Server};

mod migrate;

/// What the command line asked for.
#[derive(Debug, Default)]
struct Cli {
    conf: Option<String>,
    dns_port: Option<u16>,
    pidfile: Option<PathBuf>,
    plugins: bool,
    quiet: bool,
    version: bool,
    validate: bool,
    /// A kube-dns ConfigMap to translate (`-` = standard input).
    migrate_kubedns: Option<String>,
    /// The cluster domain for `-migrate-kubedns`.
    dns_domain: Option<String>,
}

const USAGE: &str = "Usage of cairn:
  -conf string        Corefile to load (default \"Corefile\"; \"stdin\" reads standard input)
  -dns.domain string  Cluster domain for -migrate-kubedns (default \"cluster.local\")
  -dns.port string    Default port (default \"53\")
  -migrate-kubedns string
                      Print the Corefile equivalent to a kube-dns ConfigMap (YAML file, or
                      \"-\" for standard input), then exit
  -p string           Same as -dns.port
  -pidfile string     Path to write pid file
  -plugins            List installed plugins
  -quiet              Quiet mode (no initialization output)
  -validate           Check the Corefile and every plugin's configuration, then exit
  -version            Show version";

fn parse_args(args: impl Iterator<Item = String>) -> Result<Cli> {
    let mut cli = Cli::default();
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            bail!("extra command line arguments: {arg}\n{USAGE}");
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        let mut value = |name: &str| -> Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args
                    .next()
                    .with_context(|| format!("flag needs an argument: -{name}\n{USAGE}")),
            }
        };
        let boolean = |v: &Option<String>| -> Result<bool> {
            match v.as_deref() {
                None | Some("true") | Some("1") => Ok(true),
                Some("false") | Some("0") => Ok(false),
                Some(other) => bail!("invalid boolean value {other:?} for -{name}"),
            }
        };
        match name {
            "conf" => cli.conf = Some(value(name)?),
            "dns.port" | "p" => {
                let v = value(name)?;
                cli.dns_port = Some(
                    v.parse()
                        .with_context(|| format!("invalid value {v:?} for flag -{name}"))?,
                );
            }
            "pidfile" => cli.pidfile = Some(PathBuf::from(value(name)?)),
            "plugins" => cli.plugins = boolean(&inline)?,
            "quiet" => cli.quiet = boolean(&inline)?,
            "version" => cli.version = boolean(&inline)?,
            "validate" => cli.validate = boolean(&inline)?,
            "migrate-kubedns" => cli.migrate_kubedns = Some(value(name)?),
            "dns.domain" => cli.dns_domain = Some(value(name)?),
            "h" | "help" => bail!("{USAGE}"),
            other => bail!("flag provided but not defined: -{other}\n{USAGE}"),
        }
    }
    if cli.dns_domain.is_some() && cli.migrate_kubedns.is_none() {
        bail!("-dns.domain is only used with -migrate-kubedns\n{USAGE}");
    }
    Ok(cli)
}

/// `-migrate-kubedns`: the Corefile on standard output, warnings on standard error.
fn migrate_kubedns(file: &str, domain: Option<&str>) -> Result<ExitCode> {
    let text = if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the kube-dns ConfigMap from stdin")?;
        text
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
    };
    let m = migrate::migrate(&text, domain.unwrap_or(migrate::DEFAULT_DOMAIN))
        .with_context(|| format!("translating {file}"))?;
    for w in &m.warnings {
        eprintln!("[WARNING] {w}");
    }
    print!("{}", m.corefile);
    Ok(ExitCode::SUCCESS)
}

fn version_text() -> String {
    format!(
        "Cairn-{}\n{}/{}, rust",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Reads the Corefile named on the command line (or the built-in default).
/// Reads and parses the Corefile. With `all_errors` (validation) unknown directives are left
/// to the instance builder, which reports them beside every other block's errors.
fn load_corefile(
    conf: Option<&str>,
    names: &[&str],
    all_errors: bool,
) -> Result<(Corefile, PathBuf)> {
    let opts = if all_errors {
        ParseOptions::new(names).accept_unknown_directives()
    } else {
        ParseOptions::new(names)
    };
    match conf {
        Some("stdin") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading Corefile from stdin")?;
            let cf = cairn_corefile::parse("stdin", &text, &opts)?;
            Ok((cf, std::env::current_dir()?))
        }
        Some(path) => {
            let path = Path::new(path);
            let cf = cairn_corefile::parse_file(path, &opts)?;
            Ok((cf, config_dir(path)))
        }
        None => {
            let path = Path::new("Corefile");
            if path.exists() {
                let cf = cairn_corefile::parse_file(path, &opts)?;
                Ok((cf, config_dir(path)))
            } else {
                let cf =
                    cairn_corefile::parse("Corefile", ".:53 {\n    whoami\n    log\n}\n", &opts)?;
                Ok((cf, std::env::current_dir()?))
            }
        }
    }
}

fn config_dir(path: &Path) -> PathBuf {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::from(1)
        }
    }
}

fn run() -> Result<ExitCode> {
    let cli = parse_args(std::env::args().skip(1))?;
    if let Some(file) = &cli.migrate_kubedns {
        return migrate_kubedns(file, cli.dns_domain.as_deref());
    }
    if cli.version {
        println!("{}", version_text());
        return Ok(ExitCode::SUCCESS);
    }
    let table = cairn_plugins::registry::table();
    if cli.plugins {
        let mut names: Vec<&str> = table
            .iter()
            .filter(|(_, s)| s.is_some())
            .map(|(n, _)| *n)
            .collect();
        names.sort_unstable();
        println!("Server types:\n  dns\n\nOther plugins:");
        for n in names {
            println!("  dns.{n}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
    let (corefile, config_dir) = load_corefile(cli.conf.as_deref(), &names, cli.validate)?;
    for w in &corefile.warnings {
        cairn_core::warning!(; "{w}");
    }
    let opts = Options {
        dns_port: cli.dns_port.unwrap_or(53),
        table,
        config_dir,
    };
    if cli.validate {
        return match Server::validate(&corefile, &opts) {
            Ok(()) => {
                println!("Corefile OK");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::from(1))
            }
        };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cairn")
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(cli, corefile, opts))
}

/// Where the Corefile came from, for reading it again: `None` for standard input and the
/// built-in default, which cannot be read again.
fn corefile_path(conf: Option<&str>) -> Option<PathBuf> {
    match conf {
        Some("stdin") => None,
        Some(path) => Some(PathBuf::from(path)),
        None => Some(PathBuf::from("Corefile")).filter(|p| p.exists()),
    }
}

/// The one reload path, for SIGUSR1 and for the `reload` plugin: read the Corefile again as
/// at startup, build the new configuration beside the running one and swap it in; on any
/// error the running configuration keeps serving.
async fn reload(server: &mut Server, source: &ConfigSource) -> Result<(), String> {
    let loading = source.clone();
    let loaded = tokio::task::spawn_blocking(move || loading.load())
        .await
        .unwrap_or_else(|e| Err(format!("reading the Corefile failed: {e}")));
    let outcome = match loaded {
        Ok(cf) => server.reload(&cf).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match &outcome {
        Ok(()) => cairn_core::info!(; "Reloading complete"),
        Err(e) => cairn_core::error!(; "Corefile changes are not applied: {e}"),
    }
    outcome
}

async fn serve(cli: Cli, corefile: Corefile, opts: Options) -> Result<ExitCode> {
    let names: Vec<&'static str> = opts.table.iter().map(|(n, _)| *n).collect();
    let conf = cli.conf.clone();
    let (source, mut requests) = ConfigSource::new(corefile_path(conf.as_deref()), move || {
        load_corefile(conf.as_deref(), &names, false)
            .map(|(cf, _)| cf)
            .map_err(|e| format!("{e:#}"))
    });
    let mut server = match Server::start_with_source(&corefile, opts, Some(source.clone())).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    if let Some(pidfile) = &cli.pidfile {
        std::fs::write(pidfile, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing pidfile {}", pidfile.display()))?;
    }
    if !cli.quiet {
        for line in server.banner_lines() {
            println!("{line}");
        }
        println!("{}", version_text());
    }
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let _hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = usr1.recv() => {
                let _ = reload(&mut server, &source).await;
            }
            Some(request) = requests.recv() => {
                // Made by a configuration that another reload already replaced: its watcher
                // is gone and the running one watches for itself.
                if request.from_digest() != server.digest() {
                    request.respond(Ok(ReloadOutcome::Stale));
                    continue;
                }
                let outcome = reload(&mut server, &source).await;
                request.respond(outcome.map(|()| ReloadOutcome::Reloaded).map_err(ReloadError::Failed));
            }
        }
    }
    cairn_core::info!(; "Shutting down");
    // Requests still queued are answered "closed" rather than left waiting.
    drop(requests);
    server.shutdown().await;
    if let Some(pidfile) = &cli.pidfile {
        let _ = std::fs::remove_file(pidfile);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> impl Iterator<Item = String> + '_ {
        s.split_whitespace().map(String::from)
    }

    #[test]
    fn flags_take_one_or_two_dashes_and_equals() {
        let cli = parse_args(args("-conf a.conf --dns.port=1053 -quiet --validate")).unwrap();
        assert_eq!(cli.conf.as_deref(), Some("a.conf"));
        assert_eq!(cli.dns_port, Some(1053));
        assert!(cli.quiet && cli.validate && !cli.version);
        let cli = parse_args(args("-p 5353 -pidfile /tmp/x.pid")).unwrap();
        assert_eq!(cli.dns_port, Some(5353));
        assert_eq!(cli.pidfile, Some(PathBuf::from("/tmp/x.pid")));
    }

    #[test]
    fn migrate_flags() {
        let cli = parse_args(args("-migrate-kubedns cm.yaml -dns.domain=corp.local")).unwrap();
        assert_eq!(cli.migrate_kubedns.as_deref(), Some("cm.yaml"));
        assert_eq!(cli.dns_domain.as_deref(), Some("corp.local"));
        assert!(parse_args(args("-migrate-kubedns")).is_err());
        assert!(parse_args(args("-dns.domain corp.local")).is_err());
    }

    #[test]
    fn bad_flags_are_errors() {
        assert!(parse_args(args("-nope")).is_err());
        assert!(parse_args(args("stray")).is_err());
        assert!(parse_args(args("-dns.port abc")).is_err());
        assert!(parse_args(args("-conf")).is_err());
    }
}
