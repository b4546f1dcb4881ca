//! No import circles: in every crate of the workspace (and the extension's `src/`), the modules
//! import one another in one direction only, so each can be read, tested and changed from the
//! bottom up (docs/architecture.md). The edges are read from the sources: `use crate::…`,
//! `use super::…` (a sibling, or an item of the parent), a module's `use` of its own
//! submodules, and paths `crate::m::…`, outside the unit tests.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().unwrap() != "bin" {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file is: `a/b.rs` and `a/b/mod.rs` are `a::b`; `lib.rs` is the crate root.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|p| p != "mod")
        .collect();
    match parts.as_slice() {
        [root] if root == "lib" || root == "main" => "crate".into(),
        _ => parts.join("::"),
    }
}

/// The module's own code: its `#[cfg(test)] mod tests { … }` left out.
fn without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod tests")
        .map_or(text, |at| &text[..at])
}

/// The first path segments after `crate::` or `super::` in a `use` item, braces expanded one
/// level (`use crate::{a, b::c}` names a and b).
fn named_modules(rest: &str) -> Vec<String> {
    let rest = rest.trim();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut names = Vec::new();
        let mut current = String::new();
        for ch in inner.chars() {
            match ch {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    names.push(std::mem::take(&mut current));
                    continue;
                }
                _ => {}
            }
            if depth == 0 && ch != '}' {
                current.push(ch);
            }
        }
        names.push(current);
        names
            .iter()
            .filter_map(|n| n.trim().split("::").next().map(str::to_string))
            .filter(|n| !n.is_empty())
            .collect()
    } else {
        rest.split("::")
            .next()
            .map(str::to_string)
            .into_iter()
            .collect()
    }
}

fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<String, String> = files
        .iter()
        .map(|f| (module_of(src, f), fs::read_to_string(f).unwrap()))
        .collect();
    let known: BTreeSet<&String> = modules.keys().collect();
    let mut graph = Graph::new();
    for (name, text) in &modules {
        let code = without_tests(text);
        let parent = match name.rsplit_once("::") {
            Some((parent, _)) => format!("{parent}::"),
            None => String::new(),
        };
        let mut edges = BTreeSet::new();
        let mut add = |target: String| {
            if known.contains(&target) && target != *name {
                edges.insert(target);
            }
        };
        for statement in code.split(';') {
            let statement = statement.trim();
            let Some(path) = statement
                .strip_prefix("pub use ")
                .or_else(|| statement.strip_prefix("use "))
                .or_else(|| statement.strip_prefix("pub(crate) use "))
            else {
                continue;
            };
            if let Some(rest) = path.strip_prefix("crate::") {
                named_modules(rest).into_iter().for_each(&mut add);
            } else if let Some(rest) = path.strip_prefix("super::") {
                // A submodule of the parent, or an item of the parent itself.
                for m in named_modules(rest) {
                    let sibling = format!("{parent}{m}");
                    if known.contains(&sibling) {
                        add(sibling);
                    } else {
                        add(parent.strip_suffix("::").unwrap_or("crate").to_string());
                    }
                }
            } else {
                // A path relative to this module: one of its own submodules.
                let own = if name == "crate" {
                    String::new()
                } else {
                    format!("{name}::")
                };
                for m in named_modules(path) {
                    add(format!("{own}{m}"));
                }
            }
        }
        for (at, _) in code.match_indices("crate::") {
            let tail = &code[at + "crate::".len()..];
            let segment: String = tail
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if tail[segment.len()..].starts_with("::") {
                add(segment);
            }
        }
        graph.insert(name.clone(), edges);
    }
    graph
}

