//! `revleak watch ROOT`: snapshots landing under ROOT are run in name order, one
//! at a time, with the outputs of `revleak run`; a bad one publishes nothing and
//! the watch goes on; an incomplete one waits; SIGTERM stops it cleanly (exit
//! 0); a restarted watch runs nothing twice.

use crate::common::{copy_sample, queries_dir, revleak_command};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Copies the sample beside `root` and moves it in at once, as a loader that
/// writes then renames would; `as_of` None leaves it incomplete (no
/// snapshot.json, no _SUCCESS).
fn land(root: &Path, name: &str, as_of: Option<&str>, bad: bool) -> PathBuf {
    let staging = root.parent().unwrap().join(format!("landing-{name}"));
    copy_sample(&staging);
    std::fs::remove_file(staging.join("snapshot.json")).unwrap();
    if let Some(as_of) = as_of {
        std::fs::write(
            staging.join("snapshot.json"),
            format!("{{\"as_of\": \"{as_of}\"}}"),
        )
        .unwrap();
    }
    if bad {
        let invoices = staging.join("billing/invoices.parquet");
        let bytes = std::fs::read(&invoices).unwrap();
        std::fs::write(&invoices, &bytes[..bytes.len() / 2]).unwrap();
    }
    let target = root.join(name);
    std::fs::rename(&staging, &target).unwrap();
    target
}

fn start(root: &Path, out: &Path) -> Child {
    revleak_command()
        .arg("watch")
        .arg(root)
        .arg("--out")
        .arg(out)
        .arg("--queries")
        .arg(queries_dir())
        .args(["--poll-seconds", "0.2"])
        .env("REVLEAK_LOG", "revleak=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn published(out: &Path, as_of: &str) -> bool {
    out.join(format!("findings/as_of={as_of}/_SUCCESS"))
        .exists()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "waited two minutes for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends SIGTERM and returns the exit code and stdout.
fn stop(mut watch: Child) -> (Option<i32>, String, String) {
    let status = Command::new("kill")
        .args(["-TERM", &watch.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    while watch.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = watch.kill();
            panic!("the watch did not stop within a minute of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = watch.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn previous_as_of(out: &Path, as_of: &str) -> serde_json::Value {
    let text =
        std::fs::read_to_string(out.join(format!("runs/as_of={as_of}/manifest.json"))).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["previous_as_of"].clone()
}

#[test]
fn landing_snapshots_are_run_in_order_a_bad_one_is_skipped_and_sigterm_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("landing");
    std::fs::create_dir_all(&root).unwrap();
    let out = tmp.path().join("out");

    let watch = start(&root, &out);
    land(&root, "2026-11-26", Some("2026-11-26"), false);
    wait_for("the first snapshot", || published(&out, "2026-11-26"));
    land(&root, "2026-11-27", Some("2026-11-27"), true);
    land(&root, "2026-11-28", Some("2026-11-28"), false);
    let incomplete = land(&root, "2026-11-29", None, false);
    wait_for("the third snapshot", || published(&out, "2026-11-28"));
    // The bad one published nothing; the next compared with the last good one.
    assert!(!published(&out, "2026-11-27"));
    assert_eq!(previous_as_of(&out, "2026-11-28"), "2026-11-26");
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        !published(&out, "2026-11-29"),
        "an incomplete snapshot waits"
    );

    let (code, stdout, stderr) = stop(watch);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("2 snapshot(s) published, 1 failed"),
        "{stdout}"
    );
    assert!(
        stderr.contains("nothing published") && stderr.contains("2026-11-27"),
        "{stderr}"
    );

    // Restarted, it runs nothing twice; the snapshot completed meanwhile runs.
    let watch = start(&root, &out);
    std::fs::write(
        incomplete.join("snapshot.json"),
        "{\"as_of\": \"2026-11-29\"}",
    )
    .unwrap();
    wait_for("the completed snapshot", || published(&out, "2026-11-29"));
    let (code, stdout, _) = stop(watch);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("1 snapshot(s) published, 0 failed"),
        "{stdout}"
    );
}
