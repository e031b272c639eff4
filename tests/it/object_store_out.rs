//! Outputs in object storage (issue 31, part B), against the local servers of
//! tests/servers/ (moto, the GCS emulator, Azurite): `revleak run URL --out
//! URL2` publishes what the local run publishes, key for key, with the same
//! lifecycle, dispositions, alerts-once and `revleak report`; a reader of a
//! partition sees one run's rows while runs republish it; a killed run leaves
//! the previous outputs whole and the next run proceeds; a second run is
//! stopped by the lease lock; a missing bucket or a wrong secret stops the run
//! with exit 2 naming the URL, the secret nowhere.

use crate::common::servers::{BUCKET, CLOUDS, Cloud, download, servers};
use crate::object_store::{
    Outcome, findings_but_run_id, local_findings, revleak_with, rows_but_run_id, snapshot,
    uploaded, walk,
};
use datafusion::arrow::array::AsArray;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use object_store::{ObjectStore, ObjectStoreExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// `revleak run SNAPSHOT --out OUT ARGS...` with `cloud`'s credentials.
fn run_into(cloud: Cloud, snapshot: &str, out: &str, args: &[&str], cwd: &Path) -> Outcome {
    let mut all = vec!["run", snapshot, "--out", out];
    all.extend_from_slice(args);
    revleak_with(&all, &servers().env(cloud), cwd)
}

/// What is published under `prefix` of the test bucket, as a local folder.
fn published(cloud: Cloud, prefix: &str) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let names = download(&servers().store(cloud, BUCKET), prefix, dir.path());
    (dir, names)
}