/// The strongly connected sets of more than one module (Tarjan).
fn circles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        for w in &s.graph[v] {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let low = s.low[v].min(s.low[w.as_str()]);
                s.low.insert(v, low);
            } else if s.stack.contains(&w.as_str()) {
                let low = s.low[v].min(s.index[w.as_str()]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut set = Vec::new();
            while let Some(w) = s.stack.pop() {
                set.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if set.len() > 1 {
                set.sort();
                s.out.push(set);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.out
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn no_crate_has_an_import_circle() {
    let root = workspace();
    let mut sources = vec![root.join("src")];
    for entry in fs::read_dir(root.join("crates")).unwrap() {
        sources.push(entry.unwrap().path().join("src"));
    }
    let mut found = Vec::new();
    for src in &sources {
        let graph = graph(src);
        assert!(!graph.is_empty(), "{} has no modules read", src.display());
        if src.ends_with("irt-core/src") {
            let edges: usize = graph.values().map(BTreeSet::len).sum();
            assert!(
                graph.len() > 30 && edges > 100,
                "{} modules, {edges} edges",
                graph.len()
            );
        }
        for set in circles(&graph) {
            found.push(format!("{}: {}", src.display(), set.join(" ↔ ")));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

/// docs/architecture.md gives every module of irt-core a tier, and a module imports only modules
/// of lower tiers.
#[test]
fn irt_core_imports_only_downwards_as_documented() {
    let root = workspace();
    let doc = fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let tiers: BTreeMap<String, u32> = doc
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((name.to_string(), cells.get(2)?.parse().ok()?))
        })
        .collect();
    let graph = graph(&root.join("crates/irt-core/src"));
    let mut wrong = Vec::new();
    for (module, imports) in graph.iter().filter(|(m, _)| *m != "crate") {
        let Some(&tier) = tiers.get(module) else {
            wrong.push(format!("{module} has no row in docs/architecture.md"));
            continue;
        };
        for target in imports {
            match tiers.get(target) {
                Some(&t) if t < tier => {}
                Some(&t) => wrong.push(format!(
                    "{module} (tier {tier}) imports {target} (tier {t})"
                )),
                None => wrong.push(format!("{target} has no row in docs/architecture.md")),
            }
        }
    }
    for module in tiers.keys().filter(|m| !graph.contains_key(*m)) {
        wrong.push(format!(
            "docs/architecture.md lists {module}, which irt-core does not have"
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The reading of the sources finds a circle where there is one, through `use super::` and
/// through a braced `use crate::{…}` alike.
#[test]
fn a_circle_is_found() {
    let dir = std::env::temp_dir().join(format!("irt-architecture-{}", std::process::id()));
    fs::create_dir_all(dir.join("outer")).unwrap();
    fs::write(dir.join("lib.rs"), "mod a;\nmod b;\nmod c;\nmod outer;\n").unwrap();
    fs::write(dir.join("a.rs"), "use crate::{b::Thing, c};\n").unwrap();
    fs::write(
        dir.join("b.rs"),
        "pub struct Thing;\nfn f() { crate::c::g(); }\n",
    )
    .unwrap();
    fs::write(
        dir.join("c.rs"),
        "pub fn g() {}\n#[cfg(test)]\nmod tests {\n    use crate::a;\n}\n",
    )
    .unwrap();
    fs::write(
        dir.join("outer/mod.rs"),
        "mod x;\nmod y;\nmod z;\nuse z::Z;\npub struct Shared;\n",
    )
    .unwrap();
    fs::write(
        dir.join("outer/z.rs"),
        "pub struct Z;\nuse super::Shared;\n",
    )
    .unwrap();
    fs::write(dir.join("outer/x.rs"), "use super::y::Y;\n").unwrap();
    fs::write(dir.join("outer/y.rs"), "pub struct Y;\nuse super::x;\n").unwrap();
    let graph = graph(&dir);
    fs::remove_dir_all(&dir).unwrap();
    // a → b → c, but c's test module does not count: no circle there; outer::x ↔ outer::y is,
    // and so is a parent that uses its submodule z while z takes an item of the parent.
    let mut found = circles(&graph);
    found.sort();
    assert_eq!(
        found,
        [
            vec!["outer".to_string(), "outer::z".to_string()],
            vec!["outer::x".to_string(), "outer::y".to_string()],
        ]
    );
    assert!(graph["a"].contains("b") && graph["a"].contains("c") && graph["b"].contains("c"));
}
