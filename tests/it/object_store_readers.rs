//! BI readers on the outputs in a bucket (issue 31): what two runs published
//! with `--out s3://bucket/revleak` on the local S3 server (moto), read by
//! pandas (through pyarrow's S3 filesystem, and through s3fs), pyarrow, DuckDB
//! (httpfs) and polars with tests/readers/read_outputs_s3.py, is what
//! tests/readers/read_outputs.py reads from the same two runs' local folder,
//! value for value: column types, rows and exact leakage per as_of. The readers
//! run in the venv `tests/servers/servers.sh install` makes; without it these
//! tests fail naming `bash .ci/run`, never skip.

use crate::common;
use crate::common::servers::{Cloud, servers};
use crate::object_store::revleak_with;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The bucket and `--out` of the README's lines, which the script runs verbatim.
const BUCKET: &str = "bucket";
const OUT: &str = "s3://bucket/revleak";

/// Two nights: the second stretches the payment grace period, so the findings
/// of payment_gap resolve and `resolved/` has rows.
const RUNS: [&[&str]; 2] = [
    &["--as-of", "2026-11-20"],
    &["--set", "payment_grace_days=400"],
];

const NOT_INSTALLED: &str = "the S3 readers venv is not installed: `bash .ci/run` installs it (or `bash tests/servers/servers.sh install`)";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn script() -> PathBuf {
    manifest_dir().join("tests/readers/read_outputs_s3.py")
}

/// The readers venv's python (tests/servers/servers.sh: `$OBJECT_STORE_SERVERS_HOME/readers`).
fn readers_python() -> PathBuf {
    let home = std::env::var_os("OBJECT_STORE_SERVERS_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/revleak-servers")
        });
    home.join("readers/bin/python")
}

/// The two runs, each published into the bucket and into `DIR/out`: `DIR`,
/// made once for all the tests here (they share the bucket's prefix).
fn published() -> &'static Path {
    static PUBLISHED: OnceLock<Result<tempfile::TempDir, String>> = OnceLock::new();
    let servers = servers();
    let published = PUBLISHED.get_or_init(|| {
        servers.mkbucket(BUCKET)?;
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let sample = common::sample_dir().to_string_lossy().to_string();
        for args in RUNS {
            for (out, env) in [(OUT, servers.env(Cloud::S3)), ("out", vec![])] {
                let mut all = vec!["run", sample.as_str(), "--out", out];
                all.extend_from_slice(args);
                let run = revleak_with(&all, &env, tmp.path());
                if run.code != 0 {
                    return Err(format!(
                        "revleak {all:?}: exit {}\n{}",
                        run.code, run.stderr
                    ));
                }
            }
        }
        Ok(tmp)
    });
    match published {
        Ok(dir) => dir.path(),
        Err(e) => panic!("{e}"),
    }
}

