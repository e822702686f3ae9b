//! `serve_stale ... verify`: an expired entry is served only after asking again failed.
//!
//! With `immediate` (the default) a stale entry is answered at once and refreshed in the
//! background ([`super::prefetch`]). With `verify` the rest of the chain is asked first; its
//! reply replaces the entry and is served when it really refreshes it (RFC 8767 section 4:
//! NOERROR or NXDOMAIN, for the question asked, not truncated); anything else (SERVFAIL,
//! REFUSED, an error, no reply within `VERIFY_TIMEOUT`) serves the stale entry. A bounded
//! verification runs in a detached task, so a reply that arrives after the timeout still
//! refreshes the cache for the next client.

use std::sync::Arc;

use cairn_core::wire::{Message, Rcode};
use cairn_core::{Next, Request, Served};

use super::classify::{self, Kind};
use super::entry::Entry;
use super::key::{Key, KeyRef};
use super::metrics::Series;
use super::prefetch::detached_request;
use super::{millis, reply_matches, set_ad, unix_now, Cache, Core};

/// What a reply fetched to refresh a stale entry does.
pub(crate) enum Verdict {
    /// Replaces the entry and may be served.
    Refreshed,
    /// Stored like any reply, but not served in place of the stale entry
    /// (`prefer_positive`: only a usable positive answer is served).
    CacheOnly,
    /// Neither stored nor served.
    Reject,
}

impl Core {
    /// Judges a reply fetched for a stale entry.
    pub(crate) fn verdict(&self, msg: &Message, key: &Key) -> Verdict {
        let q = key.as_ref();
        if msg.flags.tc || !reply_matches(msg, &q) {
            return Verdict::Reject;
        }
        let question = q.question();
        if self.config.prefer_positive {
            let positive = classify::cache_kind(msg, &question, q.dnssec_ok, unix_now)
                == Kind::NoError
                && classify::answers_question(msg, &question);
            return if positive {
                Verdict::Refreshed
            } else {
                Verdict::CacheOnly
            };
        }
        let kind = classify::typify(msg, q.qtype, q.dnssec_ok, unix_now);
        if matches!(kind, Kind::OtherError | Kind::Meta | Kind::Update) {
            return Verdict::Reject;
        }
        if msg.rcode != Rcode::NOERROR && msg.rcode != Rcode::NXDOMAIN {
            return Verdict::Reject;
        }
        Verdict::Refreshed
    }

    /// Applies a verification reply: stores it when it should be, and returns it (with the
    /// entry made from it) when it is to be served.
    fn apply_verification(
        &self,
        result: cairn_core::ServeResult,
        key: &Key,
        generation: Option<u64>,
        series: &super::metrics::ServerSeries,
    ) -> Option<(Message, Option<Arc<Entry>>)> {
        let mut msg = result.ok()?;
        match self.verdict(&msg, key) {
            Verdict::Refreshed => {
                let stored = self.on_reply(&mut msg, key, generation, true, series);
                Some((msg, stored))
            }
            Verdict::CacheOnly => {
                self.on_reply(&mut msg, key, generation, true, series);
                None
            }
            Verdict::Reject => None,
        }
    }
}

impl Cache {
    /// `verify` without a timeout: asks the rest of the chain in line and waits.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn verify<'a>(
        &'a self,
        mut req: Box<Request>,
        next: Next<'a>,
        entry: Arc<Entry>,
        hash: u64,
        generation: Option<u64>,
        series: Series<'a>,
        track: bool,
    ) -> Served<'a> {
        let core = &*self.core;
        let key = KeyRef::of(&req).to_owned(hash);
        let client_ad = req.info.flags.ad;
        let dnssec_ok = req.dnssec_ok();
        set_ad(&mut req, true);
        Served::Pending(Box::pin(async move {
            let (mut req, result) = next.run(req).finish().await;
            set_ad(&mut req, client_ad);
            let fresh = core.apply_verification(result, &key, generation, &series);
            let now = core.now_ms();
            if track {
                entry.end_refresh(now, millis(core.config.stale_recheck), fresh.is_some());
            }
            match fresh {
                Some((mut msg, _)) => {
                    if !dnssec_ok && !client_ad {
                        msg.flags.ad = false;
                    }
                    (req, Ok(msg))
                }
                None => {
                    series.served_stale();
                    let m = core.reply_from(&mut req, &entry, now, true);
                    (req, Ok(m))
                }
            }
        }))
    }

    /// `verify VERIFY_TIMEOUT`: asks the rest of the chain in a detached task and serves the
    /// stale entry if no refreshing reply came within the timeout.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn verify_with_timeout<'a>(
        &'a self,
        mut req: Box<Request>,
        next: Next<'a>,
        entry: Arc<Entry>,
        hash: u64,
        generation: Option<u64>,
        series: Series<'a>,
        track: bool,
    ) -> Served<'a> {
        let core = &*self.core;
        let recheck = millis(core.config.stale_recheck);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to wait in: serve what we have.
            let now = core.now_ms();
            if track {
                entry.end_refresh(now, recheck, false);
            }
            series.served_stale();
            let m = core.reply_from(&mut req, &entry, now, true);
            return Served::reply(req, m);
        };
        let chain = self.rest(&next);
        let shared = Arc::clone(&self.core);
        let key = KeyRef::of(&req).to_owned(hash);
        let detached = detached_request(&req);
        let label = req.server.label.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task_entry = Arc::clone(&entry);
        runtime.spawn(async move {
            let (_req, result) = chain.run(detached).finish().await;
            let series = shared.metrics.server(&label);
            let fresh = shared.apply_verification(result, &key, generation, &series);
            if track {
                task_entry.end_refresh(shared.now_ms(), recheck, fresh.is_some());
            }
            // The client may have been answered stale already; then nobody listens.
            let _ = tx.send(fresh);
        });
        let timeout = core.config.verify_timeout;
        Served::Pending(Box::pin(async move {
            let outcome = tokio::time::timeout(timeout, rx).await;
            let now = core.now_ms();
            let reply = match outcome {
                Ok(Ok(Some((_, Some(item))))) => core.reply_from(&mut req, &item, now, false),
                Ok(Ok(Some((mut msg, None)))) => {
                    if !req.dnssec_ok() && !req.info.flags.ad {
                        msg.flags.ad = false;
                    }
                    msg
                }
                _ => {
                    series.served_stale();
                    core.reply_from(&mut req, &entry, now, true)
                }
            };
            (req, Ok(reply))
        }))
    }
}