/// Every file under `dir`, relative, sorted.
fn files_of(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = walk(dir)
        .iter()
        .map(|p| {
            p.strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    names.sort();
    names
}

fn same_outputs_as_local(cloud: Cloud) {
    let snapshot_url = uploaded(cloud);
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("out");
    let run = revleak_with(
        &[
            "run",
            &snapshot().to_string_lossy(),
            "--out",
            &local.to_string_lossy(),
        ],
        &[],
        tmp.path(),
    );
    assert!(run.code <= 1, "{}", run.stderr);
    let prefix = format!("outputs-{cloud:?}");
    let out = cloud.url(BUCKET, &prefix);
    let run = run_into(cloud, &snapshot_url, &out, &[], tmp.path());
    assert!(run.code <= 1, "{cloud:?}: {}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("{out}/findings/as_of=2026-11-26")),
        "{cloud:?}: the published partitions are named by URL: {}",
        run.stdout
    );
    let (copy, names) = published(cloud, &prefix);
    assert_eq!(
        names,
        files_of(&local),
        "{cloud:?}: the bucket holds the local folder's files, key for key (no _tmp-, no lock)"
    );
    assert_eq!(
        &findings_but_run_id(copy.path()),
        local_findings(),
        "{cloud:?}: the findings of the local run"
    );
    // A second run of the day counts the first, read back from the bucket.
    let again = run_into(cloud, &snapshot_url, &out, &[], tmp.path());
    assert!(again.code <= 1, "{cloud:?}: {}", again.stderr);
    let (copy, _) = published(cloud, &prefix);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(copy.path().join("runs/as_of=2026-11-26/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["earlier_runs_of_the_day"].as_array().map(Vec::len),
        Some(1),
        "{cloud:?}: {}",
        manifest["earlier_runs_of_the_day"]
    );
}

#[test]
fn outputs_in_s3_are_the_local_run_s_outputs_key_for_key() {
    same_outputs_as_local(Cloud::S3);
}

#[test]
fn outputs_in_gcs_are_the_local_run_s_outputs_key_for_key() {
    same_outputs_as_local(Cloud::Gcs);
}

#[test]
fn outputs_in_azure_are_the_local_run_s_outputs_key_for_key() {
    same_outputs_as_local(Cloud::Azure);
}

/// Lines of each alerts file, by partition and name, run ids left out.
fn alert_lines(out: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for part in crate::common::published_partitions(out, "alerts") {
        for name in [
            "alerts.jsonl",
            "alerted.jsonl",
            "pending.jsonl",
            "_delivered",
        ] {
            let Ok(text) = std::fs::read_to_string(part.join(name)) else {
                continue;
            };
            let mut these: Vec<String> = text
                .lines()
                .map(|l| {
                    let mut value: serde_json::Value = serde_json::from_str(l).unwrap();
                    if let Some(map) = value.as_object_mut() {
                        map.remove("run_id");
                    }
                    format!(
                        "{}/{name}: {value}",
                        part.file_name().unwrap().to_string_lossy()
                    )
                })
                .collect();
            these.sort();
            let partition = part.file_name().unwrap().to_string_lossy().to_string();
            lines.push(format!("{partition}/{name}: {} line(s)", these.len()));
            lines.extend(these);
        }
    }
    lines
}

#[test]
fn lifecycle_dispositions_alerts_and_report_in_a_bucket_are_the_local_folder_s() {
    let cloud = Cloud::S3;
    let tmp = tempfile::tempdir().unwrap();
    let snap = snapshot().to_string_lossy().to_string();
    let local = tmp.path().join("out");
    let prefix = "lifecycle";
    let out = cloud.url(BUCKET, prefix);
    let days = ["2026-11-20", "2026-11-26", "2026-11-26"];
    // A decision on one finding, at the top of the output, from the second run on.
    let first = |dir: &Path| -> String {
        crate::common::read_findings(dir)
            .into_iter()
            .map(|f| f.finding_id)
            .min()
            .unwrap()
    };
    for (i, day) in days.iter().enumerate() {
        let local_run = revleak_with(
            &[
                "run",
                &snap,
                "--out",
                &local.to_string_lossy(),
                "--as-of",
                day,
            ],
            &[],
            tmp.path(),
        );
        assert!(local_run.code <= 1, "{}", local_run.stderr);
        let bucket_run = run_into(cloud, &snap, &out, &["--as-of", day], tmp.path());
        assert!(bucket_run.code <= 1, "{}", bucket_run.stderr);
        if i == 0 {
            let decision = format!(
                "finding_id,disposition,note,owner,until\n{},false_positive,checked by hand,ops,\n",
                first(&local)
            );
            std::fs::write(local.join("dispositions.csv"), &decision).unwrap();
            block_on(servers().store(cloud, BUCKET).put(
                &format!("{prefix}/dispositions.csv").as_str().into(),
                decision.into_bytes().into(),
            ))
            .unwrap();
        }
    }
    let report = revleak_with(&["report", &out], &servers().env(cloud), tmp.path());
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert!(
        report
            .stdout
            .contains(&format!("{out}/report/as_of=2026-11-26/index.html")),
        "{}",
        report.stdout
    );
    let (copy, names) = published(cloud, prefix);
    assert!(names.contains(&"report/as_of=2026-11-26/index.html".to_string()));
    let findings = rows_but_run_id(copy.path(), "findings");
    assert_eq!(
        findings,
        rows_but_run_id(&local, "findings"),
        "status, first_seen, disposition"
    );
    assert!(findings.iter().any(|r| r.contains("status=recurring")));
    assert!(
        findings
            .iter()
            .any(|r| r.contains("disposition=false_positive"))
    );
    assert_eq!(
        rows_but_run_id(copy.path(), "resolved"),
        rows_but_run_id(&local, "resolved")
    );
    assert_eq!(
        rows_but_run_id(copy.path(), "summary"),
        rows_but_run_id(&local, "summary")
    );
    let alerts = alert_lines(copy.path());
    assert_eq!(alerts, alert_lines(&local), "alerted once, as locally");
}

/// The rows of one `findings/as_of=D/part-0.parquet` read whole: its run ids.
fn run_ids_of(bytes: bytes::Bytes) -> Result<(usize, std::collections::BTreeSet<String>), String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?;
    let mut rows = 0;
    let mut ids = std::collections::BTreeSet::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        rows += batch.num_rows();
        let column = batch.column_by_name("run_id").unwrap().as_string::<i32>();
        ids.extend(column.iter().flatten().map(str::to_string));
    }
    Ok((rows, ids))
}

#[test]
fn a_reader_sees_exactly_one_run_s_rows_while_twenty_runs_republish_the_day() {
    let cloud = Cloud::S3;
    let tmp = tempfile::tempdir().unwrap();
    let snap = snapshot().to_string_lossy().to_string();
    let prefix = "republished";
    let out = cloud.url(BUCKET, prefix);
    let first = run_into(cloud, &snap, &out, &[], tmp.path());
    assert!(first.code <= 1, "{}", first.stderr);
    let expected_rows = local_findings().len();
    let store: Arc<dyn ObjectStore> = servers().store(cloud, BUCKET);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            use futures::TryStreamExt;
            let partition =
                object_store::path::Path::from(format!("{prefix}/findings/as_of=2026-11-26"));
            let (mut reads, mut seen) = (0, std::collections::BTreeSet::new());
            block_on(async {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) || reads < 100 {
                    let listed: Vec<_> = store.list(Some(&partition)).try_collect().await.unwrap();
                    let files: Vec<_> = listed
                        .iter()
                        .filter(|m| m.location.as_ref().ends_with(".parquet"))
                        .collect();
                    assert_eq!(files.len(), 1, "one file in the partition: {listed:?}");
                    let bytes = store
                        .get(&files[0].location)
                        .await
                        .unwrap()
                        .bytes()
                        .await
                        .unwrap();
                    let (rows, ids) = run_ids_of(bytes).unwrap();
                    assert_eq!(ids.len(), 1, "one run's rows: {ids:?}");
                    assert_eq!(rows, expected_rows, "all of that run's rows");
                    seen.extend(ids);
                    reads += 1;
                }
            });
            (reads, seen)
        })
    };
    for _ in 0..20 {
        let run = run_into(cloud, &snap, &out, &[], tmp.path());
        assert!(run.code <= 1, "{}", run.stderr);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (reads, seen) = reader.join().expect("every read saw one whole run");
    assert!(reads >= 100, "{reads}");
    assert!(
        seen.len() > 1,
        "the reader saw the runs replace the partition: {seen:?}"
    );
}

