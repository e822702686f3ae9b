//! Where the running configuration comes from, and the one way to replace it.
//!
//! The binary reads the Corefile (its path, imports, environment) and reloads it on SIGUSR1.
//! The `reload` plugin watches the same Corefile and must apply a change the same way, so the
//! binary hands the server a [`ConfigSource`] that every setup can see:
//!
//! - [`ConfigSource::load`] reads and parses the Corefile exactly as the binary does, so what
//!   the watcher hashes is what a reload would apply;
//! - [`ConfigSource::reload`] does not reload by itself: it asks the binary's main loop, which
//!   owns the server, to run the very reload it runs for SIGUSR1, and waits for the outcome.
//!
//! One loader, one reload path, two triggers. The request names the configuration it was
//! made from ([`ReloadRequest::from_digest`]), so the loop can drop a request that a reload
//! in between (a signal) already made stale.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_corefile::Corefile;
use tokio::sync::{mpsc, oneshot};

/// Reads and parses the Corefile; the error is the text an operator sees.
type Loader = dyn Fn() -> Result<Corefile, String> + Send + Sync;

/// How requests wait in the queue; more than a few at once only happen during shutdown.
const QUEUE: usize = 8;

/// Where the configuration comes from and how to ask for it to be applied again.
#[derive(Clone)]
pub struct ConfigSource {
    path: Option<PathBuf>,
    loader: Arc<Loader>,
    requests: mpsc::Sender<ReloadRequest>,
}

impl fmt::Debug for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigSource")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Why a requested reload did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReloadError {
    /// The new configuration was read but could not be applied; the old one keeps serving.
    #[error("{0}")]
    Failed(String),
    /// Nobody applies reloads any more (the server is shutting down).
    #[error("the server is not accepting reloads (shutting down)")]
    Closed,
}

/// What the main loop answers to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The configuration was read again and swapped in.
    Reloaded,
    /// The configuration the request was made from is no longer the running one (another
    /// reload happened first), so nothing was done.
    Stale,
}

impl ConfigSource {
    /// A source reading the Corefile at `path` (`None` for standard input or the built-in
    /// default, which cannot be watched) with `loader`, and the queue of reload requests the
    /// owner of the server must serve.
    pub fn new(
        path: Option<PathBuf>,
        loader: impl Fn() -> Result<Corefile, String> + Send + Sync + 'static,
    ) -> (ConfigSource, ReloadRequests) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (
            ConfigSource {
                path,
                loader: Arc::new(loader),
                requests: tx,
            },
            ReloadRequests { rx },
        )
    }

    /// The Corefile's path, when it is a file that can be read again.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Reads and parses the Corefile as the binary does (blocking file IO).
    pub fn load(&self) -> Result<Corefile, String> {
        (self.loader)()
    }

    /// Asks the owner of the server to reload from this source, as it does on SIGUSR1, and
    /// waits for the outcome. `from_digest` is [`Corefile::digest_hex`] of the configuration
    /// the caller belongs to.
    pub async fn reload(&self, from_digest: &str) -> Result<ReloadOutcome, ReloadError> {
        let (reply, outcome) = oneshot::channel();
        let request = ReloadRequest {
            from_digest: from_digest.to_string(),
            reply,
        };
        self.requests
            .send(request)
            .await
            .map_err(|_| ReloadError::Closed)?;
        outcome.await.map_err(|_| ReloadError::Closed)?
    }
}

/// The receiving end: the loop that owns the server takes requests from here.
#[derive(Debug)]
pub struct ReloadRequests {
    rx: mpsc::Receiver<ReloadRequest>,
}

impl ReloadRequests {
    /// The next request; `None` once every [`ConfigSource`] is gone.
    pub async fn recv(&mut self) -> Option<ReloadRequest> {
        self.rx.recv().await
    }
}

/// One request to reload; answer it with [`ReloadRequest::respond`].
#[derive(Debug)]
pub struct ReloadRequest {
    from_digest: String,
    reply: oneshot::Sender<Result<ReloadOutcome, ReloadError>>,
}

impl ReloadRequest {
    /// The digest of the configuration the requester was set up from.
    pub fn from_digest(&self) -> &str {
        &self.from_digest
    }

    /// Tells the requester what happened (it may have gone away meanwhile; that is fine).
    pub fn respond(self, outcome: Result<ReloadOutcome, ReloadError>) {
        let _ = self.reply.send(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> (ConfigSource, ReloadRequests) {
        ConfigSource::new(Some(PathBuf::from("Corefile")), || {
            cairn_corefile::parse(
                "Corefile",
                "a {\n}\n",
                &cairn_corefile::ParseOptions::new(&[]),
            )
            .map_err(|e| e.to_string())
        })
    }

    #[tokio::test]
    async fn a_request_reaches_the_owner_and_carries_the_answer_back() {
        let (src, mut requests) = source();
        assert_eq!(src.path(), Some(Path::new("Corefile")));
        assert_eq!(src.load().unwrap().blocks.len(), 1);
        let owner = tokio::spawn(async move {
            let first = requests.recv().await.unwrap();
            assert_eq!(first.from_digest(), "abc");
            first.respond(Ok(ReloadOutcome::Reloaded));
            let second = requests.recv().await.unwrap();
            second.respond(Err(ReloadError::Failed("bad".into())));
        });
        assert_eq!(src.reload("abc").await, Ok(ReloadOutcome::Reloaded));
        assert_eq!(
            src.reload("abc").await,
            Err(ReloadError::Failed("bad".into()))
        );
        owner.await.unwrap();
    }

    #[tokio::test]
    async fn without_an_owner_a_request_fails_instead_of_hanging() {
        let (src, requests) = source();
        drop(requests);
        assert_eq!(src.reload("abc").await, Err(ReloadError::Closed));
        // An owner that drops the request unanswered.
        let (src, mut requests) = source();
        let owner = tokio::spawn(async move { drop(requests.recv().await) });
        assert_eq!(src.reload("abc").await, Err(ReloadError::Closed));
        owner.await.unwrap();
    }
}
