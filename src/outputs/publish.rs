//! The only writer into the output folder. Everything of a run is written under
//! `DIR/_tmp-<run_id>/` (BI readers skip `_` folders) and each finished partition is
//! then moved into place by rename, with a `_SUCCESS` marker; a partition being
//! replaced is first renamed aside, so a killed run leaves either the old or the new
//! partition. A lock file keeps two runs from publishing into one folder at once.
//! What changes after publication (the alert delivery's marker and outcome, a
//! watch's record) is written here too: a small file replaced whole by rename,
//! or a line appended.

use super::bucket::OutBucket;
use super::lease::Lease;
use crate::error::{Error, Result};
use chrono::NaiveDate;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::WriterProperties;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The Hive partition key of every partitioned output (`findings/as_of=.../`).
/// It lives in the path only, as the Hive convention wants: pandas/pyarrow and
/// Spark refuse a folder whose files repeat a partition column. A file read on
/// its own still says its date in its key-value metadata (`revleak.as_of`), and
/// its `run_id` column ties it to `runs/as_of=.../manifest.json`.
pub const PARTITION_COLUMN: &str = "as_of";

/// The records of a JSON-lines file the outputs keep (what was alerted, what is
/// pending delivery, what a watch processed); None when there is no such file.
/// A line that does not parse is an error naming the file and line.
pub fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<Vec<T>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    parse_jsonl(&text, path).map(Some)
}

/// The records of JSON-lines `text` read from `path` (named in an error).
pub fn parse_jsonl<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<Vec<T>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| Error::Output {
                path: path.to_path_buf(),
                message: format!("line {}: {e}", i + 1),
            })
        })
        .collect::<Result<Vec<T>>>()
}

/// Appends one record to a JSON-lines file the outputs keep (read back by
/// [`read_jsonl`]), flushed to disk before returning; the folder is made if
/// needed.
pub fn append_jsonl<T: serde::Serialize>(path: &Path, record: &T) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let mut line = serde_json::to_string(record).expect("a record serializes");
    line.push('\n');
    file.write_all(line.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// Replaces one file of a published partition, `kind/as_of=.../name`, whole:
/// written beside it under a `_` name (which BI readers skip), flushed, then
/// renamed over it, so a reader finds the old file or the new one, never half.
/// For what a run learns after its publication (the alerts' delivery).
pub fn replace_published(
    out: &Path,
    kind: &str,
    as_of: NaiveDate,
    name: &str,
    bytes: &[u8],
) -> Result<PathBuf> {
    let path = out
        .join(kind)
        .join(format!("{PARTITION_COLUMN}={as_of}"))
        .join(name);
    let partial = path.with_file_name(format!("_{name}.partial"));
    write_synced(&partial, bytes)?;
    std::fs::rename(&partial, &path).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// The partition folders `as_of=YYYY-MM-DD` under `dir`, oldest first.
pub fn partitions(dir: &Path) -> Vec<(NaiveDate, PathBuf)> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(date) = name
                .strip_prefix("as_of=")
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                && entry.path().join("_SUCCESS").exists()
            {
                found.push((date, entry.path()));
            }
        }
    }
    found.sort();
    found
}

/// Holds `DIR/_revleak.lock` for the life of a run: an OS file lock (`flock` on
/// Unix, `LockFileEx` on Windows), which the OS releases when the process ends
/// however it ends, so a killed run never leaves a lock that blocks the next
/// one, and a live process is never mistaken for a dead one. The file holds the
/// holder's pid, for the message only.
pub struct OutputLock {
    path: PathBuf,
    file: std::fs::File,
}

