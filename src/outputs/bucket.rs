//! The output prefix in object storage (`--out s3://bucket/revleak`): the
//! local folder's layout key for key, published without rename, which no
//! store has. Each file of a table's partition is one object, replaced by a
//! single PUT, which S3, GCS and Azure apply atomically per object: a reader
//! listing `findings/as_of=D/` finds one `part-0.parquet`, holding one run's
//! rows. A run's files are first uploaded under `_tmp-<run>/` (readers skip
//! `_` prefixes), then a journal `_tmp-<run>/_COMMITTING` is written — the
//! commit point — and only then are the published objects replaced, partition
//! by partition with `_SUCCESS` after each, the manifest last, and the objects
//! the run no longer makes deleted. A run killed before the journal leaves the
//! previous outputs untouched; one killed after it is finished by the next run
//! ([`OutBucket::recover`]), from the staged objects. Never the store's `copy`:
//! object_store 0.13's GCS client swaps its two modes.
//!
//! What revleak reads back (earlier findings, alert state, manifests) is
//! downloaded after recovery, under the lock, into a local folder of the same
//! layout, which the readers read as they read the local folder.

use super::lease::Lease;
use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::storage::ranged::block_on;
use crate::storage::store::{self, StorageSettings, describe};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, UpdateVersion};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Requests in flight when objects are uploaded, downloaded or deleted.
const IN_FLIGHT: usize = 8;

/// The journal that commits a run (as in the local folder).
const JOURNAL: &str = "_COMMITTING";

/// An output prefix in a bucket (or container).
pub struct OutBucket {
    /// `s3://bucket/prefix`, without a trailing `/`: what messages and the
    /// manifest show.
    url: String,
    prefix: ObjectPath,
    store: Arc<dyn ObjectStore>,
    parsed: Url,
    settings: StorageSettings,
    lease: Duration,
    /// The lock's client when it cannot be built from the URL (tests).
    lease_store: Option<Arc<dyn ObjectStore>>,
}

// Never the store's own Debug: a client's can hold the secret.
impl std::fmt::Debug for OutBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutBucket({})", self.url)
    }
}

