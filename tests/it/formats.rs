//! The raw formats beside Parquet (issue 32): compressed CSV, other encodings,
//! JSON lines and folders of files, each adapted in staging to the canonical
//! sample's findings; and what is refused (a FIFO, a malformed line, folders
//! whose files disagree), each with exit status 2 naming the place and
//! nothing published.

use crate::common::{copy_tree, queries_dir, revleak, sample_dir};
use std::path::{Path, PathBuf};

struct Case {
    tmp: tempfile::TempDir,
    snapshot: PathBuf,
}

impl Case {
    fn sample() -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let snapshot = tmp.path().join("snapshot");
        copy_tree(&sample_dir(), &snapshot);
        Case { tmp, snapshot }
    }

    fn out(&self) -> PathBuf {
        self.tmp.path().join("out")
    }

    /// Runs the binary on the snapshot; expects exit 2 and nothing published.
    fn fails(&self, extra: &[&str]) -> String {
        let (snapshot, out, queries) = (
            self.snapshot.display().to_string(),
            self.out().display().to_string(),
            queries_dir().display().to_string(),
        );
        let mut args = vec!["run", &snapshot, "--out", &out, "--queries", &queries];
        args.extend_from_slice(extra);
        let outcome = revleak(&args, self.tmp.path());
        assert_eq!(outcome.code, 2, "{}", outcome.stderr);
        for kind in ["findings", "summary", "runs", "report"] {
            assert!(!self.out().join(kind).exists(), "{kind} was published");
        }
        outcome.stderr
    }
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_fifo_among_the_raw_files_is_refused_not_waited_on() {
    let case = Case::sample();
    mkfifo(&case.snapshot.join("billing/payments_feed.csv"));
    let err = case.fails(&[]);
    assert!(
        err.contains("billing/payments_feed.csv: a named pipe (FIFO), not a regular file"),
        "{err}"
    );
}

#[test]
fn a_fifo_inside_a_table_folder_is_refused_too() {
    let case = Case::sample();
    let folder = case.snapshot.join("billing/extra");
    std::fs::create_dir_all(&folder).unwrap();
    mkfifo(&folder.join("part-0.parquet"));
    let err = case.fails(&[]);
    assert!(
        err.contains("extra/part-0.parquet: a named pipe (FIFO)"),
        "{err}"
    );
}
