//! A snapshot in object storage (issue 31, part A), against real local servers
//! (tests/servers/: moto for S3, gcp-storage-emulator with the XML API for GCS,
//! Azurite for Azure): `revleak run URL` finds exactly what the local run finds,
//! `revleak inspect URL` lists the same tables, and a missing bucket, an
//! unreachable endpoint or a wrong secret stops the run with exit 2 naming the
//! URL, the secret nowhere. Outputs in a bucket: object_store_out.rs.

use crate::common::servers::{BUCKET, CLOUDS, Cloud, servers, upload};
use crate::common::{copy_sample, revleak_command};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The sample snapshot, plus what the formats reader reads besides single
/// Parquet files: a part-file folder with Spark's `_SUCCESS` and `.crc` (a
/// table the checks read), a gzip CSV table, a zstd JSON lines table, a Hive
/// `key=value/` folder and a workbook (tables no staging view reads: listed by inspect, converted by a run).
pub(crate) fn snapshot() -> &'static Path {
    static SNAPSHOT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &SNAPSHOT
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let snap = tmp.path().join("snapshot");
            copy_sample(&snap);
            let forecasts = snap.join("crm/forecasts");
            std::fs::create_dir_all(&forecasts).unwrap();
            std::fs::rename(
                snap.join("crm/forecasts.parquet"),
                forecasts.join("part-00000.parquet"),
            )
            .unwrap();
            std::fs::write(forecasts.join("_SUCCESS"), b"").unwrap();
            std::fs::write(forecasts.join(".part-00000.parquet.crc"), b"crc").unwrap();
            let extra = snap.join("extra");
            std::fs::create_dir_all(&extra).unwrap();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(b"note_id,text\n1,first\n2,\"second, with a comma\"\n3,third\n")
                .unwrap();
            std::fs::write(extra.join("notes.csv.gz"), gz.finish().unwrap()).unwrap();
            let events = b"{\"id\": 1, \"kind\": \"open\"}\n{\"id\": 2, \"kind\": null}\n";
            std::fs::write(
                extra.join("events.jsonl.zst"),
                zstd::encode_all(&events[..], 0).unwrap(),
            )
            .unwrap();
            for day in ["2026-11-25", "2026-11-26"] {
                let part = extra.join(format!("partners_by_day/day={day}"));
                std::fs::create_dir_all(&part).unwrap();
                std::fs::copy(
                    snap.join("prm/partners.parquet"),
                    part.join("part-0.parquet"),
                )
                .unwrap();
            }
            std::fs::write(extra.join("partners_by_day/_SUCCESS"), b"").unwrap();
            std::fs::copy(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/exports/pos_xlsx/snapshot/prm/pos_q3.xlsx"),
                extra.join("pos_q3.xlsx"),
            )
            .unwrap();
            (tmp, snap)
        })
        .1
}

/// Uploads the snapshot to `cloud` once, under its own prefix: its URL.
pub(crate) fn uploaded(cloud: Cloud) -> String {
    static DONE: OnceLock<std::sync::Mutex<Vec<Cloud>>> = OnceLock::new();
    let done = DONE.get_or_init(Default::default);
    let mut done = done.lock().unwrap();
    let prefix = "channel/2026-11-26";
    if !done.contains(&cloud) {
        upload(&servers().store(cloud, BUCKET), snapshot(), prefix);
        done.push(cloud);
    }
    cloud.url(BUCKET, prefix)
}

