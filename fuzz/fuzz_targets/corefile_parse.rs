//! Fuzzes the Corefile parser: arbitrary bytes (lossy UTF-8) must never panic, hang or
//! overflow the stack, whatever the nesting, quoting, snippets or imports involved.
//! Imports resolve against a directory that does not exist, so runs do not depend on the
//! fuzzer's working directory; `{$X}` expands to text that is itself reference-like.

#![no_main]

use libfuzzer_sys::fuzz_target;

const DIRECTIVES: &[&str] = &[
    "errors",
    "log",
    "health",
    "ready",
    "kubernetes",
    "prometheus",
    "forward",
    "cache",
    "loop",
    "reload",
    "loadbalance",
    "hosts",
    "rewrite",
    "template",
    "bind",
    "tls",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let opts = cairn_corefile::ParseOptions::new(DIRECTIVES).with_env(|name| match name {
        "X" => Some("{$X} {".to_owned()),
        "PORT" => Some("1053".to_owned()),
        _ => None,
    });
    if let Ok(corefile) = cairn_corefile::parse("/nonexistent-cairn-fuzz/Corefile", &text, &opts) {
        let _ = corefile.digest_hex();
        for block in &corefile.blocks {
            for key in &block.keys {
                let _ = cairn_corefile::parse_key(&key.text);
            }
        }
    }
});
