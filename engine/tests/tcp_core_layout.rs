//! The TCP core's shape, checked from its sources (ARCHITECTURE decision 13): `tcp/` names
//! nothing below the segment (no DPDK constant, device, IP layer or stack), and its files
//! import one another without a cycle, so the layers read top to bottom.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The sources of `engine/src/tcp/`, by module name, test modules cut off.
fn tcp_sources() -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tcp");
    let mut files = BTreeMap::new();
    let mut dirs = vec![dir.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("tcp/ readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                dirs.push(p);
                continue;
            }
            let rel = p.strip_prefix(&dir).unwrap().with_extension("");
            let name = rel.to_string_lossy().replace("/mod", "").replace('/', "::");
            files.insert(name, std::fs::read_to_string(&p).expect("source"));
        }
    }
    files
}

#[test]
fn tcp_names_nothing_below_the_segment() {
    let forbidden = [
        "dpdk_sys",
        "crate::dev",
        "crate::iface",
        "crate::ip",
        "crate::stack",
    ];
    let mut found = Vec::new();
    for (name, src) in tcp_sources() {
        for (n, line) in src.lines().enumerate() {
            for f in forbidden {
                if line.contains(f) {
                    found.push(format!("tcp/{name}.rs:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "tcp/ reaches below the segment:\n{}",
        found.join("\n")
    );
}

/// The modules of `tcp/` that `src` refers to with `super::` (outside its test module).
fn imports(src: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = src.split("#[cfg(test)]").next().unwrap_or(src);
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("super::") {
        rest = &rest[i + "super::".len()..];
        // `super::{a, b::c}` or `super::a`.
        let names: Vec<&str> = if let Some(list) = rest.strip_prefix('{') {
            let end = list.find('}').unwrap_or(list.len());
            list[..end].split(',').collect()
        } else {
            vec![rest]
        };
        for n in names {
            let id: String = n
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if modules.contains(&id) {
                out.insert(id);
            }
        }
    }
    out
}

/// A cycle in `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = path.iter().position(|p| p == m).unwrap_or(0);
                    let mut cycle = path[at..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn tcp_files_import_one_another_without_a_cycle() {
    let sources = tcp_sources();
    // Top-level modules of tcp/ (a folder module counts as one).
    let modules: BTreeSet<String> = sources
        .keys()
        .map(|k| k.split("::").next().unwrap().to_string())
        .filter(|k| k != "mod")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, src) in &sources {
        let top = name.split("::").next().unwrap().to_string();
        if top == "mod" {
            continue;
        }
        let mut deps = imports(src, &modules);
        deps.remove(&top);
        graph.entry(top).or_default().extend(deps);
    }
    assert!(graph.len() > 20, "found the modules: {:?}", graph.keys());
    assert!(graph["layer"].contains("input"), "the parser sees imports");
    if let Some(c) = find_cycle(&graph) {
        panic!("import cycle in tcp/: {}", c.join(" -> "));
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let g: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]
        .into_iter()
        .fold(BTreeMap::new(), |mut g, (x, y)| {
            g.entry(x.to_string())
                .or_insert_with(BTreeSet::new)
                .insert(y.to_string());
            g
        });
    let c = find_cycle(&g).expect("a cycle");
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4);
    let modules: BTreeSet<String> = ["ack", "ctx", "tcb"].map(String::from).into();
    let src = "use super::ctx::{Out, set_state};\nuse super::{ack, tcb::Tcb};\n#[cfg(test)]\nuse super::nothing;";
    assert_eq!(imports(src, &modules), modules);
}
