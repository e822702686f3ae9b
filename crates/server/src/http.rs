//! The small HTTP/1.x server behind `/health`, `/ready` and `/metrics`.
//!
//! Probes and scrapers send a plain `GET`; this answers it and closes the connection. Routes
//! of a listener live behind an `ArcSwap` so a reload can change them without closing the
//! socket, and a listener whose address is gone from the new Corefile is closed.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cairn_core::arc_swap::ArcSwap;
use cairn_core::setup::{HttpHandler, HttpRoute};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

type Routes = Vec<(&'static str, Arc<dyn HttpHandler>)>;

/// One bound HTTP address.
pub struct HttpListener {
    pub local: SocketAddr,
    routes: Arc<ArcSwap<Routes>>,
    task: JoinHandle<()>,
}

impl Drop for HttpListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Turns `:8080`, `localhost:9153`, `127.0.0.1:0`, `[::1]:8080` into a socket address.
pub fn parse_addr(addr: &str) -> Option<SocketAddr> {
    let (host, port) = addr.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match host {
        "" => std::net::IpAddr::from([0, 0, 0, 0]),
        "localhost" => std::net::IpAddr::from([127, 0, 0, 1]),
        h => h.parse().ok()?,
    };
    Some(SocketAddr::new(ip, port))
}

/// The HTTP listeners of the process, by address as written.
#[derive(Default)]
pub struct HttpPool {
    listeners: HashMap<String, HttpListener>,
}

impl HttpPool {
    /// Makes the pool serve exactly `routes`: binds new addresses (all or nothing), swaps the
    /// routes of kept ones, closes the rest. On error nothing changed.
    pub fn apply(&mut self, routes: &[HttpRoute]) -> Result<(), cairn_corefile::ParseError> {
        let mut by_addr: HashMap<&str, Routes> = HashMap::new();
        let mut at: HashMap<&str, &HttpRoute> = HashMap::new();
        for r in routes {
            let list = by_addr.entry(&r.addr).or_default();
            if !list.iter().any(|(p, _)| *p == r.path) {
                list.push((r.path, r.handler.clone()));
            }
            at.entry(&r.addr).or_insert(r);
        }
        let mut fresh = HashMap::new();
        for (addr, list) in &by_addr {
            if self.listeners.contains_key(*addr) {
                continue;
            }
            let route = at[addr];
            let sa = parse_addr(addr)
                .ok_or_else(|| route.at.error(format!("invalid address '{addr}'")))?;
            let std = std::net::TcpListener::bind(sa)
                .map_err(|e| route.at.error(format!("listen tcp {addr}: {e}")))?;
            std.set_nonblocking(true)
                .map_err(|e| route.at.error(format!("listen tcp {addr}: {e}")))?;
            let listener = TcpListener::from_std(std)
                .map_err(|e| route.at.error(format!("listen tcp {addr}: {e}")))?;
            let local = listener.local_addr().unwrap_or(sa);
            let routes = Arc::new(ArcSwap::from_pointee(list.clone()));
            let task = tokio::spawn(accept_loop(listener, routes.clone()));
            fresh.insert(
                addr.to_string(),
                HttpListener {
                    local,
                    routes,
                    task,
                },
            );
        }
        self.listeners
            .retain(|addr, _| by_addr.contains_key(addr.as_str()));
        for (addr, l) in &self.listeners {
            if let Some(list) = by_addr.get(addr.as_str()) {
                l.routes.store(Arc::new(list.clone()));
            }
        }
        self.listeners.extend(fresh);
        Ok(())
    }

    /// The bound address of a configured address string (tests use port 0).
    pub fn local_addr(&self, addr: &str) -> Option<SocketAddr> {
        self.listeners.get(addr).map(|l| l.local)
    }

    /// Closes every listener.
    pub fn close(&mut self) {
        self.listeners.clear();
    }
}

async fn accept_loop(listener: TcpListener, routes: Arc<ArcSwap<Routes>>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let routes = routes.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), serve(&mut stream, &routes)).await;
        });
    }
}

async fn serve(stream: &mut tokio::net::TcpStream, routes: &ArcSwap<Routes>) -> io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 16 * 1024 {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    let (status, ctype, body) = if method != "GET" && method != "HEAD" {
        (
            405,
            "text/plain; charset=utf-8",
            "method not allowed\n".to_string(),
        )
    } else {
        let routes = routes.load();
        match routes.iter().find(|(p, _)| *p == path) {
            Some((_, h)) => {
                let r = h.get();
                (r.status, r.content_type, r.body)
            }
            None => (
                404,
                "text/plain; charset=utf-8",
                "404 page not found\n".to_string(),
            ),
        }
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "",
    };
    let mut resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        resp.push_str(&body);
    }
    stream.write_all(resp.as_bytes()).await?;
    stream.shutdown().await
}
