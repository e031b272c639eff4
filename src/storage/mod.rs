//! Where a snapshot is read from: a local folder or a prefix in object storage
//! (`s3://`, `gs://`, `az://`, `abfss://`). [`SnapshotSource`] is the one way
//! the snapshot's reads go: it lists a folder's entries (name, folder or file,
//! size) and opens a file for reading, from the local file system or through
//! DataFusion's own `object_store` ([`store`] builds the client from the
//! cloud's standard environment variables and `revleak.toml`, and turns its
//! errors into messages naming the URL; [`ranged`] streams an object).
//!
//! An entry is named by a `PathBuf` either way: a local path, or for a store
//! the URL text (`s3://bucket/prefix/crm/accounts.csv`), which is what every
//! message and the manifest show. Only this module turns such a name into an
//! object key.

pub mod aws_profile;
pub mod ranged;
pub mod registry;
pub mod store;
pub mod work;

use crate::config::ConfigFile;
use crate::error::{Error, Result};
use bytes::Bytes;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use datafusion::parquet::arrow::async_reader::MetadataFetch;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::ParquetMetaDataReader;
use datafusion::prelude::SessionContext;
use futures::FutureExt;
use futures::future::BoxFuture;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use url::Url;

/// What an entry of a folder is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File {
        size: u64,
    },
    Folder,
    /// A named pipe, socket or device (local only): never opened.
    Special(&'static str),
    /// Its metadata cannot be read (a broken symlink, no permission).
    Unreadable(String),
}

/// One entry of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    pub kind: Kind,
}

impl Entry {
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    }

    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Folder
    }

    pub fn size(&self) -> u64 {
        match self.kind {
            Kind::File { size } => size,
            _ => 0,
        }
    }
}

/// Where the snapshot's files are read from.
#[derive(Debug, Clone)]
pub enum SnapshotSource {
    Local,
    Store(Arc<Bucket>),
}

/// One bucket (or container) of an object store, and the snapshot's root in it.
pub struct Bucket {
    /// `scheme://bucket`: the key DataFusion finds the store under.
    base: String,
    store: Arc<dyn ObjectStore>,
}

// Never the store's own Debug: a builder's or client's can hold the secret.
impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bucket({})", self.base)
    }
}

