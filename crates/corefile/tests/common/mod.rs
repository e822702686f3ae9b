//! Helpers shared by the integration tests: a fixed directive list, an injectable
//! environment, and self-cleaning temporary directories (no tempfile crate).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_corefile::{parse, Corefile, ParseError, ParseOptions};

pub const DIRECTIVES: &[&str] = &[
    "errors",
    "log",
    "forward",
    "cache",
    "health",
    "ready",
    "kubernetes",
    "prometheus",
    "loop",
    "reload",
    "loadbalance",
    "hosts",
    "template",
    "rewrite",
    "whoami",
    "bind",
    "tls",
    "file",
];

pub fn test_env(name: &str) -> Option<String> {
    match name {
        "PORT" => Some("1053".into()),
        "ZONE" => Some("example.org".into()),
        "UPSTREAM" => Some("9.9.9.9".into()),
        "PLUGIN" => Some("errors".into()),
        "OPEN" => Some("{".into()),
        "SPACED" => Some("a b".into()),
        "SNIP" => Some("common".into()),
        "KEYS" => Some("a.org,".into()),
        _ => None,
    }
}

pub fn opts() -> ParseOptions<'static> {
    ParseOptions::new(DIRECTIVES).with_env(test_env)
}

pub fn ok(text: &str) -> Corefile {
    match parse("Corefile", text, &opts()) {
        Ok(c) => c,
        Err(e) => panic!("unexpected error for {text:?}: {e}"),
    }
}

pub fn err(text: &str) -> ParseError {
    match parse("Corefile", text, &opts()) {
        Ok(c) => panic!("expected an error for {text:?}, got {c:?}"),
        Err(e) => e,
    }
}

/// Keys of every block, as text.
pub fn keys(c: &Corefile) -> Vec<Vec<String>> {
    c.blocks
        .iter()
        .map(|b| b.keys.iter().map(|k| k.text.clone()).collect())
        .collect()
}

/// A compact rendering of a block's directives: `name arg arg {child; child}` joined by " | ".
pub fn render(dirs: &[cairn_corefile::Directive]) -> String {
    dirs.iter()
        .map(|d| {
            let mut s = d.name.text.clone();
            for a in &d.args {
                s.push(' ');
                s.push_str(&a.text);
            }
            if d.has_block {
                s.push_str(" {");
                s.push_str(&render(&d.block));
                s.push('}');
            }
            s
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!(
            "cairn-corefile-{tag}-{}-{n}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&p, text).expect("write file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
