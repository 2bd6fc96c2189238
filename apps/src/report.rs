//! Printing counters: one `Name value` line per counter, non-zero ones only unless asked.

use engine::Counters;

/// Formats the counters as `Name value` lines (skipping zeros unless `all`).
pub fn counters(c: &Counters, all: bool) -> String {
    let mut s = String::new();
    for (name, v) in c.entries() {
        if all || v != 0 {
            s.push_str(&format!("{name:<28} {v}\n"));
        }
    }
    s
}
