//! `cairn-k8s-testserver`: the test API server as a process, for trying Cairn by hand and for
//! the benchmark, which serves a generated cluster through it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use cairn_k8s_testserver::{generate, Options, TestApiServer};

const USAGE: &str = "usage: cairn-k8s-testserver [--addr IP:PORT] [--token TOKEN] [--kubeconfig OUT [--context NAME]]
                            [--manifests FILE]... [--generate SERVICES,ENDPOINTS,PODS] [--history EVENTS]

Serves a Kubernetes API (HTTPS, bearer token) from memory until SIGINT or SIGTERM.";

#[derive(Debug, Default)]
struct Args {
    addr: Option<SocketAddr>,
    token: Option<String>,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    manifests: Vec<PathBuf>,
    generate: Option<(usize, usize, usize)>,
    history: Option<usize>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args::default();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => {
                let text = value()?;
                parsed.addr = Some(text.parse().map_err(|e| format!("--addr {text}: {e}"))?);
            }
            "--token" => parsed.token = Some(value()?),
            "--kubeconfig" => parsed.kubeconfig = Some(PathBuf::from(value()?)),
            "--context" => parsed.context = Some(value()?),
            "--manifests" => parsed.manifests.push(PathBuf::from(value()?)),
            "--history" => {
                let text = value()?;
                parsed.history = Some(text.parse().map_err(|e| format!("--history {text}: {e}"))?);
            }
            "--generate" => {
                let text = value()?;
                let numbers = text
                    .split(',')
                    .map(|n| n.trim().parse::<usize>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("--generate {text}: {e}"))?;
                let [services, endpoints, pods] = numbers[..] else {
                    return Err(format!("--generate {text}: want SERVICES,ENDPOINTS,PODS"));
                };
                parsed.generate = Some((services, endpoints, pods));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

async fn run(args: Args) -> Result<(), String> {
    let mut options = Options {
        addr: args.addr,
        token: args.token,
        ..Options::default()
    };
    if let Some(history) = args.history {
        options.history = history;
    }
    let server = TestApiServer::start(options)
        .await
        .map_err(|e| e.to_string())?;
    for path in &args.manifests {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        server
            .load_manifests(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some((services, endpoints, pods)) = args.generate {
        server
            .try_apply_many(generate::cluster_objects(services, endpoints, pods))
            .map_err(|e| format!("--generate: {e}"))?;
    }
    if let Some(path) = &args.kubeconfig {
        let context = args.context.as_deref().unwrap_or("cairn-test");
        server
            .write_kubeconfig(path, context)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("{}", server.url());
    wait_for_signal().await.map_err(|e| format!("signals: {e}"))
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("cairn-k8s-testserver: {message}\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cairn-k8s-testserver: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cairn-k8s-testserver: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        parse_args(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn flags_parse() {
        let args = parse(&[
            "--addr",
            "127.0.0.1:6443",
            "--manifests",
            "a.yaml",
            "--manifests",
            "b.yaml",
            "--generate",
            "10,100,50",
            "--kubeconfig",
            "k",
        ])
        .unwrap();
        assert_eq!(args.addr, Some("127.0.0.1:6443".parse().unwrap()));
        assert_eq!(args.manifests.len(), 2);
        assert_eq!(args.generate, Some((10, 100, 50)));
        assert_eq!(args.kubeconfig, Some(PathBuf::from("k")));
    }

    #[test]
    fn bad_flags_are_reported() {
        assert!(parse(&["--generate", "1,2"])
            .unwrap_err()
            .contains("SERVICES"));
        assert!(parse(&["--addr"]).unwrap_err().contains("needs a value"));
        assert!(parse(&["--bogus"]).unwrap_err().contains("unknown"));
        assert_eq!(parse(&["--help"]).unwrap_err(), "");
    }
}
