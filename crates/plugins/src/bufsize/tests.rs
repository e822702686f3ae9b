use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use cairn_core::testing::{query_bytes, run, setup};
use cairn_core::wire::{parse_query, QueryInfo, RType, Rcode, CLASS_IN};
use cairn_core::{Next, Plugin, Proto, Request, Served};

use crate::registry::spec;

/// No EDNS seen.
const NONE: u32 = u32::MAX;

/// A last plugin that records the UDP size it was given, in the parsed request and in the
/// raw bytes, and the reply limit that follows from it.
#[derive(Default)]
struct Seen {
    parsed: AtomicU32,
    raw: AtomicU32,
    limit: AtomicU32,
}

impl Plugin for Seen {
    fn name(&self) -> &'static str {
        "seen"
    }
    fn serve<'a>(&'a self, mut req: Box<Request>, _next: Next<'a>) -> Served<'a> {
        let size = |e: Option<u16>| e.map_or(NONE, u32::from);
        self.parsed
            .store(size(req.info.edns.map(|e| e.udp_size)), Ordering::SeqCst);
        let mut again = QueryInfo::default();
        parse_query(&req.raw, &mut again).unwrap();
        self.raw
            .store(size(again.edns.map(|e| e.udp_size)), Ordering::SeqCst);
        self.limit
            .store(req.max_reply_size() as u32, Ordering::SeqCst);
        let m = req.reply_rcode(Rcode::NOERROR);
        Served::reply(req, m)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn request(edns: Option<u16>) -> Box<Request> {
    let raw = query_bytes("example.org.", RType::A, CLASS_IN, edns);
    Box::new(Request::from_query(&raw, "10.0.0.1:5353".parse().unwrap(), Proto::Udp).unwrap())
}

#[test]
fn lowers_only_larger_sizes() {
    for (corefile, client, want) in [
        // (Corefile, client's EDNS size, size the rest of the chain sees)
        (". {\n bufsize\n}", Some(4096), Some(1232)),
        (". {\n bufsize\n}", Some(1233), Some(1232)),
        (". {\n bufsize\n}", Some(1232), Some(1232)),
        (". {\n bufsize\n}", Some(1000), Some(1000)),
        (". {\n bufsize\n}", Some(512), Some(512)),
        (". {\n bufsize 1024\n}", Some(1152), Some(1024)),
        (". {\n bufsize 1024\n}", Some(896), Some(896)),
        (". {\n bufsize 512\n}", Some(65535), Some(512)),
        (". {\n bufsize 4096\n}", Some(8192), Some(4096)),
        (". {\n bufsize\n}", None, None),
        (". {\n bufsize 512\n}", None, None),
    ] {
        let s = setup(spec("bufsize"), corefile, None).unwrap();
        let seen = Arc::new(Seen::default());
        let chain = s.chain_with(seen.clone());
        let (req, result) = run(&chain, request(client));
        assert_eq!(result.unwrap().rcode, Rcode::NOERROR);
        let want_u32 = want.map_or(NONE, u32::from);
        let case = format!("{corefile:?} client {client:?}");
        assert_eq!(seen.parsed.load(Ordering::SeqCst), want_u32, "{case}");
        assert_eq!(seen.raw.load(Ordering::SeqCst), want_u32, "{case}");
        assert_eq!(
            seen.limit.load(Ordering::SeqCst),
            u32::from(want.unwrap_or(512)),
            "{case}"
        );
        assert_eq!(req.info.edns.map(|e| e.udp_size), want, "{case}");
    }
}

#[test]
fn sizes_in_range_are_accepted() {
    for (corefile, want) in [
        (". {\n bufsize\n}", 1232),
        (". {\n bufsize \"1220\"\n}", 1220),
        (". {\n bufsize 512\n}", 512),
        (". {\n bufsize 4096\n}", 4096),
        (". {\n bufsize 1100\n bufsize 2000\n}", 1100),
    ] {
        let s = setup(spec("bufsize"), corefile, None).unwrap();
        assert_eq!(s.plugins.len(), 1, "{corefile}");
        let b = s.plugins[0]
            .as_any()
            .downcast_ref::<super::Bufsize>()
            .unwrap();
        assert_eq!(b.size, want, "{corefile}");
    }
}

#[test]
fn bad_sizes_are_errors_at_their_line() {
    let range =
        |v: &str| format!("plugin/bufsize: SIZE must be a number from 512 to 4096, got '{v}'");
    for (corefile, line, want) in [
        (". {\n bufsize 5000\n}", 2, range("5000")),
        (". {\n bufsize 4097\n}", 2, range("4097")),
        (". {\n bufsize 511\n}", 2, range("511")),
        (". {\n bufsize -1\n}", 2, range("-1")),
        (". {\n bufsize abc123\n}", 2, range("abc123")),
        (". {\n\n bufsize \"512 512\"\n}", 3, range("512 512")),
        (
            ". {\n bufsize 512 512\n}",
            2,
            "Wrong argument count or unexpected line ending after '512'".to_string(),
        ),
        (
            ". {\n bufsize 1232 {\n  udp 1\n }\n}",
            3,
            "unknown property 'udp'".to_string(),
        ),
    ] {
        let err = setup(spec("bufsize"), corefile, None).err().unwrap();
        assert_eq!(err.line, line, "{corefile}");
        assert_eq!(err.message, want, "{corefile}");
        assert!(err
            .to_string()
            .starts_with(&format!("Corefile:{line} - Error during parsing:")));
    }
}
