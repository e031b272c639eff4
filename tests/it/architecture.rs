//! The module structure stays a pipeline. `src/`'s folders are its stages, and
//! a folder's code reaches (through `crate::`, or `super::` inside a folder) only
//! into folders below it in [`STAGES`]; no module reaches back to itself through
//! others; the library never names the snapshot generator (a crate of its own
//! that only the binary's `generate` subcommand, the tests and the benches use).
//! Read from the source text, so a wrong-way import fails here naming the file
//! and the module it reaches.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name of a source file: `run` for `src/run/mod.rs`, `outputs/report/html`
/// for `src/outputs/report/html.rs`.
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

/// The folders of `src/`, top to bottom: each may use the ones after it.
/// `error` (the one error type) is below them all.
const STAGES: [&str; 10] = [
    "cli",
    "ops",
    "run",
    "outputs",
    "reconcile",
    "ingest",
    "engine",
    "storage",
    "config",
    "error",
];

fn stage_of(module: &str) -> &str {
    module.split('/').next().unwrap_or(module)
}

/// Every `module -> target` whose target's folder is above the module's own.
fn upward_edges(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let rank = |m: &str| {
        STAGES
            .iter()
            .position(|s| *s == stage_of(m))
            .unwrap_or_else(|| panic!("src/{m}: a folder that is not a stage of STAGES"))
    };
    let mut upward = Vec::new();
    for (module, targets) in edges {
        for target in targets {
            if rank(target) < rank(module) {
                upward.push(format!("{module} -> {target}"));
            }
        }
    }
    upward
}

#[test]
fn folders_only_reach_down_the_pipeline() {
    let edges = graph();
    // the reading itself works: run names the stages it drives
    let run = &edges["run"];
    for stage in [
        "engine/session",
        "ingest/snapshot",
        "ingest/staging",
        "reconcile/checks",
        "outputs/destination",
    ] {
        assert!(run.contains(stage), "run -> {stage} not seen: {run:?}");
    }
    let upward = upward_edges(&edges);
    assert!(
        upward.is_empty(),
        "imports that point up the pipeline ({STAGES:?}):\n{}",
        upward.join("\n")
    );
}

#[test]
fn an_import_up_the_pipeline_is_found() {
    let mut edges = graph();
    edges
        .get_mut("engine/session")
        .unwrap()
        .insert("outputs/publish".to_string());
    assert_eq!(
        upward_edges(&edges),
        vec!["engine/session -> outputs/publish".to_string()]
    );
}

#[test]
fn no_module_imports_itself_back_through_others() {
    if let Some(cycle) = find_cycle(&graph()) {
        panic!("import circle: {}", cycle.join(" -> "));
    }
}

#[test]
fn a_circle_is_found_when_there_is_one() {
    let mut edges = graph();
    edges
        .get_mut("outputs/publish")
        .unwrap()
        .insert("outputs/findings".to_string());
    let cycle = find_cycle(&edges).expect("findings -> publish -> findings");
    assert!(cycle.contains(&"outputs/publish".to_string()));
}

#[test]
fn only_the_binary_names_the_generator() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Vec::new();
    files(&root, &root, &mut sources);
    let naming: Vec<&String> = sources
        .iter()
        .filter(|(file, text)| file != "main.rs" && text.contains("revleak_synth"))
        .map(|(file, _)| file)
        .collect();
    assert!(
        naming.is_empty(),
        "the library names revleak_synth in {naming:?}"
    );
    // and the generator's crate needs nothing of the pipeline: only the contract
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/revleak-synth/Cargo.toml"),
    )
    .unwrap();
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .expect("crates/revleak-synth/Cargo.toml has [dependencies]");
    let revleak_crates: Vec<&str> = dependencies
        .lines()
        .filter_map(|l| l.split('=').next())
        .map(str::trim)
        .filter(|name| name.starts_with("revleak"))
        .collect();
    assert_eq!(revleak_crates, vec!["revleak-contract"]);
}