/// Whether `path` is written as a URL (`scheme://...`) rather than a local path.
pub fn is_url(path: &Path) -> bool {
    let text = path.to_string_lossy();
    let Some((scheme, _)) = text.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// A `file://` URL as the local path it names; anything else unchanged.
pub fn local_path(path: &Path) -> Result<PathBuf> {
    let text = path.to_string_lossy();
    if !text.starts_with("file://") {
        return Ok(path.to_path_buf());
    }
    Url::parse(&text)
        .ok()
        .and_then(|url| url.to_file_path().ok())
        .ok_or_else(|| {
            Error::Config(format!(
                "{text}: not a local file URL (file:///absolute/path)"
            ))
        })
}

/// Whether `path` names object storage (a URL other than `file://`).
pub fn is_object_store(path: &Path) -> bool {
    is_url(path) && !path.to_string_lossy().starts_with("file://")
}

impl SnapshotSource {
    /// The source of the snapshot at `root` (a folder, a `file://` URL or an
    /// object-store URL) and the root as entries under it are named. A store
    /// is built from the environment and `config`; nothing is requested yet.
    pub fn locate(root: &Path, config: &ConfigFile) -> Result<(SnapshotSource, PathBuf)> {
        if !is_object_store(root) {
            return Ok((SnapshotSource::Local, local_path(root)?));
        }
        let text = root.to_string_lossy();
        let url = Url::parse(&text)
            .map_err(|e| Error::Storage(format!("{text}: not a valid URL ({e})")))?;
        let store = store::build(&url, &store::StorageSettings::of(config))?;
        let base = url[..url::Position::BeforePath].to_string();
        let root = PathBuf::from(text.trim_end_matches('/'));
        Ok((
            SnapshotSource::Store(Arc::new(Bucket { base, store })),
            root,
        ))
    }

    /// The object key of an entry's name (`s3://b/p/x.csv` → `p/x.csv`).
    fn key(bucket: &Bucket, path: &Path) -> ObjectPath {
        let text = path.to_string_lossy();
        let rest = text.strip_prefix(bucket.base.as_str()).unwrap_or(&text);
        ObjectPath::from(rest.trim_matches('/'))
    }

    /// Whether `root` is a folder holding anything. On a store a missing
    /// bucket, refused credentials or an unreachable endpoint is an error here,
    /// before anything else is read.
    pub fn check_root(&self, root: &Path) -> Result<bool> {
        match self {
            SnapshotSource::Local => Ok(root.is_dir()),
            SnapshotSource::Store(bucket) => {
                let prefix = Self::key(bucket, root);
                let listed = ranged::block_on(bucket.store.list_with_delimiter(non_empty(&prefix)))
                    .map_err(|e| Error::Storage(store::describe(&root.to_string_lossy(), &e)))?;
                Ok(!(listed.objects.is_empty() && listed.common_prefixes.is_empty()))
            }
        }
    }

    /// The entries of the folder `dir`, sorted by name. Symlinks are followed
    /// (once: a loop is an unreadable entry).
    pub fn list(&self, dir: &Path) -> std::result::Result<Vec<Entry>, String> {
        let mut entries = match self {
            SnapshotSource::Local => {
                let read = std::fs::read_dir(dir)
                    .map_err(|e| format!("{}: cannot list: {e}", dir.display()))?;
                read.filter_map(|e| e.ok().map(|e| e.path()))
                    .map(|path| {
                        let kind = match std::fs::metadata(&path) {
                            Err(e) => Kind::Unreadable(e.to_string()),
                            Ok(m) if m.is_file() => Kind::File { size: m.len() },
                            Ok(m) if m.is_dir() => Kind::Folder,
                            Ok(m) => Kind::Special(special_file_kind(&m.file_type())),
                        };
                        Entry { path, kind }
                    })
                    .collect::<Vec<_>>()
            }
            SnapshotSource::Store(bucket) => {
                let prefix = Self::key(bucket, dir);
                let listed = ranged::block_on(bucket.store.list_with_delimiter(non_empty(&prefix)))
                    .map_err(|e| store::describe(&dir.to_string_lossy(), &e))?;
                let folders = listed.common_prefixes.iter().filter_map(|p| {
                    p.filename().map(|name| Entry {
                        path: dir.join(name),
                        kind: Kind::Folder,
                    })
                });
                let files = listed
                    .objects
                    .iter()
                    // a "folder" marker object (`prefix/`) is no file
                    .filter(|o| o.location != prefix)
                    .filter_map(|o| {
                        o.location.filename().map(|name| Entry {
                            path: dir.join(name),
                            kind: Kind::File { size: o.size },
                        })
                    });
                folders.chain(files).collect()
            }
        };
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    /// Opens a file for reading from its start. From a store the object is
    /// read in ranged GETs of a few MiB, the next fetched while the current
    /// one is read ([`ranged::RangedRead`]): never downloaded whole.
    pub fn open(&self, path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
        match self {
            SnapshotSource::Local => Ok(Box::new(std::fs::File::open(path)?)),
            SnapshotSource::Store(bucket) => Ok(Box::new(ranged::RangedRead::open(
                bucket.store.clone(),
                Self::key(bucket, path),
                path.to_string_lossy().to_string(),
            )?)),
        }
    }

    /// The whole file (a workbook: calamine needs to seek; `snapshot.json`).
    pub fn read_all(&self, path: &Path) -> std::result::Result<Vec<u8>, String> {
        match self {
            SnapshotSource::Local => {
                std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
            }
            SnapshotSource::Store(bucket) => {
                let url = path.to_string_lossy().to_string();
                let key = Self::key(bucket, path);
                ranged::block_on(async {
                    object_store::ObjectStoreExt::get(bucket.store.as_ref(), &key)
                        .await?
                        .bytes()
                        .await
                })
                .map(|b| b.to_vec())
                .map_err(|e| store::describe(&url, &e))
            }
        }
    }

    /// Schema and rows of a Parquet file of `size` bytes, from its footer (on a
    /// store: ranged GETs of the footer only, usually one). Errors name the
    /// file and `qualified`.
    pub fn parquet_footer(
        &self,
        file: &Path,
        size: u64,
        qualified: &str,
    ) -> std::result::Result<(SchemaRef, u64, u64), String> {
        let empty = || {
            format!(
                "{}: empty file, not a Parquet file ({qualified})",
                file.display()
            )
        };
        let unreadable = |e: &dyn std::fmt::Display| {
            format!(
                "{}: not a readable Parquet file ({qualified}): {e}",
                file.display()
            )
        };
        let (schema, rows, size) = match self {
            SnapshotSource::Local => {
                let handle = std::fs::File::open(file)
                    .map_err(|e| format!("{}: cannot open {qualified}: {e}", file.display()))?;
                let size = handle.metadata().map(|m| m.len()).unwrap_or(0);
                if size == 0 {
                    return Err(empty());
                }
                let builder =
                    ParquetRecordBatchReaderBuilder::try_new(handle).map_err(|e| unreadable(&e))?;
                let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
                (builder.schema().clone(), rows, size)
            }
            SnapshotSource::Store(bucket) => {
                if size == 0 {
                    return Err(empty());
                }
                let key = Self::key(bucket, file);
                let fetch = Footer {
                    store: bucket.store.as_ref(),
                    key: &key,
                };
                let metadata = ranged::block_on(
                    ParquetMetaDataReader::new()
                        .with_prefetch_hint(Some(FOOTER_PREFETCH))
                        .load_and_finish(fetch, size),
                )
                .map_err(|e| unreadable(&e))?;
                let rows = metadata.file_metadata().num_rows().max(0) as u64;
                let arrow =
                    ArrowReaderMetadata::try_new(Arc::new(metadata), ArrowReaderOptions::new())
                        .map_err(|e| unreadable(&e))?;
                (arrow.schema().clone(), rows, size)
            }
        };
        // Only the columns: key-value metadata of the writer is not the table's.
        let schema = Arc::new(Schema::new(schema.fields().clone()));
        Ok((schema, rows, size))
    }

    /// A Parquet file's rows, read again from its start (a value's location
    /// in an error message; from a store the file is fetched whole).
    pub fn parquet_rows(&self, file: &Path) -> Option<ParquetRecordBatchReader> {
        match self {
            SnapshotSource::Local => {
                let handle = std::fs::File::open(file).ok()?;
                ParquetRecordBatchReaderBuilder::try_new(handle)
                    .and_then(|b| b.build())
                    .ok()
            }
            SnapshotSource::Store(_) => {
                let bytes = Bytes::from(self.read_all(file).ok()?);
                ParquetRecordBatchReaderBuilder::try_new(bytes)
                    .and_then(|b| b.build())
                    .ok()
            }
        }
    }

    /// Makes the store known to DataFusion, so that tables registered by URL
    /// are read from it (ranged GETs: Parquet is never downloaded whole).
    pub fn register_with(&self, ctx: &SessionContext) -> Result<()> {
        if let SnapshotSource::Store(bucket) = self {
            let url = Url::parse(&bucket.base)
                .map_err(|e| Error::Storage(format!("{}: not a valid URL ({e})", bucket.base)))?;
            ctx.register_object_store(&url, bucket.store.clone());
        }
        Ok(())
    }

    /// What DataFusion reads for a file or folder: the path, or on a store its
    /// URL, a folder's ending with `/` (else DataFusion takes it for a file).
    pub fn table_url(&self, path: &Path, folder: bool) -> String {
        let text = path.to_string_lossy().to_string();
        match self {
            SnapshotSource::Store(_) if folder => format!("{}/", text.trim_end_matches('/')),
            _ => text,
        }
    }

    pub fn is_store(&self) -> bool {
        matches!(self, SnapshotSource::Store(_))
    }
}

/// The client and key prefix of a folder of a run's work: the session's client
/// of a URL's bucket, or the local file system.
pub(crate) fn work_store(
    ctx: &SessionContext,
    dir: &Path,
) -> Result<(Arc<dyn ObjectStore>, ObjectPath)> {
    let shown = dir.to_string_lossy().to_string();
    if !is_object_store(dir) {
        let key = ObjectPath::from_absolute_path(dir)
            .map_err(|e| Error::Storage(format!("{shown}: {e}")))?;
        return Ok((Arc::new(object_store::local::LocalFileSystem::new()), key));
    }
    let url = Url::parse(&shown).map_err(|e| Error::Storage(format!("{shown}: {e}")))?;
    let base = datafusion::execution::object_store::ObjectStoreUrl::parse(
        &url[..url::Position::BeforePath],
    )
    .map_err(|e| Error::Storage(format!("{shown}: {e}")))?;
    let store = ctx
        .runtime_env()
        .object_store(&base)
        .map_err(|e| Error::Storage(format!("{shown}: no client for the bucket ({e})")))?;
    let key = ObjectPath::from_url_path(url.path())
        .map_err(|e| Error::Storage(format!("{shown}: {e}")))?;
    Ok((store, key))
}

/// Rows of the Parquet files under the folder (or prefix) `dir`, from their
/// footers; a file without a readable footer (cut off by a killed writer) is
/// an error naming it.
pub async fn parquet_rows_under(ctx: &SessionContext, dir: &Path) -> Result<u64> {
    use futures::TryStreamExt;
    let shown = dir.to_string_lossy().to_string();
    let (store, prefix) = work_store(ctx, dir)?;
    let listed: Vec<object_store::ObjectMeta> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| Error::Storage(store::describe(&shown, &e)))?;
    let mut rows = 0u64;
    for meta in listed
        .iter()
        .filter(|m| m.location.as_ref().ends_with(".parquet"))
    {
        let fetch = Footer {
            store: store.as_ref(),
            key: &meta.location,
        };
        let metadata = ParquetMetaDataReader::new()
            .with_prefetch_hint(Some(FOOTER_PREFETCH))
            .load_and_finish(fetch, meta.size)
            .await
            .map_err(|e| Error::Output {
                path: PathBuf::from(format!(
                    "{shown}/{}",
                    meta.location.filename().unwrap_or_default()
                )),
                message: format!("not a whole Parquet file: {e}"),
            })?;
        rows += metadata.file_metadata().num_rows().max(0) as u64;
    }
    Ok(rows)
}

/// Removes the folder (or every object under the prefix) `dir`.
pub async fn remove_work_folder(ctx: &SessionContext, dir: &Path) -> Result<()> {
    use futures::{StreamExt, TryStreamExt};
    if !is_object_store(dir) {
        return match std::fs::remove_dir_all(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(dir, e)),
        };
    }
    let shown = dir.to_string_lossy().to_string();
    let (store, prefix) = work_store(ctx, dir)?;
    let keys = store.list(Some(&prefix)).map_ok(|m| m.location).boxed();
    store
        .delete_stream(keys)
        .try_collect::<Vec<_>>()
        .await
        .map(|_| ())
        .map_err(|e| Error::Storage(store::describe(&shown, &e)))
}