/// Where a publication's files are taken from.
enum Source<'a> {
    /// The run's own staging folder on this machine.
    Local(&'a Path),
    /// The objects staged under `_tmp-<run>/` (finishing a killed run).
    Staged(&'a ObjectPath),
}

impl OutBucket {
    /// The output prefix at `out` (an object-store URL). A URL holding a user
    /// or a query (`?sig=...`) is refused without repeating it: credentials
    /// come from the environment, never from the command line.
    pub fn locate(out: &Path, config: &ConfigFile) -> Result<OutBucket> {
        let text = out.to_string_lossy();
        let parsed = Url::parse(&text)
            .map_err(|e| Error::Storage(format!("--out: not a valid object-store URL ({e})")))?;
        if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some()
        {
            return Err(Error::Config(format!(
                "--out {}://{}/...: the URL holds credentials or a query; give the store's credentials in its environment variables (AWS_*, GOOGLE_*, AZURE_STORAGE_*) instead",
                parsed.scheme(),
                parsed.host_str().unwrap_or_default()
            )));
        }
        let settings = StorageSettings::of(config);
        let store = store::build(&parsed, &settings)?;
        let url = text.trim_end_matches('/').to_string();
        let prefix = ObjectPath::from(parsed.path().trim_matches('/'));
        let lease = Duration::from_secs(
            config
                .storage_lock_lease
                .unwrap_or(super::lease::DEFAULT_LEASE_SECS)
                .max(super::lease::MIN_LEASE_SECS),
        );
        Ok(OutBucket {
            url,
            prefix,
            store,
            parsed,
            settings,
            lease,
            lease_store: None,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key of `relative` (`findings/as_of=D/part-0.parquet`) under the prefix.
    fn key(&self, relative: &str) -> ObjectPath {
        let mut parts: Vec<String> = self
            .prefix
            .parts()
            .map(|p| p.as_ref().to_string())
            .collect();
        parts.extend(
            relative
                .split('/')
                .filter(|p| !p.is_empty())
                .map(str::to_string),
        );
        ObjectPath::from_iter(parts)
    }

    /// `relative` of a key under the prefix.
    fn relative(&self, key: &ObjectPath) -> String {
        let skip = self.prefix.parts().count();
        key.parts()
            .skip(skip)
            .map(|p| p.as_ref().to_string())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The URL of `relative`, for messages and what a run reports as published.
    pub fn url_of(&self, relative: &str) -> String {
        format!("{}/{}", self.url, relative.trim_matches('/'))
    }

    fn failed(&self, relative: &str, e: &object_store::Error) -> Error {
        Error::Storage(describe(&self.url_of(relative), e))
    }

    /// Whether the store answers for the prefix: a missing bucket, refused
    /// credentials or an unreachable endpoint is an error here, before the
    /// snapshot is read.
    pub fn check(&self) -> Result<()> {
        let prefix = (self.prefix.parts().count() > 0).then_some(&self.prefix);
        block_on(self.store.list_with_delimiter(prefix))
            .map(|_| ())
            .map_err(|e| Error::Storage(describe(&self.url, &e)))
    }

    /// Takes the prefix's lock, `_revleak.lock`, with a client of its own.
    pub fn lock(&self, run_id: &str) -> Result<Lease> {
        let store = match &self.lease_store {
            Some(store) => store.clone(),
            None => store::build(&self.parsed, &self.settings)?,
        };
        Lease::acquire(
            store,
            self.key("_revleak.lock"),
            self.url_of("_revleak.lock"),
            run_id,
            self.lease,
        )
    }

    /// Makes the bucket's client the one a session reads and writes its URLs with.
    pub fn register_with(&self, ctx: &datafusion::prelude::SessionContext) -> Result<()> {
        let base = Url::parse(&self.parsed[..url::Position::BeforePath])
            .map_err(|e| Error::Storage(format!("{}: {e}", self.url)))?;
        ctx.register_object_store(&base, self.store.clone());
        Ok(())
    }

    /// Every object under `relative` (recursively), as keys relative to the prefix.
    fn list(&self, relative: &str) -> Result<Vec<(String, u64)>> {
        let key = self.key(relative);
        let listed: Vec<object_store::ObjectMeta> =
            block_on(self.store.list(Some(&key)).try_collect())
                .map_err(|e| self.failed(relative, &e))?;
        Ok(listed
            .into_iter()
            .map(|meta| (self.relative(&meta.location), meta.size))
            .collect())
    }

    /// The folders (`_tmp-R/`) and files directly under the prefix.
    fn top(&self) -> Result<(Vec<String>, Vec<String>)> {
        let prefix = (self.prefix.parts().count() > 0).then_some(&self.prefix);
        let listed = block_on(self.store.list_with_delimiter(prefix))
            .map_err(|e| Error::Storage(describe(&self.url, &e)))?;
        let name = |p: &ObjectPath| p.filename().unwrap_or_default().to_string();
        Ok((
            listed.common_prefixes.iter().map(name).collect(),
            listed.objects.iter().map(|o| name(&o.location)).collect(),
        ))
    }

    /// The object at `relative`, or None.
    pub fn read(&self, relative: &str) -> Result<Option<Vec<u8>>> {
        let key = self.key(relative);
        match block_on(async { self.store.get(&key).await?.bytes().await }) {
            Ok(bytes) => Ok(Some(bytes.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failed(relative, &e)),
        }
    }

    /// Replaces the object at `relative` whole (one PUT).
    pub fn replace(&self, relative: &str, bytes: Vec<u8>) -> Result<String> {
        block_on(self.store.put(&self.key(relative), bytes.into()))
            .map_err(|e| self.failed(relative, &e))?;
        Ok(self.url_of(relative))
    }

    /// Appends a line to the object at `relative`: read, then written back on
    /// condition that nobody wrote it meanwhile (else read again).
    pub fn append_line(&self, relative: &str, line: &str) -> Result<()> {
        let key = self.key(relative);
        for _ in 0..8 {
            let current = block_on(async {
                let got = self.store.get(&key).await?;
                let version = UpdateVersion {
                    e_tag: got.meta.e_tag.clone(),
                    version: got.meta.version.clone(),
                };
                Ok::<_, object_store::Error>((got.bytes().await?, version))
            });
            let (mut text, mode) = match current {
                Ok((bytes, version)) => (bytes.to_vec(), PutMode::Update(version)),
                Err(object_store::Error::NotFound { .. }) => (Vec::new(), PutMode::Create),
                Err(e) => return Err(self.failed(relative, &e)),
            };
            text.extend_from_slice(line.as_bytes());
            text.push(b'\n');
            let options = PutOptions {
                mode,
                ..Default::default()
            };
            match block_on(self.store.put_opts(&key, text.into(), options)) {
                Ok(_) => return Ok(()),
                Err(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. },
                ) => continue,
                Err(e) => return Err(self.failed(relative, &e)),
            }
        }
        Err(Error::Output {
            path: PathBuf::from(self.url_of(relative)),
            message: "kept being written by another process; the line was not appended".into(),
        })
    }

    /// Downloads into `into` (same layout) every complete partition
    /// (`_SUCCESS` listed) of `kinds`, or only that of `as_of` when given,
    /// and the prefix's top-level files among `top_files`.
    pub fn download(
        &self,
        into: &Path,
        kinds: &[&str],
        as_of: Option<chrono::NaiveDate>,
        top_files: &[&str],
    ) -> Result<usize> {
        let mut wanted: Vec<String> = Vec::new();
        for kind in kinds {
            let listed = match as_of {
                Some(date) => self.list(&format!("{kind}/as_of={date}"))?,
                None => self.list(kind)?,
            };
            let complete: std::collections::BTreeSet<String> = listed
                .iter()
                .filter_map(|(rel, _)| rel.strip_suffix("/_SUCCESS").map(str::to_string))
                .collect();
            for (rel, _) in listed {
                let mut parts = rel.splitn(3, '/');
                let (Some(_), Some(partition)) = (parts.next(), parts.next()) else {
                    continue;
                };
                if complete.contains(&format!("{kind}/{partition}")) {
                    wanted.push(rel);
                }
            }
        }
        if !top_files.is_empty() {
            let (_, files) = self.top()?;
            wanted.extend(
                files
                    .into_iter()
                    .filter(|f| top_files.contains(&f.as_str())),
            );
        }
        let count = wanted.len();
        block_on(
            futures::stream::iter(wanted)
                .map(|rel| async move {
                    let key = self.key(&rel);
                    let bytes = async { self.store.get(&key).await?.bytes().await }
                        .await
                        .map_err(|e| self.failed(&rel, &e))?;
                    let path = into.join(&rel);
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                    }
                    std::fs::write(&path, &bytes).map_err(|e| Error::io(&path, e))
                })
                .buffer_unordered(IN_FLIGHT)
                .try_collect::<Vec<()>>(),
        )?;
        Ok(count)
    }

    /// Finishes or discards what killed runs left: a `_tmp-<run>/` with its
    /// journal is rolled forward from its staged objects, one without is
    /// deleted. Run under the lock.
    pub fn recover(&self) -> Result<()> {
        let (folders, _) = self.top()?;
        for folder in folders.iter().filter(|f| f.starts_with("_tmp-")) {
            let journal = self.read(&format!("{folder}/{JOURNAL}"))?;
            if let Some(journal) = journal {
                let text = String::from_utf8_lossy(&journal).to_string();
                let mut lines = text.lines();
                let partition = lines.next().unwrap_or_default().to_string();
                let kinds: Vec<String> = lines.map(str::to_string).collect();
                tracing::warn!(
                    run = folder.trim_start_matches("_tmp-"),
                    "finishing the publication of a run that was killed"
                );
                let staged = self.key(folder);
                self.roll_forward(None, &Source::Staged(&staged), &partition, &kinds)?;
            }
            self.delete_folder(folder)?;
        }
        Ok(())
    }

    /// Deletes every object under `relative`, the journal first: while it
    /// exists, every staged object it commits must exist too (recovery rolls
    /// forward from them), and it is deleted only once the roll-forward is done.
    pub(crate) fn delete_folder(&self, relative: &str) -> Result<()> {
        let (journal, others): (Vec<String>, Vec<String>) = self
            .list(relative)?
            .into_iter()
            .map(|(rel, _)| rel)
            .partition(|rel| rel.ends_with(&format!("/{JOURNAL}")));
        self.delete_all(journal)?;
        self.delete_all(others)
    }

    fn delete_all(&self, relatives: Vec<String>) -> Result<()> {
        block_on(
            futures::stream::iter(relatives)
                .map(|rel| async move {
                    match self.store.delete(&self.key(&rel)).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                        Err(e) => Err(self.failed(&rel, &e)),
                    }
                })
                .buffer_unordered(IN_FLIGHT)
                .try_collect::<Vec<()>>(),
        )
        .map(|_| ())
    }

    /// Uploads local files (relative names under `root`) to `dest/<name>`.
    fn upload(&self, root: &Path, names: &[String], dest: &str) -> Result<()> {
        block_on(
            futures::stream::iter(names.iter())
                .map(|name| async move {
                    let path = root.join(name);
                    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                    let rel = format!("{dest}/{name}");
                    self.store
                        .put(&self.key(&rel), bytes.into())
                        .await
                        .map(|_| ())
                        .map_err(|e| self.failed(&rel, &e))
                })
                .buffer_unordered(IN_FLIGHT)
                .try_collect::<Vec<()>>(),
        )
        .map(|_| ())
    }

    /// Publishes a run assembled in the local folder `tmp` (laid out as the
    /// output, `_SUCCESS` in each partition): staged, committed by its
    /// journal, then rolled forward (see the module's comment). Returns the
    /// URLs of the partitions published.
    pub fn publish(
        &self,
        lease: &Lease,
        tmp: &Path,
        run_id: &str,
        partition: &str,
        kinds: &[String],
    ) -> Result<Vec<PathBuf>> {
        lease.ensure_fresh()?;
        let staging = format!("_tmp-{run_id}");
        let names = local_files(tmp)?
            .into_iter()
            .filter(|n| n != JOURNAL)
            .collect::<Vec<_>>();
        self.upload(tmp, &names, &staging)?;
        let journal = std::iter::once(partition.to_string())
            .chain(kinds.iter().cloned())
            .collect::<Vec<_>>()
            .join("\n");
        lease.ensure_fresh()?;
        self.replace(&format!("{staging}/{JOURNAL}"), journal.into_bytes())?;
        let published = self.roll_forward(Some(lease), &Source::Local(tmp), partition, kinds)?;
        self.delete_folder(&staging)?;
        Ok(published)
    }

    /// Replaces each kind's partition with the files of `source`, in the
    /// journal's order (the manifest's `runs` last): every object PUT, the
    /// objects this run does not make deleted, then `_SUCCESS`. Repeatable.
    fn roll_forward(
        &self,
        lease: Option<&Lease>,
        source: &Source,
        partition: &str,
        kinds: &[String],
    ) -> Result<Vec<PathBuf>> {
        let mut published = Vec::new();
        for kind in kinds {
            if let Some(lease) = lease {
                lease.ensure_fresh()?;
            }
            let target = format!("{kind}/{partition}");
            let names: Vec<String> = match source {
                Source::Local(tmp) => {
                    let dir = tmp.join(kind).join(partition);
                    if dir.exists() {
                        local_files(&dir)?
                    } else {
                        Vec::new()
                    }
                }
                Source::Staged(staged) => {
                    let from = format!("{}/{target}", self.relative(staged));
                    self.list(&from)?
                        .into_iter()
                        .filter_map(|(rel, _)| {
                            rel.strip_prefix(&format!("{from}/")).map(str::to_string)
                        })
                        .collect()
                }
            };
            if names.is_empty() {
                continue;
            }
            let data: Vec<String> = names.iter().filter(|n| *n != "_SUCCESS").cloned().collect();
            match source {
                Source::Local(tmp) => {
                    self.upload(&tmp.join(kind).join(partition), &data, &target)?
                }
                Source::Staged(staged) => {
                    let from = format!("{}/{target}", self.relative(staged));
                    block_on(
                        futures::stream::iter(data.iter())
                            .map(|name| {
                                let (from, target) = (&from, &target);
                                async move {
                                    let src = format!("{from}/{name}");
                                    let bytes = async {
                                        self.store.get(&self.key(&src)).await?.bytes().await
                                    }
                                    .await
                                    .map_err(|e| self.failed(&src, &e))?;
                                    let dest = format!("{target}/{name}");
                                    self.store
                                        .put(&self.key(&dest), bytes.into())
                                        .await
                                        .map(|_| ())
                                        .map_err(|e| self.failed(&dest, &e))
                                }
                            })
                            .buffer_unordered(IN_FLIGHT)
                            .try_collect::<Vec<()>>(),
                    )?;
                }
            }
            let stale: Vec<String> = self
                .list(&target)?
                .into_iter()
                .map(|(rel, _)| rel)
                .filter(|rel| {
                    let name = rel.strip_prefix(&format!("{target}/")).unwrap_or(rel);
                    name != "_SUCCESS" && !data.iter().any(|d| d == name)
                })
                .collect();
            self.delete_all(stale)?;
            self.replace(&format!("{target}/_SUCCESS"), Vec::new())?;
            published.push(PathBuf::from(self.url_of(&target)));
        }
        Ok(published)
    }
}

/// A run's work in the bucket (a cluster's layers, `_tmp-<run>-layers/`),
/// deleted when dropped; what a killed run left is deleted by the next run's
/// recovery (a `_tmp-` folder without a journal).
pub struct WorkPrefix {
    pub bucket: Arc<OutBucket>,
    pub relative: String,
}

impl Drop for WorkPrefix {
    fn drop(&mut self) {
        if let Err(e) = self.bucket.delete_folder(&self.relative) {
            tracing::warn!("{e}; the next run deletes it");
        }
    }
}

/// Every file under `dir`, as `/`-separated names relative to it, sorted.
fn local_files(dir: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).map_err(|e| Error::io(&folder, e))? {
            let entry = entry.map_err(|e| Error::io(&folder, e))?;
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                found.push(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy().to_string())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream::BoxStream;
    use object_store::memory::InMemory;
    use object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
        PutMultipartOptions, PutPayload, PutResult,
    };
    use std::sync::atomic::{AtomicIsize, Ordering};

    /// A store whose writes (PUT, DELETE) fail after `budget` of them: the
    /// process publishing through it is killed at that point.
    #[derive(Debug)]
    struct KilledAfter {
        inner: Arc<InMemory>,
        budget: AtomicIsize,
        /// Whether the journal was written: the run is then committed.
        journal_written: std::sync::atomic::AtomicBool,
    }

    impl std::fmt::Display for KilledAfter {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "KilledAfter")
        }
    }

    impl KilledAfter {
        fn spend(&self) -> object_store::Result<()> {
            if self.budget.fetch_sub(1, Ordering::SeqCst) <= 0 {
                return Err(object_store::Error::Generic {
                    store: "test",
                    source: "killed".into(),
                });
            }
            Ok(())
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for KilledAfter {
        async fn put_opts(
            &self,
            location: &ObjectPath,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            self.spend()?;
            let put = self.inner.put_opts(location, payload, opts).await;
            if put.is_ok() && location.as_ref().ends_with(JOURNAL) {
                self.journal_written.store(true, Ordering::SeqCst);
            }
            put
        }
        async fn put_multipart_opts(
            &self,
            _: &ObjectPath,
            _: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            unimplemented!("revleak's publication never uploads in parts")
        }
        async fn get_opts(
            &self,
            location: &ObjectPath,
            options: GetOptions,
        ) -> object_store::Result<GetResult> {
            self.inner.get_opts(location, options).await
        }
        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<ObjectPath>>,
        ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
            if let Err(e) = self.spend() {
                return futures::stream::once(async move { Err(e) }).boxed();
            }
            self.inner.delete_stream(locations)
        }
        fn list(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.inner.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> object_store::Result<ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            _: &ObjectPath,
            _: &ObjectPath,
            _: CopyOptions,
        ) -> object_store::Result<()> {
            unimplemented!("revleak never copies: GCS's copy is wrong in object_store 0.13")
        }
    }

    fn bucket(store: Arc<dyn ObjectStore>, lease_store: Arc<dyn ObjectStore>) -> OutBucket {
        OutBucket {
            url: "memory:///lake/revleak".into(),
            prefix: ObjectPath::from("lake/revleak"),
            store,
            parsed: Url::parse("memory:///lake/revleak").unwrap(),
            settings: StorageSettings::of(&ConfigFile::default()),
            lease: Duration::from_secs(60),
            lease_store: Some(lease_store),
        }
    }

    /// A run's local staging folder: each kind's partition holds `files`, all
    /// saying `content`.
    fn staged(content: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for (kind, name) in files {
            let path = tmp.path().join(kind).join("as_of=2026-11-26").join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        for (kind, _) in files {
            let marker = tmp.path().join(kind).join("as_of=2026-11-26/_SUCCESS");
            std::fs::write(marker, "").unwrap();
        }
        tmp
    }

    const OLD: [(&str, &str); 4] = [
        ("findings", "part-0.parquet"),
        ("alerts", "alerts.jsonl"),
        ("alerts", "pending.jsonl"),
        ("runs", "manifest.json"),
    ];
    const NEW: [(&str, &str); 4] = [
        ("findings", "part-0.parquet"),
        ("alerts", "alerts.jsonl"),
        ("alerts", "alerted.jsonl"),
        ("runs", "manifest.json"),
    ];

    fn kinds() -> Vec<String> {
        ["alerts", "findings", "runs"].map(String::from).to_vec()
    }

    /// Every object under the prefix: relative name → content.
    fn objects(bucket: &OutBucket) -> std::collections::BTreeMap<String, String> {
        bucket
            .list("")
            .unwrap()
            .into_iter()
            .filter(|(rel, _)| rel != "_revleak.lock")
            .map(|(rel, _)| {
                let bytes = bucket.read(&rel).unwrap().unwrap();
                (rel, String::from_utf8(bytes).unwrap())
            })
            .collect()
    }

    #[test]
    fn a_publication_killed_at_any_write_leaves_each_partition_whole_after_recovery() {
        let mut outcomes = (0, 0);
        for budget in 0..40 {
            let inner = Arc::new(InMemory::new());
            let steady = bucket(inner.clone(), inner.clone());
            let lease = steady.lock("old").unwrap();
            let old = staged("old", &OLD);
            steady
                .publish(&lease, old.path(), "old", "as_of=2026-11-26", &kinds())
                .unwrap();
            drop(lease);
            let killed_store = Arc::new(KilledAfter {
                inner: inner.clone(),
                budget: AtomicIsize::new(budget),
                journal_written: Default::default(),
            });
            let killed = bucket(killed_store.clone(), inner.clone());
            let lease = killed.lock("new").unwrap();
            let new = staged("new", &NEW);
            let finished = killed
                .publish(&lease, new.path(), "new", "as_of=2026-11-26", &kinds())
                .is_ok();
            drop(lease);
            let committed = killed_store.journal_written.load(Ordering::SeqCst);
            steady.recover().unwrap();
            let after = objects(&steady);
            assert!(
                after.keys().all(|k| !k.starts_with("_tmp-")),
                "budget {budget}: {after:?}"
            );
            let expected: std::collections::BTreeMap<String, String> = if finished || committed {
                outcomes.1 += 1;
                NEW.iter()
                    .map(|(kind, name)| (format!("{kind}/as_of=2026-11-26/{name}"), "new".into()))
                    .collect()
            } else {
                outcomes.0 += 1;
                OLD.iter()
                    .map(|(kind, name)| (format!("{kind}/as_of=2026-11-26/{name}"), "old".into()))
                    .collect()
            };
            let mut expected = expected;
            for kind in ["alerts", "findings", "runs"] {
                expected.insert(format!("{kind}/as_of=2026-11-26/_SUCCESS"), String::new());
            }
            assert_eq!(after, expected, "budget {budget}");
        }
        // Both ends were reached: killed before the commit point and after it.
        assert!(outcomes.0 > 0 && outcomes.1 > 0, "{outcomes:?}");
    }
}