pub(crate) struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub(crate) fn revleak_with(args: &[&str], env: &[(String, String)], cwd: &Path) -> Outcome {
    let mut command = revleak_command();
    command
        .args(args)
        .current_dir(cwd)
        .env("REVLEAK_LOG", "warn")
        .env("XDG_CACHE_HOME", cwd.join(".cache"));
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("the binary runs");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Every published finding as one line of all its columns but `run_id`, sorted.
pub(crate) fn findings_but_run_id(out: &Path) -> Vec<String> {
    rows_but_run_id(out, "findings")
}

/// Every row of every published partition of the Parquet output `kind`, as
/// one line of its partition and all its columns but `run_id`, sorted; none
/// when `kind` was never published.
pub(crate) fn rows_but_run_id(out: &Path, kind: &str) -> Vec<String> {
    let mut rows = Vec::new();
    if !out.join(kind).exists() {
        return rows;
    }
    for part in crate::common::published_partitions(out, kind) {
        let partition = part.file_name().unwrap().to_string_lossy().to_string();
        for file in std::fs::read_dir(&part).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_none_or(|e| e != "parquet") {
                continue;
            }
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
            for batch in reader {
                rows.extend(
                    rows_of(&batch.unwrap())
                        .into_iter()
                        .map(|row| format!("{partition} | {row}")),
                );
            }
        }
    }
    rows.sort();
    rows
}

fn rows_of(batch: &RecordBatch) -> Vec<String> {
    let options = FormatOptions::default().with_null("∅");
    let columns: Vec<(String, ArrayFormatter)> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(f, _)| f.name() != "run_id")
        .map(|(f, c)| {
            (
                f.name().clone(),
                ArrayFormatter::try_new(c, &options).unwrap(),
            )
        })
        .collect();
    (0..batch.num_rows())
        .map(|row| {
            columns
                .iter()
                .map(|(name, f)| format!("{name}={}", f.value(row)))
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect()
}

/// The findings of the local run of [`snapshot`], computed once.
pub(crate) fn local_findings() -> &'static Vec<String> {
    static LOCAL: OnceLock<Vec<String>> = OnceLock::new();
    LOCAL.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let snap = snapshot().to_string_lossy().to_string();
        let run = revleak_with(
            &["run", &snap, "--out", &out.to_string_lossy()],
            &[],
            tmp.path(),
        );
        assert!(run.code <= 1, "local run failed: {}", run.stderr);
        let rows = findings_but_run_id(&out);
        assert!(!rows.is_empty(), "the sample has findings");
        rows
    })
}

fn run_from(cloud: Cloud) {
    let url = uploaded(cloud);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let run = revleak_with(
        &["run", &url, "--out", &out.to_string_lossy()],
        &servers().env(cloud),
        tmp.path(),
    );
    assert!(
        run.code <= 1,
        "{cloud:?}: run of {url} failed ({}): {}",
        run.code,
        run.stderr
    );
    let manifest = std::fs::read_to_string(
        crate::common::published_partitions(&out, "runs")[0].join("manifest.json"),
    )
    .unwrap();
    assert!(
        manifest.contains(&format!("{url}/crm/forecasts")),
        "the manifest names the tables by URL: {manifest}"
    );
    let rows = findings_but_run_id(&out);
    assert_eq!(
        rows.len(),
        local_findings().len(),
        "{cloud:?}: as many findings as the local run"
    );
    assert_eq!(
        &rows,
        local_findings(),
        "{cloud:?}: the findings of the local run"
    );
}

#[test]
fn a_snapshot_in_s3_gives_exactly_the_findings_of_the_local_run() {
    run_from(Cloud::S3);
}

#[test]
fn a_snapshot_in_gcs_gives_exactly_the_findings_of_the_local_run() {
    run_from(Cloud::Gcs);
}

#[test]
fn a_snapshot_in_azure_gives_exactly_the_findings_of_the_local_run() {
    run_from(Cloud::Azure);
}

/// `system/name rows` of every raw table an `inspect --output json` lists.
fn raw_tables(inspect_json: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(inspect_json)
        .unwrap_or_else(|e| panic!("inspect JSON ({e}): {inspect_json}"));
    let mut tables: Vec<String> = value["raw_tables"]
        .as_array()
        .expect("a raw_tables list")
        .iter()
        .map(|t| format!("{} {} {}", t["table"], t["rows"], t["files"]))
        .collect();
    tables.sort();
    tables
}

