//! Heap allocations on the server's answer paths (whoami, REFUSED, file, cache hits,
//! loadbalance, rewrite), counted by the allocator of [`alloc_harness`] while the server
//! answers a stream of identical queries. Once warmed up, none of them may allocate (design
//! notes, section 6). `CAIRN_ALLOC_TRACE=N cargo test --test alloc -- --nocapture` prints
//! where the first N counted allocations come from.

mod alloc_harness;

use alloc_harness::*;

/// NOERROR with exactly two additional records besides OPT (whoami: A + SRV).
fn whoami_reply(r: &[u8]) -> bool {
    noerror(r) && count16(r, 10) == 3
}

/// NOERROR with one answer.
fn one_answer(r: &[u8]) -> bool {
    noerror(r) && count16(r, 6) == 1
}

#[test]
fn whoami_answer_path_does_not_allocate() {
    measure(
        "example.org {\n    whoami\n}\n",
        &[],
        "www.example.org.",
        1,
        whoami_reply,
    )
    .assert_none("whoami queries");
}

#[test]
fn refused_path_does_not_allocate() {
    // Not an answer path of a plugin, but every scan of the internet hits it.
    measure(
        "example.org {\n    whoami\n}\n",
        &[],
        "www.example.net.",
        1,
        |r| r[2] & 0x80 != 0 && rcode(r) == 5,
    )
    .assert_none("REFUSED queries");
}

const ZONE: &str = "$ORIGIN example.com.
$TTL 3600
@       IN SOA ns1.example.com. admin.example.com. 1 7200 3600 1209600 3600
@       IN NS  ns1.example.com.
ns1     IN A   192.0.2.1
www     IN A   192.0.2.2
";

const FILE_COREFILE: &str = "example.com {\n    file db.example.com\n}\n";

#[test]
fn file_answer_path_does_not_allocate() {
    measure(
        FILE_COREFILE,
        &[("db.example.com", ZONE)],
        "www.example.com.",
        1,
        one_answer,
    )
    .assert_none("file queries");
}

#[test]
fn file_nxdomain_path_does_not_allocate() {
    measure(
        FILE_COREFILE,
        &[("db.example.com", ZONE)],
        "nope.example.com.",
        1,
        // NXDOMAIN with the SOA in the authority section.
        |r| r[2] & 0x80 != 0 && rcode(r) == 3 && count16(r, 8) == 1,
    )
    .assert_none("NXDOMAIN queries");
}

#[test]
fn cache_hit_path_does_not_allocate() {
    // The first query fills the cache; every measured one is a hit copied into the pooled
    // reply with the remaining TTL.
    measure(
        "example.com {\n    cache\n    file db.example.com\n}\n",
        &[("db.example.com", ZONE)],
        "www.example.com.",
        1,
        // One answer, and AA (always set on hits).
        |r| one_answer(r) && aa(r),
    )
    .assert_none("cache hits");
}

/// A zone with four addresses on one name, for `loadbalance`.
const MULTI_A_ZONE: &str = "$ORIGIN example.com.
$TTL 300
@       IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
@       IN NS  ns1.example.com.
ns1     IN A   192.0.2.1
www     IN A   192.0.2.10
www     IN A   192.0.2.11
www     IN A   192.0.2.12
www     IN A   192.0.2.13
";

#[test]
fn loadbalance_path_does_not_allocate() {
    measure(
        "example.com {\n    loadbalance\n    file db.example.com\n}\n",
        &[("db.example.com", MULTI_A_ZONE)],
        "www.example.com.",
        1,
        // NOERROR with the four addresses, in whatever order.
        |r| noerror(r) && count16(r, 6) == 4,
    )
    .assert_none("loadbalanced answers");
}

#[test]
fn rewrite_path_does_not_allocate() {
    // The query for `alias` is answered from `www` and the answer renamed back.
    measure(
        "example.com {\n    rewrite name exact alias.example.com. www.example.com. answer auto\n    file db.example.com\n}\n",
        &[("db.example.com", ZONE)],
        "alias.example.com.",
        1,
        one_answer,
    )
    .assert_none("rewritten queries");
}