impl OutputLock {
    pub fn acquire(out: &Path) -> Result<OutputLock> {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        let path = out.join("_revleak.lock");
        // A holder removes the file as it lets go, so a lock taken on a file that
        // is no longer the one at `path` is taken again on the current one.
        for _ in 0..8 {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let pid = holder.trim();
                    let pid = if pid.is_empty() {
                        String::new()
                    } else {
                        format!(" (pid {pid})")
                    };
                    return Err(Error::Lock(format!(
                        "{}: another revleak run{pid} is publishing into this folder",
                        path.display()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
            if !same_file(&file, &path) {
                continue;
            }
            use std::io::Write;
            let mut writer = &file;
            file.set_len(0).map_err(|e| Error::io(&path, e))?;
            writeln!(writer, "{}", std::process::id()).map_err(|e| Error::io(&path, e))?;
            return Ok(OutputLock { path, file });
        }
        Err(Error::Lock(format!(
            "{}: could not take the output lock (the file kept being replaced)",
            path.display()
        )))
    }
}

/// Whether `path` still names the file `file` was opened from.
#[cfg(unix)]
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &std::fs::File, path: &Path) -> bool {
    path.exists()
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Removed while still locked (see acquire); the lock goes with the handle.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Name of the journal written into `_tmp-<run>/` once every partition of a run
/// is written: from then on the run is committed and a crash rolls it forward.
const JOURNAL: &str = "_COMMITTING";

/// Repairs what a killed run left behind, so the folder holds either the previous
/// outputs or the killed run's complete outputs, never a mix: a run killed while
/// writing them is discarded; a run killed while moving its partitions into place
/// (its journal exists) is finished. Partitions set aside for replacement are
/// put back when their replacement never arrived, else removed.
pub fn recover(out: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Ok(());
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    for name in names.iter().filter(|n| n.starts_with("_tmp-")) {
        let tmp = out.join(name);
        let run_id = name.trim_start_matches("_tmp-");
        let journal = tmp.join(JOURNAL);
        if journal.exists() {
            let text = std::fs::read_to_string(&journal).map_err(|e| Error::io(&journal, e))?;
            let mut lines = text.lines();
            let partition = lines.next().unwrap_or_default().to_string();
            let kinds: Vec<String> = lines.map(str::to_string).collect();
            tracing::warn!(run_id, "finishing the publication of a run that was killed");
            move_into_place(out, &tmp, run_id, &partition, &kinds)?;
        }
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    for name in names.iter().filter(|n| n.starts_with("_old-")) {
        let path = out.join(name);
        if !path.exists() {
            continue;
        }
        // _old-<run_id>~<kind>~<partition>
        let parts: Vec<&str> = name.trim_start_matches("_old-").split('~').collect();
        if let [_, kind, partition] = parts[..] {
            let target = out.join(kind).join(partition);
            if !target.exists() {
                std::fs::rename(&path, &target).map_err(|e| Error::io(&path, e))?;
                continue;
            }
        }
        std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// The outputs partitioned as Parquet, whose files leave [`PARTITION_COLUMN`] to the path.
const PARQUET_OUTPUTS: [&str; 3] = ["findings", "summary", "resolved"];

/// Rewrites partitions published before the partition column moved to the path
/// (their files carry `as_of` too), so that Hive readers can read the folder as
/// one table: pandas/pyarrow and Spark refuse a folder where some files repeat
/// the partition column. Each file is replaced by rename, so a killed upgrade
/// leaves every file either old or new; both are read by revleak. Returns the
/// files rewritten.
pub fn upgrade_layout(out: &Path) -> Result<Vec<PathBuf>> {
    let mut upgraded = Vec::new();
    for kind in PARQUET_OUTPUTS {
        for (date, dir) in partitions(&out.join(kind)) {
            let path = dir.join("part-0.parquet");
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&path, e)),
            };
            let fail = |message: String| Error::Output {
                path: path.clone(),
                message,
            };
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| fail(e.to_string()))?;
            let schema = reader.schema().clone();
            if schema.index_of(PARTITION_COLUMN).is_err() {
                continue;
            }
            let batches = reader
                .build()
                .map_err(|e| fail(e.to_string()))?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| fail(e.to_string()))?;
            let partial = dir.join("_part-0.parquet.upgrading");
            write_partition_file(&partial, &schema, &batches, &date.to_string())?;
            std::fs::rename(&partial, &path).map_err(|e| Error::io(&partial, e))?;
            upgraded.push(path);
        }
    }
    Ok(upgraded)
}

/// zstd, row groups of a million rows, and the partition value in the file's
/// key-value metadata (`revleak.as_of`), for a file read on its own.
fn writer_properties(partition_value: &str) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_max_row_group_row_count(Some(1 << 20))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            format!("revleak.{PARTITION_COLUMN}"),
            partition_value.to_string(),
        )]))
        .build()
}

