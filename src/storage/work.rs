//! A run's work: folders of its own under the system's temporary folder (text
//! tables converted to Parquet, a local copy of outputs kept in a bucket),
//! each removed when dropped and those of killed runs removed by the next run;
//! and the files of a cluster's shared work, written to a folder or a bucket.

use super::{is_object_store, store};
use crate::error::{Error, Result};
use datafusion::prelude::SessionContext;
use object_store::ObjectStoreExt;
use std::path::{Path, PathBuf};

/// A folder `<temp>/<prefix><pid>-<nanos>`, removed when dropped.
#[derive(Debug)]
pub struct WorkFolder(PathBuf);

impl WorkFolder {
    /// Makes the folder, after removing the folders of the same `prefix` left
    /// by processes that are gone. `purpose` names it in an error.
    pub fn create(prefix: &str, purpose: &str) -> std::result::Result<WorkFolder, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let temp = std::env::temp_dir();
        remove_abandoned(&temp, prefix);
        let dir = temp.join(format!("{prefix}{}-{nanos:08x}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("{}: cannot create {purpose}: {e}", dir.display()))?;
        Ok(WorkFolder(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the work folders of runs whose process is gone: a killed run
/// (SIGKILL, the machine's OOM killer) cannot remove its own, and a converted
/// 5 GB export would otherwise stay in the temporary folder night after night.
fn remove_abandoned(temp: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !process_is_running(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(target_os = "linux")]
fn process_is_running(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Elsewhere there is no cheap answer: a folder that may be in use stays.
#[cfg(not(target_os = "linux"))]
fn process_is_running(_: u32) -> bool {
    true
}

/// What [`put_work_file`] writes.
pub enum WorkFile<'a> {
    Bytes(Vec<u8>),
    /// A local file, copied (uploaded in parts on a store: it may be large).
    CopyOf(&'a Path),
}

/// Bytes per part when a local file is uploaded.
const UPLOAD_PART: usize = 8 * 1024 * 1024;

/// Writes a file of a run's shared work (a cluster's layers, converted text
/// tables) at `path`: a local path (its folder made), or on a store the object
/// at that URL, through the client `ctx` holds for its bucket.
pub async fn put_work_file(ctx: &SessionContext, path: &Path, file: WorkFile<'_>) -> Result<()> {
    if !is_object_store(path) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        return match file {
            WorkFile::Bytes(bytes) => std::fs::write(path, bytes).map_err(|e| Error::io(path, e)),
            WorkFile::CopyOf(from) => std::fs::copy(from, path)
                .map(|_| ())
                .map_err(|e| Error::io(path, e)),
        };
    }
    let shown = path.to_string_lossy().to_string();
    let (store, key) = super::work_store(ctx, path)?;
    let failed = |e: object_store::Error| Error::Storage(store::describe(&shown, &e));
    match file {
        WorkFile::Bytes(bytes) => store
            .put(&key, bytes.into())
            .await
            .map(|_| ())
            .map_err(failed),
        WorkFile::CopyOf(from) => {
            use std::io::Read;
            let mut local = std::fs::File::open(from).map_err(|e| Error::io(from, e))?;
            let upload = store.put_multipart(&key).await.map_err(failed)?;
            let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART);
            let mut buffer = vec![0u8; UPLOAD_PART];
            loop {
                let read = match local.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        let _ = writer.abort().await;
                        return Err(Error::io(from, e));
                    }
                };
                if let Err(e) = writer.wait_for_capacity(4).await {
                    return Err(failed(e));
                }
                writer.write(&buffer[..read]);
            }
            writer.finish().await.map(|_| ()).map_err(failed)
        }
    }
}
