//! wordfreq: idiomatic Rust with the standard library, as a benchmark
//! workload: a text generated from a vocabulary is split into words,
//! counted in a BTreeMap, ranked by a sort with a closure, summarised
//! through iterators and formatted into a String, n rounds.
//!
//!     wordfreq N      prints "checksum C"
use std::collections::BTreeMap;
use std::fmt::Write;

struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

const VOCABULARY: &[&str] = &[
    "module", "memory", "table", "global", "function", "import", "export", "start", "element", "data",
    "instance", "store", "trap", "value", "stack", "frame", "branch", "loop", "block", "call",
];

fn make_text(rng: &mut Rng, words: usize) -> String {
    let mut text = String::with_capacity(words * 8);
    for i in 0..words {
        let w = VOCABULARY[(rng.next() % VOCABULARY.len() as u32) as usize];
        text.push_str(w);
        if rng.next() % 7 == 0 {
            write!(text, "{}", i % 13).unwrap();
        }
        text.push(if i % 11 == 10 { '\n' } else { ' ' });
    }
    text
}

#[derive(Debug)]
struct Entry<'a> {
    word: &'a str,
    count: u32,
}

fn round(text: &str, out: &mut String) -> u32 {
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word).or_insert(0) += 1;
    }
    let mut ranked: Vec<Entry> = counts.into_iter().map(|(word, count)| Entry { word, count }).collect();
    ranked.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.word.cmp(b.word)));
    out.clear();
    for e in ranked.iter().take(10) {
        writeln!(out, "{:>12} {:6}", e.word, e.count).unwrap();
    }
    let longest = ranked.iter().map(|e| e.word.len() as u32).max().unwrap_or(0);
    let lines = text.lines().filter(|l| l.contains("memory")).count() as u32;
    out.bytes().fold(longest ^ lines.rotate_left(7), |h, b| h.rotate_left(5) ^ b as u32)
}

fn main() {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let mut rng = Rng(2463534242);
    let mut sum = 0u32;
    let mut out = String::new();
    for r in 0..n {
        let text = make_text(&mut rng, 4000);
        sum = sum.rotate_left(3).wrapping_add(round(&text, &mut out)).wrapping_add(r);
    }
    println!("checksum {}", sum as i32);
}