/// Writes `batches` to `path` without [`PARTITION_COLUMN`] (zstd, fsynced), the
/// partition value in the file's metadata: the one writer of partitioned outputs,
/// for a run and for [`upgrade_layout`] alike.
fn write_partition_file(
    path: &Path,
    schema: &datafusion::arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    partition_value: &str,
) -> Result<()> {
    let fail = |message: String| Error::Output {
        path: path.to_path_buf(),
        message,
    };
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| schema.field(i).name() != PARTITION_COLUMN)
        .collect();
    let file_schema = Arc::new(schema.project(&keep).map_err(|e| fail(e.to_string()))?);
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let props = writer_properties(partition_value);
    let mut writer =
        ArrowWriter::try_new(file, file_schema, Some(props)).map_err(|e| fail(e.to_string()))?;
    for batch in batches {
        let batch = batch.project(&keep).map_err(|e| fail(e.to_string()))?;
        writer.write(&batch).map_err(|e| fail(e.to_string()))?;
    }
    let file = writer.into_inner().map_err(|e| fail(e.to_string()))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// Moves each written `kind/partition` of `tmp` into `out`, setting an existing
/// partition aside first; idempotent, so recovery can repeat it after a crash.
fn move_into_place(
    out: &Path,
    tmp: &Path,
    run_id: &str,
    partition: &str,
    kinds: &[String],
) -> Result<Vec<PathBuf>> {
    let mut published = Vec::new();
    for kind in kinds {
        let written = tmp.join(kind).join(partition);
        let parent = out.join(kind);
        let target = parent.join(partition);
        if written.exists() {
            std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
            let aside = out.join(format!("_old-{run_id}~{kind}~{partition}"));
            if target.exists() {
                if aside.exists() {
                    std::fs::remove_dir_all(&aside).map_err(|e| Error::io(&aside, e))?;
                }
                std::fs::rename(&target, &aside).map_err(|e| Error::io(&target, e))?;
            }
            std::fs::rename(&written, &target).map_err(|e| Error::io(&written, e))?;
        }
        published.push(target);
    }
    for kind in kinds {
        let aside = out.join(format!("_old-{run_id}~{kind}~{partition}"));
        if aside.exists() {
            std::fs::remove_dir_all(&aside).map_err(|e| Error::io(&aside, e))?;
        }
    }
    Ok(published)
}

/// A run's output being assembled under `DIR/_tmp-<run_id>/`, not yet published.
pub struct Unpublished {
    out: PathBuf,
    tmp: PathBuf,
    run_id: String,
    partition: String,
    kinds: Vec<String>,
    /// Published to this bucket instead (the local folder is then a copy).
    bucket: Option<(Arc<OutBucket>, Arc<Lease>)>,
}

impl Unpublished {
    pub fn new(out: &Path, run_id: &str, as_of: NaiveDate) -> Result<Unpublished> {
        let tmp = out.join(format!("_tmp-{run_id}"));
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(Unpublished {
            out: out.to_path_buf(),
            tmp,
            run_id: run_id.to_string(),
            partition: format!("as_of={as_of}"),
            kinds: Vec::new(),
            bucket: None,
        })
    }

    /// Published to `bucket`, under `lease`, when committed; the local folder
    /// (a copy of the bucket's history) takes the partitions too, for what
    /// the run reads after its publication.
    pub fn into_bucket(self, bucket: Arc<OutBucket>, lease: Arc<Lease>) -> Unpublished {
        Unpublished {
            bucket: Some((bucket, lease)),
            ..self
        }
    }

    fn partition_dir(&mut self, kind: &str) -> Result<PathBuf> {
        let dir = self.tmp.join(kind).join(&self.partition);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        if !self.kinds.iter().any(|k| k == kind) {
            self.kinds.push(kind.to_string());
        }
        Ok(dir)
    }