fn json_of(what: &str, output: std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{what} could not read the outputs:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn views() -> PathBuf {
    manifest_dir().join("docs/duckdb_views.sql")
}

/// What `reader` reads from the bucket (the readers venv, the S3 server's env).
fn read_from_bucket(reader: &str) -> serde_json::Value {
    let python = readers_python();
    assert!(
        python.exists(),
        "{NOT_INSTALLED} ({} is missing)",
        python.display()
    );
    let output = Command::new(&python)
        .arg(script())
        .arg(reader)
        .arg(views())
        .current_dir(published())
        .envs(servers().env(Cloud::S3))
        .output()
        .unwrap_or_else(|e| panic!("{} does not start ({e}): {NOT_INSTALLED}", python.display()));
    if !output.status.success() {
        panic!(
            "{reader} could not read {OUT} ({NOT_INSTALLED}, if it names a missing module):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    json_of(&format!("{reader} on {OUT}"), output)
}

/// What `reader` reads from the local folder, by tests/it/bi_reader.rs's script.
fn read_from_folder(reader: &str) -> serde_json::Value {
    let output = Command::new("python3")
        .arg(manifest_dir().join("tests/readers/read_outputs.py"))
        .arg(reader)
        .arg(views())
        .current_dir(published())
        .output()
        .unwrap_or_else(|e| panic!("python3 does not start ({e}): the reader tests need it"));
    json_of(
        &format!("{reader} on out/ (`bash .ci/run` installs the readers)"),
        output,
    )
}

/// `reader` on the bucket reads exactly what `local` (the same library) reads
/// from the folder, and that is what the runs reported in their manifests.
fn reads_the_bucket_as_the_folder(reader: &str, local: &str) {
    let seen = read_from_bucket(reader);
    let expected = read_from_folder(local);
    assert_eq!(
        seen,
        expected,
        "{reader} reads {OUT} otherwise than {local} reads out/:\nbucket: {}\nfolder: {}",
        serde_json::to_string_pretty(&seen).unwrap(),
        serde_json::to_string_pretty(&expected).unwrap()
    );

    let out = published().join("out");
    let mut as_ofs = Vec::new();
    for part in common::published_partitions(&out, "runs") {
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(part.join("manifest.json")).unwrap())
                .unwrap();
        let as_of = manifest["as_of"].as_str().unwrap().to_string();
        let findings = &seen["findings"]["as_of"][&as_of];
        assert_eq!(
            findings["rows"], manifest["findings"],
            "{reader} findings {as_of}"
        );
        assert_eq!(
            common::dec(findings["leakage"].as_str().unwrap()),
            common::dec(manifest["total_leakage"].as_str().unwrap()),
            "{reader} findings {as_of}: leakage"
        );
        let summary = &seen["summary"]["as_of"][&as_of];
        assert_eq!(
            summary["findings"], manifest["findings"],
            "{reader} summary {as_of}"
        );
        let lifecycle = &manifest["lifecycle"];
        if lifecycle["previous_as_of"].is_string() {
            let resolved = &seen["resolved"]["as_of"][&as_of];
            assert_eq!(
                resolved["rows"], lifecycle["resolved"],
                "{reader} resolved {as_of}"
            );
            assert_eq!(
                common::dec(resolved["leakage"].as_str().unwrap()),
                common::dec(lifecycle["resolved_leakage"].as_str().unwrap()),
                "{reader} resolved {as_of}: leakage"
            );
        }
        as_ofs.push(as_of);
    }
    assert_eq!(as_ofs, ["2026-11-20", "2026-11-26"], "{reader}: both runs");
    assert!(
        seen["resolved"]["as_of"]["2026-11-26"]["rows"].as_u64() > Some(0),
        "{reader}: payment_gap's findings resolve on the second night: {}",
        seen["resolved"]
    );
    let types = &seen["findings"]["types"];
    assert_eq!(types["as_of"], "date", "{reader}: {types}");
    assert_eq!(
        types["leakage_amount"], "decimal(18,2)",
        "{reader}: {types}"
    );
    assert_eq!(types["finding_id"], "string", "{reader}: {types}");
    for table in ["findings", "summary", "resolved", "partner_figures"] {
        let rows: u64 = seen[table]["as_of"]
            .as_object()
            .unwrap()
            .values()
            .map(|g| g["rows"].as_u64().unwrap())
            .sum();
        if let Some(plain) = seen[table]["plain_rows"].as_u64() {
            assert_eq!(plain, rows, "{reader} {table}, read with no options");
        }
    }
}

#[test]
fn pandas_reads_the_bucket_through_pyarrow_s3_as_the_local_folder() {
    reads_the_bucket_as_the_folder("pandas", "pandas");
}

#[test]
fn pandas_reads_the_bucket_through_s3fs_as_the_local_folder() {
    reads_the_bucket_as_the_folder("pandas-s3fs", "pandas");
}

#[test]
fn pyarrow_reads_the_bucket_as_the_local_folder() {
    reads_the_bucket_as_the_folder("pyarrow", "pyarrow");
}

#[test]
fn duckdb_httpfs_and_its_views_read_the_bucket_as_the_local_folder() {
    reads_the_bucket_as_the_folder("duckdb", "duckdb");
}

#[test]
fn polars_reads_the_bucket_as_the_local_folder() {
    reads_the_bucket_as_the_folder("polars", "polars");
}

#[test]
fn the_readme_shows_each_s3_readers_lines_as_the_tests_run_them() {
    // pandas twice (pyarrow's S3, s3fs), pyarrow, DuckDB's three, polars.
    common::assert_readme_holds_marked_lines(&script(), 7);
}