#[test]
fn a_killed_run_leaves_the_previous_outputs_whole_and_the_next_run_proceeds_at_once() {
    let cloud = Cloud::S3;
    let tmp = tempfile::tempdir().unwrap();
    let snap = snapshot().to_string_lossy().to_string();
    let prefix = "killed";
    let out = cloud.url(BUCKET, prefix);
    let first = run_into(cloud, &snap, &out, &[], tmp.path());
    assert!(first.code <= 1, "{}", first.stderr);
    let mut outcomes = Vec::new();
    for delay_ms in [300, 900, 1500, 2100, 2700] {
        let mut child = crate::common::revleak_command()
            .args(["run", &snap, "--out", &out])
            .envs(servers().env(cloud))
            .env("REVLEAK_LOG", "off")
            .env("XDG_CACHE_HOME", tmp.path().join(".cache"))
            .current_dir(tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap();
        child.wait().unwrap();
        // Whatever the moment, each partition is one run's: the previous one
        // or, when the kill came after the commit point, the killed one's,
        // finished by the next run.
        let started = Instant::now();
        let next = run_into(cloud, &snap, &out, &[], tmp.path());
        assert!(
            next.code <= 1,
            "after a kill at {delay_ms} ms: {}",
            next.stderr
        );
        assert!(
            started.elapsed() < Duration::from_secs(50),
            "the dead run's lock is taken over at once, not after its lease"
        );
        let (after, names) = published(cloud, prefix);
        assert!(
            names.iter().all(|n| !n.starts_with('_')),
            "no staging or lock left: {names:?}"
        );
        assert_eq!(&findings_but_run_id(after.path()), local_findings());
        let ids = crate::common::read_run_ids(after.path());
        let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), 1, "one run's rows: {distinct:?}");
        outcomes.push((delay_ms, finished));
    }
    eprintln!("killed at (ms, had finished): {outcomes:?}");
}