#[test]
fn inspect_of_a_snapshot_url_lists_the_tables_the_local_folder_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let local = revleak_with(
        &["--output", "json", "inspect", &snapshot().to_string_lossy()],
        &[],
        tmp.path(),
    );
    assert_eq!(local.code, 0, "{}", local.stderr);
    let expected = raw_tables(&local.stdout);
    for wanted in [
        "\"crm/forecasts\"",
        "\"extra/notes\" 3 1",
        "\"extra/events\" 2 1",
        "\"extra/partners_by_day\"",
    ] {
        assert!(
            expected.iter().any(|t| t.starts_with(wanted)),
            "{wanted} in {expected:?}"
        );
    }
    for cloud in CLOUDS {
        let url = uploaded(cloud);
        let remote = revleak_with(
            &["--output", "json", "inspect", &url],
            &servers().env(cloud),
            tmp.path(),
        );
        assert_eq!(remote.code, 0, "{cloud:?}: {}", remote.stderr);
        assert_eq!(raw_tables(&remote.stdout), expected, "{cloud:?}");
        assert!(
            remote.stdout.contains(&format!("{url}/extra/notes.csv.gz")),
            "{cloud:?}: tables named by URL: {}",
            remote.stdout
        );
    }
}

#[test]
fn a_missing_bucket_exits_2_naming_the_url_and_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for cloud in CLOUDS {
        let url = cloud.url("no-such-bucket", "channel");
        let out = tmp.path().join(format!("out-{cloud:?}"));
        let run = revleak_with(
            &["run", &url, "--out", &out.to_string_lossy()],
            &servers().env(cloud),
            tmp.path(),
        );
        assert_eq!(run.code, 2, "{cloud:?}: {}", run.stderr);
        assert!(run.stderr.contains(&url), "{cloud:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("does not exist") || run.stderr.contains("not found"),
            "{cloud:?}: the cause: {}",
            run.stderr
        );
        assert!(
            !out.join("findings").exists(),
            "{cloud:?}: nothing published"
        );
    }
    // an existing bucket, an empty prefix
    let url = Cloud::S3.url(BUCKET, "no/such/prefix");
    let run = revleak_with(
        &[
            "run",
            &url,
            "--out",
            &tmp.path().join("o").to_string_lossy(),
        ],
        &servers().env(Cloud::S3),
        tmp.path(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(&url) && run.stderr.contains("holds no objects"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unreachable_endpoint_exits_2_naming_the_url_after_bounded_retries() {
    let tmp = tempfile::tempdir().unwrap();
    // a port nothing listens on
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = Cloud::S3.url(BUCKET, "channel");
    let mut env = servers().env(Cloud::S3);
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push((
        "REVLEAK_STORAGE_ENDPOINT".into(),
        format!("http://127.0.0.1:{port}"),
    ));
    env.push(("REVLEAK_STORAGE_RETRY_TIMEOUT".into(), "2".into()));
    let started = std::time::Instant::now();
    let run = revleak_with(
        &[
            "run",
            &url,
            "--out",
            &tmp.path().join("out").to_string_lossy(),
        ],
        &env,
        tmp.path(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(&url) && run.stderr.contains("cannot reach the store"),
        "{}",
        run.stderr
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "retries are bounded: {:?}",
        started.elapsed()
    );
}

/// A client of the bucket `authb` on the moto that checks signatures, with the right key.
fn authb_store(
    endpoint: &str,
    key_id: &str,
    secret: &str,
) -> std::sync::Arc<dyn ::object_store::ObjectStore> {
    std::sync::Arc::new(
        ::object_store::aws::AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name("authb")
            .with_access_key_id(key_id)
            .with_secret_access_key(secret)
            .build()
            .unwrap(),
    )
}

#[test]
fn a_wrong_secret_key_exits_2_and_the_secret_is_in_no_output() {
    let servers = servers();
    let (endpoint, key_id, secret) = servers.moto_with_auth();
    // the right key uploads the snapshot
    let store = authb_store(&endpoint, &key_id, &secret);
    upload(&store, snapshot(), "snap");
    let tmp = tempfile::tempdir().unwrap();
    let url = "s3://authb/snap";
    let env = |secret: &str| -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", key_id.as_str()),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    // the right secret reads it
    let good = revleak_with(&["inspect", url], &env(&secret), tmp.path());
    assert_eq!(good.code, 0, "{}", good.stderr);
    let wrong = "WRONGsecretKEY0123456789abcdefWRONGsecret";
    let out = tmp.path().join("out");
    let mut wrong_env = env(wrong);
    // every log line too
    wrong_env.push(("REVLEAK_LOG".into(), "debug".into()));
    let run = revleak_with(
        &["run", url, "--out", &out.to_string_lossy()],
        &wrong_env,
        tmp.path(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(url) && run.stderr.contains("access denied"),
        "{}",
        run.stderr
    );
    for (what, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains(wrong), "the secret is in {what}: {text}");
        assert!(!text.contains(&secret), "the right secret is in {what}");
    }
    if out.exists() {
        for file in walk(&out) {
            let bytes = std::fs::read(&file).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(wrong), "the secret is in {}", file.display());
        }
    }
}

pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn a_file_url_is_the_local_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("file://{}", snapshot().display());
    let run = revleak_with(&["--output", "json", "inspect", &url], &[], tmp.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let local = revleak_with(
        &["--output", "json", "inspect", &snapshot().to_string_lossy()],
        &[],
        tmp.path(),
    );
    assert_eq!(raw_tables(&run.stdout), raw_tables(&local.stdout));
}

#[test]
fn an_aws_profile_from_the_shared_credentials_file_is_used_and_its_secret_never_shown() {
    let servers = servers();
    let (endpoint, key_id, secret) = servers.moto_with_auth();
    let store = authb_store(&endpoint, &key_id, &secret);
    upload(&store, snapshot(), "profiled");
    let tmp = tempfile::tempdir().unwrap();
    let wrong = "WRONGprofileSECRET0123456789abcdefWRONG";
    let credentials = tmp.path().join("credentials");
    std::fs::write(
        &credentials,
        format!(
            "[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {wrong}\n\n[etl]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
        ),
    )
    .unwrap();
    let config = tmp.path().join("config");
    std::fs::write(
        &config,
        format!("[profile etl]\nregion = us-east-1\nendpoint_url = {endpoint}\n"),
    )
    .unwrap();
    let inspect = |profile: Option<&str>| {
        let mut command = revleak_command();
        command
            .args(["inspect", "s3://authb/profiled"])
            .current_dir(tmp.path())
            .env("REVLEAK_LOG", "debug")
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", "us-east-1");
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_PROFILE",
        ] {
            command.env_remove(name);
        }
        match profile {
            Some(p) => command.env("AWS_PROFILE", p),
            // the default profile's endpoint is not in its config: give it
            None => command.env("AWS_ENDPOINT_URL", &endpoint),
        };
        command.output().unwrap()
    };
    // The profile's keys, region and endpoint (from the config file) read the bucket.
    let good = inspect(Some("etl"));
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(String::from_utf8_lossy(&good.stdout).contains("crm"));
    // The default profile holds a wrong secret: refused, the secret nowhere.
    let bad = inspect(None);
    assert_eq!(bad.status.code(), Some(2));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&bad.stdout),
        String::from_utf8_lossy(&bad.stderr),
    );
    assert!(stderr.contains("access denied"), "{stderr}");
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains(wrong) && !text.contains(&secret),
            "a secret is shown"
        );
    }
    // A profile that does not exist is named, with the files looked in.
    let missing = inspect(Some("nope"));
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("AWS_PROFILE=nope"), "{stderr}");
}
