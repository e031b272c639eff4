//! The module structure stays a pipeline: no module of `src/` reaches, through
//! its `crate::` (or, inside a folder module, `super::`) references, back to
//! itself. Read from the source text, so a new import circle fails here with
//! the modules that form it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name of a source file: `run` for `src/run.rs`, `report/html` for
/// `src/report/html.rs`, `report` for `src/report/mod.rs`.
fn module_of(relative: &str) -> Option<String> {
    let path = relative.strip_suffix(".rs")?;
    let path = path.strip_suffix("/mod").unwrap_or(path);
    (!matches!(path, "lib" | "main")).then(|| path.to_string())
}

fn files(dir: &Path, root: &Path, found: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, root, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            found.push((relative, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// Module → the modules it names. A folder module's children are separate
/// nodes; naming a child of another folder counts as naming that child.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Vec::new();
    files(&root, &root, &mut sources);
    let modules: BTreeSet<String> = sources.iter().filter_map(|(f, _)| module_of(f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, text) in &sources {
        let Some(module) = module_of(file) else {
            continue;
        };
        let parent = module.rsplit_once('/').map(|(p, _)| p.to_string());
        let targets = edges.entry(module.clone()).or_default();
        // tests inside a file may reach anywhere, and comments name modules
        // without importing them: neither is the structure
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or(text)
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let code = code.as_str();
        for (prefix, base) in [("crate::", None), ("super::", parent.as_deref())] {
            for (at, _) in code.match_indices(prefix) {
                if prefix == "super::" && base.is_none() {
                    continue;
                }
                let rest = &code[at + prefix.len()..];
                let segments: Vec<&str> = rest
                    .split("::")
                    .take(2)
                    .map(|s| {
                        s.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .next()
                            .unwrap_or("")
                    })
                    .collect();
                let first = match base {
                    Some(b) => format!("{b}/{}", segments[0]),
                    None => segments[0].to_string(),
                };
                let nested = segments.get(1).map(|s| format!("{first}/{s}"));
                let target = match nested {
                    Some(n) if modules.contains(&n) => n,
                    _ => first,
                };
                if modules.contains(&target) && target != module {
                    targets.insert(target);
                }
            }
        }
    }
    edges
}

fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, edges, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn no_module_imports_itself_back_through_others() {
    let edges = graph();
    // the reading itself works: run names the stages it drives
    let run = &edges["run"];
    for stage in ["engine", "snapshot", "staging", "checks", "publish"] {
        assert!(run.contains(stage), "run -> {stage} not seen: {run:?}");
    }
    if let Some(cycle) = find_cycle(&edges) {
        panic!("import circle: {}", cycle.join(" -> "));
    }
}

#[test]
fn a_circle_is_found_when_there_is_one() {
    let mut edges = graph();
    edges.get_mut("engine").unwrap().insert("run".to_string());
    let cycle = find_cycle(&edges).expect("engine -> run -> engine");
    assert!(cycle.contains(&"engine".to_string()) && cycle.contains(&"run".to_string()));
}

#[test]
fn the_generator_is_a_guest_only_the_cli_calls() {
    let edges = graph();
    let importers: Vec<&String> = edges
        .iter()
        .filter(|(module, targets)| {
            !module.starts_with("generate")
                && targets
                    .iter()
                    .any(|t| t == "generate" || t.starts_with("generate/"))
        })
        .map(|(module, _)| module)
        .collect();
    assert_eq!(
        importers,
        vec!["app"],
        "the pipeline must not import generate/"
    );
}
