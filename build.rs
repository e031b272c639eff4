//! Embeds the shipped `queries/` (staging, shared, checks, and the tests of
//! `revleak test`) in the binary, so that
//! `revleak run` works from any folder after `cargo install` and `revleak init`
//! can write them out as a starter project.

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let mut code = String::from("&[\n");
    for file in &files {
        let relative = file
            .strip_prefix(&root)
            .expect("under queries/")
            .to_string_lossy()
            .replace('\\', "/");
        code.push_str(&format!(
            "    ({relative:?}, include_str!({:?})),\n",
            file.display().to_string()
        ));
    }
    code.push_str("]\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("built_in_queries.rs");
    std::fs::write(&out, code).expect("write built_in_queries.rs");
}

/// Every `.sql` and `.toml` file below `dir`.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "sql" || e == "toml") {
            files.push(path);
        }
    }
}
