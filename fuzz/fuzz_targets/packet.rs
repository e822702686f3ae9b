//! Fuzzes the wire format and the server's packet path: arbitrary bytes go to the strict
//! query parser, to the general message parser (and back through the encoder), and through
//! the real dispatcher with a whoami chain (plus chaos and any when they set up), over UDP
//! and TCP limits.
//!
//! Properties: nothing panics; a message that parses re-encodes to bytes that parse; a
//! reply parses, carries the query's id with QR set and fits the client's size; the
//! dispatcher drops a packet only when its header is unreadable or it is a response.

#![no_main]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use cairn_core::request::{Proto, Request, ServerInfo};
use cairn_core::wire::{encode, parse_query, Message, OptRef, QueryInfo};
use cairn_server::dispatch::{Dispatcher, Outcome};
use libfuzzer_sys::fuzz_target;

const RICH: &str =
    "example.org {\n    whoami\n}\n. {\n    chaos Cairn-fuzz a b c\n    any\n    whoami\n}\n";
const PLAIN: &str = "example.org {\n    whoami\n}\n. {\n    whoami\n}\n";

fn build(text: &str) -> Option<Dispatcher> {
    let names = cairn_plugins::registry::directive_names();
    let opts = cairn_corefile::ParseOptions::new(&names);
    let corefile = cairn_corefile::parse("Corefile", text, &opts).ok()?;
    let server_opts = cairn_server::Options {
        dns_port: 53,
        table: cairn_plugins::registry::table(),
        config_dir: PathBuf::from("/nonexistent-cairn-fuzz"),
    };
    let inst = cairn_server::instance::build(&corefile, &server_opts).ok()?;
    let (key, blocks) = inst.listeners.into_iter().next()?;
    Some(Dispatcher::new(
        Arc::new(ServerInfo::new(key.label())),
        blocks,
    ))
}

fn dispatcher() -> &'static Dispatcher {
    static D: OnceLock<Dispatcher> = OnceLock::new();
    D.get_or_init(|| {
        build(RICH)
            .or_else(|| build(PLAIN))
            .expect("a whoami-only Corefile builds")
    })
}

fn check_parsers(data: &[u8]) {
    let mut info = QueryInfo::default();
    if parse_query(data, &mut info).is_ok() {
        assert!(info.question.end <= data.len());
        assert_eq!(info.question.start, 12);
    }
    if let Ok(m) = Message::parse(data) {
        let opt = m.edns.as_ref().map(|e| OptRef {
            udp_size: e.udp_size,
            dnssec_ok: e.dnssec_ok,
            options: &e.options,
        });
        let mut out = Vec::new();
        encode(&m, None, opt, 65535, &mut out);
        if let Err(e) = Message::parse(&out) {
            panic!("re-encoded message does not parse ({e}): {out:02x?}");
        }
    }
}

fn check_dispatch(data: &[u8], proto: Proto) {
    let d = dispatcher();
    let mut req = Box::new(Request::empty(d.server.clone()));
    req.raw.extend_from_slice(data);
    req.client = SocketAddr::from(([192, 0, 2, 1], 40212));
    req.local = SocketAddr::from(([127, 0, 0, 1], 53));
    req.proto = proto;
    match d.handle(req) {
        Outcome::Reply(mut req, msg) => {
            let mut out = Vec::new();
            req.encode_reply(&msg, &mut out);
            assert!(
                out.len() <= req.max_reply_size(),
                "{} bytes for a limit of {}",
                out.len(),
                req.max_reply_size()
            );
            let reply = match Message::parse(&out) {
                Ok(r) => r,
                Err(e) => panic!("reply does not parse ({e}): {out:02x?}"),
            };
            assert!(reply.flags.qr, "reply without QR");
            assert_eq!(&out[..2], &data[..2], "reply id differs from the query's");
        }
        Outcome::Drop(_) => {
            assert!(
                data.len() < 12 || data[2] & 0x80 != 0,
                "a readable query was dropped: {data:02x?}"
            );
        }
        // Nothing in these chains waits; a pending reply is not polled here.
        Outcome::Pending(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    check_parsers(data);
    check_dispatch(data, Proto::Udp);
    check_dispatch(data, Proto::Tcp);
});
