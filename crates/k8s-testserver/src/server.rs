//! The listener: accepts TCP connections, does the TLS handshake, notes whether the client
//! showed a certificate, and serves HTTP/1.1 on it. It also carries the outage switch: while
//! the server is "down" every connection is closed, open ones included, but the listening
//! socket stays bound so the server comes back on the same port.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::resources::RESOURCES;
use crate::store::Store;

/// Request counters per resource kind, for tests that assert a relist happened.
pub(crate) struct RequestCounters {
    pub lists: Vec<AtomicU64>,
    pub watches: Vec<AtomicU64>,
    pub gets: Vec<AtomicU64>,
}

impl RequestCounters {
    fn new() -> RequestCounters {
        let zeros = || RESOURCES.iter().map(|_| AtomicU64::new(0)).collect();
        RequestCounters {
            lists: zeros(),
            watches: zeros(),
            gets: zeros(),
        }
    }

    pub(crate) fn count(counters: &[AtomicU64], resource: usize) {
        counters[resource].fetch_add(1, Ordering::Relaxed);
    }
}

/// State shared by the handle, the listener and every connection and watch task.
pub(crate) struct Shared {
    pub store: Store,
    pub token: String,
    pub bookmark_interval: Duration,
    pub counters: RequestCounters,
    pub addr: SocketAddr,
    /// `true` while the outage switch is on.
    pub down: watch::Sender<bool>,
    /// `true` once the server handle is dropped.
    pub shutdown: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(
        store: Store,
        token: String,
        bookmark_interval: Duration,
        addr: SocketAddr,
    ) -> Shared {
        Shared {
            store,
            token,
            bookmark_interval,
            counters: RequestCounters::new(),
            addr,
            down: watch::Sender::new(false),
            shutdown: watch::Sender::new(false),
        }
    }
}

pub(crate) async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            // Out of file descriptors and the like: wait and go on.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if *shared.down.borrow() {
            drop(tcp);
            continue;
        }
        tokio::spawn(serve_connection(tcp, acceptor.clone(), shared.clone()));
    }
}

async fn serve_connection(tcp: TcpStream, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    let mut down = shared.down.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
    let serve = async {
        let _ = tcp.set_nodelay(true);
        let Ok(tls) = acceptor.accept(tcp).await else {
            return;
        };
        let client_certificate = tls
            .get_ref()
            .1
            .peer_certificates()
            .is_some_and(|chain| !chain.is_empty());
        let handler_state = shared.clone();
        let service = service_fn(move |request| {
            let response = crate::api::handle(&handler_state, &request, client_certificate);
            async move { Ok::<_, Infallible>(response) }
        });
        // Errors here are clients going away mid-request; nothing to report.
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(tls), service)
            .await;
    };
    tokio::select! {
        () = serve => {}
        _ = down.wait_for(|down| *down) => {}
        _ = shutdown.wait_for(|stopped| *stopped) => {}
    }
}
