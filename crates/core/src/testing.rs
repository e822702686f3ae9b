//! Helpers for plugin tests: build queries, set a plugin up from Corefile text, run it with a
//! stub `next`, and look at the reply. Public so every plugin's `tests.rs` uses the same ones.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::plugin::{Chain, Next, Plugin, ServeResult, Served};
use crate::request::{Proto, Request};
use crate::setup::{BlockInfo, BlockSettings, InstanceParts, PluginSpec, SetupCtx, SetupError};
use crate::wire::{encode, Message, Name, OptRef, QuestionRef, RType, Rcode, CLASS_IN};

/// Wire bytes of a query for `name`/`qtype` in `class` (RD set), with EDNS when `edns` is set.
pub fn query_bytes(name: &str, qtype: RType, class: u16, edns: Option<u16>) -> Vec<u8> {
    let n = Name::parse(name, None).expect("test name");
    let mut m = Message {
        id: 0xBEEF,
        ..Message::default()
    };
    m.flags.rd = true;
    let mut out = Vec::new();
    let opt = edns.map(|size| OptRef {
        udp_size: size,
        dnssec_ok: false,
        options: &[],
    });
    encode(
        &m,
        Some(QuestionRef {
            name: n.wire(),
            qtype,
            qclass: class,
        }),
        opt,
        65535,
        &mut out,
    );
    out
}

/// A parsed request for `name`/`qtype` (class IN, UDP, from 10.240.0.1:40212).
pub fn query(name: &str, qtype: RType) -> Box<Request> {
    query_from(
        name,
        qtype,
        "10.240.0.1:40212".parse().expect("addr"),
        Proto::Udp,
    )
}

/// A parsed request from a given client and transport.
pub fn query_from(name: &str, qtype: RType, client: SocketAddr, proto: Proto) -> Box<Request> {
    let raw = query_bytes(name, qtype, CLASS_IN, Some(1232));
    let mut r = Request::from_query(&raw, client, proto).expect("test query parses");
    r.local = "127.0.0.1:53".parse().expect("addr");
    Box::new(r)
}

/// A last plugin that answers every query with `rcode` and counts how often it ran.
pub struct StubNext {
    pub rcode: Rcode,
    pub calls: AtomicUsize,
}

impl StubNext {
    /// A stub answering `rcode`.
    pub fn new(rcode: Rcode) -> Arc<StubNext> {
        Arc::new(StubNext {
            rcode,
            calls: AtomicUsize::new(0),
        })
    }

    /// How many queries reached the stub.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Plugin for StubNext {
    fn name(&self) -> &'static str {
        "stub"
    }
    fn serve<'a>(&'a self, mut req: Box<Request>, _next: Next<'a>) -> Served<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let m = req.reply_rcode(self.rcode);
        Served::reply(req, m)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Runs a chain to completion (blocking on a small runtime if it has to wait).
pub fn run(chain: &Chain, req: Box<Request>) -> (Box<Request>, ServeResult) {
    match chain.run(req) {
        Served::Ready(req, result) => (req, result),
        Served::Pending(fut) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test runtime")
            .block_on(fut),
    }
}

/// The result of setting up one block in a test.
pub struct TestSetup {
    pub plugins: Vec<Arc<dyn Plugin>>,
    pub parts: InstanceParts,
    pub settings: BlockSettings,
}

impl TestSetup {
    /// A chain of the plugins set up, followed by `next`.
    pub fn chain_with(&self, next: Arc<dyn Plugin>) -> Chain {
        let mut p = self.plugins.clone();
        p.push(next);
        Chain::new(p)
    }
}

