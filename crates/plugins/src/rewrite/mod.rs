//! `rewrite`: changes a query before the rest of the chain sees it (name, type, class, EDNS0
//! options) and the response on its way back (names, TTLs, response code, CNAME targets),
//! invisibly to the client.
//!
//! The request is rewritten as a draft and put in place only when a rule changed something;
//! when the chain returns, the request gets its original form back, so plugins before
//! *rewrite* and the reply's question section see what the client sent. Rewriting the
//! question needs no allocation (names are matched and rebuilt as text on the stack, message
//! buffers come from a per-thread pool); regex rules pay for a capture table when they match.

mod cname;
mod draft;
mod edns;
mod response;
mod rule;
mod setup;
#[cfg(test)]
mod tests;
pub(crate) mod text;

pub use setup::setup;

use cairn_core::wire::Rcode;
use cairn_core::{Next, Plugin, PluginError, Request, ServeResult, Served};

use draft::Draft;
use response::AppliedList;
use rule::{Mode, Outcome, Rule};

/// Applies the response rules to the chain's result.
fn respond(req: &mut Request, applied: &AppliedList<'_>, result: ServeResult) -> ServeResult {
    match result {
        Ok(mut m) => {
            if m.rcode != Rcode::DROP {
                applied.apply(&mut m);
            }
            Ok(m)
        }
        // CoreDNS writes the SERVFAIL of a failed chain through its response rules, so an
        // rcode rule can turn it into something else.
        Err(e) => {
            let rcode = applied.error_rcode(e.rcode());
            if rcode == e.rcode() {
                Err(e)
            } else {
                Ok(req.reply_rcode(rcode))
            }
        }
    }
}

/// The `rewrite` handler of one server block: all its rules, in Corefile order.
pub struct Rewrite {
    rules: Vec<Rule>,
}

impl Rewrite {
    pub fn new(rules: Vec<Rule>) -> Rewrite {
        Rewrite { rules }
    }
}

impl Plugin for Rewrite {
    fn name(&self) -> &'static str {
        "rewrite"
    }

    fn serve<'a>(&'a self, mut req: Box<Request>, next: Next<'a>) -> Served<'a> {
        let mut draft = Draft::new(&req);
        let mut applied = AppliedList::default();
        for rule in &self.rules {
            match rule.apply(&mut draft, &req, &mut applied) {
                Outcome::Ignored => {}
                Outcome::Done if rule.mode == Mode::Stop => break,
                Outcome::Done => {}
                Outcome::InvalidName(text) => {
                    return Served::error(
                        req,
                        PluginError::failed(
                            "rewrite",
                            format!("invalid name after rewrite: {text}"),
                        ),
                    );
                }
            }
        }
        if !draft.dirty && applied.is_empty() {
            return next.run(req);
        }
        let saved = draft.dirty.then(|| draft.install(&mut req));
        let served = next.run(req);
        // Following a rewritten CNAME target means asking the server: only then (or when the
        // answer itself is still to come) is there anything to wait for.
        let may_follow = applied.has_cname()
            && match &served {
                Served::Ready(_, Ok(m)) => {
                    m.rcode != Rcode::DROP && cname::wanted(applied.cname_rules(), m)
                }
                Served::Ready(_, Err(_)) => false,
                Served::Pending(_) => true,
            };
        if may_follow {
            return Served::Pending(Box::pin(async move {
                let (mut req, result) = served.finish().await;
                if let Some(saved) = saved {
                    saved.restore(&mut req);
                }
                let mut result = result;
                if let Ok(m) = &mut result {
                    if m.rcode != Rcode::DROP && cname::wanted(applied.cname_rules(), m) {
                        cname::apply(&req, applied.cname_rules(), m).await;
                    }
                }
                let result = respond(&mut req, &applied, result);
                (req, result)
            }));
        }
        served.map(move |req, result| {
            if let Some(saved) = saved {
                saved.restore(req);
            }
            respond(req, &applied, result)
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