#[test]
fn a_second_run_is_stopped_by_a_live_lease_and_an_expired_one_is_taken_over() {
    let cloud = Cloud::S3;
    let tmp = tempfile::tempdir().unwrap();
    let snap = snapshot().to_string_lossy().to_string();
    let prefix = "locked";
    let out = cloud.url(BUCKET, prefix);
    let store = servers().store(cloud, BUCKET);
    let lock = object_store::path::Path::from(format!("{prefix}/_revleak.lock"));
    let holder = |lease_secs: u64| {
        serde_json::json!({
            "run_id": "20261126T020000Z-0000beef", "token": "theirs", "host": "etl-7",
            "boot_id": "another-machine", "pid_ns": "pid:[1]", "pid": 4242, "pid_start": "1",
            "acquired": "2026-11-26T02:00:00Z", "renewed": "2026-11-26T02:00:00Z",
            "lease_secs": lease_secs
        })
        .to_string()
    };
    block_on(store.put(&lock, holder(3600).into_bytes().into())).unwrap();
    let refused = run_into(cloud, &snap, &out, &[], tmp.path());
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!("{out}/_revleak.lock"))
            && refused.stderr.contains(
                "another revleak run (run 20261126T020000Z-0000beef on host etl-7, pid 4242)"
            ),
        "{}",
        refused.stderr
    );
    let (copy, names) = published(cloud, prefix);
    assert_eq!(
        names,
        vec!["_revleak.lock".to_string()],
        "nothing published"
    );
    assert!(
        std::fs::read_to_string(copy.path().join("_revleak.lock"))
            .unwrap()
            .contains("etl-7")
    );
    // A holder whose lease ran out (1 s, plus 5 s of allowed skew) is taken over.
    block_on(store.put(&lock, holder(1).into_bytes().into())).unwrap();
    std::thread::sleep(Duration::from_secs(7));
    let run = revleak_with(
        &["run", &snap, "--out", &out],
        &[
            servers().env(cloud),
            vec![("REVLEAK_LOG".into(), "warn".into())],
        ]
        .concat(),
        tmp.path(),
    );
    assert!(run.code <= 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("taking over the lock"),
        "{}",
        run.stderr
    );
    let (_, names) = published(cloud, prefix);
    assert!(names.contains(&"findings/as_of=2026-11-26/part-0.parquet".to_string()));
    assert!(
        !names.contains(&"_revleak.lock".to_string()),
        "released: {names:?}"
    );
}

