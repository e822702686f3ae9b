//! Property-style robustness: arbitrary input never panics, hangs or overflows the stack.
//! A tiny xorshift generator keeps this dependency-free and reproducible.

mod common;

use cairn_corefile::{parse, parse_key, ParseOptions};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Fragments that exercise the grammar more often than uniform bytes would.
const PIECES: &[&str] = &[
    "{",
    "}",
    " ",
    "\n",
    "\"",
    "\\",
    "#",
    ",",
    ":",
    "/",
    "(",
    ")",
    "import ",
    "(s)",
    "s",
    "errors",
    "forward",
    ".",
    "example.org",
    "{$",
    "{%",
    "%}",
    "{$X}",
    "\r",
    "\u{feff}",
    "*",
    "?",
    "[",
    "10.0.0.0/17",
    "::",
    "\t",
    "é",
    "\u{a0}",
    "log",
    "{ ",
    " }",
];

fn random_input(rng: &mut XorShift) -> String {
    let len = rng.below(64);
    if rng.below(2) == 0 {
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect()
    }
}

#[test]
fn random_inputs_never_panic() {
    let opts = ParseOptions::new(&["errors", "forward", "log", "s"]).with_env(|n| match n {
        "X" => Some("{$X} {".into()),
        _ => None,
    });
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut ok = 0usize;
    for _ in 0..20_000 {
        let text = random_input(&mut rng);
        // A directory that does not exist keeps file imports deterministic.
        if let Ok(c) = parse("/nonexistent-cairn-corefile-test/Corefile", &text, &opts) {
            ok += 1;
            let _ = c.digest_hex();
            for b in &c.blocks {
                for k in &b.keys {
                    let _ = parse_key(&k.text);
                }
            }
        }
        let _ = parse_key(&text);
    }
    // Sanity: the generator does produce some valid Corefiles.
    assert!(ok > 100, "only {ok} inputs parsed");
}
