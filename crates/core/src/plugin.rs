//! The plugin seam.
//!
//! A plugin gets the request (boxed, so moving it is cheap) and a [`Next`] view of the rest of
//! the chain, and returns a [`Served`]: either the finished result, or a future when it had to
//! wait for I/O (an upstream, a re-query). Most answers (file, hosts, cache hits) are produced
//! synchronously, so the common path neither boxes a future nor allocates; only plugins that
//! really wait pay for a boxed future. Plugins never touch sockets: the server writes the
//! reply exactly once.
//!
//! The request always comes back with the result, which lets a wrapping plugin (metrics, log,
//! rewrite, cache) look at it again after the rest of the chain ran.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::request::Request;
use crate::wire::{Message, Name, Rcode, Record};

/// An error a plugin reports; the server answers SERVFAIL and `errors` logs it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    /// The last plugin passed the query on and nothing was there.
    #[error("plugin/{0}: no next plugin found")]
    NoNextPlugin(&'static str),
    /// Anything else, with the plugin's name.
    #[error("plugin/{plugin}: {message}")]
    Failed {
        plugin: &'static str,
        message: String,
    },
}

impl PluginError {
    /// A failure of `plugin` with a message.
    pub fn failed(plugin: &'static str, message: impl Into<String>) -> Self {
        PluginError::Failed {
            plugin,
            message: message.into(),
        }
    }

    /// The response code the client sees for this error.
    pub fn rcode(&self) -> Rcode {
        Rcode::SERVFAIL
    }
}

/// The reply, or why there is none.
pub type ServeResult = Result<Message, PluginError>;

/// A future that finishes serving; it owns the request and hands it back.
pub type ServeFuture<'a> = Pin<Box<dyn Future<Output = (Box<Request>, ServeResult)> + Send + 'a>>;

/// What a plugin returns.
// The ready variant is the hot path; boxing it would cost an allocation per query.
#[allow(clippy::large_enum_variant)]
pub enum Served<'a> {
    /// Finished without waiting.
    Ready(Box<Request>, ServeResult),
    /// Has to wait; the server polls the future alongside other work.
    Pending(ServeFuture<'a>),
}

impl<'a> Served<'a> {
    /// A finished reply.
    pub fn reply(req: Box<Request>, msg: Message) -> Self {
        Served::Ready(req, Ok(msg))
    }

    /// A finished failure.
    pub fn error(req: Box<Request>, err: PluginError) -> Self {
        Served::Ready(req, Err(err))
    }

    /// Post-processes the result once it is there, without boxing when it is already there.
    pub fn map<F>(self, f: F) -> Served<'a>
    where
        F: FnOnce(&mut Request, ServeResult) -> ServeResult + Send + 'a,
    {
        match self {
            Served::Ready(mut req, result) => {
                let result = f(&mut req, result);
                Served::Ready(req, result)
            }
            Served::Pending(fut) => Served::Pending(Box::pin(async move {
                let (mut req, result) = fut.await;
                let result = f(&mut req, result);
                (req, result)
            })),
        }
    }

    /// Waits for the result.
    pub async fn finish(self) -> (Box<Request>, ServeResult) {
        match self {
            Served::Ready(req, result) => (req, result),
            Served::Pending(fut) => fut.await,
        }
    }

    /// True when the result is already there.
    pub fn is_ready(&self) -> bool {
        matches!(self, Served::Ready(..))
    }
}

/// A query handler in the chain.
pub trait Plugin: Send + Sync + 'static {
    /// The directive name (`cache`, `kubernetes`, ...).
    fn name(&self) -> &'static str;

    /// Answers, or passes the request to `next` and post-processes what comes back.
    fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a>;

    /// For `ready`: `Some(false)` until the plugin can answer correctly.
    fn ready(&self) -> Option<bool> {
        None
    }

    /// For `transfer`: the plugin's zone lister, if it can list whole zones.
    fn transferer(&self) -> Option<&dyn Transferer> {
        None
    }

    /// For `autopath @<this plugin>`: the per-client search path, if the plugin has one.
    fn auto_pather(&self) -> Option<&dyn AutoPather> {
        None
    }

    /// Lets capability lookups (autopath's `@plugin`, `transfer`) find concrete plugins.
    fn as_any(&self) -> &dyn Any;
}

/// A plugin that knows the DNS search path of the client that sent a query (kubernetes, from
/// the client pod's namespace), for server-side search-path completion by `autopath`.
pub trait AutoPather: Send + Sync {
    /// The client's search path: absolute lower-case domains in the client's order, ending
    /// with the root (which stands for the bare name). `None`: no search path is known for
    /// this client, so autopath stays out of the way. Shared (`Arc`) so that answering it
    /// allocates nothing.
    fn search_path(&self, req: &Request) -> Option<Arc<[Name]>>;
}

/// A plugin that can list a whole zone, for outgoing zone transfers (AXFR, and IXFR answered
/// by AXFR).
pub trait Transferer: Send + Sync {
    /// The zone whose apex is exactly `zone` (lower case), in transfer order: the SOA first,
    /// then every other record (NS and glue included), without the closing SOA (the
    /// `transfer` plugin adds it). `None` when this plugin is not authoritative for `zone`,
    /// so the next transferer is asked.
    fn transfer(&self, zone: &Name) -> Option<Vec<Record>>;
}

/// The rest of the chain after the current plugin. Cheap to copy, so a plugin may run it
/// several times (autopath) or keep it for later.
#[derive(Clone, Copy)]
pub struct Next<'a> {
    rest: &'a [Arc<dyn Plugin>],
    caller: &'static str,
}

impl<'a> Next<'a> {
    /// Runs the rest of the chain.
    pub fn run(self, req: Box<Request>) -> Served<'a> {
        match self.rest.split_first() {
            Some((plugin, rest)) => plugin.serve(
                req,
                Next {
                    rest,
                    caller: plugin.name(),
                },
            ),
            None => Served::Ready(req, Err(PluginError::NoNextPlugin(self.caller))),
        }
    }

    /// The name of the plugin `run` would call, if any.
    pub fn first_name(&self) -> Option<&'static str> {
        self.rest.first().map(|p| p.name())
    }

    /// True when nothing follows.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The plugins that follow, in order (for capability lookups such as `transfer`).
    pub fn plugins(&self) -> &'a [Arc<dyn Plugin>] {
        self.rest
    }
}

/// An ordered list of plugins for one server block.
#[derive(Clone, Default)]
pub struct Chain {
    plugins: Vec<Arc<dyn Plugin>>,
}

impl Chain {
    /// A chain over `plugins`, first = outermost.
    pub fn new(plugins: Vec<Arc<dyn Plugin>>) -> Chain {
        Chain { plugins }
    }

    /// Serves a request through the whole chain.
    pub fn run(&self, req: Box<Request>) -> Served<'_> {
        Next {
            rest: &self.plugins,
            caller: "server",
        }
        .run(req)
    }

    /// The plugins in order.
    pub fn plugins(&self) -> &[Arc<dyn Plugin>] {
        &self.plugins
    }

    /// A chain view, for tests that drive one plugin with a stub `next`.
    pub fn as_next(&self) -> Next<'_> {
        Next {
            rest: &self.plugins,
            caller: "test",
        }
    }

    /// Finds the first plugin of a concrete type.
    pub fn find<T: 'static>(&self) -> Option<&T> {
        self.plugins.iter().find_map(|p| p.as_any().downcast_ref())
    }
}