    /// Writes `kind/as_of=.../part-0.parquet` (zstd, fsynced). The partition
    /// column is left out of the file (see [`PARTITION_COLUMN`]).
    pub fn write_parquet(
        &mut self,
        kind: &str,
        schema: datafusion::arrow::datatypes::SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<()> {
        let path = self.partition_dir(kind)?.join("part-0.parquet");
        let partition_value = self
            .partition
            .strip_prefix(&format!("{PARTITION_COLUMN}="))
            .unwrap_or(&self.partition)
            .to_string();
        write_partition_file(&path, &schema, batches, &partition_value)
    }

    /// Writes `kind/as_of=.../name` with the given bytes (`name` may hold a
    /// subfolder, e.g. `partners/P001.html`).
    pub fn write_file(&mut self, kind: &str, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.partition_dir(kind)?.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        Ok(())
    }

    /// The temporary root the run is assembled in: it mirrors the output
    /// folder's layout, so a reader can take this run's partitions from here
    /// and earlier ones from the output folder.
    pub fn root(&self) -> &Path {
        &self.tmp
    }

    /// Marks every partition complete, writes the journal that commits the run,
    /// and moves each partition into place (for a bucket, publishes it there
    /// first: [`OutBucket::publish`]). Returns the published partition folders
    /// (or URLs).
    pub fn commit(self) -> Result<Vec<PathBuf>> {
        for kind in &self.kinds {
            let marker = self.tmp.join(kind).join(&self.partition).join("_SUCCESS");
            std::fs::write(&marker, b"").map_err(|e| Error::io(&marker, e))?;
        }
        // The manifest goes last: a reader that finds it finds everything else.
        let mut kinds = self.kinds.clone();
        kinds.sort_by_key(|k| k == "runs");
        let journal = self.tmp.join(JOURNAL);
        let text = std::iter::once(self.partition.clone())
            .chain(kinds.iter().cloned())
            .collect::<Vec<_>>()
            .join("\n");
        write_synced(&journal, text.as_bytes())?;
        let in_bucket = match &self.bucket {
            Some((bucket, lease)) => {
                Some(bucket.publish(lease, &self.tmp, &self.run_id, &self.partition, &kinds)?)
            }
            None => None,
        };
        let published =
            move_into_place(&self.out, &self.tmp, &self.run_id, &self.partition, &kinds)?;
        std::fs::remove_dir_all(&self.tmp).map_err(|e| Error::io(&self.tmp, e))?;
        Ok(in_bucket.unwrap_or(published))
    }
}

/// Writes a file and flushes it to disk before returning.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(out: &Path, kind: &str, content: &str) {
        let dir = out.join(kind).join("as_of=2026-11-26");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("data"), content).unwrap();
        std::fs::write(dir.join("_SUCCESS"), "").unwrap();
    }

    fn read(out: &Path, kind: &str) -> String {
        std::fs::read_to_string(out.join(kind).join("as_of=2026-11-26/data")).unwrap()
    }

    /// A run killed after moving `moved` of its partitions into place.
    fn killed_mid_commit(out: &Path, moved: usize, journal: bool) {
        partition(out, "findings", "old");
        partition(out, "runs", "old");
        let tmp = out.join("_tmp-new");
        partition(&tmp, "findings", "new");
        partition(&tmp, "runs", "new");
        if journal {
            std::fs::write(tmp.join(JOURNAL), "as_of=2026-11-26\nfindings\nruns").unwrap();
        }
        for kind in ["findings", "runs"].iter().take(moved) {
            let aside = out.join(format!("_old-new~{kind}~as_of=2026-11-26"));
            std::fs::rename(out.join(kind).join("as_of=2026-11-26"), &aside).unwrap();
            std::fs::rename(
                tmp.join(kind).join("as_of=2026-11-26"),
                out.join(kind).join("as_of=2026-11-26"),
            )
            .unwrap();
        }
    }

    #[test]
    fn a_committed_run_killed_half_way_is_rolled_forward() {
        for moved in 0..=2 {
            let dir = tempfile::tempdir().unwrap();
            killed_mid_commit(dir.path(), moved, true);
            recover(dir.path()).unwrap();
            assert_eq!(read(dir.path(), "findings"), "new", "moved {moved}");
            assert_eq!(read(dir.path(), "runs"), "new", "moved {moved}");
            let left: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with('_'))
                .collect();
            assert!(left.is_empty(), "{left:?}");
        }
    }

    #[test]
    fn a_run_killed_before_its_journal_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        killed_mid_commit(dir.path(), 0, false);
        recover(dir.path()).unwrap();
        assert_eq!(read(dir.path(), "findings"), "old");
        assert_eq!(read(dir.path(), "runs"), "old");
        assert!(!dir.path().join("_tmp-new").exists());
    }
}