/// Builds the [`SetupCtx`] of the `name` lines of a one-block Corefile and hands it to `f`:
/// what the server does for one plugin of one block. Relative paths resolve against `dir`.
pub fn with_setup_ctx<R>(
    name: &str,
    corefile: &str,
    dir: Option<PathBuf>,
    f: impl FnOnce(&mut SetupCtx<'_>) -> Result<R, SetupError>,
) -> Result<(R, TestSetup), SetupError> {
    let names = [name];
    let opts = cairn_corefile::ParseOptions::new(&names);
    let parsed = cairn_corefile::parse("Corefile", corefile, &opts)?;
    let block = parsed.blocks.first().expect("a server block");
    let mut keys = Vec::new();
    for t in &block.keys {
        keys.extend(cairn_corefile::parse_key(&t.text).map_err(|e| t.error(e.to_string()))?);
    }
    let zones = keys
        .iter()
        .map(|k| Name::parse(&k.zone, None).expect("zone"))
        .collect();
    let info = BlockInfo {
        index: 0,
        port: 53,
        keys,
        zones,
    };
    let directives: Vec<_> = block
        .directives
        .iter()
        .filter(|d| d.name.text == name)
        .cloned()
        .collect();
    let mut settings = BlockSettings::default();
    let mut plugins = Vec::new();
    let mut parts = InstanceParts::default();
    let mut ctx = SetupCtx::new(
        &directives,
        &info,
        &mut settings,
        dir.unwrap_or_else(|| PathBuf::from(".")),
        &mut plugins,
        &mut parts,
    );
    let result = f(&mut ctx)?;
    Ok((
        result,
        TestSetup {
            plugins,
            parts,
            settings,
        },
    ))
}

/// Sets up `spec` from Corefile text: a whole file such as
/// `"example.org {\n hosts {\n 10.0.0.1 a\n }\n}"`. Relative paths resolve against `dir`.
pub fn setup(
    spec: &PluginSpec,
    corefile: &str,
    dir: Option<PathBuf>,
) -> Result<TestSetup, SetupError> {
    with_setup_ctx(spec.name, corefile, dir, spec.setup).map(|((), s)| s)
}

/// Encodes a reply as the server would for `req` and parses it back: what a client sees.
pub fn on_the_wire(req: &Request, msg: &Message) -> Message {
    let mut out = Vec::new();
    let q = QuestionRef {
        name: req.info.qname.wire(),
        qtype: req.info.qtype,
        qclass: req.info.qclass,
    };
    encode(msg, Some(q), None, 65535, &mut out);
    Message::parse(&out).expect("reply parses")
}

/// The answer section as `dig`-style lines, for compact assertions.
pub fn lines(records: &[crate::wire::Record]) -> Vec<String> {
    records.iter().map(|r| r.to_string()).collect()
}

/// The reply a case table expects: rcode, AA set, and each section as `dig`-style lines
/// (compared sorted and whitespace-normalized; `SERIAL` stands for the zone's SOA serial).
pub struct Expected<'a> {
    pub rcode: crate::wire::Rcode,
    pub answer: &'a [&'a str],
    pub authority: &'a [&'a str],
    pub additional: &'a [&'a str],
}

/// A `dig`-style line with its whitespace collapsed to single spaces.
pub fn normalize_line(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks the reply `msg` a plugin built for `req` against `want`: on the wire (rcode, AA,
/// nothing lost by the encoder) and section by section as the plugin built them (the
/// encoder's name compression is not what a table checks). `serial` replaces `SERIAL`.
pub fn check_reply(
    req: &Request,
    msg: &Message,
    want: &Expected<'_>,
    serial: u32,
) -> Result<(), String> {
    let wire = on_the_wire(req, msg);
    if wire.rcode != want.rcode {
        return Err(format!("rcode {:?}, want {:?}", wire.rcode, want.rcode));
    }
    if !wire.flags.aa {
        return Err("AA not set".into());
    }
    if (
        wire.answer.len(),
        wire.authority.len(),
        wire.additional.len(),
    ) != (msg.answer.len(), msg.authority.len(), msg.additional.len())
    {
        return Err("the encoded reply lost records".into());
    }
    let serial = serial.to_string();
    for (section, got, expected) in [
        ("answer", &msg.answer, want.answer),
        ("authority", &msg.authority, want.authority),
        ("additional", &msg.additional, want.additional),
    ] {
        let mut got: Vec<String> = lines(got).iter().map(|l| normalize_line(l)).collect();
        got.sort();
        let mut expected: Vec<String> = expected
            .iter()
            .map(|l| normalize_line(&l.replace("SERIAL", &serial)))
            .collect();
        expected.sort();
        if got != expected {
            return Err(format!("{section}:\n got  {got:#?}\n want {expected:#?}"));
        }
    }
    Ok(())
}