/// Bytes read from a Parquet file's end in the first request for its footer:
/// most footers fit, so one ranged GET reads them.
const FOOTER_PREFETCH: usize = 64 * 1024;

/// A Parquet footer read from a store with ranged GETs.
struct Footer<'a> {
    store: &'a dyn ObjectStore,
    key: &'a ObjectPath,
}

impl MetadataFetch for Footer<'_> {
    fn fetch(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, datafusion::parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(self.key, range)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }
}

/// A prefix to list under; the bucket's top is none.
fn non_empty(prefix: &ObjectPath) -> Option<&ObjectPath> {
    (prefix.parts().count() > 0).then_some(prefix)
}

#[cfg(unix)]
fn special_file_kind(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "a named pipe (FIFO)"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn special_file_kind(_: &std::fs::FileType) -> &'static str {
    "a special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths() {
        assert!(is_url(Path::new("s3://bucket/prefix")));
        assert!(is_url(Path::new("abfss://fs@acct.dfs.core.windows.net/p")));
        assert!(is_url(Path::new("file:///tmp/x")));
        assert!(!is_url(Path::new("/tmp/s3://x")));
        assert!(!is_url(Path::new("snapshots/2026-01-01")));
        assert!(!is_object_store(Path::new("file:///tmp/x")));
        assert_eq!(
            local_path(Path::new("file:///tmp/snap")).unwrap(),
            PathBuf::from("/tmp/snap")
        );
        assert_eq!(
            local_path(Path::new("rel/snap")).unwrap(),
            PathBuf::from("rel/snap")
        );
    }
}
