//! Process faults: a run killed at any point leaves the output folder as before
//! or fully updated once recovered (the next run recovers first); two runs on one
//! folder do not interleave; a full disk fails the run and keeps the old outputs.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KINDS: &[&str] = &["findings", "summary", "alerts", "report", "runs"];

fn revleak(out: &Path, extra: &[&str]) -> Command {
    let mut cmd = common::revleak_command();
    cmd.arg("run")
        .arg(common::sample_dir())
        .arg("--out")
        .arg(out)
        .arg("--queries")
        .arg(common::queries_dir())
        .arg("-q")
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// The run id the published as_of=2026-11-26 partitions agree on; panics when
/// a partition is incomplete or two of them come from different runs.
fn published_run(out: &Path) -> Option<String> {
    let partition = "as_of=2026-11-26";
    let manifest = out.join("runs").join(partition).join("manifest.json");
    if !manifest.exists() {
        for kind in KINDS {
            assert!(
                !out.join(kind).join(partition).exists(),
                "{kind} without a manifest"
            );
        }
        return None;
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    let run_id = manifest["run_id"].as_str().unwrap().to_string();
    for kind in KINDS {
        assert!(
            out.join(kind).join(partition).join("_SUCCESS").exists(),
            "{kind} is not complete"
        );
    }
    let findings = common::read_findings(out);
    assert_eq!(
        findings.len() as u64,
        manifest["findings"].as_u64().unwrap()
    );
    // every finding carries the run id: none may come from another run
    let ids = common::read_run_ids(out);
    assert!(
        ids.iter().all(|id| *id == run_id),
        "findings of another run: {ids:?} vs {run_id}"
    );
    for entry in std::fs::read_dir(out).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        assert!(
            !name.starts_with("_tmp-") && !name.starts_with("_old-"),
            "left behind: {name}"
        );
    }
    Some(run_id)
}

/// A small pseudo-random sequence (xorshift), seeded from the clock and printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn twenty_kills_at_random_points_never_leave_a_half_published_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let started = Instant::now();
    assert!(revleak(&out, &[]).status().unwrap().success());
    let full_run = started.elapsed();
    let mut current = published_run(&out).expect("the first run publishes");

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill schedule seed {seed}");
    let mut rng = Rng(seed);
    let window = full_run.as_millis() as u64 + 500;
    let mut replaced = 0;
    for _ in 0..20 {
        let mut child = revleak(&out, &[]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.next() % window));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // what the next run does first
        revleak::outputs::publish::recover(&out).unwrap();
        let _ = std::fs::remove_file(out.join("_revleak.lock"));
        let now = published_run(&out).expect("a run stays published");
        if now != current {
            replaced += 1;
            current = now;
        }
    }
    eprintln!("{replaced} of 20 killed runs had committed before the kill");
    // and a run after all that works and cleans up
    assert!(revleak(&out, &[]).status().unwrap().success());
    assert_ne!(published_run(&out).unwrap(), current);
}

#[test]
fn a_second_run_on_the_same_folder_stops_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut first = revleak(&out, &[]).spawn().unwrap();
    let lock = out.join("_revleak.lock");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lock.exists() {
        assert!(
            Instant::now() < deadline,
            "the first run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = revleak(&out, &[]).output().unwrap();
    assert_eq!(second.status.code(), Some(2));
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(message.contains("another revleak run"), "{message}");
    assert!(first.wait().unwrap().success());
    assert!(published_run(&out).is_some());
}

#[test]
fn a_later_run_removes_what_a_killed_run_left_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let leftover: PathBuf = out.join("_tmp-20260101T000000Z-dead/findings/as_of=2026-11-26");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("part-0.parquet"), b"half written").unwrap();
    std::fs::write(out.join("_revleak.lock"), "999999999\n").unwrap(); // a dead holder
    assert!(revleak(&out, &[]).status().unwrap().success());
    assert!(published_run(&out).is_some());
    assert!(!out.join("_revleak.lock").exists());
}

#[test]
fn a_full_disk_fails_the_run_and_keeps_the_previous_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("small");
    std::fs::create_dir_all(&out).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&out)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        mounted,
        "this test needs to mount a small tmpfs (run as root)"
    );
    let result = std::panic::catch_unwind(|| {
        assert!(revleak(&out, &[]).status().unwrap().success());
        let before = published_run(&out).unwrap();
        // fill the disk, leaving a few kilobytes
        let mut size = 8 * 1024 * 1024;
        for n in 0.. {
            let filler = out.join(format!("filler-{n}"));
            if std::fs::write(&filler, vec![0u8; size]).is_err() {
                let _ = std::fs::remove_file(&filler);
                if size <= 4096 {
                    break;
                }
                size /= 2;
            }
        }
        let failed = revleak(&out, &[]).output().unwrap();
        assert_eq!(failed.status.code(), Some(2));
        let message = String::from_utf8_lossy(&failed.stderr);
        assert!(message.to_lowercase().contains("space"), "{message}");
        revleak::outputs::publish::recover(&out).unwrap();
        assert_eq!(
            published_run(&out).unwrap(),
            before,
            "the previous outputs stand"
        );
    });
    let _ = Command::new("umount").arg(&out).status();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// The output lock is the OS's: a lock file naming a live process that does not
/// hold the lock (a pid reused after a crash, or any pid on a system without
/// /proc) does not block a run, and a process holding the lock does, whatever
/// its pid file says.
#[test]
fn the_output_lock_is_an_os_lock_not_a_pid_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let lock = out.join("_revleak.lock");
    // This test's own pid: alive, but not holding the lock.
    std::fs::write(&lock, format!("{}\n", std::process::id())).unwrap();
    assert!(revleak(&out, &[]).status().unwrap().success());
    assert!(!lock.exists(), "the run removes its lock file");

    let held = std::fs::File::create(&lock).unwrap();
    held.try_lock().unwrap();
    let blocked = revleak(&out, &[]).output().unwrap();
    assert_eq!(blocked.status.code(), Some(2));
    let message = String::from_utf8_lossy(&blocked.stderr);
    assert!(message.contains("another revleak run"), "{message}");
    held.unlock().unwrap();
    drop(held);
    assert!(revleak(&out, &[]).status().unwrap().success());
}
