//! The shape of the code, checked: the top-level modules (`src/<name>.rs` or
//! `src/<name>/`) import each other without loops, and the layers hold — the ground floor
//! (`vocab`) imports nothing from the crate, `config` nothing but the ground floor. A module
//! "imports" another when its code (tests aside) names `crate::<other>`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Top-level module → the top-level modules its non-test code names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in std::fs::read_dir(&src).expect("src").flatten() {
        let p = e.path();
        let name = p
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        if name == "lib" || name == "main" {
            continue;
        }
        let mut files = Vec::new();
        if p.is_dir() {
            rust_files(&p, &mut files);
        } else {
            files.push(p);
        }
        modules.entry(name).or_default().extend(files);
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut out = BTreeMap::new();
    for (m, files) in &modules {
        let mut deps = BTreeSet::new();
        for f in files {
            let text = std::fs::read_to_string(f).expect("source");
            // Unit tests may use anything; comments (doc links) are not imports.
            let code: String = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or("")
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            for (i, _) in code.match_indices("crate::") {
                let code = code.as_str();
                let rest = &code[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name != *m && names.contains(&name) {
                    deps.insert(name);
                }
            }
        }
        out.insert(m.clone(), deps);
    }
    out
}

/// Every module `from` reaches through `graph`.
fn reach(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(m) = todo.pop() {
        for d in graph.get(&m).into_iter().flatten() {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn top_level_modules_import_each_other_without_loops() {
    let g = imports();
    let mut loops = Vec::new();
    for (m, deps) in &g {
        for d in deps {
            if reach(&g, d).contains(m) && m < d {
                loops.push(format!(
                    "{m} ↔ {d} (through {})",
                    path(&g, d, m).join(" → ")
                ));
            }
        }
    }
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

#[test]
fn the_ground_floor_and_config_import_nothing_above_them() {
    let g = imports();
    assert!(g.contains_key("vocab"), "the ground floor exists");
    assert_eq!(
        g["vocab"],
        BTreeSet::new(),
        "vocab imports nothing from the crate"
    );
    let above: Vec<&String> = g["config"].iter().filter(|d| *d != "vocab").collect();
    assert!(above.is_empty(), "config imports {above:?}");
}

/// A shortest path `from` → … → `to`.
fn path(g: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> Vec<String> {
    let mut prev: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from.to_string()]);
    while let Some(m) = queue.pop_front() {
        if m == to {
            let mut out = vec![m.clone()];
            let mut cur = m;
            while let Some(p) = prev.get(&cur) {
                out.push(p.clone());
                cur = p.clone();
            }
            out.reverse();
            return out;
        }
        for d in g.get(&m).into_iter().flatten() {
            if !prev.contains_key(d) && d != from {
                prev.insert(d.clone(), m.clone());
                queue.push_back(d.clone());
            }
        }
    }
    vec![from.to_string(), to.to_string()]
}
