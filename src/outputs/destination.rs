//! Where a run's outputs go, `--out`: a local folder (the default) or a prefix
//! in object storage ([`bucket`](super::bucket)). The run, `revleak report`
//! and `revleak watch` see only [`Destination`] and [`Claimed`]: they take the
//! destination (its lock, then the recovery of a killed run), read what was
//! published before from [`Claimed::root`] — the folder itself, or for a bucket
//! a local copy made after recovery under the lock — and publish through
//! [`Claimed::begin`], whose commit renames in a folder and PUTs in a bucket.

use super::bucket::OutBucket;
use super::lease::Lease;
use super::publish::{self, OutputLock, Unpublished};
use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::storage::work::WorkFolder;
use crate::storage::{is_object_store, local_path};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The kinds whose history a run or the report reads back: lifecycle and
/// trend (findings, resolved), alert state (alerts), the day's runs (runs).
const HISTORY: [&str; 4] = ["findings", "resolved", "alerts", "runs"];

/// Files at the top of the output a run reads.
const TOP_FILES: [&str; 2] = ["dispositions.csv", "_revleak_watch.jsonl"];

#[derive(Debug, Clone)]
pub enum Destination {
    Folder(PathBuf),
    Bucket(Arc<OutBucket>),
}

impl Destination {
    /// The destination `out` names: a folder (or `file://` URL), or an
    /// object-store URL, whose client is built from the environment and
    /// `config`; nothing is requested yet.
    pub fn locate(out: &Path, config: &ConfigFile) -> Result<Destination> {
        if is_object_store(out) {
            Ok(Destination::Bucket(Arc::new(OutBucket::locate(
                out, config,
            )?)))
        } else {
            Ok(Destination::Folder(local_path(out)?))
        }
    }

    /// For a bucket, whether the store answers for the prefix (a missing
    /// bucket, refused credentials, a wrong endpoint): an error before anything
    /// else is read. A folder is made when it is claimed.
    pub fn check(&self) -> Result<()> {
        match self {
            Destination::Folder(_) => Ok(()),
            Destination::Bucket(bucket) => bucket.check(),
        }
    }

    pub fn is_bucket(&self) -> bool {
        matches!(self, Destination::Bucket(_))
    }

    /// The folder, or the URL.
    pub fn shown(&self) -> String {
        match self {
            Destination::Folder(dir) => dir.display().to_string(),
            Destination::Bucket(bucket) => bucket.url().to_string(),
        }
    }

    /// Takes the destination for one run (`run_id` names it in the lock):
    /// the lock, the recovery of a run killed while publishing, earlier
    /// layouts brought up to date; for a bucket, the published history
    /// downloaded into a local folder read as the output folder.
    pub fn claim(&self, run_id: &str) -> Result<Claimed> {
        match self {
            Destination::Folder(out) => {
                let lock = OutputLock::acquire(out)?;
                publish::recover(out)?;
                for file in publish::upgrade_layout(out)? {
                    tracing::info!(
                        file = %file.display(),
                        "moved as_of out of an earlier run's file into its partition path only"
                    );
                }
                Ok(Claimed {
                    destination: self.clone(),
                    root: out.clone(),
                    guard: Guard::Folder(lock),
                    _copy: None,
                })
            }
            Destination::Bucket(bucket) => {
                let lease = Arc::new(bucket.lock(run_id)?);
                bucket.recover()?;
                let copy = WorkFolder::create(
                    "revleak-out-",
                    "the local copy of the outputs published in the bucket",
                )
                .map_err(|message| Error::Output {
                    path: std::env::temp_dir(),
                    message,
                })?;
                let started = std::time::Instant::now();
                let objects = bucket.download(copy.path(), &HISTORY, None, &TOP_FILES)?;
                tracing::debug!(
                    objects,
                    ms = started.elapsed().as_millis() as u64,
                    "published history copied from {}",
                    bucket.url()
                );
                Ok(Claimed {
                    destination: self.clone(),
                    root: copy.path().to_path_buf(),
                    guard: Guard::Bucket(lease),
                    _copy: Some(copy),
                })
            }
        }
    }

    /// The records of a JSON-lines file at the top of the output; None when absent.
    pub fn read_jsonl<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<Vec<T>>> {
        match self {
            Destination::Folder(out) => publish::read_jsonl(&out.join(name)),
            Destination::Bucket(bucket) => {
                let Some(bytes) = bucket.read(name)? else {
                    return Ok(None);
                };
                let text = String::from_utf8_lossy(&bytes);
                publish::parse_jsonl(&text, Path::new(&bucket.url_of(name))).map(Some)
            }
        }
    }

    /// Appends one record to a JSON-lines file at the top of the output.
    pub fn append_jsonl<T: serde::Serialize>(&self, name: &str, record: &T) -> Result<()> {
        match self {
            Destination::Folder(out) => publish::append_jsonl(&out.join(name), record),
            Destination::Bucket(bucket) => {
                let line = serde_json::to_string(record).expect("a record serializes");
                bucket.append_line(name, &line)
            }
        }
    }
}

enum Guard {
    Folder(#[allow(dead_code)] OutputLock),
    Bucket(Arc<Lease>),
}

/// A destination taken by one run: locked, recovered, readable at [`root`](Claimed::root).
pub struct Claimed {
    destination: Destination,
    root: PathBuf,
    guard: Guard,
    /// A bucket's local copy, removed with the claim.
    _copy: Option<WorkFolder>,
}

impl Claimed {
    /// A local folder laid out as the output, holding what was published:
    /// the output folder itself, or the copy of a bucket's history.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// Makes the published partitions of `as_of` of `kinds` readable at
    /// [`root`](Claimed::root) too (a bucket's copy holds only the history).
    pub fn fetch(&self, kinds: &[&str], as_of: NaiveDate) -> Result<()> {
        if let Destination::Bucket(bucket) = &self.destination {
            bucket.download(&self.root, kinds, Some(as_of), &[])?;
        }
        Ok(())
    }

    /// A publication of `as_of`, assembled locally under `_tmp-<run_id>/`.
    pub fn begin(&self, run_id: &str, as_of: NaiveDate) -> Result<Unpublished> {
        let unpublished = Unpublished::new(&self.root, run_id, as_of)?;
        Ok(match (&self.destination, &self.guard) {
            (Destination::Bucket(bucket), Guard::Bucket(lease)) => {
                unpublished.into_bucket(bucket.clone(), lease.clone())
            }
            _ => unpublished,
        })
    }

    /// Replaces one file of a published partition whole (a rename in a
    /// folder, one PUT in a bucket). Returns where it is.
    pub fn replace_published(
        &self,
        kind: &str,
        as_of: NaiveDate,
        name: &str,
        bytes: &[u8],
    ) -> Result<PathBuf> {
        let local = publish::replace_published(&self.root, kind, as_of, name, bytes)?;
        match (&self.destination, &self.guard) {
            (Destination::Bucket(bucket), Guard::Bucket(lease)) => {
                lease.ensure_fresh()?;
                let relative = format!("{kind}/{}={as_of}/{name}", publish::PARTITION_COLUMN);
                bucket.replace(&relative, bytes.to_vec()).map(PathBuf::from)
            }
            _ => Ok(local),
        }
    }
}