#[test]
fn a_missing_output_bucket_exits_2_before_the_snapshot_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    for cloud in CLOUDS {
        let out = cloud.url("no-such-lake", "revleak");
        let run = run_into(
            cloud,
            &tmp.path().join("no-such-snapshot").to_string_lossy(),
            &out,
            &[],
            tmp.path(),
        );
        assert_eq!(run.code, 2, "{cloud:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(&out) && !run.stderr.contains("no-such-snapshot"),
            "{cloud:?}: the bucket is named, the snapshot not yet read: {}",
            run.stderr
        );
    }
    // Credentials in the URL are refused without being repeated.
    let run = run_into(
        Cloud::S3,
        &snapshot().to_string_lossy(),
        "s3://AKIAEXAMPLE:hunter2secret@lake/revleak",
        &[],
        tmp.path(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2secret"), "{}", run.stderr);
}

#[test]
fn a_wrong_secret_on_the_output_exits_2_and_the_secret_is_in_no_output() {
    let (endpoint, key_id, secret) = servers().moto_with_auth();
    let tmp = tempfile::tempdir().unwrap();
    let wrong = "WRONGoutSECRET0123456789abcdefWRONGout";
    let env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", wrong),
        ("AWS_REGION", "us-east-1"),
        ("REVLEAK_LOG", "debug"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let out = "s3://authb/revleak";
    let run = revleak_with(
        &["run", &snapshot().to_string_lossy(), "--out", out],
        &env,
        tmp.path(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(out) && run.stderr.contains("access denied"),
        "{}",
        run.stderr
    );
    for (what, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains(wrong), "the secret is in {what}");
        assert!(!text.contains(&secret), "the right secret is in {what}");
    }
}

#[test]
fn a_watch_publishes_each_landed_snapshot_into_a_bucket_and_keeps_its_record_there() {
    let cloud = Cloud::S3;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("landing");
    for (name, as_of) in [("a", "2026-11-20"), ("b", "2026-11-26")] {
        let snap = root.join(name);
        crate::common::copy_sample(&snap);
        std::fs::write(
            snap.join("snapshot.json"),
            format!("{{\"as_of\": \"{as_of}\"}}"),
        )
        .unwrap();
    }
    let prefix = "watched";
    let out = cloud.url(BUCKET, prefix);
    let store = servers().store(cloud, BUCKET);
    let record = object_store::path::Path::from(format!("{prefix}/_revleak_watch.jsonl"));
    let lines = || -> usize {
        block_on(async {
            match store.get(&record).await {
                Ok(got) => String::from_utf8_lossy(&got.bytes().await.unwrap())
                    .lines()
                    .count(),
                Err(_) => 0,
            }
        })
    };
    let watch = || {
        crate::common::revleak_command()
            .args(["watch", &root.to_string_lossy(), "--out", &out])
            .args(["--poll-seconds", "0.2"])
            .envs(servers().env(cloud))
            .env("REVLEAK_LOG", "warn")
            .env("XDG_CACHE_HOME", tmp.path().join(".cache"))
            .current_dir(tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let stop = |mut child: std::process::Child| {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("the watch did not stop within a minute of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let first = watch();
    let started = Instant::now();
    while lines() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "two snapshots recorded in the bucket"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    stop(first);
    let (copy, names) = published(cloud, prefix);
    for day in ["2026-11-20", "2026-11-26"] {
        assert!(
            names.contains(&format!("findings/as_of={day}/part-0.parquet")),
            "{names:?}"
        );
    }
    assert!(
        crate::common::read_findings(copy.path())
            .iter()
            .any(|f| f.status == "recurring"),
        "the second snapshot's lifecycle is against the first, read back from the bucket"
    );
    // A restarted watch reads its record from the bucket and runs nothing twice.
    let again = watch();
    std::thread::sleep(Duration::from_secs(4));
    stop(again);
    assert_eq!(lines(), 2, "nothing run twice");
}

/// A snapshot it has never seen: generated, uploaded, run from the bucket into
/// the bucket, against the same snapshot run from and into local folders.
#[test]
fn a_generated_snapshot_run_from_s3_into_s3_has_exactly_the_local_findings() {
    let cloud = Cloud::S3;
    let tmp = tempfile::tempdir().unwrap();
    let snap = crate::common::generated(&tmp.path().join("generated"), 0.02, 29);
    crate::common::servers::upload(&servers().store(cloud, BUCKET), &snap, "generated-29");
    let local = tmp.path().join("out");
    let run = revleak_with(
        &[
            "run",
            &snap.to_string_lossy(),
            "--out",
            &local.to_string_lossy(),
        ],
        &[],
        tmp.path(),
    );
    assert!(run.code <= 1, "{}", run.stderr);
    let out = cloud.url(BUCKET, "generated-out");
    let run = run_into(
        cloud,
        &cloud.url(BUCKET, "generated-29"),
        &out,
        &[],
        tmp.path(),
    );
    assert!(run.code <= 1, "{}", run.stderr);
    let (copy, _) = published(cloud, "generated-out");
    let expected = findings_but_run_id(&local);
    assert!(
        expected.len() > 40,
        "the generator plants findings of every check"
    );
    assert_eq!(findings_but_run_id(copy.path()), expected);
}
